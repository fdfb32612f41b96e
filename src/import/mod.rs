//! `import`: a hub built by hand with the walkthrough, turned into a config and a secrets file.
//!
//! The front door for deployments that exist before their config: it reads the walkthrough's
//! hand-edited `cluster.yaml` (eksctl), `daskhub.yaml` (Helm values) and `storageclass.yaml`,
//! and produces the [`Config`] and [`Secrets`] that render the same deployment. From there the
//! usual flow takes over (config → render → validate → plan → diff | apply).
//!
//! What the running hub depends on is kept exactly: both tokens as they are (rotating them would
//! log everyone out and cut the gateway off), the IAM role names eksctl created, the StorageClass
//! name its volumes carry. The shared password (`DummyAuthenticator.password`, or
//! `SharedPasswordAuthenticator.user_password` on JupyterHub 5) is kept only as its PBKDF2 hash.
//! Whatever has no place in the config is not dropped silently: [`compare`] lists every value of
//! the hand-edited files that the rendered files do not say, and every value they add.

pub mod compare;

use std::path::{Path, PathBuf};

use crate::config::{
    self, Bound, Chart, Cluster, ClusterAutoscaler, Config, Cpu, DaskGateway, EbsCsiDriver, FsTypeParameter,
    HomeStorageClass, Hub, IamRoleNames, Image, Memory, NodeGroup, NodeGroups, OptionHandler, Quantity,
    Release, Releases, Singleuser, StorageClass, Taint, WorkerOptions,
};
use crate::diag::source::{self, FileText};
use crate::diag::{Diagnostic, ids};
use crate::error::{Error, Result};
use crate::memory::{self, HubValue};
use crate::secrets::mask::Masker;
use crate::secrets::{self, Secrets, password};
use crate::yaml::{self, Node, Pos};

/// The walkthrough's files, by the names it gives them.
pub const CLUSTER_FILE: &str = "cluster.yaml";
pub const DASKHUB_FILE: &str = "daskhub.yaml";
pub const STORAGECLASS_FILE: &str = "storageclass.yaml";
/// Where import keeps the gateway's option handler, beside the config (`daskGateway.optionHandler`).
pub const HANDLER_FILE: &str = "gateway-options.py";

/// What the walkthrough's own commands decide and its files do not say.
pub mod walkthrough {
    /// `helm upgrade --install daskhub dask/daskhub --values=daskhub.yaml` names no namespace, so
    /// the release is in the kubeconfig's namespace: `default` unless the user changed it.
    pub const DASKHUB_NAMESPACE: &str = "default";
    /// The same command names no version: the newest published chart, daskhub 2024.1.1.
    pub const CHART: super::Chart = super::Chart::Daskhub2024;
    /// Its EBS CSI install sets `image.repository` to the Region's EKS registry.
    pub const REGIONAL_EBS_IMAGE: bool = true;
    /// The upstream `cluster-autoscaler-autodiscover.yaml` it applies pulls the image `Always`.
    pub const AUTOSCALER_PULL_POLICY: crate::config::PullPolicy = crate::config::PullPolicy::Always;
}

/// A hand-edited file, parsed with positions.
pub struct Source {
    pub path: PathBuf,
    pub node: Node,
}

impl Source {
    pub fn read(path: &Path) -> Result<Source> {
        let text = match source::read(path).map_err(|e| Error::io(path, e))? {
            FileText::Text(text) => text,
            FileText::Refused(d) => return Err(Error::Invalid(vec![d])),
        };
        let node =
            yaml::parse_single(&text).map_err(|e| Error::Invalid(vec![source::parse_error(path, e)]))?;
        Ok(Source { path: path.to_path_buf(), node })
    }

    fn at(&self, path: &[&str]) -> Option<&Node> {
        self.node.at(path)
    }

    fn pos(&self, path: &[&str]) -> Pos {
        self.node.locate(path, false)
    }

    fn error(&self, id: &'static str, path: &[&str], message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(id, &self.path, self.pos(path), message).field(yaml::dotted(path))
    }
}

/// The three files of a walkthrough folder.
pub struct Sources {
    pub cluster: Source,
    pub daskhub: Source,
    pub storageclass: Source,
}

impl Sources {
    pub fn read(dir: &Path) -> Result<Sources> {
        let file = |name: &str| {
            let path = dir.join(name);
            if !path.is_file() {
                return Err(Error::Usage(format!(
                    "{} not found: --from names the folder with the walkthrough's {CLUSTER_FILE}, \
                     {DASKHUB_FILE} and {STORAGECLASS_FILE} as they were applied",
                    path.display()
                )));
            }
            Source::read(&path)
        };
        Ok(Sources {
            cluster: file(CLUSTER_FILE)?,
            daskhub: file(DASKHUB_FILE)?,
            storageclass: file(STORAGECLASS_FILE)?,
        })
    }

    fn all(&self) -> [&Source; 3] {
        [&self.cluster, &self.daskhub, &self.storageclass]
    }
}

/// What the user adds that the files do not say.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The hub's public name (`daskhub.yaml` of the walkthrough has none).
    pub domain: Option<String>,
}

/// The import's result: the config, the secrets, and what was decided for the user.
pub struct Imported {
    pub config: Config,
    pub secrets: Secrets,
    /// Choices the files did not make, each with the config key that holds it.
    pub assumptions: Vec<String>,
    /// Every secret the files held, the plaintext password included: only to mask output.
    pub masker: Masker,
}

/// Reads the config and secrets out of the walkthrough's files. Every problem is reported at
/// its file, line and field, all at once; nothing secret is quoted.
pub fn import(src: &Sources, opts: &Options) -> Result<Imported> {
    let mut errors = placeholders(src);
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let mut assumptions = Vec::new();
    let cluster = read_cluster(&src.cluster, &mut errors);
    let hub = read_hub(&src.daskhub, opts, &mut errors, &mut assumptions);
    let gateway = read_gateway(&src.daskhub, &mut errors, &mut assumptions);
    let storage_class = read_storage_class(&src.storageclass, &mut errors);
    let (secrets, password) = read_secrets(&src.daskhub, &mut errors).unzip();
    let (Some(cluster), Some(hub), Some(gateway), Some(storage_class), Some(secrets)) =
        (cluster, hub, gateway, storage_class, secrets)
    else {
        crate::diag::sort(&mut errors);
        return Err(Error::Invalid(errors));
    };
    if !errors.is_empty() {
        crate::diag::sort(&mut errors);
        return Err(Error::Invalid(errors));
    }
    let mut hub = hub;
    // No class named for the home volumes means the cluster's default class: that is ours only
    // when ours is the default (otherwise the comparison shows the class named from now on).
    if hub.singleuser.storage_class == HomeStorageClass::ClusterDefault && !storage_class.default {
        hub.singleuser.storage_class = HomeStorageClass::Named;
    }
    let releases = Releases {
        daskhub: Release {
            name: "daskhub".into(),
            namespace: walkthrough::DASKHUB_NAMESPACE.into(),
            chart: None,
            version: None,
        },
        ..Releases::default()
    };
    assumptions.push(format!(
        "releases.daskhub: release daskhub in namespace {} (the walkthrough's `helm upgrade --install` \
         names none), chart {} (its newest published version)",
        walkthrough::DASKHUB_NAMESPACE,
        walkthrough::CHART.id()
    ));
    assumptions.push(
        "ebsCsiDriver.regionalImageRegistry: true (the walkthrough installs the driver from the Region's \
         EKS registry)"
            .into(),
    );
    assumptions.push(
        "clusterAutoscaler.imagePullPolicy: Always (the upstream cluster-autoscaler-autodiscover.yaml the \
         walkthrough applies; IfNotPresent pulls the pinned image once per node)"
            .into(),
    );
    let config = Config {
        api_version: config::API_VERSION.into(),
        kind: config::KIND.into(),
        cluster,
        hub,
        dask_gateway: gateway,
        storage_class,
        cluster_autoscaler: ClusterAutoscaler { image_pull_policy: walkthrough::AUTOSCALER_PULL_POLICY },
        ebs_csi_driver: EbsCsiDriver { regional_image_registry: walkthrough::REGIONAL_EBS_IMAGE },
        releases,
        secrets: Default::default(),
        kubectl_apply_guard: true,
    };
    let masker = Masker::new(secrets::values(&secrets).into_iter().chain(password.as_deref()));
    Ok(Imported { config, secrets, assumptions, masker })
}

/// A `<placeholder>` of the walkthrough left in a file means the file is not what was deployed.
fn placeholders(src: &Sources) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for s in src.all() {
        let mut strings = Vec::new();
        s.node.walk_strings(&mut Vec::new(), &mut strings);
        for (path, node) in strings {
            let text = node.as_str().unwrap_or_default().trim();
            if text.starts_with('<') && text.ends_with('>') && !text.contains('\n') {
                out.push(
                    Diagnostic::error(
                        ids::PLACEHOLDER,
                        &s.path,
                        node.pos,
                        "the walkthrough's placeholder is still here",
                    )
                    .field(yaml::dotted(&path))
                    .hint(
                        "import reads the files as they were deployed: put in the value the running hub uses",
                    ),
                );
            }
        }
    }
    out
}

fn string(s: &Source, path: &[&str], errors: &mut Vec<Diagnostic>) -> Option<String> {
    match s.at(path).map(|n| &n.value) {
        Some(yaml::Value::Str(t)) if !t.trim().is_empty() => Some(t.clone()),
        Some(yaml::Value::Int(i)) => Some(i.to_string()),
        Some(yaml::Value::Float(f)) => Some(f.to_string()),
        _ => {
            errors.push(s.error(ids::SCHEMA, path, "missing: import needs this value"));
            None
        }
    }
}

fn number(s: &Source, path: &[&str], errors: &mut Vec<Diagnostic>) -> Option<f64> {
    match s.at(path).map(|n| &n.value) {
        Some(yaml::Value::Int(i)) => Some(*i as f64),
        Some(yaml::Value::Float(f)) => Some(*f),
        _ => {
            errors.push(s.error(ids::SCHEMA, path, "missing or not a number"));
            None
        }
    }
}

fn strings(node: Option<&Node>) -> Vec<String> {
    node.map(|n| n.as_seq().iter().filter_map(|i| i.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn read_cluster(s: &Source, errors: &mut Vec<Diagnostic>) -> Option<Cluster> {
    let name = string(s, &["metadata", "name"], errors);
    let region = string(s, &["metadata", "region"], errors);
    let version = string(s, &["metadata", "version"], errors);
    let kms = string(s, &["secretsEncryption", "keyARN"], errors);
    let zones = strings(s.at(&["availabilityZones"]));
    if zones.is_empty() {
        errors.push(s.error(
            ids::SCHEMA,
            &["availabilityZones"],
            "missing: import needs the cluster's zones",
        ));
    }
    let groups = s.at(&["managedNodeGroups"]).map(Node::as_seq).unwrap_or_default();
    // The walkthrough's two groups: the tainted spot group runs Dask, the other everything else.
    let is_workers = |g: &Node| {
        g.get("spot").is_some_and(|v| v.value == yaml::Value::Bool(true))
            || g.get("taints").is_some_and(|t| !t.as_seq().is_empty())
    };
    let (workers, main): (Vec<usize>, Vec<usize>) = (0..groups.len()).partition(|i| is_workers(&groups[*i]));
    if workers.len() != 1 || main.len() != 1 {
        errors.push(
            s.error(
                ids::SCHEMA,
                &["managedNodeGroups"],
                format!(
                    "import expects the walkthrough's two managed node groups, one on spot with a taint for \
                     Dask workers and one without; found {} spot/tainted and {} other",
                    workers.len(),
                    main.len()
                ),
            )
            .hint("a config has exactly the groups `main` and `daskWorkers`"),
        );
        return None;
    }
    let main = node_group(s, main[0], errors);
    let workers = node_group(s, workers[0], errors);
    // eksctl's roleName of each IRSA service account, when it gave one.
    let role = |sa: &str| {
        s.at(&["iam", "serviceAccounts"])
            .map(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .find(|a| a.at(&["metadata", "name"]).and_then(Node::as_str) == Some(sa))
            .and_then(|a| a.get("roleName"))
            .and_then(Node::as_str)
            .map(str::to_string)
    };
    let iam_role_names = IamRoleNames {
        cluster_autoscaler: role("cluster-autoscaler"),
        ebs_csi_driver: role("ebs-csi-controller-sa"),
    };
    Some(Cluster {
        name: name?,
        region: region?,
        kubernetes_version: version?,
        availability_zones: zones,
        kms_key_arn: kms?,
        kube_context: None,
        iam_role_names,
        node_groups: NodeGroups { main: main?, dask_workers: workers? },
    })
}

fn node_group(s: &Source, i: usize, errors: &mut Vec<Diagnostic>) -> Option<NodeGroup> {
    let at = i.to_string();
    let p = |key: &'static str| ["managedNodeGroups", at.as_str(), key];
    let name = string(s, &p("name"), errors);
    let min = number(s, &p("minSize"), errors);
    let max = number(s, &p("maxSize"), errors);
    let types = strings(s.at(&p("instanceTypes")));
    if types.is_empty() {
        errors.push(s.error(ids::SCHEMA, &p("instanceTypes"), "missing: import needs the instance types"));
    }
    let zones = strings(s.at(&p("availabilityZones")));
    let taint = s.at(&p("taints")).and_then(|t| t.as_seq().first()).map(|t| Taint {
        key: t.get("key").and_then(Node::as_str).unwrap_or_default().into(),
        value: t.get("value").and_then(Node::as_str).unwrap_or_default().into(),
        effect: t.get("effect").and_then(Node::as_str).unwrap_or_default().into(),
    });
    let flag = |key: &'static str, default: bool| match s.at(&p(key)).map(|n| &n.value) {
        Some(yaml::Value::Bool(b)) => *b,
        _ => default,
    };
    let volume = s.at(&p("volumeSize")).and_then(|n| match n.value {
        yaml::Value::Int(v) => u32::try_from(v).ok(),
        _ => None,
    });
    Some(NodeGroup {
        name: name?,
        instance_types: types,
        min_size: min? as u32,
        max_size: max? as u32,
        // A config pins a group to one zone; more than one shows in the comparison.
        availability_zone: zones.first().cloned(),
        // eksctl's default volume, 80 GiB, is the config's default too.
        volume_size: volume.unwrap_or(80),
        spot: flag("spot", false),
        // eksctl's default is public subnets; the walkthrough asks for private ones.
        private_networking: flag("privateNetworking", false),
        taint,
    })
}

const HUB: &[&str] = &["jupyterhub"];

fn hub_path<'a>(rest: &[&'a str]) -> Vec<&'a str> {
    HUB.iter().copied().chain(rest.iter().copied()).collect()
}

fn read_hub(
    s: &Source,
    opts: &Options,
    errors: &mut Vec<Diagnostic>,
    assumptions: &mut Vec<String>,
) -> Option<Hub> {
    let image_name = string(s, &hub_path(&["singleuser", "image", "name"]), errors);
    let image_tag = string(s, &hub_path(&["singleuser", "image", "tag"]), errors);
    let cpu_limit = number(s, &hub_path(&["singleuser", "cpu", "limit"]), errors);
    let cpu_guarantee = number(s, &hub_path(&["singleuser", "cpu", "guarantee"]), errors);
    let mem_limit = memory_of(s, &hub_path(&["singleuser", "memory", "limit"]), errors);
    let mem_guarantee = memory_of(s, &hub_path(&["singleuser", "memory", "guarantee"]), errors);
    let cert_path = hub_path(&[
        "proxy",
        "service",
        "annotations",
        "service.beta.kubernetes.io/aws-load-balancer-ssl-cert",
    ]);
    let cert = string(s, &cert_path, errors);
    let admins = strings(s.at(&hub_path(&["hub", "config", "Authenticator", "admin_users"])));
    if admins.is_empty() {
        errors.push(s.error(
            ids::SCHEMA,
            &hub_path(&["hub", "config", "Authenticator", "admin_users"]),
            "missing: the shared-password hub needs at least one admin user",
        ));
    }
    let allowed = strings(s.at(&hub_path(&["hub", "config", "Authenticator", "allowed_users"])));
    if allowed.is_empty() {
        assumptions.push(
            "hub.allowedUsers: [] — the hand-built hub let any user name in with the shared password; \
             pangeo-render's authenticator lets in only hub.adminUsers and hub.allowedUsers: add the \
             names your users log in with (the hub's admin page lists them)"
                .into(),
        );
    }
    let host =
        s.at(&hub_path(&["proxy", "https", "hosts"])).and_then(|h| h.as_seq().first()).and_then(Node::as_str);
    let domain = match (&opts.domain, host) {
        (Some(d), _) => Some(d.clone()),
        (None, Some(h)) => Some(h.to_string()),
        (None, None) => {
            errors.push(
                s.error(
                    ids::SCHEMA,
                    &hub_path(&["proxy", "https", "hosts"]),
                    "the hub's domain is not in this file",
                )
                .hint("pass it: pangeo-render import --from DIR --domain hub.example.org"),
            );
            None
        }
    };
    Some(Hub {
        chart: walkthrough::CHART,
        domain: domain?,
        certificate_arn: cert?,
        admin_users: admins,
        allowed_users: allowed,
        singleuser: Singleuser {
            image: Image { name: image_name?, tag: image_tag? },
            cpu: Cpu { guarantee: cpu_guarantee?, limit: cpu_limit? },
            memory: Memory { guarantee: mem_guarantee?, limit: mem_limit? },
            storage_class: match s.at(&hub_path(&["singleuser", "storage", "dynamic", "storageClass"])) {
                Some(n) if n.value != yaml::Value::Null => HomeStorageClass::Named,
                _ => HomeStorageClass::ClusterDefault,
            },
        },
    })
}

/// A JupyterHub memory value as the config's Kubernetes quantity of the same bytes: JupyterHub
/// reads `2G` as 2 GiB, so it becomes `2Gi` (README, "Memory units"); a number stays bytes.
fn memory_of(s: &Source, path: &[&str], errors: &mut Vec<Diagnostic>) -> Option<Quantity> {
    let node = s.at(path);
    let (value, text) = match node.map(|n| &n.value) {
        Some(yaml::Value::Int(i)) => (HubValue::Number(*i as f64), None),
        Some(yaml::Value::Float(f)) => (HubValue::Number(*f), None),
        Some(yaml::Value::Str(t)) => (HubValue::Text(t), Some(t.as_str())),
        _ => {
            errors.push(s.error(ids::SCHEMA, path, "missing: import needs the notebook's memory"));
            return None;
        }
    };
    if let Err(why) = memory::hub_bytes(value) {
        errors.push(s.error(ids::SPAWN_VALUES, path, why));
        return None;
    }
    Some(match text {
        Some(t) => Quantity::Text(format!("{}i", t)),
        None => match node.map(|n| &n.value) {
            Some(yaml::Value::Int(i)) => Quantity::Bytes(*i as f64),
            Some(yaml::Value::Float(f)) => Quantity::Bytes(f.trunc()),
            _ => unreachable!("matched above"),
        },
    })
}

const GATEWAY_OPTIONS: &[&str] = &["dask-gateway", "gateway", "extraConfig", "optionHandler"];

fn read_gateway(
    s: &Source,
    errors: &mut Vec<Diagnostic>,
    assumptions: &mut Vec<String>,
) -> Option<DaskGateway> {
    let code = s.at(GATEWAY_OPTIONS).and_then(Node::as_str);
    let Some(code) = code else {
        errors.push(
            s.error(ids::SCHEMA, GATEWAY_OPTIONS, "missing: the walkthrough's Dask Gateway cluster options")
                .hint(
                    "import reads the worker bounds and default image from the walkthrough's optionHandler",
                ),
        );
        return None;
    };
    let mut bound = |name: &str| {
        let b = python_option(code, "Float", name);
        if b.is_none() {
            errors.push(s.error(
                ids::SCHEMA,
                GATEWAY_OPTIONS,
                format!("no Float(\"{name}\", default=…, min=…, max=…) option could be read here"),
            ));
        }
        b
    };
    let cores = bound("worker_cores");
    let memory = bound("worker_memory");
    let image = python_string_default(code, "image").and_then(|reference| {
        let (name, tag) = reference.rsplit_once(':').filter(|(n, t)| !n.is_empty() && !t.contains('/'))?;
        Some(Image { name: name.into(), tag: tag.into() })
    });
    if image.is_none() {
        errors.push(s.error(
            ids::IMAGE_TAG,
            GATEWAY_OPTIONS,
            "no String(\"image\", default=\"name:tag\") option could be read here",
        ));
    }
    assumptions.push(format!(
        "daskGateway.optionHandler: {{file: {HANDLER_FILE}}} — the gateway's option handler kept as written \
         (the text of {DASKHUB_FILE}'s {}, in {HANDLER_FILE} beside the config), so adopting the hub does \
         not replace the gateway's code; daskGateway.worker and daskGateway.image repeat its options for \
         the capacity checks, and validate says when the two disagree. To switch to pangeo-render's \
         generated handler (the same options from daskGateway.worker, and an image without a tag refused \
         by name), delete daskGateway.optionHandler from the config",
        yaml::dotted(GATEWAY_OPTIONS)
    ));
    assumptions.push(
        "daskGateway.maxWorkersPerCluster: null — no limit, as the hand-built gateway had; a number (the \
         walkthrough's notebook asks for 24) caps what one user's Dask cluster can cost"
            .into(),
    );
    Some(DaskGateway {
        image: Some(image?),
        image_matches_singleuser: false,
        worker: WorkerOptions { cores: cores?, memory_gib: memory? },
        // The hand-built gateway sets no cluster_max_workers; it keeps none.
        max_workers_per_cluster: None,
        // The walkthrough places only the workers; placed schedulers show in the comparison.
        scheduler_on_dask_workers: s
            .at(&["dask-gateway", "gateway", "backend", "scheduler", "extraPodConfig"])
            .is_some_and(|n| n.value != yaml::Value::Null),
        // The handler itself, as the gateway runs it: adopting a hub must not rewrite its code.
        option_handler: Some(OptionHandler { file: HANDLER_FILE.into(), code: Some(code.to_string()) }),
    })
}

/// `Float("name", default=0.8, min=0.8, max=4.0, …)` in the walkthrough's Python.
fn python_option(code: &str, class: &str, name: &str) -> Option<Bound> {
    let args = python_call(code, class, name)?;
    let num = |key: &str| -> Option<f64> {
        args.split(',')
            .filter_map(|a| a.split_once('='))
            .find(|(k, _)| k.trim() == key)
            .and_then(|(_, v)| v.trim().parse().ok())
    };
    Some(Bound { default: num("default")?, min: num("min")?, max: num("max")? })
}

/// The `default="…"` of `String("name", …)`.
fn python_string_default(code: &str, name: &str) -> Option<String> {
    let args = python_call(code, "String", name)?;
    let rest = &args[args.find("default")? + "default".len()..];
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let body = &rest[1..];
    Some(body[..body.find(quote)?].to_string())
}

/// The argument text of `Class("name", …)` up to its closing parenthesis.
fn python_call<'a>(code: &'a str, class: &str, name: &str) -> Option<&'a str> {
    for quote in ['"', '\''] {
        let head = format!("{class}({quote}{name}{quote}");
        if let Some(at) = code.find(&head) {
            let args = &code[at + head.len()..];
            return Some(&args[..args.find(')')?]);
        }
    }
    None
}

fn read_storage_class(s: &Source, errors: &mut Vec<Diagnostic>) -> Option<StorageClass> {
    if s.at(&["kind"]).and_then(Node::as_str) != Some("StorageClass") {
        errors.push(s.error(ids::SCHEMA, &["kind"], "not a StorageClass"));
        return None;
    }
    let name = string(s, &["metadata", "name"], errors)?;
    let param = |key: &str| s.at(&["parameters", key]).and_then(Node::as_str).map(str::to_string);
    let default = s
        .at(&["metadata", "annotations", "storageclass.kubernetes.io/is-default-class"])
        .and_then(Node::as_str)
        .is_some_and(|v| v == "true");
    Some(StorageClass {
        name,
        // The EBS CSI driver's defaults when a parameter is absent.
        volume_type: param("type").unwrap_or_else(|| "gp3".into()),
        encrypted: param("encrypted").is_some_and(|v| v == "true"),
        fs_type: param("csi.storage.k8s.io/fstype")
            .or_else(|| param("fsType"))
            .unwrap_or_else(|| "ext4".into()),
        // Parameters cannot change in place: the class keeps the spelling it was made with.
        fs_type_parameter: if param("fsType").is_some() && param("csi.storage.k8s.io/fstype").is_none() {
            FsTypeParameter::Legacy
        } else {
            FsTypeParameter::Csi
        },
        kms_key_arn: param("kmsKeyId"),
        default,
        // Kubernetes' default, when the file does not say, is false.
        allow_volume_expansion: s
            .at(&["allowVolumeExpansion"])
            .is_some_and(|n| n.value == yaml::Value::Bool(true)),
    })
}

/// Where the walkthrough's `daskhub.yaml` holds each secret.
const PROXY_TOKEN: &[&str] = &["jupyterhub", "proxy", "secretToken"];
const GATEWAY_TOKEN_HUB: &[&str] = &["jupyterhub", "hub", "services", "dask-gateway", "apiToken"];
const GATEWAY_TOKEN: &[&str] = &["dask-gateway", "gateway", "auth", "jupyterhub", "apiToken"];
/// The shared password of each authenticator the walkthrough's hub may use.
pub const PASSWORDS: &[&[&str]] = &[
    &["jupyterhub", "hub", "config", "DummyAuthenticator", "password"],
    &["jupyterhub", "hub", "config", "SharedPasswordAuthenticator", "user_password"],
];

/// The secrets, and the plaintext password (for masking only).
fn read_secrets(s: &Source, errors: &mut Vec<Diagnostic>) -> Option<(Secrets, String)> {
    let token = |path: &[&str], errors: &mut Vec<Diagnostic>| {
        let t = string(s, path, errors)?;
        if !secrets::is_token(&t) {
            errors.push(
                s.error(ids::TOKENS, path, "not 64 lower-case hex characters (what `openssl rand -hex 32` prints)")
                    .hint("pangeo-render keeps only tokens of that form; import, then replace both with `pangeo-render values --rotate tokens`, which logs every user out once"),
            );
            return None;
        }
        Some(t)
    };
    let proxy = token(PROXY_TOKEN, errors);
    let gateway_hub = token(GATEWAY_TOKEN_HUB, errors);
    let gateway = token(GATEWAY_TOKEN, errors);
    if gateway_hub.is_some() && gateway.is_some() && gateway_hub != gateway {
        errors.push(
            s.error(ids::TOKENS, GATEWAY_TOKEN, format!("differs from {}", yaml::dotted(GATEWAY_TOKEN_HUB)))
                .hint(
                    "the walkthrough pastes the same token in both places; the gateway cannot work otherwise",
                ),
        );
        return None;
    }
    let found: Vec<(&[&str], &str)> = PASSWORDS
        .iter()
        .filter_map(|p| s.at(p).and_then(Node::as_str).map(|v| (*p, v)))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let password = match found.as_slice() {
        [(_, pw)] => *pw,
        [] => {
            errors.push(
                s.error(ids::SCHEMA, PASSWORDS[0], "no shared password found")
                    .hint("import adopts hubs with DummyAuthenticator.password or SharedPasswordAuthenticator.user_password"),
            );
            return None;
        }
        [(first, _), (second, _), ..] => {
            errors.push(s.error(
                ids::SCHEMA,
                second,
                format!("a second shared password besides {}; the hub uses one", yaml::dotted(first)),
            ));
            return None;
        }
    };
    let secrets = Secrets {
        api_version: secrets::API_VERSION.into(),
        kind: secrets::KIND.into(),
        proxy_secret_token: proxy?,
        dask_gateway_api_token: gateway?,
        admin_password_hash: password::hash(password),
    };
    Some((secrets, password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_walkthrough_options_from_its_python() {
        let code = r#"c.Backend.cluster_options = Options(
            Float("worker_cores", default=0.8, min=0.8, max=4.0, label="Worker Cores"),
            Float('worker_memory', default=3.3, min=1, max=8, label="Worker Memory (GiB)"),
            String("image", default="pangeo/base-notebook:2023.10.28", label="Image"),"#;
        let cores = python_option(code, "Float", "worker_cores").unwrap();
        assert_eq!((cores.default, cores.min, cores.max), (0.8, 0.8, 4.0));
        let mem = python_option(code, "Float", "worker_memory").unwrap();
        assert_eq!((mem.default, mem.min, mem.max), (3.3, 1.0, 8.0));
        assert_eq!(python_string_default(code, "image").unwrap(), "pangeo/base-notebook:2023.10.28");
        assert!(python_option(code, "Float", "threads").is_none());
    }
}
