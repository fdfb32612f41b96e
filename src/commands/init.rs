//! `pangeo-render init`: a starter config with the walkthrough's defaults.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::aws::{arn, eks_versions, regions};
use crate::cli::{InitArgs, OutputOrPath};
use crate::diag::{self, Output};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::render::Templates;
use crate::secrets;

const DEFAULT_CONFIG: &str = "pangeo.yaml";
/// Written beside the config; the config's first line points editors at it, as a relative path,
/// so a YAML language server finds it offline.
pub const SCHEMA_FILE: &str = "pangeo-config.schema.json";

/// The `InitReport` document of `-o json|yaml` (schemas/init-report.schema.json).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InitReport {
    config: PathBuf,
    schema: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    gitignore: Option<PathBuf>,
    warnings: Vec<diag::Diagnostic>,
}

/// Where the config goes and how to report; `-o FILE` from older scripts still names the file,
/// with a deprecation warning.
fn resolve_output(args: &InitArgs) -> Result<(PathBuf, Output)> {
    let (path, format) = match (&args.output, &args.config) {
        (Some(OutputOrPath::Path(_)), Some(_)) => {
            return Err(Error::Usage(
                "-o takes a format (text, json, yaml); the file goes in -c/--config".into(),
            ));
        }
        (Some(OutputOrPath::Path(file)), None) => {
            diag::deprecated(&format!(
                "`init -o FILE` will be removed; write `init -c {}` (-o is the output format: text, json or yaml)",
                file.display()
            ));
            (file.clone(), Output::Text)
        }
        (Some(OutputOrPath::Format(f)), file) => (file.clone().unwrap_or_else(|| DEFAULT_CONFIG.into()), *f),
        (None, file) => (file.clone().unwrap_or_else(|| DEFAULT_CONFIG.into()), Output::Text),
    };
    if fsutil::is_stdio(&path) && format != Output::Text {
        return Err(Error::Usage(format!(
            "-c - prints the config on stdout, where -o {} would print the report too; write the config to a file",
            format.name()
        )));
    }
    Ok((path, format))
}

pub fn run(args: &InitArgs) -> Result<()> {
    let (output, format) = resolve_output(args)?;
    let to_stdout = fsutil::is_stdio(&output);
    if !to_stdout && output.exists() && !args.force {
        return Err(Error::Usage(format!(
            "{} already exists; pass --force to overwrite it",
            output.display()
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
                file_name => if to_stdout { DEFAULT_CONFIG.into() } else { crate::commands::source_name(&output) },
                name => &args.name, region => &args.region, version => version,
                zones => zones, kms => &args.kms_key_arn, account => account,
                cert => &args.certificate_arn, domain => &args.domain, admins => admins,
                standard => standard.join(", "), schema_file => SCHEMA_FILE,
            })
        })
        .map_err(|e| Error::Template { name: "init/pangeo.yaml.j2".into(), message: e.to_string() })?;

    // minijinja drops the template's final newline; a text file ends with one (and the usual
    // end-of-file-fixer hook would otherwise rewrite the file on its first commit).
    let mut text = text;
    if !text.ends_with('\n') {
        text.push('\n');
    }

    // The new config goes through the same checks as any other, so a wrong flag is reported as
    // the config line it produced, before anything is written.
    let shown = if to_stdout { PathBuf::from("<stdout>") } else { output.clone() };
    let loaded = crate::commands::load_config_str(&shown, &text)?;
    let mut err = anstream::stderr();
    if to_stdout {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes()).and_then(|_| out.flush()).map_err(|e| Error::io("<stdout>", e))?;
        crate::diag::write_text(&mut err, &loaded.warnings).ok();
        let _ = writeln!(
            err,
            "note: the config's modeline names {SCHEMA_FILE}; write it beside the config with: pangeo-render schema > {SCHEMA_FILE}"
        );
        return Ok(());
    }
    let schema_path = schema_beside(&output, args.force)?;
    fsutil::write_atomic(&output, text.as_bytes(), false)?;
    if !fsutil::unchanged(&schema_path, crate::diag::schema::CONFIG.text().as_bytes()) {
        fsutil::write_atomic(&schema_path, crate::diag::schema::CONFIG.text().as_bytes(), false)?;
    }
    let gitignore = add_to_gitignore(&output)?;
    if format != Output::Text {
        let doc = InitReport {
            config: output.clone(),
            schema: schema_path,
            gitignore,
            warnings: loaded.warnings.clone(),
        };
        let mut out = std::io::stdout().lock();
        return diag::write_document(&mut out, format, "InitReport", &doc)
            .map_err(|e| Error::io("<stdout>", e));
    }
    crate::diag::write_text(&mut err, &loaded.warnings).ok();
    let _ = writeln!(err, "wrote {}", output.display());
    let _ =
        writeln!(err, "wrote {} (for editors: the config's first line points at it)", schema_path.display());
    if let Some(ignored) = gitignore {
        let _ = writeln!(err, "added {} to {}", secrets_file_name(&output), ignored.display());
    }
    let _ = writeln!(err, "next: pangeo-render values -c {}", output.display());
    Ok(())
}

/// Where the schema goes, checked before anything is written: a file of that name that is not
/// a pangeo-render config schema (of any version) is someone else's, kept unless `--force`.
fn schema_beside(config: &Path, force: bool) -> Result<PathBuf> {
    let path = config.with_file_name(SCHEMA_FILE);
    let ours = |text: &str| {
        serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| {
            v["$id"].as_str().is_some_and(|id| id.contains("pangeo-render") && id.contains("pangeo-config"))
        })
    };
    match std::fs::read_to_string(&path) {
        Ok(text) if !force && !ours(&text) => Err(Error::Usage(format!(
            "{} exists and is not a pangeo-render config schema; move it away or pass --force to overwrite it",
            path.display()
        ))),
        _ => Ok(path),
    }
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
