//! `pangeo-render diff`: what `apply` would change in the live cluster.
//!
//! Renders in memory, then compares every Kubernetes object (live vs. server-side apply
//! dry-run) and every Helm release (deployed user-supplied values vs. the rendered values file).
//! Exit 0 when nothing differs, 1 when something does, 2 on any error — as `kubectl diff`.

use std::io::Write;

use crate::cli::{ClusterArgs, DiffArgs};
use crate::commands::render_existing;
use crate::config::Loaded;
use crate::diff::mask::Masker;
use crate::diff::pair;
use crate::diff::{self, ObjectReport, Report};
use crate::error::{Error, Result};
use crate::kube::{self, Cluster, ClusterError, run_all};
use crate::render::Artifact;
use crate::report::Format;
use crate::secrets::{self, Secrets};

pub fn run(args: &DiffArgs) -> Result<i32> {
    let c = &args.cluster;
    let rt = runtime()?;
    let (loaded, secrets, artifacts, mut cluster) = render_and_connect(c, &rt)?;
    let masker = Masker::new(secrets::values(&secrets));
    let manifests = diff::manifests(&artifacts)?;
    let targets = diff::release_targets(&loaded.config, &artifacts)?;

    let report = rt.block_on(async {
        let plan = pair::plan(&mut cluster, manifests, false)
            .await
            .map_err(|e| cluster_error(&cluster, &e, &masker))?;
        let objects: Vec<ObjectReport> = plan.iter().map(|p| ObjectReport::of(p, &masker)).collect();
        let jobs: Vec<_> = targets.iter().map(|t| diff::release(&cluster, t, &masker)).collect();
        let mut releases = Vec::new();
        for r in run_all(jobs, pair::concurrency()).await {
            releases.push(r.map_err(|e| cluster_error(&cluster, &e, &masker))?);
        }
        Ok::<_, Error>(Report::new(objects, releases))
    })?;

    match args.format {
        Format::Json => {
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &report).map_err(|e| Error::io("<stdout>", e.into()))?;
            writeln!(out).map_err(|e| Error::io("<stdout>", e))?;
        }
        Format::Text => {
            let mut out = anstream::stdout().lock();
            report.write_text(&mut out).map_err(|e| Error::io("<stdout>", e))?;
            let _ = writeln!(anstream::stderr(), "{}", report.summary());
        }
    }
    Ok(if report.differences { 1 } else { 0 })
}

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
            cluster.warm_up(pair::concurrency()).await;
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
