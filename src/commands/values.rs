//! `pangeo-render values`: render every artifact into a directory.
//!
//! Everything is loaded, generated, rendered and checked in memory first; only then are files
//! written, each atomically. Unchanged files are left alone, so a re-run on unchanged input is a
//! no-op and byte-identical.

use std::io::{Read, Write};

use crate::cli::ValuesArgs;
use crate::commands::{source_name, templates_for};
use crate::config;
use crate::error::{Error, Result};
use crate::fsutil;
use crate::render;
use crate::secrets;
use crate::yaml;

const MIN_PASSWORD_LEN: usize = 8;

pub fn run(args: &ValuesArgs) -> Result<()> {
    let loaded = config::load(&args.config)?;
    let secrets_path = args.secrets.clone().unwrap_or_else(|| secrets::path_for(&args.config));
    let existing = secrets::load(&secrets_path)?;
    let new_password = if args.admin_password_stdin { Some(read_password()?) } else { None };
    let (secrets, changes) = secrets::resolve(existing.clone(), &args.rotate, new_password.as_deref());

    let templates = templates_for(args.charts.as_deref());
    let artifacts = render::render(&loaded.config, &secrets, &templates, &source_name(&args.config))?;
    // A template edited by a user (--charts) can produce broken YAML; catch it before writing.
    for a in &artifacts {
        if let Err(e) = yaml::parse_documents(&a.text) {
            return Err(Error::Template {
                name: a.file_name.to_string(),
                message: format!("rendered YAML is invalid at line {}: {}", e.pos.line, e.message),
            });
        }
    }

    std::fs::create_dir_all(&args.output).map_err(|e| Error::io(&args.output, e))?;
    // Secrets first: if writing an artifact fails, a re-run reproduces it from the same secrets.
    if existing.as_ref() != Some(&secrets) {
        secrets::save(&secrets_path, &secrets)?;
    }
    let mut err = anstream::stderr();
    crate::diag::write_text(&mut err, &loaded.warnings).ok();
    for a in &artifacts {
        let path = args.output.join(a.file_name);
        if fsutil::unchanged(&path, a.text.as_bytes()) && fsutil::mode_ok(&path, a.kind.holds_secrets()) {
            let _ = writeln!(err, "unchanged {}", path.display());
            continue;
        }
        fsutil::write_atomic(&path, a.text.as_bytes(), a.kind.holds_secrets())?;
        let _ = writeln!(err, "wrote {}", path.display());
    }
    if changes.created {
        let _ = writeln!(err, "created {} (mode 0600; keep it out of git)", secrets_path.display());
    }
    if changes.rotated_tokens {
        let _ = writeln!(
            err,
            "rotated the proxy and Dask Gateway tokens; upgrade the daskhub release to use them"
        );
    }
    if let Some(p) = &changes.generated_password {
        let warn = anstyle::AnsiColor::Yellow.on_default().bold();
        let _ = writeln!(
            err,
            "{warn}warning:{warn:#} generated admin password (shown once, stored only as a hash): {p}\n  \
             save it in a password manager now; set your own with --admin-password-stdin or --rotate password"
        );
    } else if changes.password_changed {
        let _ = writeln!(err, "admin password changed (stored only as a hash)");
    }
    Ok(())
}

fn read_password() -> Result<String> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).map_err(|e| Error::io("<stdin>", e))?;
    let password =
        text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text).to_string();
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(Error::Usage(format!(
            "--admin-password-stdin: the password must have at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    Ok(password)
}
