//! The next upgrade, planned: moving a deployment to the next Kubernetes minor on EKS, or to
//! another DaskHub chart target. Pure data from the config, the EKS calendar
//! (`aws::eks_versions`), EKS prices (`aws::eks_pricing`) and the rendered values; nothing here
//! reads or changes a cluster. `commands::upgrade` prints it.
//!
//! EKS upgrades a control plane one minor version at a time, and so does the plan: a target
//! more than one minor ahead is refused with the version to go through first.

use serde::Serialize;

use crate::aws::{autoscaler, eks_pricing, eks_versions};
use crate::config::{Chart, Config};

/// One step: what it does, the exact commands, and how to check it worked before going on.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub title: String,
    pub commands: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn step(title: impl Into<String>, commands: Vec<String>, checks: Vec<String>) -> Step {
    Step { title: title.into(), commands, checks, note: None }
}

/// A Kubernetes version's place in the EKS calendar, as of `today`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionSupport {
    pub version: String,
    /// `standard`, `extended` or `ended`.
    pub support: &'static str,
    pub end_of_standard: String,
    pub end_of_extended: String,
    /// Days from today until standard support ends (negative: ended that many days ago).
    pub days_left_in_standard: i64,
    pub days_left_in_extended: i64,
    pub source: &'static str,
}

impl VersionSupport {
    fn of(v: &eks_versions::EksVersion, today: &str) -> Self {
        let days = |d: &str| eks_versions::days_between(today, d).unwrap_or(0);
        let support = match eks_versions::support(v.version, today) {
            eks_versions::Support::Standard => "standard",
            eks_versions::Support::Extended { .. } => "extended",
            _ => "ended",
        };
        VersionSupport {
            version: v.version.into(),
            support,
            end_of_standard: v.end_of_standard.into(),
            end_of_extended: v.end_of_extended.into(),
            days_left_in_standard: days(v.end_of_standard),
            days_left_in_extended: days(v.end_of_extended),
            source: v.source,
        }
    }

    fn per_month(&self) -> f64 {
        match self.support {
            "extended" => eks_pricing::extended_per_month(),
            _ => eks_pricing::standard_per_month(),
        }
    }
}

/// The control plane's price per month, now and after standard support ends, in US dollars.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cost {
    /// This cluster today, on its current version.
    pub current_per_month: f64,
    /// This cluster on the target version (in standard support).
    pub target_per_month: f64,
    /// Current minus target: what the upgrade saves each month from today.
    pub difference_per_month: f64,
    /// Staying on the current version once its standard support has ended.
    pub staying_after_standard_per_month: f64,
    /// Extra each month for staying after standard support ends.
    pub extra_for_staying_per_month: f64,
    pub source: &'static str,
}

/// The plan for the next Kubernetes minor.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesPlan {
    pub config: String,
    pub deployment: String,
    pub cluster: String,
    pub region: String,
    pub today: String,
    pub current: VersionSupport,
    pub target: VersionSupport,
    pub cost: Cost,
    pub autoscaler_image: AutoscalerImage,
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AutoscalerImage {
    pub from: String,
    pub to: String,
}

/// Why no plan can be made (exit 2: the request, not the config, is at fault).
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal(pub String);

/// Plans the move of `cfg` (from file `config`) to `to`, or to the next minor.
pub fn kubernetes(
    cfg: &Config,
    config: &str,
    today: &str,
    to: Option<&str>,
) -> Result<KubernetesPlan, Refusal> {
    let from = cfg.cluster.kubernetes_version.as_str();
    let current = eks_versions::find(from)
        .ok_or_else(|| Refusal(format!("Kubernetes {from} (cluster.kubernetesVersion in {config}) is not a version EKS offers, so there is no upgrade path to plan")))?;
    let next = eks_versions::next(from);
    let newest = eks_versions::VERSIONS[0].version;
    let target = match to {
        None => next.ok_or_else(|| {
            Refusal(format!(
                "Kubernetes {from} is the newest version in the project's EKS calendar (src/aws/eks_versions.rs); there is no next minor to plan yet"
            ))
        })?,
        Some(to) => {
            let (Some(t), Some(f)) = (eks_versions::parse(to), eks_versions::parse(from)) else {
                return Err(Refusal(format!("--to {to}: write a Kubernetes minor version as 1.X")));
            };
            if t <= f {
                return Err(Refusal(format!("--to {to}: the config is already on Kubernetes {from}; EKS cannot downgrade a cluster")));
            }
            if t.0 != f.0 || t.1 > f.1 + 1 {
                let step = next.map(|n| n.version).unwrap_or(newest);
                return Err(Refusal(format!(
                    "--to {to}: EKS upgrades a cluster one minor version at a time; go to {step} first (`pangeo-render upgrade -c {config} --to {step}`), then plan the next step from there"
                )));
            }
            next.filter(|n| n.version == to).ok_or_else(|| {
                Refusal(format!(
                    "--to {to}: not in the project's EKS calendar (src/aws/eks_versions.rs; newest: {newest})"
                ))
            })?
        }
    };
    let current = VersionSupport::of(current, today);
    let target_support = VersionSupport::of(target, today);
    let cost = Cost {
        current_per_month: current.per_month(),
        target_per_month: target_support.per_month(),
        difference_per_month: current.per_month() - target_support.per_month(),
        staying_after_standard_per_month: eks_pricing::extended_per_month(),
        extra_for_staying_per_month: eks_pricing::extended_per_month() - eks_pricing::standard_per_month(),
        source: eks_pricing::SOURCE,
    };
    let autoscaler_image = AutoscalerImage {
        from: autoscaler::image_for(from).unwrap_or_else(|| "(none known)".into()),
        to: autoscaler::image_for(target.version).unwrap_or_else(|| "(none known)".into()),
    };
    let steps = kubernetes_steps(cfg, config, target.version, &autoscaler_image);
    Ok(KubernetesPlan {
        config: config.to_string(),
        deployment: cfg.hub.domain.clone(),
        cluster: cfg.cluster.name.clone(),
        region: cfg.cluster.region.clone(),
        today: today.to_string(),
        current,
        target: target_support,
        cost,
        autoscaler_image,
        steps,
    })
}

fn kubernetes_steps(cfg: &Config, config: &str, to: &str, image: &AutoscalerImage) -> Vec<Step> {
    let from = &cfg.cluster.kubernetes_version;
    let (name, region) = (&cfg.cluster.name, &cfg.cluster.region);
    let at = format!("--cluster {name} --region {region}");
    let version_check = format!(
        "aws eks describe-cluster --name {name} --region {region} --query cluster.version --output text   # {to}"
    );
    let mut steps = vec![
        step(
            format!("Change the config: cluster.kubernetesVersion \"{from}\" → \"{to}\""),
            vec![format!(
                "sed -i 's/kubernetesVersion: \"{from}\"/kubernetesVersion: \"{to}\"/' {config}"
            )],
            vec![format!("pangeo-render validate -c {config}")],
        ),
        step(
            "Render and check the artifacts",
            vec![format!("pangeo-render values -c {config} --output-dir rendered")],
            vec![format!("pangeo-render validate -c {config} rendered")],
        ),
        step(
            format!("Upgrade the EKS control plane to {to} (about 10 minutes; workloads keep running)"),
            vec!["eksctl upgrade cluster -f rendered/cluster.yaml --approve".to_string()],
            vec![version_check],
        ),
        Step {
            note: Some(
                "clusters created by eksctl v0.184.0 or later have these as EKS add-ons; older ones use `eksctl utils update-kube-proxy|update-aws-node|update-coredns --cluster NAME --approve` (`eksctl get addons` tells which)".into(),
            ),
            ..step(
                "Update the EKS add-ons to their defaults for the new version",
                ["vpc-cni", "kube-proxy", "coredns"]
                    .iter()
                    .map(|a| format!("eksctl update addon --name {a} {at} --version latest --wait"))
                    .collect(),
                vec![format!("eksctl get addons {at}"), "kubectl -n kube-system get pods".into()],
            )
        },
    ];
    for group in [&cfg.cluster.node_groups.main, &cfg.cluster.node_groups.dask_workers] {
        steps.push(step(
            format!("Upgrade managed node group {} (nodes are replaced one by one)", group.name),
            vec![format!(
                "eksctl upgrade nodegroup --name {} {at} --kubernetes-version {to} --wait",
                group.name
            )],
            vec![format!(
                "kubectl get nodes -l eks.amazonaws.com/nodegroup={}   # VERSION v{to}.x",
                group.name
            )],
        ));
    }
    steps.push(step(
        format!("Move the Cluster Autoscaler to the image for {to} ({} → {})", image.from, image.to),
        vec![format!("pangeo-render diff -c {config}"), format!("pangeo-render apply -c {config}")],
        vec![
            "kubectl -n kube-system rollout status deployment/cluster-autoscaler".into(),
            format!("pangeo-render diff -c {config}   # exit 0: nothing left to change"),
        ],
    ));
    steps
}

/// A change of chart target: what changes in the rendered values, and the upstream breaking
/// changes that touch this deployment.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartPlan {
    pub config: String,
    pub deployment: String,
    pub from: &'static str,
    pub to: &'static str,
    /// Unified diff of the rendered daskhub.yaml, secrets masked.
    pub values_diff: String,
    pub breaking: Vec<Breaking>,
    pub steps: Vec<Step>,
}

/// One upstream breaking change, why it touches this deployment, and its source.
#[derive(Clone, Debug, Serialize)]
pub struct Breaking {
    pub component: &'static str,
    pub change: &'static str,
    pub here: String,
    pub source: &'static str,
}

const Z2JH_3_TO_4: &str = "Z2JH docs, \"Major upgrade: 3.* to 4.*\" (jupyterhub/zero-to-jupyterhub-k8s docs/source/administrator/upgrading/upgrade-3-to-4.md)";

/// The breaking changes between two chart targets that touch this deployment.
pub fn breaking_changes(cfg: &Config, from: Chart, to: Chart) -> Vec<Breaking> {
    if !(from == Chart::Daskhub2024 && to == Chart::Daskhub2026) {
        return Vec::new();
    }
    let allowed = &cfg.hub.allowed_users;
    let mut out = vec![
        Breaking {
            component: "JupyterHub 4 → 5 (Z2JH 3 → 4)",
            change: "with no allowed users, JupyterHub 5 allows no users by default (allow_all defaults to False)",
            here: format!(
                "not affected: this deployment's authenticator (charts/daskhub/authenticator.py) decides itself, on JupyterHub 4 and 5 alike: the admin users ({}) and the {} allowed user(s) in the config, nobody else",
                cfg.hub.admin_users.join(", "),
                allowed.len()
            ),
            source: Z2JH_3_TO_4,
        },
        Breaking {
            component: "KubeSpawner 6 → 7 (Z2JH 3 → 4)",
            change: "the \"safe\" slug scheme replaces \"escape\" in pod and PVC names; names change for some usernames",
            here: {
                let odd: Vec<&String> = cfg
                    .hub
                    .admin_users
                    .iter()
                    .chain(allowed)
                    .filter(|u| !u.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
                    .collect();
                if odd.is_empty() {
                    "every configured username is lower-case letters and digits, which both schemes name alike".into()
                } else {
                    format!(
                        "usernames {} contain characters the schemes treat differently: their home volume (PVC) names may change; set hub.config.KubeSpawner.slug_scheme: escape to keep the old names",
                        odd.iter().map(|u| format!("`{u}`")).collect::<Vec<_>>().join(", ")
                    )
                }
            },
            source: Z2JH_3_TO_4,
        },
        Breaking {
            component: "Hub image Python 3.11 → 3.12 (Z2JH 3 → 4)",
            change: "hub.extraConfig runs on a newer Python and JupyterHub",
            here: "this deployment's password authenticator (charts/daskhub/authenticator.py) runs in hub.extraConfig; it is tested on JupyterHub 4.0.2 and 5.5.0".into(),
            source: Z2JH_3_TO_4,
        },
    ];
    if let Some((_, minor)) = eks_versions::parse(&cfg.cluster.kubernetes_version)
        && minor < 30
    {
        out.push(Breaking {
            component: "dask-gateway 2024.1.0 → 2026.3.0",
            change: "the chart requires Kubernetes >= 1.30 (kubeVersion in its Chart.yaml)",
            here: format!("the cluster runs {}: upgrade Kubernetes first", cfg.cluster.kubernetes_version),
            source: "dask/dask-gateway resources/helm/dask-gateway/Chart.yaml at 2026.3.0",
        });
    }
    out
}

pub fn chart_steps(cfg: &Config, config: &str, to: Chart) -> Vec<Step> {
    let from = cfg.hub.chart.id();
    let rel = &cfg.releases.daskhub;
    let (chart, version) = to.helm_reference();
    let version = version.map(|v| format!(" --version {v}")).unwrap_or_default();
    vec![
        step(
            format!("Change the config: hub.chart {from} → {}", to.id()),
            vec![format!("sed -i 's/chart: {from}/chart: {}/' {config}", to.id())],
            vec![format!("pangeo-render validate -c {config}")],
        ),
        step(
            "Render and check the values",
            vec![format!("pangeo-render values -c {config} --output-dir rendered")],
            vec![
                format!("pangeo-render validate -c {config} rendered"),
                format!("pangeo-render diff -c {config}"),
            ],
        ),
        step(
            format!("Upgrade Helm release {} (namespace {})", rel.name, rel.namespace),
            vec![format!(
                "helm upgrade --install {} {chart}{version} --namespace {} --values rendered/daskhub.yaml",
                rel.name, rel.namespace
            )],
            vec![
                format!("kubectl -n {} rollout status deployment/hub", rel.namespace),
                format!("pangeo-render diff -c {config}   # exit 0"),
            ],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walkthrough() -> Config {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/walkthrough/pangeo.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        let node = crate::yaml::parse_single(&text).unwrap();
        serde_json::from_value(node.to_json()).unwrap()
    }

    #[test]
    fn the_next_minor_with_days_cost_and_ordered_steps() {
        let cfg = walkthrough();
        let p = kubernetes(&cfg, "p.yaml", "2026-11-27", None).unwrap();
        assert_eq!((p.current.version.as_str(), p.target.version.as_str()), ("1.34", "1.35"));
        assert_eq!((p.current.days_left_in_standard, p.current.days_left_in_extended), (5, 370));
        assert_eq!(p.cost.difference_per_month, 0.0);
        assert_eq!(format!("{:.2}", p.cost.extra_for_staying_per_month), "365.00");
        let titles: Vec<&str> = p.steps.iter().map(|s| s.title.as_str()).collect();
        assert!(titles[0].starts_with("Change the config"), "{titles:?}");
        assert!(titles[2].starts_with("Upgrade the EKS control plane"), "{titles:?}");
        assert!(titles[4].contains("main") && titles[5].contains("dask-workers"), "{titles:?}");
        assert!(
            titles[6].contains("v1.34.5 → registry.k8s.io/autoscaling/cluster-autoscaler:v1.35.2"),
            "{titles:?}"
        );
        // In extended support, the upgrade saves the surcharge every month.
        let p = kubernetes(&cfg, "p.yaml", "2026-12-02", None).unwrap();
        assert_eq!(p.current.support, "extended");
        assert_eq!(format!("{:.2}", p.cost.difference_per_month), "365.00");
    }

    #[test]
    fn minors_are_never_skipped_and_never_reversed() {
        let mut cfg = walkthrough();
        cfg.cluster.kubernetes_version = "1.33".into();
        let err = kubernetes(&cfg, "p.yaml", "2026-11-27", Some("1.35")).unwrap_err().0;
        assert!(err.contains("one minor version at a time; go to 1.34 first"), "{err}");
        assert!(err.contains("`pangeo-render upgrade -c p.yaml --to 1.34`"), "{err}");
        let err = kubernetes(&cfg, "p.yaml", "2026-11-27", Some("1.32")).unwrap_err().0;
        assert!(err.contains("cannot downgrade"), "{err}");
        assert_eq!(kubernetes(&cfg, "p.yaml", "2026-11-27", Some("1.34")).unwrap().target.version, "1.34");
        cfg.cluster.kubernetes_version = "1.35".into();
        let err = kubernetes(&cfg, "p.yaml", "2026-11-27", None).unwrap_err().0;
        assert!(err.contains("newest version in the project's EKS calendar"), "{err}");
    }
}
