//! Applying the plan: server-side apply of each object in dependency order, and the Helm step.
//!
//! Nothing is written until the whole plan has passed a server-side dry run: a conflict with
//! another field manager (without `--force-conflicts`) or an immutable change (without
//! `--recreate`) stops here and lists every such field first. Then each object is applied as
//! field manager `pangeo-render`; objects already in sync are not sent again. If one fails, the
//! error says which objects were applied before it, and running `apply` again continues:
//! server-side apply is idempotent, so the applied ones come out unchanged.
//!
//! Helm releases are not installed behind the user's back. Without `--helm` apply prints the
//! `helm upgrade --install` commands, pointing at the values files `pangeo-render values` writes
//! (`rendered/` by default, mode 0600) — rendering is deterministic, so that file is byte for byte
//! what apply rendered, and no copy of the secrets is left in a temporary directory. With `--helm`
//! apply writes each values file to a private temporary directory (0700, file 0600), runs helm
//! with it, and removes it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli::ClusterArgs;
use crate::config::Config;
use crate::diff::mask::Masker;
use crate::diff::pair::{Action, Planned};
use crate::error::{Error, Result};
use crate::kube::{ApplyMode, Cluster, ClusterError};
use crate::render::{Artifact, ArtifactKind};

#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    pub dry_run: bool,
    pub force_conflicts: bool,
    pub recreate: bool,
}

/// Why the plan cannot be applied as asked, listing every field; `None` when it can.
pub fn blockers(plan: &[Planned], opts: &Options) -> Option<String> {
    let mut lines = Vec::new();
    let conflicted: Vec<&Planned> =
        plan.iter().filter(|p| !p.conflicts.is_empty() && p.immutable.is_empty()).collect();
    if !conflicted.is_empty() && !opts.force_conflicts {
        lines.push(format!("{} object(s) have fields owned by other field managers:", conflicted.len()));
        for p in &conflicted {
            lines.push(format!("  {}:", p.object));
            for c in &p.conflicts {
                lines.push(format!("    {} (manager \"{}\")", c.field, c.manager));
            }
        }
        lines.push("  Re-run with --force-conflicts to take these fields over (the other managers lose them), or change the config to agree with them.".into());
    }
    let immutable: Vec<&Planned> = plan.iter().filter(|p| !p.immutable.is_empty()).collect();
    if !immutable.is_empty() && !opts.recreate {
        lines.push(format!(
            "{} object(s) would change fields the server does not allow to change in place:",
            immutable.len()
        ));
        for p in &immutable {
            lines.push(format!("  {}:", p.object));
            for m in &p.immutable {
                lines.push(format!("    {m}"));
            }
        }
        lines.push(
            "  Re-run with --recreate to delete and re-create them. For a StorageClass this is safe for existing volumes (they keep their class name); new volumes use the new settings."
                .into(),
        );
    }
    (!lines.is_empty()).then(|| format!("nothing was applied:\n{}", lines.join("\n")))
}

/// Applies the plan in order, printing one line per object. On failure the error names the
/// failed object and those applied before it.
pub async fn apply(
    cluster: &Cluster,
    plan: &[Planned],
    opts: &Options,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let suffix = if opts.dry_run { " (server dry run)" } else { "" };
    let mut done: Vec<String> = Vec::new();
    for (i, p) in plan.iter().enumerate() {
        let result = apply_one(cluster, p, opts).await;
        match result {
            Ok(word) => {
                let _ = writeln!(out, "{} {word}{suffix}", p.object);
                if word != "unchanged" {
                    done.push(p.object.to_string());
                }
            }
            Err(error) => {
                return Err(Failure {
                    applied: done,
                    failed: p.object.to_string(),
                    not_attempted: plan[i + 1..].iter().map(|p| p.object.to_string()).collect(),
                    error,
                    dry_run: opts.dry_run,
                });
            }
        }
    }
    Ok(())
}

async fn apply_one(cluster: &Cluster, p: &Planned, opts: &Options) -> Result<&'static str, ClusterError> {
    let force = opts.force_conflicts || p.handover;
    let mode = ApplyMode { manager: p.manager, dry_run: opts.dry_run, force };
    match p.action() {
        Action::Unchanged => Ok("unchanged"),
        Action::Recreate => {
            cluster.delete(&p.object, opts.dry_run).await?;
            if opts.dry_run {
                // The create cannot be tried while the object still exists.
                return Ok("would be re-created (deleted, then created)");
            }
            cluster.apply(&p.object, &p.body, mode).await?;
            Ok("re-created (deleted, then created)")
        }
        // The plan's dry run already ran these exact requests.
        action if opts.dry_run => Ok(match (action, p.handover) {
            (_, true) => "default annotation would be set to \"false\"",
            (Action::Create, _) => "would be created",
            _ => "would be configured",
        }),
        action => {
            cluster.apply(&p.object, &p.body, mode).await?;
            Ok(match (action, p.handover) {
                (_, true) => "default annotation set to \"false\"",
                (Action::Create, _) => "created",
                _ => "configured",
            })
        }
    }
}

/// A partial apply: what was done, what failed, what was not tried.
#[derive(Debug)]
pub struct Failure {
    pub applied: Vec<String>,
    pub failed: String,
    pub not_attempted: Vec<String>,
    pub error: ClusterError,
    pub dry_run: bool,
}

impl Failure {
    /// The message, given the failing request's description (with identity when refused).
    pub fn message(&self, cause: &str) -> String {
        let list = |v: &[String]| if v.is_empty() { "none".to_string() } else { v.join(", ") };
        let verb = if self.dry_run { "checked (server dry run)" } else { "applied" };
        let mut msg =
            format!("apply stopped at {}: {cause}\n  {verb} before it: {}", self.failed, list(&self.applied));
        msg.push_str(&format!("\n  not attempted: {}", list(&self.not_attempted)));
        if !self.dry_run {
            msg.push_str(
                "\n  Fix the cause and run apply again; objects already applied come out unchanged.",
            );
        }
        msg
    }
}

/// One Helm release of the deployment.
#[derive(Clone, Debug)]
pub struct HelmRelease {
    pub name: String,
    pub namespace: String,
    pub chart: &'static str,
    pub version: Option<&'static str>,
    pub values_file: &'static str,
    pub values_text: String,
}

/// The releases in install order: the EBS CSI driver (volumes) before DaskHub.
pub fn helm_releases(cfg: &Config, artifacts: &[Artifact]) -> Vec<HelmRelease> {
    let text =
        |k: ArtifactKind| artifacts.iter().find(|a| a.kind == k).map(|a| (a.file_name, a.text.clone()));
    let mut out = Vec::new();
    if let Some((file, values_text)) = text(ArtifactKind::EbsCsiValues) {
        let r = &cfg.releases.ebs_csi_driver;
        out.push(HelmRelease {
            name: r.name.clone(),
            namespace: r.namespace.clone(),
            chart: "aws-ebs-csi-driver/aws-ebs-csi-driver",
            version: None,
            values_file: file,
            values_text,
        });
    }
    if let Some((file, values_text)) = text(ArtifactKind::DaskhubValues) {
        let r = &cfg.releases.daskhub;
        let (chart, version) = cfg.hub.chart.helm_reference();
        out.push(HelmRelease {
            name: r.name.clone(),
            namespace: r.namespace.clone(),
            chart,
            version,
            values_file: file,
            values_text,
        });
    }
    out
}

/// `helm upgrade --install …` arguments (without the program name).
pub fn helm_args(r: &HelmRelease, values: &Path, cluster: &ClusterArgs, dry_run: bool) -> Vec<String> {
    let mut args: Vec<String> = vec!["upgrade".into(), "--install".into(), r.name.clone(), r.chart.into()];
    if let Some(v) = r.version {
        args.extend(["--version".into(), v.into()]);
    }
    args.extend(["--namespace".into(), r.namespace.clone(), "--create-namespace".into()]);
    if let Some(k) = &cluster.kubeconfig {
        args.extend(["--kubeconfig".into(), k.display().to_string()]);
    }
    if let Some(c) = &cluster.context {
        args.extend(["--kube-context".into(), c.clone()]);
    }
    args.extend(["--values".into(), values.display().to_string()]);
    if dry_run {
        args.push("--dry-run=server".into());
    }
    args
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn shell_word(w: &str) -> String {
    let safe = !w.is_empty() && w.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:@%+,".contains(&b));
    if safe { w.to_string() } else { format!("'{}'", w.replace('\'', r"'\''")) }
}

pub fn command_line(program: &str, args: &[String]) -> String {
    std::iter::once(program.to_string())
        .chain(args.iter().map(|a| shell_word(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where `helm` is on PATH.
pub fn find_helm() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("helm")).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

/// Prints the commands that install or upgrade the releases, for the user to run.
pub fn print_helm_commands(
    out: &mut impl Write,
    releases: &[HelmRelease],
    config: &Path,
    cluster: &ClusterArgs,
) {
    let values_dir = Path::new("rendered");
    let _ = writeln!(
        out,
        "Helm releases are installed by helm, not by apply (add --helm to run these). Write the values files, then run helm:"
    );
    let _ = writeln!(
        out,
        "  pangeo-render values -c {} -o {}",
        shell_word(&config.display().to_string()),
        values_dir.display()
    );
    for r in releases {
        let args = helm_args(r, &values_dir.join(r.values_file), cluster, false);
        let _ = writeln!(out, "  {}", command_line("helm", &args));
    }
    let repos: Vec<&str> = releases
        .iter()
        .filter_map(|r| match r.chart.split('/').next() {
            Some("dask") if !r.chart.starts_with('.') => Some("helm repo add dask https://helm.dask.org"),
            Some("aws-ebs-csi-driver") => {
                Some("helm repo add aws-ebs-csi-driver https://kubernetes-sigs.github.io/aws-ebs-csi-driver")
            }
            _ => None,
        })
        .collect();
    if !repos.is_empty() {
        let _ = writeln!(out, "  # chart repositories, once: {}", repos.join("; "));
    }
}

/// Runs helm for each release with its values in a private temporary file. Output is masked.
pub fn run_helm(
    helm: &Path,
    releases: &[HelmRelease],
    cluster: &ClusterArgs,
    dry_run: bool,
    masker: &Masker,
    out: &mut impl Write,
) -> Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("pangeo-render-helm-")
        .tempdir()
        .map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let mut installed: Vec<String> = Vec::new();
    for r in releases {
        let values = dir.path().join(r.values_file);
        crate::fsutil::write_atomic(&values, r.values_text.as_bytes(), true)?;
        let args = helm_args(r, &values, cluster, dry_run);
        let _ = writeln!(out, "running: {}", command_line("helm", &args));
        let result = Command::new(helm).args(&args).stdin(std::process::Stdio::null()).output();
        let _ = std::fs::remove_file(&values);
        let output = result.map_err(|e| Error::Cluster(format!("cannot run {}: {e}", helm.display())))?;
        let stdout = masker.text(&String::from_utf8_lossy(&output.stdout));
        let stderr = masker.text(&String::from_utf8_lossy(&output.stderr));
        if !output.status.success() {
            let done = if installed.is_empty() { "none".to_string() } else { installed.join(", ") };
            return Err(Error::Cluster(format!(
                "helm upgrade --install of release {} (namespace {}) failed ({}):\n{}\n  releases done before it: {done}",
                r.name,
                r.namespace,
                output.status,
                stderr.trim_end()
            )));
        }
        for line in stdout.lines().filter(|l| !l.trim().is_empty()).take(8) {
            let _ = writeln!(out, "  {line}");
        }
        installed.push(format!("{} (namespace {})", r.name, r.namespace));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("rendered/daskhub.yaml"), "rendered/daskhub.yaml");
        assert_eq!(shell_word("my dir/x"), "'my dir/x'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }

    #[test]
    fn helm_args_forward_the_cluster_and_values() {
        let r = HelmRelease {
            name: "daskhub".into(),
            namespace: "hub".into(),
            chart: "dask/daskhub",
            version: Some("2024.1.1"),
            values_file: "daskhub.yaml",
            values_text: String::new(),
        };
        let c = ClusterArgs {
            config: "pangeo.yaml".into(),
            kubeconfig: Some("/k/config".into()),
            context: Some("prod".into()),
            charts: None,
            secrets: None,
        };
        let line = command_line("helm", &helm_args(&r, Path::new("rendered/daskhub.yaml"), &c, true));
        assert_eq!(
            line,
            "helm upgrade --install daskhub dask/daskhub --version 2024.1.1 --namespace hub --create-namespace \
             --kubeconfig /k/config --kube-context prod --values rendered/daskhub.yaml --dry-run=server"
        );
    }
}
