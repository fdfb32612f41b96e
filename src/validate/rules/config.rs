//! The few checks only a config has, because only the config says them this way: the notebook
//! server's CPU guarantee within its limit, and memory written as a quantity Z2JH understands.
//! (Everything else a config says is checked by the same rules as the artifacts it renders.)

use crate::config::HomeStorageClass;
use crate::diag::{Diagnostic, ids};
use crate::validate::rules::{Deployment, num};

pub fn check(d: &Deployment, out: &mut Vec<Diagnostic>) {
    let Some(c) = d.config else { return };
    let (guarantee, limit) = &c.cpu;
    if guarantee.value > limit.value {
        out.push(
            guarantee
                .error(
                    ids::SCHEMA,
                    format!(
                        "the cpu guarantee {} exceeds the limit {}",
                        num(guarantee.value),
                        num(limit.value)
                    ),
                )
                .hint("make guarantee ≤ limit"),
        );
    }
    // The values are rendered for the chart `hub.chart` names; the default repository chart at
    // another version would get values written for a different Z2JH.
    let cfg = &c.config;
    let rel = &cfg.releases.daskhub;
    if let (None, Some(pinned), (_, Some(expected))) =
        (&rel.chart, &rel.version, cfg.hub.chart.helm_reference())
        && pinned != expected
    {
        out.push(
            c.daskhub_version
                .error(
                    ids::SCHEMA,
                    format!("version {pinned} of the DaskHub chart, but the values are rendered for {}", cfg.hub.chart.id()),
                )
                .hint(format!(
                    "remove the version (hub.chart pins {expected}), or change hub.chart; a chart of your own needs releases.daskhub.chart too"
                )),
        );
    }
    // Home volumes that name no class get the cluster's default one: that must be ours.
    if cfg.hub.singleuser.storage_class == HomeStorageClass::ClusterDefault && !cfg.storage_class.default {
        out.push(
            c.home_storage_class
                .error(
                    ids::HOME_CLASS,
                    format!(
                        "clusterDefault: home volumes get the cluster's default StorageClass, but {} is not \
                         the default (storageClass.default: false)",
                        cfg.storage_class.name
                    ),
                )
                .hint(
                    "write storageClass: named (the volumes name the class), or make the class the default",
                ),
        );
    }
    for q in &c.memory {
        if let Err(why) = q.value.size() {
            out.push(q.error(ids::SCHEMA, format!("not a memory size: {why}")).hint(
                "write a Kubernetes quantity such as 4Gi (4 × 2³⁰ bytes), 4G (4 × 10⁹) or a whole number of bytes",
            ));
        }
    }
    // The API server refuses a pod whose request exceeds its limit, so no server could start.
    if let [guarantee, limit] = &c.memory[..]
        && let (Ok(g), Ok(l)) = (guarantee.value.size(), limit.value.size())
        && g.bytes > l.bytes
    {
        out.push(
            guarantee
                .error(ids::SCHEMA, "the memory guarantee exceeds the limit; Kubernetes refuses such a pod")
                .hint("make guarantee ≤ limit"),
        );
    }
}
