//! What `apply` would change: Kubernetes objects (live vs. server-side apply dry-run) and Helm
//! releases — the newest deployed release's chart and user-supplied values vs. the pinned chart
//! and the rendered values file, the drift of its objects since helm applied them ([`drift`]),
//! and, for a release that differs, what `helm upgrade` would do to each object ([`preview`]).
//!
//! The cluster is read in [`crate::plan::plan`] and [`release`]; everything after that — stripping,
//! masking, printing — is pure and works on canned data in the unit tests.

pub mod drift;
pub mod field_path;
pub mod helm_release;
pub mod preview;
pub mod print;

use std::io::Write;

use serde::Serialize;
use serde_json::Value;

use crate::diff::drift::ObjectDrift;
use crate::diff::preview::Preview;
use crate::error::Result;
use crate::kube::{Cluster, ClusterError, Conflict};
use crate::plan::strip::strip;
use crate::plan::{Action, Planned, Release};
use crate::secrets::mask::{Masker, Shape, is_secret};
use helm_release::Found;
use print::{to_yaml, unified};

/// The state of one release compared with its rendered values.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseReport {
    pub name: String,
    pub namespace: String,
    /// `not-installed`, `not-deployed`, `other-chart` (installed from another chart or version
    /// than the config pins), `changed` (values), `drifted` (objects changed since helm applied
    /// them) or `same`.
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    /// The installed chart, `name-version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chart: Option<String>,
    /// The chart the config pins, `name-version`.
    pub pinned_chart: String,
    /// For `not-deployed`: the newest revision's status (failed, pending-upgrade, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// For `not-deployed`: the newest deployed revision before it, whose values `diff` shows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployed_revision: Option<u64>,
    /// For `not-deployed`: what to run so that helm (and `apply --helm`) can upgrade it again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    pub values_file: &'static str,
    /// Unified diff of the deployed values vs. the rendered ones, secrets masked.
    pub diff: String,
    /// Objects of the deployed release changed (or deleted) since helm applied them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<ObjectDrift>,
    /// What `helm upgrade` would do to each object (when the release differs and helm is there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<Preview>,
    /// Why there is no preview although the release differs (helm could not render the chart).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview_error: Option<String>,
    /// The deployed release's manifest, until [`parse_deployed`] makes it `deployed_objects`.
    #[serde(skip)]
    pub deployed_manifest: String,
    /// The objects of the deployed release's manifest (for the preview's deletions).
    #[serde(skip)]
    pub deployed_objects: Vec<Value>,
    /// The text of each of those objects' documents ([`drift::manifest_documents`]).
    #[serde(skip)]
    pub deployed_texts: Vec<String>,
    /// Those objects as the drift check read them from the cluster (the preview reads them
    /// again only when the check did not run).
    #[serde(skip)]
    pub deployed_live: Vec<crate::diff::drift::LiveObject>,
}

impl ReleaseReport {
    /// Whether an upgrade preview can say something: the release differs and is not stuck in a
    /// pending or failed revision (which an upgrade would not get past).
    pub fn wants_preview(&self) -> bool {
        self.state != "not-deployed" && !self.reasons().is_empty()
    }

    /// Why `helm upgrade --install` should run for this release; empty when it is up to date.
    pub fn reasons(&self) -> Vec<String> {
        let mut out = Vec::new();
        match self.state {
            "not-installed" => out.push("not installed".to_string()),
            "not-deployed" => out.push(format!(
                "newest revision {} is {}",
                self.revision.unwrap_or(0),
                self.status.as_deref().unwrap_or("unknown")
            )),
            _ => {}
        }
        if let Some(chart) = self.chart.as_deref().filter(|c| *c != self.pinned_chart) {
            out.push(format!("installed from chart {chart}, the config pins {}", self.pinned_chart));
        }
        if !self.diff.is_empty() {
            out.push(format!("values differ from the rendered {}", self.values_file));
        }
        if !self.drift.is_empty() {
            out.push(format!("{} object(s) changed since helm applied them", self.drift.len()));
        }
        out
    }

    /// Records drift; a release otherwise the same is `drifted`.
    pub fn set_drift(&mut self, mut drift: Vec<ObjectDrift>, masker: &Masker) {
        for o in &mut drift {
            for f in &mut o.fields {
                masker.pair(Shape::HelmValues, Some(&mut f.helm), Some(&mut f.live));
            }
        }
        if !drift.is_empty() && self.state == "same" {
            self.state = "drifted";
        }
        self.drift = drift;
    }

    pub fn differs(&self) -> bool {
        self.state != "same"
    }

    /// The objects of the deployed release (their kinds, for [`Cluster::prepare`]).
    pub fn deployed_refs(&self) -> Vec<crate::kube::ObjectRef> {
        self.deployed_objects.iter().filter_map(crate::kube::ObjectRef::of).collect()
    }
}

fn release_error(target: &Release, message: String) -> ClusterError {
    ClusterError::Transport {
        verb: "read".into(),
        object: format!("Helm release {} (namespace {})", target.name, target.namespace),
        message,
    }
}

/// Reads release `target` and compares it: chart, values, and (for a deployed release) the
/// drift of its objects since helm applied them.
pub async fn release(
    cluster: &Cluster,
    target: &Release,
    masker: &Masker,
) -> Result<ReleaseReport, ClusterError> {
    let mut report = read_and_compare(cluster, target, masker).await?;
    parse_deployed(target, &mut report).await?;
    check_drift(cluster, &mut report, masker).await?;
    Ok(report)
}

/// Reads release `target` (one list request) and compares its chart and values; the objects
/// of its deployed manifest are [`parse_deployed`]'s.
pub async fn read_and_compare(
    cluster: &Cluster,
    target: &Release,
    masker: &Masker,
) -> Result<ReleaseReport, ClusterError> {
    let found = release_state(cluster, &target.name, &target.namespace).await?;
    let manifest = match &found {
        Found::Deployed(r) => r.manifest.clone(),
        _ => String::new(),
    };
    let mut report = compare_release(target, found, masker);
    report.deployed_manifest = manifest;
    crate::trace::mark(|| format!("release {} read and compared", target.name));
    Ok(report)
}

/// Parses the deployed release's manifest into its objects, on a thread of the blocking pool:
/// a long manifest (DaskHub's is 100 kB) takes milliseconds, during which the requests of the
/// plan and of the other releases stay in flight.
pub async fn parse_deployed(target: &Release, report: &mut ReleaseReport) -> Result<(), ClusterError> {
    let manifest = std::mem::take(&mut report.deployed_manifest);
    if manifest.is_empty() {
        return Ok(());
    }
    let parsed = tokio::task::spawn_blocking(move || crate::diff::drift::manifest_documents(&manifest))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    (report.deployed_texts, report.deployed_objects) =
        parsed.map_err(|m| release_error(target, m))?.into_iter().unzip();
    crate::trace::mark(|| format!("release {}: manifest parsed", target.name));
    Ok(())
}

/// Reads the objects of the deployed release and records their drift.
pub async fn check_drift(
    cluster: &Cluster,
    report: &mut ReleaseReport,
    masker: &Masker,
) -> Result<(), ClusterError> {
    cluster.prepare(&report.deployed_refs()).await?;
    check_drifts(cluster, std::slice::from_mut(report), masker).await
}

/// [`check_drift`] of several releases at once, their kinds already prepared
/// ([`ReleaseReport::deployed_refs`]): one batch of reads for all of them, so that releases in
/// one namespace share their lists.
pub async fn check_drifts(
    cluster: &Cluster,
    reports: &mut [ReleaseReport],
    masker: &Masker,
) -> Result<(), ClusterError> {
    let located: Vec<Vec<crate::kube::ObjectRef>> = reports
        .iter()
        .map(|r| crate::diff::drift::locate(cluster, &r.namespace, &r.deployed_objects))
        .collect();
    let all: Vec<crate::kube::ObjectRef> = located.iter().flatten().cloned().collect();
    if all.is_empty() {
        return Ok(());
    }
    let mut lives = cluster
        .get_all(&all, crate::diff::drift::HELM_MANAGED, crate::plan::concurrency())
        .await?
        .into_iter();
    for (report, refs) in reports.iter_mut().zip(located) {
        let mine: Vec<Option<Value>> = lives.by_ref().take(refs.len()).collect();
        if refs.is_empty() {
            continue;
        }
        let (mut drift, live) = crate::diff::drift::compare(&report.deployed_objects, refs.clone(), mine);
        crate::diff::drift::drop_undeclared(cluster, &report.deployed_objects, &refs, &mut drift).await;
        report.set_drift(drift, masker);
        report.deployed_live = live;
    }
    Ok(())
}

/// The list request that reads release `name`'s Secrets in `namespace`: every revision but the
/// superseded ones. Helm marks a deployed revision superseded only when a newer one deploys (an
/// upgrade or rollback that fails or is killed leaves it deployed), so the newest revision and
/// the newest deployed one — all that [`helm_release::state`] looks at — are never superseded;
/// the other nine of helm's ten kept revisions (each the whole release, chart included) are not
/// read.
pub fn release_secrets(name: &str, namespace: &str) -> crate::kube::ListRequest {
    crate::kube::ListRequest {
        api_version: "v1".into(),
        kind: "Secret".into(),
        namespace: Some(namespace.into()),
        selector: Some(format!("owner=helm,name={name},status!=superseded")),
    }
}

/// The state of release `name` in `namespace`, read from Helm's release Secrets.
pub async fn release_state(cluster: &Cluster, name: &str, namespace: &str) -> Result<Found, ClusterError> {
    let r = release_secrets(name, namespace);
    let secrets =
        cluster.list(&r.api_version, &r.kind, r.namespace.as_deref(), r.selector.as_deref()).await?;
    helm_release::state(name, &secrets).map_err(|message| ClusterError::Transport {
        verb: "read".into(),
        object: format!("Helm release {name} (namespace {namespace})"),
        message,
    })
}

/// The newest deployed revision of release `name` in any namespace (a hub built by hand was
/// installed wherever the kubeconfig pointed), or `None`. Releases of that name in several
/// namespaces: the one deployed last.
pub async fn find_deployed(
    cluster: &Cluster,
    name: &str,
) -> Result<Option<helm_release::Release>, ClusterError> {
    let selector = format!("owner=helm,name={name},status=deployed");
    let secrets = cluster.list("v1", "Secret", None, Some(&selector)).await?;
    let mut newest: Option<(String, helm_release::Release)> = None;
    for s in &secrets {
        let Some(field) = s.pointer("/data/release").and_then(Value::as_str) else { continue };
        let release = helm_release::decode_secret_field(field).map_err(|message| {
            ClusterError::Transport { verb: "read".into(), object: format!("Helm release {name}"), message }
        })?;
        let time =
            s.pointer("/metadata/creationTimestamp").and_then(Value::as_str).unwrap_or_default().to_string();
        if newest.as_ref().is_none_or(|(t, _)| time > *t) {
            newest = Some((time, release));
        }
    }
    Ok(newest.map(|(_, r)| r))
}

/// The pure half of [`release`].
pub fn compare_release(target: &Release, found: Found, masker: &Masker) -> ReleaseReport {
    let mut report = ReleaseReport {
        name: target.name.clone(),
        namespace: target.namespace.clone(),
        state: "not-installed",
        revision: None,
        chart: None,
        pinned_chart: target.chart.to_string(),
        status: None,
        deployed_revision: None,
        fix: None,
        values_file: target.values_file,
        diff: String::new(),
        drift: Vec::new(),
        preview: None,
        preview_error: None,
        deployed_manifest: String::new(),
        deployed_objects: Vec::new(),
        deployed_texts: Vec::new(),
        deployed_live: Vec::new(),
    };
    let values_diff = |release: &helm_release::Release| {
        let mut live = release.config.clone();
        let mut rendered = target.values.clone();
        masker.pair(Shape::HelmValues, Some(&mut live), Some(&mut rendered));
        let key = format!("helm.{}.{}", target.namespace, target.name);
        print::unified(
            &print::to_yaml(&live),
            &print::to_yaml(&rendered),
            &format!("live/{key} (revision {}, user-supplied values)", release.revision),
            &format!("rendered/{}", target.values_file),
        )
    };
    match found {
        Found::NotInstalled => {}
        Found::NotDeployed { revision, status, last_deployed } => {
            report.state = "not-deployed";
            report.revision = Some(revision);
            report.fix = Some(helm_release::fix(
                &target.name,
                &target.namespace,
                &status,
                last_deployed.as_ref().map(|r| r.revision),
            ));
            report.status = Some(status);
            if let Some(release) = last_deployed {
                report.diff = values_diff(&release);
                report.deployed_revision = Some(release.revision);
                report.chart = Some(release.chart.to_string());
            }
        }
        Found::Deployed(release) => {
            report.diff = values_diff(&release);
            report.state = if release.chart != target.chart {
                "other-chart"
            } else if report.diff.is_empty() {
                "same"
            } else {
                "changed"
            };
            report.revision = Some(release.revision);
            report.chart = Some(release.chart.to_string());
        }
    }
    report
}

/// One object in the report.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReport {
    pub api_version: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    pub action: Action,
    /// Another StorageClass whose default annotation apply sets to "false".
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub default_class_handover: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<Conflict>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub immutable: Vec<String>,
    /// The kubectl field managers whose fields apply takes over (the first apply after `import`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub takeover: Vec<String>,
    pub diff: String,
}

impl ObjectReport {
    pub fn of(p: &Planned, masker: &Masker) -> Self {
        let diff = p.diff(masker);
        let mut action = p.action();
        // Same content but ownership to take: not a visible difference.
        if action == Action::Update && diff.is_empty() {
            action = Action::Unchanged;
        }
        ObjectReport {
            api_version: p.object.api_version.clone(),
            kind: p.object.kind.clone(),
            namespace: p.object.namespace.clone(),
            name: p.object.name.clone(),
            action,
            default_class_handover: p.handover,
            // Re-creating an object settles its conflicts as well.
            conflicts: if p.immutable.is_empty() { p.conflicts.clone() } else { Vec::new() },
            immutable: p.immutable.iter().map(|m| masker.text(m)).collect(),
            takeover: if p.takes_over() { p.takeover.clone() } else { Vec::new() },
            diff,
        }
    }

    pub fn differs(&self) -> bool {
        self.action != Action::Unchanged
    }

    fn title(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{} (namespace {ns})", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

/// Everything `diff` found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub differences: bool,
    pub objects: Vec<ObjectReport>,
    pub releases: Vec<ReleaseReport>,
}

impl Report {
    pub fn new(objects: Vec<ObjectReport>, releases: Vec<ReleaseReport>) -> Self {
        let differences =
            objects.iter().any(ObjectReport::differs) || releases.iter().any(ReleaseReport::differs);
        Report { differences, objects, releases }
    }

    /// The diff text: notes (conflicts, immutable fields, handovers, releases) and unified diffs.
    pub fn write_text(&self, out: &mut impl Write) -> std::io::Result<()> {
        let note = anstyle::AnsiColor::Yellow.on_default().bold();
        for o in &self.objects {
            if o.default_class_handover && o.differs() {
                writeln!(
                    out,
                    "{note}note:{note:#} {} is also marked as the default StorageClass; apply sets its annotation to \"false\"",
                    o.title()
                )?;
            }
            if !o.takeover.is_empty() {
                writeln!(
                    out,
                    "{note}note:{note:#} {}: never applied by pangeo-render; apply takes its fields over from {} \
                     (as kubectl apply --server-side migrates client-side apply)",
                    o.title(),
                    o.takeover.join(", ")
                )?;
            }
            if !o.conflicts.is_empty() {
                writeln!(
                    out,
                    "{note}note:{note:#} {}: fields owned by other field managers; apply stops unless --force-conflicts:",
                    o.title()
                )?;
                for c in &o.conflicts {
                    writeln!(out, "  {} (manager \"{}\")", c.field, c.manager)?;
                }
            }
            if !o.immutable.is_empty() {
                writeln!(
                    out,
                    "{note}note:{note:#} {}: the server refuses to change immutable fields in place; apply --recreate deletes and re-creates it:",
                    o.title()
                )?;
                for m in &o.immutable {
                    writeln!(out, "  {m}")?;
                }
            }
            print::write_diff(out, &o.diff)?;
        }
        for r in &self.releases {
            match r.state {
                "not-installed" => writeln!(
                    out,
                    "{note}note:{note:#} Helm release {} (namespace {}) is not installed (the config pins chart {})",
                    r.name, r.namespace, r.pinned_chart
                )?,
                "not-deployed" => {
                    let deployed = match r.deployed_revision {
                        Some(d) => format!("last deployed: revision {d}, compared below"),
                        None => "no revision was ever deployed".into(),
                    };
                    writeln!(
                        out,
                        "{note}note:{note:#} Helm release {} (namespace {}): its newest revision {} is {} ({deployed}); helm cannot upgrade it as it is\n  fix: {}",
                        r.name,
                        r.namespace,
                        r.revision.unwrap_or(0),
                        r.status.as_deref().unwrap_or("unknown"),
                        r.fix.as_deref().unwrap_or("see `helm history`")
                    )?;
                    print::write_diff(out, &r.diff)?;
                }
                "other-chart" => {
                    writeln!(
                        out,
                        "{note}note:{note:#} Helm release {} (namespace {}) is installed from chart {} (revision {}); the config pins {}",
                        r.name,
                        r.namespace,
                        r.chart.as_deref().unwrap_or("unknown"),
                        r.revision.unwrap_or(0),
                        r.pinned_chart
                    )?;
                    print::write_diff(out, &r.diff)?
                }
                _ => print::write_diff(out, &r.diff)?,
            }
            for o in &r.drift {
                if o.missing {
                    writeln!(
                        out,
                        "{note}drift:{note:#} {} of Helm release {} was deleted since helm applied it",
                        o.object, r.name
                    )?;
                    continue;
                }
                writeln!(
                    out,
                    "{note}drift:{note:#} {} of Helm release {} was changed since helm applied it:",
                    o.object, r.name
                )?;
                for f in &o.fields {
                    let live =
                        if f.live.is_null() { "removed".to_string() } else { format!("now {}", f.live) };
                    let by = match &f.manager {
                        Some(m) => format!("by field manager \"{m}\""),
                        None => "no field manager owns it now".to_string(),
                    };
                    writeln!(out, "  {}: helm applied {}, {live} ({by})", f.field, f.helm)?;
                }
            }
            if let Some(p) = &r.preview {
                crate::diff::preview::write_text(out, &r.name, p)?;
            }
            if let Some(e) = &r.preview_error {
                writeln!(out, "{note}note:{note:#} no object-level preview of Helm release {}: {e}", r.name)?;
            }
        }
        Ok(())
    }

    /// A one-line summary for stderr.
    pub fn summary(&self) -> String {
        let count = |a: Action| self.objects.iter().filter(|o| o.action == a).count();
        let mut parts = vec![];
        for (a, word) in [
            (Action::Create, "to create"),
            (Action::Update, "to update"),
            (Action::Recreate, "to re-create"),
            (Action::Unchanged, "unchanged"),
        ] {
            let n = count(a);
            if n > 0 {
                parts.push(format!("{n} {word}"));
            }
        }
        let rel_changed = self.releases.iter().filter(|r| r.differs()).count();
        let objects = if parts.is_empty() {
            "no objects".to_string()
        } else {
            format!("objects: {}", parts.join(", "))
        };
        format!("{objects}; Helm releases: {rel_changed} of {} differ", self.releases.len())
    }
}

impl Planned {
    /// Live and merged as masked YAML texts (live is empty when absent).
    pub fn texts(&self, masker: &Masker) -> (String, String) {
        let mut live = self.live.clone();
        let mut merged = self.merged.clone();
        if let Some(l) = live.as_mut() {
            strip(l);
        }
        strip(&mut merged);
        let shape = Shape::Object { secret: is_secret(&merged) };
        masker.pair(shape, live.as_mut(), Some(&mut merged));
        (live.as_ref().map(to_yaml).unwrap_or_default(), to_yaml(&merged))
    }

    /// The unified diff of live vs merged, masked; empty when there is no visible difference.
    pub fn diff(&self, masker: &Masker) -> String {
        let (live, merged) = self.texts(masker);
        let key = self.object.file_key();
        let old = if self.live.is_some() {
            format!("live/{key}")
        } else {
            format!("live/{key} (not in the cluster)")
        };
        let new = if self.immutable.is_empty() {
            format!("merged/{key}")
        } else {
            format!("merged/{key} (re-created)")
        };
        unified(&live, &merged, &old, &new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::helm::chart::{ChartId, ChartPin};
    use serde_json::json;

    #[test]
    fn absent_object_is_a_create_and_diff_is_all_additions() {
        let merged = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "a", "namespace": "n", "uid": "x"}});
        let p = Planned::ours(crate::kube::ObjectRef::of(&merged).unwrap(), merged.clone(), None, merged);
        assert_eq!(p.action(), Action::Create);
        let d = p.diff(&Masker::default());
        assert!(d.contains("--- live/v1.ServiceAccount.n.a (not in the cluster)"), "{d}");
        assert!(d.contains("+kind: ServiceAccount"), "{d}");
        assert!(!d.contains("uid"), "{d}");
    }

    #[test]
    fn release_values_diff_masks_secrets_and_ignores_number_spelling() {
        let token = "f".repeat(64);
        let target = Release {
            name: "daskhub".into(),
            namespace: "hub".into(),
            chart: ChartId { name: "tiny".into(), version: "0.1.0".into() },
            pin: ChartPin::new("./tiny", None, std::path::Path::new("")),
            values_file: "daskhub.yaml",
            values: json!({"jupyterhub": {"proxy": {"secretToken": token}, "cpu": {"limit": 4.0}, "image": "b"}}),
            values_text: String::new(),
        };
        let deployed = helm_release::Release {
            name: "daskhub".into(),
            namespace: "hub".into(),
            revision: 2,
            status: "deployed".into(),
            chart: ChartId { name: "tiny".into(), version: "0.1.0".into() },
            config: json!({"jupyterhub": {"proxy": {"secretToken": "e".repeat(64)}, "cpu": {"limit": 4}, "image": "a"}}),
            manifest: String::new(),
        };
        let masker = Masker::new([token.as_str()]);
        let r = compare_release(&target, Found::Deployed(deployed), &masker);
        assert_eq!(r.state, "changed");
        assert!(r.diff.contains("-  image: a\n+  image: b\n"), "{}", r.diff);
        assert!(r.diff.contains(crate::secrets::mask::CHANGED), "{}", r.diff);
        assert!(
            !r.diff.lines().any(|l| l.starts_with(['-', '+']) && l.contains("limit")),
            "number spelling must not differ: {}",
            r.diff
        );
        assert!(!r.diff.contains(&token) && !r.diff.contains(&"e".repeat(64)), "{}", r.diff);
        let none = compare_release(&target, Found::NotInstalled, &masker);
        assert_eq!(none.state, "not-installed");
        assert!(none.differs());
    }

    #[test]
    fn another_chart_or_version_differs_with_both_named_even_with_equal_values() {
        let target = Release {
            name: "daskhub".into(),
            namespace: "hub".into(),
            chart: ChartId { name: "daskhub".into(), version: "2024.1.1".into() },
            pin: ChartPin::new("dask/daskhub", Some("2024.1.1"), std::path::Path::new("")),
            values_file: "daskhub.yaml",
            values: json!({"a": 1}),
            values_text: String::new(),
        };
        let deployed = |name: &str, version: &str| {
            Found::Deployed(helm_release::Release {
                name: "daskhub".into(),
                namespace: "hub".into(),
                revision: 3,
                status: "deployed".into(),
                chart: ChartId { name: name.into(), version: version.into() },
                config: json!({"a": 1}),
                manifest: String::new(),
            })
        };
        let masker = Masker::new([]);
        let same = compare_release(&target, deployed("daskhub", "2024.1.1"), &masker);
        assert_eq!(same.state, "same");
        for (name, version) in [("daskhub", "2024.1.0"), ("tiny", "2024.1.1")] {
            let r = compare_release(&target, deployed(name, version), &masker);
            assert_eq!(r.state, "other-chart");
            assert!(r.differs() && r.diff.is_empty());
            let mut text = Vec::new();
            Report::new(vec![], vec![r]).write_text(&mut text).unwrap();
            let text = String::from_utf8(text).unwrap();
            assert!(
                text.contains(&format!(
                    "is installed from chart {name}-{version} (revision 3); the config pins daskhub-2024.1.1"
                )),
                "{text}"
            );
        }
    }
}
