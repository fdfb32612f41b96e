//! A fleet in one run: `values` and `validate` over a folder of configs, through the real binary.
//! (`diff` and `apply` over several clusters: tests/cluster_diff_apply.rs.)

mod support;

use std::fs;
use std::path::Path;

use support::{Test, Workspace, assert_output_schema, fixture, fleet_results};

/// `pangeo-render` in the workspace (several commands share it), on the fleet's fixed date.
fn test(ws: &Workspace) -> Test {
    ws.test().env("PANGEO_RENDER_TODAY", "2026-09-01")
}

/// `fleet/NAME.yaml` for each name: the walkthrough with its cluster renamed.
fn fleet(ws: &Workspace, names: &[&str]) {
    let dir = ws.root().join("fleet");
    fs::create_dir_all(&dir).unwrap();
    let text = fs::read_to_string(fixture("walkthrough")).unwrap();
    for n in names {
        fs::write(dir.join(format!("{n}.yaml")), text.replace("  name: pangeo\n", &format!("  name: {n}\n")))
            .unwrap();
    }
}

fn table_rows(stdout: &str) -> Vec<Vec<String>> {
    let lines: Vec<&str> = stdout.lines().collect();
    let start = lines.iter().position(|l| l.starts_with("DEPLOYMENT  ")).expect("a summary table");
    let header = lines[start];
    let cols: Vec<usize> =
        ["DEPLOYMENT", "CLUSTER", "RESULT", "CHANGES"].iter().map(|h| header.find(h).unwrap()).collect();
    lines[start + 1..]
        .iter()
        .take_while(|l| !l.contains(" deployment(s): "))
        .map(|l| {
            (0..4)
                .map(|i| {
                    let end = cols.get(i + 1).copied().unwrap_or(l.len()).min(l.len());
                    l.get(cols[i]..end).unwrap_or("").trim().to_string()
                })
                .collect()
        })
        .collect()
}

#[test]
fn values_and_validate_run_a_folder_and_report_one_table() {
    let ws = Workspace::empty();
    fleet(&ws, &["alpha", "beta", "gamma"]);
    // Not deployments: a secrets file and an unrelated YAML file in the folder are skipped.
    fs::write(ws.root().join("fleet/notes.yaml"), "kind: Something\n").unwrap();

    let r = test(&ws)
        .args(["values", "-c", "fleet", "--output-dir", "rendered", "--jobs", "2"])
        // Each run's stderr goes to stderr, as a single run's: the password shown once is never
        // on stdout, which CI logs and pipes keep.
        .stderr_contains("==> beta (fleet/beta.yaml)\n")
        // Off a terminal, progress is plain lines: one when each starts and one when it ends.
        .stderr_contains("values alpha: started\n")
        .run();
    for n in ["alpha", "beta", "gamma"] {
        assert!(r.read(format!("rendered/{n}/cluster.yaml")).contains(&format!("  name: \"{n}\"\n")));
        assert!(r.path(format!("fleet/{n}.secrets.yaml")).exists());
    }
    assert_eq!(
        table_rows(&r.stdout),
        [
            ["alpha", "alpha (us-west-2)", "rendered", "6 written, 0 unchanged"],
            ["beta", "beta (us-west-2)", "rendered", "6 written, 0 unchanged"],
            ["gamma", "gamma (us-west-2)", "rendered", "6 written, 0 unchanged"],
        ]
    );
    assert_eq!(r.stderr.matches("generated admin password").count(), 3, "{}", r.stderr);
    assert!(!r.stdout.contains("password"), "{}", r.stdout);
    // The secrets files share a folder: no run takes another's staging directory for a leftover.
    assert!(!r.stderr.contains("left by an interrupted run"), "{}", r.stderr);
    assert!(
        r.stderr.lines().any(|l| l.starts_with("values gamma: rendered (") && l.contains("/3, ")),
        "{}",
        r.stderr
    );

    // Re-rendering unchanged input writes nothing and never re-hashes a password.
    let before: Vec<_> = ["alpha", "beta", "gamma"]
        .iter()
        .map(|n| fs::read(ws.root().join(format!("fleet/{n}.secrets.yaml"))).unwrap())
        .collect();
    let r = test(&ws).args(["values", "-c", "fleet", "--output-dir", "rendered"]).run();
    assert!(table_rows(&r.stdout).iter().all(|row| row[3] == "0 written, 6 unchanged"), "{}", r.stdout);
    assert!(!r.stdout.contains("password"), "{}", r.stdout);
    let after: Vec<_> = ["alpha", "beta", "gamma"]
        .iter()
        .map(|n| fs::read(ws.root().join(format!("fleet/{n}.secrets.yaml"))).unwrap())
        .collect();
    assert_eq!(before, after);

    let r = test(&ws).args(["validate", "-c", "fleet", "rendered"]).run();
    assert_eq!(table_rows(&r.stdout).len(), 3);
    assert!(table_rows(&r.stdout).iter().all(|row| row[2] == "valid"), "{}", r.stdout);
}

#[test]
fn one_failing_deployment_does_not_stop_the_others_and_the_worst_result_wins() {
    let ws = Workspace::empty();
    fleet(&ws, &["alpha", "beta", "gamma"]);
    test(&ws).args(["values", "-c", "fleet", "--output-dir", "rendered"]).run();
    // beta: a problem in its rendered files (validate exit 1); gamma: its config is broken.
    let cluster = ws.root().join("rendered/beta/cluster.yaml");
    let text = fs::read_to_string(&cluster).unwrap().replace("minSize: 1", "minSize: 50");
    fs::write(&cluster, text).unwrap();
    fs::write(
        ws.root().join("fleet/gamma.yaml"),
        "apiVersion: pangeo-render/v1alpha1\nkind: PangeoDeployment\ncluster: [\n",
    )
    .unwrap();

    let r = test(&ws)
        .args(["validate", "-c", "fleet/alpha.yaml", "-c", "fleet/beta.yaml", "rendered"])
        .stderr_contains("error[PR013]")
        .expect_status(1)
        .run();
    let rows = table_rows(&r.stdout);
    assert_eq!((rows[0][2].as_str(), rows[1][2].as_str()), ("valid", "invalid"), "{}", r.stdout);
    assert!(!r.stdout.contains("error[PR013]"), "{}", r.stdout);

    let r = test(&ws).args(["validate", "-c", "fleet", "rendered", "-o", "json"]).expect_status(1).run();
    let doc = r.json();
    assert_output_schema(&doc);
    assert_eq!((doc["kind"].as_str(), doc["command"].as_str()), (Some("FleetReport"), Some("validate")));
    assert_eq!(doc["deployments"][0]["report"]["kind"], "ValidationReport");
    assert_eq!(doc["exitCode"], 1);
    let d = doc["deployments"].as_array().unwrap();
    assert_eq!(fleet_results(&doc), [("alpha", "valid", 0), ("beta", "invalid", 1), ("gamma", "invalid", 1)]);
    assert_eq!(d[1]["report"]["errors"], 4, "PR013 and PR025 for each group: {}", d[1]);
    assert_eq!(d[2]["report"]["diagnostics"][0]["id"], "PR001", "{}", d[2]);

    // values: gamma cannot render, the others still do; exit 1 for the problem in gamma's file.
    // The old `-o DIR` still names the folder, with one deprecation warning for the whole fleet.
    let r = test(&ws).args(["values", "-c", "fleet", "-o", "out"]).expect_status(1).run();
    assert_eq!(r.stderr.matches("warning: deprecated: `values -o DIR`").count(), 1, "{}", r.stderr);
    assert!(
        ws.root().join("out/alpha/cluster.yaml").exists() && ws.root().join("out/beta/cluster.yaml").exists()
    );
    assert!(!Path::new(&ws.root().join("out/gamma")).exists());
    let rows = table_rows(&r.stdout);
    assert_eq!(rows[2][2], "invalid", "{}", r.stdout);
}

#[test]
fn a_folder_without_deployments_is_a_usage_error() {
    let ws = Workspace::empty();
    fs::create_dir_all(ws.root().join("empty")).unwrap();
    test(&ws)
        .args(["validate", "-c", "empty"])
        .stderr_contains("empty: no deployment configs in this folder")
        .expect_status(2)
        .run();
    fleet(&ws, &["alpha", "beta"]);
    test(&ws)
        .args(["values", "-c", "fleet", "--admin-password-stdin"])
        .stderr_contains("use them with a single --config")
        .expect_status(2)
        .run();
}

/// On a terminal, the deployments in flight are live lines (indicatif) and each one finished is
/// a line of its own; the plain start/end lines are for logs. `script` (util-linux) runs the
/// command on a pseudo-terminal and copies what the terminal was sent.
#[test]
fn on_a_terminal_progress_is_drawn_live() {
    let ws = Workspace::empty();
    fleet(&ws, &["alpha", "beta", "gamma"]);
    let bin = assert_cmd::cargo::cargo_bin!("pangeo-render");
    let cmd = format!("'{}' values -c fleet --output-dir rendered --jobs 2", bin.display());
    let out = std::process::Command::new("script")
        .args(["--quiet", "--return", "--command", &cmd, "/dev/null"])
        .current_dir(ws.root())
        .env("PANGEO_RENDER_TODAY", "2026-09-01")
        .env("NO_COLOR", "1")
        .env("TERM", "xterm-256color")
        .output()
        .expect("script (util-linux) runs the command on a terminal");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}{}", String::from_utf8_lossy(&out.stderr));
    assert!(!shown.contains("values alpha: started"), "plain lines on a terminal:\n{shown}");
    for n in ["alpha", "beta", "gamma"] {
        assert!(shown.contains(&format!("{n} rendered: 6 written, 0 unchanged (")), "{shown}");
    }
    // The live lines are redrawn in place: cursor movement and line erasing.
    assert!(shown.contains("\u{1b}[2K") || shown.contains("\u{1b}[1A"), "no live drawing:\n{shown:?}");
    assert!(shown.contains("DEPLOYMENT  CLUSTER"), "{shown}");
}
