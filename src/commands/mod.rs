//! One module per subcommand: each turns its resolved arguments into work and output.

pub mod apply;
pub mod diff;
pub mod init;
pub mod session;
pub mod upgrade;
pub mod validate;
pub mod values;

use std::path::Path;

use crate::config::{self, Loaded};
use crate::error::{Error, Result};
use crate::render::{self, Artifact, Templates};
use crate::secrets::{self, Secrets};

/// Loads a config and the secrets beside it and renders every artifact in memory — the common
/// first half of `values`, `diff` and `apply`. Secrets must exist (only `values` creates them).
pub fn render_existing(
    config_path: &Path,
    secrets_path: Option<&Path>,
    charts: Option<&Path>,
) -> Result<(Loaded, Secrets, Vec<Artifact>)> {
    let loaded = config::load(config_path)?;
    let secrets_path = secrets_path.map(Path::to_path_buf).unwrap_or_else(|| secrets::path_for(config_path));
    let secrets = secrets::load(&secrets_path)?.ok_or_else(|| Error::Io {
        path: secrets_path.clone(),
        message: format!("no secrets file; run `pangeo-render values -c {}` first", config_path.display()),
    })?;
    let templates = templates_for(charts);
    let artifacts = render::render(&loaded.config, &secrets, &templates, &source_name(config_path))?;
    Ok((loaded, secrets, artifacts))
}

pub fn templates_for(charts: Option<&Path>) -> Templates {
    charts.map(|d| Templates::Directory(d.to_path_buf())).unwrap_or_default()
}

/// The config's file name as quoted in rendered headers; the file name only, so output does not
/// depend on the directory the command ran from.
pub fn source_name(config_path: &Path) -> String {
    config_path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| "pangeo.yaml".into())
}
