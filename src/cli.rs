//! The command line: clap definitions only. Each subcommand's work lives in `commands/`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

use crate::diag::Format;
use crate::secrets::Rotate;

#[derive(Debug, Parser)]
#[command(
    name = "pangeo-render",
    version,
    about = "Render, validate, diff and apply a Pangeo (JupyterHub + Dask Gateway) deployment on Amazon EKS from one config file",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a starter config with the walkthrough's defaults.
    Init(InitArgs),
    /// Render every artifact (eksctl cluster.yaml, DaskHub and EBS CSI values, StorageClass, Cluster Autoscaler) into a directory.
    Values(ValuesArgs),
    /// Check the config and rendered or hand-edited artifacts: schemas and cross-file rules.
    Validate(ValidateArgs),
    /// Show what `apply` would change in the live cluster (server-side apply dry-run).
    Diff(DiffArgs),
    /// Apply the Kubernetes objects with server-side apply.
    Apply(ApplyArgs),
    /// Plan the move to the next Kubernetes minor on EKS (or, with --chart, to another chart target); changes nothing.
    Upgrade(UpgradeArgs),
    /// Adopt a hub built by hand with the walkthrough: its files become a config and a secrets file.
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write the config.
    #[arg(short, long, default_value = "pangeo.yaml")]
    pub output: PathBuf,
    /// EKS cluster name (letters, digits and '-', starting with a letter).
    #[arg(long)]
    pub name: String,
    /// AWS Region, e.g. us-west-2.
    #[arg(long)]
    pub region: String,
    /// KMS key ARN for Secrets encryption; the AWS account id is taken from it.
    #[arg(long)]
    pub kms_key_arn: String,
    /// ACM certificate ARN for the hub's HTTPS listener.
    #[arg(long)]
    pub certificate_arn: String,
    /// Public DNS name of the hub.
    #[arg(long)]
    pub domain: String,
    /// Kubernetes version X.Y (default: the newest in EKS standard support).
    #[arg(long)]
    pub kubernetes_version: Option<String>,
    /// JupyterHub admin user (repeatable; default: admin).
    #[arg(long = "admin-user")]
    pub admin_users: Vec<String>,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args, Clone)]
pub struct ValuesArgs {
    /// The config file; repeat it, or name a folder of configs, for a fleet (one deployment per config).
    #[arg(short = 'c', long = "config", default_value = "pangeo.yaml", value_name = "CONFIG")]
    pub configs: Vec<PathBuf>,
    /// The one config of this run (set from --config; several make a fleet run).
    #[arg(skip)]
    pub config: PathBuf,
    /// How many deployments of a fleet run at once (default: the number of CPUs).
    #[arg(short, long)]
    pub jobs: Option<usize>,
    /// Directory to write the artifacts into (created if missing); a fleet writes DIR/CONFIG-STEM/.
    #[arg(short, long, default_value = "rendered")]
    pub output: PathBuf,
    /// Render from this directory of templates instead of the built-in ones.
    #[arg(long)]
    pub charts: Option<PathBuf>,
    /// Read the admin password from standard input (otherwise one is generated the first time).
    #[arg(long)]
    pub admin_password_stdin: bool,
    /// Replace secrets on purpose: new tokens, or a new admin password.
    #[arg(long, value_enum)]
    pub rotate: Vec<Rotate>,
    /// The secrets file (default: beside the config, CONFIG-STEM.secrets.yaml).
    #[arg(long)]
    pub secrets: Option<PathBuf>,
    /// Recover the secrets from the deployed daskhub release instead of generating new ones
    /// (for a clone without the secrets file); writes the secrets file.
    #[arg(long, conflicts_with_all = ["rotate", "admin_password_stdin"])]
    pub secrets_from_cluster: bool,
    /// With --secrets-from-cluster: kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, requires = "secrets_from_cluster")]
    pub kubeconfig: Option<PathBuf>,
    /// With --secrets-from-cluster: kubeconfig context (default: the current context).
    #[arg(long, requires = "secrets_from_cluster")]
    pub context: Option<String>,
    /// With --secrets-from-cluster: how long one request to the API server may take.
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// With --secrets-from-cluster: how long all the cluster work may take (0: no limit).
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration)]
    pub timeout: Duration,
}

impl ValuesArgs {
    /// The cluster arguments, as `diff` takes them.
    pub fn cluster(&self) -> ClusterArgs {
        ClusterArgs {
            configs: vec![self.config.clone()],
            config: self.config.clone(),
            jobs: 1,
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            charts: self.charts.clone(),
            secrets: self.secrets.clone(),
            request_timeout: self.request_timeout,
            timeout: self.timeout,
        }
    }
}

#[derive(Debug, Args, Clone)]
pub struct ValidateArgs {
    /// The config file; when given, artifacts are also checked against it. Repeat it, or name a
    /// folder of configs, for a fleet: each config is checked with DIR/CONFIG-STEM/ of each PATH
    /// (where `values -c FOLDER -o DIR` writes).
    #[arg(short = 'c', long = "config", value_name = "CONFIG")]
    pub configs: Vec<PathBuf>,
    /// The one config of this run (set from --config).
    #[arg(skip)]
    pub config: Option<PathBuf>,
    /// The files of this deployment that were not named, read as context; `None`: the named
    /// files' neighbours. A fleet names them (the config's secrets file): the other configs in
    /// its folder are other deployments.
    #[arg(skip)]
    pub context: Option<Vec<PathBuf>>,
    /// How many deployments of a fleet run at once (default: the number of CPUs).
    #[arg(short, long)]
    pub jobs: Option<usize>,
    /// Files to check: config, eksctl cluster.yaml, DaskHub or EBS CSI values, Kubernetes manifests.
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Treat warnings as errors.
    #[arg(long)]
    pub strict: bool,
    /// Also refuse tokens, password hashes and Secret data in plaintext (PR026): for files about
    /// to be committed, as the pre-commit hook checks them. SOPS-encrypted files pass.
    #[arg(long)]
    pub refuse_plaintext_secrets: bool,
}

#[derive(Debug, Args, Clone)]
pub struct ClusterArgs {
    /// The config file; repeat it, or name a folder of configs, for a fleet (one deployment per
    /// config, each through its own `cluster.kubeContext`).
    #[arg(short = 'c', long = "config", default_value = "pangeo.yaml", value_name = "CONFIG")]
    pub configs: Vec<PathBuf>,
    /// The one config of this run (set from --config).
    #[arg(skip)]
    pub config: PathBuf,
    /// How many deployments of a fleet run at once.
    #[arg(short, long, default_value_t = 8)]
    pub jobs: usize,
    /// Kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (default: the current context).
    #[arg(long)]
    pub context: Option<String>,
    /// Render from this directory of templates instead of the built-in ones.
    #[arg(long)]
    pub charts: Option<PathBuf>,
    /// The secrets file (default: beside the config).
    #[arg(long)]
    pub secrets: Option<PathBuf>,
    /// How long one request to the API server may take, as kubectl's flag (e.g. 5s, 1m; 0: no limit).
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// How long all the cluster work of the command may take (0: no limit).
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// A duration as kubectl and Go write them: `500ms`, `20s`, `2m`, `1h`, `1m30s`; a bare number
/// is seconds; `0` means no limit.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration; write e.g. 30s, 2m, 1m30s, 500ms (0: no limit)");
    let t = text.trim();
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').ok_or_else(bad)?;
        let (num, tail) = rest.split_at(digits);
        let value: f64 = num.parse().map_err(|_| bad())?;
        let unit_len = tail.find(|c: char| c.is_ascii_digit()).unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let scale = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += Duration::try_from_secs_f64(value * scale).map_err(|_| bad())?;
        rest = next;
    }
    Ok(total)
}

/// `None` for a zero duration (no limit).
pub fn limit(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

#[derive(Debug, Args, Clone)]
pub struct DiffArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Output format: unified diff text, or JSON.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The helm binary for the object-level preview of releases that differ (default: helm on PATH).
    #[arg(long, value_name = "PATH")]
    pub helm: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Run everything as a server-side dry run; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Take ownership of fields another field manager owns.
    #[arg(long)]
    pub force_conflicts: bool,
    /// Delete and re-create objects whose immutable fields must change (StorageClass parameters).
    #[arg(long)]
    pub recreate: bool,
    /// Also run the `helm upgrade --install` commands (needs helm on PATH).
    #[arg(long)]
    pub helm: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The folder with the walkthrough's cluster.yaml, daskhub.yaml and storageclass.yaml, as applied.
    #[arg(long, value_name = "DIR")]
    pub from: PathBuf,
    /// The config to write (its secrets file goes beside it); neither may exist yet.
    #[arg(short, long, value_name = "FILE", default_value = "pangeo.yaml")]
    pub config: PathBuf,
    /// The config to write: the spelling of issue 15 (`-o pangeo.yaml`), the same as `-c`.
    #[arg(short = 'o', long = "output", value_name = "FILE", hide = true, conflicts_with = "config")]
    pub output: Option<PathBuf>,
    /// The hub's public name, when daskhub.yaml has no jupyterhub.proxy.https.hosts.
    #[arg(long)]
    pub domain: Option<String>,
}

impl ImportArgs {
    pub fn config_path(&self) -> &std::path::Path {
        self.output.as_deref().unwrap_or(&self.config)
    }
}

#[derive(Debug, Args)]
pub struct UpgradeArgs {
    /// The config file.
    #[arg(short, long, default_value = "pangeo.yaml")]
    pub config: PathBuf,
    /// Target Kubernetes minor, 1.X (default: the next one; EKS never skips a minor).
    #[arg(long, value_name = "1.X")]
    pub to: Option<String>,
    /// Plan a change of chart target instead (daskhub-2024.1.1, daskhub-2026.3.0).
    #[arg(long, value_name = "TARGET")]
    pub chart: Option<String>,
    /// Render from this directory of templates instead of the built-in ones (for --chart).
    #[arg(long)]
    pub charts: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_kubectl_writes_them() {
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("soon").unwrap_err().contains("not a duration"));
        assert!(parse_duration("5x").is_err() && parse_duration("s").is_err());
    }
}
