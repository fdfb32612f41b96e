//! The command line as kubectl and helm users hold it: completions, man pages, `--help`
//! examples, `-o` as a format everywhere (with the old `-o PATH` still working, loudly), `-` for
//! stdin/stdout or a clear refusal, and versioned JSON/YAML documents checked against
//! `schemas/output.schema.json`.

mod support;

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::{Test, Workspace, assert_output_schema, repo};

const KMS: &str = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const CERT: &str = "arn:aws:acm:us-west-2:111122223333:certificate/12345678-1234-1234-1234-123456789012";

fn init_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "init",
        "--name",
        "c1",
        "--region",
        "us-west-2",
        "--kms-key-arn",
        KMS,
        "--certificate-arn",
        CERT,
        "--domain",
        "hub.example.com",
    ];
    v.extend_from_slice(extra);
    v
}

fn bash(script: &str) -> String {
    let out = Command::new("bash").arg("-c").arg(script).output().expect("bash");
    assert!(out.status.success(), "bash failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn bash_completes_commands_flags_and_formats() {
    let ws = Workspace::empty();
    let script = ws.root().join("pangeo-render.bash");
    let out = ws.test().args(["completions", "bash"]).run();
    fs::write(&script, &out.stdout).unwrap();
    // The real bash loads the script and completes as it would at a prompt.
    let complete = |line: &str| -> Vec<String> {
        let words: Vec<&str> = line.split(' ').collect();
        let cword = words.len() - 1;
        let prev = if cword > 0 { words[cword - 1] } else { "" };
        // The completion function is whatever `complete -p` says bash will call.
        let out = bash(&format!(
            "source {}; COMP_WORDS=({}); COMP_CWORD={cword}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; \
             f=$(complete -p pangeo-render | sed -E 's/.* -F ([^ ]+) .*/\\1/'); \
             \"$f\" pangeo-render '{}' '{prev}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display(),
            words.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" "),
            words[cword],
        ));
        let mut v: Vec<String> =
            out.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect();
        v.sort();
        v
    };
    assert_eq!(complete("pangeo-render va"), ["validate", "values"]);
    assert_eq!(complete("pangeo-render diff -o "), ["json", "text", "yaml"]);
    assert!(complete("pangeo-render values --out").contains(&"--output-dir".to_string()));
    assert_eq!(complete("pangeo-render completions p"), ["powershell"]);
}

#[test]
fn zsh_fish_and_powershell_scripts_name_every_command() {
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let out = Test::new().args(["completions", shell]).run();
        for word in
            ["init", "values", "validate", "diff", "apply", "schema", "completions", "man", "output-dir"]
        {
            assert!(out.stdout.contains(word), "{shell} completions lack {word}");
        }
    }
    Test::new()
        .args(["completions", "tcsh"])
        .expect_status(2)
        .stderr_contains("possible values: bash, elvish, fish, powershell, zsh")
        .run();
}

/// Renders a man page with the real man toolchain (groff), as `man` shows it.
fn render_man(page: &Path) -> String {
    let out = Command::new("groff").args(["-man", "-Tutf8", "-P-c"]).arg(page).output().expect("groff");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // groff's overstrike bold and underline removed (-P-c keeps them as ^H sequences).
    let mut plain = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if chars.peek() == Some(&'\u{8}') {
            chars.next();
            continue;
        }
        plain.push(c);
    }
    plain
}

#[test]
fn man_pages_render_with_groff() {
    let ws = Workspace::empty();
    let out = ws.test().args(["man"]).run();
    let top = ws.root().join("top.1");
    fs::write(&top, &out.stdout).unwrap();
    let text = render_man(&top);
    assert!(text.contains("pangeo-render"), "{text}");
    for sub in
        ["init", "values", "validate", "diff", "apply", "upgrade", "import", "schema", "completions", "man"]
    {
        assert!(text.contains(&format!("pangeo-render-{sub}(1)")), "top page lacks {sub}:\n{text}");
    }

    ws.test().args(["man", "--output-dir", "man1"]).run();
    let dir = ws.root().join("man1");
    let values = render_man(&dir.join("pangeo-render-values.1"));
    assert!(values.contains("pangeo-render-values"), "{values}");
    assert!(values.contains("--output-dir"), "{values}");
    assert!(values.contains("pangeo-render values -c pangeo.yaml --rotate tokens -o json"), "{values}");
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 11, "top page and one per command");
}

#[test]
fn every_help_ends_with_examples() {
    for sub in
        ["init", "values", "validate", "diff", "apply", "upgrade", "import", "schema", "completions", "man"]
    {
        let out = Test::new().args([sub, "--help"]).run();
        let tail: Vec<&str> = out.stdout.trim_end().lines().rev().take_while(|l| !l.is_empty()).collect();
        let (_, before) =
            out.stdout.split_once("Examples:\n").unwrap_or_else(|| panic!("{sub}: {}", out.stdout));
        assert!(!before.contains("Options:"), "{sub}: examples are not last");
        assert!(
            tail.iter().any(|l| l.trim_start().starts_with(&format!("pangeo-render {sub}"))),
            "{sub} --help does not end with an example:\n{}",
            out.stdout
        );
    }
}

#[test]
fn init_writes_a_final_newline_and_its_hint_runs() {
    let ws = Workspace::empty();
    let out = ws.test().args(init_args(&[])).run();
    let text = fs::read_to_string(ws.root().join("pangeo.yaml")).unwrap();
    assert!(text.ends_with("\n") && !text.ends_with("\n\n"), "no single final newline");
    // The printed next step works as printed.
    let next = out.stderr.lines().find_map(|l| l.strip_prefix("next: ")).expect("a next: hint");
    ws.test().printed(next).run();
    assert!(ws.root().join("rendered/daskhub.yaml").exists());
}

#[test]
fn init_dash_prints_the_config_and_writes_nothing() {
    let ws = Workspace::empty();
    fs::create_dir(ws.root().join(".git")).unwrap();
    let out = ws
        .test()
        .args(init_args(&["-c", "-"]))
        .stderr_contains(
            "note: the config's modeline names pangeo-config.schema.json; write it beside the config with: \
             pangeo-render schema > pangeo-config.schema.json",
        )
        .run();
    assert!(
        out.stdout
            .starts_with("# yaml-language-server: $schema=pangeo-config.schema.json\n# pangeo-render config"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("kind: PangeoDeployment") && out.stdout.ends_with("\n"));
    let left: Vec<_> = fs::read_dir(ws.root()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, [".git"], "init -c - wrote files");
    // What it printed is a config that renders (read back from stdin).
    ws.test().args(["values", "-c", "-", "--secrets", "s.yaml"]).stdin(out.stdout).run();
    assert!(ws.root().join("rendered/cluster.yaml").exists());
    let cluster = fs::read_to_string(ws.root().join("rendered/cluster.yaml")).unwrap();
    assert!(cluster.contains("stdin"), "rendered header names its source");
}

#[test]
fn old_dash_o_paths_still_work_with_a_deprecation_warning() {
    let ws = Workspace::empty();
    ws.test()
        .args(init_args(&["-o", "old.yaml"]))
        .stderr_contains(
            "warning: deprecated: `init -o FILE` will be removed; write `init -c old.yaml` (-o is the output format: text, json or yaml)",
        )
        .run();
    assert!(ws.root().join("old.yaml").exists());
    // The advice, followed, works and warns no more.
    fs::remove_file(ws.root().join("old.yaml")).unwrap();
    let out = ws.test().args(init_args(&["-c", "old.yaml"])).run();
    assert!(!out.stderr.contains("deprecated"), "{}", out.stderr);

    ws.test()
        .args(["values", "-c", "old.yaml", "-o", "out"])
        .stderr_contains(
            "warning: deprecated: `values -o DIR` will be removed; write `values --output-dir out` (-o is the output format: text, json or yaml)",
        )
        .run();
    assert!(ws.root().join("out/daskhub.yaml").exists());
    let out = ws
        .test()
        .args(["values", "-c", "old.yaml", "--output-dir", "out"])
        .stderr_contains("unchanged out/daskhub.yaml")
        .run();
    assert!(!out.stderr.contains("deprecated"), "{}", out.stderr);

    fs::copy(repo().join("fixtures/walkthrough/pangeo.yaml"), ws.config()).unwrap();
    let out = ws
        .test()
        .args(["validate", "--format", "json", "pangeo.yaml"])
        .stderr_contains("warning: deprecated: `validate --format json` will be removed; write `-o json`")
        .run();
    assert_output_schema(&out.json());
    ws.test().args(["validate", "-o", "json", "pangeo.yaml"]).expect_stderr("").run();

    // Both spellings at once are a usage error naming the right flag.
    ws.test()
        .args(["values", "-c", "old.yaml", "-o", "out", "--output-dir", "out"])
        .expect_status(2)
        .stderr_contains("-o takes a format (text, json, yaml); the directory goes in --output-dir")
        .run();
    ws.test()
        .args(init_args(&["-o", "a.yaml", "-c", "b.yaml"]))
        .expect_status(2)
        .stderr_contains("-o takes a format (text, json, yaml); the file goes in -c/--config")
        .run();
}

#[test]
fn dash_is_stdin_or_refused_with_the_reason() {
    let ws = Workspace::with_config(&support::fixture("walkthrough"));
    ws.write_fixed_secrets();
    let s = "pangeo.secrets.yaml";
    let config = fs::read_to_string(ws.config()).unwrap();
    let refused = |args: &[&str], message: &str| {
        ws.test().args(args).stdin(config.as_str()).expect_status(2).stderr_contains(message).run();
        assert!(!ws.root().join("-").exists(), "{args:?} created ./-");
    };
    refused(
        &["values", "--output-dir", "-"],
        "--output-dir -: values writes six files, two of them holding secrets (0600); give a directory",
    );
    refused(
        &["values", "--secrets", "-"],
        "--secrets -: the secrets file is kept on disk (mode 0600); give its path",
    );
    refused(
        &["values", "-c", "-"],
        "-c -: a config read from stdin has no directory to keep its secrets in; pass --secrets FILE",
    );
    refused(&["values", "--charts", "-"], "--charts -: a directory of templates cannot be read from stdin");
    refused(
        &["values", "-c", "-", "--secrets", s, "--admin-password-stdin"],
        "-c - and --admin-password-stdin both read stdin; give the config as a file",
    );
    refused(
        &["diff", "--kubeconfig", "-"],
        "--kubeconfig -: a kubeconfig is read from a file (as kubectl and helm do); give its path",
    );
    refused(&["validate", "-", "-c", "-"], "`-` (stdin) can be given only once");
    refused(
        &["man", "--output-dir", "-"],
        "--output-dir -: man writes one file per command; leave out --output-dir for stdout",
    );
    refused(
        &init_args(&["-c", "-", "-o", "json"]),
        "-c - prints the config on stdout, where -o json would print the report too; write the config to a file",
    );

    // validate reads stdin and names it.
    let broken = config.replace("region: us-west-2", "region: us-nowhere-1");
    let doc = ws.test().args(["validate", "-o", "json", "-"]).stdin(broken).expect_status(1).run().json();
    assert_output_schema(&doc);
    assert!(doc["diagnostics"].as_array().unwrap().iter().all(|d| d["file"] == "<stdin>"), "{doc:#}");
    // values reads the config from stdin with an explicit secrets file.
    ws.test().args(["values", "-c", "-", "--secrets", s]).stdin(config).run();
}

#[test]
fn json_and_yaml_documents_are_versioned_and_match_their_schema() {
    let ws = Workspace::empty();
    let doc = ws.test().args(init_args(&["-o", "json"])).run().json();
    assert_eq!(
        (doc["apiVersion"].as_str(), doc["kind"].as_str()),
        (Some("pangeo-render/v1alpha1"), Some("InitReport"))
    );
    assert_output_schema(&doc);

    for format in ["json", "yaml"] {
        let out = ws.test().args(["values", "-c", "pangeo.yaml", "-o", format]).run();
        let doc: Value = match format {
            "json" => serde_json::from_str(&out.stdout).unwrap(),
            _ => serde_saphyr::from_str(&out.stdout).unwrap(),
        };
        assert_eq!(doc["kind"], "ValuesReport");
        assert_output_schema(&doc);
        let files = doc["files"].as_array().unwrap();
        assert_eq!(files.len(), 6);
        let daskhub = files.iter().find(|f| f["path"] == "rendered/daskhub.yaml").unwrap();
        assert_eq!(daskhub["sensitive"], true);
        // The first run wrote and created; the second found everything in place.
        let first = format == "json";
        assert_eq!(daskhub["status"], if first { "written" } else { "unchanged" });
        assert_eq!(doc["secretsFile"]["created"], first);
        // The generated password is on stderr only, never in the document.
        assert_eq!(out.stderr.contains("generated admin password"), first);
    }

    let out = ws.test().args(["validate", "-c", "pangeo.yaml", "rendered", "-o", "yaml"]).run();
    let doc: Value = serde_saphyr::from_str(&out.stdout).unwrap();
    assert_eq!(doc["kind"], "ValidationReport");
    assert_eq!(doc["valid"], true);
    assert_output_schema(&doc);

    let out =
        ws.test().args(["upgrade", "-c", "pangeo.yaml", "--chart", "daskhub-2026.3.0", "-o", "yaml"]).run();
    let doc: Value = serde_saphyr::from_str(&out.stdout).unwrap();
    assert_eq!(doc["kind"], "ChartUpgradePlan");
    assert_output_schema(&doc);

    let bad = ws.root().join("bad.yaml");
    fs::write(
        &bad,
        fs::read_to_string(ws.config()).unwrap().replace("region: \"us-west-2\"", "region: \"mars-1\""),
    )
    .unwrap();
    let doc = ws.test().args(["validate", "-o", "json", "bad.yaml"]).expect_status(1).run().json();
    assert!(doc["errors"].as_u64().unwrap() > 0);
    assert_output_schema(&doc);
    // The schema is not a rubber stamp: a document missing its kind fails it.
    let mut broken = doc.clone();
    broken.as_object_mut().unwrap().remove("valid");
    let result = std::panic::catch_unwind(|| assert_output_schema(&broken));
    assert!(result.is_err(), "a ValidationReport without `valid` passed the schema");
}

/// A Kubernetes version newer than the project's EKS data is refused with the flag to pass;
/// with `--allow-unsupported-version` it is a warning naming the data's newest version and its
/// date, and the files render. An old version EKS never offered stays an error.
#[test]
fn a_version_newer_than_the_data_renders_only_when_allowed() {
    let text = fs::read_to_string(repo().join("fixtures/walkthrough/pangeo.yaml")).unwrap();
    let newer = text.replace("kubernetesVersion: \"1.34\"", "kubernetesVersion: \"1.36\"");
    assert_ne!(newer, text);
    let ws = Workspace::with_text(&newer);
    ws.test()
        .args(["validate", "-c", "pangeo.yaml"])
        .expect_status(1)
        .stderr_contains("error[PR010]")
        .stderr_contains("pass --allow-unsupported-version")
        .run();

    // The advice works, for validate and for values.
    ws.test()
        .args(["validate", "--allow-unsupported-version", "-c", "pangeo.yaml"])
        .stderr_contains("warning[PR010]")
        .stderr_contains("newest version is 1.35 (standard support until 2027-03-27")
        .run();
    ws.test().args(["values", "-c", "pangeo.yaml", "--allow-unsupported-version"]).run();
    let cluster = fs::read_to_string(ws.root().join("rendered/cluster.yaml")).unwrap();
    assert!(cluster.contains("version: \"1.36\""), "{cluster}");

    let older = text.replace("kubernetesVersion: \"1.34\"", "kubernetesVersion: \"1.20\"");
    Test::new()
        .config(&older)
        .args(["validate", "--allow-unsupported-version", "-c", "pangeo.yaml"])
        .expect_status(1)
        .run();
}
