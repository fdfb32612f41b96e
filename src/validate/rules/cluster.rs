//! The eksctl ClusterConfig: Region and zones (PR007, PR008), the Kubernetes version (PR009,
//! PR010), node group sizes (PR013), eksctl's name pattern (PR014) and known instance types
//! (PR024), on `cluster.yaml` (which users edit by hand) and on the config's `cluster` section
//! alike: what eksctl does offline, plus what eksctl must ask AWS.

use crate::aws::{eks_versions, instances, regions};
use crate::diag::Diagnostic;
use crate::diag::ids;
use crate::validate::facts::ClusterFacts;
use crate::validate::rules::{Deployment, num};

pub fn check(d: &Deployment, out: &mut Vec<Diagnostic>) {
    // cluster.yaml as eksctl will read it, else the config's `cluster` section (a config in a
    // deployment with its cluster.yaml is checked on its own, by `validate::check_config`).
    if let Some(c) = d.cluster_side() {
        region_and_zones(c, out);
        version(c, out);
        names_and_sizes(c, out);
        instance_types(c, out);
    }
}

fn region_and_zones(c: &ClusterFacts, out: &mut Vec<Diagnostic>) {
    let region = c.region.as_ref().and_then(|r| {
        let found = regions::find(&r.value);
        if found.is_none() {
            let hint = match regions::suggest(&r.value) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "use a Region code such as us-west-2".into(),
            };
            out.push(r.error(ids::ZONE_REGION, format!("unknown AWS Region `{}`", r.value)).hint(hint));
        }
        found
    });
    if c.zones.len() < 2 {
        out.push(
            c.zones_loc
                .error(
                    ids::ZONE_LAYOUT,
                    format!("{} cluster availability zone(s) given; EKS needs at least 2", c.zones.len()),
                )
                .hint("list two or more zones of the Region in availabilityZones"),
        );
    }
    let mut all_zones: Vec<_> = c.zones.iter().collect();
    all_zones.extend(c.groups.iter().flat_map(|g| g.zones.iter()));
    if let Some(region) = region {
        for z in all_zones {
            if !region.has_zone(&z.value) {
                out.push(
                    z.error(
                        ids::ZONE_REGION,
                        format!("`{}` is not an availability zone of {}", z.value, region.code),
                    )
                    .hint(format!(
                        "zones of {}: {}",
                        region.code,
                        region.zones().join(", ")
                    )),
                );
            }
        }
    }
    // EBS volumes are zonal: a user's home volume and the nodes that mount it must share a zone,
    // so every node group is pinned to the same single zone, one of the cluster's.
    let mut first: Option<&str> = None;
    for g in &c.groups {
        if let Some(subnets) = &g.subnets {
            if !g.zones.is_empty() {
                out.push(
                    subnets
                        .error(ids::ZONE_LAYOUT, format!("node group `{}` sets both subnets and availabilityZones", g.name.value))
                        .hint("eksctl accepts one of the two; keep availabilityZones with the single shared zone"),
                );
            }
            continue; // placed by subnet: its zone is not known here
        }
        if g.zones.len() != 1 {
            out.push(
                g.zones_loc
                    .error(ids::ZONE_LAYOUT, format!("node group `{}` is in {} zones; it must be pinned to exactly one", g.name.value, g.zones.len()))
                    .hint("give availabilityZones a single zone, the same for every node group, so EBS volumes can follow pods"),
            );
            continue;
        }
        let z = &g.zones[0];
        if !c.zones.is_empty() && !c.zones.iter().any(|cz| cz.value == z.value) {
            out.push(
                z.error(
                    ids::ZONE_LAYOUT,
                    format!(
                        "node group `{}` is pinned to `{}`, which is not one of the cluster's zones",
                        g.name.value, z.value
                    ),
                )
                .hint(format!(
                    "use one of: {}",
                    c.zones.iter().map(|z| z.value.as_str()).collect::<Vec<_>>().join(", ")
                )),
            );
        }
        match first {
            None => first = Some(&z.value),
            Some(f) if f != z.value => out.push(
                z.error(
                    ids::ZONE_LAYOUT,
                    format!("node group `{}` is in `{}`, another node group in `{f}`", g.name.value, z.value),
                )
                .hint("pin every node group to the same zone so EBS volumes can follow users and workers"),
            ),
            _ => {}
        }
    }
}

fn version(c: &ClusterFacts, out: &mut Vec<Diagnostic>) {
    if let Some(n) = &c.version_number {
        out.push(
            n.error(
                ids::VERSION_QUOTED,
                format!("the Kubernetes version is the number {}, not a string", n.value),
            )
            .hint("quote it, e.g. version: \"1.30\" (YAML reads an unquoted 1.30 as the number 1.3)"),
        );
        return;
    }
    let Some(v) = &c.version else { return };
    // eksctl picks its default for an empty or `auto` version and the newest for `latest`.
    if matches!(v.value.as_str(), "" | "auto" | "latest") {
        return;
    }
    let today = eks_versions::today();
    // The hint's `upgrade -c CONFIG` names the config when the version came from one.
    let config = c.from_config.then(|| c.file.display().to_string());
    if let Some((severity, message, hint)) = eks_versions::verdict(&v.value, &today, config.as_deref()) {
        out.push(
            match severity {
                eks_versions::Severity::Warning => v.warning(ids::VERSION_SUPPORT, message),
                eks_versions::Severity::Error => v.error(ids::VERSION_SUPPORT, message),
            }
            .hint(hint),
        );
    }
}

/// eksctl's pattern for cluster and node group names, `[a-zA-Z][-a-zA-Z0-9]*`.
pub fn eksctl_name_ok(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn names_and_sizes(c: &ClusterFacts, out: &mut Vec<Diagnostic>) {
    const HINT: &str =
        "use letters, digits and '-', starting with a letter (eksctl's pattern [a-zA-Z][-a-zA-Z0-9]*)";
    if let Some(n) = &c.name {
        if !eksctl_name_ok(&n.value) {
            out.push(
                n.error(
                    ids::NAME_PATTERN,
                    format!("cluster name `{}` breaks eksctl's name pattern", n.value),
                )
                .hint(HINT),
            );
        } else if n.value.len() > 100 {
            out.push(
                n.error(ids::NAME_PATTERN, "the cluster name is longer than EKS's 100 characters")
                    .hint("shorten it"),
            );
        }
    }
    for (i, g) in c.groups.iter().enumerate() {
        if !eksctl_name_ok(&g.name.value) {
            out.push(
                g.name
                    .error(
                        ids::NAME_PATTERN,
                        format!("node group name `{}` breaks eksctl's name pattern", g.name.value),
                    )
                    .hint(HINT),
            );
        }
        if c.groups[..i].iter().any(|o| o.name.value == g.name.value) {
            out.push(
                g.name
                    .error(ids::NAME_PATTERN, format!("two node groups are named `{}`", g.name.value))
                    .hint("node group names must be unique in a cluster"),
            );
        }
        if let (Some(min), Some(max)) = (&g.min, &g.max) {
            if min.value > max.value {
                out.push(
                    min.error(
                        ids::NODE_SIZES,
                        format!("minSize {} is greater than maxSize {}", num(min.value), num(max.value)),
                    )
                    .hint("lower minSize or raise maxSize"),
                );
            }
            if let Some(d) = &g.desired
                && (d.value < min.value || d.value > max.value)
            {
                out.push(
                    d.error(
                        ids::NODE_SIZES,
                        format!(
                            "desiredCapacity {} lies outside [{}, {}]",
                            num(d.value),
                            num(min.value),
                            num(max.value)
                        ),
                    )
                    .hint("make minSize ≤ desiredCapacity ≤ maxSize"),
                );
            }
        }
    }
}

fn instance_types(c: &ClusterFacts, out: &mut Vec<Diagnostic>) {
    for g in &c.groups {
        for t in &g.instance_types {
            if instances::find(&t.value).is_none() {
                out.push(
                    t.warning(ids::INSTANCE_TYPE, format!("instance type `{}` is not in pangeo-render's instance data", t.value))
                        .hint("capacity checks skip it; known families: m5, m6i, m7i, c5, r5 (src/aws/instances.rs)"),
                );
            }
        }
    }
}
