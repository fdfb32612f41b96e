//! The hub: from DaskHub values or from the config's `hub` and `daskGateway` sections.

use std::path::{Path, PathBuf};

use super::cluster::Taint;
use super::{Fact, Loc, Reader, join, number, scalar_text};
use crate::config::Loaded;
use crate::memory;
use crate::validate::python::{self, Literal};
use crate::yaml::{Node, Pos, Value, dotted};

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
    pub cpu_limit: Option<Fact<f64>>,
    /// Bytes.
    pub memory_guarantee: Option<Fact<f64>>,
    /// Bytes.
    pub memory_limit: Option<Fact<f64>>,
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
    /// `jupyterhub.hub.existingSecret`: the Secret Z2JH reads before its own (from the config:
    /// the Secret `secrets.inCluster` makes, located at that key).
    pub existing_secret: Option<Fact<String>>,
    /// `dask-gateway.gateway.auth.jupyterhub.apiTokenFromSecretName` / `…Key`, where set.
    pub gateway_token_secret: Option<Fact<String>>,
    pub gateway_token_secret_key: Option<Fact<String>>,
    /// Where the code blocks are, for "no options handler" messages.
    pub extra_config_loc: Option<Loc>,
    /// `jupyterhub.singleuser` values that JupyterHub and KubeSpawner read when a server starts (CPU
    /// is the schema's: a number or nothing).
    pub spawn_settings: Vec<Fact<SpawnSetting>>,
}

/// One value of `jupyterhub.singleuser` as the hub will read it when a user's server starts.
#[derive(Clone, Debug, PartialEq)]
pub enum SpawnSetting {
    /// `memory.guarantee`/`memory.limit` (`key`), read by JupyterHub's `ByteSpecification`.
    Memory { key: &'static str, text: Option<String>, value: Result<u64, String> },
    /// An `extraEnv` entry's value, which KubeSpawner expands with `str.format`.
    Env { name: String, value: String },
}

/// A `singleuser.memory` value in bytes, as JupyterHub reads it.
fn hub_memory(r: &Reader, path: &[&str]) -> Option<Fact<f64>> {
    let bytes = memory::hub_bytes(hub_value(r.node(path)?)?).ok()?;
    Some(Fact { value: bytes as f64, loc: r.loc(path) })
}

/// A YAML scalar as JupyterHub's config would hold it (numbers stay numbers).
fn hub_value(n: &Node) -> Option<memory::HubValue<'_>> {
    match &n.value {
        Value::Str(s) => Some(memory::HubValue::Text(s)),
        _ => number(n).map(memory::HubValue::Number),
    }
}

fn spawn_settings(r: &Reader) -> Vec<Fact<SpawnSetting>> {
    let mut out = Vec::new();
    for key in ["guarantee", "limit"] {
        let path = ["jupyterhub", "singleuser", "memory", key];
        if let Some(n) = r.node(&path).filter(|n| !matches!(n.value, Value::Null)) {
            let value = hub_value(n)
                .ok_or_else(|| "JupyterHub refuses it: not a number or a string".to_string())
                .and_then(memory::hub_bytes);
            let text = n.as_str().map(str::to_string);
            out.push(Fact { value: SpawnSetting::Memory { key, text, value }, loc: r.loc(&path) });
        }
    }
    // Z2JH accepts extraEnv as a mapping of NAME: value or NAME: {value: …} (jupyterhub_config.py
    // passes it through `get_config` to `c.KubeSpawner.environment`), or as a list of {name, value}.
    let base = ["jupyterhub", "singleuser", "extraEnv"];
    let Some(env) = r.node(&base) else { return out };
    let mut push = |name: String, node: &Node, path: Vec<&str>| {
        if let Some(value) = node.as_str() {
            out.push(Fact { value: SpawnSetting::Env { name, value: value.to_string() }, loc: r.loc(&path) });
        }
    };
    for e in env.as_map() {
        match e.value.get("value") {
            Some(v) => push(e.key.clone(), v, join(&base, &[e.key.as_str(), "value"])),
            None => push(e.key.clone(), &e.value, join(&base, &[e.key.as_str()])),
        }
    }
    let indexes: Vec<String> = (0..env.as_seq().len()).map(|i| i.to_string()).collect();
    for (item, idx) in env.as_seq().iter().zip(&indexes) {
        if let (Some(name), Some(v)) = (item.get("name").and_then(|n| n.as_str()), item.get("value")) {
            push(name.to_string(), v, join(&base, &[idx.as_str(), "value"]));
        }
    }
    out
}

const GATEWAY_AUTH_PATH: [&str; 5] = ["dask-gateway", "gateway", "auth", "jupyterhub", ""];
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
            cpu_limit: r.number(&join(&su_base, &["cpu", "limit"])),
            // In daskhub.yaml memory is JupyterHub's (`8G` is 8 GiB), not the config's.
            memory_guarantee: hub_memory(&r, &join(&su_base, &["memory", "guarantee"])),
            memory_limit: hub_memory(&r, &join(&su_base, &["memory", "limit"])),
            spawn_settings: spawn_settings(&r),
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
            existing_secret: r.string(&["jupyterhub", "hub", "existingSecret"]),
            gateway_token_secret: r
                .string(&GATEWAY_AUTH_PATH.map(|k| if k.is_empty() { "apiTokenFromSecretName" } else { k })),
            gateway_token_secret_key: r
                .string(&GATEWAY_AUTH_PATH.map(|k| if k.is_empty() { "apiTokenFromSecretKey" } else { k })),
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
            cpu_limit: Some(Fact { value: su.cpu.limit, loc: r.loc(&["hub", "singleuser", "cpu", "limit"]) }),
            memory_guarantee: su
                .memory
                .guarantee
                .bytes()
                .map(|b| Fact { value: b, loc: r.loc(&["hub", "singleuser", "memory", "guarantee"]) }),
            memory_limit: su
                .memory
                .limit
                .bytes()
                .map(|b| Fact { value: b, loc: r.loc(&["hub", "singleuser", "memory", "limit"]) }),
            worker_cores: Some(bound("worker_cores", "cores", &c.dask_gateway.worker.cores)),
            worker_memory: Some(bound("worker_memory", "memoryGiB", &c.dask_gateway.worker.memory_gib)),
            max_workers: c
                .dask_gateway
                .max_workers_per_cluster
                .map(|n| Fact { value: f64::from(n), loc: r.loc(&["daskGateway", "maxWorkersPerCluster"]) }),
            gateway_image: Some(Fact { value: c.gateway_image().reference(), loc: gateway_loc }),
            certificate: Some(Fact {
                value: c.hub.certificate_arn.clone(),
                loc: r.loc(&["hub", "certificateArn"]),
            }),
            https_offload: Some(r.loc(&["hub", "certificateArn"])),
            existing_secret: c.secrets.in_cluster.then(|| Fact {
                value: crate::secrets::in_cluster::secret_name(&c.releases.daskhub.name),
                loc: r.loc(&["secrets", "inCluster"]),
            }),
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
