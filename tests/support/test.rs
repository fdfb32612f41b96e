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
//! back the output and the directory for further looks. [`Test::at`] runs in a directory the test
//! keeps, so that several commands can work in one workspace (`values`, then `diff`, then `apply`).
//! Advice the program prints is run as printed with [`Test::printed`]; a table of inputs names its
//! row in failure messages with [`Test::case`]; [`Test::spawn`] starts a command to stop midway.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use assert_cmd::Command;

/// Long enough for a slow, shared machine; only there so that a hang fails instead of blocking.
const HANG: Duration = Duration::from_secs(300);

/// The workspace a [`Test`] runs in: its own temporary directory, removed when dropped, or one
/// that belongs to somebody else.
pub enum Dir {
    Temp(tempfile::TempDir),
    At(PathBuf),
}

impl Dir {
    pub fn path(&self) -> &Path {
        match self {
            Dir::Temp(dir) => dir.path(),
            Dir::At(path) => path,
        }
    }
}

#[must_use]
pub struct Test {
    dir: Dir,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    unset: Vec<OsString>,
    case: Option<String>,
    stdin: Option<Vec<u8>>,
    stdout: Option<String>,
    stderr: Option<String>,
    stdout_parts: Vec<String>,
    stderr_parts: Vec<String>,
    absent: Vec<String>,
    status: i32,
}

/// What a finished [`Test`] left: its exit code, output and directory.
pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    pub dir: Dir,
}

impl Output {
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A workspace file's text.
    pub fn read(&self, rel: impl AsRef<Path>) -> String {
        let path = self.path(rel);
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Stdout as one JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

impl Default for Test {
    fn default() -> Self {
        Self::new()
    }
}

impl Test {
    /// A command in a fresh temporary workspace.
    pub fn new() -> Self {
        Self::in_dir(Dir::Temp(tempfile::tempdir().unwrap()))
    }

    /// A command in `dir`, which the caller keeps (it outlives the test's [`Output`]).
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self::in_dir(Dir::At(dir.into()))
    }

    fn in_dir(dir: Dir) -> Self {
        Test {
            dir,
            args: Vec::new(),
            env: Vec::new(),
            unset: Vec::new(),
            case: None,
            stdin: None,
            stdout: None,
            stderr: None,
            stdout_parts: Vec::new(),
            stderr_parts: Vec::new(),
            absent: Vec::new(),
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

    /// One argument (a path, say).
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    /// The arguments of a command line as the program printed it (`pangeo-render values --rotate
    /// tokens`), split at blanks: advice is tested by running it exactly as printed.
    pub fn printed(self, line: &str) -> Self {
        let mut words = line.split_whitespace();
        assert_eq!(words.next(), Some("pangeo-render"), "not a pangeo-render command line: {line}");
        self.args(words)
    }

    /// The date the command takes for today (`PANGEO_RENDER_TODAY`; 2026-11-25 unless said).
    pub fn today(self, date: &str) -> Self {
        self.env("PANGEO_RENDER_TODAY", date)
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env.push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    /// An environment variable the command must not inherit (KUBECONFIG, HTTPS_PROXY, …).
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.unset.push(key.as_ref().to_os_string());
        self
    }

    /// Text on stdin (fine if the command exits without reading it); without it, stdin is empty.
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// Names the case in failure messages (for a table of inputs run through one command).
    pub fn case(mut self, label: impl Into<String>) -> Self {
        self.case = Some(label.into());
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

    /// A part of stdout (for output that also holds run-dependent text).
    pub fn stdout_contains(mut self, text: impl Into<String>) -> Self {
        self.stdout_parts.push(text.into());
        self
    }

    /// A part of stderr (for output that also holds run-dependent text).
    pub fn stderr_contains(mut self, text: impl Into<String>) -> Self {
        self.stderr_parts.push(text.into());
        self
    }

    /// Text that must appear in neither stdout nor stderr (a secret, say).
    pub fn output_lacks(mut self, text: impl Into<String>) -> Self {
        self.absent.push(text.into());
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
        let what = self.args_text();
        let out = Output { status, stdout, stderr, dir: self.dir };
        assert!(!out.stderr.contains("panicked"), "{what} panicked:\n{}", out.stderr);
        if let Some(want) = &self.stdout {
            assert_eq!(&out.stdout, want, "{what}: stdout");
        }
        if let Some(want) = &self.stderr {
            assert_eq!(&out.stderr, want, "{what}: stderr");
        }
        for part in &self.stdout_parts {
            assert!(out.stdout.contains(part.as_str()), "{what}: stdout lacks {part:?}:\n{}", out.stdout);
        }
        for part in &self.stderr_parts {
            assert!(out.stderr.contains(part.as_str()), "{what}: stderr lacks {part:?}:\n{}", out.stderr);
        }
        for text in &self.absent {
            assert!(!out.stdout.contains(text.as_str()), "{what}: stdout holds {text:?}");
            assert!(!out.stderr.contains(text.as_str()), "{what}: stderr holds {text:?}");
        }
        assert_eq!(out.status, self.status, "{what}: exit code; stderr:\n{}", out.stderr);
        out
    }

    /// Runs the command and checks only that it did not panic; for tests that compare commands.
    pub fn run_any(self) -> Output {
        let (status, stdout, stderr) = self.output();
        assert!(!stderr.contains("panicked"), "{} panicked:\n{stderr}", self.args_text());
        Output { status, stdout, stderr, dir: self.dir }
    }

    /// The command line for failure messages, with its case and its stdin when given.
    fn args_text(&self) -> String {
        let mut text = self.case.as_ref().map(|c| format!("[{c}] ")).unwrap_or_default();
        text += "pangeo-render ";
        text += &self.args.iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ");
        if let Some(input) = &self.stdin {
            text += &format!(" <<< {:?}", String::from_utf8_lossy(&input[..input.len().min(200)]));
        }
        text
    }

    /// Starts the command and returns at once, stdin, stdout and stderr closed: for a test that
    /// stops it midway. Only in a directory the test keeps ([`Test::at`]).
    pub fn spawn(self) -> std::process::Child {
        assert!(matches!(self.dir, Dir::At(_)), "spawn needs a Test::at workspace, which outlives the Test");
        self.command()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", self.args_text()))
    }

    fn command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("pangeo-render"));
        cmd.current_dir(self.dir.path())
            .env("PANGEO_RENDER_TODAY", "2026-11-25")
            .env("NO_COLOR", "1")
            .args(&self.args);
        for k in &self.unset {
            cmd.env_remove(k);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    fn output(&self) -> (i32, String, String) {
        let mut cmd = Command::from_std(self.command());
        cmd.timeout(HANG);
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
