//! The facts rules need, read out of each kind of file with the place each came from.
//!
//! Rules never walk YAML themselves: they compare facts (a cluster's region, a node group's taint,
//! the options handler's default worker cores) that extraction here pulls from an eksctl
//! ClusterConfig, DaskHub values, EBS CSI values, Kubernetes manifests or the pangeo config. The
//! same fact type comes from a rendered artifact or from the config, so a cross-file rule runs the
//! same way whichever of the two a user gave. Extraction is defensive: a missing or mistyped value
//! is simply absent (the schema reports it), never a panic.

use std::path::{Path, PathBuf};

use crate::config::{Config, Loaded, NodeGroup, Quantity};
use crate::report::Diagnostic;
use crate::validate::python::{self, Literal};
use crate::yaml::{Node, Pos, Value, dotted};

/// Where a fact was read: file, position and the field as users write it.
#[derive(Clone, Debug, PartialEq)]
pub struct Loc {
    pub file: PathBuf,
    pub pos: Pos,
    pub field: String,
}

impl Loc {
    pub fn error(&self, id: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(id, &self.file, self.pos, message).field(self.field.clone())
    }
    pub fn warning(&self, id: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::warning(id, &self.file, self.pos, message).field(self.field.clone())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Fact<T> {
    pub value: T,
    pub loc: Loc,
}

impl<T> Fact<T> {
    pub fn error(&self, id: &'static str, message: impl Into<String>) -> Diagnostic {
        self.loc.error(id, message)
    }
    pub fn warning(&self, id: &'static str, message: impl Into<String>) -> Diagnostic {
        self.loc.warning(id, message)
    }
}

/// Reads facts from one parsed document, naming its fields by their path.
pub struct Reader<'a> {
    pub file: &'a Path,
    pub root: &'a Node,
}

impl<'a> Reader<'a> {
    pub fn new(file: &'a Path, root: &'a Node) -> Self {
        Reader { file, root }
    }

    pub fn loc(&self, path: &[&str]) -> Loc {
        Loc { file: self.file.to_path_buf(), pos: self.root.locate(path, false), field: dotted(path) }
    }

    /// The location of a key (for "missing" or "add here" messages).
    pub fn key_loc(&self, path: &[&str]) -> Loc {
        Loc { file: self.file.to_path_buf(), pos: self.root.locate(path, true), field: dotted(path) }
    }

    pub fn node(&self, path: &[&str]) -> Option<&'a Node> {
        self.root.at(path)
    }

    pub fn string(&self, path: &[&str]) -> Option<Fact<String>> {
        let n = self.root.at(path)?;
        Some(Fact { value: n.as_str()?.to_string(), loc: self.loc(path) })
    }

    pub fn number(&self, path: &[&str]) -> Option<Fact<f64>> {
        let n = self.root.at(path)?;
        Some(Fact { value: number(n)?, loc: self.loc(path) })
    }

    pub fn boolean(&self, path: &[&str]) -> Option<bool> {
        match self.root.at(path)?.value {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn strings(&self, path: &[&str]) -> Vec<Fact<String>> {
        let Some(n) = self.root.at(path) else { return Vec::new() };
        n.as_seq()
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let idx = i.to_string();
                let mut p = path.to_vec();
                p.push(&idx);
                Some(Fact { value: item.as_str()?.to_string(), loc: self.loc(&p) })
            })
            .collect()
    }

    /// A mapping of strings (labels, annotations, tags), each entry with its own location.
    pub fn string_map(&self, path: &[&str]) -> Vec<Fact<(String, String)>> {
        let Some(n) = self.root.at(path) else { return Vec::new() };
        n.as_map()
            .iter()
            .filter_map(|e| {
                let mut p = path.to_vec();
                p.push(&e.key);
                Some(Fact { value: (e.key.clone(), scalar_text(&e.value)?), loc: self.loc(&p) })
            })
            .collect()
    }
}

/// `base` followed by `rest`, as one path.
pub fn join<'a>(base: &[&'a str], rest: &[&'a str]) -> Vec<&'a str> {
    [base, rest].concat()
}

pub fn number(n: &Node) -> Option<f64> {
    match n.value {
        Value::Int(i) => Some(i as f64),
        Value::Float(f) => Some(f),
        _ => None,
    }
}

/// A scalar as text (strings as they are, numbers and booleans as YAML would print them).
pub fn scalar_text(n: &Node) -> Option<String> {
    match &n.value {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// The cluster: from an eksctl ClusterConfig or from the config's `cluster` section.

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

// ---------------------------------------------------------------------------------------------
// The hub: from DaskHub values or from the config's `hub` and `daskGateway` sections.

#[derive(Clone, Debug, PartialEq)]
pub struct Toleration {
    pub key: Option<String>,
    pub operator: Option<String>,
    pub value: Option<String>,
    pub effect: Option<String>,
}

impl Toleration {
    /// Kubernetes' rule (core/v1 `Toleration.ToleratesTaint`): effects match or the toleration
    /// names none; keys match or the toleration is a key-less `Exists`; values match for `Equal`.
    pub fn tolerates(&self, t: &Taint) -> bool {
        let effect_ok = self.effect.as_deref().is_none_or(|e| e.is_empty() || e == t.effect);
        let exists = self.operator.as_deref() == Some("Exists");
        let key_ok = match self.key.as_deref() {
            None | Some("") => exists,
            Some(k) => k == t.key,
        };
        let value_ok = exists || self.value.as_deref().unwrap_or("") == t.value;
        effect_ok && key_ok && value_ok
    }
}

/// A worker option's default and bounds, each with its place in the options handler.
#[derive(Clone, Debug)]
pub struct Bound {
    pub name: String,
    pub default: Option<Fact<f64>>,
    pub min: Option<Fact<f64>>,
    pub max: Option<Fact<f64>>,
}

#[derive(Clone, Debug)]
pub struct Image {
    pub name: String,
    pub tag: Option<String>,
}

impl Image {
    pub fn reference(&self) -> String {
        match &self.tag {
            Some(t) => format!("{}:{t}", self.name),
            None => self.name.clone(),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct HubFacts {
    pub file: PathBuf,
    pub from_config: bool,
    pub singleuser_image: Option<Fact<Image>>,
    pub cpu_guarantee: Option<Fact<f64>>,
    /// Bytes.
    pub memory_guarantee: Option<Fact<f64>>,
    pub worker_cores: Option<Bound>,
    /// GiB.
    pub worker_memory: Option<Bound>,
    pub max_workers: Option<Fact<f64>>,
    /// The `image` option's default: what workers run unless a user asks for another.
    pub gateway_image: Option<Fact<String>>,
    /// `None` when the section is absent altogether; an empty list is "present but empty".
    pub tolerations: Option<Vec<Fact<Toleration>>>,
    pub node_selector: Vec<Fact<(String, String)>>,
    pub pod_config_loc: Option<Loc>,
    pub https_offload: Option<Loc>,
    pub certificate: Option<Fact<String>>,
    pub annotations_loc: Option<Loc>,
    pub proxy_token: Option<Fact<String>>,
    pub hub_api_token: Option<Fact<String>>,
    pub gateway_api_token: Option<Fact<String>>,
    pub password_hash: Option<Fact<String>>,
    /// `password_hash` present but not a string (a list, a mapping, a number).
    pub password_hash_not_text: Option<Loc>,
    pub authenticator_class: Option<Fact<String>>,
    /// Where the code blocks are, for "no options handler" messages.
    pub extra_config_loc: Option<Loc>,
}

const HASH_PATH: [&str; 5] = ["jupyterhub", "hub", "config", "PangeoPasswordAuthenticator", "password_hash"];
pub const SSL_CERT: &str = "service.beta.kubernetes.io/aws-load-balancer-ssl-cert";
pub const CAPACITY_TYPE: &str = "eks.amazonaws.com/capacityType";
pub const NODEGROUP_LABEL: &str = "eks.amazonaws.com/nodegroup";

impl HubFacts {
    pub fn from_values(file: &Path, text: &str, root: &Node) -> HubFacts {
        let r = Reader::new(file, root);
        let su_base = ["jupyterhub", "singleuser"];
        let pod = ["dask-gateway", "gateway", "backend", "worker", "extraPodConfig"];
        let mut facts = HubFacts {
            file: file.to_path_buf(),
            singleuser_image: r.string(&join(&su_base, &["image", "name"])).map(|name| Fact {
                value: Image {
                    name: name.value,
                    tag: r.node(&join(&su_base, &["image", "tag"])).and_then(scalar_text),
                },
                loc: name.loc,
            }),
            cpu_guarantee: r.number(&join(&su_base, &["cpu", "guarantee"])),
            memory_guarantee: r.node(&join(&su_base, &["memory", "guarantee"])).and_then(|n| {
                let q = match &n.value {
                    Value::Str(s) => Quantity::Text(s.clone()),
                    _ => Quantity::Bytes(number(n)?),
                };
                Some(Fact { value: q.bytes()?, loc: r.loc(&join(&su_base, &["memory", "guarantee"])) })
            }),
            tolerations: r.node(&[&pod[..], &["tolerations"]].concat()).map(|list| {
                list.as_seq()
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let s = |k: &str| item.get(k).and_then(scalar_text);
                        let idx = i.to_string();
                        Fact {
                            value: Toleration {
                                key: s("key"),
                                operator: s("operator"),
                                value: s("value"),
                                effect: s("effect"),
                            },
                            loc: r.loc(&[&pod[..], &["tolerations", idx.as_str()]].concat()),
                        }
                    })
                    .collect()
            }),
            node_selector: r.string_map(&[&pod[..], &["nodeSelector"]].concat()),
            pod_config_loc: r.node(&pod).map(|_| r.key_loc(&pod)),
            https_offload: (r.boolean(&["jupyterhub", "proxy", "https", "enabled"]) == Some(true)
                && r.string(&["jupyterhub", "proxy", "https", "type"]).is_some_and(|t| t.value == "offload"))
            .then(|| r.loc(&["jupyterhub", "proxy", "https", "type"])),
            certificate: r.string(&["jupyterhub", "proxy", "service", "annotations", SSL_CERT]),
            annotations_loc: Some(r.key_loc(&["jupyterhub", "proxy", "service", "annotations"])),
            proxy_token: r.string(&["jupyterhub", "proxy", "secretToken"]),
            hub_api_token: r
                .string(&["jupyterhub", "hub", "services", "dask-gateway", "apiToken"])
                .or_else(|| r.string(&["jupyterhub", "hub", "services", "dask-gateway", "api_token"])),
            gateway_api_token: r.string(&["dask-gateway", "gateway", "auth", "jupyterhub", "apiToken"]),
            password_hash: r.string(&HASH_PATH),
            password_hash_not_text: r
                .node(&HASH_PATH)
                .filter(|n| n.as_str().is_none())
                .map(|_| r.loc(&HASH_PATH)),
            authenticator_class: r.string(&[
                "jupyterhub",
                "hub",
                "config",
                "JupyterHub",
                "authenticator_class",
            ]),
            ..HubFacts::default()
        };
        facts.read_options_handler(&r, text);
        facts
    }

    /// Reads the option defaults, bounds and worker cap from `dask-gateway.gateway.extraConfig`,
    /// a map of code blocks or one code block.
    fn read_options_handler(&mut self, r: &Reader, text: &str) {
        let base = ["dask-gateway", "gateway", "extraConfig"];
        let Some(extra) = r.node(&base) else { return };
        self.extra_config_loc = Some(r.key_loc(&base));
        let blocks: Vec<(Vec<&str>, &Node)> = match &extra.value {
            Value::Str(_) => vec![(base.to_vec(), extra)],
            Value::Map(entries) => {
                entries.iter().map(|e| ([&base[..], &[e.key.as_str()]].concat(), &e.value)).collect()
            }
            _ => Vec::new(),
        };
        // Real values have one to three code blocks; a bound keeps hostile input cheap.
        for (path, node) in blocks.into_iter().take(32) {
            let Some(code) = node.as_str() else { continue };
            let at = |offset: usize| Loc {
                file: r.file.to_path_buf(),
                pos: code_pos(text, node, code, offset),
                field: dotted(&path),
            };
            for call in python::option_calls(code) {
                let num = |key: &str| call.number(key).map(|(v, off)| Fact { value: v, loc: at(off) });
                let bound = || Bound {
                    name: call.name.clone(),
                    default: num("default"),
                    min: num("min"),
                    max: num("max"),
                };
                match (call.kind.as_str(), call.name.as_str()) {
                    ("Float" | "Integer", "worker_cores") => self.worker_cores = Some(bound()),
                    ("Float" | "Integer", "worker_memory") => self.worker_memory = Some(bound()),
                    ("String", "image") => {
                        if let Some(kw) = call.get("default")
                            && let Literal::Str(s) = &kw.value
                        {
                            self.gateway_image = Some(Fact { value: s.clone(), loc: at(kw.offset) });
                        }
                    }
                    _ => {}
                }
            }
            if let Some((Literal::Number(n), off)) =
                python::assignment(code, "c.ClusterConfig.cluster_max_workers")
            {
                self.max_workers = Some(Fact { value: n, loc: at(off) });
            }
        }
    }

    pub fn from_config(loaded: &Loaded) -> HubFacts {
        let (c, r) = (&loaded.config, Reader::new(&loaded.path, &loaded.node));
        let su = &c.hub.singleuser;
        let bound = |name: &str, key: &str, b: &crate::config::Bound| {
            let f = |k: &str, v: f64| Some(Fact { value: v, loc: r.loc(&["daskGateway", "worker", key, k]) });
            Bound {
                name: name.to_string(),
                default: f("default", b.default),
                min: f("min", b.min),
                max: f("max", b.max),
            }
        };
        let gateway_loc = if c.dask_gateway.image.is_some() {
            r.loc(&["daskGateway", "image"])
        } else {
            r.loc(&["hub", "singleuser", "image"])
        };
        HubFacts {
            file: loaded.path.clone(),
            from_config: true,
            singleuser_image: Some(Fact {
                value: Image { name: su.image.name.clone(), tag: Some(su.image.tag.clone()) },
                loc: r.loc(&["hub", "singleuser", "image"]),
            }),
            cpu_guarantee: Some(Fact {
                value: su.cpu.guarantee,
                loc: r.loc(&["hub", "singleuser", "cpu", "guarantee"]),
            }),
            memory_guarantee: su
                .memory
                .guarantee
                .bytes()
                .map(|b| Fact { value: b, loc: r.loc(&["hub", "singleuser", "memory", "guarantee"]) }),
            worker_cores: Some(bound("worker_cores", "cores", &c.dask_gateway.worker.cores)),
            worker_memory: Some(bound("worker_memory", "memoryGiB", &c.dask_gateway.worker.memory_gib)),
            max_workers: Some(Fact {
                value: f64::from(c.dask_gateway.max_workers_per_cluster),
                loc: r.loc(&["daskGateway", "maxWorkersPerCluster"]),
            }),
            gateway_image: Some(Fact { value: c.gateway_image().reference(), loc: gateway_loc }),
            certificate: Some(Fact {
                value: c.hub.certificate_arn.clone(),
                loc: r.loc(&["hub", "certificateArn"]),
            }),
            https_offload: Some(r.loc(&["hub", "certificateArn"])),
            ..HubFacts::default()
        }
    }
}

/// The file position of byte `offset` inside a code block. A block scalar (`|`) is reported by
/// the parser at its first content line, and each of its lines sits on its own file line after
/// the block's indentation; that is verified line by line, and anything else (a quoted string
/// with escapes, say) is reported at the value itself.
fn code_pos(text: &str, node: &Node, code: &str, offset: usize) -> Pos {
    let (line, col) = python::line_col(code, offset);
    let content_line = code.split('\n').nth(line as usize - 1).unwrap_or("");
    let file_line = node.pos.line + line - 1;
    if let Some(raw) = (file_line as usize).checked_sub(1).and_then(|i| text.lines().nth(i))
        && !content_line.is_empty()
        && raw.ends_with(content_line)
    {
        let indent = raw.chars().count() - content_line.chars().count();
        return Pos { line: file_line, col: indent as u32 + col };
    }
    node.pos
}

// ---------------------------------------------------------------------------------------------
// Kubernetes manifests and the EBS CSI driver's values.

#[derive(Clone, Debug)]
pub struct StorageClassFacts {
    pub name: Option<Fact<String>>,
    pub loc: Loc,
    /// The `is-default-class` annotation, when it is "true".
    pub default: Option<Loc>,
    pub provisioner: Option<Fact<String>>,
    pub provisioner_loc: Loc,
    /// `parameters.encrypted` as written (any scalar), with its location.
    pub encrypted: Option<Fact<String>>,
    pub encrypted_is_string: bool,
    pub parameters_loc: Loc,
    pub kms_key: Option<Fact<String>>,
}

#[derive(Clone, Debug)]
pub struct AutoscalerFacts {
    pub image: Option<Fact<String>>,
    /// The `--node-group-auto-discovery=…` argument, without the flag name.
    pub discovery: Option<Fact<String>>,
    pub container_loc: Loc,
}

/// Everything read from one file of Kubernetes manifests.
#[derive(Clone, Debug, Default)]
pub struct ManifestFacts {
    pub storage_classes: Vec<StorageClassFacts>,
    pub autoscalers: Vec<AutoscalerFacts>,
    /// `eks.amazonaws.com/role-arn` annotations on ServiceAccounts.
    pub role_arns: Vec<Fact<String>>,
}

pub const ROLE_ARN: &str = "eks.amazonaws.com/role-arn";
pub const DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
const DISCOVERY_FLAG: &str = "--node-group-auto-discovery=";

impl ManifestFacts {
    pub fn from_docs(file: &Path, docs: &[Node]) -> ManifestFacts {
        let mut out = ManifestFacts::default();
        for doc in docs {
            let r = Reader::new(file, doc);
            match doc.get("kind").and_then(Node::as_str) {
                Some("StorageClass") => out.storage_classes.push(StorageClassFacts {
                    name: r.string(&["metadata", "name"]),
                    loc: r.loc(&[]),
                    default: r
                        .string(&["metadata", "annotations", DEFAULT_CLASS])
                        .filter(|f| f.value == "true")
                        .map(|f| f.loc),
                    provisioner: r.string(&["provisioner"]),
                    provisioner_loc: r.key_loc(&["provisioner"]),
                    encrypted: r.node(&["parameters", "encrypted"]).and_then(|n| {
                        Some(Fact { value: scalar_text(n)?, loc: r.loc(&["parameters", "encrypted"]) })
                    }),
                    encrypted_is_string: r.string(&["parameters", "encrypted"]).is_some(),
                    parameters_loc: r.key_loc(&["parameters"]),
                    kms_key: r.string(&["parameters", "kmsKeyId"]),
                }),
                Some("ServiceAccount") => {
                    out.role_arns.extend(r.string(&["metadata", "annotations", ROLE_ARN]));
                }
                Some("Deployment") => {
                    let containers =
                        r.node(&["spec", "template", "spec", "containers"]).map(Node::as_seq).unwrap_or(&[]);
                    for (i, c) in containers.iter().enumerate() {
                        let is_autoscaler = c
                            .get("image")
                            .and_then(Node::as_str)
                            .is_some_and(|im| im.contains("cluster-autoscaler"))
                            || c.get("name").and_then(Node::as_str) == Some("cluster-autoscaler");
                        if !is_autoscaler {
                            continue;
                        }
                        let idx = i.to_string();
                        let cp = ["spec", "template", "spec", "containers", idx.as_str()];
                        let mut discovery = None;
                        for list in ["command", "args"] {
                            for f in r.strings(&[&cp[..], &[list]].concat()) {
                                if let Some(v) = f.value.strip_prefix(DISCOVERY_FLAG) {
                                    discovery = Some(Fact { value: v.to_string(), loc: f.loc });
                                }
                            }
                        }
                        out.autoscalers.push(AutoscalerFacts {
                            image: r.string(&[&cp[..], &["image"]].concat()),
                            discovery,
                            container_loc: r.loc(&cp),
                        });
                    }
                }
                _ => {}
            }
        }
        out
    }
}

#[derive(Clone, Debug)]
pub struct EbsFacts {
    pub role_arn: Option<Fact<String>>,
}

impl EbsFacts {
    pub fn from_values(file: &Path, root: &Node) -> EbsFacts {
        let r = Reader::new(file, root);
        EbsFacts { role_arn: r.string(&["controller", "serviceAccount", "annotations", ROLE_ARN]) }
    }
}

// ---------------------------------------------------------------------------------------------
// The config, as facts plus what only the config knows.

pub struct ConfigFacts {
    pub path: PathBuf,
    pub config: Config,
    pub cluster: ClusterFacts,
    pub hub: HubFacts,
    pub storage_class: Loc,
    /// `daskGateway.imageMatchesSingleuser`, with its location.
    pub image_matches: Option<Loc>,
}

impl ConfigFacts {
    pub fn new(loaded: &Loaded) -> ConfigFacts {
        let r = Reader::new(&loaded.path, &loaded.node);
        ConfigFacts {
            path: loaded.path.clone(),
            config: loaded.config.clone(),
            cluster: ClusterFacts::from_config(loaded),
            hub: HubFacts::from_config(loaded),
            storage_class: r.loc(&["storageClass"]),
            image_matches: loaded
                .config
                .dask_gateway
                .image_matches_singleuser
                .then(|| r.loc(&["daskGateway", "imageMatchesSingleuser"])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_positions_follow_block_scalars() {
        let text =
            "a:\n  extraConfig:\n    h: |\n      x = 1\n      c.ClusterConfig.cluster_max_workers = 24\n";
        let root = crate::yaml::parse_single(text).unwrap();
        let node = root.at(&["a", "extraConfig", "h"]).unwrap();
        let code = node.as_str().unwrap();
        let (_, off) = python::assignment(code, "c.ClusterConfig.cluster_max_workers").unwrap();
        assert_eq!(code_pos(text, node, code, off), Pos { line: 5, col: 45 });
    }

    #[test]
    fn tolerations_follow_kubernetes() {
        let taint = Taint { key: "lifecycle".into(), value: "spot".into(), effect: "NoExecute".into() };
        let t = |k: Option<&str>, op: Option<&str>, v: Option<&str>, e: Option<&str>| Toleration {
            key: k.map(Into::into),
            operator: op.map(Into::into),
            value: v.map(Into::into),
            effect: e.map(Into::into),
        };
        assert!(t(Some("lifecycle"), Some("Equal"), Some("spot"), Some("NoExecute")).tolerates(&taint));
        assert!(t(Some("lifecycle"), Some("Exists"), None, None).tolerates(&taint));
        assert!(t(None, Some("Exists"), None, None).tolerates(&taint));
        assert!(!t(Some("lifecycle"), Some("Equal"), Some("spot"), Some("NoSchedule")).tolerates(&taint));
        assert!(!t(Some("lifecycle"), None, Some("Spot"), None).tolerates(&taint));
        assert!(!t(None, Some("Equal"), Some("spot"), None).tolerates(&taint));
    }
}
