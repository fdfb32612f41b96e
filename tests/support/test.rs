//! A test that reads like the README: a workspace, a command line, what it must print and how it
//! must exit. Modelled on just's `Test` builder:
//!
//! ```ignore
//! Test::new()
//!     .config(WALKTHROUGH)
//!     .args(["validate", "-c", "pangeo.yaml"])
//!     .expect_stderr("pangeo.yaml:6:3: error[PR002]: …")
//!     .expect_status(1)
//!     .run();
//! ```
//!
//! The command runs in a fresh temporary directory (paths in arguments and messages are relative
//! to it), with a fixed date and no colour. `run` checks everything that was asked for and hands
//! back the output and the directory for further looks.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;

/// Long enough for a slow, shared machine; only there so that a hang fails instead of blocking.
const HANG: Duration = Duration::from_secs(300);

#[must_use]
pub struct Test {
    dir: tempfile::TempDir,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    stdin: Option<Vec<u8>>,
    stdout: Option<String>,
    stderr: Option<String>,
    stderr_parts: Vec<String>,
    status: i32,
}

/// What a finished [`Test`] left: its exit code, output and directory.
pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    pub dir: tempfile::TempDir,
}

impl Output {
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(rel)
    }
}

impl Default for Test {
    fn default() -> Self {
        Self::new()
    }
}

impl Test {
    pub fn new() -> Self {
        Test {
            dir: tempfile::tempdir().unwrap(),
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            stdout: None,
            stderr: None,
            stderr_parts: Vec::new(),
            status: 0,
        }
    }

    /// The workspace directory (the command's working directory).
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `pangeo.yaml` with this text.
    pub fn config(self, yaml: &str) -> Self {
        self.file("pangeo.yaml", yaml)
    }

    /// Any file of the workspace, with its directories.
    pub fn file(self, rel: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> Self {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, contents).unwrap();
        self
    }

    /// Sets a workspace file's permission bits (a secrets file must be 0600).
    pub fn mode(self, rel: impl AsRef<Path>, mode: u32) -> Self {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(self.path(rel), fs::Permissions::from_mode(mode)).unwrap();
        self
    }

    /// Deterministic secrets beside the config `config` (fixed tokens, a hash with a fixed salt).
    pub fn fixed_secrets(self, config: &str) -> Self {
        let stem = Path::new(config).file_stem().unwrap().to_string_lossy().into_owned();
        super::write_fixed_secrets(&self.path(format!("{stem}.secrets.yaml")));
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env.push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// The whole of stdout.
    pub fn expect_stdout(mut self, text: impl Into<String>) -> Self {
        self.stdout = Some(text.into());
        self
    }

    /// The whole of stderr.
    pub fn expect_stderr(mut self, text: impl Into<String>) -> Self {
        self.stderr = Some(text.into());
        self
    }

    /// A part of stderr (for output that also holds run-dependent text).
    pub fn stderr_contains(mut self, text: impl Into<String>) -> Self {
        self.stderr_parts.push(text.into());
        self
    }

    /// The exit code (0 unless said otherwise).
    pub fn expect_status(mut self, code: i32) -> Self {
        self.status = code;
        self
    }

    /// Runs `pangeo-render ARGS…` and checks what was asked for.
    pub fn run(self) -> Output {
        let (status, stdout, stderr) = self.output();
        let what = format!("pangeo-render {}", self.args_text());
        let out = Output { status, stdout, stderr, dir: self.dir };
        assert!(!out.stderr.contains("panicked"), "{what} panicked:\n{}", out.stderr);
        if let Some(want) = &self.stdout {
            assert_eq!(&out.stdout, want, "{what}: stdout");
        }
        if let Some(want) = &self.stderr {
            assert_eq!(&out.stderr, want, "{what}: stderr");
        }
        for part in &self.stderr_parts {
            assert!(out.stderr.contains(part.as_str()), "{what}: stderr lacks {part:?}:\n{}", out.stderr);
        }
        assert_eq!(out.status, self.status, "{what}: exit code; stderr:\n{}", out.stderr);
        out
    }

    /// Runs the command and checks only that it did not panic; for tests that compare commands.
    pub fn run_any(self) -> Output {
        let (status, stdout, stderr) = self.output();
        assert!(!stderr.contains("panicked"), "pangeo-render {} panicked:\n{stderr}", self.args_text());
        Output { status, stdout, stderr, dir: self.dir }
    }

    fn args_text(&self) -> String {
        self.args.iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ")
    }

    fn output(&self) -> (i32, String, String) {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin!("pangeo-render"));
        cmd.current_dir(self.dir.path())
            .env("PANGEO_RENDER_TODAY", "2026-11-25")
            .env("NO_COLOR", "1")
            .args(&self.args)
            .timeout(HANG);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if let Some(input) = &self.stdin {
            cmd.write_stdin(input.clone());
        }
        let out = cmd.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}
