//! The Helm step of `apply`: releases helm cannot upgrade as they are stop it first; then the
//! `helm upgrade --install` command of each release that differs is printed for the user, or
//! run with `--helm` (the values on helm's stdin, never on disk), its output masked.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::helm::chart::REPOSITORIES;
use crate::helm::command::{self, Target, command_line, shell_word};
use crate::kube::{Cluster, ClusterError};
use crate::plan::Release;
use crate::secrets::mask::Masker;

/// Why `apply --helm` must not start: releases whose newest revision is not deployed (a killed
/// or failed helm), each with its fix; `None` when helm can upgrade every release. Checked
/// before anything is applied, so that a run that cannot finish does not start.
pub async fn helm_blockers(cluster: &Cluster, releases: &[Release]) -> Result<Option<String>, ClusterError> {
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
/// Prints the commands that install or upgrade the releases, for the user to run.
pub fn print_helm_commands(out: &mut impl Write, releases: &[Release], config: &Path, target: &Target) {
    let values_dir = Path::new("rendered");
    let _ = writeln!(
        out,
        "Helm releases are installed by helm, not by apply (add --helm to run these). Write the values files, then run helm:"
    );
    let _ = writeln!(
        out,
        "  pangeo-render values -c {} --output-dir {}",
        shell_word(&config.display().to_string()),
        values_dir.display()
    );
    for r in releases {
        let args = r.upgrade_args(&values_dir.join(r.values_file).display().to_string(), target, false);
        let _ = writeln!(out, "  {}", command_line("helm", &args));
    }
    let repos: Vec<String> = releases
        .iter()
        .filter(|r| r.pin.local.is_none())
        .filter_map(|r| {
            let repo = r.pin.reference.split('/').next()?;
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
    releases: &[Release],
    target: &Target,
    dry_run: bool,
    masker: &Masker,
    out: &mut impl Write,
) -> Result<()> {
    let mut installed: Vec<String> = Vec::new();
    for r in releases {
        let args = r.upgrade_args(command::VALUES_ON_STDIN, target, dry_run);
        let _ = writeln!(out, "running: {}", command_line("helm", &args));
        let result = command::run(helm, &args, &r.values_text, target);
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
