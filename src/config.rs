//! The one config file (`pangeo.yaml`, apiVersion `pangeo-render/v1alpha1`): its types, how it is
//! loaded, and the checks every command runs on it before doing anything else.
//!
//! Loading is: parse YAML with positions → check against `schemas/pangeo-config.schema.json` →
//! deserialise into typed structs → semantic checks (placeholders, ARNs, Region and zones,
//! Kubernetes version). Any error stops the command before a file is written.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::aws::{arn, eks_versions, regions};
use crate::diag::Diagnostic;
use crate::diag::ids;
use crate::diag::schema;
use crate::error::{Error, Result};
use crate::helm::chart::{self, ChartPin};
use crate::yaml::{self, Node, dotted};

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
    pub ebs_csi_driver: EbsCsiDriver,
    #[serde(default)]
    pub releases: Releases,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cluster {
    pub name: String,
    pub region: String,
    pub kubernetes_version: String,
    pub availability_zones: Vec<String>,
    pub kms_key_arn: String,
    pub node_groups: NodeGroups,
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
    /// Bytes, or `None` when the text is not a quantity Z2JH understands.
    pub fn bytes(&self) -> Option<f64> {
        match self {
            Quantity::Bytes(b) => Some(*b),
            Quantity::Text(t) => {
                let t = t.trim();
                let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
                let (num, unit) = t.split_at(split);
                let n: f64 = num.parse().ok()?;
                let mult = match unit {
                    "" => 1.0,
                    "K" | "k" => 1e3,
                    "M" => 1e6,
                    "G" => 1e9,
                    "T" => 1e12,
                    "Ki" => 1024.0,
                    "Mi" => 1024.0f64.powi(2),
                    "Gi" => 1024.0f64.powi(3),
                    "Ti" => 1024.0f64.powi(4),
                    _ => return None,
                };
                Some(n * mult)
            }
        }
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
    pub max_workers_per_cluster: u32,
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
    #[serde(default)]
    pub kms_key_arn: Option<String>,
    #[serde(default = "yes")]
    pub default: bool,
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

/// A config as loaded: the typed value, the tree it came from (for positions), and warnings.
pub struct Loaded {
    pub path: PathBuf,
    pub config: Config,
    pub node: Node,
    pub warnings: Vec<Diagnostic>,
}

pub fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

/// Loads and checks a config file. Errors come back as one diagnostic per problem.
pub fn load(path: &Path) -> Result<Loaded> {
    let text = read(path)?;
    load_str(path, &text)
}

/// [`load`] for `upgrade`: a version past EKS support is what an upgrade plan is for, so that
/// one error (PR010) is kept as a warning instead of stopping the command.
pub fn load_for_upgrade(path: &Path) -> Result<Loaded> {
    let text = read(path)?;
    load_checked(path, &text, true)
}

pub fn load_str(path: &Path, text: &str) -> Result<Loaded> {
    load_checked(path, text, false)
}

fn load_checked(path: &Path, text: &str, version_may_be_unsupported: bool) -> Result<Loaded> {
    let node = yaml::parse_single(text).map_err(|e| {
        Error::Invalid(vec![
            Diagnostic::error(ids::YAML_SYNTAX, path, e.pos, e.message)
                .hint("fix the YAML syntax at this position"),
        ])
    })?;
    let mut diags = schema::check(&schema::CONFIG, path, &node, &[]);
    if !diags.is_empty() {
        crate::diag::sort(&mut diags);
        return Err(Error::Invalid(diags));
    }
    let config: Config = serde_json::from_value(node.to_json())
        .map_err(|e| Error::Invalid(vec![Diagnostic::error(ids::SCHEMA, path, node.pos, e.to_string())]))?;
    let mut diags = check(path, &node, &config);
    if version_may_be_unsupported {
        for d in diags.iter_mut().filter(|d| d.id == ids::VERSION_SUPPORT) {
            d.severity = crate::diag::Severity::Warning;
        }
    }
    crate::diag::sort(&mut diags);
    let (errors, warnings): (Vec<_>, Vec<_>) = diags.into_iter().partition(Diagnostic::is_error);
    if !errors.is_empty() {
        let mut all = errors;
        all.extend(warnings);
        return Err(Error::Invalid(all));
    }
    Ok(Loaded { path: path.to_path_buf(), config, node, warnings })
}

/// A `<word…>` span whose inside looks like prose (letters, digits, spaces, `-`, `_`, `.`), as
/// placeholders do; `a < b > c` and HTML-ish `<br/>` do not count.
pub fn is_placeholder(s: &str) -> bool {
    if s.contains('\n') {
        return false;
    }
    let mut rest = s;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else { return false };
        let inner = &after[..close];
        if !inner.is_empty()
            && inner.len() <= 80
            && inner.starts_with(|c: char| c.is_ascii_alphabetic())
            && inner.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'))
        {
            return true;
        }
        rest = &after[close + 1..];
    }
    false
}

/// The semantic checks on a config that the schema cannot express.
fn check(path: &Path, node: &Node, c: &Config) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let at = |p: &[&str]| node.locate(p, false);

    // Placeholders first: a placeholder also fails the ARN checks, and one clear message beats two.
    let mut strings = Vec::new();
    node.walk_strings(&mut Vec::new(), &mut strings);
    let mut placeholder_paths = Vec::new();
    for (p, n) in &strings {
        if n.as_str().is_some_and(is_placeholder) {
            out.push(
                Diagnostic::error(ids::PLACEHOLDER, path, n.pos, "a placeholder value was left in")
                    .field(dotted(p))
                    .hint("replace it with the real value"),
            );
            placeholder_paths.push(dotted(p));
        }
    }
    let skip = |field: &str| placeholder_paths.iter().any(|p| p == field);

    let region = regions::find(&c.cluster.region);
    if region.is_none() {
        let mut d = Diagnostic::error(
            ids::ZONE_REGION,
            path,
            at(&["cluster", "region"]),
            format!("unknown AWS Region `{}`", c.cluster.region),
        )
        .field("cluster.region");
        d = match regions::suggest(&c.cluster.region) {
            Some(s) => d.hint(format!("did you mean `{s}`?")),
            None => d.hint("use a Region code such as us-west-2"),
        };
        out.push(d);
    }

    let mut accounts: Vec<(String, &'static str)> = Vec::new();
    // KMS key for Secrets encryption: must be in the cluster's Region (EKS requirement).
    let kms_fields: Vec<(Vec<&str>, &str)> = {
        let mut v = vec![(vec!["cluster", "kmsKeyArn"], c.cluster.kms_key_arn.as_str())];
        if let Some(k) = &c.storage_class.kms_key_arn {
            v.push((vec!["storageClass", "kmsKeyArn"], k.as_str()));
        }
        v
    };
    for (p, value) in kms_fields {
        let field = p.join(".");
        if skip(&field) {
            continue;
        }
        match arn::parse_kms_key(value) {
            Err(e) => out.push(
                Diagnostic::error(ids::ARN_FORMAT, path, at(&p), format!("not a KMS key ARN: {e}"))
                    .field(field)
                    .hint("copy the key ARN from the KMS console: arn:aws:kms:REGION:ACCOUNT:key/KEY-ID"),
            ),
            Ok(a) => {
                if region.is_some() && a.region != c.cluster.region {
                    out.push(
                        Diagnostic::error(ids::ARN_REGION, path, at(&p), format!("the KMS key is in `{}`, the cluster in `{}`", a.region, c.cluster.region))
                            .field(field)
                            .hint("EKS and EBS need a KMS key in the cluster's Region; create or replicate one there"),
                    );
                }
                accounts.push((a.account.to_string(), "KMS key"));
            }
        }
    }
    if !skip("hub.certificateArn") {
        let p = ["hub", "certificateArn"];
        match arn::parse_certificate(&c.hub.certificate_arn) {
            Err(e) => out.push(
                Diagnostic::error(ids::ARN_FORMAT, path, at(&p), format!("not an ACM certificate ARN: {e}"))
                    .field("hub.certificateArn")
                    .hint("copy it from the ACM console: arn:aws:acm:REGION:ACCOUNT:certificate/UUID"),
            ),
            Ok(a) => {
                if region.is_some() && a.region != c.cluster.region {
                    out.push(
                        Diagnostic::error(ids::ARN_REGION, path, at(&p), format!("the certificate is in `{}`, the cluster in `{}`", a.region, c.cluster.region))
                            .field("hub.certificateArn")
                            .hint("a load balancer can only use an ACM certificate from its own Region; request one there"),
                    );
                }
                accounts.push((a.account.to_string(), "ACM certificate"));
            }
        }
    }
    if let Some((first, what)) = accounts.first() {
        for (acct, other) in &accounts[1..] {
            if acct != first {
                out.push(
                    Diagnostic::error(
                        ids::ARN_ACCOUNT,
                        path,
                        at(&["hub", "certificateArn"]),
                        format!("the {other} belongs to account {acct}, the {what} to {first}"),
                    )
                    .field("hub.certificateArn")
                    .hint("all resources of one deployment live in one AWS account"),
                );
            }
        }
    }

    if let Some(region) = region {
        for (i, z) in c.cluster.availability_zones.iter().enumerate() {
            if !region.has_zone(z) {
                out.push(
                    Diagnostic::error(
                        ids::ZONE_REGION,
                        path,
                        at(&["cluster", "availabilityZones", &i.to_string()]),
                        format!("`{z}` is not an availability zone of {}", region.code),
                    )
                    .field(format!("cluster.availabilityZones[{i}]"))
                    .hint(format!(
                        "zones of {}: {}",
                        region.code,
                        region.zones().join(", ")
                    )),
                );
            }
        }
    }
    let groups =
        [("main", &c.cluster.node_groups.main), ("daskWorkers", &c.cluster.node_groups.dask_workers)];
    let mut zones = Vec::new();
    for (key, g) in groups {
        let zone = c.zone_of(g);
        let p = ["cluster", "nodeGroups", key, "availabilityZone"];
        if g.availability_zone.is_some() && !c.cluster.availability_zones.iter().any(|z| z == zone) {
            out.push(
                Diagnostic::error(
                    ids::ZONE_LAYOUT,
                    path,
                    at(&p),
                    format!(
                        "node group `{}` is pinned to `{zone}`, which is not one of the cluster's zones",
                        g.name
                    ),
                )
                .field(p.join("."))
                .hint(format!("use one of: {}", c.cluster.availability_zones.join(", "))),
            );
        }
        zones.push((key, zone));
        if g.min_size > g.max_size {
            out.push(
                Diagnostic::error(
                    ids::NODE_SIZES,
                    path,
                    at(&["cluster", "nodeGroups", key, "minSize"]),
                    format!("minSize {} is greater than maxSize {}", g.min_size, g.max_size),
                )
                .field(format!("cluster.nodeGroups.{key}.minSize"))
                .hint("lower minSize or raise maxSize"),
            );
        }
    }
    if zones[0].1 != zones[1].1 {
        out.push(
            Diagnostic::error(
                ids::ZONE_LAYOUT,
                path,
                at(&["cluster", "nodeGroups", "daskWorkers", "availabilityZone"]),
                format!("node groups are in different zones ({} and {})", zones[0].1, zones[1].1),
            )
            .field("cluster.nodeGroups.daskWorkers.availabilityZone")
            .hint("pin both node groups to the same zone so EBS volumes can follow users and workers"),
        );
    }
    if c.cluster.node_groups.main.name == c.cluster.node_groups.dask_workers.name {
        out.push(
            Diagnostic::error(
                ids::NAME_PATTERN,
                path,
                at(&["cluster", "nodeGroups", "daskWorkers", "name"]),
                "both node groups have the same name",
            )
            .field("cluster.nodeGroups.daskWorkers.name")
            .hint("node group names must be unique in a cluster"),
        );
    }

    let today = eks_versions::today();
    out.extend(version_support(path, node, &c.cluster.kubernetes_version, &today));

    let dg = &c.dask_gateway.worker;
    for (key, b) in [("cores", dg.cores), ("memoryGiB", dg.memory_gib)] {
        if !(b.min <= b.default && b.default <= b.max) {
            out.push(
                Diagnostic::error(
                    ids::OPTION_BOUNDS,
                    path,
                    at(&["daskGateway", "worker", key, "default"]),
                    format!("default {} lies outside [{}, {}]", b.default, b.min, b.max),
                )
                .field(format!("daskGateway.worker.{key}.default"))
                .hint("make min ≤ default ≤ max"),
            );
        }
    }
    if c.dask_gateway.image_matches_singleuser
        && let Some(img) = &c.dask_gateway.image
        && img != &c.hub.singleuser.image
    {
        out.push(
            Diagnostic::error(ids::IMAGE_TAG, path, at(&["daskGateway", "image"]), format!("the gateway image {} differs from the singleuser image {}", img.reference(), c.hub.singleuser.image.reference()))
                .field("daskGateway.image")
                .hint("Dask workers must run the notebook's environment: use the same image, or drop daskGateway.image"),
        );
    }
    let s = &c.hub.singleuser;
    if s.cpu.guarantee > s.cpu.limit {
        out.push(
            Diagnostic::error(
                ids::SCHEMA,
                path,
                at(&["hub", "singleuser", "cpu", "guarantee"]),
                "the cpu guarantee exceeds the limit",
            )
            .field("hub.singleuser.cpu.guarantee")
            .hint("make guarantee ≤ limit"),
        );
    }
    for (key, q) in [("guarantee", &s.memory.guarantee), ("limit", &s.memory.limit)] {
        if q.bytes().is_none() {
            out.push(
                Diagnostic::error(
                    ids::SCHEMA,
                    path,
                    at(&["hub", "singleuser", "memory", key]),
                    "not a memory quantity",
                )
                .field(format!("hub.singleuser.memory.{key}"))
                .hint("write bytes or a quantity such as 2G, 4Gi, 512M"),
            );
        }
    }
    // The values are rendered for the chart `hub.chart` names; the default repository chart at
    // another version would get values written for a different Z2JH.
    let rel = &c.releases.daskhub;
    if let (None, Some(pinned), (_, Some(expected))) =
        (&rel.chart, &rel.version, c.hub.chart.helm_reference())
        && pinned != expected
    {
        out.push(
            Diagnostic::error(
                ids::SCHEMA,
                path,
                at(&["releases", "daskhub", "version"]),
                format!("version {pinned} of the DaskHub chart, but the values are rendered for {}", c.hub.chart.id()),
            )
            .field("releases.daskhub.version")
            .hint(format!(
                "remove the version (hub.chart pins {expected}), or change hub.chart; a chart of your own needs releases.daskhub.chart too"
            )),
        );
    }
    out
}

/// The configured version against EKS's calendar (`eks_versions::verdict`).
fn version_support(path: &Path, node: &Node, version: &str, today: &str) -> Vec<Diagnostic> {
    let Some((severity, message, hint)) =
        eks_versions::verdict(version, today, Some(&path.display().to_string()))
    else {
        return Vec::new();
    };
    let at = node.locate(&["cluster", "kubernetesVersion"], false);
    let d = match severity {
        eks_versions::Severity::Warning => Diagnostic::warning(ids::VERSION_SUPPORT, path, at, message),
        eks_versions::Severity::Error => Diagnostic::error(ids::VERSION_SUPPORT, path, at, message),
    };
    vec![d.field("cluster.kubernetesVersion").hint(hint)]
}
