//! `pangeo-render init`: a starter config with the walkthrough's defaults.

use std::io::Write;
use std::path::Path;

use crate::aws::{arn, eks_versions, regions};
use crate::cli::InitArgs;
use crate::error::{Error, Result};
use crate::fsutil;
use crate::render::Templates;
use crate::secrets;

pub fn run(args: &InitArgs) -> Result<()> {
    if args.output.exists() && !args.force {
        return Err(Error::Usage(format!(
            "{} already exists; pass --force to overwrite it",
            args.output.display()
        )));
    }
    let today = eks_versions::today();
    let version =
        args.kubernetes_version.clone().unwrap_or_else(|| eks_versions::default_version(&today).to_string());
    // Zones: the Region's first two. An unknown Region gets placeholders-free guesses so that the
    // config check below reports the Region itself, not two confusing zone errors.
    let zones = regions::find(&args.region)
        .map(|r| r.zones().into_iter().take(2).collect::<Vec<_>>())
        .unwrap_or_else(|| vec![format!("{}a", args.region), format!("{}b", args.region)]);
    let account = arn::parse(&args.kms_key_arn).map(|a| a.account.to_string()).unwrap_or_default();
    let admins =
        if args.admin_users.is_empty() { vec!["admin".to_string()] } else { args.admin_users.clone() };
    let standard = eks_versions::standard(&today);

    let env = Templates::Embedded.environment()?;
    let text = env
        .get_template("init/pangeo.yaml.j2")
        .and_then(|t| {
            t.render(minijinja::context! {
                file_name => crate::commands::source_name(&args.output),
                name => &args.name, region => &args.region, version => version,
                zones => zones, kms => &args.kms_key_arn, account => account,
                cert => &args.certificate_arn, domain => &args.domain, admins => admins,
                standard => standard.join(", "),
            })
        })
        .map_err(|e| Error::Template { name: "init/pangeo.yaml.j2".into(), message: e.to_string() })?;

    // The new config goes through the same checks as any other, so a wrong flag is reported as
    // the config line it produced, before anything is written.
    let loaded = crate::commands::load_config_str(&args.output, &text)?;
    fsutil::write_atomic(&args.output, text.as_bytes(), false)?;
    let mut err = anstream::stderr();
    crate::diag::write_text(&mut err, &loaded.warnings).ok();
    let _ = writeln!(err, "wrote {}", args.output.display());
    if let Some(ignored) = add_to_gitignore(&args.output)? {
        let _ = writeln!(err, "added {} to {}", secrets_file_name(&args.output), ignored.display());
    }
    let _ = writeln!(err, "next: pangeo-render values -c {} -o rendered", args.output.display());
    Ok(())
}

fn secrets_file_name(config: &Path) -> String {
    secrets::path_for(config).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Inside a git work tree, lists the secrets file in the config directory's `.gitignore`.
fn add_to_gitignore(config: &Path) -> Result<Option<std::path::PathBuf>> {
    let dir = match config.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let abs = dir.canonicalize().map_err(|e| Error::io(&dir, e))?;
    if !abs.ancestors().any(|a| a.join(".git").exists()) {
        return Ok(None);
    }
    let ignore = dir.join(".gitignore");
    let entry = format!("/{}", secrets_file_name(config));
    let existing = std::fs::read_to_string(&ignore).unwrap_or_default();
    if existing.lines().any(|l| l.trim() == entry || l.trim() == entry.trim_start_matches('/')) {
        return Ok(None);
    }
    let mut text = existing;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("# pangeo-render secrets (tokens, admin password hash)\n");
    text.push_str(&entry);
    text.push('\n');
    fsutil::write_atomic(&ignore, text.as_bytes(), false)?;
    Ok(Some(ignore))
}
