//! Which cluster a kube context points at, and the identity record this tool keeps in it.
//!
//! `diff` and `apply` refuse to touch a cluster that is not the config's: the objects they send
//! carry this deployment's autoscaler discovery tag and IAM role ARNs, wrong for any other
//! cluster. Two witnesses are asked, before any other request:
//!
//! 1. The kube context itself, without a request. An EKS context says a lot: `aws eks
//!    update-kubeconfig` names the context and the cluster by the cluster ARN
//!    (`arn:aws:eks:REGION:ACCOUNT:cluster/NAME`), the endpoint host carries the Region
//!    (`https://ID.gr7.REGION.eks.amazonaws.com`) and the exec plugin names cluster and Region
//!    (`aws eks get-token --cluster-name NAME --region REGION`, `aws-iam-authenticator token -i
//!    NAME`). Every fact found is a [`Fact`] with its source.
//! 2. The identity record: a ConfigMap in `kube-system` that the first `apply` writes (it is one
//!    of the applied objects, so `diff` shows it like the rest) naming deployment, cluster, Region
//!    and account. Every later run reads it first.
//!
//! Any fact that disagrees with the config refuses the run. A context that proves nothing (a
//! local test cluster) on a cluster without a record is allowed, and said so: that is the first
//! apply, which writes the record.

use ::kube::config::Kubeconfig;
use serde_json::{Value, json};

use super::ObjectRef;
use crate::aws::arn;
use crate::config::Config;

pub const RECORD_NAME: &str = "pangeo-render-identity";
pub const RECORD_NAMESPACE: &str = "kube-system";

/// The record's identity, for the one GET that precedes every other request.
pub fn record_ref() -> ObjectRef {
    ObjectRef {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: Some(RECORD_NAMESPACE.into()),
        name: RECORD_NAME.into(),
    }
}

/// The cluster a config is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    /// The hub's public name: what tells one deployment from another.
    pub deployment: String,
    pub cluster: String,
    pub region: String,
    pub account: String,
}

impl Expected {
    pub fn of(cfg: &Config) -> Expected {
        Expected {
            deployment: cfg.hub.domain.clone(),
            cluster: cfg.cluster.name.clone(),
            region: cfg.cluster.region.clone(),
            account: cfg.account_id(),
        }
    }

    pub fn arn(&self) -> String {
        format!("arn:aws:eks:{}:{}:cluster/{}", self.region, self.account, self.cluster)
    }

    /// "EKS cluster pangeo in us-west-2, account 123456789012".
    pub fn describe(&self) -> String {
        format!("EKS cluster {} in {}, account {}", self.cluster, self.region, self.account)
    }

    /// The record `apply` writes: a plain ConfigMap, applied and diffed like every other object.
    pub fn record(&self) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": RECORD_NAME,
                "namespace": RECORD_NAMESPACE,
                "labels": {"app.kubernetes.io/managed-by": "pangeo-render"},
            },
            "data": {
                "deployment": self.deployment,
                "cluster": self.cluster,
                "region": self.region,
                "account": self.account,
                "clusterArn": self.arn(),
            },
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Cluster,
    Region,
    Account,
}

impl Field {
    fn word(self) -> &'static str {
        match self {
            Field::Cluster => "cluster",
            Field::Region => "Region",
            Field::Account => "account",
        }
    }
}

/// One thing the context proves, and where it was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fact {
    pub field: Field,
    pub value: String,
    pub source: String,
}

/// What a kube context proves about the cluster it points at (possibly nothing).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Claim {
    pub facts: Vec<Fact>,
}

impl Claim {
    pub fn proves_nothing(&self) -> bool {
        self.facts.is_empty()
    }

    fn value(&self, field: Field) -> Option<&str> {
        self.facts.iter().find(|f| f.field == field).map(|f| f.value.as_str())
    }

    /// "EKS cluster NAME in REGION, account ACCOUNT" with the parts the context proves.
    pub fn describe(&self) -> String {
        let mut s = match self.value(Field::Cluster) {
            Some(c) => format!("EKS cluster {c}"),
            None => "an EKS cluster".to_string(),
        };
        if let Some(r) = self.value(Field::Region) {
            s.push_str(&format!(" in {r}"));
        }
        if let Some(a) = self.value(Field::Account) {
            s.push_str(&format!(", account {a}"));
        }
        s
    }

    fn push(&mut self, field: Field, value: &str, source: String) {
        if !value.is_empty() {
            self.facts.push(Fact { field, value: value.to_string(), source });
        }
    }

    fn push_arn(&mut self, text: &str, source: &str) {
        let Ok(a) = arn::parse(text) else { return };
        let Some(name) = a.resource.strip_prefix("cluster/") else { return };
        if a.service != "eks" {
            return;
        }
        self.push(Field::Cluster, name, format!("{source} (cluster ARN)"));
        self.push(Field::Region, a.region, format!("{source} (cluster ARN)"));
        self.push(Field::Account, a.account, format!("{source} (cluster ARN)"));
    }
}

/// Reads what `context` of `file` proves: its name and its cluster's name (ARNs), its server's
/// host (EKS endpoint), its user's exec plugin arguments.
pub fn claim(file: &Kubeconfig, context: &str) -> Claim {
    let mut claim = Claim::default();
    claim.push_arn(context, "context name");
    let Some(ctx) = file.contexts.iter().find(|c| c.name == context).and_then(|c| c.context.as_ref()) else {
        return claim;
    };
    claim.push_arn(&ctx.cluster, "kubeconfig cluster name");
    let server = file
        .clusters
        .iter()
        .find(|c| c.name == ctx.cluster)
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.server.as_deref());
    if let Some(region) = server.and_then(endpoint_region) {
        claim.push(Field::Region, region, format!("server {}", server.unwrap_or_default()));
    }
    let exec = ctx
        .user
        .as_deref()
        .and_then(|u| file.auth_infos.iter().find(|a| a.name == u))
        .and_then(|a| a.auth_info.as_ref())
        .and_then(|a| a.exec.as_ref());
    if let Some(exec) = exec {
        let args = exec.args.clone().unwrap_or_default();
        let command = exec.command.clone().unwrap_or_default();
        let source = |flag: &str| format!("exec plugin {} {flag}", short_command(&command));
        for (flags, field) in [
            (&["--cluster-name", "--cluster-id", "-i"][..], Field::Cluster),
            (&["--region"][..], Field::Region),
        ] {
            for flag in flags {
                if let Some(v) = flag_value(&args, flag) {
                    claim.push(field, v, source(flag));
                }
            }
        }
        // The AWS CLI also takes its Region from the plugin's environment.
        for env in exec.env.iter().flatten() {
            if let (Some(name), Some(value)) = (env.get("name"), env.get("value"))
                && (name == "AWS_REGION" || name == "AWS_DEFAULT_REGION")
            {
                claim.push(Field::Region, value, format!("exec plugin env {name}"));
            }
        }
    }
    claim
}

fn short_command(command: &str) -> &str {
    command.rsplit('/').next().unwrap_or(command)
}

/// `--flag VALUE` or `--flag=VALUE`.
fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == flag {
            return it.next().map(String::as_str);
        }
        if let Some(v) = a.strip_prefix(flag).and_then(|r| r.strip_prefix('=')) {
            return Some(v);
        }
    }
    None
}

/// The Region of an EKS endpoint: `https://ID.gr7.us-west-2.eks.amazonaws.com` (also `.sk1.`,
/// `.yl4.`…, and `.eks.amazonaws.com.cn` in China): the label just before `eks`.
pub fn endpoint_region(server: &str) -> Option<&str> {
    let host = server.split("://").nth(1).unwrap_or(server);
    let host = host.split(['/', ':']).next()?;
    let labels: Vec<&str> = host.split('.').collect();
    let eks = labels.iter().rposition(|l| *l == "eks")?;
    let tail = &labels[eks + 1..];
    if !(tail == ["amazonaws", "com"] || tail == ["amazonaws", "com", "cn"]) || eks < 1 {
        return None;
    }
    Some(labels[eks - 1])
}

/// What the identity record in the cluster says, if it is one of ours.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub deployment: String,
    pub cluster: String,
    pub region: String,
    pub account: String,
}

impl Recorded {
    pub fn of(live: &Value) -> Option<Recorded> {
        let data = live.get("data")?;
        let s = |k: &str| data.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        Some(Recorded {
            deployment: s("deployment"),
            cluster: s("cluster"),
            region: s("region"),
            account: s("account"),
        })
    }

    pub fn describe(&self) -> String {
        format!(
            "EKS cluster {} in {}, account {} (deployment {})",
            self.cluster, self.region, self.account, self.deployment
        )
    }
}

/// How the cluster was recognised, for the output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The record (and the context, where it proves anything) agree.
    Recorded,
    /// No record yet, but the context proves every part of the identity it names.
    ProvenByContext,
    /// Neither the context nor a record proves anything: allowed, named in the output.
    Unproven,
}

/// Checks the context's claim before any request; `Err` is the refusal message.
pub fn check_claim(expected: &Expected, claim: &Claim, context: &str, config: &str) -> Result<(), String> {
    let wrong: Vec<&Fact> = claim
        .facts
        .iter()
        .filter(|f| {
            f.value
                != *match f.field {
                    Field::Cluster => &expected.cluster,
                    Field::Region => &expected.region,
                    Field::Account => &expected.account,
                }
        })
        .collect();
    if wrong.is_empty() {
        return Ok(());
    }
    let mut msg = format!(
        "refusing to work on this cluster: kube context \"{context}\" points at {}, but {config} is for {}; nothing was read or written",
        claim.describe(),
        expected.describe()
    );
    for f in wrong {
        msg.push_str(&format!("\n  {} {} (from the {})", f.field.word(), f.value, f.source));
    }
    msg.push_str(&format!(
        "\n  hint: choose the context of {} with --context (list them: kubectl config get-contexts), or fix cluster.name, cluster.region and the account in {config}",
        expected.arn()
    ));
    Err(msg)
}

/// Checks the identity record (`None`: not there) against the config; `Err` is the refusal.
pub fn check_record(
    expected: &Expected,
    claim: &Claim,
    record: Option<&Value>,
    context: &str,
    config: &str,
) -> Result<Verdict, String> {
    let Some(live) = record else {
        return Ok(if claim.proves_nothing() { Verdict::Unproven } else { Verdict::ProvenByContext });
    };
    let found = Recorded::of(live).unwrap_or(Recorded {
        deployment: String::new(),
        cluster: String::new(),
        region: String::new(),
        account: String::new(),
    });
    if found.cluster == expected.cluster
        && found.region == expected.region
        && found.account == expected.account
    {
        return Ok(Verdict::Recorded);
    }
    Err(format!(
        "refusing to work on this cluster: its identity record (ConfigMap {RECORD_NAMESPACE}/{RECORD_NAME}, reached through kube context \"{context}\") says {}, but {config} is for {}; nothing was written\n  hint: choose the context of {} with --context (list them: kubectl config get-contexts); if this cluster really was re-purposed, delete the record first: kubectl --context {context} -n {RECORD_NAMESPACE} delete configmap {RECORD_NAME}",
        found.describe(),
        expected.describe(),
        expected.arn()
    ))
}

/// The note for a run on a cluster nothing identifies yet.
pub fn unproven_note(expected: &Expected, context: &str, server: &str, applying: bool) -> String {
    let then = if applying { "this apply writes one" } else { "`apply` writes one" };
    format!(
        "note: kube context \"{context}\" (server {server}) does not say which EKS cluster it is, and the cluster has no identity record (ConfigMap {RECORD_NAMESPACE}/{RECORD_NAME}) yet: taking it as {} on trust; {then}, and every later run checks it",
        expected.describe()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected() -> Expected {
        Expected {
            deployment: "hub.example.org".into(),
            cluster: "pangeo".into(),
            region: "us-west-2".into(),
            account: "123456789012".into(),
        }
    }

    fn kubeconfig(text: &str) -> Kubeconfig {
        Kubeconfig::from_yaml(text).unwrap()
    }

    const EKS: &str = r#"
apiVersion: v1
kind: Config
clusters:
- name: arn:aws:eks:us-east-1:111122223333:cluster/other
  cluster: {server: "https://0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com"}
contexts:
- name: arn:aws:eks:us-east-1:111122223333:cluster/other
  context: {cluster: "arn:aws:eks:us-east-1:111122223333:cluster/other", user: eks-user}
- name: plain
  context: {cluster: local, user: eks-user}
users:
- name: eks-user
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: /usr/local/bin/aws
      args: [--region, us-east-1, eks, get-token, --cluster-name, other, --output, json]
"#;

    #[test]
    fn an_eks_context_names_cluster_region_and_account_with_sources() {
        let c = claim(&kubeconfig(EKS), "arn:aws:eks:us-east-1:111122223333:cluster/other");
        let sources: Vec<(Field, &str, &str)> =
            c.facts.iter().map(|f| (f.field, f.value.as_str(), f.source.as_str())).collect();
        assert!(sources.contains(&(Field::Account, "111122223333", "context name (cluster ARN)")));
        assert!(sources.contains(&(
            Field::Region,
            "us-east-1",
            "server https://0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com"
        )));
        assert!(sources.contains(&(Field::Cluster, "other", "exec plugin aws --cluster-name")));
        assert!(sources.contains(&(Field::Region, "us-east-1", "exec plugin aws --region")));
        let err = check_claim(&expected(), &c, "ctx", "pangeo.yaml").unwrap_err();
        assert!(err.contains("points at EKS cluster other in us-east-1, account 111122223333"), "{err}");
        assert!(
            err.contains("pangeo.yaml is for EKS cluster pangeo in us-west-2, account 123456789012"),
            "{err}"
        );
        assert!(err.contains("arn:aws:eks:us-west-2:123456789012:cluster/pangeo"), "{err}");
    }

    #[test]
    fn a_context_only_its_exec_plugin_identifies_is_still_checked() {
        let c = claim(&kubeconfig(EKS), "plain");
        assert_eq!(c.value(Field::Cluster), Some("other"));
        assert_eq!(c.value(Field::Account), None);
        assert!(check_claim(&expected(), &c, "plain", "p.yaml").is_err());
        let mut ok = expected();
        ok.cluster = "other".into();
        ok.region = "us-east-1".into();
        assert_eq!(check_claim(&ok, &c, "plain", "p.yaml"), Ok(()));
    }

    #[test]
    fn endpoint_regions() {
        assert_eq!(endpoint_region("https://AB12.gr7.eu-central-1.eks.amazonaws.com"), Some("eu-central-1"));
        assert_eq!(
            endpoint_region("https://AB12.sk1.cn-north-1.eks.amazonaws.com.cn:443/"),
            Some("cn-north-1")
        );
        assert_eq!(endpoint_region("https://127.0.0.1:6443"), None);
        assert_eq!(endpoint_region("https://eks.example.org"), None);
        assert_eq!(flag_value(&["-i".into(), "x".into()], "-i"), Some("x"));
        assert_eq!(flag_value(&["--region=eu-west-1".into()], "--region"), Some("eu-west-1"));
    }

    #[test]
    fn the_record_decides_when_present() {
        let e = expected();
        let nothing = Claim::default();
        assert_eq!(check_record(&e, &nothing, None, "c", "p.yaml"), Ok(Verdict::Unproven));
        assert_eq!(check_record(&e, &nothing, Some(&e.record()), "c", "p.yaml"), Ok(Verdict::Recorded));
        let mut other = e.clone();
        other.region = "eu-west-1".into();
        let err = check_record(&e, &nothing, Some(&other.record()), "c", "p.yaml").unwrap_err();
        assert!(err.contains("says EKS cluster pangeo in eu-west-1"), "{err}");
        assert!(err.contains("p.yaml is for EKS cluster pangeo in us-west-2"), "{err}");
        // A changed hub domain is a change to apply, not another cluster.
        let mut renamed = e.clone();
        renamed.deployment = "new.example.org".into();
        assert_eq!(check_record(&e, &nothing, Some(&renamed.record()), "c", "p.yaml"), Ok(Verdict::Recorded));
    }
}
