//! eksctl's own offline validation (built from its Go module by `scripts/eksctl-check`) as a test
//! oracle for `cluster.yaml`: every fixture's rendered file passes it, and for each mistake eksctl
//! also catches offline, both tools refuse the file and pangeo-render names the same field.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::Workspace;

/// The checker binary: `PANGEO_EKSCTL_CHECK`, or whatever `scripts/eksctl-check build` yields
/// (cached; a cold build takes about 6 minutes, so the test runner builds it beforehand).
fn oracle() -> PathBuf {
    if let Some(p) = std::env::var_os("PANGEO_EKSCTL_CHECK") {
        return PathBuf::from(p);
    }
    let out = Command::new(support::repo().join("scripts/eksctl-check")).arg("build").output().unwrap();
    assert!(
        out.status.success(),
        "scripts/eksctl-check build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    PathBuf::from(stdout.lines().last().unwrap().trim())
}

struct Verdict {
    ok: bool,
    error: String,
}

fn eksctl(file: &Path) -> Verdict {
    let out = Command::new(oracle()).arg(file).output().unwrap();
    let line = String::from_utf8(out.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(line.lines().next().unwrap_or("{}"))
        .unwrap_or_else(|e| panic!("oracle output {line:?}: {e}"));
    Verdict { ok: v["ok"].as_bool().unwrap(), error: v["error"].as_str().unwrap_or_default().to_string() }
}

fn rendered_cluster_yaml(ws: &Workspace) -> String {
    ws.write_fixed_secrets();
    ws.test().args(["values"]).run();
    fs::read_to_string(ws.out().join("cluster.yaml")).unwrap()
}

#[test]
fn every_fixture_passes_eksctl() {
    for (name, cfg) in support::fixture_configs() {
        let ws = Workspace::with_config(&cfg);
        rendered_cluster_yaml(&ws);
        let v = eksctl(&ws.out().join("cluster.yaml"));
        assert!(v.ok, "{name}/cluster.yaml refused by eksctl: {}", v.error);
    }
}

/// (mistake, text to replace in the rendered walkthrough cluster.yaml, replacement,
///  part of eksctl's message, the field pangeo-render must name)
const MISTAKES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "placeholder KMS ARN",
        "keyARN: \"arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab\"",
        "keyARN: <insert-your-kms-key-arn-here>",
        "invalid ARN in secretsEncryption.keyARN",
        "secretsEncryption.keyARN",
    ),
    (
        "taint effect typo",
        "effect: \"NoExecute\"",
        "effect: \"NoExecutee\"",
        "invalid taint effect: NoExecutee",
        "managedNodeGroups[1].taints[0].effect",
    ),
    (
        "cluster name with _",
        "name: \"pangeo\"",
        "name: \"pangeo_cluster\"",
        "name must satisfy regular expression pattern",
        "metadata.name",
    ),
    (
        "one cluster zone",
        "availabilityZones: [\"us-west-2a\", \"us-west-2b\"]",
        "availabilityZones: [\"us-west-2a\"]",
        "2 are required",
        "availabilityZones",
    ),
    ("unquoted version", "version: \"1.34\"", "version: 1.34", "cannot unmarshal number", "metadata.version"),
    (
        "unknown node group field",
        "  - name: \"main\"\n",
        "  - name: \"main\"\n    notAField: true\n",
        "unknown field \"notAField\"",
        "notAField",
    ),
    (
        "minSize above maxSize",
        "    minSize: 1\n    maxSize: 10\n",
        "    minSize: 5\n    maxSize: 2\n",
        "--nodes-min=5 and --nodes-max=2",
        "managedNodeGroups[0].minSize",
    ),
    (
        "subnets and zones",
        "  - name: \"main\"\n",
        "  - name: \"main\"\n    subnets: [\"subnet-0123456789abcdef0\"]\n",
        "subnets or managedNodeGroups[0].availabilityZones",
        "managedNodeGroups[0].subnets",
    ),
];

#[test]
fn eksctl_and_pangeo_render_refuse_the_same_mistakes_at_the_same_field() {
    let ws = Workspace::with_config(&support::fixture("walkthrough"));
    let good = rendered_cluster_yaml(&ws);
    let dir = ws.root().join("mistakes");
    fs::create_dir_all(&dir).unwrap();
    for (i, (what, from, to, eksctl_says, field)) in MISTAKES.iter().enumerate() {
        assert!(good.contains(from), "{what}: the rendered cluster.yaml no longer contains {from:?}");
        let name = format!("mistakes/{i}-cluster.yaml");
        let file = ws.root().join(&name);
        fs::write(&file, good.replacen(from, to, 1)).unwrap();

        let v = eksctl(&file);
        assert!(!v.ok, "{what}: eksctl accepted it");
        assert!(v.error.contains(eksctl_says), "{what}: eksctl said {:?}", v.error);

        let out = ws.test().case(*what).args(["validate", &name]).expect_status(1).run();
        assert!(
            out.stdout.contains(field) || out.stderr.contains(field),
            "{what}: pangeo-render does not name {field}:\n{}{}",
            out.stdout,
            out.stderr
        );
    }
}
