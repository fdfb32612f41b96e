//! The pre-commit hook, with the real `pre-commit` from PyPI (installed by `scripts/precommit-env`
//! into the project cache): the repository's `.pre-commit-hooks.yaml` is a valid hook manifest,
//! and in a temporary git repository a commit of a broken `daskhub.yaml` is refused with the
//! rule's message while the fixed file commits.
//!
//! The commit test runs the hook as `repo: local` with `language: system` and the binary under
//! test as entry: the same hook definition, without pre-commit's `cargo install` of this
//! repository (minutes of release build on every run). That install path is exercised by the
//! ignored test at the end (`cargo test --test precommit -- --ignored`).
//!
//! Needs python3 with venv and network access to PyPI on the first run. Set
//! PANGEO_SKIP_PRECOMMIT_TESTS=1 to skip where neither is available.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use support::{Workspace, repo};

fn skip() -> bool {
    let skipped = std::env::var_os("PANGEO_SKIP_PRECOMMIT_TESTS").is_some_and(|v| v == "1");
    if skipped {
        support::skip("PANGEO_SKIP_PRECOMMIT_TESTS=1");
    }
    skipped
}

/// The `pre-commit` executable from the pinned venv (created on first use).
fn pre_commit() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let out =
            Command::new(repo().join("scripts/precommit-env")).output().expect("run scripts/precommit-env");
        assert!(
            out.status.success(),
            "scripts/precommit-env failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("PANGEO_PRECOMMIT="))
            .expect("PANGEO_PRECOMMIT in output");
        PathBuf::from(line.trim_matches(['\'', '"']))
    })
}

/// The binary under test: the release build the test runner exports, else cargo's test build.
fn binary() -> PathBuf {
    match std::env::var_os("PANGEO_RENDER_BIN") {
        Some(p) if Path::new(&p).exists() => PathBuf::from(p),
        _ => PathBuf::from(assert_cmd::cargo::cargo_bin!("pangeo-render")),
    }
}

/// A command in `dir` with a private pre-commit home and a fixed git identity.
fn command(program: &Path, dir: &Path, home: &Path) -> Command {
    let mut c = Command::new(program);
    c.current_dir(dir)
        .env("PRE_COMMIT_HOME", home)
        .env("PANGEO_RENDER_TODAY", "2026-09-01")
        .env("NO_COLOR", "1")
        .env("GIT_AUTHOR_NAME", "test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", home);
    c
}

fn git(dir: &Path, home: &Path, args: &[&str]) -> Output {
    command(Path::new("git"), dir, home).args(args).output().expect("run git")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn hook_manifest_is_accepted_by_pre_commit() {
    if skip() {
        return;
    }
    let out = Command::new(pre_commit())
        .arg("validate-manifest")
        .arg(repo().join(".pre-commit-hooks.yaml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    // The hook users reference is the one the commit test below runs.
    let manifest = fs::read_to_string(repo().join(".pre-commit-hooks.yaml")).unwrap();
    for line in [
        "- id: pangeo-render-validate",
        "entry: pangeo-render validate",
        "language: rust",
        "require_serial: true",
    ] {
        assert!(manifest.contains(line), "manifest lacks {line:?}");
    }
}

#[test]
fn a_broken_daskhub_yaml_is_refused_and_the_fixed_one_commits() {
    if skip() {
        return;
    }
    // A deployment as users keep it: the config and its rendered files (secrets stay out of git).
    let ws = Workspace::with_config(&support::fixture("walkthrough"));
    ws.write_fixed_secrets();
    ws.test().args(["values"]).run();
    let home = ws.root().join("home");
    let work = ws.root().join("deployment");
    fs::create_dir_all(&home).unwrap();
    fs::create_dir_all(work.join("rendered")).unwrap();
    fs::copy(ws.config(), work.join("pangeo.yaml")).unwrap();
    for e in fs::read_dir(ws.out()).unwrap() {
        let p = e.unwrap().path();
        fs::copy(&p, work.join("rendered").join(p.file_name().unwrap())).unwrap();
    }
    fs::write(work.join(".gitignore"), "*.secrets.yaml\n").unwrap();
    fs::write(
        work.join(".pre-commit-config.yaml"),
        format!(
            "repos:\n  - repo: local\n    hooks:\n      - id: pangeo-render-validate\n        name: pangeo-render validate\n        \
             entry: {} validate\n        language: system\n        files: \\.ya?ml$\n        require_serial: true\n",
            binary().display()
        ),
    )
    .unwrap();
    assert!(git(&work, &home, &["init", "-q", "-b", "main"]).status.success());
    let out = command(pre_commit(), &work, &home).arg("install").output().unwrap();
    assert!(out.status.success(), "pre-commit install: {}", text(&out));

    let commit = |message: &str| -> Output {
        assert!(git(&work, &home, &["add", "-A"]).status.success());
        git(&work, &home, &["commit", "-q", "-m", message])
    };
    let out = commit("the rendered deployment");
    assert!(out.status.success(), "a valid deployment was refused:\n{}", text(&out));

    // 1. The API token no longer the same in its two places: refused by PR015, within the file.
    let daskhub = work.join("rendered/daskhub.yaml");
    let good = fs::read_to_string(&daskhub).unwrap();
    let api = "2".repeat(64);
    let gateway_place = format!(
        "auth:\n      jupyterhub:\n        # The same token as jupyterhub.hub.services.dask-gateway.apiToken.\n        apiToken: \"{api}\""
    );
    assert!(good.contains(&gateway_place), "rendered daskhub.yaml changed shape:\n{good}");
    fs::write(&daskhub, good.replace(&gateway_place, &gateway_place.replace(&api, &"3".repeat(64)))).unwrap();
    let out = commit("rotate one token by hand");
    let said = text(&out);
    assert!(!out.status.success(), "the broken file was committed:\n{said}");
    assert!(said.contains("pangeo-render validate") && said.contains("Failed"), "{said}");
    assert!(
        said.contains("rendered/daskhub.yaml:")
            && said.contains("error[PR015]")
            && said.contains(
                "the Dask Gateway API token differs from jupyterhub.hub.services.dask-gateway.apiToken"
            ),
        "{said}"
    );
    assert!(!said.contains(&"3".repeat(64)) && !said.contains(&api), "the hook printed a token:\n{said}");

    // 2. A toleration that no longer matches the committed cluster.yaml's taint: refused by
    //    PR017, although only daskhub.yaml is staged.
    let toleration = "effect: \"NoExecute\"";
    assert!(good.contains(toleration));
    fs::write(&daskhub, good.replace(toleration, "effect: \"NoSchedule\"")).unwrap();
    let out = commit("workers tolerate the wrong effect");
    let said = text(&out);
    assert!(!out.status.success(), "the broken file was committed:\n{said}");
    assert!(
        said.contains("error[PR017]")
            && said.contains("Dask workers do not tolerate node group `dask-workers`'s taint"),
        "{said}"
    );

    // 3. Fixed: commits.
    fs::write(&daskhub, good.replace("admin_users: [\"admin\"]", "admin_users: [\"admin\", \"alice\"]"))
        .unwrap();
    let out = commit("another admin");
    assert!(out.status.success(), "the fixed file was refused:\n{}", text(&out));
    let log = git(&work, &home, &["log", "--oneline"]);
    assert_eq!(String::from_utf8_lossy(&log.stdout).lines().count(), 2, "{}", text(&log));
}

/// The hook as `.pre-commit-hooks.yaml` defines it (its `entry`, with the binary under test):
/// the SOPS-encrypted secrets file commits, `values` keeps the plaintext `daskhub.yaml` out of git,
/// and a plaintext token or hash that is staged anyway is refused, naming file and key only.
#[test]
fn encrypted_secrets_commit_and_plaintext_ones_are_refused() {
    if skip() {
        return;
    }
    use age::secrecy::ExposeSecret;
    let manifest = fs::read_to_string(repo().join(".pre-commit-hooks.yaml")).unwrap();
    let entry = manifest.lines().find_map(|l| l.trim().strip_prefix("entry: pangeo-render ")).unwrap();
    let ws = Workspace::with_config(&support::fixture("walkthrough"));
    let home = tempfile::tempdir().unwrap();
    let work = ws.root();
    assert!(git(work, home.path(), &["init", "-q", "-b", "main"]).status.success());
    let key = age::x25519::Identity::generate();
    fs::write(
        work.join(".sops.yaml"),
        format!("creation_rules:\n  - path_regex: \\.secrets\\.yaml$\n    age: {}\n", key.to_public()),
    )
    .unwrap();
    ws.test()
        .env("HOME", home.path())
        .env("SOPS_AGE_KEY", key.to_string().expose_secret())
        .args(["values"])
        .stderr_contains("added /daskhub.yaml to rendered/.gitignore")
        .run();
    fs::write(
        work.join(".pre-commit-config.yaml"),
        format!(
            "repos:\n  - repo: local\n    hooks:\n      - id: pangeo-render-validate\n        name: pangeo-render validate\n        \
             entry: {} {entry}\n        language: system\n        files: \\.ya?ml$\n        require_serial: true\n",
            binary().display()
        ),
    )
    .unwrap();
    let out = command(pre_commit(), work, home.path()).arg("install").output().unwrap();
    assert!(out.status.success(), "pre-commit install: {}", text(&out));

    assert!(git(work, home.path(), &["add", "-A"]).status.success());
    let staged =
        String::from_utf8_lossy(&git(work, home.path(), &["diff", "--cached", "--name-only"]).stdout)
            .into_owned();
    assert!(staged.contains("pangeo.secrets.yaml") && staged.contains("rendered/cluster.yaml"), "{staged}");
    assert!(!staged.contains("rendered/daskhub.yaml"), "git ignores the plaintext daskhub.yaml: {staged}");
    let out = git(work, home.path(), &["commit", "-q", "-m", "the deployment, secrets encrypted"]);
    assert!(out.status.success(), "the encrypted secrets file was refused:\n{}", text(&out));

    // Staged anyway: refused, naming the file and each key, never the value.
    let daskhub = fs::read_to_string(ws.out().join("daskhub.yaml")).unwrap();
    let token =
        daskhub.lines().find_map(|l| l.trim().strip_prefix("secretToken: ")).unwrap().trim_matches('"');
    assert!(git(work, home.path(), &["add", "-f", "rendered/daskhub.yaml"]).status.success());
    let out = git(work, home.path(), &["commit", "-q", "-m", "plaintext values"]);
    let said = text(&out);
    assert!(!out.status.success(), "a plaintext token was committed:\n{said}");
    assert!(
        said.contains("rendered/daskhub.yaml:")
            && said.contains("error[PR026]: jupyterhub.proxy.secretToken: holds a secret in plaintext"),
        "{said}"
    );
    assert!(said.contains("PangeoPasswordAuthenticator.password_hash: holds a password hash"), "{said}");
    assert!(!said.contains(token), "the hook printed a token:\n{said}");
}

/// pre-commit's own install path (`language: rust`: cargo install of this repository at HEAD).
/// Slow — a full release build in pre-commit's cache — so run on demand.
#[test]
#[ignore = "builds pangeo-render with cargo install inside pre-commit; several minutes"]
fn try_repo_installs_and_runs_the_hook() {
    let ws = Workspace::with_config(&support::fixture("walkthrough"));
    ws.write_fixed_secrets();
    ws.test().args(["values"]).run();
    let home = ws.root().join("home");
    let work = ws.root().join("deployment");
    fs::create_dir_all(&home).unwrap();
    fs::create_dir_all(&work).unwrap();
    for e in fs::read_dir(ws.out()).unwrap() {
        let p = e.unwrap().path();
        fs::copy(&p, work.join(p.file_name().unwrap())).unwrap();
    }
    assert!(git(&work, &home, &["init", "-q", "-b", "main"]).status.success());
    assert!(git(&work, &home, &["add", "-A"]).status.success());
    let out = command(pre_commit(), &work, &home)
        .args(["try-repo", repo().to_str().unwrap(), "pangeo-render-validate", "--all-files"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}
