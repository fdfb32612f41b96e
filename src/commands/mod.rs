//! One module per subcommand: each turns its resolved arguments into work and output.

pub mod apply;
pub mod diff;
pub mod docs;
pub mod fleet;
pub mod import;
pub mod init;
pub mod session;
pub mod upgrade;
pub mod validate;
pub mod values;

use std::path::{Path, PathBuf};

use crate::config::{self, Loaded};
use crate::diag::{Diagnostic, Severity, ids};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::render::{self, Artifact, Templates};
use crate::secrets::{self, Secrets};
use crate::validate::check_config;

/// Loads a config and runs the rules on it ([`validate::check_config`], as `validate -c` does):
/// any error stops the command with every finding; warnings come back in `Loaded::warnings`.
pub fn load_config(path: &Path) -> Result<Loaded> {
    let loaded = config::load(path)?;
    checked(loaded, &[])
}

/// [`load_config`] for a config given as text (`init` checks what it is about to write).
pub fn load_config_str(path: &Path, text: &str) -> Result<Loaded> {
    checked(config::load_str(path, text)?, &[])
}

/// The rule check of a loaded config; findings of the rules in `as_warnings` do not stop the
/// command (`upgrade` exists for a version past support, PR010).
pub fn checked(mut loaded: Loaded, as_warnings: &[&str]) -> Result<Loaded> {
    let mut diags: Vec<Diagnostic> = check_config(&loaded);
    for d in diags.iter_mut().filter(|d| as_warnings.contains(&d.id)) {
        d.severity = Severity::Warning;
    }
    if diags.iter().any(Diagnostic::is_error) {
        // Errors first, then the warnings, as `validate` lists them.
        diags.sort_by_key(|d| !d.is_error());
        return Err(Error::Invalid(diags));
    }
    loaded.warnings = diags;
    Ok(loaded)
}

/// The rule ids `upgrade` reports but does not stop on.
pub const UPGRADE_TOLERATES: &[&str] = &[ids::VERSION_SUPPORT];

/// Loads the secrets beside a loaded and checked config and renders every artifact in memory —
/// the common first half of `diff` and `apply`. Secrets must exist (only `values` creates them).
pub fn render_loaded(
    loaded: &Loaded,
    config_path: &Path,
    secrets_path: Option<&Path>,
    charts: Option<&Path>,
) -> Result<(Secrets, Vec<Artifact>)> {
    let secrets_path = secrets_file(config_path, secrets_path)?;
    let secrets = secrets::load(&secrets_path)?.ok_or_else(|| Error::Io {
        path: secrets_path.clone(),
        message: format!("no secrets file; run `pangeo-render values -c {}` first", config_path.display()),
    })?;
    let templates = templates_for(charts)?;
    let artifacts = render::render(&loaded.config, &secrets, &templates, &source_name(config_path))?;
    Ok((secrets, artifacts))
}

/// The secrets file: `--secrets`, else beside the config. A config read from stdin has no
/// "beside", and the secrets file is read and written (0600), so it cannot be `-` itself.
pub fn secrets_file(config_path: &Path, explicit: Option<&Path>) -> Result<PathBuf> {
    match explicit {
        Some(p) => {
            fsutil::refuse_stdio(
                "--secrets",
                p,
                "the secrets file is kept on disk (mode 0600); give its path",
            )?;
            Ok(p.to_path_buf())
        }
        None if fsutil::is_stdio(config_path) => Err(Error::Usage(
            "-c -: a config read from stdin has no directory to keep its secrets in; pass --secrets FILE"
                .into(),
        )),
        None => Ok(secrets::path_for(config_path)),
    }
}

pub fn templates_for(charts: Option<&Path>) -> Result<Templates> {
    match charts {
        Some(d) => {
            fsutil::refuse_stdio("--charts", d, "a directory of templates cannot be read from stdin")?;
            Ok(Templates::Directory(d.to_path_buf()))
        }
        None => Ok(Templates::default()),
    }
}

/// The config's file name as quoted in rendered headers; the file name only, so output does not
/// depend on the directory the command ran from.
pub fn source_name(config_path: &Path) -> String {
    if fsutil::is_stdio(config_path) {
        return "stdin".into();
    }
    config_path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| "pangeo.yaml".into())
}
