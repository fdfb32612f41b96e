//! One rule engine (issue 13): every command that reads a config — `values`, `diff`, `apply` and
//! `validate -c` — reports the same diagnostics for it (ids, places, fields, messages, hints), and
//! each stops with exit 1 exactly when one of them is an error. Checked over every config under
//! `fixtures/rules/` (each breaks one rule, YAML-level problems included) and the valid fixtures.
//!
//! `diff` and `apply` are pointed at a closed loopback port: a config with errors is refused
//! before any connection, and a valid one gets as far as the (unreachable) cluster.

mod support;

use std::fs;
use std::path::PathBuf;

use support::{Test, repo};

/// A kubeconfig whose server refuses connections at once.
const NOWHERE: &str = "apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: not-a-secret}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
";

/// Every config a fixture holds: `fixtures/*/pangeo.yaml`, `fixtures/rules/*/pangeo.yaml` and
/// `fixtures/rules/*/config/*.yaml`.
fn configs() -> Vec<PathBuf> {
    let yaml_in = |dir: PathBuf| -> Vec<PathBuf> {
        let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
        entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "yaml")).collect()
    };
    let mut out: Vec<PathBuf> = Vec::new();
    for dir in fs::read_dir(repo().join("fixtures")).unwrap().map(|e| e.unwrap().path()) {
        out.extend(Some(dir.join("pangeo.yaml")).filter(|p| p.exists()));
    }
    for dir in fs::read_dir(repo().join("fixtures/rules")).unwrap().map(|e| e.unwrap().path()) {
        out.extend(Some(dir.join("pangeo.yaml")).filter(|p| p.exists()));
        out.extend(yaml_in(dir.join("config")));
    }
    out.sort();
    out
}

/// The diagnostic lines of stderr (`FILE:LINE:COL: …` and their `hint:` lines) of the config and
/// the files beside it (a kept option handler), without the
/// commands' own summaries and progress.
fn diagnostics(stderr: &str, files: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_diag = false;
    for line in stderr.lines() {
        if files.iter().any(|file| line.starts_with(&format!("{file}:"))) {
            in_diag = true;
            out.push(line.to_string());
        } else if in_diag && line.starts_with("  ") {
            out.push(line.to_string());
        } else {
            in_diag = false;
        }
    }
    out
}

#[test]
fn values_diff_apply_and_validate_give_one_verdict() {
    let all = configs();
    assert!(all.len() > 25, "too few fixture configs found: {all:?}");
    for path in all {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = fs::read(&path).unwrap();
        let beside = support::beside(&path);
        let files: Vec<&str> =
            std::iter::once(name.as_str()).chain(beside.iter().map(|(n, _)| n.as_str())).collect();
        let run = |args: &[&str]| {
            beside
                .iter()
                .fold(Test::new(), |t, (n, bytes)| t.file(n, bytes))
                .file(&name, &text)
                .fixed_secrets(&name)
                .file("kubeconfig", NOWHERE)
                .args(args)
                .run_any()
        };
        let validate = run(&["validate", "-c", &name]);
        let expected = diagnostics(&validate.stderr, &files);
        let errors = expected.iter().any(|l| l.contains(": error["));
        assert_eq!(
            validate.status,
            i32::from(errors),
            "{}: validate -c\n{}",
            path.display(),
            validate.stderr
        );

        let commands: [(&str, &[&str], i32); 3] = [
            ("values", &["values", "-c", &name, "--output-dir", "rendered"], 0),
            ("diff", &["diff", "-c", &name, "--kubeconfig", "kubeconfig"], 2),
            ("apply", &["apply", "-c", &name, "--kubeconfig", "kubeconfig"], 2),
        ];
        for (command, args, status_when_valid) in commands {
            let out = run(args);
            assert_eq!(
                diagnostics(&out.stderr, &files),
                expected,
                "{}: `{command}` and `validate -c` disagree\n{command}:\n{}\nvalidate:\n{}",
                path.display(),
                out.stderr,
                validate.stderr
            );
            let status = if errors { 1 } else { status_when_valid };
            assert_eq!(out.status, status, "{}: {command}\n{}", path.display(), out.stderr);
        }
    }
}

#[test]
fn an_upper_case_token_is_refused_by_validate_as_by_values() {
    let test = Test::new().config(&fs::read_to_string(support::fixture("walkthrough")).unwrap());
    let test = test.fixed_secrets("pangeo.yaml");
    let secrets = test.path("pangeo.secrets.yaml");
    let text = fs::read_to_string(&secrets).unwrap().replace(&"1".repeat(64), &"A".repeat(64));
    let test = test.file("pangeo.secrets.yaml", text).mode("pangeo.secrets.yaml", 0o600);
    let out = test.args(["validate", "--strict", "pangeo.secrets.yaml"]).expect_status(1).run();
    assert!(
        out.stderr.contains("error[PR015]: proxySecretToken: the token is not 64 lower-case hexadecimal"),
        "{}",
        out.stderr
    );
    let values = Test::new()
        .config(&fs::read_to_string(support::fixture("walkthrough")).unwrap())
        .file("pangeo.secrets.yaml", fs::read(out.path("pangeo.secrets.yaml")).unwrap())
        .mode("pangeo.secrets.yaml", 0o600)
        .args(["values", "-c", "pangeo.yaml", "--output-dir", "rendered"])
        .run_any();
    // The same verdict, word for word, and the same exit code.
    assert_eq!(values.status, 1, "values accepted the token validate refuses:\n{}", values.stderr);
    let verdict = out.stderr.lines().find(|l| l.contains("error[PR015]")).unwrap();
    assert!(values.stderr.contains(verdict), "{verdict}\n{}", values.stderr);
}
