//! The Helm releases of the deployment, the other half of the plan beside the manifests: each
//! release's name, namespace, pinned chart and rendered values, in install order.

use serde_json::Value;

use crate::config;
use crate::error::{Error, Result};
use crate::helm::chart::{ChartId, ChartPin};
use crate::helm::command::{self, Target};
use crate::render::{Artifact, ArtifactKind};

/// A Helm release this deployment installs, with its rendered values: described once here, and
/// read by `diff` (compare, preview), `apply` (upgrade) and the printed helm commands.
#[derive(Clone, Debug)]
pub struct Release {
    pub name: String,
    pub namespace: String,
    /// The chart name and version the config pins (read from Chart.yaml for a local chart).
    pub chart: ChartId,
    /// Where that chart comes from, for helm.
    pub pin: ChartPin,
    pub values_file: &'static str,
    pub values: Value,
    /// The rendered values file, for `helm template`.
    pub values_text: String,
}

/// The releases to compare, in install order (the EBS CSI driver before DaskHub). A local chart
/// that cannot be read, or whose Chart.yaml disagrees with the pinned version, is an error that
/// names the config's field.
pub fn releases(loaded: &config::Loaded, artifacts: &[Artifact]) -> Result<Vec<Release>> {
    let cfg = &loaded.config;
    let dir = loaded.path.parent().unwrap_or(std::path::Path::new(""));
    let mut out = Vec::new();
    for (kind, rel, key, pin) in [
        (ArtifactKind::EbsCsiValues, &cfg.releases.ebs_csi_driver, "ebsCsiDriver", cfg.ebs_csi_chart(dir)),
        (ArtifactKind::DaskhubValues, &cfg.releases.daskhub, "daskhub", cfg.daskhub_chart(dir)),
    ] {
        let Some(a) = artifacts.iter().find(|a| a.kind == kind) else { continue };
        let chart = pin.identity().map_err(|message| {
            let pos = loaded.node.locate(&["releases", key, "chart"], false);
            Error::Usage(format!(
                "{}:{}:{}: releases.{key}.chart: {message}",
                loaded.path.display(),
                pos.line,
                pos.col
            ))
        })?;
        let values = a.document()?.to_json();
        out.push(Release {
            name: rel.name.clone(),
            namespace: rel.namespace.clone(),
            chart,
            pin,
            values_file: a.file_name,
            values,
            values_text: a.text.clone(),
        });
    }
    Ok(out)
}

impl Release {
    /// `helm upgrade --install` of this release; `values` is a path or
    /// [`command::VALUES_ON_STDIN`].
    pub fn upgrade_args(&self, values: &str, target: &Target, dry_run: bool) -> Vec<String> {
        command::upgrade_args(&self.name, &self.namespace, &self.pin, values, target, dry_run)
    }

    /// `helm template` of this release as `helm upgrade` (or install) would render it, the
    /// values on helm's stdin.
    pub fn template_args(&self, kube_version: &str, upgrade: bool, target: &Target) -> Vec<String> {
        command::template_args(
            &self.name,
            &self.namespace,
            &self.pin,
            command::VALUES_ON_STDIN,
            kube_version,
            upgrade,
            target,
        )
    }
}
