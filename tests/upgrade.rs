//! `pangeo-render upgrade`: the plan for the next Kubernetes minor and for a chart target change,
//! through the real binary, from the walkthrough config and the EKS data in src/aws.

mod support;

use std::fs;

use support::{Test, Workspace, fixture};

/// `pangeo-render upgrade -c pangeo.yaml` in the workspace, on `today`.
fn upgrade(ws: &Workspace, today: &str) -> Test {
    ws.test().today(today).args(["upgrade", "-c", "pangeo.yaml"])
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
    let run = upgrade(&ws, "2026-11-27").run();
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
    let plan = upgrade(&ws, "2026-12-10").args(["-o", "json"]).run().json();
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
    upgrade(&ws, "2026-11-27")
        .args(["--to", "1.35"])
        .expect_status(2)
        .expect_stdout("")
        .stderr_contains("--to 1.35: EKS upgrades a cluster one minor version at a time; go to 1.34 first (`pangeo-render upgrade -c pangeo.yaml --to 1.34`)")
        .run();
    upgrade(&ws, "2026-11-27")
        .args(["--to", "1.32"])
        .expect_status(2)
        .stderr_contains("cannot downgrade")
        .run();
    upgrade(&ws, "2026-11-27").args(["--to", "1.34"]).run();
    // A version past extended support still gets its plan (that is what it is for).
    upgrade(&ws, "2027-08-01").stdout_contains("1.33 (ended support)").run();
}

#[test]
fn a_chart_target_change_lists_the_values_changes_and_the_breaking_changes_that_touch_it() {
    let ws = Workspace::with_config(&fixture("walkthrough"));
    let text =
        fs::read_to_string(ws.config()).unwrap().replace("allowedUsers: []", "allowedUsers: [Alice.Smith]");
    fs::write(ws.config(), text).unwrap();
    let before = snapshot(&ws);
    let run = upgrade(&ws, "2026-11-27").args(["--chart", "daskhub-2026.3.0"]).run();
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

    upgrade(&ws, "2026-11-27")
        .args(["--chart", "daskhub-2024.1.1"])
        .expect_status(2)
        .stderr_contains("already targets it")
        .run();
}
