//! How users install pangeo-render without a checkout: the README's `cargo install --locked --git
//! URL --tag TAG`, run as written but for the URL: a local clone of this repository at HEAD,
//! tagged there with the README's tag. No network (`support::offline_cargo`: crates from a vendored
//! copy of cargo's local cache, HTTP to a closed port); `--offline` cannot be used, as cargo then
//! refuses any git source.
//!
//! Set PANGEO_SKIP_INSTALL_TESTS=1 to skip (a release build of this crate, a few minutes).

mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use support::offline_cargo::OfflineCargo;
use support::repo;

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out =
        Command::new("git").current_dir(dir).env("GIT_CONFIG_NOSYSTEM", "1").args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The install command the README gives, as its words.
fn readme_install_command() -> Vec<String> {
    let readme = fs::read_to_string(repo().join("README.md")).unwrap();
    let command = readme
        .split('`')
        .find(|part| part.starts_with("cargo install --locked --git "))
        .expect("the README gives a `cargo install --locked --git` command");
    command.split_whitespace().map(str::to_string).collect()
}

#[test]
fn cargo_install_from_a_git_url_installs_this_version() {
    if std::env::var_os("PANGEO_SKIP_INSTALL_TESTS").is_some_and(|v| v == "1") {
        support::skip("PANGEO_SKIP_INSTALL_TESTS=1");
        return;
    }
    let mut words = readme_install_command();
    let at = |flag: &str| words.iter().position(|w| w == flag).map(|i| i + 1).expect(flag);
    let (url_at, tag_at) = (at("--git"), at("--tag"));
    assert_eq!(
        words[tag_at],
        format!("v{}", env!("CARGO_PKG_VERSION")),
        "the README's tag is this version's"
    );
    assert_eq!(
        words[url_at],
        env!("CARGO_PKG_REPOSITORY"),
        "the README installs from the repository Cargo.toml names"
    );

    let tmp = tempfile::tempdir().unwrap();
    let clone = tmp.path().join("pangeo-render.git");
    let head = git(&repo(), &["rev-parse", "HEAD"]);
    git(tmp.path(), &["clone", "-q", "--bare", repo().to_str().unwrap(), clone.to_str().unwrap()]);
    git(&clone, &["tag", &words[tag_at], &head]);
    words[url_at] = format!("file://{}", clone.display());

    let root = tmp.path().join("root");
    let cargo = OfflineCargo::new(tmp.path());
    let out = cargo
        .apply(Command::new(&words[0]).args(&words[1..]).arg("--root").arg(&root).current_dir(tmp.path()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));

    // The installed binary is this version, and works: it prints the config schema.
    let installed = root.join("bin/pangeo-render");
    let version = Command::new(&installed).arg("--version").output().unwrap();
    assert_eq!(text(&version), format!("pangeo-render {}\n", env!("CARGO_PKG_VERSION")));
    let schema = Command::new(&installed).arg("schema").output().unwrap();
    assert!(schema.status.success(), "{}", text(&schema));
    let schema: serde_json::Value = serde_json::from_slice(&schema.stdout).unwrap();
    assert_eq!(schema["properties"]["kind"]["const"], "PangeoDeployment", "{schema}");
}
