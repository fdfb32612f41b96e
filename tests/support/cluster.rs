//! A real Kubernetes control plane (etcd + kube-apiserver) for integration tests.
//!
//! Include it in a test crate with
//!
//! ```ignore
//! #[path = "support/cluster.rs"]
//! mod cluster;
//! use cluster::TestCluster;
//! ```
//!
//! `TestCluster::get()` returns one handle per test binary:
//!
//! * If `PANGEO_TEST_KUBECONFIG` is set (as `.ci/run` does after
//!   `scripts/test-cluster up`), that cluster is reused by every test binary.
//!   `KUBECONFIG` is accepted too, but only when it points into a state dir made
//!   by `scripts/test-cluster` (so a developer's real cluster is never touched).
//! * Otherwise the first call runs `scripts/test-cluster up --dir
//!   target/test-cluster-<binary>-<pid> --watch-pid <our pid>`, building the binaries
//!   first if they are not cached. Rust runs no destructors for statics, so the
//!   script's watchdog stops that cluster and removes its dir within about a second
//!   after this test binary exits, however it exits.
//!
//! Only two controllers run (ClusterRole aggregation, so `view`/`edit`/`admin` have
//! rules, and namespace deletion): objects are stored, validated and admitted, but
//! nothing schedules or reconciles them (no pods, no garbage collection). Each test
//! gets its own namespace from [`TestCluster::namespace`] and need not clean it up;
//! a test cluster is thrown away whole.
//!
//! `PANGEO_SKIP_CLUSTER_TESTS=1` (`scripts/test --no-cluster`) switches cluster tests
//! off: tests that use [`TestCluster::try_get`] then return early.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// A handle to the test control plane shared by all tests in this binary.
pub struct TestCluster {
    /// The state dir of `scripts/test-cluster` (certs, logs, kubeconfigs).
    dir: PathBuf,
    /// Admin kubeconfig (group `system:masters`).
    kubeconfig: PathBuf,
    kubectl: PathBuf,
    helm: PathBuf,
    /// Kubeconfigs of the identities made so far, by user name.
    users: Mutex<HashMap<String, PathBuf>>,
}

static CLUSTER: OnceLock<Result<TestCluster, String>> = OnceLock::new();
static NAMESPACE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// `scripts/test-cluster` of this repository.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/test-cluster")
}

/// Runs `scripts/test-cluster ARGS`, returning its stdout (trimmed) or an error that
/// includes its stderr. Progress on stderr is passed through when `show_progress`.
fn run_script(args: &[&str], show_progress: bool) -> Result<String, String> {
    let mut cmd = Command::new(script());
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped());
    cmd.stderr(if show_progress { Stdio::inherit() } else { Stdio::piped() });
    let out = cmd.output().map_err(|e| format!("cannot run {}: {e}", script().display()))?;
    if !out.status.success() {
        return Err(format!(
            "`scripts/test-cluster {}` failed ({}){}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// The kubeconfig of an already running test cluster, if the environment names one.
fn kubeconfig_from_env() -> Option<PathBuf> {
    if let Some(kc) = env_path("PANGEO_TEST_KUBECONFIG") {
        return Some(kc);
    }
    // Plain KUBECONFIG only when it is a single file inside a test-cluster state dir.
    let kc = env_path("KUBECONFIG")?;
    let is_test_cluster = kc.parent().is_some_and(|d| d.join("test-cluster.state").is_file());
    is_test_cluster.then_some(kc)
}

impl TestCluster {
    /// The control plane for this test binary: reused from the environment, or
    /// started on first use. Panics with the script's output if it cannot start.
    pub fn get() -> &'static TestCluster {
        assert!(!Self::skipped(), "PANGEO_SKIP_CLUSTER_TESTS is set; use TestCluster::try_get() to skip");
        CLUSTER
            .get_or_init(TestCluster::start)
            .as_ref()
            .unwrap_or_else(|e| panic!("test cluster unavailable: {e}"))
    }

    /// Like [`TestCluster::get`], but `None` when `PANGEO_SKIP_CLUSTER_TESTS` is set
    /// (`scripts/test --no-cluster`), so a test can return early instead.
    pub fn try_get() -> Option<&'static TestCluster> {
        if Self::skipped() {
            // Straight to the terminal, past the harness's capture: a skip must never pass quietly.
            use std::io::Write;
            let name = std::thread::current().name().unwrap_or("a cluster test").to_string();
            let _ = writeln!(std::io::stderr(), "SKIPPED {name}: PANGEO_SKIP_CLUSTER_TESTS is set");
            return None;
        }
        Some(Self::get())
    }

    /// Whether cluster tests are switched off for this run.
    pub fn skipped() -> bool {
        std::env::var_os("PANGEO_SKIP_CLUSTER_TESTS").is_some_and(|v| !v.is_empty() && v != "0")
    }

    fn start() -> Result<TestCluster, String> {
        let kubeconfig = match kubeconfig_from_env() {
            Some(kc) => {
                if !kc.is_file() {
                    return Err(format!("test kubeconfig {} does not exist", kc.display()));
                }
                kc
            }
            None => {
                let dir = own_state_dir();
                let dir_arg = dir.to_string_lossy().into_owned();
                let pid = std::process::id().to_string();
                eprintln!("starting a test control plane in {dir_arg}");
                run_script(&["up", "--dir", &dir_arg, "--watch-pid", &pid], true)?;
                dir.join("kubeconfig")
            }
        };
        let dir = kubeconfig
            .parent()
            .map(Path::to_path_buf)
            .ok_or_else(|| format!("bad kubeconfig path {}", kubeconfig.display()))?;
        let tool = |env: &str, name: &str| -> Result<PathBuf, String> {
            match env_path(env) {
                Some(p) => Ok(p),
                None => run_script(&["path", name], false).map(PathBuf::from),
            }
        };
        let cluster = TestCluster {
            kubectl: tool("PANGEO_KUBECTL", "kubectl")?,
            helm: tool("PANGEO_HELM", "helm")?,
            dir,
            kubeconfig,
            users: Mutex::new(HashMap::new()),
        };
        // Fail once, clearly, when a reused cluster is gone, instead of in every test.
        let readyz = cluster
            .kubectl()
            .args(["get", "--raw", "/readyz", "--request-timeout=10s"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", cluster.kubectl.display()))?;
        if !readyz.status.success() {
            return Err(format!(
                "the test cluster of {} is not ready: {}",
                cluster.kubeconfig.display(),
                String::from_utf8_lossy(&readyz.stderr).trim()
            ));
        }
        Ok(cluster)
    }

    /// The admin kubeconfig (user `admin`, group `system:masters`).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The state dir of the control plane (logs: `etcd.log`, `kube-apiserver.log`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The kubectl built for the cluster's Kubernetes version.
    pub fn kubectl_path(&self) -> &Path {
        &self.kubectl
    }

    /// The helm (v3) built by `scripts/test-cluster build`.
    pub fn helm_path(&self) -> &Path {
        &self.helm
    }

    /// A `kubectl` command with the admin kubeconfig.
    pub fn kubectl(&self) -> Command {
        let mut cmd = Command::new(&self.kubectl);
        cmd.env("KUBECONFIG", &self.kubeconfig);
        cmd
    }

    /// A `helm` command with the admin kubeconfig, its config and cache kept in the
    /// cluster's state dir.
    pub fn helm(&self) -> Command {
        let mut cmd = Command::new(&self.helm);
        cmd.env("KUBECONFIG", &self.kubeconfig)
            .env("HELM_CONFIG_HOME", self.dir.join("helm/config"))
            .env("HELM_CACHE_HOME", self.dir.join("helm/cache"))
            .env("HELM_DATA_HOME", self.dir.join("helm/data"));
        cmd
    }

    /// Runs kubectl as admin with `args` and returns its output; panics on failure.
    pub fn kubectl_ok(&self, args: &[&str]) -> Output {
        let out = self.kubectl().args(args).stdin(Stdio::null()).output().expect("run kubectl");
        assert!(
            out.status.success(),
            "kubectl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Creates a namespace with a unique name starting with `prefix` (made into a
    /// DNS label) and returns the name. Unique across tests, binaries and runs that
    /// share one cluster, so tests can run in parallel without seeing each other.
    pub fn namespace(&self, prefix: &str) -> String {
        let name = unique_name(prefix);
        self.kubectl_ok(&["create", "namespace", &name]);
        name
    }

    /// A kubeconfig for the client-certificate identity `user`, bound cluster-wide to
    /// `cluster_role` when given (e.g. `Some("view")`). Made once per name.
    pub fn user_kubeconfig(&self, user: &str, cluster_role: Option<&str>) -> PathBuf {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(kc) = users.get(user) {
            return kc.clone();
        }
        let dir = self.dir.to_string_lossy().into_owned();
        let mut args = vec!["user", "--dir", dir.as_str(), user];
        args.extend(cluster_role);
        let kc = run_script(&args, false)
            .map(PathBuf::from)
            .unwrap_or_else(|e| panic!("cannot make test user {user}: {e}"));
        users.insert(user.to_owned(), kc.clone());
        kc
    }

    /// A client as admin. Make one per test: a `kube::Client` is tied to the tokio
    /// runtime it was made on, and every `#[tokio::test]` has its own.
    pub async fn admin_client(&self) -> kube::Client {
        client_from(&self.kubeconfig).await
    }

    /// A client as `viewer`, bound to the built-in ClusterRole `view`: it may read
    /// namespaced objects everywhere and may write nothing.
    pub async fn viewer_client(&self) -> kube::Client {
        client_from(&self.user_kubeconfig("viewer", Some("view"))).await
    }

    /// A client as `reader`, an authenticated user with no RBAC bindings at all.
    pub async fn reader_client(&self) -> kube::Client {
        client_from(&self.user_kubeconfig("reader", None)).await
    }

    /// A client for any identity made by [`TestCluster::user_kubeconfig`].
    pub async fn user_client(&self, user: &str, cluster_role: Option<&str>) -> kube::Client {
        client_from(&self.user_kubeconfig(user, cluster_role)).await
    }
}

/// `<repo>/target/test-cluster-<test binary>-<pid>`: one state dir per test process.
fn own_state_dir() -> PathBuf {
    let exe = std::env::current_exe().ok();
    let stem = exe
        .as_deref()
        .and_then(Path::file_stem)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "tests".to_owned());
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(format!("test-cluster-{stem}-{}", std::process::id()))
}

/// `prefix` as a DNS label, plus a suffix from the pid, the time and a counter.
pub fn unique_name(prefix: &str) -> String {
    let mut base: String = prefix
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    base.truncate(40);
    let base = base.trim_matches('-');
    let base = if base.is_empty() { "test" } else { base };
    let n = NAMESPACE_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{base}-{:x}{:04x}-{n}", std::process::id(), nanos & 0xffff)
}

/// A `kube::Client` from a kubeconfig file.
pub async fn client_from(kubeconfig: &Path) -> kube::Client {
    let file = kube::config::Kubeconfig::read_from(kubeconfig)
        .unwrap_or_else(|e| panic!("read {}: {e}", kubeconfig.display()));
    let config = kube::Config::from_custom_kubeconfig(file, &Default::default())
        .await
        .unwrap_or_else(|e| panic!("load {}: {e}", kubeconfig.display()));
    kube::Client::try_from(config).expect("kube client from test kubeconfig")
}
