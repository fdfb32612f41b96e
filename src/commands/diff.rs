//! `pangeo-render diff`: what `apply` would change in the live cluster.
//!
//! Renders in memory, then compares every Kubernetes object (live vs. server-side apply
//! dry-run) and every Helm release (deployed user-supplied values vs. the rendered values file).
//! Exit 0 when nothing differs, 1 when something does, 2 on any error — as `kubectl diff`.

use std::io::Write;

use crate::cli::DiffArgs;
use crate::commands::session::{Session, cluster_error};
use crate::diag::Output;
use crate::diff::preview;
use crate::diff::{self, ObjectReport, ReleaseReport, Report};
use crate::error::{Error, Result};
use crate::kube::{Cluster, ClusterError};
use crate::plan::{self, Release};

/// Diffs `args.cluster.config`; the report goes to `out`, notes and the summary to `err`.
/// Returns the exit code and the one-line summary.
pub fn run(args: &DiffArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<(i32, String)> {
    let Session {
        rt, deadline, mut cluster, masker, objects: manifests, releases: targets, helm_target, ..
    } = Session::open(&args.cluster, false, err)?;
    let server = cluster.conn.server.clone();
    let helm = args.helm.clone().or_else(crate::helm::command::find_helm);
    let report = deadline.run(&rt, Some(&server), async {
        // Releases: read and compared first (a list request each); helm starts rendering those
        // that differ at once, on threads, while the Kubernetes objects are planned and the
        // drift check reads the releases' objects.
        let mut releases = Vec::new();
        for t in &targets {
            let r = diff::read_and_compare(&cluster, t, &masker).await;
            releases.push(r.map_err(|e| cluster_error(&cluster, &e, &masker))?);
        }
        let kube_version = match (&helm, releases.iter().any(ReleaseReport::wants_preview)) {
            (Some(_), true) => {
                Some(server_version(&cluster).await.map_err(|e| cluster_error(&cluster, &e, &masker))?)
            }
            _ => None,
        };
        let spawn = |t: &Release, r: &ReleaseReport| {
            let (helm, kube_version) = (helm.clone()?, kube_version.as_deref()?);
            r.wants_preview().then(|| {
                let args = t.template_args(kube_version, r.state != "not-installed", &helm_target);
                preview::spawn_template(
                    helm,
                    t.values_text.clone(),
                    masker.clone(),
                    args,
                    helm_target.clone(),
                )
            })
        };
        let mut renders: Vec<_> = targets.iter().zip(&releases).map(|(t, r)| spawn(t, r)).collect();
        let plan = plan::plan(&mut cluster, manifests, false)
            .await
            .map_err(|e| cluster_error(&cluster, &e, &masker))?;
        let objects: Vec<ObjectReport> = plan.iter().map(|p| ObjectReport::of(p, &masker)).collect();
        for r in releases.iter_mut() {
            let drift = diff::check_drift(&mut cluster, r, &masker).await;
            drift.map_err(|e| cluster_error(&cluster, &e, &masker))?;
        }
        for (i, (t, r)) in targets.iter().zip(releases.iter_mut()).enumerate() {
            // A release that differs only by drift: its render starts now.
            let Some(render) = renders[i].take().or_else(|| spawn(t, r)) else { continue };
            // Without the chart (a repository not added, no network) the rest of the diff
            // still stands; the note says why there is no preview.
            let (objects, hooks) = match preview::join(render).and_then(|text| preview::split(&text)) {
                Ok(parts) => parts,
                Err(e) => {
                    r.preview_error = Some(e);
                    continue;
                }
            };
            let known =
                preview::Deployed { objects: &r.deployed_objects, live: &r.deployed_live, drift: &r.drift };
            let p = preview::preview(&mut cluster, &t.namespace, objects, &hooks, known, &masker)
                .await
                .map_err(|e| cluster_error(&cluster, &e, &masker))?;
            r.preview = Some(p);
        }
        Ok::<_, Error>(Report::new(objects, releases))
    })?;

    match args.output {
        Output::Json | Output::Yaml => {
            crate::diag::write_document(out, args.output, "DiffReport", &report)
                .map_err(|e| Error::io("<stdout>", e))?;
        }
        Output::Text => {
            report.write_text(&mut &mut *out).map_err(|e| Error::io("<stdout>", e))?;
            let _ = writeln!(err, "{}", report.summary());
        }
    }
    Ok((if report.differences { 1 } else { 0 }, report.summary()))
}

/// The API server's version (`v1.35.4`), which `helm template` takes for `.Capabilities`.
async fn server_version(cluster: &Cluster) -> Result<String, ClusterError> {
    cluster.conn.client.apiserver_version().await.map(|v| v.git_version).map_err(|e| {
        ClusterError::Transport {
            verb: "get".into(),
            object: "the server version".into(),
            message: e.to_string(),
        }
    })
}
