//! Values derived from the config for the templates: computed once, named once.

use serde::Serialize;

use crate::aws::{autoscaler, ecr};
use crate::config::{Config, NodeGroup, Quantity, Taint};

#[derive(Debug, Serialize)]
pub struct Derived {
    pub account_id: String,
    pub autoscaler_role_name: String,
    pub autoscaler_role_arn: String,
    pub ebs_csi_role_name: String,
    pub ebs_csi_role_arn: String,
    pub autoscaler_image: String,
    pub ebs_image_repository: Option<String>,
    pub node_groups: Vec<DerivedGroup>,
    pub allowed_users: Vec<String>,
    pub capacity_type: &'static str,
    pub worker_taint: Option<Taint>,
    pub chart: ChartInfo,
    pub helm_command: String,
    pub ebs_helm_command: String,
    pub singleuser_memory: HubMemory,
    /// With `secrets.inCluster`: the Secret the values refer to instead of holding the secrets.
    pub secret_name: Option<String>,
    /// Whether `guard.yaml` holds the admission policy ([`super::guard`]).
    pub guard: super::guard::Guard,
}

/// `singleuser.memory` as YAML scalars JupyterHub reads as the bytes the config means.
#[derive(Debug, Serialize)]
pub struct HubMemory {
    pub limit: String,
    pub guarantee: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DerivedGroup {
    pub name: String,
    pub instance_types: Vec<String>,
    pub min_size: u32,
    pub max_size: u32,
    pub zone: String,
    pub volume_size: u32,
    pub spot: bool,
    pub private_networking: bool,
    pub taint: Option<Taint>,
}

#[derive(Debug, Serialize)]
pub struct ChartInfo {
    pub id: &'static str,
    pub z2jh: &'static str,
    pub dask_gateway: &'static str,
    /// See `Chart::gateway_checks_hub_scopes`: render the service name and the hub role.
    pub gateway_checks_hub_scopes: bool,
}

/// IAM role names are per account, not per cluster: the cluster name keeps two clusters in one
/// account from sharing (and overwriting) each other's roles. A hub built by hand keeps the roles
/// it has (`cluster.iamRoleNames`, written by `import`).
pub fn autoscaler_role_name(config: &Config) -> String {
    let own = config.cluster.iam_role_names.cluster_autoscaler.clone();
    own.unwrap_or_else(|| format!("{}-cluster-autoscaler", config.cluster.name))
}

pub fn ebs_csi_role_name(config: &Config) -> String {
    let own = config.cluster.iam_role_names.ebs_csi_driver.clone();
    own.unwrap_or_else(|| format!("{}-ebs-csi-driver", config.cluster.name))
}

pub fn derive(config: &Config) -> Derived {
    let account_id = config.account_id();
    let partition = config.partition();
    let role_arn = |name: &str| format!("arn:{partition}:iam::{account_id}:role/{name}");
    let group = |g: &NodeGroup| DerivedGroup {
        name: g.name.clone(),
        instance_types: g.instance_types.clone(),
        min_size: g.min_size,
        max_size: g.max_size,
        zone: config.zone_of(g).to_string(),
        volume_size: g.volume_size,
        spot: g.spot,
        private_networking: g.private_networking,
        taint: g.taint.clone(),
    };
    let workers = &config.cluster.node_groups.dask_workers;
    let mut allowed = config.hub.admin_users.clone();
    for u in &config.hub.allowed_users {
        if !allowed.contains(u) {
            allowed.push(u.clone());
        }
    }
    // As the config writes the charts: these are comments in the values files.
    let here = std::path::Path::new("");
    let helm_command = |rel: &crate::config::Release, chart: crate::helm::chart::ChartPin, values: &str| {
        let target = crate::helm::command::Target::default();
        let args =
            crate::helm::command::upgrade_args(&rel.name, &rel.namespace, &chart, values, &target, false);
        crate::helm::command::command_line("helm", &args)
    };
    Derived {
        autoscaler_role_name: autoscaler_role_name(config),
        autoscaler_role_arn: role_arn(&autoscaler_role_name(config)),
        ebs_csi_role_name: ebs_csi_role_name(config),
        ebs_csi_role_arn: role_arn(&ebs_csi_role_name(config)),
        autoscaler_image: autoscaler::image_for(&config.cluster.kubernetes_version).unwrap_or_else(|| {
            format!("{}:v{}.0", autoscaler::IMAGE_REPOSITORY, config.cluster.kubernetes_version)
        }),
        ebs_image_repository: config
            .ebs_csi_driver
            .regional_image_registry
            .then(|| format!("{}/eks/aws-ebs-csi-driver", ecr::registry(&config.cluster.region))),
        node_groups: vec![group(&config.cluster.node_groups.main), group(workers)],
        allowed_users: allowed,
        capacity_type: if workers.spot { "SPOT" } else { "ON_DEMAND" },
        worker_taint: workers.taint.clone(),
        chart: ChartInfo {
            id: config.hub.chart.id(),
            z2jh: config.hub.chart.z2jh_version(),
            dask_gateway: config.hub.chart.dask_gateway_version(),
            gateway_checks_hub_scopes: config.hub.chart.gateway_checks_hub_scopes(),
        },
        helm_command: helm_command(&config.releases.daskhub, config.daskhub_chart(here), "daskhub.yaml"),
        ebs_helm_command: helm_command(
            &config.releases.ebs_csi_driver,
            config.ebs_csi_chart(here),
            "aws-ebs-csi-driver.yaml",
        ),
        account_id,
        secret_name: config.secrets.in_cluster.then(|| super::in_cluster::secret_name(config)),
        guard: super::guard::decide(config),
        singleuser_memory: HubMemory {
            limit: hub_memory(&config.hub.singleuser.memory.limit),
            guarantee: hub_memory(&config.hub.singleuser.memory.guarantee),
        },
    }
}

/// The config's checks refuse a value that is not a size before anything renders; should one
/// slip through, it is rendered as written (quoted) and `validate` (PR027) names it.
fn hub_memory(q: &Quantity) -> String {
    match q.size() {
        Ok(size) => size.hub_form().to_string(),
        Err(_) => serde_json::to_string(&match q {
            Quantity::Bytes(b) => b.to_string(),
            Quantity::Text(t) => t.clone(),
        })
        .unwrap_or_default(),
    }
}
