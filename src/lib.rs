//! pangeo-render: one config file → every artifact of an EKS + DaskHub deployment, validated,
//! diffed against the live cluster and applied with server-side apply.
//!
//! Data flows one way: `config` → `render` | `validate` → `plan` (over `kube`) → `diff` | `apply`.
//! A module never reaches to its right; `render` and `validate` are siblings that both read
//! `config`; `error`, `diag`, `yaml`, `fsutil`, `secrets`, `aws` and `helm` (the pinned charts)
//! sit below all.
//! docs/architecture.md says what each module holds and where a change goes.

pub mod apply;
pub mod aws;
pub mod cli;
pub mod commands;
pub mod config;
pub mod diag;
pub mod diff;
pub mod error;
pub mod fsutil;
pub mod helm;
pub mod kube;
pub mod memory;
pub mod plan;
pub mod render;
pub mod secrets;
pub mod upgrade;
pub mod validate;
pub mod yaml;

use std::io::Write;

use cli::{Cli, Command};
use error::Error;

/// Runs one command; returns the exit code for successful runs (diff: 0 same, 1 different).
pub fn run(cli: Cli) -> Result<i32, Error> {
    match cli.command {
        Command::Init(args) => commands::init::run(&args).map(|_| 0),
        Command::Values(args) => commands::values::run(&args).map(|_| 0),
        Command::Diff(args) => commands::diff::run(&args),
        Command::Apply(args) => commands::apply::run(&args),
        Command::Validate(args) => commands::validate::run(&args),
        Command::Upgrade(args) => commands::upgrade::run(&args),
    }
}

/// Prints an error to stderr: diagnostics one per line, anything else as one message.
pub fn print_error(err: &Error) {
    let mut out = anstream::stderr();
    match err {
        Error::Invalid(diags) => {
            let _ = diag::write_text(&mut out, diags);
            let errors = diags.iter().filter(|d| d.is_error()).count();
            let _ = writeln!(out, "{errors} error(s); nothing was written");
        }
        other => {
            let style = anstyle::AnsiColor::Red.on_default().bold();
            let _ = writeln!(out, "{style}error:{style:#} {other}");
        }
    }
}
