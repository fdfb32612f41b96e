//! The Helm step of `apply`: the deployment's releases, the `helm upgrade --install` command for
//! each (printed for the user, or run with `--helm`, the values handed to helm on its stdin so
//! that they never touch the disk), and helm's output masked.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli::ClusterArgs;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::helm::chart::{ChartPin, REPOSITORIES};
use crate::kube::{Cluster, ClusterError};
use crate::render::{Artifact, ArtifactKind};
use crate::secrets::mask::Masker;

/// One Helm release of the deployment.
#[derive(Clone, Debug)]
pub struct HelmRelease {
    pub name: String,
    pub namespace: String,
    /// The pinned chart and version.
    pub chart: ChartPin,
    pub values_file: &'static str,
    pub values_text: String,
}

/// The releases in install order: the EBS CSI driver (volumes) before DaskHub.
/// Relative local charts are found from `config_dir`, the config file's folder.
pub fn helm_releases(cfg: &Config, config_dir: &Path, artifacts: &[Artifact]) -> Vec<HelmRelease> {
    let text =
        |k: ArtifactKind| artifacts.iter().find(|a| a.kind == k).map(|a| (a.file_name, a.text.clone()));
    let mut out = Vec::new();
    if let Some((file, values_text)) = text(ArtifactKind::EbsCsiValues) {
        let r = &cfg.releases.ebs_csi_driver;
        out.push(HelmRelease {
            name: r.name.clone(),
            namespace: r.namespace.clone(),
            chart: cfg.ebs_csi_chart(config_dir),
            values_file: file,
            values_text,
        });
    }
    if let Some((file, values_text)) = text(ArtifactKind::DaskhubValues) {
        let r = &cfg.releases.daskhub;
        out.push(HelmRelease {
            name: r.name.clone(),
            namespace: r.namespace.clone(),
            chart: cfg.daskhub_chart(config_dir),
            values_file: file,
            values_text,
        });
    }
    out
}

/// Why `apply --helm` must not start: releases whose newest revision is not deployed (a killed
/// or failed helm), each with its fix; `None` when helm can upgrade every release. Checked
/// before anything is applied, so that a run that cannot finish does not start.
pub async fn helm_blockers(
    cluster: &Cluster,
    releases: &[HelmRelease],
) -> Result<Option<String>, ClusterError> {
    let mut lines = Vec::new();
    for r in releases {
        let found = crate::diff::release_state(cluster, &r.name, &r.namespace).await?;
        if let crate::diff::helm_release::Found::NotDeployed { revision, status, last_deployed } = found {
            let fix = crate::diff::helm_release::fix(
                &r.name,
                &r.namespace,
                &status,
                last_deployed.map(|d| d.revision),
            );
            lines.push(format!(
                "  Helm release {} (namespace {}): newest revision {revision} is {status}\n    fix: {fix}",
                r.name, r.namespace
            ));
        }
    }
    Ok((!lines.is_empty()).then(|| {
        format!("nothing was applied: helm cannot upgrade these releases as they are:\n{}", lines.join("\n"))
    }))
}

/// `helm upgrade --install …` arguments (without the program name).
/// `values` is a path, or `-` for helm to read them from its stdin.
pub fn helm_args(r: &HelmRelease, values: &Path, cluster: &ClusterArgs, dry_run: bool) -> Vec<String> {
    let mut args: Vec<String> =
        vec!["upgrade".into(), "--install".into(), r.name.clone(), r.chart.helm_arg()];
    if let Some(v) = r.chart.version_flag() {
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
    let repos: Vec<String> = releases
        .iter()
        .filter(|r| r.chart.local.is_none())
        .filter_map(|r| {
            let repo = r.chart.reference.split('/').next()?;
            let (name, url) = REPOSITORIES.iter().find(|(name, _)| *name == repo)?;
            Some(format!("helm repo add {name} {url}"))
        })
        .collect();
    if !repos.is_empty() {
        let _ = writeln!(out, "  # chart repositories, once: {}", repos.join("; "));
    }
}

/// Runs helm for each release, its values on helm's stdin (`--values -`): the values hold the
/// tokens and the password hash, and a temporary file would leave them on disk if we were killed.
/// Output is masked.
pub fn run_helm(
    helm: &Path,
    releases: &[HelmRelease],
    cluster: &ClusterArgs,
    dry_run: bool,
    masker: &Masker,
    out: &mut impl Write,
) -> Result<()> {
    let mut installed: Vec<String> = Vec::new();
    for r in releases {
        let args = helm_args(r, Path::new("-"), cluster, dry_run);
        let _ = writeln!(out, "running: {}", command_line("helm", &args));
        let result = run_with_stdin(helm, &args, r.values_text.as_bytes());
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

/// Runs `program ARGS`, writing `input` to its stdin from another thread (so that a child
/// which writes before it has read everything cannot deadlock us), and collects its output.
fn run_with_stdin(program: &Path, args: &[String], input: &[u8]) -> std::io::Result<std::process::Output> {
    use std::process::Stdio;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_vec();
    // A child that exits without reading (a bad flag) closes the pipe: that write error is not
    // ours to report, its exit status and stderr say what went wrong.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let output = child.wait_with_output();
    let _ = writer.join();
    output
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
            chart: ChartPin::new("dask/daskhub", Some("2024.1.1"), Path::new("")),
            values_file: "daskhub.yaml",
            values_text: String::new(),
        };
        let c = ClusterArgs {
            configs: vec!["pangeo.yaml".into()],
            config: "pangeo.yaml".into(),
            jobs: 1,
            kubeconfig: Some("/k/config".into()),
            context: Some("prod".into()),
            charts: None,
            secrets: None,
            request_timeout: std::time::Duration::from_secs(20),
            timeout: std::time::Duration::from_secs(120),
        };
        let line = command_line("helm", &helm_args(&r, Path::new("rendered/daskhub.yaml"), &c, true));
        assert_eq!(
            line,
            "helm upgrade --install daskhub dask/daskhub --version 2024.1.1 --namespace hub --create-namespace \
             --kubeconfig /k/config --kube-context prod --values rendered/daskhub.yaml --dry-run=server"
        );
    }
}
