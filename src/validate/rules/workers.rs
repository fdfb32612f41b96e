//! Dask workers: where they run (PR017), what a user may ask for (PR018) and what image they run
//! (PR019).
//!
//! Placement is the classic silent failure: a toleration that no longer matches the spot group's
//! taint, or a nodeSelector for a capacity type no group has, leaves every worker Pending forever
//! while the gateway reports the cluster as started.

use crate::diag::Diagnostic;
use crate::diag::ids;
use crate::validate::facts::{Bound, CAPACITY_TYPE, ClusterFacts, Group, HubFacts, NODEGROUP_LABEL};
use crate::validate::rules::autoscaler::split_image;
use crate::validate::rules::{Deployment, num};

pub fn check(d: &Deployment, out: &mut Vec<Diagnostic>) {
    if let Some(c) = d.cluster {
        taint_tags(c, out);
    }
    // Placement is read from daskhub.yaml only: the config has no tolerations, it renders them.
    if let Some(h) = d.hub
        && let Some(c) = d.cluster_side()
        && let Some(g) = c.worker_group()
    {
        placement(h, g, out);
    }
    let Some(h) = d.hub_side() else { return };
    for b in [&h.worker_cores, &h.worker_memory].into_iter().flatten() {
        bounds(b, out);
    }
    images(d, h, out);
}

/// The spot group's taint must be tolerated, and every nodeSelector label must be one the group's
/// nodes carry.
fn placement(h: &HubFacts, g: &Group, out: &mut Vec<Diagnostic>) {
    let tolerations = h.tolerations.as_deref().unwrap_or(&[]);
    for taint in &g.taints {
        if !tolerations.iter().any(|t| t.value.tolerates(&taint.value)) {
            let at = tolerations.first().map(|t| t.loc.clone()).or_else(|| h.pod_config_loc.clone());
            let Some(at) = at else { continue };
            let had = if tolerations.is_empty() {
                "there is no toleration".to_string()
            } else {
                format!("{} toleration(s) match none of them", tolerations.len())
            };
            out.push(
                at.error(ids::WORKER_PLACEMENT, format!("Dask workers do not tolerate node group `{}`'s taint {} ({had})", g.name.value, taint.value))
                    .hint(format!(
                        "add the toleration {{key: {}, operator: Equal, value: {}, effect: {}}} (the taint is at {}:{})",
                        taint.value.key, taint.value.value, taint.value.effect, taint.loc.file.display(), taint.loc.pos.line
                    )),
            );
        }
    }
    let capacity = if g.spot { "SPOT" } else { "ON_DEMAND" };
    for sel in &h.node_selector {
        let (key, value) = (&sel.value.0, &sel.value.1);
        let wanted = match key.as_str() {
            CAPACITY_TYPE => Some(capacity.to_string()),
            NODEGROUP_LABEL => Some(g.name.value.clone()),
            other => g.labels.iter().find(|l| l.value.0 == other).map(|l| l.value.1.clone()),
        };
        match wanted {
            Some(w) if &w != value => out.push(
                sel.error(
                    ids::WORKER_PLACEMENT,
                    format!("workers select {key}={value}, but node group `{}` has {key}={w}", g.name.value),
                )
                .hint(if key == CAPACITY_TYPE {
                    format!(
                        "the group is {} (spot: {}); select {CAPACITY_TYPE}: {capacity}",
                        if g.spot { "spot" } else { "on-demand" },
                        g.spot
                    )
                } else {
                    format!("select {key}: {w}")
                }),
            ),
            // A label the group does not set (and EKS does not add) matches no node.
            None if !key.starts_with("kubernetes.io/")
                && !key.starts_with("node.kubernetes.io/")
                && !key.starts_with("topology.kubernetes.io/")
                && !key.starts_with("eks.amazonaws.com/") =>
            {
                out.push(
                    sel.error(
                        ids::WORKER_PLACEMENT,
                        format!(
                            "workers select the label {key}, which node group `{}` does not set",
                            g.name.value
                        ),
                    )
                    .hint("add the label to the node group, or remove it from the nodeSelector"),
                )
            }
            _ => {}
        }
    }
}

/// eksctl tags a tainted group so the autoscaler can scale it up from zero: the tag must say the
/// same taint, or the autoscaler starts nodes the pending workers cannot use (or none at all).
fn taint_tags(c: &ClusterFacts, out: &mut Vec<Diagnostic>) {
    for g in &c.groups {
        for tag in &g.taint_tags {
            let (key, value) = &tag.value;
            let matches = g
                .taints
                .iter()
                .any(|t| &t.value.key == key && value == &format!("{}:{}", t.value.value, t.value.effect));
            if !matches {
                out.push(
                    tag.error(ids::WORKER_PLACEMENT, format!("the autoscaler's taint tag for `{key}` does not match node group `{}`'s taints", g.name.value))
                        .hint("make the tag k8s.io/cluster-autoscaler/node-template/taint/KEY: VALUE:EFFECT of the group's taint, so scaling up from zero works"),
                );
            }
        }
    }
}

/// PR018: the default the gateway offers must lie inside the bounds it enforces, or every new
/// cluster fails with a validation error before a worker starts.
fn bounds(b: &Bound, out: &mut Vec<Diagnostic>) {
    if let (Some(min), Some(max)) = (&b.min, &b.max)
        && min.value > max.value
    {
        out.push(
            min.error(
                ids::OPTION_BOUNDS,
                format!("{}: min {} is greater than max {}", b.name, num(min.value), num(max.value)),
            )
            .hint("make min ≤ max"),
        );
        return;
    }
    let Some(def) = &b.default else { return };
    let below = b.min.as_ref().filter(|m| def.value < m.value);
    let above = b.max.as_ref().filter(|m| def.value > m.value);
    if let Some(m) = below {
        out.push(
            def.error(
                ids::OPTION_BOUNDS,
                format!("{}: default {} is below min {}", b.name, num(def.value), num(m.value)),
            )
            .hint("make min ≤ default ≤ max"),
        );
    }
    if let Some(m) = above {
        out.push(
            def.error(
                ids::OPTION_BOUNDS,
                format!("{}: default {} is above max {}", b.name, num(def.value), num(m.value)),
            )
            .hint("make min ≤ default ≤ max"),
        );
    }
}

/// PR019: images are pinned by tag, and the workers' default image is the notebook's when the
/// config says so (a notebook and its workers must share one environment).
fn images(d: &Deployment, h: &HubFacts, out: &mut Vec<Diagnostic>) {
    if let Some(img) = &h.singleuser_image
        && img.value.tag.as_deref().is_none_or(str::is_empty)
    {
        out.push(
            img.error(ids::IMAGE_TAG, format!("the singleuser image `{}` has no tag", img.value.name))
                .hint("set jupyterhub.singleuser.image.tag to a quoted version, e.g. \"2025.11.13\""),
        );
    }
    if let Some(g) = &h.gateway_image
        && split_image(&g.value).1.is_none()
    {
        out.push(
            g.error(ids::IMAGE_TAG, format!("the workers' default image `{}` has no tag", g.value))
                .hint("write it as name:tag; the options handler refuses images without a tag"),
        );
    }
    let matches = d.config.and_then(|c| c.image_matches.as_ref());
    if let (Some(cfg_loc), Some(g), Some(su)) = (matches, &h.gateway_image, &h.singleuser_image)
        && g.value != su.value.reference()
    {
        out.push(
            g.error(
                ids::IMAGE_TAG,
                format!(
                    "the workers' default image {} differs from the singleuser image {}",
                    g.value,
                    su.value.reference()
                ),
            )
            .hint(format!(
                "the config asks for the same image ({}:{}); use the singleuser image",
                cfg_loc.file.display(),
                cfg_loc.pos.line
            )),
        );
    }
}
