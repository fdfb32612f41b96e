//! The cluster: from an eksctl ClusterConfig or from the config's `cluster` section.

use std::path::{Path, PathBuf};

use super::{Fact, Loc, Reader, join};
use crate::config::{Loaded, NodeGroup};
use crate::yaml::Node;

#[derive(Clone, Debug, PartialEq)]
pub struct Taint {
    pub key: String,
    pub value: String,
    pub effect: String,
}

impl std::fmt::Display for Taint {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}={}:{}", self.key, self.value, self.effect)
    }
}

/// What a node group is for, when the config says so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Main,
    Workers,
}

#[derive(Clone, Debug)]
pub struct Group {
    pub name: Fact<String>,
    pub loc: Loc,
    pub instance_types: Vec<Fact<String>>,
    pub instance_types_loc: Loc,
    pub min: Option<Fact<f64>>,
    pub max: Option<Fact<f64>>,
    pub desired: Option<Fact<f64>>,
    pub zones: Vec<Fact<String>>,
    pub zones_loc: Loc,
    /// `subnets`, when the group places itself by subnet (eksctl allows that or zones, not both).
    pub subnets: Option<Loc>,
    pub spot: bool,
    pub spot_loc: Loc,
    pub taints: Vec<Fact<Taint>>,
    pub taints_loc: Loc,
    pub labels: Vec<Fact<(String, String)>>,
    /// `k8s.io/cluster-autoscaler/node-template/taint/KEY: VALUE:EFFECT` tags, for scale-from-zero.
    pub taint_tags: Vec<Fact<(String, String)>>,
    pub role: Option<Role>,
}

#[derive(Clone, Debug)]
pub struct ClusterFacts {
    pub file: PathBuf,
    pub from_config: bool,
    pub name: Option<Fact<String>>,
    pub region: Option<Fact<String>>,
    pub version: Option<Fact<String>>,
    /// `metadata.version` written as a number (YAML read `1.30` as 1.3).
    pub version_number: Option<Fact<f64>>,
    pub version_loc: Loc,
    pub zones: Vec<Fact<String>>,
    pub zones_loc: Loc,
    pub kms_key: Option<Fact<String>>,
    pub groups: Vec<Group>,
}

const TAINT_TAG: &str = "k8s.io/cluster-autoscaler/node-template/taint/";

impl ClusterFacts {
    pub fn from_eksctl(file: &Path, root: &Node) -> ClusterFacts {
        let r = Reader::new(file, root);
        let version_number = r.number(&["metadata", "version"]);
        let mut groups = Vec::new();
        for list in ["managedNodeGroups", "nodeGroups"] {
            for (i, _) in r.node(&[list]).map(Node::as_seq).unwrap_or(&[]).iter().enumerate() {
                let idx = i.to_string();
                let base = [list, idx.as_str()];
                let Some(name) = r.string(&join(&base, &["name"])) else { continue };
                let mut instance_types = r.strings(&join(&base, &["instanceTypes"]));
                if let Some(t) = r.string(&join(&base, &["instanceType"])) {
                    instance_types.push(t);
                }
                let taints = r
                    .node(&join(&base, &["taints"]))
                    .map(Node::as_seq)
                    .unwrap_or(&[])
                    .iter()
                    .enumerate()
                    .filter_map(|(t, _)| {
                        let ti = t.to_string();
                        let at =
                            |k: &str| r.string(&join(&base, &["taints", ti.as_str(), k])).map(|f| f.value);
                        Some(Fact {
                            value: Taint {
                                key: at("key")?,
                                value: at("value").unwrap_or_default(),
                                effect: at("effect")?,
                            },
                            loc: r.loc(&join(&base, &["taints", ti.as_str()])),
                        })
                    })
                    .collect();
                let taint_tags = r
                    .string_map(&join(&base, &["tags"]))
                    .into_iter()
                    .filter_map(|f| {
                        let key = f.value.0.strip_prefix(TAINT_TAG)?.to_string();
                        Some(Fact { value: (key, f.value.1), loc: f.loc })
                    })
                    .collect();
                groups.push(Group {
                    name,
                    loc: r.loc(&join(&base, &[])),
                    instance_types,
                    instance_types_loc: r.loc(&join(&base, &["instanceTypes"])),
                    min: r.number(&join(&base, &["minSize"])),
                    max: r.number(&join(&base, &["maxSize"])),
                    desired: r.number(&join(&base, &["desiredCapacity"])),
                    zones: r.strings(&join(&base, &["availabilityZones"])),
                    zones_loc: r.loc(&join(&base, &["availabilityZones"])),
                    subnets: r
                        .node(&join(&base, &["subnets"]))
                        .map(|_| r.key_loc(&join(&base, &["subnets"]))),
                    spot: r.boolean(&join(&base, &["spot"])).unwrap_or(false),
                    spot_loc: r.key_loc(&join(&base, &["spot"])),
                    taints,
                    taints_loc: r.key_loc(&join(&base, &["taints"])),
                    labels: r.string_map(&join(&base, &["labels"])),
                    taint_tags,
                    role: None,
                });
            }
        }
        ClusterFacts {
            file: file.to_path_buf(),
            from_config: false,
            name: r.string(&["metadata", "name"]),
            region: r.string(&["metadata", "region"]),
            version: r.string(&["metadata", "version"]),
            version_number,
            version_loc: r.key_loc(&["metadata", "version"]),
            zones: r.strings(&["availabilityZones"]),
            zones_loc: r.key_loc(&["availabilityZones"]),
            kms_key: r.string(&["secretsEncryption", "keyARN"]),
            groups,
        }
    }

    pub fn from_config(loaded: &Loaded) -> ClusterFacts {
        let (c, r) = (&loaded.config, Reader::new(&loaded.path, &loaded.node));
        let fact = |v: String, p: &[&str]| Fact { value: v, loc: r.loc(p) };
        let group = |key: &str, g: &NodeGroup, role: Role| {
            let p = |rest: &[&str]| -> Vec<String> {
                ["cluster", "nodeGroups", key].iter().chain(rest).map(|s| s.to_string()).collect()
            };
            let loc = |rest: &[&str]| r.loc(&p(rest).iter().map(String::as_str).collect::<Vec<_>>());
            // A group without its own zone uses the cluster's first one: point there.
            let zone_loc = if g.availability_zone.is_some() {
                loc(&["availabilityZone"])
            } else {
                r.loc(&["cluster", "availabilityZones", "0"])
            };
            Group {
                name: Fact { value: g.name.clone(), loc: loc(&["name"]) },
                loc: loc(&[]),
                instance_types: g
                    .instance_types
                    .iter()
                    .enumerate()
                    .map(|(i, t)| Fact { value: t.clone(), loc: loc(&["instanceTypes", &i.to_string()]) })
                    .collect(),
                instance_types_loc: loc(&["instanceTypes"]),
                min: Some(Fact { value: f64::from(g.min_size), loc: loc(&["minSize"]) }),
                max: Some(Fact { value: f64::from(g.max_size), loc: loc(&["maxSize"]) }),
                desired: None,
                zones: vec![Fact { value: c.zone_of(g).to_string(), loc: zone_loc.clone() }],
                zones_loc: zone_loc,
                subnets: None,
                spot: g.spot,
                spot_loc: loc(&["spot"]),
                taints: g
                    .taint
                    .iter()
                    .map(|t| Fact {
                        value: Taint { key: t.key.clone(), value: t.value.clone(), effect: t.effect.clone() },
                        loc: loc(&["taint"]),
                    })
                    .collect(),
                taints_loc: loc(&["taint"]),
                labels: Vec::new(),
                taint_tags: Vec::new(),
                role: Some(role),
            }
        };
        ClusterFacts {
            file: loaded.path.clone(),
            from_config: true,
            name: Some(fact(c.cluster.name.clone(), &["cluster", "name"])),
            region: Some(fact(c.cluster.region.clone(), &["cluster", "region"])),
            version: Some(fact(c.cluster.kubernetes_version.clone(), &["cluster", "kubernetesVersion"])),
            version_number: None,
            version_loc: r.loc(&["cluster", "kubernetesVersion"]),
            zones: c
                .cluster
                .availability_zones
                .iter()
                .enumerate()
                .map(|(i, z)| fact(z.clone(), &["cluster", "availabilityZones", &i.to_string()]))
                .collect(),
            zones_loc: r.loc(&["cluster", "availabilityZones"]),
            kms_key: Some(fact(c.cluster.kms_key_arn.clone(), &["cluster", "kmsKeyArn"])),
            groups: vec![
                group("main", &c.cluster.node_groups.main, Role::Main),
                group("daskWorkers", &c.cluster.node_groups.dask_workers, Role::Workers),
            ],
        }
    }

    /// The node group Dask workers run on: named by the config, else the spot group, else the
    /// one tainted group. `None` when the file does not make it clear.
    pub fn worker_group(&self) -> Option<&Group> {
        if let Some(g) = self.groups.iter().find(|g| g.role == Some(Role::Workers)) {
            return Some(g);
        }
        let spot: Vec<_> = self.groups.iter().filter(|g| g.spot).collect();
        if spot.len() == 1 {
            return Some(spot[0]);
        }
        let pool: Vec<_> = if spot.is_empty() { self.groups.iter().collect() } else { spot };
        let tainted: Vec<_> = pool.into_iter().filter(|g| !g.taints.is_empty()).collect();
        (tainted.len() == 1).then(|| tainted[0])
    }

    /// The node group users' servers run on: named by the config, else the only group that is
    /// neither tainted nor the worker group.
    pub fn main_group(&self) -> Option<&Group> {
        if let Some(g) = self.groups.iter().find(|g| g.role == Some(Role::Main)) {
            return Some(g);
        }
        let workers = self.worker_group().map(|g| &g.name.value);
        let rest: Vec<_> =
            self.groups.iter().filter(|g| g.taints.is_empty() && Some(&g.name.value) != workers).collect();
        (rest.len() == 1).then(|| rest[0])
    }
}
