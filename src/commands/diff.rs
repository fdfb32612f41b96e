//! `pangeo-render diff`: what `apply` would change in the live cluster.
//!
//! Renders in memory, then compares every Kubernetes object (live vs. server-side apply
//! dry-run) and every Helm release (deployed user-supplied values vs. the rendered values file).
//! Exit 0 when nothing differs, 1 when something does, 2 on any error — as `kubectl diff`.

use std::io::Write;
use std::path::Path;

use crate::cli::DiffArgs;
use crate::commands::session::{Session, cluster_error};
use crate::diag::Output;
use crate::diff::preview::{self, Render};
use crate::diff::{self, ObjectReport, ReleaseReport, Report};
use crate::error::{Error, Result};
use crate::helm::command::Target;
use crate::helm::lookups::Lookups;
use crate::kube::{Cluster, ClusterError};
use crate::plan::{self, Release};
use crate::secrets::mask::Masker;

/// Diffs `args.cluster.config`; the report goes to `out`, notes and the summary to `err`.
/// Returns the exit code and the one-line summary.
pub fn run(args: &DiffArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<(i32, String)> {
    let Session { rt, deadline, cluster, masker, objects: manifests, releases: targets, helm_target, .. } =
        Session::open(&args.cluster, false, err)?;
    crate::trace::mark(|| "session open (rendered, connected)".into());
    // diff writes nothing (its applies are dry runs): every read may be served as of the
    // command's start.
    cluster.read_as_of_start();
    let server = cluster.conn.server.clone();
    let helm = args.helm.clone().or_else(crate::helm::command::find_helm);
    let renderer = Renderer {
        helm: helm.as_deref(),
        target: &helm_target,
        masker: &masker,
        lookups: Default::default(),
    };
    let report = deadline.run(&rt, Some(&server), async {
        let failed = |e: ClusterError| cluster_error(&cluster, &e, &masker);
        // Our objects' kinds need no discovery as a rule; once resolved, the Kubernetes objects
        // are planned while the releases are read, compared and checked for drift.
        let refs: Vec<_> = manifests.iter().filter_map(crate::kube::ObjectRef::of).collect();
        cluster.prepare(&refs).await.map_err(failed)?;
        let classes = cluster.storage_classes.clone();
        let (plan, releases) = tokio::join!(
            plan::plan_prepared(&cluster, manifests, false, classes),
            read_releases(&cluster, &targets, &renderer)
        );
        let plan = plan.map_err(failed)?;
        let (mut releases, mut renders) = releases.map_err(failed)?;
        crate::trace::mark(|| "objects planned, releases read and checked for drift".into());
        let objects: Vec<ObjectReport> = plan.iter().map(|p| ObjectReport::of(p, &masker)).collect();
        for (i, (t, r)) in targets.iter().zip(releases.iter_mut()).enumerate() {
            // A release that differs only by drift: its render starts now.
            let render = match renders[i].take() {
                Some(render) => render,
                None => match renderer.start(&cluster, t, r).await.map_err(failed)? {
                    Some(render) => render,
                    None => continue,
                },
            };
            // Without the chart (a repository not added, no network) the rest of the diff
            // still stands; the note says why there is no preview.
            let joined = preview::join(render).await;
            crate::trace::mark(|| format!("helm template of {} done", t.name));
            let known = preview::Deployed {
                objects: &r.deployed_objects,
                texts: &r.deployed_texts,
                live: &r.deployed_live,
                drift: &r.drift,
            };
            let (objects, hooks) = match joined.and_then(|text| preview::split(&text, &known)) {
                Ok(parts) => parts,
                Err(e) => {
                    r.preview_error = Some(e);
                    continue;
                }
            };
            match preview::preview(&cluster, &t.namespace, objects, &hooks, known, &masker).await {
                Ok(p) => r.preview = Some(p),
                // An object of the chart the server will not take: the upgrade would fail on
                // it, which is the preview's news; the rest of the diff still stands.
                Err(e) => match preview::refused(&e, &masker) {
                    Some(note) => r.preview_error = Some(note),
                    None => return Err(failed(e)),
                },
            }
            crate::trace::mark(|| format!("preview of {} done", t.name));
        }
        Ok::<_, Error>(Report::new(objects, releases))
    })?;

    crate::trace::mark(|| "cluster work done".into());
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
    crate::trace::mark(|| "report written".into());
    let result = (if report.differences { 1 } else { 0 }, report.summary());
    // Dropping the runtime, the connections and the parsed releases takes milliseconds; a thread
    // of its own does it, which the process does not wait for when this was its one command.
    std::thread::spawn(move || drop((rt, cluster, report)));
    Ok(result)
}

/// Starts `helm template` of a release that differs, when helm is there.
struct Renderer<'a> {
    helm: Option<&'a Path>,
    /// Where `helm upgrade` finds the cluster.
    target: &'a Target,
    masker: &'a Masker,
    /// The endpoint for the chart's lookups, started with the first render.
    lookups: tokio::sync::OnceCell<Option<Lookups>>,
}

impl Renderer<'_> {
    /// helm rendering release `t` on a thread of its own, if its report wants a preview.
    async fn start(
        &self,
        cluster: &Cluster,
        t: &Release,
        r: &ReleaseReport,
    ) -> Result<Option<Render>, ClusterError> {
        let Some(helm) = self.helm.filter(|_| r.wants_preview()) else { return Ok(None) };
        // `helm template` takes the server's version for `.Capabilities`.
        let kube_version = cluster.server_version().await?;
        let target = self.template_target(cluster).await;
        let args = t.template_args(&kube_version, r.state != "not-installed", &target);
        crate::trace::mark(|| format!("helm template of {} started", t.name));
        Ok(Some(preview::spawn_template(
            helm.to_path_buf(),
            t.values_text.clone(),
            self.masker.clone(),
            args,
            target,
        )))
    }

    /// Where `helm template` finds the cluster for the chart's lookups: our endpoint, which
    /// answers them through our connection (src/helm/lookups.rs); or, should no loopback port be
    /// had, the cluster itself, as `helm upgrade` does.
    async fn template_target(&self, cluster: &Cluster) -> Target {
        let lookups = self
            .lookups
            .get_or_init(|| async { Lookups::start(cluster.conn.client.clone()).await.ok() })
            .await;
        lookups.as_ref().map_or_else(|| self.target.clone(), Lookups::target)
    }
}

/// Every release read and compared (all at once), helm started on each that differs as soon as
/// that is known (it renders while the rest is read), then the drift check of all of them, in
/// one batch of reads.
async fn read_releases(
    cluster: &Cluster,
    targets: &[Release],
    renderer: &Renderer<'_>,
) -> Result<(Vec<ReleaseReport>, Vec<Option<Render>>), ClusterError> {
    let reads: Vec<_> = targets
        .iter()
        .map(|t| async move {
            let mut r = diff::read_and_compare(cluster, t, renderer.masker).await?;
            let render = renderer.start(cluster, t, &r).await?;
            diff::parse_deployed(t, &mut r).await?;
            Ok::<_, ClusterError>((r, render))
        })
        .collect();
    let mut releases = Vec::new();
    let mut renders = Vec::new();
    for read in crate::kube::run_all(reads, targets.len()).await {
        let (r, render) = read?;
        releases.push(r);
        renders.push(render);
    }
    crate::trace::mark(|| "releases read".into());
    let kinds: Vec<_> = releases.iter().flat_map(ReleaseReport::deployed_refs).collect();
    cluster.prepare(&kinds).await?;
    diff::check_drifts(cluster, &mut releases, renderer.masker).await?;
    Ok((releases, renders))
}
