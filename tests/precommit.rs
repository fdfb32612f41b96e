//! The pre-commit hook, with the real `pre-commit` from PyPI (installed by `scripts/precommit-env`
//! into the project cache): the repository's `.pre-commit-hooks.yaml` is a valid hook manifest,
//! and in a temporary git repository a commit of a broken `daskhub.yaml` is refused with the
//! rule's message while the fixed file commits.
//!
//! Most tests run the hook as `repo: local` with `language: system` and the binary under test as
//! entry, with the manifest's own `files`, `exclude` and `entry` flags: the same hook definition,
//! without a release build. The README's two `repos:` entries are run as written: the `repo:
//! local` one with the binary under test on PATH, the tagged-release one from a local clone of
//! this repository, tagged there, which pre-commit installs with its own `cargo install` (a
//! release build, offline: `support::offline_cargo`).
//!
//! Needs python3 with venv and network access to PyPI on the first run. Set
//! PANGEO_SKIP_PRECOMMIT_TESTS=1 to skip where neither is available.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::{Value, json};
use support::offline_cargo::OfflineCargo;
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

/// A new git repository in `work` with pre-commit's hook installed (the `.pre-commit-config.yaml`
/// must be written already).
fn git_with_hook(work: &Path, home: &Path) {
    assert!(git(work, home, &["init", "-q", "-b", "main"]).status.success());
    let out = command(pre_commit(), work, home).arg("install").output().unwrap();
    assert!(out.status.success(), "pre-commit install: {}", text(&out));
}

/// Stages everything and commits it, which runs the hook: its output is the commit's.
fn commit_all(work: &Path, home: &Path, message: &str) -> Output {
    assert!(git(work, home, &["add", "-A"]).status.success());
    git(work, home, &["commit", "-q", "-m", message])
}

/// The hook of `.pre-commit-hooks.yaml`.
fn manifest_hook() -> Value {
    let text = fs::read_to_string(repo().join(".pre-commit-hooks.yaml")).unwrap();
    let hooks: Vec<Value> = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(hooks.len(), 1, "one hook in .pre-commit-hooks.yaml");
    hooks.into_iter().next().unwrap()
}

/// A `.pre-commit-config.yaml` (JSON is YAML) running the manifest's hook as `repo: local` with
/// `program` in place of `pangeo-render`: its entry flags (but `without`), `files` and `exclude` as
/// users get them.
fn local_hook_config(program: &Path, without: &[&str]) -> String {
    let hook = manifest_hook();
    let entry =
        hook["entry"].as_str().unwrap().strip_prefix("pangeo-render ").expect("entry runs pangeo-render");
    let flags: Vec<&str> = entry.split(' ').filter(|w| !without.contains(w)).collect();
    let flags = flags.join(" ");
    let local = json!({
        "id": hook["id"],
        "name": hook["name"],
        "entry": format!("{} {flags}", program.display()),
        "language": "system",
        "files": hook["files"],
        "exclude": hook["exclude"],
        "require_serial": hook["require_serial"],
    });
    serde_json::to_string_pretty(&json!({ "repos": [{ "repo": "local", "hooks": [local] }] })).unwrap()
}

/// The README's `.pre-commit-config.yaml` examples, in order.
fn readme_hook_configs() -> Vec<String> {
    let readme = fs::read_to_string(repo().join("README.md")).unwrap();
    let blocks: Vec<String> = readme
        .split("```yaml\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .filter(|b| b.starts_with("# .pre-commit-config.yaml"))
        .map(str::to_string)
        .collect();
    assert_eq!(blocks.len(), 2, "the README shows a tagged-release and a local entry");
    blocks
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
        local_hook_config(
            &binary(),
            // This repository keeps its rendered daskhub.yaml, tokens and all, to show PR015.
            &["--refuse-plaintext-secrets"],
        ),
    )
    .unwrap();
    git_with_hook(&work, &home);

    let commit = |message: &str| commit_all(&work, &home, message);
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

/// A kept option handler (`daskGateway.optionHandler`) changed alone is still checked against the
/// config that names it: a handler that allows bigger workers than the config says is refused
/// (PR035), though only the Python file is staged; the two changed together commit, and other
/// Python files are passed over.
#[test]
fn a_kept_option_handler_staged_alone_is_checked_against_its_config() {
    if skip() {
        return;
    }
    let ws = Workspace::with_config(&support::fixture("imported"));
    let home = ws.root().join("home");
    let work = ws.root().join("deployment");
    fs::create_dir_all(&home).unwrap();
    fs::create_dir_all(work.join("scripts")).unwrap();
    fs::copy(ws.config(), work.join("pangeo.yaml")).unwrap();
    fs::copy(ws.root().join("gateway-options.py"), work.join("gateway-options.py")).unwrap();
    fs::write(work.join("scripts/report.py"), "import sys\nprint(sys.argv)\n").unwrap();
    fs::write(work.join(".pre-commit-config.yaml"), local_hook_config(&binary(), &[])).unwrap();
    git_with_hook(&work, &home);
    let commit = |message: &str| commit_all(&work, &home, message);
    let out = commit("the adopted hub");
    let said = text(&out);
    assert!(out.status.success() && !said.contains("PR023"), "{said}");

    let handler = work.join("gateway-options.py");
    let kept = fs::read_to_string(&handler).unwrap();
    let (four, sixteen) = ("max=4.0, label=\"Worker Cores\"", "max=16.0, label=\"Worker Cores\"");
    fs::write(&handler, kept.replace(four, sixteen)).unwrap();
    let out = commit("bigger workers");
    let said = text(&out);
    assert!(!out.status.success(), "the handler was committed:\n{said}");
    assert!(
        said.contains("gateway-options.py:11:53: error[PR035]")
            && said
                .contains("the option handler's worker_cores max is 16, daskGateway.worker.cores.max says 4"),
        "{said}"
    );

    // Both say 2: commits.
    fs::write(&handler, kept.replace(four, "max=2.0, label=\"Worker Cores\"")).unwrap();
    let config = fs::read_to_string(work.join("pangeo.yaml")).unwrap();
    let bounds = "cores: {default: 0.8, min: 0.8, max: 4}";
    assert!(config.contains(bounds), "{config}");
    fs::write(work.join("pangeo.yaml"), config.replace(bounds, "cores: {default: 0.8, min: 0.8, max: 2}"))
        .unwrap();
    let out = commit("smaller workers, said in both places");
    assert!(out.status.success(), "{}", text(&out));
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
    fs::write(work.join(".pre-commit-config.yaml"), local_hook_config(&binary(), &[])).unwrap();
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

/// A repository with more YAML than a deployment (CI workflows, a conda environment, mkdocs, a
/// Helm chart's templates, notes): the README's `repo: local` entry, run as written with the
/// binary under test as `pangeo-render` on PATH, hands the hook only the deployment's files and
/// the YAML that may be pangeo-render's, and the hook stays silent about what it does not know.
#[test]
fn the_hook_sees_only_the_files_pangeo_render_owns() {
    if skip() {
        return;
    }
    let local = &readme_hook_configs()[1];
    // The README spells out the manifest's own hook.
    let readme: Value = serde_saphyr::from_str(local).unwrap();
    let readme_hook = &readme["repos"][0]["hooks"][0];
    let hook = manifest_hook();
    for key in ["id", "entry", "files", "exclude", "require_serial"] {
        assert_eq!(readme_hook[key], hook[key], "README's local entry differs from the manifest in `{key}`");
    }

    let ws = Workspace::with_config(&support::fixture("walkthrough"));
    ws.write_fixed_secrets();
    ws.test().args(["values"]).run();
    let home = ws.root().join("home");
    let work = ws.root().join("deployment");
    let bin = ws.root().join("bin");
    for dir in [&home, &work.join("rendered"), &bin] {
        fs::create_dir_all(dir).unwrap();
    }
    fs::copy(ws.config(), work.join("pangeo.yaml")).unwrap();
    for name in ["cluster.yaml", "cluster-autoscaler.yaml", "storageclass.yaml"] {
        fs::copy(ws.out().join(name), work.join("rendered").join(name)).unwrap();
    }
    let others = [
        (
            ".github/workflows/ci.yml",
            "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps: [{run: make}]\n",
        ),
        (".gitlab-ci.yml", "test:\n  script: [make]\n"),
        ("environment.yml", "name: pangeo\nchannels: [conda-forge]\ndependencies: [xarray, dask]\n"),
        (
            "mkdocs.yml",
            "site_name: hub\nmarkdown_extensions:\n  - pymdownx.emoji:\n      emoji_index: !!python/name:material.extensions.emoji.twemoji\n",
        ),
        // Not YAML until helm renders it.
        (
            "charts/extra/templates/deployment.yaml",
            "apiVersion: apps/v1\nkind: Deployment\n{{- with .Values.x }}\nmetadata: {{ . }}\n{{- end }}\n",
        ),
        ("notes.yaml", "todo:\n  - ask for a bigger quota\n"),
    ];
    for (path, text) in others {
        let path = work.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    fs::write(work.join(".pre-commit-config.yaml"), local).unwrap();
    // `pangeo-render` on PATH: the binary under test, noting the files pre-commit hands it.
    let seen = ws.root().join("seen");
    fs::write(
        bin.join("pangeo-render"),
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{}'\nexec '{}' \"$@\"\n",
            seen.display(),
            binary().display()
        ),
    )
    .unwrap();
    fs::set_permissions(bin.join("pangeo-render"), std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    assert!(git(&work, &home, &["init", "-q", "-b", "main"]).status.success());
    assert!(git(&work, &home, &["add", "-A"]).status.success());

    let out = command(pre_commit(), &work, &home)
        .env("PATH", &path)
        .args(["run", "--all-files", "--verbose"])
        .output()
        .unwrap();
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("pangeo-render validate") && said.contains("Passed"), "{said}");
    assert!(
        !said.contains("PR023") && !said.contains("warning"),
        "the hook spoke about files it does not own:\n{said}"
    );
    let mut handed: Vec<String> = fs::read_to_string(&seen)
        .unwrap()
        .lines()
        .filter(|a| a.ends_with(".yaml") || a.ends_with(".yml"))
        .map(str::to_string)
        .collect();
    handed.sort();
    assert_eq!(
        handed,
        [
            "notes.yaml",
            "pangeo.yaml",
            "rendered/cluster-autoscaler.yaml",
            "rendered/cluster.yaml",
            "rendered/storageclass.yaml"
        ],
        "{said}"
    );

    // What it is handed it still checks: a broken config in the same repository is refused.
    let config = fs::read_to_string(work.join("pangeo.yaml")).unwrap();
    fs::write(work.join("pangeo.yaml"), config.replacen("region:", "regoin:", 1)).unwrap();
    let out =
        command(pre_commit(), &work, &home).env("PATH", &path).args(["run", "--all-files"]).output().unwrap();
    let said = text(&out);
    assert!(
        !out.status.success() && said.contains("pangeo.yaml:") && said.contains("error[PR002]"),
        "{said}"
    );
}

/// The README's tagged-release entry, as written but for its URL: a local clone of this
/// repository at HEAD, tagged there with the README's `rev`. pre-commit clones it and builds the
/// hook with its own `cargo install` (language: rust), then runs it on a deployment.
#[test]
fn the_readme_tagged_release_entry_installs_and_runs_the_hook() {
    if skip() {
        return;
    }
    let tagged = &readme_hook_configs()[0];
    let entry: Value = serde_saphyr::from_str(tagged).unwrap();
    let url = entry["repos"][0]["repo"].as_str().unwrap();
    let rev = entry["repos"][0]["rev"].as_str().unwrap();
    let version = format!("v{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(rev, version, "the README's rev is this version's tag");

    let ws = Workspace::with_config(&support::fixture("walkthrough"));
    ws.write_fixed_secrets();
    ws.test().args(["values"]).run();
    let home = ws.root().join("home");
    let work = ws.root().join("deployment");
    let clone = ws.root().join("pangeo-render");
    // pre-commit's `cargo install`, offline, its dependencies compiled once per machine.
    let cargo = OfflineCargo::new(ws.root());
    fs::create_dir_all(&home).unwrap();
    fs::create_dir_all(&work).unwrap();
    let head = git(&repo(), &home, &["rev-parse", "HEAD"]);
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    assert!(
        git(ws.root(), &home, &["clone", "-q", "--no-checkout", repo().to_str().unwrap(), "pangeo-render"])
            .status
            .success()
    );
    assert!(git(&clone, &home, &["tag", rev, &head]).status.success());
    for name in ["cluster.yaml", "cluster-autoscaler.yaml", "storageclass.yaml"] {
        fs::copy(ws.out().join(name), work.join(name)).unwrap();
    }
    fs::write(work.join(".pre-commit-config.yaml"), tagged.replace(url, clone.to_str().unwrap())).unwrap();
    assert!(git(&work, &home, &["init", "-q", "-b", "main"]).status.success());
    assert!(git(&work, &home, &["add", "-A"]).status.success());
    let out = cargo.apply(command(pre_commit(), &work, &home).args(["run", "--all-files"])).output().unwrap();
    let said = text(&out);
    assert!(
        out.status.success() && said.contains("pangeo-render validate") && said.contains("Passed"),
        "{said}"
    );
    // And it checks: a staged plaintext token is refused.
    let daskhub = fs::read_to_string(ws.out().join("daskhub.yaml")).unwrap();
    fs::write(work.join("daskhub.yaml"), daskhub).unwrap();
    assert!(git(&work, &home, &["add", "-A"]).status.success());
    let out = cargo.apply(command(pre_commit(), &work, &home).args(["run", "--all-files"])).output().unwrap();
    let said = text(&out);
    assert!(!out.status.success() && said.contains("error[PR026]"), "{said}");
}
