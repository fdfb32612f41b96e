//! The first half of `diff` and `apply`, shared: a [`Session`] renders the config in memory while
//! connecting to the cluster (and proving it is the config's), and holds what both commands then
//! work from — the objects, the Helm releases, the masker for every secret, the deadline. Cluster
//! errors become messages that say as whom and mask every secret.

use std::io::Write;

use crate::cli::ClusterArgs;
use crate::commands::render_loaded;
use crate::config::{Config, Loaded};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::helm;
use crate::kube::identity::{self, Expected, Verdict};
use crate::kube::{self, Cluster, ClusterError};
use crate::plan::{self, Release};
use crate::render::Artifact;
use crate::secrets::Secrets;
use crate::secrets::mask::Masker;

/// A single-threaded runtime: the work is a few requests on one or two connections.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Cluster(format!("cannot start the async runtime: {e}")))
}

/// The context of `--context`, else the config's `cluster.kubeContext`, else the current one.
pub fn target(c: &ClusterArgs, config_context: Option<&str>) -> Result<kube::Target> {
    refuse_stdin_kubeconfig(c)?;
    kube::target(c.kubeconfig.as_deref(), c.context.as_deref().or(config_context))
}

/// `--kubeconfig -` is refused: a kubeconfig is a file, as kubectl and helm read it.
fn refuse_stdin_kubeconfig(c: &ClusterArgs) -> Result<()> {
    match &c.kubeconfig {
        Some(p) => fsutil::refuse_stdio(
            "--kubeconfig",
            p,
            "a kubeconfig is read from a file (as kubectl and helm do); give its path",
        ),
        None => Ok(()),
    }
}

/// The one deadline of a command's cluster work (`--timeout`), on top of each request's own
/// `--request-timeout`; it starts when the command does.
pub struct Deadline {
    at: Option<tokio::time::Instant>,
    limit: std::time::Duration,
}

impl Deadline {
    pub fn start(c: &ClusterArgs) -> Self {
        let limit = c.timeout;
        Deadline { at: crate::cli::limit(limit).map(|l| tokio::time::Instant::now() + l), limit }
    }

    /// Runs `work` on `rt`, giving up at the deadline. `server` is named when known.
    pub fn run<T>(
        &self,
        rt: &tokio::runtime::Runtime,
        server: Option<&str>,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let Some(at) = self.at else { return rt.block_on(work) };
        rt.block_on(async {
            tokio::time::timeout_at(at, work).await.unwrap_or_else(|_| {
                let server = server.map(|s| format!(" {s}")).unwrap_or_default();
                Err(Error::Cluster(format!(
                    "the cluster work did not finish within {} (--timeout): the API server{server} answers too slowly \
                     or not at all; check that it is up and reachable, or allow more time with --timeout",
                    crate::kube::api::human(self.limit)
                )))
            })
        })
    }
}

/// Connects to the cluster of `cfg` (the config `c.config`) and establishes that it is that
/// cluster, or refuses ([`identity`]): through `--context`, else the config's
/// `cluster.kubeContext`, else the current context; the context's own claim is checked before its
/// credentials are fetched (before an exec plugin such as `aws eks get-token` runs), then the identity
/// record before any other request. A cluster nothing identifies is allowed and named in `err`.
pub async fn connect_to(
    c: &ClusterArgs,
    cfg: &Config,
    applying: bool,
    err: &mut dyn Write,
) -> Result<Cluster> {
    let expected = Expected::of(cfg);
    let config_name = c.config.display().to_string();
    let target = target(c, cfg.cluster.kube_context.as_deref())?;
    identity::check_claim(&expected, &target.claim, &target.context, &config_name).map_err(Error::Cluster)?;
    let conn = kube::open(target, crate::cli::limit(c.request_timeout)).await?;
    let cluster = Cluster::new(conn);
    // Nothing secret is known yet, and reading one ConfigMap quotes no request body.
    let record = cluster
        .get(&identity::record_ref())
        .await
        .map_err(|e| cluster_error(&cluster, &e, &Masker::default()))?;
    let conn = &cluster.conn;
    let verdict =
        identity::check_record(&expected, &conn.claim, record.as_ref(), &conn.context, &config_name)
            .map_err(Error::Cluster)?;
    if verdict == Verdict::Unproven {
        let _ =
            writeln!(err, "{}", identity::unproven_note(&expected, &conn.context, &conn.server, applying));
    }
    Ok(cluster)
}

/// Loads the config, then checks and renders it on a second thread while this one reads the
/// kubeconfig, checks that the context is the config's cluster ([`identity`]: the context's own
/// claim before its credentials are fetched, then the identity record before any other request),
/// opens the connections and lists the StorageClasses: the schema check, the rendering and the
/// reading of what it rendered (objects, release values) are CPU work (the schema's validator
/// alone takes milliseconds to build) that would otherwise come first and leave the network
/// idle. The connection needs only the context and the cluster's identity, which the typed
/// config holds before its check. Problems in the user's files are reported before problems
/// reaching the cluster; the rules' warnings before the notes of the connection (an unproven
/// cluster), both to `err`.
fn render_and_connect(
    c: &ClusterArgs,
    rt: &tokio::runtime::Runtime,
    deadline: &Deadline,
    applying: bool,
    err: &mut dyn Write,
) -> Result<(Loaded, Rendered, Cluster)> {
    // Usage errors before a config on stdin is read.
    crate::commands::secrets_file(&c.config, c.secrets.as_deref())?;
    refuse_stdin_kubeconfig(c)?;
    let unchecked = crate::config::load_unchecked(&c.config)?;
    let config = unchecked.config().clone();
    let mut notes = Vec::new();
    // A config that fails its check stops the connection where it is (an exec plugin such as
    // `aws eks get-token` can take seconds).
    let (refused, stop) = tokio::sync::oneshot::channel::<()>();
    let (rendered, cluster) = std::thread::scope(|s| {
        let render = s.spawn(|| {
            let checked = unchecked.check().and_then(|l| crate::commands::checked(l, &[]));
            let loaded = checked.inspect_err(|_| {
                let _ = refused.send(());
            })?;
            crate::trace::mark(|| "config checked".into());
            let rendered = render_loaded(&loaded, &c.config, c.secrets.as_deref(), c.charts.as_deref())
                .and_then(|(secrets, artifacts)| Rendered::of(&loaded, &secrets, &artifacts));
            crate::trace::mark(|| "rendered".into());
            Ok::<_, Error>((loaded, rendered))
        });
        let connect = async {
            let mut cluster = connect_to(c, &config, applying, &mut notes).await?;
            // Nothing secret is known yet (the config renders on the other thread), and a
            // warm-up error is about reaching the server, which quotes no request body.
            let masker = Masker::default();
            // The Helm releases' Secrets are what diff and apply read first.
            let releases = &config.releases;
            let ahead: Vec<_> = [&releases.ebs_csi_driver, &releases.daskhub]
                .into_iter()
                .map(|r| crate::diff::release_secrets(&r.name, &r.namespace))
                .collect();
            cluster
                .warm_up(plan::concurrency(), &ahead)
                .await
                .map_err(|e| cluster_error(&cluster, &e, &masker))?;
            Ok::<_, Error>(cluster)
        };
        let cluster = deadline.run(rt, None, async {
            tokio::select! {
                cluster = connect => cluster,
                Ok(()) = stop => Err(Error::Cluster("not connected: the config has problems".into())),
            }
        });
        crate::trace::mark(|| "connected and warmed up".into());
        match render.join() {
            Ok(rendered) => (rendered, cluster),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    // A config that fails its check: the connection (made meanwhile) and its notes are dropped.
    let (loaded, rendered) = rendered?;
    // The rules' warnings, as `values` and `validate` print them, then what connecting noted.
    crate::diag::write_text(err, &loaded.warnings).ok();
    err.write_all(&notes).ok();
    Ok((loaded, rendered?, cluster?))
}

/// What the render of a config gives `diff` and `apply`.
struct Rendered {
    objects: Vec<serde_json::Value>,
    masker: Masker,
    releases: Vec<Release>,
}

impl Rendered {
    fn of(loaded: &Loaded, secrets: &Secrets, artifacts: &[Artifact]) -> Result<Rendered> {
        let (objects, masker) = objects(loaded, secrets, artifacts)?;
        let releases = plan::releases(loaded, artifacts)?;
        Ok(Rendered { objects, masker, releases })
    }
}

/// What `diff` and `apply` work from, made once by [`Session::open`].
pub struct Session {
    pub rt: tokio::runtime::Runtime,
    /// The one deadline of the command's cluster work.
    pub deadline: Deadline,
    pub loaded: Loaded,
    /// Connected, and proven to be the config's cluster (or named as unproven).
    pub cluster: Cluster,
    /// Masks every secret of the rendered deployment, in whatever the server or helm says.
    pub masker: Masker,
    /// The Kubernetes objects, in apply order.
    pub objects: Vec<serde_json::Value>,
    /// The Helm releases, in install order.
    pub releases: Vec<Release>,
    /// How helm reaches the same cluster: the kubeconfig and context of our own requests.
    pub helm_target: helm::command::Target,
}

impl Session {
    /// Renders `c.config` (secrets resolved in memory, nothing written) and connects to its
    /// cluster ([`render_and_connect`]). `applying` only changes the note about an unproven
    /// cluster, written to `err` with the rules' warnings.
    pub fn open(c: &ClusterArgs, applying: bool, err: &mut dyn Write) -> Result<Session> {
        let rt = runtime()?;
        let deadline = Deadline::start(c);
        let (loaded, Rendered { objects, masker, releases }, cluster) =
            render_and_connect(c, &rt, &deadline, applying, err)?;
        let helm_target = helm::command::Target {
            kubeconfig: c.kubeconfig.clone(),
            context: c.context.clone().or_else(|| loaded.config.cluster.kube_context.clone()),
            token: cluster.conn.exec_token.clone(),
            api_server: None,
        };
        Ok(Session { rt, deadline, loaded, cluster, masker, objects, releases, helm_target })
    }
}

/// Every Kubernetes object `diff` and `apply` work on, in apply order: the rendered manifests,
/// the identity record and, with `secrets.inCluster`, the namespace and Secret that hold the
/// deployed secrets (built in memory, never written to a file). And the masker that knows every
/// secret in every form a message could quote it (the Secret's base64 data too).
fn objects(
    loaded: &Loaded,
    secrets: &Secrets,
    artifacts: &[Artifact],
) -> Result<(Vec<serde_json::Value>, Masker)> {
    let extra = crate::render::in_cluster::objects(&loaded.config, secrets);
    let encoded = crate::render::in_cluster::encoded_forms(&extra);
    let masker =
        Masker::new(crate::secrets::values(secrets).into_iter().chain(encoded.iter().map(String::as_str)));
    let mut objects = plan::manifests(artifacts)?;
    objects.push(Expected::of(&loaded.config).record());
    objects.extend(extra);
    Ok((plan::order(objects), masker))
}

/// A cluster error as the user sees it: what failed, and as whom when the server refused; every
/// known secret masked (the server's messages may quote the request).
pub fn cluster_error(cluster: &Cluster, e: &ClusterError, masker: &Masker) -> Error {
    Error::Cluster(masker.text(&describe(cluster, e)))
}

pub fn describe(cluster: &Cluster, e: &ClusterError) -> String {
    let mut msg = e.to_string();
    if e.is_forbidden() || e.code() == 401 {
        msg.push_str(&format!("\n  identity: {}", cluster.conn.identity()));
    }
    msg
}
