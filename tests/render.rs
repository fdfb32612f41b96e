//! `init` and `values` end to end, through the real binary: snapshots of every artifact for each
//! fixture, idempotency, secrets handling, and a table of bad inputs.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use support::{Test, Workspace, fixture_configs};

const ARTIFACTS: &[&str] = &[
    "cluster.yaml",
    "guard.yaml",
    "cluster-autoscaler.yaml",
    "aws-ebs-csi-driver.yaml",
    "storageclass.yaml",
    "daskhub.yaml",
];

#[test]
fn snapshots_of_every_artifact_for_every_fixture() {
    let fixtures = fixture_configs();
    assert!(fixtures.len() >= 3, "expected at least three fixtures, found {fixtures:?}");
    for (name, config) in fixtures {
        let mut test = Test::new().config(&fs::read_to_string(&config).unwrap());
        for (name, bytes) in support::beside(&config) {
            test = test.file(name, bytes);
        }
        let out = test.fixed_secrets("pangeo.yaml").args(["values"]).run();
        for file in ARTIFACTS {
            let text = out.read(format!("rendered/{file}"));
            insta::assert_snapshot!(format!("{name}__{file}"), text);
        }
    }
}

#[test]
fn second_run_is_byte_identical_and_writes_nothing() {
    let ws = Workspace::with_config(&support::fixture("walkthrough"));
    ws.test().args(["values", "--admin-password-stdin"]).stdin("a-good-password\n").run();
    let first: Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> = snapshot_dir(&ws.out());
    let secrets_before = fs::read(ws.secrets_path()).unwrap();
    let out = ws.test().args(["values"]).stderr_contains("unchanged").run();
    assert!(!out.stderr.contains("wrote"), "a second run rewrote files: {}", out.stderr);
    assert_eq!(snapshot_dir(&ws.out()), first);
    assert_eq!(fs::read(ws.secrets_path()).unwrap(), secrets_before);
}

fn snapshot_dir(dir: &Path) -> Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let m = fs::metadata(&p).unwrap().modified().unwrap();
            (p.clone(), fs::read(&p).unwrap(), m)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn secrets_are_generated_distinct_hex_and_kept_0600() {
    let ws = Workspace::with_config(&support::fixture("walkthrough"));
    // Nothing on stdout: the report is on stderr.
    let out = ws.test().args(["values"]).expect_stdout("").run();
    let stderr = &out.stderr;
    let secrets = fs::read_to_string(ws.secrets_path()).unwrap();
    let field = |k: &str| {
        secrets.lines().find_map(|l| l.strip_prefix(&format!("{k}: "))).unwrap().trim_matches('"').to_string()
    };
    let (t1, t2, hash) =
        (field("proxySecretToken"), field("daskGatewayApiToken"), field("adminPasswordHash"));
    for t in [&t1, &t2] {
        assert_eq!(t.len(), 64);
        assert!(t.bytes().all(|b| b.is_ascii_hexdigit()));
    }
    assert_ne!(t1, t2);
    assert!(hash.starts_with("$pbkdf2-sha256$i=600000,l=32$"), "{hash}");
    support::assert_mode(&ws.secrets_path(), 0o600);
    support::assert_mode(&ws.out().join("daskhub.yaml"), 0o600);
    support::assert_mode(&ws.out().join("cluster.yaml"), 0o644);

    // The API token appears in both places, the proxy token once.
    let daskhub = fs::read_to_string(ws.out().join("daskhub.yaml")).unwrap();
    assert_eq!(daskhub.matches(&t2).count(), 2);
    assert_eq!(daskhub.matches(&t1).count(), 1);
    assert_eq!(daskhub.matches(&hash).count(), 1);

    // The generated password is shown once, on stderr, with a warning; it is stored nowhere.
    let password = stderr
        .lines()
        .find_map(|l| l.split("stored only as a hash): ").nth(1))
        .expect("generated password shown on stderr")
        .trim()
        .to_string();
    assert!(password.len() >= 20);
    assert!(stderr.contains("warning"));
    assert!(pangeo_render::secrets::password::verify(&password, &hash));
    support::assert_nowhere(ws.root(), &password);
    // Secrets never reach stdout or stderr except that one-time password line.
    for s in [&t1, &t2, &hash] {
        assert!(!stderr.contains(s.as_str()));
    }
}

#[test]
fn in_cluster_secrets_leave_daskhub_yaml_secret_free_and_committable() {
    // secrets.inCluster: the tokens and hash stay in the secrets file (and the Secret apply
    // makes); daskhub.yaml names that Secret and holds none of them, so it is plain 0644 and not
    // git-ignored.
    let ws = Workspace::with_config(&support::fixture("gitops"));
    std::process::Command::new("git").args(["init", "-q"]).current_dir(ws.root()).status().unwrap();
    let stderr = ws.test().args(["values"]).run().stderr;
    let secrets = fs::read_to_string(ws.secrets_path()).unwrap();
    let daskhub = fs::read_to_string(ws.out().join("daskhub.yaml")).unwrap();
    let values: Vec<String> = ["proxySecretToken", "daskGatewayApiToken", "adminPasswordHash"]
        .iter()
        .map(|k| {
            secrets
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{k}: ")))
                .unwrap()
                .trim_matches('"')
                .to_string()
        })
        .collect();
    for v in &values {
        assert!(v.len() >= 64, "{v:?}");
        assert!(!daskhub.contains(v.as_str()), "daskhub.yaml holds a secret");
    }
    // The pre-commit hook's plaintext scan (PR026) finds nothing to refuse in it either.
    ws.test()
        .args(["validate", "--refuse-plaintext-secrets", "rendered/daskhub.yaml"])
        .output_lacks("PR026")
        .run();
    assert!(daskhub.contains("    existingSecret: \"daskhub-secrets\"\n"), "{daskhub}");
    assert!(daskhub.contains("        apiTokenFromSecretName: \"daskhub-secrets\"\n"), "{daskhub}");
    support::assert_mode(&ws.out().join("daskhub.yaml"), 0o644);
    assert!(!ws.out().join(".gitignore").exists(), "{stderr}");
    assert!(!stderr.contains("plaintext"), "{stderr}");
}

#[test]
fn password_from_stdin_is_hashed_and_never_written() {
    let ws = Workspace::with_config(&support::fixture("walkthrough"));
    let password = "stdin-supplied-Passw0rd";
    ws.test()
        .args(["values", "--admin-password-stdin"])
        .stdin(format!("{password}\n"))
        .output_lacks(password)
        .run();
    support::assert_nowhere(ws.root(), password);
    let daskhub = fs::read_to_string(ws.out().join("daskhub.yaml")).unwrap();
    let hash =
        daskhub.lines().find_map(|l| l.trim().strip_prefix("password_hash: ")).unwrap().trim_matches('"');
    assert!(pangeo_render::secrets::password::verify(password, hash));
}

#[test]
fn rotation_changes_only_what_was_asked() {
    let ws = Workspace::with_config(&support::fixture("walkthrough"));
    ws.test().args(["values", "--admin-password-stdin"]).stdin("first-password\n").run();
    let before = fs::read_to_string(ws.secrets_path()).unwrap();
    let line = |text: &str, key: &str| text.lines().find(|l| l.starts_with(key)).unwrap().to_string();

    ws.test().args(["values", "--rotate", "tokens"]).run();
    let after = fs::read_to_string(ws.secrets_path()).unwrap();
    assert_ne!(line(&before, "proxySecretToken"), line(&after, "proxySecretToken"));
    assert_ne!(line(&before, "daskGatewayApiToken"), line(&after, "daskGatewayApiToken"));
    assert_eq!(line(&before, "adminPasswordHash"), line(&after, "adminPasswordHash"));

    ws.test().args(["values", "--rotate", "password"]).stderr_contains("generated admin password").run();
    let rotated = fs::read_to_string(ws.secrets_path()).unwrap();
    assert_eq!(line(&after, "proxySecretToken"), line(&rotated, "proxySecretToken"));
    assert_ne!(line(&after, "adminPasswordHash"), line(&rotated, "adminPasswordHash"));
}

#[test]
fn init_writes_a_config_that_renders() {
    let ws = Workspace::empty();
    let cfg = ws.config();
    ws.test()
        .args([
            "init",
            "-c",
            "pangeo.yaml",
            "--name",
            "mycluster",
            "--region",
            "eu-west-1",
            "--kms-key-arn",
            "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "--certificate-arn",
            "arn:aws:acm:eu-west-1:111122223333:certificate/12345678-1234-1234-1234-123456789012",
            "--domain",
            "hub.example.com",
            "--admin-user",
            "ada",
            "--admin-user",
            "grace",
        ])
        .run();
    let text = fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("availabilityZones: [\"eu-west-1a\", \"eu-west-1b\"]"), "{text}");
    assert!(text.contains("kubernetesVersion: \"1.35\""), "{text}");
    assert!(text.contains("adminUsers: [\"ada\", \"grace\"]"));
    assert!(text.contains("Account 111122223333"));
    // Refuses to overwrite without --force.
    ws.test()
        .args([
            "init",
            "-c",
            "pangeo.yaml",
            "--name",
            "x",
            "--region",
            "eu-west-1",
            "--kms-key-arn",
            "a",
            "--certificate-arn",
            "b",
            "--domain",
            "c",
        ])
        .expect_status(2)
        .stderr_contains("--force")
        .run();
    assert_eq!(fs::read_to_string(&cfg).unwrap(), text);
    // And it renders; the role ARN carries the account from the KMS ARN.
    ws.test().args(["values", "-c", "pangeo.yaml", "--output-dir", "rendered"]).run();
    let ca = fs::read_to_string(ws.out().join("cluster-autoscaler.yaml")).unwrap();
    assert!(ca.contains("arn:aws:iam::111122223333:role/mycluster-cluster-autoscaler"));
    assert!(ca.contains("registry.k8s.io/autoscaling/cluster-autoscaler:v1.35.2"));
}

#[test]
fn init_inside_git_ignores_the_secrets_file() {
    let ws = Workspace::empty();
    fs::create_dir(ws.root().join(".git")).unwrap();
    ws.test()
        .args([
            "init",
            "--name",
            "c1",
            "--region",
            "us-west-2",
            "--kms-key-arn",
            "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "--certificate-arn",
            "arn:aws:acm:us-west-2:111122223333:certificate/12345678-1234-1234-1234-123456789012",
            "--domain",
            "hub.example.com",
        ])
        .run();
    let ignore = fs::read_to_string(ws.root().join(".gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "/pangeo.secrets.yaml"), "{ignore}");
}

#[test]
fn init_rejects_bad_flags_with_the_field_named() {
    let ws = Workspace::empty();
    let cfg = ws.root().join("p.yaml");
    ws.test()
        .args([
            "init",
            "-c",
            "p.yaml",
            "--name",
            "c1",
            "--region",
            "us-west-2",
            "--kms-key-arn",
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "--certificate-arn",
            "arn:aws:acm:us-west-2:111122223333:certificate/12345678-1234-1234-1234-123456789012",
            "--domain",
            "hub.example.com",
        ])
        .expect_status(1)
        .stderr_contains("error[PR005]")
        .stderr_contains("cluster.kmsKeyArn")
        .run();
    assert!(!cfg.exists());
}

/// (description, edit to the walkthrough config, expected `LINE:COL: error[ID]` and field)
const BAD_INPUTS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "unknown key",
        "  name: pangeo\n",
        "  name: pangeo\n  nmae: typo\n",
        ":6:3: error[PR002]",
        "cluster.nmae",
    ),
    (
        "wrong type",
        "      minSize: 1\n      maxSize: 10\n",
        "      minSize: one\n      maxSize: 10\n",
        ":14:16: error[PR002]",
        "cluster.nodeGroups.main.minSize",
    ),
    ("missing value", "  region: us-west-2\n", "", ":4:1: error[PR002]", "missing required key `region`"),
    (
        "unquoted version",
        "kubernetesVersion: \"1.34\"",
        "kubernetesVersion: 1.30",
        ":7:22: error[PR002]",
        "cluster.kubernetesVersion",
    ),
    (
        "placeholder",
        "kmsKeyArn: arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "kmsKeyArn: <insert-your-kms-key-arn-here>",
        ":9:14: error[PR003]",
        "cluster.kmsKeyArn",
    ),
    (
        "malformed ARN",
        "certificateArn: arn:aws:acm:us-west-2:123456789012:certificate/12345678-1234-1234-1234-123456789012",
        "certificateArn: arn:aws:acm:us-west-2:1234:certificate/x",
        ":30:19: error[PR004]",
        "hub.certificateArn",
    ),
    (
        "wrong-region ARN",
        "certificateArn: arn:aws:acm:us-west-2:",
        "certificateArn: arn:aws:acm:us-east-1:",
        ":30:19: error[PR005]",
        "hub.certificateArn",
    ),
    (
        "zone outside region",
        "availabilityZones: [us-west-2a, us-west-2b]",
        "availabilityZones: [us-west-2a, us-east-1b]",
        ":8:35: error[PR007]",
        "cluster.availabilityZones[1]",
    ),
    ("unknown region", "region: us-west-2", "region: us-wset-2", ":6:11: error[PR007]", "cluster.region"),
    (
        "min above max",
        "      minSize: 1\n      maxSize: 30",
        "      minSize: 40\n      maxSize: 30",
        ":21:16: error[PR013]",
        "cluster.nodeGroups.daskWorkers.minSize",
    ),
    (
        "version past support",
        "kubernetesVersion: \"1.34\"",
        "kubernetesVersion: \"1.28\"",
        ":7:22: error[PR010]",
        "cluster.kubernetesVersion",
    ),
    ("bad YAML", "  adminUsers: [admin]", "  adminUsers: [admin", ":", "error[PR001]"),
    (
        "a chart without its version",
        "daskhub: {name: daskhub, namespace: daskhub}",
        "daskhub: {name: daskhub, namespace: daskhub, chart: ./charts/hub}",
        ":53:3: error[PR002]",
        "releases.daskhub",
    ),
    (
        "another DaskHub version for the values rendered",
        "daskhub: {name: daskhub, namespace: daskhub}",
        "daskhub: {name: daskhub, namespace: daskhub, version: \"2026.3.0\"}",
        ":53:57: error[PR002]",
        "releases.daskhub.version",
    ),
];

#[test]
fn bad_inputs_fail_with_file_line_field_and_hint_and_write_nothing() {
    let base = fs::read_to_string(support::fixture("walkthrough")).unwrap();
    for (what, from, to, at, field) in BAD_INPUTS {
        assert!(base.contains(from), "{what}: the fixture no longer contains {from:?}");
        let edited = base.replacen(from, to, 1);
        let ws = Workspace::with_text(&edited);
        let out = ws
            .test()
            .case(*what)
            .args(["values"])
            .expect_status(1)
            .stderr_contains(format!("pangeo.yaml{at}"))
            .stderr_contains(*field)
            .stderr_contains("hint:")
            .run();
        let stderr = &out.stderr;
        assert!(!ws.out().exists(), "{what}: output directory was created");
        assert!(!ws.secrets_path().exists(), "{what}: secrets were written");
        // One clear message per problem: each edit introduces exactly one.
        assert_eq!(stderr.matches("error[").count(), 1, "{what}: expected one error in:\n{stderr}");
    }
}

#[test]
fn one_message_per_problem() {
    let base = fs::read_to_string(support::fixture("walkthrough")).unwrap();
    let edited = base.replacen("region: us-west-2", "region: us-west-2\n  colour: blue", 1).replacen(
        "minSize: 1",
        "minSize: -1",
        1,
    );
    let out = Test::new().config(&edited).args(["values"]).expect_status(1).run();
    assert_eq!(out.stderr.matches("error[").count(), 2, "{}", out.stderr);
}

#[test]
fn charts_flag_renders_from_a_users_copy() {
    let ws = Workspace::with_config(&support::fixture("walkthrough"));
    let charts = ws.root().join("my-charts");
    for (name, text) in pangeo_render::render::Templates::embedded_files() {
        let p = charts.join(&name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        let text = if name == "storageclass.yaml.j2" {
            text.replace("reclaimPolicy: Delete", "reclaimPolicy: Retain")
        } else {
            text.to_string()
        };
        fs::write(p, text).unwrap();
    }
    ws.test().args(["values", "--charts", "my-charts"]).run();
    let sc = fs::read_to_string(ws.out().join("storageclass.yaml")).unwrap();
    assert!(sc.contains("reclaimPolicy: Retain"));
    // A template that renders invalid YAML is refused before anything is written.
    fs::write(charts.join("storageclass.yaml.j2"), "a: [unclosed\n").unwrap();
    fs::remove_dir_all(ws.out()).unwrap();
    ws.test()
        .args(["values", "--charts", "my-charts"])
        .expect_status(2)
        .stderr_contains("storageclass.yaml")
        .run();
    assert!(!ws.out().exists());
}

#[test]
fn the_guard_is_rendered_from_kubernetes_1_30_unless_switched_off() {
    // On by default: the policy and its binding, checked strictly by validate.
    let walkthrough = fs::read_to_string(support::fixture("walkthrough")).unwrap();
    let ws = Workspace::with_config(&support::fixture("walkthrough"));
    ws.test().args(["values"]).run();
    let guard = fs::read_to_string(ws.out().join("guard.yaml")).unwrap();
    assert!(
        guard.contains("kind: ValidatingAdmissionPolicy\n")
            && guard.contains("kind: ValidatingAdmissionPolicyBinding\n")
    );
    ws.test().args(["validate", "--strict", "rendered/guard.yaml"]).run();
    // Off, or on a cluster that does not serve the policy's API: a comment saying why, which
    // validate accepts as a file of ours with nothing to check.
    let cases = [
        (
            format!("{walkthrough}kubectlApplyGuard: false\n"),
            "the config says kubectlApplyGuard: false",
            "2026-11-25",
        ),
        (
            walkthrough.replace("kubernetesVersion: \"1.34\"", "kubernetesVersion: \"1.29\""),
            "Kubernetes 1.29 does not serve ValidatingAdmissionPolicy v1 (from 1.30)",
            "2025-01-01",
        ),
    ];
    for (config, why, today) in cases {
        let ws = Workspace::with_text(&config);
        ws.test().today(today).args(["values"]).run();
        let guard = fs::read_to_string(ws.out().join("guard.yaml")).unwrap();
        assert!(guard.contains(&format!(", is off:\n# {why}.\n")), "{guard}");
        assert!(!guard.contains("apiVersion"), "{guard}");
        ws.test()
            .today(today)
            .args(["validate", "--strict", "rendered/guard.yaml"])
            .output_lacks("PR023")
            .run();
    }
}

/// `daskGateway.optionHandler`: the kept handler's text reaches daskhub.yaml exactly, whatever its
/// shape (a YAML block where one reads back exactly, a quoted string where not).
#[test]
fn a_kept_option_handler_is_rendered_byte_for_byte() {
    let imported = fs::read_to_string(support::fixture("imported")).unwrap();
    let texts = support::awkward_handler_texts();
    for (i, text) in texts.iter().enumerate() {
        let out = Test::new()
            .config(&imported)
            .file("gateway-options.py", text)
            .fixed_secrets("pangeo.yaml")
            .args(["values"])
            .run();
        let rendered = out.read("rendered/daskhub.yaml");
        let values: serde_json::Value = serde_saphyr::from_str(&rendered).unwrap();
        let kept = &values["dask-gateway"]["gateway"]["extraConfig"]["optionHandler"];
        assert_eq!(kept.as_str(), Some(text.as_str()), "text {i}:\n{rendered}");
        // And as pangeo-render reads it back (validate, diff).
        let node = pangeo_render::yaml::parse_single(&rendered).unwrap();
        let at = ["dask-gateway", "gateway", "extraConfig", "optionHandler"];
        assert_eq!(node.at(&at).and_then(|n| n.as_str()), Some(text.as_str()), "text {i}");
    }
}

/// A handler file the config names and that is not there: one error at the config's line, exit 2,
/// nothing written; the advice (delete the key) works as printed.
#[test]
fn a_missing_option_handler_file_is_an_error_at_the_config_line_and_nothing_is_written() {
    let imported = fs::read_to_string(support::fixture("imported")).unwrap();
    let config = imported.replace("{file: \"gateway-options.py\"}", "{file: \"handlers/gateway.py\"}");
    let line = config.lines().position(|l| l.contains("handlers/gateway.py")).unwrap() + 1;
    let out = Test::new()
        .config(&config)
        .args(["values"])
        .expect_stderr(format!(
            "error: pangeo.yaml: line {line}, daskGateway.optionHandler.file: cannot read the Dask Gateway option \
             handler handlers/gateway.py: No such file or directory (os error 2)\n  hint: put the gateway's option \
             handler (Python, UTF-8) in that file — the path is relative to the config's folder — or delete \
             daskGateway.optionHandler to render pangeo-render's own handler from daskGateway.worker and \
             daskGateway.image\n"
        ))
        .expect_status(2)
        .run();
    assert!(!out.path("rendered").exists() && !out.path("pangeo.secrets.yaml").exists());
    // validate says the same at the same place, as a finding.
    let out = Test::at(out.dir.path())
        .args(["validate", "-c", "pangeo.yaml"])
        .stderr_contains(format!(
            "pangeo.yaml:{line}:25: error[PR035]: daskGateway.optionHandler.file: cannot read the Dask Gateway \
             option handler handlers/gateway.py: No such file or directory"
        ))
        .expect_status(1)
        .run();
    // The file where the config says: renders, from the file.
    let handler = "# ours\n".to_string()
        + &fs::read_to_string(support::repo().join("fixtures/imported/gateway-options.py")).unwrap();
    fs::create_dir_all(out.path("handlers")).unwrap();
    fs::write(out.path("handlers/gateway.py"), &handler).unwrap();
    Test::at(out.dir.path()).args(["values"]).run();
    assert!(fs::read_to_string(out.path("rendered/daskhub.yaml")).unwrap().contains("        # ours\n"));
    // The hint's other way: without the key, pangeo-render's own handler.
    fs::write(
        out.path("pangeo.yaml"),
        config.replace("  optionHandler: {file: \"handlers/gateway.py\"}\n", ""),
    )
    .unwrap();
    Test::at(out.dir.path()).args(["values"]).run();
    let daskhub = fs::read_to_string(out.path("rendered/daskhub.yaml")).unwrap();
    assert!(
        daskhub.contains("        # Generated by pangeo-render: Dask Gateway cluster options"),
        "{daskhub}"
    );
}

/// A config read from stdin names its option handler relative to the current folder.
#[test]
fn a_config_from_stdin_finds_its_option_handler_in_the_current_folder() {
    let imported = fs::read_to_string(support::fixture("imported")).unwrap();
    let handler = "# from the current folder\n".to_string()
        + &fs::read_to_string(support::repo().join("fixtures/imported/gateway-options.py")).unwrap();
    let out = Test::new()
        .file("gateway-options.py", &handler)
        .fixed_secrets("pangeo.yaml")
        .args(["values", "-c", "-", "--secrets", "pangeo.secrets.yaml", "--output-dir", "rendered"])
        .stdin(imported)
        .run();
    let values: serde_json::Value = serde_saphyr::from_str(&out.read("rendered/daskhub.yaml")).unwrap();
    assert_eq!(values["dask-gateway"]["gateway"]["extraConfig"]["optionHandler"], handler.as_str());
}
