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
    let conn = kube::connect(c.kubeconfig.as_deref(), c.context.as_deref()).await?;
    Ok(Cluster::new(conn))
}

/// Loads and renders the config on a second thread while this one reads the kubeconfig, opens
/// the connection (TCP and TLS handshake) and lists the StorageClasses: rendering is CPU work
/// that would otherwise come first and leave the network idle. Problems in the user's files are reported before
/// problems reaching the cluster.
pub fn render_and_connect(
    c: &ClusterArgs,
    rt: &tokio::runtime::Runtime,
) -> Result<(Loaded, Secrets, Vec<Artifact>, Cluster)> {
    std::thread::scope(|s| {
        let render = s.spawn(|| render_existing(&c.config, c.secrets.as_deref(), c.charts.as_deref()));
        let cluster = rt.block_on(async {
            let mut cluster = connect(c).await?;
            cluster.warm_up(plan::concurrency()).await;
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
