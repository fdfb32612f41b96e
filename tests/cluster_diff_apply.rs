//! `pangeo-render diff` and `apply` against a real kube-apiserver (tests/support/cluster.rs).
//!
//! The Cluster Autoscaler objects have fixed names (kube-system/cluster-autoscaler and the
//! cluster-scoped RBAC), so every test that renders them runs alone: [`Env::new`] takes a lock
//! (in-process and a file lock in the cluster's state dir, for binaries sharing one cluster) and
//! removes what earlier tests left. Each test still gets its own namespace (Helm releases live
//! there) and its own StorageClass name. Every command's stdout and stderr is scanned for the
//! deployment's secret strings.

#[path = "support/cluster.rs"]
mod cluster;
mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Mutex, MutexGuard, OnceLock};

use cluster::{TestCluster, unique_name};
use serde_json::Value;
use support::test::Output;
use support::{Test, Workspace};

const ALL_OBJECTS: &[&str] = &[
    "admissionregistration.k8s.io.v1.ValidatingAdmissionPolicy.pangeo-render-guard",
    "admissionregistration.k8s.io.v1.ValidatingAdmissionPolicyBinding.pangeo-render-guard",
    "v1.ServiceAccount.kube-system.cluster-autoscaler",
    "v1.ConfigMap.kube-system.pangeo-render-identity",
    "rbac.authorization.k8s.io.v1.ClusterRole.cluster-autoscaler",
    "rbac.authorization.k8s.io.v1.Role.kube-system.cluster-autoscaler",
    "rbac.authorization.k8s.io.v1.ClusterRoleBinding.cluster-autoscaler",
    "rbac.authorization.k8s.io.v1.RoleBinding.kube-system.cluster-autoscaler",
    "storage.k8s.io.v1.StorageClass.", // + the test's class name
    "apps.v1.Deployment.kube-system.cluster-autoscaler",
];

/// What these tests read from a finished command.
trait Seen {
    /// Both streams, for failure messages.
    fn all(&self) -> String;
    /// The `-o json|yaml` report on stdout, checked against schemas/output.schema.json.
    fn report(&self) -> Value;
}

impl Seen for Output {
    fn all(&self) -> String {
        format!("--- stdout:\n{}\n--- stderr:\n{}", self.stdout, self.stderr)
    }
    fn report(&self) -> Value {
        let doc = self.json();
        support::assert_output_schema(&doc);
        doc
    }
}

/// One test's world: its namespace, StorageClass name, workspace and secrets.
struct Env {
    cluster: &'static TestCluster,
    ws: Workspace,
    ns: String,
    sc: String,
    secrets: Vec<String>,
    _serial: Serial,
}

struct Serial {
    _file: fs::File,
    _guard: MutexGuard<'static, ()>,
}

/// Runs tests that touch the fixed-name objects one at a time, across binaries too.
fn serial(cluster: &TestCluster) -> Serial {
    static LOCK: Mutex<()> = Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(cluster.dir().join("pangeo-diff-apply.lock"))
        .expect("open lock file");
    file.lock().expect("lock");
    Serial { _file: file, _guard: guard }
}

/// A password hash is slow on purpose; make one per test binary.
fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        pangeo_render::secrets::password::hash_with("cluster-test-password", &[9u8; 16], 600_000)
    })
}

/// The walkthrough config with the test's namespace and StorageClass, both releases pinned to the
/// stand-in chart.
fn walkthrough_with(ns: &str, sc: &str) -> String {
    let tiny = tiny_chart().display().to_string();
    let text = fs::read_to_string(support::fixture("walkthrough")).unwrap();
    let edits = [
        ("  name: gp3-encrypted\n", format!("  name: {sc}\n")),
        (
            "daskhub: {name: daskhub, namespace: daskhub}",
            format!("daskhub: {{name: daskhub, namespace: {ns}, chart: {tiny}, version: 0.1.0}}"),
        ),
        (
            "ebsCsiDriver: {name: aws-ebs-csi-driver, namespace: kube-system}",
            format!(
                "ebsCsiDriver: {{name: aws-ebs-csi-driver, namespace: {ns}, chart: {tiny}, version: 0.1.0}}"
            ),
        ),
    ];
    let mut out = text;
    for (from, to) in edits {
        assert!(out.contains(from), "fixture changed: no `{from}`");
        out = out.replace(from, &to);
    }
    out
}

impl Env {
    /// `None` when cluster tests are switched off (`PANGEO_SKIP_CLUSTER_TESTS`).
    fn new(prefix: &str) -> Option<Env> {
        Self::with_class(prefix, &unique_name(&format!("{prefix}-sc")))
    }

    fn with_class(prefix: &str, sc: &str) -> Option<Env> {
        let cluster = TestCluster::try_get()?;
        let serial = serial(cluster);
        reset(cluster);
        let ns = cluster.namespace(prefix);
        let ws = Workspace::with_text(&walkthrough_with(&ns, sc));
        let mut env = Env { cluster, ws, ns, sc: sc.to_string(), secrets: Vec::new(), _serial: serial };
        env.write_secrets();
        Some(env)
    }

    /// New random tokens (the old ones stay in the scan list).
    fn write_secrets(&mut self) {
        let s = pangeo_render::secrets::Secrets {
            api_version: "pangeo-render/v1alpha1".into(),
            kind: "PangeoSecrets".into(),
            proxy_secret_token: pangeo_render::secrets::token(),
            dask_gateway_api_token: pangeo_render::secrets::token(),
            admin_password_hash: password_hash().to_string(),
        };
        pangeo_render::secrets::save(&self.ws.secrets_path(), &s).unwrap();
        self.secrets.extend(pangeo_render::secrets::values(&s).into_iter().map(str::to_string));
    }

    fn edit_config(&self, from: &str, to: &str) {
        let text = fs::read_to_string(self.ws.config()).unwrap();
        assert!(text.contains(from), "config has no `{from}`");
        fs::write(self.ws.config(), text.replacen(from, to, 1)).unwrap();
    }

    /// `pangeo-render` in the workspace, with no KUBECONFIG from the environment; none of the
    /// deployment's secret strings may appear in its output.
    fn test(&self) -> Test {
        let test = self.ws.test().env("PANGEO_RENDER_TODAY", "2026-09-01").env_remove("KUBECONFIG");
        self.secrets.iter().fold(test, |test, s| test.output_lacks(s.as_str()))
    }

    /// `pangeo-render CMD -c pangeo.yaml --kubeconfig KUBECONFIG` (`diff` or `apply`).
    fn on(&self, cmd: &str, kubeconfig: &Path) -> Test {
        self.test().args([cmd, "-c"]).args([self.ws.config()]).args(["--kubeconfig"]).args([kubeconfig])
    }

    /// `pangeo-render diff` of the workspace's config against the test cluster, as admin.
    fn diff(&self) -> Test {
        self.on("diff", self.cluster.kubeconfig())
    }

    /// `pangeo-render apply` of the workspace's config to the test cluster, as admin.
    fn apply(&self) -> Test {
        self.on("apply", self.cluster.kubeconfig())
    }

    /// `test … -o json` of a diff (exit 0 in sync, 1 differs): its report, checked against the
    /// output schema.
    fn report(&self, test: Test) -> Value {
        let out = test.args(["-o", "json"]).run_any();
        self.assert_no_secrets(&out);
        assert!(out.status == 0 || out.status == 1, "{}", out.all());
        out.report()
    }

    fn assert_no_secrets(&self, out: &Output) {
        for s in &self.secrets {
            assert!(
                !out.stdout.contains(s.as_str()) && !out.stderr.contains(s.as_str()),
                "a secret leaked into the output:\n{}",
                out.all()
            );
        }
    }

    /// `pangeo-render values` into rendered/.
    fn values(&self) {
        self.test().args(["values", "-c", "pangeo.yaml", "--output-dir", "rendered"]).run();
    }

    /// `pangeo-render values --secrets-from-cluster` into rendered/, reading the cluster of
    /// `kubeconfig`.
    fn recover(&self, kubeconfig: &Path) -> Test {
        self.test()
            .args(["values", "-c", "pangeo.yaml", "--output-dir", "rendered", "--secrets-from-cluster"])
            .args(["--kubeconfig".as_ref(), kubeconfig.as_os_str()])
    }

    /// `test` with the built helm as `helm` on PATH, and helm's own state dirs.
    fn with_helm(&self, test: Test) -> Test {
        let bin = self.ws.root().join("helm-bin");
        if !bin.exists() {
            fs::create_dir_all(&bin).unwrap();
            std::os::unix::fs::symlink(self.cluster.helm_path(), bin.join("helm")).unwrap();
        }
        let helm_env = self.cluster.helm();
        let test = test.env("PATH", format!("{}:/usr/bin:/bin", bin.display()));
        helm_env.get_envs().fold(test, |test, (k, v)| match v {
            Some(v) => test.env(k, v),
            None => test,
        })
    }

    /// `test` with the built helm, proving that the values (tokens, password hash) go to helm on
    /// its stdin, never to a temporary file: TMPDIR names a plain file, so creating anything in
    /// it fails.
    fn with_helm_values_on_stdin(&self, test: Test) -> Test {
        let tmp = self.ws.root().join("not-a-folder");
        fs::write(&tmp, "").unwrap();
        self.with_helm(test).env("TMPDIR", &tmp)
    }

    /// `apply --helm` with the built helm, its values on stdin.
    fn apply_helm(&self) -> Test {
        self.with_helm_values_on_stdin(self.apply().args(["--helm"]))
    }

    fn kubectl(&self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.cluster.kubectl_ok(args).stdout).into_owned()
    }

    fn kubectl_json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        serde_json::from_str(&self.kubectl(&a)).unwrap()
    }

    fn kubectl_apply(&self, yaml: &str) {
        let out = self
            .cluster
            .kubectl()
            .args(["apply", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(yaml.as_bytes())?;
                c.wait_with_output()
            });
        let out = out.expect("run kubectl apply");
        assert!(out.status.success(), "kubectl apply: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Installs both releases with the stand-in chart and the rendered values files.
    fn helm_install(&self) {
        for (release, file) in
            [("aws-ebs-csi-driver", "aws-ebs-csi-driver.yaml"), ("daskhub", "daskhub.yaml")]
        {
            let values = self.ws.root().join("rendered").join(file);
            let out = self
                .cluster
                .helm()
                .args(["upgrade", "--install", release])
                .arg(tiny_chart())
                .args(["--namespace", &self.ns, "--values"])
                .arg(&values)
                .stdin(Stdio::null())
                .output()
                .expect("run helm");
            assert!(out.status.success(), "helm: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

fn tiny_chart() -> PathBuf {
    support::repo().join("fixtures/helm/tiny-chart")
}

/// Removes the fixed-name objects and the StorageClasses earlier tests made.
fn reset(cluster: &TestCluster) {
    cluster.kubectl_ok(&[
        "delete",
        "-n",
        "kube-system",
        "deployment/cluster-autoscaler",
        "serviceaccount/cluster-autoscaler",
        "role/cluster-autoscaler",
        "rolebinding/cluster-autoscaler",
        "configmap/pangeo-render-identity",
        "--ignore-not-found",
    ]);
    cluster.kubectl_ok(&[
        "delete",
        "clusterrole/cluster-autoscaler",
        "clusterrolebinding/cluster-autoscaler",
        "--ignore-not-found",
    ]);
    cluster.kubectl_ok(&[
        "delete",
        "storageclass",
        "-l",
        "app.kubernetes.io/managed-by=pangeo-render",
        "--ignore-not-found",
    ]);
    cluster.kubectl_ok(&["delete", "storageclass", "gp2", "--ignore-not-found"]);
    cluster.kubectl_ok(&["delete", "validatingadmissionpolicybinding", DENY_POLICY, "--ignore-not-found"]);
    cluster.kubectl_ok(&["delete", "validatingadmissionpolicy", DENY_POLICY, "--ignore-not-found"]);
    let guard = pangeo_render::render::guard::NAME;
    cluster.kubectl_ok(&["delete", "validatingadmissionpolicybinding", guard, "--ignore-not-found"]);
    cluster.kubectl_ok(&["delete", "validatingadmissionpolicy", guard, "--ignore-not-found"]);
}

/// Whether the autoscaler's ServiceAccount, the first object apply writes, is on the server.
fn account_exists(env: &Env) -> bool {
    env.cluster
        .kubectl()
        .args(["-n", "kube-system", "get", "serviceaccount", "cluster-autoscaler"])
        .output()
        .unwrap()
        .status
        .success()
}

fn object_keys(sc: &str) -> Vec<String> {
    ALL_OBJECTS.iter().map(|k| if k.ends_with('.') { format!("{k}{sc}") } else { k.to_string() }).collect()
}

/// The changed lines of a unified diff (without the --- / +++ headers).
fn changed_lines(diff: &str) -> Vec<&str> {
    diff.lines()
        .filter(|l| {
            (l.starts_with('-') || l.starts_with('+')) && !l.starts_with("---") && !l.starts_with("+++")
        })
        .collect()
}

/// The changed lines of a unified diff of Helm values, without those inside the block scalars
/// (`key: |`) of the named keys: a line at or below the key's indentation ends the block.
fn changed_lines_outside_blocks<'a>(diff: &'a str, keys: &[&str]) -> Vec<&'a str> {
    let mut block: Option<usize> = None;
    let mut out = Vec::new();
    for line in
        diff.lines().filter(|l| !l.starts_with("---") && !l.starts_with("+++") && !l.starts_with("@@"))
    {
        let text = line.get(1..).unwrap_or_default();
        let indent = text.len() - text.trim_start().len();
        let inside = block.is_some_and(|at| text.trim().is_empty() || indent > at);
        if !inside {
            block = keys.iter().any(|k| text.trim() == format!("{k}: |")).then_some(indent);
            if line.starts_with(['-', '+']) {
                out.push(line);
            }
        }
    }
    out
}

/// The dotted paths of the leaves in which two values documents differ, sorted.
fn leaf_differences(a: &Value, b: &Value) -> Vec<String> {
    fn walk(path: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<String>) {
        match (a, b) {
            (Some(Value::Object(x)), Some(Value::Object(y))) => {
                for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                    let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    walk(&p, x.get(k), y.get(k), out);
                }
            }
            (Some(Value::Object(x)), None) | (None, Some(Value::Object(x))) => {
                let empty = serde_json::Map::new();
                let (l, r) = if a.is_some() { (x, &empty) } else { (&empty, x) };
                walk(path, Some(&Value::Object(l.clone())), Some(&Value::Object(r.clone())), out);
            }
            (x, y) if x == y => {}
            _ => out.push(path.to_string()),
        }
    }
    let mut out = Vec::new();
    walk("", Some(a), Some(b), &mut out);
    out.sort();
    out
}

fn actions(report: &Value) -> Vec<(String, String)> {
    report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                format!("{}/{}", o["kind"].as_str().unwrap(), o["name"].as_str().unwrap()),
                o["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn assert_objects_in_sync(env: &Env) {
    let report = env.report(env.diff());
    for (obj, action) in actions(&report) {
        assert_eq!(action, "unchanged", "{obj} is not in sync:\n{report:#}");
    }
}

#[test]
fn empty_cluster_diff_lists_everything_then_apply_converges() {
    let Some(env) = Env::new("empty") else { return };
    env.values();

    let out = env.diff().expect_status(1).run();
    for key in object_keys(&env.sc) {
        assert!(
            out.stdout.contains(&format!("--- live/{key} (not in the cluster)\n+++ merged/{key}\n")),
            "{key} missing:\n{}",
            out.all()
        );
    }
    for rel in ["aws-ebs-csi-driver", "daskhub"] {
        assert!(
            out.stdout.contains(&format!("Helm release {rel} (namespace {}) is not installed", env.ns)),
            "{}",
            out.all()
        );
    }
    // Merged objects carry the server's defaults, as kubectl diff shows them.
    assert!(out.stdout.contains("+  progressDeadlineSeconds: 600"), "{}", out.all());
    assert!(out.stderr.contains("objects: 10 to create"), "{}", out.all());

    let out = env.diff().args(["-o", "json"]).expect_status(1).run();
    let report = out.report();
    assert_eq!(report["differences"], true);
    assert_eq!(actions(&report).len(), 10);
    assert!(actions(&report).iter().all(|(_, a)| a == "create"), "{}", out.all());
    let states: Vec<&str> =
        report["releases"].as_array().unwrap().iter().map(|r| r["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["not-installed", "not-installed"]);

    let out = env.apply().stdout_contains("pangeo-render values -c ").run();
    let created: Vec<&str> = out.stdout.lines().filter(|l| l.ends_with(" created")).collect();
    assert_eq!(
        created,
        [
            "ValidatingAdmissionPolicy/pangeo-render-guard created",
            "ValidatingAdmissionPolicyBinding/pangeo-render-guard created",
            "ServiceAccount/cluster-autoscaler (namespace kube-system) created",
            "ConfigMap/pangeo-render-identity (namespace kube-system) created",
            "ClusterRole/cluster-autoscaler created",
            "Role/cluster-autoscaler (namespace kube-system) created",
            "ClusterRoleBinding/cluster-autoscaler created",
            "RoleBinding/cluster-autoscaler (namespace kube-system) created",
            &format!("StorageClass/{} created", env.sc),
            "Deployment/cluster-autoscaler (namespace kube-system) created",
        ],
        "{}",
        out.all()
    );
    let kc = env.cluster.kubeconfig().display().to_string();
    assert!(
        out.stdout.contains(&format!(
            "helm upgrade --install daskhub {} --namespace {} --create-namespace --kubeconfig {kc} --values rendered/daskhub.yaml",
            tiny_chart().display(),
            env.ns
        )),
        "{}",
        out.all()
    );

    // Server-side apply: our field manager owns the fields, as an Apply.
    let dep = env.kubectl_json(&[
        "-n",
        "kube-system",
        "get",
        "deployment",
        "cluster-autoscaler",
        "--show-managed-fields",
    ]);
    let managers: Vec<(&str, &str)> = dep["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["manager"].as_str().unwrap(), m["operation"].as_str().unwrap()))
        .collect();
    assert_eq!(managers, [("pangeo-render", "Apply")]);

    env.helm_install();
    env.diff().stderr_contains("objects: 10 unchanged; Helm releases: 0 of 2 differ").expect_stdout("").run();
    // The server's dry run of every object agrees with the in-sync shortcut.
    env.diff().env("PANGEO_RENDER_ALWAYS_DRY_RUN", "1").expect_stdout("").run();

    let out = env.apply().run();
    assert_eq!(out.stdout.lines().filter(|l| l.ends_with(" unchanged")).count(), 10, "{}", out.all());
}

#[test]
fn a_config_change_shows_exactly_that_change() {
    let Some(env) = Env::new("change") else { return };
    env.values();
    env.apply().run();
    env.helm_install();
    env.diff().run();

    // The Kubernetes minor decides the autoscaler image, and nothing else that is applied.
    env.edit_config("kubernetesVersion: \"1.34\"", "kubernetesVersion: \"1.33\"");
    let out = env.diff().args(["-o", "json"]).expect_status(1).run();
    let report = out.report();
    let changed: Vec<(String, String)> =
        actions(&report).into_iter().filter(|(_, a)| a != "unchanged").collect();
    assert_eq!(
        changed,
        [("Deployment/cluster-autoscaler".to_string(), "update".to_string())],
        "{}",
        out.all()
    );
    let dep = report["objects"].as_array().unwrap().iter().find(|o| o["kind"] == "Deployment").unwrap();
    assert_eq!(
        changed_lines(dep["diff"].as_str().unwrap()),
        [
            "-        image: registry.k8s.io/autoscaling/cluster-autoscaler:v1.34.5",
            "+        image: registry.k8s.io/autoscaling/cluster-autoscaler:v1.33.6",
        ],
        "{}",
        out.all()
    );
    assert!(report["releases"].as_array().unwrap().iter().all(|r| r["state"] == "same"), "{}", out.all());

    let out = env.diff().expect_status(1).run();
    assert!(
        out.stdout.starts_with("--- live/apps.v1.Deployment.kube-system.cluster-autoscaler\n"),
        "{}",
        out.all()
    );
    env.diff().env("PANGEO_RENDER_ALWAYS_DRY_RUN", "1").expect_stdout(&out.stdout).expect_status(1).run();

    env.apply().stdout_contains("Deployment/cluster-autoscaler (namespace kube-system) configured").run();
    env.diff().run();
}

#[test]
fn drift_by_another_client_is_shown_and_apply_restores_it() {
    let Some(env) = Env::new("drift") else { return };
    env.apply().run();

    // Another client removes a label and an annotation that we own.
    env.kubectl(&["-n", "kube-system", "label", "serviceaccount", "cluster-autoscaler", "k8s-app-"]);
    env.kubectl(&[
        "-n",
        "kube-system",
        "patch",
        "deployment",
        "cluster-autoscaler",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/spec/template/metadata/annotations/prometheus.io~1scrape"}]"#,
    ]);
    let out = env.diff().args(["-o", "json"]).expect_status(1).run();
    let report = out.report();
    let changed: Vec<(String, String)> =
        actions(&report).into_iter().filter(|(_, a)| a != "unchanged").collect();
    assert_eq!(
        changed,
        [
            ("ServiceAccount/cluster-autoscaler".into(), "update".into()),
            ("Deployment/cluster-autoscaler".into(), "update".into())
        ],
        "{}",
        out.all()
    );
    let diff_of = |kind: &str| {
        let o = report["objects"].as_array().unwrap().iter().find(|o| o["kind"] == kind).unwrap();
        assert!(o.get("conflicts").is_none(), "{o}");
        changed_lines(o["diff"].as_str().unwrap()).into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    assert_eq!(diff_of("ServiceAccount"), ["+    k8s-app: cluster-autoscaler"]);
    assert_eq!(diff_of("Deployment"), ["+        prometheus.io/scrape: \"true\""]);

    env.apply().stdout_contains("ServiceAccount/cluster-autoscaler (namespace kube-system) configured").run();
    let sa = env.kubectl_json(&["-n", "kube-system", "get", "serviceaccount", "cluster-autoscaler"]);
    assert_eq!(sa["metadata"]["labels"]["k8s-app"], "cluster-autoscaler");
    assert_objects_in_sync(&env);
}

#[test]
fn conflicting_field_manager_is_reported_then_forced() {
    let Some(env) = Env::new("conflict") else { return };
    env.apply().run();

    // `kubectl patch` (an Update) takes .spec.replicas over from us; a removal elsewhere shows
    // that a refused apply writes nothing at all.
    env.kubectl(&[
        "-n",
        "kube-system",
        "patch",
        "deployment",
        "cluster-autoscaler",
        "-p",
        r#"{"spec":{"replicas":3}}"#,
    ]);
    env.kubectl(&["-n", "kube-system", "label", "serviceaccount", "cluster-autoscaler", "k8s-app-"]);

    env.diff()
        .stdout_contains("fields owned by other field managers")
        .stdout_contains("  .spec.replicas (manager \"kubectl-patch\")")
        .stdout_contains("-  replicas: 3\n+  replicas: 1\n")
        .expect_status(1)
        .run();
    let report = env.report(env.diff());
    let dep = report["objects"].as_array().unwrap().iter().find(|o| o["kind"] == "Deployment").unwrap();
    assert_eq!(
        dep["conflicts"],
        serde_json::json!([{"field": ".spec.replicas", "manager": "kubectl-patch"}])
    );

    env.apply()
        .stderr_contains("nothing was applied")
        .stderr_contains("Deployment/cluster-autoscaler (namespace kube-system):\n    .spec.replicas (manager \"kubectl-patch\")")
        .stderr_contains("--force-conflicts")
        .expect_stdout("")
        .expect_status(2)
        .run();
    let sa = env.kubectl_json(&["-n", "kube-system", "get", "serviceaccount", "cluster-autoscaler"]);
    assert!(sa["metadata"]["labels"].get("k8s-app").is_none(), "the refused apply wrote the ServiceAccount");
    let dep = env.kubectl_json(&["-n", "kube-system", "get", "deployment", "cluster-autoscaler"]);
    assert_eq!(dep["spec"]["replicas"], 3);

    env.apply().args(["--force-conflicts"]).run();
    let dep = env.kubectl_json(&[
        "-n",
        "kube-system",
        "get",
        "deployment",
        "cluster-autoscaler",
        "--show-managed-fields",
    ]);
    assert_eq!(dep["spec"]["replicas"], 1);
    let patch_owns_replicas = dep["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["manager"] == "kubectl-patch" && m["fieldsV1"].to_string().contains("f:replicas"));
    assert!(!patch_owns_replicas, "{dep}");
    assert_objects_in_sync(&env);
}

const IN_TREE_GP2: &str = r#"
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: gp2
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kubernetes.io/aws-ebs
parameters:
  type: gp2
  fsType: ext4
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
"#;

#[test]
fn in_tree_gp2_needs_recreate_and_hands_over_the_default_annotation() {
    // Part 1: our class is also called gp2: provisioner and parameters cannot change in place.
    let Some(env) = Env::with_class("gp2", "gp2") else { return };
    env.kubectl_apply(IN_TREE_GP2);

    let out = env.diff()
        .stdout_contains("StorageClass/gp2: the server refuses to change immutable fields in place; apply --recreate")
        .stdout_contains("Forbidden: updates to provisioner are forbidden")
        .stdout_contains("--- live/storage.k8s.io.v1.StorageClass.gp2\n+++ merged/storage.k8s.io.v1.StorageClass.gp2 (re-created)")
        .expect_status(1)
        .run();
    assert!(
        out.stdout.contains("\n-provisioner: kubernetes.io/aws-ebs\n")
            && out.stdout.contains("\n+provisioner: ebs.csi.aws.com\n"),
        "{}",
        out.all()
    );
    assert!(
        out.stdout.contains("\n-  type: gp2\n") && out.stdout.contains("\n+  type: gp3\n"),
        "{}",
        out.all()
    );
    // Re-creating settles the conflicts with kubectl too: they are not listed.
    assert!(!out.stdout.contains("fields owned by other field managers"), "{}", out.all());
    // kubectl's client-side apply left a copy of the whole object in an annotation: masked.
    assert!(
        out.stdout.contains("-    kubectl.kubernetes.io/last-applied-configuration: (sensitive value)"),
        "{}",
        out.all()
    );

    let out = env
        .apply()
        .stderr_contains("nothing was applied")
        .stderr_contains("\n    provisioner: Forbidden: updates to provisioner are forbidden.")
        .stderr_contains("--recreate")
        .expect_status(2)
        .run();
    assert!(
        out.stderr
            .contains("StorageClass/gp2:\n    parameters: Forbidden: updates to parameters are forbidden."),
        "{}",
        out.all()
    );
    assert!(!out.stderr.contains("field managers"), "{}", out.all());
    assert!(!account_exists(&env), "the refused apply created objects");

    env.apply()
        .args(["--recreate", "--dry-run"])
        .stdout_contains("StorageClass/gp2 would be re-created (deleted, then created) (server dry run)")
        .run();
    assert_eq!(env.kubectl_json(&["get", "storageclass", "gp2"])["provisioner"], "kubernetes.io/aws-ebs");

    env.apply()
        .args(["--recreate"])
        .stdout_contains("StorageClass/gp2 re-created (deleted, then created)\n")
        .run();
    let gp2 = env.kubectl_json(&["get", "storageclass", "gp2"]);
    assert_eq!(gp2["provisioner"], "ebs.csi.aws.com");
    assert_eq!(gp2["parameters"]["type"], "gp3");
    assert_objects_in_sync(&env);
    drop(env);

    // Part 2: our class has its own name; EKS's in-tree gp2 is the default too.
    let Some(env) = Env::new("handover") else { return };
    env.kubectl_apply(IN_TREE_GP2);
    env.diff()
        .stdout_contains("StorageClass/gp2 is also marked as the default StorageClass; apply sets its annotation to \"false\"")
        .stdout_contains("-    storageclass.kubernetes.io/is-default-class: \"true\"\n+    storageclass.kubernetes.io/is-default-class: \"false\"")
        .expect_status(1)
        .run();
    let report = env.report(env.diff());
    let handover: Vec<&Value> =
        report["objects"].as_array().unwrap().iter().filter(|o| o["defaultClassHandover"] == true).collect();
    assert_eq!(handover.len(), 1);
    assert_eq!(handover[0]["name"], "gp2");

    let out = env.apply().run();
    let lines: Vec<&str> = out.stdout.lines().collect();
    let ours =
        lines.iter().position(|l| *l == format!("StorageClass/{} created", env.sc)).expect("our class");
    assert_eq!(lines[ours + 1], "StorageClass/gp2 default annotation set to \"false\"", "{}", out.all());
    let gp2 = env.kubectl_json(&["get", "storageclass", "gp2", "--show-managed-fields"]);
    assert_eq!(gp2["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"], "false");
    assert_eq!(gp2["provisioner"], "kubernetes.io/aws-ebs", "only the annotation changes");
    let owner = gp2["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["manager"] == "pangeo-render-default-class")
        .expect("handover manager");
    let owned = owner["fieldsV1"].to_string();
    assert!(owned.contains("is-default-class") && !owned.contains("provisioner"), "{owned}");
    let ours = env.kubectl_json(&["get", "storageclass", &env.sc]);
    assert_eq!(ours["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"], "true");

    let report = env.report(env.diff());
    assert!(actions(&report).iter().all(|(o, a)| a == "unchanged" && o != "StorageClass/gp2"), "{report}");
}

#[test]
fn helm_release_values_are_diffed_with_secrets_masked() {
    let Some(mut env) = Env::new("helm") else { return };
    env.values();
    env.helm_install();
    let report = env.report(env.diff());
    let rel = |r: &Value, name: &str| {
        r["releases"].as_array().unwrap().iter().find(|x| x["name"] == name).unwrap().clone()
    };
    for name in ["aws-ebs-csi-driver", "daskhub"] {
        let r = rel(&report, name);
        assert_eq!(r["state"], "same", "{r}");
        assert_eq!(r["revision"], 1);
        assert_eq!(r["chart"], "tiny-0.1.0");
    }

    // A new image tag and a rotated proxy token: one shows, the other only says it changed.
    env.edit_config("tag: \"2023.10.28\"}\n    cpu", "tag: \"2024.01.01\"}\n    cpu");
    env.write_secrets();
    let out = env.diff().expect_status(1).run();
    let header = format!(
        "--- live/helm.{}.daskhub (revision 1, user-supplied values)\n+++ rendered/daskhub.yaml\n",
        env.ns
    );
    assert!(out.stdout.contains(&header), "{}", out.all());
    let report = env.report(env.diff());
    let daskhub = rel(&report, "daskhub");
    assert_eq!(daskhub["state"], "changed");
    let mut lines = changed_lines(daskhub["diff"].as_str().unwrap());
    lines.sort();
    assert_eq!(
        lines,
        [
            "+        apiToken: (sensitive value changed)",
            "+        apiToken: (sensitive value changed)",
            "+      tag: 2024.01.01",
            "+    secretToken: (sensitive value changed)",
            "-        apiToken: (sensitive value)",
            "-        apiToken: (sensitive value)",
            "-      tag: 2023.10.28",
            "-    secretToken: (sensitive value)",
        ],
        "{daskhub}"
    );
    assert_eq!(rel(&report, "aws-ebs-csi-driver")["state"], "same");
    // The hash did not change: it is masked and shows no difference.
    assert!(!daskhub["diff"].as_str().unwrap().contains("password_hash"), "{daskhub}");

    // An uninstalled release is reported as not installed.
    let mut helm = env.cluster.helm();
    helm.args(["uninstall", "aws-ebs-csi-driver", "--namespace", &env.ns]);
    assert!(helm.output().unwrap().status.success());
    let report = env.report(env.diff());
    assert_eq!(rel(&report, "aws-ebs-csi-driver")["state"], "not-installed");
}

#[test]
fn read_only_identities_fail_with_verb_and_resource() {
    let Some(env) = Env::new("rbac") else { return };
    // `reader` has no bindings: the first request (the cluster's identity record) is refused.
    let reader = env.cluster.user_kubeconfig("reader", None);
    let out = env.on("diff", &reader)
        .stderr_contains(r#"get ConfigMap/pangeo-render-identity (namespace kube-system): configmaps "pangeo-render-identity" is forbidden: User "reader" cannot get resource "configmaps""#)
        .stderr_contains("(403 Forbidden)")
        .stderr_contains("identity: kubeconfig user \"reader\"")
        .expect_status(2)
        .run();
    assert!(!out.stderr.contains("panicked"), "{}", out.all());

    // May read everything, write nothing: the server dry run is a patch, and is refused.
    env.kubectl_apply(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: pangeo-test-read-all\nrules:\n- apiGroups: [\"*\"]\n  resources: [\"*\"]\n  verbs: [get, list, watch]\n",
    );
    let all_reader = env.cluster.user_kubeconfig("all-reader", Some("pangeo-test-read-all"));
    for cmd in ["diff", "apply"] {
        env.on(cmd, &all_reader)
            .stderr_contains("apply (server dry run) ValidatingAdmissionPolicy/pangeo-render-guard:")
            .stderr_contains(r#"User "all-reader" cannot patch resource "validatingadmissionpolicies" in API group "admissionregistration.k8s.io" at the cluster scope"#)
            .expect_status(2)
            .run();
    }
    assert!(!account_exists(&env));
}

#[test]
fn kubeconfig_problems_and_an_unreachable_server_are_clear_errors() {
    let Some(env) = Env::new("kubeconfig") else { return };
    let admin = fs::read_to_string(env.cluster.kubeconfig()).unwrap();
    let token =
        admin.lines().find_map(|l| l.trim().strip_prefix("token: ")).expect("admin token").to_string();
    let mut env = env;
    env.secrets.push(token.clone());

    let missing = env.ws.root().join("no-such-kubeconfig");
    env.on("diff", &missing)
        .stderr_contains(format!("cannot read kubeconfig {}", missing.display()))
        .expect_status(2)
        .run();

    let broken = env.ws.root().join("broken-kubeconfig");
    fs::write(&broken, format!("apiVersion: v1\nusers:\n- name: x\n  user: {{token: {token}\n")).unwrap();
    env.on("apply", &broken)
        .stderr_contains("not a valid kubeconfig (YAML syntax error")
        .expect_status(2)
        .run();

    env.diff()
        .args(["--context", "nope"])
        .stderr_contains("context \"nope\" is not in kubeconfig")
        .stderr_contains("(contexts: pangeo-test)")
        .expect_status(2)
        .run();

    let unreachable = env.ws.root().join("unreachable-kubeconfig");
    let server = admin.lines().find_map(|l| l.trim().strip_prefix("server: ")).unwrap();
    fs::write(&unreachable, admin.replace(server, "https://127.0.0.1:1")).unwrap();
    for cmd in ["diff", "apply"] {
        let out = env
            .on(cmd, &unreachable)
            .stderr_contains("cannot reach the API server https://127.0.0.1:1 (context \"pangeo-test\")")
            .expect_status(2)
            .run();
        assert!(out.stderr.to_lowercase().contains("connection refused"), "{}", out.all());
    }
}

#[test]
fn apply_helm_needs_helm_on_path_and_reports_partial_failure() {
    let Some(env) = Env::new("with-helm") else { return };
    let empty_bin = env.ws.root().join("empty-bin");
    fs::create_dir_all(&empty_bin).unwrap();
    env.apply()
        .args(["--helm"])
        .env("PATH", &empty_bin)
        .stderr_contains("--helm: `helm` is not on PATH")
        .expect_status(2)
        .run();
    assert!(!account_exists(&env), "objects were applied although helm was missing");

    // The built helm, as `helm` on PATH. The EBS CSI release back on its repository chart, whose
    // repository is not configured (no network here): its install fails after the objects were
    // applied.
    let tiny = tiny_chart().display().to_string();
    env.edit_config(
        &format!(
            "ebsCsiDriver: {{name: aws-ebs-csi-driver, namespace: {}, chart: {tiny}, version: 0.1.0}}",
            env.ns
        ),
        &format!("ebsCsiDriver: {{name: aws-ebs-csi-driver, namespace: {}}}", env.ns),
    );
    let out = env
        .with_helm(env.apply().args(["--helm"]))
        .stdout_contains("Deployment/cluster-autoscaler (namespace kube-system) created")
        .stdout_contains(
            "running: helm upgrade --install aws-ebs-csi-driver aws-ebs-csi-driver/aws-ebs-csi-driver --version 2.64.0",
        )
        .stderr_contains(format!(
            "helm upgrade --install of release aws-ebs-csi-driver (namespace {}) failed",
            env.ns
        ))
        .stderr_contains("releases done before it: none")
        .expect_status(2)
        .run();
    // The values file was private and is gone.
    assert!(!out.stdout.contains("rendered/"), "{}", out.all());
}

#[test]
fn apply_dry_run_writes_nothing() {
    let Some(env) = Env::new("dry-run") else { return };
    let out = env.apply().args(["--dry-run"]).run();
    let lines: Vec<&str> = out.stdout.lines().filter(|l| l.ends_with("(server dry run)")).collect();
    assert_eq!(lines.len(), 10, "{}", out.all());
    assert!(lines.iter().all(|l| l.ends_with(" would be created (server dry run)")), "{}", out.all());
    assert!(!account_exists(&env), "--dry-run created the ServiceAccount");
    assert_eq!(
        env.report(env.diff())["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["action"] == "create")
            .count(),
        10
    );
}

const DENY_POLICY: &str = "pangeo-test-deny-autoscaler-writes";

/// Refuses real (not dry-run) writes of Deployments labelled app=cluster-autoscaler: the plan's
/// dry run passes, the write fails, after the objects before it were applied.
fn deny_policy() -> String {
    format!(
        r#"apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: {DENY_POLICY}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: ["apps"]
      apiVersions: ["v1"]
      operations: ["CREATE", "UPDATE"]
      resources: ["deployments"]
  validations:
  - expression: "request.dryRun == true || !has(object.metadata.labels) || !('app' in object.metadata.labels) || object.metadata.labels['app'] != 'cluster-autoscaler'"
    message: "test policy: cluster-autoscaler Deployments may not be written"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: {DENY_POLICY}
spec:
  policyName: {DENY_POLICY}
  validationActions: [Deny]
"#
    )
}

/// Waits until a real write of a labelled Deployment in `ns` is refused (`refused`) or allowed.
fn wait_for_policy(env: &Env, refused: bool) {
    let probe = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: probe\n  namespace: {}\n  labels: {{app: cluster-autoscaler}}\nspec:\n  selector: {{matchLabels: {{app: probe}}}}\n  template:\n    metadata: {{labels: {{app: probe}}}}\n    spec: {{containers: [{{name: c, image: x}}]}}\n",
        env.ns
    );
    for _ in 0..100 {
        let out = env
            .cluster
            .kubectl()
            .args(["apply", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(probe.as_bytes())?;
                c.wait_with_output()
            })
            .unwrap();
        if out.status.success() {
            env.kubectl(&["-n", &env.ns, "delete", "deployment", "probe"]);
        }
        if out.status.success() != refused {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the admission policy did not {}", if refused { "take effect" } else { "go away" });
}

#[test]
fn a_failure_midway_names_what_was_applied_and_a_rerun_converges() {
    let Some(env) = Env::new("partial") else { return };
    env.kubectl_apply(&deny_policy());
    wait_for_policy(&env, true);

    let out = env.apply()
        .stdout_contains("ServiceAccount/cluster-autoscaler (namespace kube-system) created")
        .stderr_contains("apply stopped at Deployment/cluster-autoscaler (namespace kube-system): apply Deployment/cluster-autoscaler (namespace kube-system):")
        .stderr_contains("test policy: cluster-autoscaler Deployments may not be written")
        .expect_status(2)
        .run();
    let applied = format!(
        "applied before it: ValidatingAdmissionPolicy/pangeo-render-guard, ValidatingAdmissionPolicyBinding/pangeo-render-guard, ServiceAccount/cluster-autoscaler (namespace kube-system), ConfigMap/pangeo-render-identity (namespace kube-system), ClusterRole/cluster-autoscaler, Role/cluster-autoscaler (namespace kube-system), ClusterRoleBinding/cluster-autoscaler, RoleBinding/cluster-autoscaler (namespace kube-system), StorageClass/{}",
        env.sc
    );
    assert!(out.stderr.contains(&applied), "{}", out.all());
    assert!(out.stderr.contains("not attempted: none"), "{}", out.all());
    assert!(out.stderr.contains("run apply again"), "{}", out.all());

    env.kubectl(&["delete", "validatingadmissionpolicybinding", DENY_POLICY]);
    wait_for_policy(&env, false);
    let out =
        env.apply().stdout_contains("Deployment/cluster-autoscaler (namespace kube-system) created").run();
    assert_eq!(out.stdout.lines().filter(|l| l.ends_with(" unchanged")).count(), 9, "{}", out.all());
    assert_objects_in_sync(&env);
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn server_errors_that_quote_a_secret_are_masked() {
    // A user's own template puts a secret where the server rejects it, and quotes it back.
    let Some(env) = Env::new("leak") else { return };
    let charts = env.ws.root().join("charts");
    copy_dir(&support::repo().join("charts"), &charts);
    let sc = charts.join("storageclass.yaml.j2");
    let text = fs::read_to_string(&sc).unwrap();
    assert!(text.contains("reclaimPolicy: Delete"));
    fs::write(&sc, text.replace("reclaimPolicy: Delete", "reclaimPolicy: {{ s.proxySecretToken | q }}"))
        .unwrap();

    for cmd in ["diff", "apply"] {
        env.on(cmd, env.cluster.kubeconfig())
            .args(["--charts"])
            .args([&charts])
            .stderr_contains(format!("StorageClass/{}", env.sc))
            .stderr_contains(r#"reclaimPolicy: Unsupported value: "(sensitive value)""#)
            .expect_status(2)
            .run();
    }
}

#[test]
fn secrets_recovered_from_the_deployed_release_render_what_is_deployed() {
    let Some(mut env) = Env::new("recover") else { return };
    env.values();
    env.helm_install();
    let secrets_path = env.ws.secrets_path();
    let original = fs::read(&secrets_path).unwrap();
    let kubeconfig = env.cluster.kubeconfig();

    // A clone without the secrets file: `values` says it makes new ones, and how to recover instead.
    fs::remove_file(&secrets_path).unwrap();
    let out = env.test().args(["values", "-c", "pangeo.yaml", "--output-dir", "fresh"]).run();
    assert!(
        out.stderr.contains("there was no secrets file")
            && out.stderr.contains("pangeo-render values -c pangeo.yaml --secrets-from-cluster"),
        "{}",
        out.all()
    );
    // Following that advice: delete the new file, recover the running secrets.
    fs::remove_file(&secrets_path).unwrap();
    let out = env
        .recover(kubeconfig)
        .stderr_contains(format!("release daskhub (namespace {}), revision 1", env.ns))
        .run();
    assert!(!out.stderr.contains("generated admin password"), "{}", out.all());
    assert_eq!(fs::read(&secrets_path).unwrap(), original, "the same secrets file as before");
    let report = env.report(env.diff());
    let daskhub = report["releases"].as_array().unwrap().iter().find(|r| r["name"] == "daskhub").unwrap();
    assert_eq!(daskhub["state"], "same", "{daskhub}");

    // A secrets file that holds other secrets is not replaced.
    env.write_secrets();
    let before = fs::read(&secrets_path).unwrap();
    env.recover(kubeconfig)
        .stderr_contains("proxySecretToken, daskGatewayApiToken differ")
        .expect_status(2)
        .run();
    assert_eq!(fs::read(&secrets_path).unwrap(), before);

    // No release to recover from: a clear error, nothing written.
    fs::remove_file(&secrets_path).unwrap();
    env.edit_config(
        &format!(
            "daskhub: {{name: daskhub, namespace: {}, chart: {}, version: 0.1.0}}",
            env.ns,
            tiny_chart().display()
        ),
        &format!(
            "daskhub: {{name: nohub, namespace: nowhere, chart: {}, version: 0.1.0}}",
            tiny_chart().display()
        ),
    );
    env.recover(kubeconfig)
        .stderr_contains("there is no release nohub (namespace nowhere)")
        .expect_status(2)
        .run();
    assert!(!secrets_path.exists());
}

// ---- Helm releases seen whole (issue 16): pinned charts, drift, the upgrade preview. ----

fn hub_chart() -> PathBuf {
    support::repo().join("fixtures/helm/hub-chart")
}

impl Env {
    /// Pins the DaskHub release to the stand-in DaskHub chart at `chart` (version `version`).
    fn pin_daskhub(&self, chart: &Path, version: &str) {
        let text = fs::read_to_string(self.ws.config()).unwrap();
        let start = text.find("  daskhub: {name: daskhub").expect("daskhub release line");
        let end = start + text[start..].find('\n').unwrap();
        let line = format!(
            "  daskhub: {{name: daskhub, namespace: {}, chart: {}, version: {version}}}",
            self.ns,
            chart.display()
        );
        fs::write(self.ws.config(), format!("{}{line}{}", &text[..start], &text[end..])).unwrap();
    }

    /// Every object of the namespace's releases, as the server has them (managedFields and
    /// bookkeeping dropped), by `Kind/name`.
    fn release_objects(&self) -> std::collections::BTreeMap<String, Value> {
        self.objects_of("deployments,services,configmaps,secrets,serviceaccounts")
    }

    /// The chart-generated cookie secret (base64, as stored), which must never be printed either.
    fn cookie_secret(&self) -> String {
        let hub = self.kubectl_json(&["-n", &self.ns, "get", "secret", "hub"]);
        hub["data"]["hub.config.JupyterHub.cookie_secret"].as_str().unwrap().to_string()
    }
}

fn release<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["releases"].as_array().unwrap().iter().find(|r| r["name"] == name).unwrap()
}

/// A copy of the stand-in DaskHub chart at another version.
fn hub_chart_version(dir: &Path, version: &str) -> PathBuf {
    let to = dir.join(format!("hub-chart-{version}"));
    copy_dir(&hub_chart(), &to);
    let chart_yaml = fs::read_to_string(to.join("Chart.yaml"))
        .unwrap()
        .replace("version: 0.1.0", &format!("version: {version}"));
    fs::write(to.join("Chart.yaml"), chart_yaml).unwrap();
    to
}

#[test]
fn charts_are_pinned_and_another_chart_version_is_a_difference() {
    let Some(env) = Env::new("pin") else { return };
    env.values();
    env.pin_daskhub(&hub_chart(), "0.1.0");
    env.apply().run();
    // Installed by apply --helm: only what differs (both are new), from the pinned local charts.
    env.apply_helm()
        .stdout_contains(format!("Helm release daskhub (namespace {}) differs: not installed", env.ns))
        .stdout_contains(format!(
            "running: helm upgrade --install daskhub {} --namespace {} --create-namespace --kubeconfig {} --values -",
            hub_chart().display(),
            env.ns,
            env.cluster.kubeconfig().display(),
        ))
        .run();
    env.with_helm(env.diff()).expect_stdout("").run();
    let out = env.apply_helm().run();
    assert!(!out.stdout.contains("running: helm"), "nothing differs, nothing upgraded:\n{}", out.all());
    for name in ["aws-ebs-csi-driver", "daskhub"] {
        assert!(
            out.stdout.contains(&format!("Helm release {name} (namespace {}) is up to date", env.ns)),
            "{}",
            out.all()
        );
    }

    // The same values on another chart version: a difference, both versions named.
    let newer = hub_chart_version(env.ws.root(), "0.2.0");
    env.pin_daskhub(&newer, "0.2.0");
    env.diff()
        .stdout_contains(format!(
            "Helm release daskhub (namespace {}) is installed from chart test-hub-0.1.0 (revision 1); the config pins test-hub-0.2.0",
            env.ns,
        ))
        .expect_status(1)
        .run();
    let report = env.report(env.diff());
    let r = release(&report, "daskhub");
    assert_eq!(
        (r["state"].as_str(), r["chart"].as_str(), r["pinnedChart"].as_str()),
        (Some("other-chart"), Some("test-hub-0.1.0"), Some("test-hub-0.2.0"))
    );
    env.apply_helm()
        .stdout_contains("differs: installed from chart test-hub-0.1.0, the config pins test-hub-0.2.0")
        .run();
    env.diff().expect_stdout("").run();

    // A local chart whose Chart.yaml says another version than the pin: stopped, the field named.
    env.pin_daskhub(&newer, "0.3.0");
    env.diff()
        .stderr_contains("releases.daskhub.chart: the chart at")
        .stderr_contains("is version 0.2.0 (its Chart.yaml), not the pinned 0.3.0")
        .expect_status(2)
        .run();
    let out = env.apply_helm().expect_status(2).run();
    assert!(!out.stdout.contains("running: helm"), "{}", out.all());
    assert!(!out.all().contains(&env.cookie_secret()), "{}", out.all());
}

#[test]
fn drift_since_helm_is_named_with_field_and_manager_and_upgrade_restores_it() {
    let Some(env) = Env::new("drift") else { return };
    env.values();
    env.pin_daskhub(&hub_chart(), "0.1.0");
    env.apply_helm().run();
    env.diff().run();

    env.kubectl(&["-n", &env.ns, "set", "image", "deployment/hub", "hub=quay.io/jupyterhub/k8s-hub:9.9.9"]);
    env.kubectl(&["-n", &env.ns, "scale", "deployment/proxy", "--replicas=3"]);
    let out = env.diff().expect_status(1).run();
    let drift = format!(
        "drift: Deployment/hub (namespace {ns}) of Helm release daskhub was changed since helm applied it:\n  \
         .spec.template.spec.containers[name=\"hub\"].image: helm applied \"quay.io/jupyterhub/k8s-hub:3.2.1\", now \"quay.io/jupyterhub/k8s-hub:9.9.9\" (by field manager \"kubectl-set\")\n",
        ns = env.ns
    );
    assert!(out.stdout.contains(&drift), "{}", out.all());
    assert!(
        out.stdout.contains(&format!(
            "drift: Deployment/proxy (namespace {}) of Helm release daskhub was changed since helm applied it:\n  .spec.replicas: helm applied 1, now 3 (by field manager \"kubectl",
            env.ns
        )),
        "{}",
        out.all()
    );
    let report = env.report(env.diff());
    let r = release(&report, "daskhub");
    assert_eq!(r["state"], "drifted", "{r}");
    assert_eq!(r["drift"].as_array().unwrap().len(), 2, "{r}");
    assert_eq!(release(&report, "aws-ebs-csi-driver")["state"], "same");

    let out = env
        .apply_helm()
        .stdout_contains("differs: 2 object(s) changed since helm applied them")
        .stdout_contains("Helm release aws-ebs-csi-driver")
        .run();
    assert!(!out.stdout.contains("running: helm upgrade --install aws-ebs-csi-driver"), "{}", out.all());
    let hub = env.kubectl_json(&["-n", &env.ns, "get", "deployment", "hub"]);
    assert_eq!(hub["spec"]["template"]["spec"]["containers"][0]["image"], "quay.io/jupyterhub/k8s-hub:3.2.1");
    env.diff().expect_stdout("").run();
}

#[test]
fn upgrade_preview_shows_exactly_the_objects_helm_then_changes() {
    let Some(mut env) = Env::new("preview") else { return };
    env.values();
    env.pin_daskhub(&hub_chart(), "0.1.0");
    env.apply_helm().run();
    let cookie = env.cookie_secret();
    env.secrets.push(cookie.clone());

    // A new notebook image tag and a new worker maximum.
    env.edit_config("tag: \"2023.10.28\"}\n    cpu", "tag: \"2024.01.01\"}\n    cpu");
    env.edit_config("maxWorkersPerCluster: 24", "maxWorkersPerCluster: 40");
    env.values();
    let helm = env.cluster.helm_path().display().to_string();
    let out = env.diff().args(["--helm", &helm]).expect_status(1).run();
    let report = env.report(env.diff().args(["--helm", &helm]));
    let preview = &release(&report, "daskhub")["preview"];
    let changed: std::collections::BTreeSet<String> = preview["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["action"] != "unchanged")
        .map(|o| {
            let obj = o["object"].as_str().unwrap();
            obj.split(" (namespace").next().unwrap().to_string()
        })
        .collect();
    let expected: std::collections::BTreeSet<String> =
        ["ConfigMap/gateway-extra-config", "Deployment/hub", "Secret/hub"]
            .into_iter()
            .map(String::from)
            .collect();
    assert_eq!(changed, expected, "{}", out.all());
    // Hooks are listed as such, not compared.
    let hooks: Vec<&str> =
        preview["hooks"].as_array().unwrap().iter().map(|h| h["object"].as_str().unwrap()).collect();
    assert_eq!(hooks.len(), 2, "{preview}");
    assert!(out.stdout.contains("  hook ConfigMap/hook-image-puller"), "{}", out.all());
    // Inside the hub Secret's values.yaml: the plain changes show; the chart's lookup-kept
    // cookie secret does not change.
    let secret_diff = preview["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["object"].as_str().unwrap().starts_with("Secret/hub"))
        .unwrap()["diff"]
        .as_str()
        .unwrap()
        .to_string();
    let mut lines: Vec<String> =
        changed_lines(&secret_diff).iter().map(|l| format!("{}{}", &l[..1], l[1..].trim())).collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "+c.ClusterConfig.cluster_max_workers = 40",
            "+tag: 2024.01.01",
            "-c.ClusterConfig.cluster_max_workers = 24",
            "-tag: 2023.10.28",
        ],
        "{secret_diff}"
    );

    // helm upgrade changes exactly those objects.
    let before = env.release_objects();
    env.apply_helm().run();
    let after = env.release_objects();
    let really: std::collections::BTreeSet<String> = after
        .iter()
        .filter(|(k, v)| {
            before.get(*k) != Some(*v)
                && !k.starts_with("ServiceAccount/hook")
                && !k.starts_with("ConfigMap/hook")
        })
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(really, expected);
    assert_eq!(env.cookie_secret(), cookie, "the lookup kept the cookie secret");

    // Rotated tokens: the preview shows only masked lines.
    env.write_secrets();
    env.values();
    let report = env.report(env.diff().args(["--helm", &helm]));
    let preview = &release(&report, "daskhub")["preview"];
    for o in preview["objects"].as_array().unwrap() {
        for line in changed_lines(o["diff"].as_str().unwrap()) {
            assert!(line.contains("(sensitive value"), "a line that is not masked: {line}\n{o}");
        }
    }
    assert!(preview["objects"].as_array().unwrap().iter().any(|o| o["action"] == "update"), "{preview}");
}

/// Chart objects the API server will not take as they are. A field the kind does not declare:
/// helm's upgrade sends it and the server drops it with a warning, so the preview drops it too
/// (a server-side apply refuses it, whatever its field validation: which is also what lets every
/// apply skip the server's second, strict parse of the body, `fieldValidation=Ignore` in
/// src/kube/api.rs) and names it. A value the server finds invalid: helm's upgrade fails, and the
/// preview says so instead of showing changes; so does a change to an immutable field.
#[test]
fn chart_objects_the_server_refuses_are_previewed_as_helm_then_fares() {
    let Some(env) = Env::new("refused") else { return };
    env.values();
    env.pin_daskhub(&hub_chart(), "0.1.0");
    env.apply_helm().run();
    let helm = env.cluster.helm_path().display().to_string();
    // A copy of the chart at `version`, each (from, to) replaced once in `file`, pinned.
    let edit = |version: &str, file: &str, changes: &[(&str, &str)]| {
        let chart = hub_chart_version(env.ws.root(), version);
        let template = chart.join("templates").join(file);
        let mut text = fs::read_to_string(&template).unwrap();
        for (from, to) in changes {
            assert!(text.contains(from), "{file} has {from:?}");
            text = text.replacen(from, to, 1);
        }
        fs::write(&template, text).unwrap();
        env.pin_daskhub(&chart, version);
    };
    let refused = |object: &str| {
        format!(
            "note: no object-level preview of Helm release daskhub: the API server refuses the chart's {object} (namespace {}), so `helm upgrade` would fail:",
            env.ns
        )
    };

    edit("0.2.0", "hub-deployment.yaml", &[("  replicas: 1\n", "  replicas: 1\n  notAField: 1\n")]);
    // And one inside a list item that the server keys by two fields (a Service port, by port and
    // protocol), where the drift check keys it by one.
    let proxy = env.ws.root().join("hub-chart-0.2.0/templates/proxy.yaml");
    let text = fs::read_to_string(&proxy).unwrap();
    assert!(text.contains("      port: 80\n"), "{text}");
    fs::write(&proxy, text.replacen("      port: 80\n", "      port: 80\n      notAField: 1\n", 1)).unwrap();
    let out = env.diff().args(["--helm", &helm]).expect_status(1).run();
    let note = |object: &str, field: &str| {
        format!(
            "  note: {object} (namespace {}): the chart renders field(s) the API server does not declare, which helm's upgrade drops with a warning: {field}\n",
            env.ns
        )
    };
    assert!(out.stdout.contains(&note("Deployment/hub", ".spec.notAField")), "{}", out.all());
    assert!(
        out.stdout
            .contains(&note("Service/proxy-public", r#".spec.ports[port=80,protocol="TCP"].notAField"#)),
        "{}",
        out.all()
    );
    let report = env.report(env.diff().args(["--helm", &helm]));
    let hub = release(&report, "daskhub")["preview"]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["object"].as_str().unwrap().starts_with("Deployment/hub"))
        .unwrap()
        .clone();
    // Previewed without the field (the hub Secret's checksum changes with the chart version).
    assert_eq!(hub["undeclaredFields"], serde_json::json!([".spec.notAField"]), "{hub}");
    assert!(!hub["diff"].as_str().unwrap().contains("notAField"), "{hub}");
    // helm's upgrade takes the chart and the server drops the field: as previewed.
    env.apply_helm().stdout_contains("Release \"daskhub\" has been upgraded").run();
    let live = env.kubectl_json(&["-n", &env.ns, "get", "deployment", "hub"]);
    assert!(live["spec"].get("notAField").is_none(), "{live}");
    // Nor is either field drift afterwards: nobody removed them, the server never kept them.
    env.diff().args(["--helm", &helm]).expect_stdout("").run();

    // A new selector: Deployment selectors are immutable, which helm-diff users meet only when
    // the upgrade fails (helm-diff#730); the preview says so first.
    edit(
        "0.4.0",
        "hub-deployment.yaml",
        &[
            ("      component: hub\n  template:", "      component: hub\n      v: \"2\"\n  template:"),
            ("        component: hub\n", "        component: hub\n        v: \"2\"\n"),
        ],
    );
    let out = env.diff().args(["--helm", &helm]).expect_status(1).run();
    assert!(
        out.stdout.contains(&refused("Deployment/hub")) && out.stdout.contains("field is immutable"),
        "{}",
        out.all()
    );
    env.apply_helm().stderr_contains("field is immutable").expect_status(2).run();
    env.helm_ok(&["rollback", "daskhub", "--namespace", &env.ns]);

    edit(
        "0.3.0",
        "proxy.yaml",
        &[("    component: proxy\nspec:", "    component: proxy\n    bad: has space\nspec:")],
    );
    let out = env.diff().args(["--helm", &helm]).expect_status(1).run();
    assert!(out.stdout.contains(&refused("Deployment/proxy")), "{}", out.all());
    assert!(out.stdout.contains("metadata.labels: Invalid value: \"has space\""), "{}", out.all());
    // The rest of the diff stands: the chart version is still reported.
    assert!(out.stdout.contains("the config pins test-hub-0.3.0"), "{}", out.all());
    // And helm's upgrade does fail, on that label.
    env.apply_helm()
        .stderr_contains(format!("helm upgrade --install of release daskhub (namespace {}) failed", env.ns))
        .stderr_contains("has space")
        .expect_status(2)
        .run();
}

/// A template that writes down what the chart reads of the cluster by `lookup`, one of each kind
/// of read: a cluster-scoped object, a namespaced object of another API group, a list, and an
/// object that is not there.
const LOOKED_UP: &str = r#"{{- $ns := lookup "v1" "Namespace" "" .Release.Namespace | default dict }}
{{- $hub := lookup "apps/v1" "Deployment" .Release.Namespace "hub" | default dict }}
{{- $secrets := lookup "v1" "Secret" .Release.Namespace "" | default dict }}
{{- $gone := lookup "v1" "ConfigMap" .Release.Namespace "not-there" }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: looked-up
data:
  team: {{ dig "metadata" "labels" "team" "none" $ns | quote }}
  hubReplicas: {{ dig "spec" "replicas" "none" $hub | toString | quote }}
  secrets: {{ dig "items" list $secrets | len | toString | quote }}
  notThere: {{ empty $gone | toString | quote }}
"#;

/// The preview's `helm template` reads the cluster through pangeo-render's own connection
/// (src/helm/lookups.rs), with no kubeconfig of its own: what the chart then renders is what
/// `helm upgrade`, reading the cluster itself, renders next, for every kind of lookup.
#[test]
fn the_previews_lookups_read_what_helm_upgrade_then_reads() {
    let Some(env) = Env::new("lookups") else { return };
    env.values();
    let chart = hub_chart_version(env.ws.root(), "0.1.0");
    fs::write(chart.join("templates/looked-up.yaml"), LOOKED_UP).unwrap();
    env.pin_daskhub(&chart, "0.1.0");
    env.apply_helm().run();
    let looked_up = || env.kubectl_json(&["-n", &env.ns, "get", "configmap", "looked-up"])["data"].clone();
    let installed = looked_up();
    assert_eq!(installed["notThere"], "true", "{installed}");

    // What the chart reads changes: a label on the namespace, one more Secret, the hub scaled.
    env.kubectl(&["label", "namespace", &env.ns, "team=climate"]);
    env.kubectl(&["-n", &env.ns, "create", "secret", "generic", "extra", "--from-literal=a=b"]);
    env.kubectl(&["-n", &env.ns, "scale", "deployment", "hub", "--replicas=2"]);
    // And the config, so that the release differs and is previewed.
    env.edit_config("maxWorkersPerCluster: 24", "maxWorkersPerCluster: 40");
    env.values();

    // helm, as the preview runs it: how it was pointed at the cluster, the endpoint's key cut off.
    let log = env.ws.root().join("helm-template.log");
    let wrapper = env.ws.root().join("helm-logged");
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\ncase \"$1\" in template) printf '%s\\n' \"$*\" \"${{HELM_KUBEAPISERVER%/*}}\" >> {};; esac\nexec {} \"$@\"\n",
            log.display(),
            env.cluster.helm_path().display()
        ),
    )
    .unwrap();
    fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // helm's own cluster settings left in the shell do not send it elsewhere.
    let elsewhere = |test: Test| {
        test.env("HELM_KUBECONTEXT", "another-context")
            .env("HELM_KUBEAPISERVER", "https://192.0.2.1:6443")
            .env("HELM_KUBECAFILE", "/no/such/ca.crt")
    };
    let report = env.report(elsewhere(env.diff().args(["--helm".as_ref(), wrapper.as_os_str()])));
    let logged = fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = logged.lines().collect();
    assert!(lines[0].ends_with(" --kubeconfig /dev/null --values -"), "{logged}");
    assert_eq!(lines[0].matches("--kube").count(), 2, "no kubeconfig, context or server but that: {logged}");
    assert!(lines[1].starts_with("http://127.0.0.1:"), "{logged}");

    let daskhub = release(&report, "daskhub");
    let preview =
        daskhub["preview"]["objects"].as_array().unwrap_or_else(|| panic!("no preview: {daskhub}")).clone();
    let object =
        preview.iter().find(|o| o["object"].as_str().unwrap().starts_with("ConfigMap/looked-up")).unwrap();
    // The values the preview says the upgrade writes, from its `+` lines.
    let previewed: std::collections::BTreeMap<String, String> = object["diff"]
        .as_str()
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("+  ")?.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect();

    elsewhere(env.apply_helm()).run();
    let upgraded = looked_up();
    let changed: std::collections::BTreeMap<String, String> = upgraded
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, v)| installed[k.as_str()] != **v)
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    assert_eq!(previewed, changed, "{object}");
    assert_eq!(upgraded["team"], "climate", "{upgraded}");
    assert_eq!(upgraded["hubReplicas"], "2", "{upgraded}");
}

/// A kubeconfig shaped like the one `aws eks update-kubeconfig` writes: context and cluster named
/// by the cluster ARN, the user an exec plugin with `--cluster-name` and `--region`. It points at
/// the test control plane; the exec plugin (tests/support/exec-credential) hands out the admin
/// token and leaves a mark when it runs, i.e. when a request is about to be sent.
struct EksKubeconfig {
    path: PathBuf,
    mark: PathBuf,
}

fn eks_kubeconfig(env: &Env, arn: &str, exec_cluster: &str, exec_region: &str) -> EksKubeconfig {
    let admin = fs::read_to_string(env.cluster.kubeconfig()).unwrap();
    let field = |key: &str| admin.lines().find_map(|l| l.trim().strip_prefix(key)).unwrap().to_string();
    let token_file = env.ws.root().join("token");
    fs::write(&token_file, field("token: ")).unwrap();
    let name = unique_name("eks");
    let path = env.ws.root().join(format!("{name}.kubeconfig"));
    let mark = env.ws.root().join(format!("{name}.exec-ran"));
    let plugin = support::repo().join("tests/support/exec-credential");
    let text = format!(
        r#"apiVersion: v1
kind: Config
clusters:
- name: {arn}
  cluster:
    server: {server}
    certificate-authority-data: {ca}
contexts:
- name: {arn}
  context:
    cluster: {arn}
    user: {arn}
current-context: {arn}
users:
- name: {arn}
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: {plugin}
      args: [--region, {exec_region}, eks, get-token, --cluster-name, {exec_cluster}, --output, json]
      env:
      - {{name: PANGEO_TEST_TOKEN_FILE, value: {token}}}
      - {{name: PANGEO_TEST_EXEC_MARK, value: {mark}}}
      interactiveMode: Never
"#,
        server = field("server: "),
        ca = field("certificate-authority-data: "),
        plugin = plugin.display(),
        token = token_file.display(),
        mark = mark.display(),
    );
    fs::write(&path, text).unwrap();
    EksKubeconfig { path, mark }
}

fn record(env: &Env) -> Option<Value> {
    let out = env
        .cluster
        .kubectl()
        .args(["-n", "kube-system", "get", "configmap", "pangeo-render-identity", "-o", "json"])
        .output()
        .unwrap();
    out.status.success().then(|| serde_json::from_slice(&out.stdout).unwrap())
}

fn autoscaler_exists(env: &Env) -> bool {
    env.cluster
        .kubectl()
        .args(["-n", "kube-system", "get", "deployment", "cluster-autoscaler"])
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn an_eks_context_of_another_cluster_is_refused_before_any_request() {
    let Some(env) = Env::new("wrong-eks") else { return };
    let other = "arn:aws:eks:us-east-1:111122223333:cluster/other";
    let kc = eks_kubeconfig(&env, other, "other", "us-east-1");
    for cmd in ["diff", "apply"] {
        env.on(cmd, &kc.path)
            .stderr_contains(format!(
                "refusing to work on this cluster: kube context \"{other}\" points at EKS cluster other in us-east-1, account 111122223333, but {} is for EKS cluster pangeo in us-west-2, account 123456789012; nothing was read or written",
                env.ws.config().display(),
            ))
            .stderr_contains("cluster other (from the exec plugin exec-credential --cluster-name)")
            .stderr_contains("account 111122223333 (from the context name (cluster ARN))")
            .stderr_contains("arn:aws:eks:us-west-2:123456789012:cluster/pangeo with --context")
            .expect_stdout("")
            .expect_status(2)
            .run();
    }
    assert!(!kc.mark.exists(), "a request was prepared (the exec plugin ran) before the refusal");
    assert!(record(&env).is_none() && !autoscaler_exists(&env));

    // The exec plugin alone (a context with a plain name) is enough to refuse.
    let kc = eks_kubeconfig(&env, "work", "other", "us-west-2");
    env.on("apply", &kc.path)
        .stderr_contains("points at EKS cluster other in us-west-2")
        .expect_status(2)
        .run();
    assert!(!kc.mark.exists() && !autoscaler_exists(&env));

    // values --secrets-from-cluster reads the cluster too: another hub's secrets are never taken.
    let _ = fs::remove_file(env.ws.secrets_path());
    env.recover(&kc.path)
        .stderr_contains("refusing to work on this cluster: kube context")
        .expect_status(2)
        .run();
    assert!(!env.ws.secrets_path().exists() && !env.ws.root().join("rendered").exists());
    assert!(!kc.mark.exists());
}

#[test]
fn an_eks_endpoint_in_another_region_is_refused_before_any_request() {
    let Some(env) = Env::new("wrong-endpoint") else { return };
    // A context with plain names whose server is an EKS endpoint: only the host tells the Region.
    // Its exec plugin has no token file, so were the check missing it would fail before any
    // request could leave this machine for that host.
    let server = "https://0123456789ABCDEF0123456789ABCDEF.gr7.eu-west-1.eks.amazonaws.com";
    let mark = env.ws.root().join("endpoint.exec-ran");
    let path = env.ws.root().join("endpoint.kubeconfig");
    fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: work\n\
             clusters:\n- name: work\n  cluster: {{server: \"{server}\"}}\n\
             contexts:\n- name: work\n  context: {{cluster: work, user: work}}\n\
             users:\n- name: work\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      \
             command: {}\n      env: [{{name: PANGEO_TEST_EXEC_MARK, value: \"{}\"}}]\n      interactiveMode: Never\n",
            support::repo().join("tests/support/exec-credential").display(),
            mark.display()
        ),
    )
    .unwrap();
    for cmd in ["diff", "apply"] {
        env.on(cmd, &path)
            .stderr_contains(format!(
                "kube context \"work\" points at an EKS cluster in eu-west-1, but {} is for EKS cluster pangeo in us-west-2, account 123456789012",
                env.ws.config().display(),
            ))
            .stderr_contains(format!("Region eu-west-1 (from the server {server})"))
            .expect_status(2)
            .run();
    }
    assert!(!mark.exists(), "the exec plugin ran: a request was about to be sent");
}

#[test]
fn an_eks_context_of_this_cluster_applies_and_writes_the_identity_record() {
    let Some(env) = Env::new("right-eks") else { return };
    env.values();
    let arn = "arn:aws:eks:us-west-2:123456789012:cluster/pangeo";
    let kc = eks_kubeconfig(&env, arn, "pangeo", "us-west-2");
    let out = env
        .on("apply", &kc.path)
        .stdout_contains("ConfigMap/pangeo-render-identity (namespace kube-system) created")
        .run();
    assert!(kc.mark.exists(), "the exec plugin's token was not used");
    assert!(!out.stderr.contains("does not say which EKS cluster"), "{}", out.all());
    let data = &record(&env).expect("the identity record")["data"];
    assert_eq!(data["cluster"], "pangeo");
    assert_eq!(data["region"], "us-west-2");
    assert_eq!(data["account"], "123456789012");
    assert_eq!(data["deployment"], "hub.example.org");
    assert_eq!(data["clusterArn"], arn);

    let report = env.report(env.on("diff", &kc.path));
    assert!(actions(&report).iter().all(|(_, a)| a == "unchanged"), "{report}");
}

#[test]
fn a_context_that_proves_nothing_is_named_then_the_record_decides() {
    let Some(env) = Env::new("record") else { return };
    env.values();
    // The test control plane's context names no EKS cluster: allowed, and said so.
    let out = env.diff()
        .stderr_contains("does not say which EKS cluster it is, and the cluster has no identity record (ConfigMap kube-system/pangeo-render-identity) yet: taking it as EKS cluster pangeo in us-west-2, account 123456789012 on trust; `apply` writes one")
        .stdout_contains("+++ merged/v1.ConfigMap.kube-system.pangeo-render-identity")
        .expect_status(1)
        .run();
    let note = "note: kube context \"pangeo-test\" (server https://127.0.0.1:";
    assert!(out.stderr.contains(note), "{}", out.all());
    env.apply().stderr_contains("this apply writes one").run();
    assert!(record(&env).is_some());
    // From now on the record speaks for the cluster.
    let out = env.diff().run_any();
    env.assert_no_secrets(&out);
    assert!(!out.stderr.contains(note), "{}", out.all());

    // Another deployment's config on this cluster: refused, both identities named, nothing written.
    let before = env.kubectl_json(&["-n", "kube-system", "get", "deployment", "cluster-autoscaler"]);
    env.edit_config("  region: us-west-2\n", "  region: eu-west-1\n");
    let text = fs::read_to_string(env.ws.config()).unwrap().replace("us-west-2", "eu-west-1");
    fs::write(env.ws.config(), text).unwrap();
    for cmd in ["diff", "apply"] {
        env.on(cmd, env.cluster.kubeconfig())
            .stderr_contains(format!(
                "refusing to work on this cluster: its identity record (ConfigMap kube-system/pangeo-render-identity, reached through kube context \"pangeo-test\") says EKS cluster pangeo in us-west-2, account 123456789012 (deployment hub.example.org), but {} is for EKS cluster pangeo in eu-west-1, account 123456789012; nothing was written",
                env.ws.config().display(),
            ))
            .stderr_contains("kubectl --context pangeo-test -n kube-system delete configmap pangeo-render-identity")
            .expect_stdout("")
            .expect_status(2)
            .run();
    }
    let after = env.kubectl_json(&["-n", "kube-system", "get", "deployment", "cluster-autoscaler"]);
    assert_eq!(before["metadata"]["resourceVersion"], after["metadata"]["resourceVersion"]);
    assert_eq!(record(&env).unwrap()["data"]["region"], "us-west-2");
}

/// A fleet of three through one kubeconfig: `a` on the test control plane (its current context),
/// `b` naming an EKS context of another cluster, `c` a context that does not exist. Each runs,
/// the wrong ones fail alone, and the fleet exits with the worst result.
#[test]
fn a_fleet_diffs_and_applies_each_deployment_and_reports_the_worst() {
    let Some(env) = Env::new("fleet") else { return };
    let admin = fs::read_to_string(env.cluster.kubeconfig()).unwrap();
    let field = |key: &str| admin.lines().find_map(|l| l.trim().strip_prefix(key)).unwrap().to_string();
    let other = "arn:aws:eks:us-east-1:111122223333:cluster/other";
    let kubeconfig = env.ws.root().join("fleet.kubeconfig");
    fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: local\n  cluster: {{server: {s}, certificate-authority-data: {ca}}}\n\
             - name: {other}\n  cluster: {{server: {s}, certificate-authority-data: {ca}}}\n\
             users:\n- name: admin\n  user: {{token: {t}}}\n\
             contexts:\n- name: pangeo-test\n  context: {{cluster: local, user: admin}}\n- name: {other}\n  context: {{cluster: {other}, user: admin}}\n\
             current-context: pangeo-test\n",
            s = field("server: "),
            ca = field("certificate-authority-data: "),
            t = field("token: "),
        ),
    )
    .unwrap();
    let mut env = env;
    env.secrets.push(field("token: "));
    let dir = env.ws.root().join("fleet");
    fs::create_dir_all(&dir).unwrap();
    let config = fs::read_to_string(env.ws.config()).unwrap();
    let with_context =
        |ctx: &str| config.replacen("  kmsKeyArn:", &format!("  kubeContext: \"{ctx}\"\n  kmsKeyArn:"), 1);
    fs::write(dir.join("a.yaml"), &config).unwrap();
    fs::write(dir.join("b.yaml"), with_context(other)).unwrap();
    fs::write(dir.join("c.yaml"), with_context("nope")).unwrap();
    for n in ["a", "b", "c"] {
        fs::copy(env.ws.secrets_path(), dir.join(format!("{n}.secrets.yaml"))).unwrap();
    }

    let kc = kubeconfig.display().to_string();
    let fleet = |args: &[&str]| env.test().args(args).args(["-c", "fleet", "--kubeconfig", &kc]);
    let out = fleet(&["diff", "-o", "json"]).expect_status(2).run();
    let doc = out.report();
    assert_eq!(doc["kind"], "FleetReport");
    assert_eq!((doc["command"].as_str(), doc["exitCode"].as_i64()), (Some("diff"), Some(2)), "{doc}");
    let d = doc["deployments"].as_array().unwrap();
    assert_eq!(
        support::fleet_results(&doc),
        [("a", "differs", 1), ("b", "error", 2), ("c", "error", 2)],
        "{doc}"
    );
    assert_eq!(d[0]["report"]["objects"].as_array().unwrap().len(), 10, "{doc}");
    assert!(
        d[1]["error"]
            .as_str()
            .unwrap()
            .contains(&format!("kube context \"{other}\" points at EKS cluster other in us-east-1")),
        "{doc}"
    );
    assert!(d[2]["error"].as_str().unwrap().contains("context \"nope\" is not in kubeconfig"), "{doc}");
    assert!(out.stderr.contains("diff a: differs ("), "plain progress lines off a terminal:\n{}", out.all());

    let out = fleet(&["apply"]).stdout_contains("==> a (fleet/a.yaml)\n").expect_status(2).run();
    let table = &out.stdout[out.stdout.find("DEPLOYMENT  ").expect("a summary table")..];
    let rows: Vec<&str> = table.lines().collect();
    assert!(
        rows[1].starts_with("a ") && rows[1].contains("applied") && rows[1].contains("10 created"),
        "{table}"
    );
    assert!(
        rows[2].starts_with("b ")
            && rows[2].contains("error")
            && rows[2].contains("refusing to work on this cluster"),
        "{table}"
    );
    assert!(rows[3].starts_with("c ") && rows[3].contains("error"), "{table}");
    assert!(rows[4].contains("3 deployment(s): 1 ok, 0 with findings or differences, 2 failed"), "{table}");
    assert!(autoscaler_exists(&env) && record(&env).is_some());

    // -o json: one FleetReport holding each deployment's ApplyReport; progress lines on stderr.
    let out = fleet(&["apply", "--dry-run", "-o", "json"]).expect_status(2).run();
    let doc = out.report();
    assert_eq!(
        (doc["kind"].as_str(), doc["command"].as_str()),
        (Some("FleetReport"), Some("apply")),
        "{doc}"
    );
    let a = &doc["deployments"][0];
    assert_eq!(
        (a["result"].as_str(), a["changes"].as_str()),
        (Some("checked"), Some("0 created, 0 configured, 10 unchanged")),
        "{doc}"
    );
    let report = &a["report"];
    assert_eq!(
        (report["kind"].as_str(), report["dryRun"].as_bool()),
        (Some("ApplyReport"), Some(true)),
        "{doc}"
    );
    let objects = report["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 10, "{doc}");
    assert!(objects.iter().all(|o| o["result"] == "unchanged"), "{doc}");
    assert!(
        objects.iter().any(|o| o["object"] == "ConfigMap/pangeo-render-identity (namespace kube-system)"),
        "{doc}"
    );
    let helm: Vec<&str> =
        report["releases"].as_array().unwrap().iter().map(|r| r["helm"].as_str().unwrap()).collect();
    assert_eq!(helm, ["commands-printed", "commands-printed"], "releases not installed: {doc}");
    assert_eq!(doc["deployments"][1]["exitCode"], 2, "{doc}");

    // A single apply -o yaml: the same report, and stdout holds nothing else.
    let out = env.apply().args(["--dry-run", "-o", "yaml"]).run();
    let doc: Value = serde_saphyr::from_str(&out.stdout).expect("one YAML document");
    support::assert_output_schema(&doc);
    assert_eq!(doc["kind"], "ApplyReport");
    assert!(out.stderr.contains("(server dry run)"), "progress on stderr: {}", out.all());
}

/// A chart whose Deployment never becomes ready (this control plane runs no controllers), so
/// `helm --wait` stays in its pending state until it is killed or times out.
fn never_ready_chart(root: &Path) -> PathBuf {
    let chart = root.join("never-ready");
    fs::create_dir_all(chart.join("templates")).unwrap();
    fs::write(chart.join("Chart.yaml"), "apiVersion: v2\nname: never-ready\nversion: 0.1.0\n").unwrap();
    fs::write(
        chart.join("templates/deployment.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}-never-ready\n\
         spec:\n  selector: {matchLabels: {app: never-ready}}\n  template:\n    metadata: {labels: {app: never-ready}}\n\
         \x20   spec: {containers: [{name: c, image: registry.invalid/none:1}]}\n",
    )
    .unwrap();
    chart
}

impl Env {
    /// Starts `helm ARGS… --wait` with the never-ready chart and kills it (SIGKILL, as a closed
    /// laptop or a CI timeout would) once revision `rev` of `release` is stored as `status`.
    fn kill_helm_midway(&self, args: &[&str], release: &str, rev: u32, status: &str) {
        let chart = never_ready_chart(self.ws.root());
        let mut child = self
            .cluster
            .helm()
            .args(args)
            .arg(release)
            .arg(&chart)
            .args(["--namespace", &self.ns, "--wait", "--timeout", "10m"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run helm");
        let secret = format!("sh.helm.release.v1.{release}.v{rev}");
        let mut seen = false;
        for _ in 0..600 {
            let out = self
                .cluster
                .kubectl()
                .args(["-n", &self.ns, "get", "secret", &secret, "-o", "jsonpath={.metadata.labels.status}"])
                .output()
                .unwrap();
            if String::from_utf8_lossy(&out.stdout) == status {
                seen = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(seen, "helm never stored {secret} as {status}");
    }

    fn helm_ok(&self, args: &[&str]) {
        let out = self.cluster.helm().args(args).stdin(Stdio::null()).output().unwrap();
        assert!(out.status.success(), "helm {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    }
}

fn release_report(report: &Value, name: &str) -> Value {
    report["releases"].as_array().unwrap().iter().find(|x| x["name"] == name).unwrap().clone()
}

#[test]
fn releases_left_pending_or_failed_are_reported_and_stop_apply_helm_until_the_fix_is_run() {
    let Some(env) = Env::new("stuck") else { return };
    env.values();
    env.helm_install();
    let ns = env.ns.clone();

    // A killed `helm upgrade`: revision 2 stays pending-upgrade; revision 1 is still deployed.
    env.kill_helm_midway(&["upgrade"], "daskhub", 2, "pending-upgrade");
    // A killed first install of the other release: nothing was ever deployed.
    env.helm_ok(&["uninstall", "aws-ebs-csi-driver", "--namespace", &ns]);
    env.kill_helm_midway(&["install"], "aws-ebs-csi-driver", 1, "pending-install");

    let out = env.diff().expect_status(1).run();
    let rollback = format!("helm rollback daskhub 1 --namespace {ns}");
    let uninstall = format!("helm uninstall aws-ebs-csi-driver --namespace {ns}");
    assert!(
        out.stdout.contains(&format!(
            "Helm release daskhub (namespace {ns}): its newest revision 2 is pending-upgrade (last deployed: revision 1"
        )) && out.stdout.contains(&format!("`{rollback}`")),
        "{}",
        out.all()
    );
    assert!(out.stdout.contains("newest revision 1 is pending-install") && out.stdout.contains(&uninstall));
    let report = env.report(env.diff());
    let daskhub = release_report(&report, "daskhub");
    assert_eq!(
        (&daskhub["state"], &daskhub["status"], &daskhub["revision"], &daskhub["deployedRevision"]),
        (&"not-deployed".into(), &"pending-upgrade".into(), &2.into(), &1.into()),
        "{daskhub}"
    );

    // apply --helm stops before it applies anything, naming both releases and their fixes.
    let out = env
        .with_helm(env.apply().args(["--helm"]))
        .stderr_contains("nothing was applied: helm cannot upgrade")
        .expect_status(2)
        .run();
    assert!(out.stderr.contains(&rollback) && out.stderr.contains(&uninstall), "{}", out.all());
    assert!(!out.stdout.contains("created") && !out.stdout.contains("running: helm"), "{}", out.all());
    assert!(!account_exists(&env), "objects were applied although helm could not run");

    // The printed fixes, run as printed, make the releases upgradable again.
    let run_fix = |cmd: &str| {
        let words: Vec<&str> = cmd.split(' ').skip(1).collect();
        env.helm_ok(&words);
    };
    run_fix(&rollback);
    run_fix(&uninstall);
    let report = env.report(env.diff());
    assert_eq!(release_report(&report, "daskhub")["state"], "same", "{report}");
    assert_eq!(release_report(&report, "aws-ebs-csi-driver")["state"], "not-installed", "{report}");

    // A failed upgrade (helm gave up waiting) is reported the same way, with its own fix.
    let failed = env
        .cluster
        .helm()
        .args(["upgrade", "daskhub"])
        .arg(never_ready_chart(env.ws.root()))
        .args(["--namespace", &ns, "--wait", "--timeout", "1s"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!failed.status.success(), "the never-ready chart became ready");
    let report = env.report(env.diff());
    let daskhub = release_report(&report, "daskhub");
    assert_eq!((&daskhub["state"], &daskhub["status"]), (&"not-deployed".into(), &"failed".into()));
    let fix = daskhub["fix"].as_str().unwrap();
    let rollback = format!("helm rollback daskhub 3 --namespace {ns}");
    assert!(fix.contains(&format!("`{rollback}`")), "{fix}");
    run_fix(&rollback);
    let report = env.report(env.diff());
    assert_eq!(release_report(&report, "daskhub")["state"], "same", "{report}");
}

#[test]
fn a_corrupt_or_foreign_ca_in_the_kubeconfig_is_named_as_such() {
    use base64::Engine;
    let Some(env) = Env::new("ca-data") else { return };
    let admin = fs::read_to_string(env.cluster.kubeconfig()).unwrap();
    let ca_b64 = admin
        .lines()
        .find_map(|l| l.trim().strip_prefix("certificate-authority-data: "))
        .expect("the test kubeconfig has certificate-authority-data")
        .to_string();
    let b64 = base64::engine::general_purpose::STANDARD;
    let pem = String::from_utf8(b64.decode(&ca_b64).unwrap()).unwrap();
    // Flip characters in the middle of the certificate's base64 body.
    let mut corrupt = pem.clone().into_bytes();
    let mid = pem.find("-----\n").unwrap() + 6 + 40;
    for b in &mut corrupt[mid..mid + 8] {
        *b = if *b == b'A' { b'B' } else { b'A' };
    }
    let foreign =
        fs::read(env.cluster.dir().join("certs/client-ca.crt")).expect("the test cluster's client CA");
    let cases: [(&str, Vec<u8>, &str); 3] = [
        ("corrupt", corrupt, "certificate-authority-data"),
        ("not PEM", b"not a certificate at all\n".to_vec(), "holds no PEM certificate"),
        ("another cluster's", foreign, "is not signed by the certificate authority in the kubeconfig"),
    ];
    for (what, data, expected) in cases {
        let kc = env.ws.root().join(format!("kubeconfig-{}", what.replace(' ', "-")));
        fs::write(&kc, admin.replace(&ca_b64, &b64.encode(&data))).unwrap();
        for cmd in ["diff", "apply"] {
            let out = env.on(cmd, &kc).expect_status(2).run();
            assert!(out.stderr.contains(expected), "{what} {cmd}: {}", out.all());
            assert!(out.stderr.contains("certificate-authority-data"), "{what} {cmd}: {}", out.all());
            assert!(out.stderr.contains("aws eks update-kubeconfig"), "{what} {cmd}: {}", out.all());
        }
    }
}

// ---- A hub built by hand (issue 15): import, then the first apply takes the objects over. ----

/// The walkthrough's `kubectl -n kube-system edit deployment.apps/cluster-autoscaler`, done by an
/// editor script: it puts in the cluster name, as the walkthrough says, but not the two options
/// it says to add (so the diff after import shows them arriving).
const EDIT_CLUSTER_NAME: &str = "#!/bin/sh\nexec perl -0pi -e 's/<YOUR\\s+CLUSTER\\s+NAME>/pangeo/' \"$1\"\n";

#[test]
fn a_hub_built_by_hand_is_imported_and_its_objects_taken_over() {
    let Some(mut env) = Env::new("import") else { return };
    let hand = env.ws.root().join("hand");
    let filled = support::walkthrough::fill(&hand, "1.34");
    env.secrets.extend([filled.proxy_token.clone(), filled.gateway_token.clone(), filled.password.clone()]);
    let autodiscover = support::walkthrough::seed_example()
        .join("../cluster-autoscaler/cluster-autoscaler-autodiscover.yaml");
    let kubectl = |args: &[&str]| {
        let out = env.cluster.kubectl().args(args).current_dir(env.ws.root()).output().expect("kubectl");
        assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    };

    // The walkthrough, command by command (the hub's Helm chart is the tests' stand-in).
    kubectl(&["apply", "-f", autodiscover.to_str().unwrap()]);
    kubectl(&[
        "annotate",
        "serviceaccount",
        "cluster-autoscaler",
        "-n",
        "kube-system",
        "eks.amazonaws.com/role-arn=arn:aws:iam::123456789012:role/eksctl-cluster-autoscaler-role",
    ]);
    kubectl(&[
        "patch",
        "deployment",
        "cluster-autoscaler",
        "-n",
        "kube-system",
        "-p",
        r#"{"spec":{"template":{"metadata":{"annotations":{"cluster-autoscaler.kubernetes.io/safe-to-evict":"false"}}}}}"#,
    ]);
    let editor = env.ws.root().join("edit.sh");
    fs::write(&editor, EDIT_CLUSTER_NAME).unwrap();
    fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let edited = env
        .cluster
        .kubectl()
        .env("KUBE_EDITOR", &editor)
        .args(["-n", "kube-system", "edit", "deployment.apps/cluster-autoscaler"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&edited.stdout).contains("edited"), "{edited:?}");
    // The walkthrough's `set image`, with the autoscaler of its (here 1.34) cluster.
    kubectl(&[
        "set",
        "image",
        "deployment",
        "cluster-autoscaler",
        "-n",
        "kube-system",
        "cluster-autoscaler=registry.k8s.io/autoscaling/cluster-autoscaler:v1.34.5",
    ]);
    // EKS's own gp2, then the walkthrough's `kubectl replace -f storageclass.yaml --force`.
    env.kubectl_apply(IN_TREE_GP2);
    kubectl(&["replace", "-f", "hand/storageclass.yaml", "--force"]);
    // The EBS CSI driver with the walkthrough's --set flags, and DaskHub with its daskhub.yaml.
    let helm = |args: &[&str], chart: &Path| {
        let out = env
            .cluster
            .helm()
            .args(args)
            .arg(chart)
            .args(["--namespace", &env.ns])
            .current_dir(env.ws.root())
            .output()
            .unwrap();
        assert!(out.status.success(), "helm: {}", String::from_utf8_lossy(&out.stderr));
    };
    helm(
        &[
            "upgrade",
            "--install",
            "aws-ebs-csi-driver",
            "--set",
            "image.repository=602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/aws-ebs-csi-driver",
            "--set",
            "controller.serviceAccount.create=true",
            "--set",
            "controller.serviceAccount.name=ebs-csi-controller-sa",
            "--set",
            r#"controller.serviceAccount.annotations.eks\.amazonaws\.com/role-arn=arn:aws:iam::123456789012:role/ebs-csi-driver-role"#,
        ],
        &tiny_chart(),
    );
    helm(&["upgrade", "--install", "daskhub", "--values=hand/daskhub.yaml"], &hub_chart());
    // Two users who have started a server: KubeSpawner's home volumes, named for them.
    for (claim, user) in
        [("claim-alice", "alice"), ("claim-bob-2esmith", "bob.smith"), ("claim-admin", "admin")]
    {
        env.kubectl_apply(&format!(
            "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: {claim}\n  namespace: {ns}\n  \
             labels: {{app: jupyterhub, component: singleuser-storage, heritage: jupyterhub}}\n  \
             annotations: {{hub.jupyter.org/username: {user}}}\n\
             spec:\n  accessModes: [ReadWriteOnce]\n  resources: {{requests: {{storage: 10Gi}}}}\n",
            ns = env.ns
        ));
    }

    // Import into the workspace's config (the Env's own files make way).
    fs::remove_file(env.ws.config()).unwrap();
    fs::remove_file(env.ws.secrets_path()).unwrap();
    let kubeconfig = env.cluster.kubeconfig().display().to_string();
    env.secrets.push("7e".repeat(32));
    let import = |from: &str, config: &str| {
        let args = ["import", "--from", from, "-c", config, "--domain", "hub.example.org", "--from-cluster"];
        env.test().args(args).args(["--kubeconfig", kubeconfig.as_str()])
    };
    // Files that are not what the cluster runs (another token pasted) are refused, by name only.
    copy_dir(&hand, &env.ws.root().join("other"));
    let other = env.ws.root().join("other/daskhub.yaml");
    // (And another option handler: the gateway runs the deployed one, which import keeps.)
    let text = fs::read_to_string(&other)
        .unwrap()
        .replace(&filled.proxy_token, &"7e".repeat(32))
        .replace("max=8, label=\"Worker Memory (GiB)\"", "max=16, label=\"Worker Memory (GiB)\"");
    fs::write(&other, text).unwrap();
    let out = import("other", "other.yaml").expect_status(2).run();
    assert!(
        out.stderr.contains(&format!(
            "--from-cluster: jupyterhub.proxy.secretToken, dask-gateway.gateway.extraConfig.optionHandler of \
             other/daskhub.yaml differ from release daskhub (namespace {}, revision 1)",
            env.ns
        )),
        "{}",
        out.all()
    );
    assert!(!env.ws.root().join("other.yaml").exists() && !env.ws.root().join("gateway-options.py").exists());
    // The files as deployed: the release's namespace comes from the cluster (the walkthrough's
    // helm command names none).
    let out = import("hand", "pangeo.yaml")
        .stderr_contains("clusterAutoscaler.imagePullPolicy: Always (the upstream")
        .run();
    // Nobody who has used the hub is locked out by pangeo-render's authenticator.
    assert!(
        out.stderr.contains(&format!(
            "hub.allowedUsers: alice, bob.smith, read from the users' home volumes (PersistentVolumeClaims of namespace {})",
            env.ns
        )),
        "{}",
        out.all()
    );
    assert!(
        out.stderr.contains(&format!(
            "releases.daskhub: namespace {0}, read from release daskhub (namespace {0}, revision 1); it runs \
             chart test-hub-0.1.0, the config pins daskhub-2024.1.1",
            env.ns
        )),
        "{}",
        out.all()
    );
    assert!(
        out.stderr.contains("ebsCsiDriver.regionalImageRegistry: true and releases.ebsCsiDriver namespace")
    );
    // The advice import ends with, run as printed (apply with --helm too: the releases).
    let advice = out.stderr.lines().find_map(|l| l.strip_prefix("next: ")).expect("import's next steps");
    let advised: Vec<Vec<&str>> = advice
        .split(" && ")
        .map(|c| c.strip_prefix("pangeo-render ").unwrap().split(' ').collect())
        .collect();
    assert_eq!(
        advised,
        [["values", "-c", "pangeo.yaml"], ["diff", "-c", "pangeo.yaml"], ["apply", "-c", "pangeo.yaml"]]
    );
    // The test's own values: the releases from the stand-in charts.
    env.edit_config(
        &format!("daskhub: {{name: \"daskhub\", namespace: \"{}\"}}", env.ns),
        &format!(
            "daskhub: {{name: daskhub, namespace: {}, chart: {}, version: 0.1.0}}",
            env.ns,
            hub_chart().display()
        ),
    );
    env.edit_config(
        &format!("ebsCsiDriver: {{name: \"aws-ebs-csi-driver\", namespace: \"{}\"}}", env.ns),
        &format!(
            "ebsCsiDriver: {{name: aws-ebs-csi-driver, namespace: {}, chart: {}, version: 0.1.0}}",
            env.ns,
            tiny_chart().display()
        ),
    );
    env.test().args(&advised[0]).run();
    // (The user's kubeconfig is the default one; here it is named.)
    let kc = ["--kubeconfig", kubeconfig.as_str()];
    env.test().args(&advised[1]).args(kc).expect_status(1).run();

    // Only the intended changes. Every object is taken over from the walkthrough's managers: their
    // last-applied record goes, our managed-by label comes. The autoscaler gains the two options
    // the walkthrough's `vi` edit adds. The password moves to the hash (with the authenticator
    // that checks it and the names it lets in), and the notebook's extraEnv gets the doubled
    // braces without which KubeSpawner refuses every spawn. Nothing else: import carried the
    // walkthrough's own settings over (the autoscaler's pull policy, the StorageClass's `fsType`
    // key and no volume expansion, the schedulers left unplaced, home volumes on the default class).
    let out = env.diff().args(["-o", "json"]).expect_status(1).run();
    let report = out.report();
    support::assert_output_schema(&report);
    let objects = report["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 10, "{}", out.all());
    let last_applied = "    kubectl.kubernetes.io/last-applied-configuration: (sensitive value)";
    let label = "+    app.kubernetes.io/managed-by: pangeo-render";
    let dropped = format!("-{last_applied}");
    let unannotated = ["-  annotations:", &dropped, label];
    let csa: &[&str] = &["kubectl-client-side-apply"];
    let expected: [(&str, &[&str], Vec<&str>); 7] = [
        ("ServiceAccount", &["kubectl-annotate", "kubectl-client-side-apply"], vec![&dropped, label]),
        ("ClusterRole", csa, unannotated.to_vec()),
        ("Role", csa, unannotated.to_vec()),
        ("ClusterRoleBinding", csa, unannotated.to_vec()),
        ("RoleBinding", csa, unannotated.to_vec()),
        ("StorageClass", &["kubectl-replace"], vec!["+  labels:", label]),
        (
            "Deployment",
            &["kubectl-client-side-apply", "kubectl-edit", "kubectl-patch", "kubectl-set"],
            [
                &unannotated[..],
                &[
                    "+        - \"--balance-similar-node-groups\"",
                    "+        - \"--skip-nodes-with-system-pods=false\"",
                ],
            ]
            .concat(),
        ),
    ];
    for (kind, managers, lines) in expected {
        let o = objects.iter().find(|o| o["kind"] == kind && o["name"] != "pangeo-render-identity").unwrap();
        assert_eq!((&o["action"], &o["takeover"]), (&"update".into(), &serde_json::json!(managers)), "{o}");
        assert!(o.get("conflicts").is_none(), "{o}");
        assert_eq!(changed_lines(o["diff"].as_str().unwrap()), lines, "{kind}: {}", o["diff"]);
    }
    // pangeo-render's record of which cluster this is, and the guard, new.
    let identity = objects.iter().find(|o| o["name"] == "pangeo-render-identity").unwrap();
    assert_eq!(identity["action"], "create", "{identity}");
    let guard: Vec<_> =
        objects.iter().filter(|o| o["name"] == GUARD).map(|o| (&o["kind"], &o["action"])).collect();
    assert_eq!(
        guard,
        [
            (&"ValidatingAdmissionPolicy".into(), &"create".into()),
            (&"ValidatingAdmissionPolicyBinding".into(), &"create".into())
        ]
    );
    let release = |name: &str| {
        report["releases"].as_array().unwrap().iter().find(|r| r["name"] == name).cloned().unwrap()
    };
    assert_eq!(release("aws-ebs-csi-driver")["state"], "same", "{}", out.all());
    let hub = release("daskhub");
    let hub_diff = hub["diff"].as_str().unwrap();
    // Outside the authenticator's Python (checked below as a whole value), these lines and no
    // others. The gateway's option handler is not among them: import kept it as written.
    assert!(!hub_diff.contains("optionHandler"), "{hub_diff}");
    assert_eq!(
        changed_lines_outside_blocks(hub_diff, &["pangeoAuthenticator"]),
        [
            "-      DummyAuthenticator:",
            "-        password: (sensitive value)",
            "-      JupyterHub:",
            "-        authenticator_class: dummy",
            "+        allowed_users:",
            "+        - admin",
            "+        - alice",
            "+        - bob.smith",
            "+      PangeoPasswordAuthenticator:",
            "+        password_hash: (sensitive value)",
            "+    extraConfig:",
            "+      pangeoAuthenticator: |",
            "-      DASK_GATEWAY__CLUSTER__OPTIONS__IMAGE: \"{JUPYTER_IMAGE_SPEC}\"",
            "+      DASK_GATEWAY__CLUSTER__OPTIONS__IMAGE: \"{{JUPYTER_IMAGE_SPEC}}\"",
        ],
        "{hub_diff}"
    );
    // Value by value: what the release runs against what `apply --helm` installs.
    let deployed: Value = serde_json::from_slice(
        &env.cluster
            .helm()
            .args(["get", "values", "daskhub", "-n", &env.ns, "-o", "json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let rendered: Value =
        serde_saphyr::from_str(&fs::read_to_string(env.ws.root().join("rendered/daskhub.yaml")).unwrap())
            .unwrap();
    assert_eq!(
        leaf_differences(&deployed, &rendered),
        [
            "jupyterhub.hub.config.Authenticator.allowed_users",
            "jupyterhub.hub.config.DummyAuthenticator.password",
            "jupyterhub.hub.config.JupyterHub.authenticator_class",
            "jupyterhub.hub.config.PangeoPasswordAuthenticator.password_hash",
            "jupyterhub.hub.extraConfig.pangeoAuthenticator",
            "jupyterhub.singleuser.extraEnv.DASK_GATEWAY__CLUSTER__OPTIONS__IMAGE",
        ]
    );

    // The first apply: no --recreate, no --force-conflicts.
    let out = env.with_helm_values_on_stdin(env.test().args(&advised[2]).args(kc).args(["--helm"])).run();
    for kind in ["ServiceAccount", "Deployment", "ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding"] {
        let ns = if kind.starts_with("Cluster") { "" } else { " (namespace kube-system)" };
        let line = format!("{kind}/cluster-autoscaler{ns} taken over and configured");
        assert!(out.stdout.contains(&line), "no `{line}` in:\n{}", out.all());
    }
    assert!(out.stdout.contains("StorageClass/gp2 taken over and configured"), "{}", out.all());
    let live = env.kubectl_json(&[
        "-n",
        "kube-system",
        "get",
        "deployment",
        "cluster-autoscaler",
        "--show-managed-fields",
    ]);
    let managers: Vec<&str> = live["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert_eq!(managers, ["pangeo-render"], "{live}");
    assert!(
        live["metadata"]["annotations"].get("kubectl.kubernetes.io/last-applied-configuration").is_none()
    );
    env.diff().stderr_contains("objects: 10 unchanged; Helm releases: 0 of 2 differ").run();

    // A later `kubectl apply` of the walkthrough's file. kubectl's client-side apply is an update,
    // which the API server never refuses as a conflict; the guard refuses it instead, with what
    // to do, and pangeo-render's fields stay.
    wait_for_guard(&env, &autodiscover, true);
    let out = env.cluster.kubectl().args(["apply", "-f", autodiscover.to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        stderr.contains(&format!(
            "ValidatingAdmissionPolicy '{GUARD}' with binding '{GUARD}' denied request: Deployment \
             kube-system/cluster-autoscaler is managed by pangeo-render (label \
             app.kubernetes.io/managed-by=pangeo-render)"
        )) && stderr
            .contains("Change pangeo-render's config and run `pangeo-render apply -c CONFIG` instead"),
        "{stderr}"
    );
    let live = env.kubectl_json(&["-n", "kube-system", "get", "deployment", "cluster-autoscaler"]);
    let command = live["spec"]["template"]["spec"]["containers"][0]["command"].as_array().unwrap();
    for flag in ["--balance-similar-node-groups", "--skip-nodes-with-system-pods=false"] {
        assert!(command.contains(&flag.into()), "{flag} is gone: {command:?}");
    }
    assert!(
        live["metadata"]["annotations"].get("kubectl.kubernetes.io/last-applied-configuration").is_none()
    );
    env.diff().stderr_contains("objects: 10 unchanged; Helm releases: 0 of 2 differ").run();

    // The other way out, as printed: drop pangeo-render's management of the object. kubectl's
    // apply then goes through (it warns that its record is gone); our diff names each field it
    // changed with its manager, and apply will not quietly take the fields back (no second
    // takeover), as it would not for any other manager.
    let advice = stderr
        .split("denied request: Deployment kube-system/cluster-autoscaler is managed by pangeo-render")
        .nth(1)
        .and_then(|rest| rest.split("drop pangeo-render's management first: `").nth(1))
        .and_then(|rest| rest.split('`').next())
        .expect("the advice to drop the label");
    let args: Vec<&str> = advice.strip_prefix("kubectl ").unwrap().split(' ').collect();
    assert_eq!(
        args,
        [
            "label",
            "deployments.apps",
            "cluster-autoscaler",
            "-n",
            "kube-system",
            "app.kubernetes.io/managed-by-"
        ]
    );
    kubectl(&args);
    // (The file's other objects are still pangeo-render's, and still refused.)
    let out = env.cluster.kubectl().args(["apply", "-f", autodiscover.to_str().unwrap()]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("deployment.apps/cluster-autoscaler configured"),
        "{out:?}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "resource deployments/cluster-autoscaler is missing the kubectl.kubernetes.io/last-applied-configuration annotation"
        ),
        "{out:?}"
    );
    let out = env.diff()
        .stdout_contains("  .spec.template.spec.containers[name=\"cluster-autoscaler\"].command (manager \"kubectl-client-side-apply\")")
        .expect_status(1)
        .run();
    assert!(!out.stdout.contains("never applied by pangeo-render"), "{}", out.all());
    let out = env.apply().expect_status(2).run();
    assert!(
        out.stderr.contains("nothing was applied") && out.stderr.contains("--force-conflicts"),
        "{}",
        out.all()
    );
}

/// The guard's policy and binding (`guard.yaml`).
const GUARD: &str = pangeo_render::render::guard::NAME;

/// Waits until the API server enforces the guard (`on`) or no longer does: a server-side dry run
/// of a client-side `kubectl apply` of `file` (whose objects are labelled ours live) is refused,
/// or not. The server learns of a new policy from a watch, a moment after the apply.
fn wait_for_guard(env: &Env, file: &Path, on: bool) {
    for _ in 0..100 {
        let out = env.cluster.kubectl().args(["apply", "--dry-run=server", "-f"]).arg(file).output().unwrap();
        let refused =
            String::from_utf8_lossy(&out.stderr).contains(&format!("ValidatingAdmissionPolicy '{GUARD}'"));
        if refused == on {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the guard did not {}", if on { "take effect" } else { "go away" });
}

/// The guard refuses a client-side `kubectl apply` of our objects and nothing else: our own apply
/// of a changed config, kubectl's imperative commands (`scale`, `edit`, `patch`, `annotate`,
/// `set image`), a server-side `kubectl apply` (a conflict, as for any other manager) and Helm's
/// objects all go on. Turned off, `guard.yaml` says how to remove it, and that works.
#[test]
fn the_guard_refuses_a_client_side_apply_and_nothing_else() {
    let Some(env) = Env::new("guard") else { return };
    env.values();
    env.apply().stdout_contains(format!("ValidatingAdmissionPolicy/{GUARD} created")).run();
    let rendered = env.ws.out().join("cluster-autoscaler.yaml");
    wait_for_guard(&env, &rendered, true);
    // Once applied, the live policy and binding prove themselves in sync: an in-sync diff sends
    // them no dry run (the server's defaults are written out in guard.yaml).
    let guard_yaml = fs::read_to_string(env.ws.out().join("guard.yaml")).unwrap();
    for doc in pangeo_render::yaml::parse_documents(&guard_yaml).unwrap() {
        let manifest = doc.to_json();
        let kind = manifest["kind"].as_str().unwrap().to_lowercase();
        let live = env.kubectl_json(&["get", &kind, GUARD, "--show-managed-fields"]);
        assert!(pangeo_render::plan::proven_in_sync(&manifest, &live, "pangeo-render"), "{kind}: {live}");
    }
    let kubectl = |args: &[&str]| env.cluster.kubectl().args(args).output().unwrap();
    let ok = |out: std::process::Output| {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    // Even the rendered file itself: applied client-side, it would leave kubectl a record that a
    // later client-side apply merges against.
    let out = kubectl(&["apply", "-f", rendered.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(
            "ClusterRole cluster-autoscaler is managed by pangeo-render (label app.kubernetes.io/managed-by=pangeo-render)"
        ) && stderr.contains("`kubectl label clusterroles.rbac.authorization.k8s.io cluster-autoscaler app.kubernetes.io/managed-by-`"),
        "{stderr}"
    );
    // The advice, as printed: change the config and run pangeo-render apply.
    assert!(stderr.contains("Change pangeo-render's config and run `pangeo-render apply -c CONFIG` instead"));
    let config = fs::read_to_string(env.ws.config()).unwrap();
    assert!(!config.contains("clusterAutoscaler:"));
    fs::write(env.ws.config(), config + "clusterAutoscaler: {imagePullPolicy: Always}\n").unwrap();
    env.values();
    env.apply().stdout_contains("Deployment/cluster-autoscaler (namespace kube-system) configured").run();
    let pull = ok(kubectl(&[
        "-n",
        "kube-system",
        "get",
        "deployment",
        "cluster-autoscaler",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].imagePullPolicy}",
    ]));
    assert_eq!(pull, "Always");

    // kubectl's imperative commands on the guarded Deployment.
    let deploy = ["-n", "kube-system", "deployment/cluster-autoscaler"];
    ok(kubectl(&[&["scale", "--replicas=2"][..], &deploy].concat()));
    ok(kubectl(&[&["annotate"][..], &deploy, &["example.org/note=kept"]].concat()));
    ok(kubectl(&[&["patch"][..], &deploy, &["-p", r#"{"spec":{"revisionHistoryLimit":5}}"#]].concat()));
    ok(kubectl(
        &[
            &["set", "image"][..],
            &deploy,
            &["cluster-autoscaler=registry.k8s.io/autoscaling/cluster-autoscaler:v1.34.5"],
        ]
        .concat(),
    ));
    let editor = env.ws.root().join("edit.sh");
    fs::write(
        &editor,
        "#!/bin/sh\nexec perl -0pi -e 's/revisionHistoryLimit: 5/revisionHistoryLimit: 6/' \"$1\"\n",
    )
    .unwrap();
    fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let edited = env
        .cluster
        .kubectl()
        .env("KUBE_EDITOR", &editor)
        .args([&["edit"][..], &deploy].concat())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&edited.stdout).contains("edited"), "{edited:?}");
    let live = env.kubectl_json(&["-n", "kube-system", "get", "deployment", "cluster-autoscaler"]);
    assert_eq!((&live["spec"]["replicas"], &live["spec"]["revisionHistoryLimit"]), (&2.into(), &6.into()));
    assert!(
        live["metadata"]["annotations"].get("kubectl.kubernetes.io/last-applied-configuration").is_none()
    );

    // A server-side apply of the rendered file by another manager: a conflict, not the guard.
    let out = kubectl(&["apply", "--server-side", "-f", rendered.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("conflict"), "{stderr}");
    assert!(!stderr.contains(GUARD), "{stderr}");

    // Helm's objects are not ours: installed, upgraded and even applied client-side as before.
    let helm = |set: &str| {
        let out = env
            .cluster
            .helm()
            .args(["upgrade", "--install", "guarded", "--namespace", &env.ns, "--set", set])
            .arg(tiny_chart())
            .output()
            .unwrap();
        assert!(out.status.success(), "helm: {}", String::from_utf8_lossy(&out.stderr));
    };
    helm("a=1");
    helm("b=2");
    let config_map = ok(kubectl(&["-n", &env.ns, "get", "configmap", "guarded-tiny", "-o", "yaml"]));
    assert!(config_map.contains("keys: b,note"), "{config_map}");
    env.kubectl_apply(&format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: guarded-tiny, namespace: {}}}\ndata: {{keys: by-hand}}\n",
        env.ns
    ));

    // Off: guard.yaml holds no policy and says how to remove the one applied before.
    fs::write(env.ws.config(), fs::read_to_string(env.ws.config()).unwrap() + "kubectlApplyGuard: false\n")
        .unwrap();
    env.values();
    let text = fs::read_to_string(env.ws.out().join("guard.yaml")).unwrap();
    assert!(text.contains("is off:\n# the config says kubectlApplyGuard: false."), "{text}");
    let advice = text.lines().find_map(|l| l.strip_prefix("#   kubectl ")).expect("how to remove the guard");
    ok(kubectl(&advice.split(' ').collect::<Vec<_>>()));
    wait_for_guard(&env, &rendered, false);
    ok(kubectl(&["apply", "-f", rendered.to_str().unwrap()]));

    // Back on, objects that got kubectl's record meanwhile are not frozen: writes that leave the
    // record as it is go on (our apply, kubectl's commands, the controllers); a client-side apply
    // that changes it (another file) is refused.
    let config = fs::read_to_string(env.ws.config()).unwrap();
    fs::write(env.ws.config(), config.replace("kubectlApplyGuard: false\n", "")).unwrap();
    env.values();
    env.apply().stdout_contains(format!("ValidatingAdmissionPolicy/{GUARD} created")).run();
    let other = env.ws.root().join("other-autoscaler.yaml");
    fs::write(&other, fs::read_to_string(&rendered).unwrap().replace("--v=4", "--v=5")).unwrap();
    wait_for_guard(&env, &other, true);
    let live = env.kubectl_json(&["-n", "kube-system", "get", "deployment", "cluster-autoscaler"]);
    assert!(
        live["metadata"]["annotations"].get("kubectl.kubernetes.io/last-applied-configuration").is_some()
    );
    ok(kubectl(&[&["annotate"][..], &deploy, &["example.org/note=again", "--overwrite"]].concat()));
    ok(kubectl(&[&["scale", "--replicas=3"][..], &deploy].concat()));
    let out = kubectl(&["apply", "-f", other.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && stderr.contains("Deployment kube-system/cluster-autoscaler is managed by pangeo-render"),
        "{stderr}"
    );
}

/// A CONNECT proxy on loopback, as corporate proxies tunnel HTTPS: it records each CONNECT
/// target and connects it to 127.0.0.1 on the same port, whatever the host (so a server name
/// that does not resolve works only through it).
struct ConnectProxy {
    url: String,
    seen: std::sync::Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    fn start() -> ConnectProxy {
        use std::io::{BufRead, BufReader, Write};
        use std::net::{TcpListener, TcpStream};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let log = log.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(client.try_clone().unwrap());
                    let mut first = String::new();
                    if reader.read_line(&mut first).is_err() {
                        return;
                    }
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                            break;
                        }
                    }
                    let mut client = client;
                    let target = match first.split_whitespace().collect::<Vec<_>>()[..] {
                        ["CONNECT", target, _] => target.to_string(),
                        _ => {
                            let _ = client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n");
                            return;
                        }
                    };
                    log.lock().unwrap().push(target.clone());
                    let port = target.rsplit_once(':').map(|(_, p)| p.to_string()).unwrap_or_default();
                    let Ok(upstream) = TcpStream::connect(format!("127.0.0.1:{port}")) else {
                        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
                        return;
                    };
                    let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                    let (mut up_r, mut up_w) = (upstream.try_clone().unwrap(), upstream);
                    let mut client_w = client.try_clone().unwrap();
                    let buffered = reader.buffer().to_vec();
                    let _ = up_w.write_all(&buffered);
                    let mut client_r = reader.into_inner();
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut client_r, &mut up_w);
                        let _ = up_w.shutdown(std::net::Shutdown::Write);
                    });
                    let _ = std::io::copy(&mut up_r, &mut client_w);
                    let _ = client_w.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        ConnectProxy { url, seen }
    }

    fn connects(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// The test control plane's kubeconfig with the server renamed to `host` (kept valid for TLS
/// with tls-server-name), the user an exec plugin (tests/support/exec-credential) that logs each
/// run to `log`, and `extra` added to the cluster entry.
fn renamed_kubeconfig(env: &Env, name: &str, host: &str, extra: &str, log: &Path) -> PathBuf {
    let admin = fs::read_to_string(env.cluster.kubeconfig()).unwrap();
    let field = |key: &str| admin.lines().find_map(|l| l.trim().strip_prefix(key)).unwrap().to_string();
    let token_file = env.ws.root().join("token");
    fs::write(&token_file, field("token: ")).unwrap();
    let server = field("server: ");
    let port = server.rsplit_once(':').unwrap().1;
    let path = env.ws.root().join(format!("{name}.kubeconfig"));
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: work\n\
         clusters:\n- name: work\n  cluster:\n    server: https://{host}:{port}\n    tls-server-name: localhost\n    \
         certificate-authority-data: {ca}\n{extra}\
         contexts:\n- name: work\n  context: {{cluster: work, user: work}}\n\
         users:\n- name: work\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      \
         command: {plugin}\n      args: [eks, get-token]\n      env:\n      - {{name: PANGEO_TEST_TOKEN_FILE, value: {token}}}\n      \
         - {{name: PANGEO_TEST_EXEC_LOG, value: {log}}}\n      interactiveMode: Never\n",
        ca = field("certificate-authority-data: "),
        plugin = support::repo().join("tests/support/exec-credential").display(),
        token = token_file.display(),
        log = log.display(),
    );
    fs::write(&path, text).unwrap();
    path
}

/// An EKS kubeconfig's exec plugin (`aws eks get-token`, about a second) runs once per command,
/// also when the command runs helm: helm gets the token (`HELM_KUBETOKEN`, in its environment)
/// and client-go then leaves the plugin alone.
#[test]
fn the_exec_plugin_runs_once_per_command_helm_included() {
    let Some(env) = Env::new("exec-helm") else { return };
    env.values();
    env.pin_daskhub(&hub_chart(), "0.1.0");
    let log = env.ws.root().join("exec.log");
    let runs = || fs::read_to_string(&log).unwrap_or_default().lines().count();
    let kc = renamed_kubeconfig(&env, "eks", "localhost", "", &log);

    // apply --helm: the objects, then `helm upgrade --install` of both releases.
    let out = env.with_helm(env.on("apply", &kc).args(["--helm"])).run();
    assert_eq!(out.stdout.matches("running: helm upgrade --install").count(), 2, "{}", out.all());
    assert_eq!(runs(), 1, "{}", out.all());
    // The releases were installed through that token: helm reached the cluster.
    let status = env.cluster.helm().args(["status", "daskhub", "--namespace", &env.ns]).output().unwrap();
    assert!(String::from_utf8_lossy(&status.stdout).contains("STATUS: deployed"), "{status:?}");

    // diff with the upgrade preview: `helm template --dry-run=server` reads the cluster too.
    env.edit_config("maxWorkersPerCluster: 24", "maxWorkersPerCluster: 40");
    env.values();
    let report = env.report(env.with_helm(env.on("diff", &kc)));
    let preview = &release(&report, "daskhub")["preview"];
    assert!(preview["objects"].as_array().is_some_and(|o| !o.is_empty()), "no preview: {report}");
    assert_eq!(runs(), 2, "{report}");
}

/// HTTPS_PROXY and a kubeconfig's proxy-url are used as kubectl uses them, NO_PROXY too; the
/// server's name (`apiserver.invalid`) resolves nowhere, so only the proxy can reach it.
#[test]
fn requests_go_through_the_proxy_kubectl_would_use() {
    let Some(env) = Env::new("proxy") else { return };
    env.values();
    let proxy = ConnectProxy::start();
    let log = env.ws.root().join("exec.log");
    let runs = || fs::read_to_string(&log).unwrap_or_default().lines().count();
    // `diff` with the kubeconfig `kc` and none of the proxy settings of the environment.
    let diff = |kc: &Path| {
        ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"]
            .into_iter()
            .fold(env.on("diff", kc), Test::env_remove)
    };

    // HTTPS_PROXY from the environment.
    let kc = renamed_kubeconfig(&env, "env", "apiserver.invalid", "", &log);
    let out = diff(&kc).env("HTTPS_PROXY", &proxy.url).stdout_contains("StorageClass").expect_status(1).run();
    let port = fs::read_to_string(env.cluster.kubeconfig()).unwrap();
    let port =
        port.lines().find_map(|l| l.trim().strip_prefix("server: ")).unwrap().rsplit_once(':').unwrap().1;
    let target = format!("apiserver.invalid:{port}");
    let through = proxy.connects();
    assert!(!through.is_empty() && through.iter().all(|t| *t == target), "{through:?}");
    // The exec plugin (aws eks get-token) ran once for the whole command.
    assert_eq!(runs(), 1, "{}", out.all());

    // NO_PROXY naming the server: no CONNECT, so the name cannot be resolved.
    let before = proxy.connects().len();
    diff(&kc)
        .env("HTTPS_PROXY", &proxy.url)
        .env("NO_PROXY", "localhost, .invalid")
        .stderr_contains(format!("cannot reach the API server https://{target}"))
        .expect_status(2)
        .run();
    assert_eq!(proxy.connects().len(), before, "NO_PROXY was ignored");
    // An empty entry, which kubectl skips, is named (kube-rs cannot read it), and the advice works.
    diff(&kc)
        .env("HTTPS_PROXY", &proxy.url)
        .env("NO_PROXY", "localhost,,.invalid")
        .stderr_contains("NO_PROXY has an empty entry (a doubled or trailing comma)")
        .expect_status(2)
        .run();
    diff(&kc)
        .env("HTTPS_PROXY", &proxy.url)
        .env("NO_PROXY", "localhost,.invalid")
        .stderr_contains(format!("cannot reach the API server https://{target}"))
        .expect_status(2)
        .run();
    assert_eq!(proxy.connects().len(), before, "NO_PROXY was ignored");

    // The kubeconfig's proxy-url, with nothing in the environment.
    let extra = format!("    proxy-url: {}\n", proxy.url);
    let kc = renamed_kubeconfig(&env, "kc", "apiserver.invalid", &extra, &log);
    diff(&kc).expect_status(1).run();
    assert!(proxy.connects().len() > before, "{:?}", proxy.connects());
}

/// A failing exec plugin runs once and reads as kubectl's: the command, its exit code and its
/// stderr, never its stdout (where a credential would be); see also tests/server_faults.rs.
#[test]
fn a_failing_exec_plugin_runs_once_and_shows_its_exit_code_and_stderr_only() {
    let Some(env) = Env::new("execfail") else { return };
    let log = env.ws.root().join("exec.log");
    let kc = renamed_kubeconfig(&env, "fail", "127.0.0.1", "", &log);
    let out = env
        .on("diff", &kc)
        .env("PANGEO_TEST_EXEC_FAIL", "7f3a")
        .stderr_contains("exec credential plugin")
        .stderr_contains("failed (exit code 255):\nAn error occurred (ExpiredToken)")
        .stderr_contains("The security token included in the request is expired")
        .expect_status(2)
        .run();
    assert!(!out.stderr.contains("stdout-of-the-plugin") && !out.stdout.contains("stdout-of-the-plugin"));
    assert_eq!(fs::read_to_string(&log).unwrap().lines().count(), 1, "{}", out.all());
}

// ---- Secret-free values for GitOps (issue 15 item 2): secrets.inCluster. ----

#[test]
fn in_cluster_secrets_are_one_masked_secret_that_apply_creates_and_values_recovers() {
    use base64::Engine;
    let Some(mut env) = Env::new("incluster") else { return };
    env.edit_config("releases:\n", "secrets:\n  inCluster: true\nreleases:\n");
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let hub_values = pangeo_render::secrets::in_cluster::hub_values(password_hash());
    let stored = fs::read_to_string(env.ws.secrets_path()).unwrap();
    let token = env.secrets[1].clone();
    assert!(stored.contains(&token));
    // The Secret's data as a server error or a careless printer would quote it.
    env.secrets.extend([b64(&token), b64(&hub_values)]);
    env.values();
    let daskhub = env.ws.root().join("rendered/daskhub.yaml");
    let text = fs::read_to_string(&daskhub).unwrap();
    for s in &env.secrets {
        assert!(!text.contains(s.as_str()), "daskhub.yaml holds a secret:\n{text}");
    }
    assert!(text.contains("existingSecret: \"daskhub-secrets\""), "{text}");
    let secret_key = format!("v1.Secret.{}.daskhub-secrets", env.ns);

    // Not there yet: diff shows it as an addition, its data masked.
    let out = env
        .diff()
        .stdout_contains("hub.services.dask-gateway.apiToken: (sensitive value")
        .expect_status(1)
        .run();
    assert!(
        out.stdout
            .contains(&format!("--- live/{secret_key} (not in the cluster)\n+++ merged/{secret_key}\n")),
        "{}",
        out.all()
    );

    env.apply().stdout_contains(format!("Secret/daskhub-secrets (namespace {}) created", env.ns)).run();
    // On the server: what the charts read, owned by our field manager as an Apply.
    let live =
        env.kubectl_json(&["-n", &env.ns, "get", "secret", "daskhub-secrets", "--show-managed-fields"]);
    assert_eq!(live["data"]["hub.services.dask-gateway.apiToken"], b64(&token));
    assert_eq!(live["data"]["values.yaml"], b64(&hub_values));
    let managers: Vec<(&str, &str)> = live["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["manager"].as_str().unwrap(), m["operation"].as_str().unwrap()))
        .collect();
    assert_eq!(managers, [("pangeo-render", "Apply")]);
    assert_objects_in_sync(&env);

    // New tokens: the Secret changes, and only "(sensitive value changed)" says so.
    let old = fs::read(env.ws.secrets_path()).unwrap();
    env.write_secrets();
    // secrets::values order: proxy token, gateway token, hash.
    let new_token = env.secrets[env.secrets.len() - 2].clone();
    env.secrets.push(b64(&new_token));
    let out = env.diff().args(["-o", "json"]).expect_status(1).run();
    let changed: Vec<(String, String)> =
        actions(&out.report()).into_iter().filter(|(_, a)| a != "unchanged").collect();
    assert_eq!(changed, [("Secret/daskhub-secrets".to_string(), "update".to_string())], "{}", out.all());
    env.diff().stdout_contains("(sensitive value changed)").expect_status(1).run();
    fs::write(env.ws.secrets_path(), &old).unwrap();

    // A clone without the secrets file recovers them from the Secret: same daskhub.yaml, no diff.
    fs::remove_file(env.ws.secrets_path()).unwrap();
    env.recover(env.cluster.kubeconfig())
        .stderr_contains(format!(
            "recovered the tokens and the admin password hash from Secret/daskhub-secrets (namespace {})",
            env.ns
        ))
        .run();
    assert_eq!(fs::read_to_string(&daskhub).unwrap(), text);
    let recovered = fs::read_to_string(env.ws.secrets_path()).unwrap();
    assert!(
        recovered.contains(&token) && recovered.contains(password_hash()),
        "the deployed secrets were not recovered"
    );
    assert_objects_in_sync(&env);

    // The Secret gone: a clear error naming it, nothing written.
    fs::remove_file(env.ws.secrets_path()).unwrap();
    env.kubectl(&["-n", &env.ns, "delete", "secret", "daskhub-secrets"]);
    env.recover(env.cluster.kubeconfig())
        .stderr_contains(format!("there is no Secret/daskhub-secrets (namespace {})", env.ns))
        .expect_status(2)
        .run();
    assert!(!env.ws.secrets_path().exists());
}

/// The stand-in for the real DaskHub chart (fixtures/helm/daskhub-standin: the 37 objects and 5
/// hooks that DaskHub 2024.1.1 makes from our values, as the benchmark measures it): installed by
/// helm, `diff` finds it in sync (no drift from its thrice-mounted config volume or its unstored
/// zero probe delay), and the preview of a new notebook image tag names exactly the objects a
/// `helm upgrade` then changes.
#[test]
fn upgrade_preview_of_the_daskhub_standin_names_what_helm_then_changes() {
    let Some(env) = Env::new("standin") else { return };
    let chart = support::repo().join("fixtures/helm/daskhub-standin");
    let chart_arg = chart.display().to_string();
    env.pin_daskhub(&chart, "2024.1.1");
    env.values();
    let values = env.ws.root().join("rendered/daskhub.yaml").display().to_string();
    // Without hooks: the awaiter Job would wait for a Job controller the control plane does not run.
    let upgrade = |install: &str| {
        let mut args =
            vec!["upgrade", install, "daskhub", chart_arg.as_str(), "--namespace", env.ns.as_str()];
        args.retain(|a| !a.is_empty());
        env.helm_ok(&[&args[..], &["--no-hooks", "--values", &values]].concat());
    };
    upgrade("--install");
    env.apply().run();
    env.apply_helm().run();
    let helm = env.cluster.helm_path().display().to_string();
    env.diff().args(["--helm", &helm]).expect_stdout("").run();

    // New notebook and Dask images, as the benchmark changes them.
    env.edit_config("tag: \"2023.10.28\"}\n    cpu", "tag: \"2024.01.01\"}\n    cpu");
    env.edit_config("base-notebook, tag: \"2023.10.28\"}", "base-notebook, tag: \"2024.01.01\"}");
    env.values();
    let report = env.report(env.diff().args(["--helm", &helm]));
    let preview = &release(&report, "daskhub")["preview"];
    let objects = preview["objects"].as_array().unwrap();
    assert_eq!((objects.len(), preview["hooks"].as_array().unwrap().len()), (37, 5), "{preview}");
    let changed: std::collections::BTreeSet<String> = objects
        .iter()
        .filter(|o| o["action"] != "unchanged")
        .map(|o| o["object"].as_str().unwrap().split(" (namespace").next().unwrap().to_string())
        .collect();
    let expected: std::collections::BTreeSet<String> = [
        "ConfigMap/api-daskhub-dask-gateway",
        "ConfigMap/hub",
        "DaemonSet/continuous-image-puller",
        "Deployment/api-daskhub-dask-gateway",
        "Deployment/hub",
        "Secret/hub",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(changed, expected, "{preview}");

    let kinds = "deployments,daemonsets,statefulsets,services,configmaps,secrets,serviceaccounts,roles,\
                 rolebindings,networkpolicies,persistentvolumeclaims,poddisruptionbudgets,\
                 ingressroutes.traefik.io,middlewares.traefik.io";
    let before = env.objects_of(kinds);
    upgrade("");
    let after = env.objects_of(kinds);
    assert_eq!(before.len(), after.len());
    let really: std::collections::BTreeSet<String> =
        after.iter().filter(|(k, v)| before.get(*k) != Some(*v)).map(|(k, _)| k.clone()).collect();
    assert_eq!(really, expected);
}

impl Env {
    /// Every object of `kinds` (kubectl's comma-separated list) in the namespace, bookkeeping
    /// dropped, by `Kind/name`; helm's release Secrets and the namespace's defaults left out.
    fn objects_of(&self, kinds: &str) -> std::collections::BTreeMap<String, Value> {
        let list = self.kubectl_json(&["-n", &self.ns, "get", kinds]);
        let mut out = std::collections::BTreeMap::new();
        for mut item in list["items"].as_array().unwrap().iter().cloned() {
            let name = item["metadata"]["name"].as_str().unwrap().to_string();
            if name.starts_with("sh.helm.release.") || name == "kube-root-ca.crt" || name == "default" {
                continue;
            }
            let kind = item["kind"].as_str().unwrap().to_string();
            let meta = item["metadata"].as_object_mut().unwrap();
            for k in ["managedFields", "resourceVersion", "generation", "uid", "creationTimestamp"] {
                meta.remove(k);
            }
            item.as_object_mut().unwrap().remove("status");
            out.insert(format!("{kind}/{name}"), item);
        }
        out
    }
}

/// A kept option handler (`daskGateway.optionHandler`) as Helm reads it: whatever the text's shape
/// (no final newline, blank lines around it, trailing spaces, tabs, carriage returns, a `#`), the
/// real helm hands the chart exactly the file's text — the stand-in chart writes
/// `dask-gateway.gateway.extraConfig` into a ConfigMap as the gateway reads it. No cluster object
/// is made: `helm template` is offline.
#[test]
fn a_kept_option_handler_reaches_the_chart_byte_for_byte() {
    let Some(cluster) = TestCluster::try_get() else { return };
    let texts = support::awkward_handler_texts();
    let config = fs::read_to_string(support::fixture("imported")).unwrap();
    for (i, text) in texts.iter().enumerate() {
        let out = Test::new()
            .config(&config)
            .file("gateway-options.py", text)
            .fixed_secrets("pangeo.yaml")
            .args(["values"])
            .run();
        let template = cluster
            .helm()
            .args(["template", "kept", &hub_chart().display().to_string(), "--show-only"])
            .args(["templates/gateway-configmap.yaml", "-f"])
            .arg(out.path("rendered/daskhub.yaml"))
            .output()
            .unwrap();
        let stdout = String::from_utf8(template.stdout).unwrap();
        assert!(template.status.success(), "text {i}: {}", String::from_utf8_lossy(&template.stderr));
        let map: Value = serde_saphyr::from_str(&stdout).unwrap();
        assert_eq!(map["data"]["optionHandler.py"].as_str(), Some(text.as_str()), "text {i}:\n{stdout}");
    }
}
