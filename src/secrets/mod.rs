//! Generated secrets, kept in a file beside the config so that re-rendering is byte-identical.
//!
//! `pangeo.yaml` → `pangeo.secrets.yaml`, created 0600 and listed in `.gitignore`. It holds the
//! proxy secret token, the Dask Gateway API token (32 random bytes each, hex) and the admin
//! password's hash — never the password. Random values are generated once and reused: a rendered
//! file that changed on every run would show a perpetual diff.
//!
//! [`password`] hashes and checks the admin password; [`mask`] keeps every secret out of diffs,
//! error messages and helm's output.

pub mod mask;
pub mod password;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fsutil;

pub const API_VERSION: &str = "pangeo-render/v1alpha1";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Secrets {
    pub api_version: String,
    pub kind: String,
    pub proxy_secret_token: String,
    pub dask_gateway_api_token: String,
    pub admin_password_hash: String,
}

/// What a run did to the secrets, so the command can tell the user.
#[derive(Debug, Default)]
pub struct Changes {
    pub created: bool,
    pub rotated_tokens: bool,
    /// Set only when the tool made up the password; the caller shows it once on stderr.
    pub generated_password: Option<String>,
    pub password_changed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Rotate {
    Tokens,
    Password,
}

/// `dir/pangeo.yaml` → `dir/pangeo.secrets.yaml`.
pub fn path_for(config: &Path) -> PathBuf {
    let stem = config.file_stem().and_then(|s| s.to_str()).unwrap_or("pangeo");
    config.with_file_name(format!("{stem}.secrets.yaml"))
}

pub fn token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    hex::encode(bytes)
}

fn is_token(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

pub fn load(path: &Path) -> Result<Option<Secrets>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    // The file holds secrets: errors name the field, never echo the content.
    let secrets: Secrets = serde_saphyr::from_str(&text).map_err(|_| Error::Io {
        path: path.to_path_buf(),
        message: "the secrets file is not in the expected form (apiVersion, kind, proxySecretToken, daskGatewayApiToken, adminPasswordHash); restore it or delete it to generate new secrets".into(),
    })?;
    let bad =
        |what: &str, why: &str| Error::Io { path: path.to_path_buf(), message: format!("{what}: {why}") };
    if !is_token(&secrets.proxy_secret_token) {
        return Err(bad(
            "proxySecretToken",
            "must be 64 lower-case hex characters; rotate with `values --rotate tokens`",
        ));
    }
    if !is_token(&secrets.dask_gateway_api_token) {
        return Err(bad(
            "daskGatewayApiToken",
            "must be 64 lower-case hex characters; rotate with `values --rotate tokens`",
        ));
    }
    if secrets.proxy_secret_token == secrets.dask_gateway_api_token {
        return Err(bad(
            "daskGatewayApiToken",
            "must differ from proxySecretToken; rotate with `values --rotate tokens`",
        ));
    }
    if let Err(e) = password::parse(&secrets.admin_password_hash) {
        return Err(bad(
            "adminPasswordHash",
            &format!("{e}; set a new password with `values --rotate password`"),
        ));
    }
    Ok(Some(secrets))
}

/// Loads the secrets, creating or rotating what is asked for. Nothing is written here.
pub fn resolve(
    existing: Option<Secrets>,
    rotate: &[Rotate],
    new_password: Option<&str>,
) -> (Secrets, Changes) {
    let mut changes = Changes::default();
    let mut secrets = match existing {
        Some(s) => s,
        None => {
            changes.created = true;
            Secrets {
                api_version: API_VERSION.into(),
                kind: "PangeoSecrets".into(),
                proxy_secret_token: token(),
                dask_gateway_api_token: token(),
                admin_password_hash: String::new(),
            }
        }
    };
    if rotate.contains(&Rotate::Tokens) && !changes.created {
        secrets.proxy_secret_token = token();
        secrets.dask_gateway_api_token = token();
        changes.rotated_tokens = true;
    }
    while secrets.proxy_secret_token == secrets.dask_gateway_api_token {
        secrets.dask_gateway_api_token = token();
    }
    let want_password = changes.created || rotate.contains(&Rotate::Password) || new_password.is_some();
    if want_password {
        let plain = match new_password {
            Some(p) => p.to_string(),
            None => {
                let p = password::generate();
                changes.generated_password = Some(p.clone());
                p
            }
        };
        secrets.admin_password_hash = password::hash(&plain);
        changes.password_changed = true;
    }
    (secrets, changes)
}

pub fn to_yaml(s: &Secrets) -> String {
    format!(
        "# Generated by pangeo-render. Keep out of version control; mode 0600.\n\
         # Delete a line and run `pangeo-render values` to regenerate it, or use --rotate.\n\
         apiVersion: {}\nkind: {}\nproxySecretToken: \"{}\"\ndaskGatewayApiToken: \"{}\"\nadminPasswordHash: \"{}\"\n",
        s.api_version, s.kind, s.proxy_secret_token, s.dask_gateway_api_token, s.admin_password_hash
    )
}

pub fn save(path: &Path, s: &Secrets) -> Result<()> {
    fsutil::write_atomic(path, to_yaml(s).as_bytes(), true)
}

/// Every secret string, for masking and for tests that scan output.
pub fn values(s: &Secrets) -> Vec<&str> {
    vec![&s.proxy_secret_token, &s.dask_gateway_api_token, &s.admin_password_hash]
}
