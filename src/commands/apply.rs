//! `pangeo-render apply`: server-side apply of the Kubernetes objects, then the Helm step.
//!
//! Exit 0 when everything asked for was applied (or checked, with `--dry-run`); 2 when anything
//! stopped it: conflicts, immutable changes, refusals, an unreachable server, a failed helm.

use std::io::Write;

use crate::apply::{self, Options};
use crate::cli::ApplyArgs;
use crate::commands::session::{Session, cluster_error, describe};
use crate::diff;
use crate::error::{Error, Result};
use crate::plan;

/// Applies `args.cluster.config`; progress goes to `out`, notes to `err`.
pub fn run(args: &ApplyArgs, mut out: &mut dyn Write, err: &mut dyn Write) -> Result<i32> {
    let Session { rt, deadline, loaded, mut cluster, masker, objects: manifests, releases, helm_target } =
        Session::open(&args.cluster, true, err)?;
    // Checked first, so that a missing helm stops before anything is written.
    let helm = match args.helm {
        true => Some(crate::helm::command::find_helm().ok_or_else(|| {
            Error::Usage("--helm: `helm` is not on PATH; install helm, or leave out --helm and run the printed commands".into())
        })?),
        false => None,
    };
    let opts =
        Options { dry_run: args.dry_run, force_conflicts: args.force_conflicts, recreate: args.recreate };

    let server = cluster.conn.server.clone();
    deadline.run(&rt, Some(&server), async {
        if helm.is_some()
            && let Some(why) = apply::helm_blockers(&cluster, &releases)
                .await
                .map_err(|e| cluster_error(&cluster, &e, &masker))?
        {
            return Err(Error::Cluster(masker.text(&why)));
        }
        let plan = plan::plan(&mut cluster, manifests, opts.force_conflicts)
            .await
            .map_err(|e| cluster_error(&cluster, &e, &masker))?;
        if let Some(why) = apply::blockers(&plan, &opts) {
            return Err(Error::Cluster(masker.text(&why)));
        }
        apply::apply(&cluster, &plan, &opts, &mut out)
            .await
            .map_err(|f| Error::Cluster(masker.text(&f.message(&describe(&cluster, &f.error)))))
    })?;

    // Only releases that differ from what the config renders are upgraded.
    let reports = rt.block_on(async {
        let mut reports = Vec::new();
        for t in &releases {
            let r = diff::release(&mut cluster, t, &masker).await;
            reports.push(r.map_err(|e| cluster_error(&cluster, &e, &masker))?);
        }
        Ok::<_, Error>(reports)
    })?;
    let mut to_upgrade = Vec::new();
    for r in &releases {
        let reasons = reports
            .iter()
            .find(|p| p.name == r.name && p.namespace == r.namespace)
            .map(diff::ReleaseReport::reasons)
            .unwrap_or_else(|| vec!["not read".into()]);
        if reasons.is_empty() {
            let _ = writeln!(
                out,
                "Helm release {} (namespace {}) is up to date (chart, values and objects as rendered): not upgraded",
                r.name, r.namespace
            );
        } else {
            let _ = writeln!(
                out,
                "Helm release {} (namespace {}) differs: {}",
                r.name,
                r.namespace,
                reasons.join("; ")
            );
            to_upgrade.push(r.clone());
        }
    }
    match helm {
        _ if to_upgrade.is_empty() => {}
        Some(helm) => apply::run_helm(&helm, &to_upgrade, &helm_target, args.dry_run, &masker, &mut out)?,
        None => apply::print_helm_commands(&mut out, &to_upgrade, &loaded.path, &helm_target),
    }
    let _ = out.flush();
    Ok(0)
}
