//! `pangeo-render apply`: server-side apply of the Kubernetes objects, then the Helm step.
//!
//! Exit 0 when everything asked for was applied (or checked, with `--dry-run`); 2 when anything
//! stopped it: conflicts, immutable changes, refusals, an unreachable server, a failed helm.
//! With `-o json|yaml` the progress lines go to stderr and stdout gets one `ApplyReport`.

use std::io::Write;

use serde::Serialize;

use crate::apply::{self, Applied, Options};
use crate::cli::ApplyArgs;
use crate::commands::session::{Session, cluster_error, describe};
use crate::diag::Output;
use crate::diff;
use crate::error::{Error, Result};
use crate::plan;

/// `apply -o json|yaml`: what happened to each object and each Helm release.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    config: String,
    dry_run: bool,
    objects: &'a [Applied],
    releases: Vec<ReleaseStep>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReleaseStep {
    name: String,
    namespace: String,
    /// Why it differs from what the config renders; empty when up to date.
    reasons: Vec<String>,
    /// `up-to-date`, `upgraded` (`--helm`), `checked` (`--helm --dry-run`) or `commands-printed`.
    helm: &'static str,
}

/// Applies `args.cluster.config`; progress goes to `out` (to `err` with `-o json|yaml`, when
/// `out` gets the report), notes to `err`. Returns what happened to each object.
pub fn run(args: &ApplyArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<Vec<Applied>> {
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
    let (mut text, document): (&mut dyn Write, Option<&mut dyn Write>) =
        if args.output == Output::Text { (out, None) } else { (err, Some(out)) };

    // Until apply writes (which ends it), reads may be served as of the command's start.
    cluster.read_as_of_start();
    let server = cluster.conn.server.clone();
    let applied = deadline.run(&rt, Some(&server), async {
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
        apply::apply(&cluster, &plan, &opts, &mut text)
            .await
            .map_err(|f| Error::Cluster(masker.text(&f.message(&describe(&cluster, &f.error)))))
    })?;

    // Only releases that differ from what the config renders are upgraded.
    let reports = rt.block_on(async {
        let mut reports = Vec::new();
        for t in &releases {
            let r = diff::release(&cluster, t, &masker).await;
            reports.push(r.map_err(|e| cluster_error(&cluster, &e, &masker))?);
        }
        Ok::<_, Error>(reports)
    })?;
    let mut to_upgrade = Vec::new();
    let mut steps = Vec::new();
    for r in &releases {
        let reasons = reports
            .iter()
            .find(|p| p.name == r.name && p.namespace == r.namespace)
            .map(diff::ReleaseReport::reasons)
            .unwrap_or_else(|| vec!["not read".into()]);
        let helm_step = match (reasons.is_empty(), &helm, args.dry_run) {
            (true, _, _) => "up-to-date",
            (false, Some(_), false) => "upgraded",
            (false, Some(_), true) => "checked",
            (false, None, _) => "commands-printed",
        };
        steps.push(ReleaseStep {
            name: r.name.clone(),
            namespace: r.namespace.clone(),
            reasons: reasons.clone(),
            helm: helm_step,
        });
        if reasons.is_empty() {
            let _ = writeln!(
                text,
                "Helm release {} (namespace {}) is up to date (chart, values and objects as rendered): not upgraded",
                r.name, r.namespace
            );
        } else {
            let _ = writeln!(
                text,
                "Helm release {} (namespace {}) differs: {}",
                r.name,
                r.namespace,
                reasons.join("; ")
            );
            to_upgrade.push(r.clone());
        }
    }
    // helm writes; nothing here reads after it, and should anything come to, it reads afresh.
    cluster.read_consistently();
    match helm {
        _ if to_upgrade.is_empty() => {}
        Some(helm) => apply::run_helm(&helm, &to_upgrade, &helm_target, args.dry_run, &masker, &mut text)?,
        None => apply::print_helm_commands(&mut text, &to_upgrade, &loaded.path, &helm_target),
    }
    let _ = text.flush();
    if let Some(out) = document {
        let report = Report {
            config: loaded.path.display().to_string(),
            dry_run: args.dry_run,
            objects: &applied,
            releases: steps,
        };
        crate::diag::write_document(out, args.output, "ApplyReport", &report)
            .map_err(|e| Error::io("<stdout>", e))?;
    }
    Ok(applied)
}
