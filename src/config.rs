//! The one config file (`pangeo.yaml`, apiVersion `pangeo-render/v1alpha1`): its types, how it is
//! loaded, and the checks every command runs on it before doing anything else.
//!
//! Loading is: parse YAML with positions → check against `schemas/pangeo-config.schema.json` →
//! deserialise into typed structs → semantic checks (placeholders, ARNs, Region and zones,
//! Kubernetes version). Any error stops the command before a file is written.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::aws::arn;
use crate::diag::source::{self, FileText};
use crate::diag::{Diagnostic, ids, schema};
use crate::error::{Error, Result};
use crate::helm::chart::{self, ChartPin};
use crate::memory::{Size, SizeError};
use crate::yaml::{self, Node};

pub const API_VERSION: &str = "pangeo-render/v1alpha1";
pub const KIND: &str = "PangeoDeployment";

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    pub api_version: String,
    pub kind: String,
    pub cluster: Cluster,
    pub hub: Hub,
    pub dask_gateway: DaskGateway,
    pub storage_class: StorageClass,
    #[serde(default)]
    pub cluster_autoscaler: ClusterAutoscaler,
    #[serde(default)]
    pub ebs_csi_driver: EbsCsiDriver,
    #[serde(default)]
    pub releases: Releases,
    #[serde(default)]
    pub secrets: SecretsPlacement,
    /// Render (and apply) the admission policy that refuses a client-side `kubectl apply` of an
    /// object pangeo-render manages (`guard.yaml`); on by default, from Kubernetes 1.30.
    #[serde(default = "yes")]
    pub kubectl_apply_guard: bool,
}

/// Where the deployed secrets live. By default `daskhub.yaml` carries them (and is kept out of
/// git); with `inCluster` they go into a Kubernetes Secret that `apply` creates, which the charts
/// read themselves (Z2JH's `hub.existingSecret`, dask-gateway's `apiTokenFromSecretName`), so
/// `daskhub.yaml` holds no secret and can be committed or served to Argo CD / Flux as it is.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretsPlacement {
    #[serde(default)]
    pub in_cluster: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cluster {
    pub name: String,
    pub region: String,
    pub kubernetes_version: String,
    pub availability_zones: Vec<String>,
    pub kms_key_arn: String,
    /// The kubeconfig context `diff` and `apply` use for this cluster, unless `--context` names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_context: Option<String>,
    /// IAM roles that already exist under other names (a hub built by hand, adopted by `import`).
    #[serde(default, skip_serializing_if = "IamRoleNames::is_empty")]
    pub iam_role_names: IamRoleNames,
    pub node_groups: NodeGroups,
}

/// The IRSA roles' names when they are not the ones we derive from the cluster name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IamRoleNames {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_autoscaler: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ebs_csi_driver: Option<String>,
}

impl IamRoleNames {
    pub fn is_empty(&self) -> bool {
        self.cluster_autoscaler.is_none() && self.ebs_csi_driver.is_none()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeGroups {
    pub main: NodeGroup,
    pub dask_workers: NodeGroup,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeGroup {
    pub name: String,
    pub instance_types: Vec<String>,
    pub min_size: u32,
    pub max_size: u32,
    /// The one zone the group is pinned to. EBS volumes are zonal, so a user's home volume and
    /// the nodes that mount it must share a zone. Defaults to the cluster's first zone.
    #[serde(default)]
    pub availability_zone: Option<String>,
    #[serde(default = "default_volume_size")]
    pub volume_size: u32,
    #[serde(default)]
    pub spot: bool,
    #[serde(default = "yes")]
    pub private_networking: bool,
    #[serde(default)]
    pub taint: Option<Taint>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Taint {
    pub key: String,
    pub value: String,
    pub effect: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Chart {
    /// The newest published DaskHub: Z2JH 3.2.1 (JupyterHub 4.0.2) + dask-gateway 2024.1.0.
    #[serde(rename = "daskhub-2024.1.1")]
    Daskhub2024,
    /// DaskHub's current source: Z2JH 4.4.0 (JupyterHub 5.5.0) + dask-gateway 2026.3.0.
    #[serde(rename = "daskhub-2026.3.0")]
    Daskhub2026,
}

impl Chart {
    pub fn id(self) -> &'static str {
        match self {
            Chart::Daskhub2024 => "daskhub-2024.1.1",
            Chart::Daskhub2026 => "daskhub-2026.3.0",
        }
    }
    pub fn z2jh_version(self) -> &'static str {
        match self {
            Chart::Daskhub2024 => "3.2.1",
            Chart::Daskhub2026 => "4.4.0",
        }
    }
    pub fn dask_gateway_version(self) -> &'static str {
        match self {
            Chart::Daskhub2024 => "2024.1.0",
            Chart::Daskhub2026 => "2026.3.0",
        }
    }
    /// Whether this chart's dask-gateway can leave access to the hub: `gateway.auth.jupyterhub
    /// .jupyterhubServiceName` (new in dask-gateway 2026.3.0; not in 2025.4.0) makes the gateway accept only
    /// tokens holding `access:services!service=<name>`. 2024.1.0 has neither the key nor the check:
    /// any valid hub token creates clusters there.
    pub fn gateway_checks_hub_scopes(self) -> bool {
        match self {
            Chart::Daskhub2024 => false,
            Chart::Daskhub2026 => true,
        }
    }
    /// The version to pass to `helm upgrade --install --version`. The newer chart is not yet
    /// published on helm.dask.org, so it is installed from a local checkout of dask/helm-chart.
    pub fn helm_reference(self) -> (&'static str, Option<&'static str>) {
        match self {
            Chart::Daskhub2024 => ("dask/daskhub", Some("2024.1.1")),
            Chart::Daskhub2026 => ("./helm-chart/daskhub", None),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Hub {
    pub chart: Chart,
    pub domain: String,
    pub certificate_arn: String,
    pub admin_users: Vec<String>,
    #[serde(default)]
    pub allowed_users: Vec<String>,
    pub singleuser: Singleuser,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Singleuser {
    pub image: Image,
    pub cpu: Cpu,
    pub memory: Memory,
    /// Which StorageClass the home volumes name: ours, or none (the cluster's default class).
    #[serde(default)]
    pub storage_class: HomeStorageClass,
}

/// The StorageClass of the notebooks' home volumes, as `daskhub.yaml` says it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum HomeStorageClass {
    /// `singleuser.storage.dynamic.storageClass` names `storageClass.name`.
    #[default]
    Named,
    /// No class named: Kubernetes gives each new volume the default class (the walkthrough's
    /// hub; `storageClass.default` must then be true, PR034).
    ClusterDefault,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    pub name: String,
    pub tag: String,
}

impl Image {
    pub fn reference(&self) -> String {
        format!("{}:{}", self.name, self.tag)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cpu {
    pub guarantee: f64,
    pub limit: f64,
}

/// Memory as Kubernetes/Z2JH quantities (`2G`, `1.5Gi`) or plain bytes, kept as written.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Memory {
    pub guarantee: Quantity,
    pub limit: Quantity,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Quantity {
    Bytes(f64),
    Text(String),
}

impl Quantity {
    /// The exact size the user meant (Kubernetes units), or why it is not one.
    pub fn size(&self) -> Result<Size, SizeError> {
        match self {
            Quantity::Bytes(b) => Size::from_number(*b),
            Quantity::Text(t) => Size::parse(t),
        }
    }

    /// Bytes, or `None` when the value is not a memory size (see [`crate::memory`]).
    pub fn bytes(&self) -> Option<f64> {
        self.size().ok().map(|s| s.bytes as f64)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DaskGateway {
    /// The default worker image; the singleuser image when absent.
    #[serde(default)]
    pub image: Option<Image>,
    #[serde(default)]
    pub image_matches_singleuser: bool,
    pub worker: WorkerOptions,
    /// `None` (written `null`): no limit, as a gateway built by hand has.
    pub max_workers_per_cluster: Option<u32>,
    /// Dask schedulers on the dask-workers node group with the workers (default), or left
    /// unplaced: the workers' taint keeps them off those nodes (the walkthrough's gateway).
    #[serde(default = "yes")]
    pub scheduler_on_dask_workers: bool,
    /// The gateway's option handler as a team wrote it, kept verbatim; absent: pangeo-render
    /// generates one from `worker` and `image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub option_handler: Option<OptionHandler>,
}

/// `daskGateway.optionHandler`: a Python file rendered verbatim as the chart's
/// `dask-gateway.gateway.extraConfig.optionHandler`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionHandler {
    /// The file, relative to the config's folder.
    pub file: PathBuf,
    /// Its text, read by [`read_option_handler`]; never part of the config itself.
    #[serde(skip)]
    pub code: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkerOptions {
    pub cores: Bound,
    #[serde(rename = "memoryGiB")]
    pub memory_gib: Bound,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bound {
    pub default: f64,
    pub min: f64,
    pub max: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageClass {
    pub name: String,
    #[serde(default = "default_volume_type", rename = "type")]
    pub volume_type: String,
    #[serde(default = "yes")]
    pub encrypted: bool,
    #[serde(default = "default_fs_type")]
    pub fs_type: String,
    /// The parameter that carries `fs_type`: the external-provisioner reads both spellings alike.
    #[serde(default)]
    pub fs_type_parameter: FsTypeParameter,
    #[serde(default)]
    pub kms_key_arn: Option<String>,
    #[serde(default = "yes")]
    pub default: bool,
    #[serde(default = "yes")]
    pub allow_volume_expansion: bool,
}

/// The StorageClass parameter naming the file system. The CSI external-provisioner reads
/// `csi.storage.k8s.io/fstype` and, with a deprecation warning, `fsType` (any case) the same way
/// (kubernetes-csi/external-provisioner, pkg/controller/controller.go); the EBS CSI driver itself
/// only logs the old key. Parameters are immutable, so a class made with the old key keeps it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum FsTypeParameter {
    #[default]
    #[serde(rename = "csi.storage.k8s.io/fstype")]
    Csi,
    #[serde(rename = "fsType")]
    Legacy,
}

/// The Cluster Autoscaler Deployment's settings beyond what the cluster decides.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterAutoscaler {
    #[serde(default)]
    pub image_pull_policy: PullPolicy,
}

/// A container's `imagePullPolicy`. The image tag is pinned, so `IfNotPresent` (the default)
/// pulls it once per node; `Always` (the upstream autodiscover manifest's) asks the registry at
/// every start of the pod.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PullPolicy {
    #[default]
    IfNotPresent,
    Always,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EbsCsiDriver {
    #[serde(default)]
    pub regional_image_registry: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Releases {
    pub daskhub: Release,
    pub ebs_csi_driver: Release,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    pub name: String,
    pub namespace: String,
    /// The chart (repository reference, or local folder or `.tgz`); default per release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<String>,
    /// The chart version; the schema requires it whenever `chart` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl Default for Releases {
    fn default() -> Self {
        let release = |name: &str, namespace: &str| Release {
            name: name.into(),
            namespace: namespace.into(),
            chart: None,
            version: None,
        };
        Releases {
            daskhub: release("daskhub", "daskhub"),
            ebs_csi_driver: release("aws-ebs-csi-driver", "kube-system"),
        }
    }
}

impl Config {
    /// The DaskHub release's chart: the config's, else the one `hub.chart` names.
    pub fn daskhub_chart(&self, config_dir: &Path) -> ChartPin {
        let r = &self.releases.daskhub;
        let (chart, version) = self.hub.chart.helm_reference();
        match &r.chart {
            Some(c) => ChartPin::new(c, r.version.as_deref(), config_dir),
            None => ChartPin::new(chart, r.version.as_deref().or(version), config_dir),
        }
    }

    /// The EBS CSI driver release's chart: the config's, else the verified default.
    pub fn ebs_csi_chart(&self, config_dir: &Path) -> ChartPin {
        let r = &self.releases.ebs_csi_driver;
        ChartPin::new(
            r.chart.as_deref().unwrap_or(chart::EBS_CSI_CHART),
            Some(r.version.as_deref().unwrap_or(chart::EBS_CSI_VERSION)),
            config_dir,
        )
    }
}

fn yes() -> bool {
    true
}
fn default_volume_size() -> u32 {
    80
}
fn default_volume_type() -> String {
    "gp3".into()
}
fn default_fs_type() -> String {
    "ext4".into()
}

impl Config {
    /// The AWS account, taken from the KMS key ARN (it also owns the IAM roles eksctl creates).
    pub fn account_id(&self) -> String {
        arn::parse(&self.cluster.kms_key_arn).map(|a| a.account.to_string()).unwrap_or_default()
    }

    pub fn partition(&self) -> String {
        arn::parse(&self.cluster.kms_key_arn)
            .map(|a| a.partition.to_string())
            .unwrap_or_else(|_| "aws".into())
    }

    pub fn gateway_image(&self) -> Image {
        self.dask_gateway.image.clone().unwrap_or_else(|| self.hub.singleuser.image.clone())
    }

    /// A node group's zone: its own, or the cluster's first zone.
    pub fn zone_of<'a>(&'a self, group: &'a NodeGroup) -> &'a str {
        group
            .availability_zone
            .as_deref()
            .unwrap_or_else(|| self.cluster.availability_zones.first().map(String::as_str).unwrap_or(""))
    }
}

/// A config as loaded: the typed value, the tree it came from (for positions), and the warnings
/// the rules found (set by whoever ran them: [`load`] only parses and types).
pub struct Loaded {
    pub path: PathBuf,
    pub config: Config,
    pub node: Node,
    pub warnings: Vec<Diagnostic>,
}

/// Reads a config: a problem with the file itself (too large, not UTF-8) is a diagnostic at the
/// file's start, like the YAML problems that follow it; only I/O failures are I/O errors.
/// `-` reads standard input.
pub fn read(path: &Path) -> Result<String> {
    if crate::fsutil::is_stdio(path) {
        return crate::fsutil::read_stdin();
    }
    match source::read(path).map_err(|e| Error::io(path, e))? {
        FileText::Text(text) => Ok(text),
        FileText::Refused(d) => Err(Error::Invalid(vec![d])),
    }
}

/// Loads a config file (`-`: standard input, named `<stdin>` in diagnostics): parse → schema →
/// typed. The semantic checks are rules (`validate::check_config`), which every command runs on
/// what this returns.
///
/// The option handler's file is read here too: a file the config names that cannot be read is an
/// I/O error (exit 2) naming the config's file, line and field.
pub fn load(path: &Path) -> Result<Loaded> {
    load_unchecked(path)?.check()
}

/// [`load`] without its schema check, which [`Unchecked::check`] makes: the schema's validator
/// takes milliseconds to build, and `diff` and `apply` connect to the cluster meanwhile (what
/// they need for it, the context and the cluster's identity, is in the typed config already).
pub fn load_unchecked(path: &Path) -> Result<Unchecked> {
    let text = read(path)?;
    match crate::fsutil::is_stdio(path) {
        true => unchecked_str(Path::new(crate::fsutil::STDIN_NAME), &text),
        false => unchecked_str(path, &text),
    }
}

/// A config parsed into its types whose schema check is still to come.
pub struct Unchecked(Loaded);

impl Unchecked {
    /// The typed config, as it will be when the check passes.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// The schema check, then the option handler's file: what [`load`] returns.
    pub fn check(self) -> Result<Loaded> {
        let mut loaded = self.0;
        schema_check(&loaded.path, &loaded.node)?;
        match read_option_handler(&mut loaded) {
            Some(unreadable) => Err(io_error(unreadable)),
            None => Ok(loaded),
        }
    }
}

/// A finding about a file the config names, as the I/O error it is: `FILE: line L, FIELD: … (hint)`.
fn io_error(d: Diagnostic) -> Error {
    let field = d.field.as_deref().map(|f| format!(", {f}")).unwrap_or_default();
    let hint = d.hint.as_deref().map(|h| format!("\n  hint: {h}")).unwrap_or_default();
    Error::Io { path: d.file.clone(), message: format!("line {}{field}: {}{hint}", d.line, d.message) }
}

/// The folder a config's relative paths start from: its own, or the current one (an empty path,
/// so that joined names read as written) for a bare file name or stdin.
pub fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !crate::fsutil::is_stdio(path) => p.to_path_buf(),
        _ => PathBuf::new(),
    }
}

/// Reads the file `daskGateway.optionHandler.file` names into the loaded config. A file that is
/// missing, empty, not UTF-8 text or far too large is one finding at the config's line (rule
/// PR035), returned.
pub fn read_option_handler(loaded: &mut Loaded) -> Option<Diagnostic> {
    let handler = loaded.config.dask_gateway.option_handler.as_mut()?;
    let field = ["daskGateway", "optionHandler", "file"];
    let path = dir_of(&loaded.path).join(&handler.file);
    let why = match source::read(&path) {
        Ok(FileText::Text(code)) if code.trim().is_empty() => "it is empty".to_string(),
        Ok(FileText::Text(code)) => {
            handler.code = Some(code);
            return None;
        }
        Ok(FileText::Refused(d)) => d.message,
        Err(e) => e.to_string(),
    };
    Some(
        Diagnostic::error(
            ids::OPTION_HANDLER,
            &loaded.path,
            loaded.node.locate(&field, false),
            format!("cannot read the Dask Gateway option handler {}: {why}", path.display()),
        )
        .field(yaml::dotted(&field))
        .hint(
            "put the gateway's option handler (Python, UTF-8) in that file — the path is relative to the \
         config's folder — or delete daskGateway.optionHandler to render pangeo-render's own handler \
         from daskGateway.worker and daskGateway.image",
        ),
    )
}

pub fn load_str(path: &Path, text: &str) -> Result<Loaded> {
    let loaded = unchecked_str(path, text)?.0;
    schema_check(path, &loaded.node)?;
    Ok(loaded)
}

/// Parses and types a config. What the types refuse, the schema explains better (file, line,
/// field and hint): its findings come first.
fn unchecked_str(path: &Path, text: &str) -> Result<Unchecked> {
    let node = yaml::parse_single(text).map_err(|e| Error::Invalid(vec![source::parse_error(path, e)]))?;
    let config: Config = match serde_json::from_value(node.to_json()) {
        Ok(config) => config,
        Err(e) => {
            schema_check(path, &node)?;
            return Err(Error::Invalid(vec![Diagnostic::error(ids::SCHEMA, path, node.pos, e.to_string())]));
        }
    };
    Ok(Unchecked(Loaded { path: path.to_path_buf(), config, node, warnings: Vec::new() }))
}

fn schema_check(path: &Path, node: &Node) -> Result<()> {
    let mut diags = schema::check(&schema::CONFIG, path, node, &[]);
    if diags.is_empty() {
        return Ok(());
    }
    crate::diag::sort(&mut diags);
    Err(Error::Invalid(diags))
}
