//! Cargo for the install tests (`tests/install.rs`, and pre-commit's own `cargo install` in
//! `tests/precommit.rs`), with nothing leaving the machine: a private `CARGO_HOME` whose config
//! takes every crate from a `cargo vendor` copy of cargo's local cache (which the test build
//! filled), any HTTP request goes to a closed loopback port, and builds land in the test build's
//! target directory.
//!
//! The vendored copy lives at one fixed path inside that target directory and is made again only
//! when Cargo.lock changes: cargo's fingerprint of a vendored dependency includes its path and its
//! files' timestamps, so a fresh copy each run would recompile every dependency (a full release
//! build, minutes) where a kept one compiles them once per machine.

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
        // Vendored again only when the lock file changed: the copies' timestamps count too, so
        // fresh copies would recompile every dependency just as a new path would.
        let lock = fs::read(super::repo().join("Cargo.lock")).unwrap();
        let stamp = target.join("install-tests-vendor.lock");
        if fs::read(&stamp).ok().as_deref() != Some(lock.as_slice()) {
            let out = Command::new("cargo")
                .args(["vendor", "--locked", "--offline", "--quiet"])
                .arg(&vendor)
                .current_dir(super::repo())
                .output()
                .unwrap();
            assert!(out.status.success(), "cargo vendor: {}", String::from_utf8_lossy(&out.stderr));
            fs::write(&stamp, &lock).unwrap();
        }
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
