//! The first half of `diff` and `apply`: render the config in memory while connecting to the
//! cluster, and turn cluster errors into messages that say as whom and mask every secret.

use crate::cli::ClusterArgs;
use crate::commands::render_existing;
use crate::config::Loaded;
use crate::error::{Error, Result};
use crate::kube::{self, Cluster, ClusterError};
use crate::plan;
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

pub async fn connect(c: &ClusterArgs) -> Result<Cluster> {
    let conn =
        kube::connect(c.kubeconfig.as_deref(), c.context.as_deref(), crate::cli::limit(c.request_timeout))
            .await?;
    Ok(Cluster::new(conn))
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

/// Loads and renders the config on a second thread while this one reads the kubeconfig, opens
/// the connection (TCP and TLS handshake) and lists the StorageClasses: rendering is CPU work
/// that would otherwise come first and leave the network idle. Problems in the user's files are reported before
/// problems reaching the cluster.
pub fn render_and_connect(
    c: &ClusterArgs,
    rt: &tokio::runtime::Runtime,
    deadline: &Deadline,
) -> Result<(Loaded, Secrets, Vec<Artifact>, Cluster)> {
    std::thread::scope(|s| {
        let render = s.spawn(|| render_existing(&c.config, c.secrets.as_deref(), c.charts.as_deref()));
        let cluster = deadline.run(rt, None, async {
            let mut cluster = connect(c).await?;
            // Nothing secret is known yet (the config renders on the other thread), and a
            // warm-up error is about reaching the server, which quotes no request body.
            let masker = Masker::default();
            cluster.warm_up(plan::concurrency()).await.map_err(|e| cluster_error(&cluster, &e, &masker))?;
            Ok::<_, Error>(cluster)
        });
        let (loaded, secrets, artifacts) = match render.join() {
            Ok(r) => r?,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        Ok((loaded, secrets, artifacts, cluster?))
    })
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
