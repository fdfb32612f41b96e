//! `pangeo-render diff`: what `apply` would change in the live cluster.
//!
//! Renders in memory, then compares every Kubernetes object (live vs. server-side apply
//! dry-run) and every Helm release (deployed user-supplied values vs. the rendered values file).
//! Exit 0 when nothing differs, 1 when something does, 2 on any error — as `kubectl diff`.

use std::io::Write;

use crate::cli::DiffArgs;
use crate::commands::session::{Deadline, cluster_error, render_and_connect, runtime};
use crate::diag::Format;
use crate::diff::{self, ObjectReport, Report};
use crate::error::{Error, Result};
use crate::kube::run_all;
use crate::plan;
use crate::secrets::{self, mask::Masker};

pub fn run(args: &DiffArgs) -> Result<i32> {
    let c = &args.cluster;
    let rt = runtime()?;
    let deadline = Deadline::start(c);
    let (loaded, secrets, artifacts, mut cluster) = render_and_connect(c, &rt, &deadline)?;
    let masker = Masker::new(secrets::values(&secrets));
    let manifests = plan::manifests(&artifacts)?;
    let targets = diff::release_targets(&loaded.config, &artifacts)?;

    let server = cluster.conn.server.clone();
    let report = deadline.run(&rt, Some(&server), async {
        let plan = plan::plan(&mut cluster, manifests, false)
            .await
            .map_err(|e| cluster_error(&cluster, &e, &masker))?;
        let objects: Vec<ObjectReport> = plan.iter().map(|p| ObjectReport::of(p, &masker)).collect();
        let jobs: Vec<_> = targets.iter().map(|t| diff::release(&cluster, t, &masker)).collect();
        let mut releases = Vec::new();
        for r in run_all(jobs, plan::concurrency()).await {
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
