//! The one error type of the tool, and its exit codes.
//!
//! Exit codes follow `kubectl diff` and linters: 0 success (no differences), 1 problems found in
//! the user's files (or differences), 2 usage, I/O or cluster errors.

use std::path::PathBuf;

use crate::diag::Diagnostic;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Problems in the user's files; printed as diagnostics.
    #[error("{} problem(s) found", .0.len())]
    Invalid(Vec<Diagnostic>),

    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },

    #[error("{0}")]
    Usage(String),

    /// Talking to the cluster failed: unreachable, forbidden, refused.
    #[error("{0}")]
    Cluster(String),

    #[error("template {name}: {message}")]
    Template { name: String, message: String },
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Invalid(_) => 1,
            _ => 2,
        }
    }

    pub fn io(path: impl Into<PathBuf>, err: std::io::Error) -> Self {
        Error::Io { path: path.into(), message: err.to_string() }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
