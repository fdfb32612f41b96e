//! PR025: with a config (`-c`, or a config beside the artifacts), each artifact must say what
//! the config says: the cluster's name, Region, version, zones and KMS key, each node group's
//! sizes, types, zone, spot and taint, the hub's images, resources, worker options and
//! certificate. A difference means the file was edited by hand or rendered from an older config;
//! either way `pangeo-render values` would change it. Secrets are never compared here: they live
//! in the secrets file, and their messages would have to quote them.

use crate::diag::Diagnostic;
use crate::diag::ids;
use crate::validate::facts::{Bound, ClusterFacts, Fact, HubFacts, Loc};
use crate::validate::rules::{Deployment, num};

const HINT: &str =
    "render it again with `pangeo-render values`, or change the config if the edit is intended";

pub fn check(d: &Deployment, out: &mut Vec<Diagnostic>) {
    let Some(cfg) = d.config else { return };
    if let Some(c) = d.cluster {
        cluster(c, &cfg.cluster, out);
    }
    if let Some(h) = d.hub {
        hub(h, &cfg.hub, out);
        // A limit where the config says none (`null`): `values` would remove it.
        if let (Some(f), None) = (&h.max_workers, cfg.config.dask_gateway.max_workers_per_cluster) {
            differs(
                out,
                &f.loc,
                "the maximum workers per cluster",
                &num(f.value),
                "none (null)",
                &cfg.max_workers,
            );
        }
    }
    for sc in d.manifests.iter().flat_map(|m| &m.storage_classes) {
        if let Some(n) = &sc.name {
            let want = &cfg.config.storage_class.name;
            let (o, e) =
                (sc.encrypted.as_ref().map(|f| f.value == "true"), cfg.config.storage_class.encrypted);
            if n.value != *want && d.manifests.iter().map(|m| m.storage_classes.len()).sum::<usize>() == 1 {
                differs(out, &n.loc, "StorageClass name", &n.value, want, &cfg.storage_class);
            }
            if let (Some(enc), Some(o)) = (&sc.encrypted, o)
                && o != e
            {
                differs(out, &enc.loc, "encryption", &o.to_string(), &e.to_string(), &cfg.storage_class);
            }
        }
    }
}

fn differs(out: &mut Vec<Diagnostic>, at: &Loc, what: &str, found: &str, want: &str, config_at: &Loc) {
    out.push(
        at.error(ids::CONFIG_DRIFT, format!("{what} is {found}, the config says {want}")).hint(format!(
            "{HINT} (config: {}:{})",
            config_at.file.display(),
            config_at.pos.line
        )),
    );
}

fn same_str(
    out: &mut Vec<Diagnostic>,
    what: &str,
    found: &Option<Fact<String>>,
    want: &Option<Fact<String>>,
) {
    if let (Some(f), Some(w)) = (found, want)
        && f.value != w.value
    {
        differs(out, &f.loc, what, &format!("`{}`", f.value), &format!("`{}`", w.value), &w.loc);
    }
}

fn same_num(out: &mut Vec<Diagnostic>, what: &str, found: &Option<Fact<f64>>, want: &Option<Fact<f64>>) {
    if let (Some(f), Some(w)) = (found, want)
        && (f.value - w.value).abs() > 1e-9 * w.value.abs().max(1.0)
    {
        differs(out, &f.loc, what, &num(f.value), &num(w.value), &w.loc);
    }
}

fn list(items: &[Fact<String>]) -> String {
    format!("[{}]", items.iter().map(|f| f.value.as_str()).collect::<Vec<_>>().join(", "))
}

fn cluster(c: &ClusterFacts, want: &ClusterFacts, out: &mut Vec<Diagnostic>) {
    same_str(out, "the cluster name", &c.name, &want.name);
    same_str(out, "the Region", &c.region, &want.region);
    same_str(out, "the Kubernetes version", &c.version, &want.version);
    same_str(out, "the KMS key", &c.kms_key, &want.kms_key);
    if list(&c.zones) != list(&want.zones) {
        differs(
            out,
            &c.zones_loc,
            "the cluster's zones",
            &list(&c.zones),
            &list(&want.zones),
            &want.zones_loc,
        );
    }
    for w in &want.groups {
        let Some(g) = c.groups.iter().find(|g| g.name.value == w.name.value) else {
            let at = c.groups.first().map_or(&c.zones_loc, |g| &g.loc);
            out.push(
                at.error(
                    ids::CONFIG_DRIFT,
                    format!("node group `{}` of the config is missing", w.name.value),
                )
                .hint(format!(
                    "{HINT} (config: {}:{})",
                    w.name.loc.file.display(),
                    w.name.loc.pos.line
                )),
            );
            continue;
        };
        let what = |field: &str| format!("node group `{}`'s {field}", g.name.value);
        same_num(out, &what("minSize"), &g.min, &w.min);
        same_num(out, &what("maxSize"), &g.max, &w.max);
        if list(&g.instance_types) != list(&w.instance_types) {
            differs(
                out,
                &g.instance_types_loc,
                &what("instance types"),
                &list(&g.instance_types),
                &list(&w.instance_types),
                &w.instance_types_loc,
            );
        }
        if list(&g.zones) != list(&w.zones) {
            differs(out, &g.zones_loc, &what("zones"), &list(&g.zones), &list(&w.zones), &w.zones_loc);
        }
        if g.spot != w.spot {
            differs(
                out,
                &g.spot_loc,
                &what("spot setting"),
                &g.spot.to_string(),
                &w.spot.to_string(),
                &w.spot_loc,
            );
        }
        let taints = |g: &crate::validate::facts::Group| {
            g.taints.iter().map(|t| t.value.to_string()).collect::<Vec<_>>().join(", ")
        };
        if taints(g) != taints(w) {
            let show = |s: String| if s.is_empty() { "none".to_string() } else { s };
            differs(out, &g.taints_loc, &what("taints"), &show(taints(g)), &show(taints(w)), &w.taints_loc);
        }
    }
    for g in &c.groups {
        if !want.groups.iter().any(|w| w.name.value == g.name.value) {
            out.push(
                g.name
                    .error(ids::CONFIG_DRIFT, format!("node group `{}` is not in the config", g.name.value))
                    .hint(format!(
                        "{HINT} (config: {}:{})",
                        want.file.display(),
                        want.groups.first().map_or(1, |w| w.loc.pos.line)
                    )),
            );
        }
    }
}

fn hub(h: &HubFacts, want: &HubFacts, out: &mut Vec<Diagnostic>) {
    if let (Some(f), Some(w)) = (&h.singleuser_image, &want.singleuser_image)
        && f.value.reference() != w.value.reference()
    {
        differs(out, &f.loc, "the singleuser image", &f.value.reference(), &w.value.reference(), &w.loc);
    }
    same_num(out, "the singleuser CPU guarantee", &h.cpu_guarantee, &want.cpu_guarantee);
    if let (Some(f), Some(w)) = (&h.memory_guarantee, &want.memory_guarantee)
        && (f.value - w.value).abs() > 0.5
    {
        differs(
            out,
            &f.loc,
            "the singleuser memory guarantee",
            &format!("{} bytes", num(f.value)),
            &format!("{} bytes", num(w.value)),
            &w.loc,
        );
    }
    let bound = |out: &mut Vec<Diagnostic>, f: &Option<Bound>, w: &Option<Bound>| {
        if let (Some(f), Some(w)) = (f, w) {
            same_num(out, &format!("{} default", f.name), &f.default, &w.default);
            same_num(out, &format!("{} min", f.name), &f.min, &w.min);
            same_num(out, &format!("{} max", f.name), &f.max, &w.max);
        }
    };
    bound(out, &h.worker_cores, &want.worker_cores);
    bound(out, &h.worker_memory, &want.worker_memory);
    same_num(out, "the maximum workers per cluster", &h.max_workers, &want.max_workers);
    same_str(out, "the workers' default image", &h.gateway_image, &want.gateway_image);
    same_str(out, "the ACM certificate", &h.certificate, &want.certificate);
    // Where the secrets live (secrets.inCluster): the Secret the values name, or none.
    match (&h.existing_secret, &want.existing_secret) {
        (Some(_), Some(_)) => same_str(out, "hub.existingSecret", &h.existing_secret, &want.existing_secret),
        (None, Some(w)) => out.push(
            w.error(
                ids::CONFIG_DRIFT,
                format!(
                    "the config keeps the secrets in Secret `{}` (secrets.inCluster), but {} has no \
                     jupyterhub.hub.existingSecret",
                    w.value,
                    h.file.display()
                ),
            )
            .hint(HINT),
        ),
        (Some(f), None) => out.push(
            f.error(
                ids::CONFIG_DRIFT,
                format!(
                    "hub.existingSecret is `{}`, but the config keeps the secrets in daskhub.yaml (no secrets.inCluster)",
                    f.value
                ),
            )
            .hint(HINT),
        ),
        (None, None) => {}
    }
}
