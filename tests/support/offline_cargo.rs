//! Cargo for the install tests (`tests/install.rs`, and pre-commit's own `cargo install` in
//! `tests/precommit.rs`), with nothing leaving the machine: a private `CARGO_HOME` whose config
//! takes every crate from a `cargo vendor` copy of cargo's local cache (which the test build
//! filled), any HTTP request goes to a closed loopback port, and builds land in the test build's
//! target directory.
//!
//! The vendored copy lives at one fixed path inside that target directory: cargo's fingerprint of
//! a dependency includes its source path, so a fresh path each run would recompile every
//! dependency (a full release build, minutes) where a fixed one compiles them once per machine.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

/// The environment for a `cargo install` that must not touch the network.
pub struct OfflineCargo {
    home: PathBuf,
    target: PathBuf,
    rustup_home: PathBuf,
}

impl OfflineCargo {
    /// Vendors this repository's locked crates and writes the private cargo home (under `tmp`).
    pub fn new(tmp: &std::path::Path) -> Self {
        let user_home = PathBuf::from(std::env::var_os("HOME").expect("HOME"));
        let exe = std::env::current_exe().unwrap();
        // target/debug/deps/TEST-HASH
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| exe.ancestors().nth(3).unwrap().to_path_buf(), PathBuf::from);
        let vendor = target.join("install-tests-vendor");
        let out = Command::new("cargo")
            .args(["vendor", "--locked", "--offline", "--quiet"])
            .arg(&vendor)
            .current_dir(super::repo())
            .output()
            .unwrap();
        assert!(out.status.success(), "cargo vendor: {}", String::from_utf8_lossy(&out.stderr));
        let home = tmp.join("cargo-home");
        fs::create_dir_all(&home).unwrap();
        fs::write(
            home.join("config.toml"),
            format!(
                "[source.crates-io]\nreplace-with = \"vendored\"\n\n[source.vendored]\ndirectory = \"{}\"\n\n\
                 [http]\nproxy = \"http://127.0.0.1:9\"\n",
                vendor.display()
            ),
        )
        .unwrap();
        let rustup_home =
            std::env::var_os("RUSTUP_HOME").map_or_else(|| user_home.join(".rustup"), PathBuf::from);
        OfflineCargo { home, target, rustup_home }
    }

    /// Points `cmd` (cargo, or a program that runs cargo) at this environment.
    pub fn apply<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        cmd.env("CARGO_HOME", &self.home)
            .env("RUSTUP_HOME", &self.rustup_home)
            .env("CARGO_TARGET_DIR", &self.target)
            .env("CARGO_HTTP_PROXY", "http://127.0.0.1:9")
    }
}
