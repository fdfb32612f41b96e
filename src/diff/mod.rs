//! What `apply` would change: Kubernetes objects (live vs. server-side apply dry-run) and Helm
//! releases (the newest deployed release's user-supplied values vs. the rendered values file).
//!
//! The cluster is read in [`crate::plan::plan`] and [`release`]; everything after that — stripping,
//! masking, printing — is pure and works on canned data in the unit tests.

pub mod helm_release;
pub mod print;

use std::io::Write;

use serde::Serialize;
use serde_json::Value;

use crate::config;
use crate::error::{Error, Result};
use crate::kube::{Cluster, ClusterError, Conflict};
use crate::plan::strip::strip;
use crate::plan::{Action, Planned};
use crate::render::{Artifact, ArtifactKind};
use crate::secrets::mask::{Masker, Shape, is_secret};
use helm_release::Found;
use print::{to_yaml, unified};

/// A Helm release this deployment installs, with its rendered values.
#[derive(Clone, Debug)]
pub struct ReleaseTarget {
    pub name: String,
    pub namespace: String,
    pub values_file: &'static str,
    pub values: Value,
}

/// The releases to compare, in install order (the EBS CSI driver before DaskHub).
pub fn release_targets(cfg: &config::Config, artifacts: &[Artifact]) -> Result<Vec<ReleaseTarget>> {
    let mut out = Vec::new();
    for (kind, rel) in [
        (ArtifactKind::EbsCsiValues, &cfg.releases.ebs_csi_driver),
        (ArtifactKind::DaskhubValues, &cfg.releases.daskhub),
    ] {
        let Some(a) = artifacts.iter().find(|a| a.kind == kind) else { continue };
        let values = crate::yaml::parse_single(&a.text)
            .map_err(|e| Error::Template {
                name: a.file_name.to_string(),
                message: format!("rendered YAML is invalid at line {}: {}", e.pos.line, e.message),
            })?
            .to_json();
        out.push(ReleaseTarget {
            name: rel.name.clone(),
            namespace: rel.namespace.clone(),
            values_file: a.file_name,
            values,
        });
    }
    Ok(out)
}

/// The state of one release compared with its rendered values.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseReport {
    pub name: String,
    pub namespace: String,
    /// `not-installed`, `not-deployed`, `same` or `changed`.
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chart: Option<String>,
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
}

impl ReleaseReport {
    pub fn differs(&self) -> bool {
        self.state != "same"
    }
}

/// Reads release `target` from its Secrets and compares its values.
pub async fn release(
    cluster: &Cluster,
    target: &ReleaseTarget,
    masker: &Masker,
) -> Result<ReleaseReport, ClusterError> {
    let found = release_state(cluster, &target.name, &target.namespace).await?;
    Ok(compare_release(target, found, masker))
}

/// The state of release `name` in `namespace`, read from Helm's release Secrets.
pub async fn release_state(cluster: &Cluster, name: &str, namespace: &str) -> Result<Found, ClusterError> {
    let selector = format!("owner=helm,name={name}");
    let secrets = cluster.list("v1", "Secret", Some(namespace), Some(&selector)).await?;
    helm_release::state(name, &secrets).map_err(|message| ClusterError::Transport {
        verb: "read".into(),
        object: format!("Helm release {name} (namespace {namespace})"),
        message,
    })
}

/// The pure half of [`release`].
pub fn compare_release(target: &ReleaseTarget, found: Found, masker: &Masker) -> ReleaseReport {
    let mut report = ReleaseReport {
        name: target.name.clone(),
        namespace: target.namespace.clone(),
        state: "not-installed",
        revision: None,
        chart: None,
        status: None,
        deployed_revision: None,
        fix: None,
        values_file: target.values_file,
        diff: String::new(),
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
                report.chart = Some(release.chart);
            }
        }
        Found::Deployed(release) => {
            report.diff = values_diff(&release);
            report.state = if report.diff.is_empty() { "same" } else { "changed" };
            report.revision = Some(release.revision);
            report.chart = Some(release.chart);
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
                    "{note}note:{note:#} Helm release {} (namespace {}) is not installed",
                    r.name, r.namespace
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
                _ => print::write_diff(out, &r.diff)?,
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
    use serde_json::json;

    #[test]
    fn absent_object_is_a_create_and_diff_is_all_additions() {
        let merged = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "a", "namespace": "n", "uid": "x"}});
        let p = Planned {
            object: crate::kube::ObjectRef::of(&merged).unwrap(),
            body: merged.clone(),
            manager: crate::kube::FIELD_MANAGER,
            handover: false,
            live: None,
            merged,
            conflicts: vec![],
            immutable: vec![],
        };
        assert_eq!(p.action(), Action::Create);
        let d = p.diff(&Masker::default());
        assert!(d.contains("--- live/v1.ServiceAccount.n.a (not in the cluster)"), "{d}");
        assert!(d.contains("+kind: ServiceAccount"), "{d}");
        assert!(!d.contains("uid"), "{d}");
    }

    #[test]
    fn release_values_diff_masks_secrets_and_ignores_number_spelling() {
        let token = "f".repeat(64);
        let target = ReleaseTarget {
            name: "daskhub".into(),
            namespace: "hub".into(),
            values_file: "daskhub.yaml",
            values: json!({"jupyterhub": {"proxy": {"secretToken": token}, "cpu": {"limit": 4.0}, "image": "b"}}),
        };
        let deployed = helm_release::Release {
            name: "daskhub".into(),
            namespace: "hub".into(),
            revision: 2,
            status: "deployed".into(),
            chart: "tiny-0.1.0".into(),
            config: json!({"jupyterhub": {"proxy": {"secretToken": "e".repeat(64)}, "cpu": {"limit": 4}, "image": "a"}}),
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
}
