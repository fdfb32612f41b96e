//! The command line: clap definitions only. Each subcommand's work lives in `commands/`.

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

use crate::diag::Output;
use crate::secrets::Rotate;

#[derive(Debug, Parser)]
#[command(
    name = "pangeo-render",
    version,
    about = "Render, validate, diff and apply a Pangeo (JupyterHub + Dask Gateway) deployment on Amazon EKS from one config file",
    propagate_version = true,
    after_help = "Run `pangeo-render COMMAND --help` for a command's flags and examples."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Accept a Kubernetes version newer than pangeo-render's EKS data, with a warning.
    #[arg(long, global = true)]
    pub allow_unsupported_version: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a starter config with the walkthrough's defaults.
    #[command(after_help = examples::INIT)]
    Init(InitArgs),
    /// Render every artifact (eksctl cluster.yaml, DaskHub and EBS CSI values, StorageClass, Cluster Autoscaler) into a directory.
    #[command(after_help = examples::VALUES)]
    Values(ValuesArgs),
    /// Check the config and rendered or hand-edited artifacts: schemas and cross-file rules.
    #[command(after_help = examples::VALIDATE)]
    Validate(ValidateArgs),
    /// Show what `apply` would change in the live cluster (server-side apply dry-run).
    #[command(after_help = examples::DIFF)]
    Diff(DiffArgs),
    /// Apply the Kubernetes objects with server-side apply.
    #[command(after_help = examples::APPLY)]
    Apply(ApplyArgs),
    /// Plan the move to the next Kubernetes minor on EKS (or, with --chart, to another chart target); changes nothing.
    #[command(after_help = examples::UPGRADE)]
    Upgrade(UpgradeArgs),
    /// Adopt a hub built by hand with the walkthrough: its files become a config and a secrets file.
    #[command(after_help = examples::IMPORT)]
    Import(ImportArgs),
    /// Print the config's JSON Schema (for editors and other validators), or that of the -o documents.
    #[command(after_help = examples::SCHEMA)]
    Schema(SchemaArgs),
    /// Print a shell completion script.
    #[command(after_help = examples::COMPLETIONS)]
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one page per command into a directory.
    #[command(after_help = examples::MAN)]
    Man(ManArgs),
}

/// What `-o` names for `init` and `values`: an output format, or — in scripts written before
/// `-o` meant a format everywhere — the file or directory to write.
#[derive(Clone, Debug, PartialEq)]
pub enum OutputOrPath {
    Format(Output),
    Path(PathBuf),
}

/// Parses `-o` for `init` and `values`: a format word, else a path (kept for old scripts). Its
/// possible values are the formats only, so help and completions show the current meaning.
#[derive(Clone, Copy, Debug)]
pub struct OutputOrPathParser;

impl TypedValueParser for OutputOrPathParser {
    type Value = OutputOrPath;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<OutputOrPath, clap::Error> {
        let text = value.to_string_lossy();
        Ok(match Output::from_str(&text, false) {
            Ok(format) => OutputOrPath::Format(format),
            Err(_) => OutputOrPath::Path(PathBuf::from(value)),
        })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(Output::value_variants().iter().filter_map(ValueEnum::to_possible_value)))
    }
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write the config [default: pangeo.yaml]; `-` prints it to stdout.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format of the report (text on stderr, or a document on stdout).
    #[arg(short, long, value_name = "FORMAT", value_parser = OutputOrPathParser)]
    pub output: Option<OutputOrPath>,
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
    /// Directory to write the artifacts into (created if missing) [default: rendered]; a fleet
    /// writes DIR/CONFIG-STEM/.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Output format of the report (text on stderr, or a document on stdout).
    #[arg(short, long, value_name = "FORMAT", value_parser = OutputOrPathParser)]
    pub output: Option<OutputOrPath>,
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
    /// (where `values -c FOLDER --output-dir DIR` writes).
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
    /// Output format: text (on stderr), json or yaml (on stdout).
    #[arg(short, long, value_enum, value_name = "FORMAT", default_value_t = Output::Text)]
    pub output: Output,
    /// Deprecated spelling of `-o/--output`.
    #[arg(long, value_enum, hide = true, conflicts_with = "output")]
    pub format: Option<Output>,
    /// Treat warnings as errors.
    #[arg(long)]
    pub strict: bool,
    /// Also refuse tokens, password hashes and Secret data in plaintext (PR026): for files about
    /// to be committed, as the pre-commit hook checks them. SOPS-encrypted files pass.
    #[arg(long)]
    pub refuse_plaintext_secrets: bool,
    /// Pass over, without a warning, files that are not pangeo-render's (PR023): for hooks and
    /// globs that hand every YAML file of a repository to `validate`.
    #[arg(long)]
    pub ignore_unknown: bool,
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
    /// Output format: unified diff text, json or yaml.
    #[arg(short, long, value_enum, value_name = "FORMAT", default_value_t = Output::Text)]
    pub output: Output,
    /// The helm binary for the object-level preview of releases that differ (default: helm on PATH).
    #[arg(long, value_name = "PATH")]
    pub helm: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Output format: text, or an ApplyReport document as json or yaml (the progress lines then
    /// go to stderr).
    #[arg(short, long, value_enum, value_name = "FORMAT", default_value_t = Output::Text)]
    pub output: Output,
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
    /// The config to write [default: pangeo.yaml]; its secrets file goes beside it. Neither may exist yet.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format of the report (text on stderr, or a document on stdout).
    #[arg(short, long, value_name = "FORMAT", value_parser = OutputOrPathParser)]
    pub output: Option<OutputOrPath>,
    /// The hub's public name, when daskhub.yaml has no jupyterhub.proxy.https.hosts.
    #[arg(long)]
    pub domain: Option<String>,
    /// Also read the live cluster: where the daskhub and aws-ebs-csi-driver releases are, and
    /// that daskhub.yaml holds the deployed tokens.
    #[arg(long)]
    pub from_cluster: bool,
    /// Kubeconfig file, with --from-cluster (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, requires = "from_cluster")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context, with --from-cluster (default: the current context).
    #[arg(long, requires = "from_cluster")]
    pub context: Option<String>,
}

impl ImportArgs {
    /// The cluster flags, as diff and apply take them.
    pub fn cluster(&self, config: &std::path::Path) -> ClusterArgs {
        ClusterArgs {
            configs: vec![config.to_path_buf()],
            config: config.to_path_buf(),
            jobs: 1,
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            charts: None,
            secrets: None,
            request_timeout: Duration::from_secs(20),
            timeout: Duration::from_secs(120),
        }
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
    /// Output format: text, json or yaml.
    #[arg(short, long, value_enum, value_name = "FORMAT", default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Which schema.
    #[arg(value_enum, default_value_t = SchemaName::Config)]
    pub name: SchemaName,
    /// Output format: json (text is the same) or yaml.
    #[arg(short, long, value_enum, value_name = "FORMAT", default_value_t = Output::Json)]
    pub output: Output,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SchemaName {
    /// The config file (kind PangeoDeployment).
    Config,
    /// The documents `-o json|yaml` prints (ValidationReport, DiffReport, ValuesReport, InitReport).
    Output,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write pangeo-render.1 and one page per command (pangeo-render-init.1, …) here instead.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
}

/// The examples that end each command's `--help`. Every line that starts with `pangeo-render`
/// is parsed by the tests below, so an example cannot drift from the flags.
mod examples {
    pub const INIT: &str = "\
Examples:
  # A config for us-west-2 in ./pangeo.yaml
  pangeo-render init --name pangeo --region us-west-2 --domain hub.example.org \\
    --kms-key-arn arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab \\
    --certificate-arn arn:aws:acm:us-west-2:123456789012:certificate/12345678-1234-1234-1234-123456789012

  # The same on stdout, on Kubernetes 1.34, with two admins
  pangeo-render init -c - --name pangeo --region us-west-2 --domain hub.example.org \\
    --kms-key-arn arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab \\
    --certificate-arn arn:aws:acm:us-west-2:123456789012:certificate/12345678-1234-1234-1234-123456789012 \\
    --kubernetes-version 1.34 --admin-user alice --admin-user bob";

    pub const IMPORT: &str = "\
Examples:
  # The walkthrough's cluster.yaml, daskhub.yaml and storageclass.yaml become ./pangeo.yaml
  pangeo-render import --from walkthrough/

  # Elsewhere, naming the hub when daskhub.yaml has no jupyterhub.proxy.https.hosts
  pangeo-render import --from walkthrough/ -c hub/pangeo.yaml --domain hub.example.org

  # Also ask the cluster where the releases are and check the files hold what is deployed; report as JSON
  pangeo-render import --from walkthrough/ --from-cluster --context my-eks -o json";

    pub const VALUES: &str = "\
Examples:
  # Render into ./rendered (secrets are generated on the first run)
  pangeo-render values -c pangeo.yaml

  # Choose the admin password, render elsewhere
  pangeo-render values -c pangeo.yaml --output-dir deploy/rendered --admin-password-stdin

  # New tokens on purpose, and a machine-readable list of what was written
  pangeo-render values -c pangeo.yaml --rotate tokens -o json";

    pub const VALIDATE: &str = "\
Examples:
  # The config and everything rendered from it
  pangeo-render validate -c pangeo.yaml rendered/

  # Hand-edited files, failing on warnings too
  pangeo-render validate --strict rendered/daskhub.yaml rendered/cluster.yaml

  # A report for CI
  pangeo-render validate -c pangeo.yaml -o json";

    pub const DIFF: &str = "\
Examples:
  # The current kubeconfig context
  pangeo-render diff -c pangeo.yaml

  # Another kubeconfig and context, as JSON
  pangeo-render diff -c pangeo.yaml --kubeconfig ~/.kube/eks --context pangeo -o json";

    pub const APPLY: &str = "\
Examples:
  # Check everything with the server, change nothing
  pangeo-render apply -c pangeo.yaml --dry-run

  # Apply, then install or upgrade the Helm releases too
  pangeo-render apply -c pangeo.yaml --helm

  # Take over fields kubectl edit changed
  pangeo-render apply -c pangeo.yaml --force-conflicts";

    pub const UPGRADE: &str = "\
Examples:
  # What moving to the next Kubernetes minor takes: dates, cost, ordered commands
  pangeo-render upgrade -c pangeo.yaml

  # The newer DaskHub chart target, as JSON
  pangeo-render upgrade -c pangeo.yaml --chart daskhub-2026.3.0 -o json";

    pub const SCHEMA: &str = "\
Examples:
  # Beside a config, where its yaml-language-server modeline points
  pangeo-render schema > pangeo-config.schema.json

  # The shape of validate's and diff's JSON, as YAML
  pangeo-render schema output -o yaml";

    pub const COMPLETIONS: &str = "\
Examples:
  # bash, for the current user
  pangeo-render completions bash

  # zsh: a file in a directory of $fpath
  pangeo-render completions zsh";

    pub const MAN: &str = "\
Examples:
  # Read it now
  pangeo-render man

  # Install one page per command
  pangeo-render man --output-dir /usr/local/share/man/man1";
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Each subcommand's examples, continuation lines joined, split into words.
    fn examples_of(sub: &clap::Command) -> Vec<Vec<String>> {
        let help = sub.get_after_help().map(|h| h.to_string()).unwrap_or_default();
        let joined = help.replace("\\\n", " ");
        joined
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("pangeo-render "))
            // The command ends where the shell takes over (a redirection or a pipe).
            .map(|l| {
                l.split_whitespace()
                    .take_while(|w| !matches!(*w, ">" | "|" | "<"))
                    .map(str::to_string)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn every_command_ends_its_help_with_two_or_three_examples_that_parse() {
        let cli = Cli::command();
        for sub in cli.get_subcommands() {
            let examples = examples_of(sub);
            assert!((2..=3).contains(&examples.len()), "{}: {} examples", sub.get_name(), examples.len());
            for words in examples {
                assert_eq!(words[1], sub.get_name(), "an example of {} runs another command", sub.get_name());
                if let Err(e) = Cli::try_parse_from(&words) {
                    panic!("example `{}` does not parse:\n{e}", words.join(" "));
                }
            }
        }
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn dash_o_is_a_format_word_or_else_a_path() {
        let parse = |args: &[&str]| match Cli::try_parse_from(args).unwrap().command {
            Command::Values(v) => v.output,
            _ => unreachable!(),
        };
        assert_eq!(parse(&["p", "values", "-o", "yaml"]), Some(OutputOrPath::Format(Output::Yaml)));
        assert_eq!(parse(&["p", "values", "-o", "out"]), Some(OutputOrPath::Path("out".into())));
        assert_eq!(parse(&["p", "values"]), None);
    }

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
