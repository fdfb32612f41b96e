//! `pangeo-render upgrade`: the plan for the next Kubernetes minor and for a chart target change,
//! through the real binary, from the walkthrough config and the EKS data in src/aws.

mod support;

use std::fs;

use serde_json::Value;
use support::{Workspace, fixture};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn upgrade(ws: &Workspace, today: &str, args: &[&str]) -> Run {
    let out = ws
        .cmd()
        .env("PANGEO_RENDER_TODAY", today)
        .current_dir(ws.root())
        .args(["upgrade", "-c", "pangeo.yaml"])
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Every file under the workspace with its bytes: `upgrade` must leave them exactly so.
fn snapshot(ws: &Workspace) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = fs::read_dir(ws.root())
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (p.display().to_string(), fs::read(&p).unwrap())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn the_next_minor_is_planned_with_dates_cost_and_commands_and_nothing_changes() {
    let ws = Workspace::with_config(&fixture("walkthrough"));
    let before = snapshot(&ws);
    let run = upgrade(&ws, "2026-11-27", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = &run.stdout;
    assert!(out.starts_with("Upgrade plan for hub.example.org (EKS cluster pangeo, us-west-2), as of 2026-11-27: Kubernetes 1.34 → 1.35\n"), "{out}");
    assert!(
        out.contains(
            "standard support until 2026-12-02 (5 days left), extended until 2027-12-02 (370 days left)"
        ),
        "{out}"
    );
    assert!(out.contains("docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html"), "{out}");
    assert!(
        out.contains("staying on 1.34 after 2026-12-02: $438.00/month ($365.00 more per month)"),
        "{out}"
    );
    assert!(out.contains("aws.amazon.com/eks/pricing"), "{out}");
    // The steps, in EKS's order: config, render, control plane, add-ons, each node group, autoscaler.
    let order = [
        "sed -i 's/kubernetesVersion: \"1.34\"/kubernetesVersion: \"1.35\"/' pangeo.yaml",
        "pangeo-render values -c pangeo.yaml --output-dir rendered",
        "eksctl upgrade cluster -f rendered/cluster.yaml --approve",
        "eksctl update addon --name kube-proxy --cluster pangeo --region us-west-2",
        "eksctl upgrade nodegroup --name main --cluster pangeo --region us-west-2 --kubernetes-version 1.35",
        "eksctl upgrade nodegroup --name dask-workers --cluster pangeo --region us-west-2 --kubernetes-version 1.35",
        "cluster-autoscaler:v1.34.5 → registry.k8s.io/autoscaling/cluster-autoscaler:v1.35.2",
        "pangeo-render apply -c pangeo.yaml",
    ];
    let at: Vec<usize> =
        order.iter().map(|s| out.find(s).unwrap_or_else(|| panic!("no `{s}` in:\n{out}"))).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "steps out of order: {at:?}\n{out}");
    assert_eq!(snapshot(&ws), before, "upgrade changed a file");

    // The same plan as one JSON document; in extended support the upgrade saves the surcharge.
    let run = upgrade(&ws, "2026-12-10", &["-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plan: Value = serde_json::from_str(&run.stdout).unwrap();
    support::assert_output_schema(&plan);
    assert_eq!(plan["kind"], "KubernetesUpgradePlan");
    assert_eq!(plan["current"]["support"], "extended");
    assert_eq!(plan["current"]["daysLeftInStandard"], -8);
    assert_eq!(plan["target"]["version"], "1.35");
    assert_eq!(plan["cost"]["differencePerMonth"], 365.0);
    assert_eq!(plan["steps"].as_array().unwrap().len(), 7);
    assert_eq!(plan["steps"][2]["commands"][0], "eksctl upgrade cluster -f rendered/cluster.yaml --approve");
}

#[test]
fn skipping_or_reversing_a_minor_is_refused_the_way_eks_refuses() {
    let ws = Workspace::with_config(&fixture("walkthrough"));
    let text = fs::read_to_string(ws.config()).unwrap().replace("\"1.34\"", "\"1.33\"");
    fs::write(ws.config(), text).unwrap();
    let run = upgrade(&ws, "2026-11-27", &["--to", "1.35"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("--to 1.35: EKS upgrades a cluster one minor version at a time; go to 1.34 first (`pangeo-render upgrade -c pangeo.yaml --to 1.34`)"), "{}", run.stderr);
    let run = upgrade(&ws, "2026-11-27", &["--to", "1.32"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cannot downgrade"), "{}", run.stderr);
    let run = upgrade(&ws, "2026-11-27", &["--to", "1.34"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // A version past extended support still gets its plan (that is what it is for).
    let run = upgrade(&ws, "2027-08-01", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("1.33 (ended support)"), "{}", run.stdout);
}

#[test]
fn a_chart_target_change_lists_the_values_changes_and_the_breaking_changes_that_touch_it() {
    let ws = Workspace::with_config(&fixture("walkthrough"));
    let text =
        fs::read_to_string(ws.config()).unwrap().replace("allowedUsers: []", "allowedUsers: [Alice.Smith]");
    fs::write(ws.config(), text).unwrap();
    let before = snapshot(&ws);
    let run = upgrade(&ws, "2026-11-27", &["--chart", "daskhub-2026.3.0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = &run.stdout;
    assert!(
        out.starts_with("Chart target change for hub.example.org: daskhub-2024.1.1 → daskhub-2026.3.0\n"),
        "{out}"
    );
    assert!(out.contains("KubeSpawner 6 → 7"), "{out}");
    assert!(
        out.contains("usernames `Alice.Smith` contain characters the schemes treat differently"),
        "{out}"
    );
    assert!(out.contains("upgrade-3-to-4.md"), "{out}");
    assert!(out.contains("-# Chart: daskhub-2024.1.1 (Z2JH 3.2.1, dask-gateway 2024.1.0).\n+# Chart: daskhub-2026.3.0 (Z2JH 4.4.0, dask-gateway 2026.3.0).\n"), "{out}");
    assert!(out.contains("helm upgrade --install daskhub ./helm-chart/daskhub --namespace daskhub --values rendered/daskhub.yaml"), "{out}");
    assert_eq!(snapshot(&ws), before, "upgrade --chart wrote a file (a secrets file?)");

    let run = upgrade(&ws, "2026-11-27", &["--chart", "daskhub-2024.1.1"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("already targets it"), "{}", run.stderr);
}
