//! Generated secrets, kept in a file beside the config so that re-rendering is byte-identical.
//!
//! `pangeo.yaml` → `pangeo.secrets.yaml`, created 0600 and listed in `.gitignore`. It holds the
//! proxy secret token, the Dask Gateway API token (32 random bytes each, hex) and the admin
//! password's hash — never the password. Random values are generated once and reused: a rendered
//! file that changed on every run would show a perpetual diff.
//!
//! When a `.sops.yaml` creation rule matches the file, it is kept encrypted in SOPS's format for
//! the rule's age recipients instead (see [`sops`]), so it can live in git; decryption happens in
//! memory only.
//!
//! [`password`] hashes and checks the admin password; [`mask`] keeps every secret out of diffs,
//! error messages and helm's output.

pub mod in_cluster;
pub mod mask;
pub mod password;
pub mod recover;
pub mod sops;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, ids};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::yaml::Pos;

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
    /// Keys that were missing from an existing file and were generated.
    pub regenerated: Vec<&'static str>,
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

/// A token as `values` generates it and every command accepts it: 64 lower-case hex characters.
pub fn is_token(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// The secrets file as read. Any line may be missing: the file's header says to delete a line
/// to have `values` regenerate it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Stored {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub proxy_secret_token: Option<String>,
    pub dask_gateway_api_token: Option<String>,
    pub admin_password_hash: Option<String>,
}

pub const KIND: &str = "PangeoSecrets";

/// Reads the secrets file, `None` when there is none. Refuses a plaintext file others may read or
/// write, as ssh refuses such a private key. Nothing is checked beyond the form here; see
/// [`Stored::complete`] and [`resolve`].
pub fn read(path: &Path) -> Result<Option<Stored>> {
    Ok(open(path)?.map(|d| d.stored))
}

/// The secrets file as read, and, when it is SOPS-encrypted, what is needed to write it back.
pub struct OnDisk {
    pub stored: Stored,
    pub sops: Option<Box<sops::Opened>>,
}

/// Like [`read`], keeping the decrypted state of an encrypted file (in memory only).
pub fn open(path: &Path) -> Result<Option<OnDisk>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            return Err(Error::Io { path: path.to_path_buf(), message: not_a_secrets_file() });
        }
        Err(e) => return Err(Error::io(path, e)),
    };
    let bad = |message: String| Error::Io { path: path.to_path_buf(), message };
    let (stored, opened) = if sops::is_sops(&text) {
        // Encrypted, it is meant to be committed: a clone's 0644 is fine.
        let identities =
            sops::age_keys::load_identities().map_err(|why| bad(format!("age identities: {why}")))?;
        let opened = sops::decrypt(&text, &identities, &path.display().to_string())
            .map_err(|why| bad(format!("cannot decrypt: {why}")))?;
        let stored: Stored = serde_json::from_value(serde_json::Value::Object(opened.tree.clone()))
            .map_err(|_| bad(not_a_secrets_file()))?;
        (stored, Some(Box::new(opened)))
    } else {
        check_private(path)?;
        (parse(path, &text)?, None)
    };
    if stored.api_version.as_deref().is_some_and(|v| v != API_VERSION) {
        return Err(bad(format!("apiVersion: must be {API_VERSION}")));
    }
    if stored.kind.as_deref().is_some_and(|k| k != KIND) {
        return Err(bad(format!("kind: must be {KIND}; this is not a pangeo-render secrets file")));
    }
    Ok(Some(OnDisk { stored, sops: opened }))
}

/// Parses a plaintext secrets file's text (`path` only names it in errors). The text holds
/// secrets: errors name the field, never echo the content.
pub fn parse(path: &Path, text: &str) -> Result<Stored> {
    match serde_saphyr::from_str::<Option<Stored>>(text) {
        Ok(s) => Ok(s.unwrap_or_default()),
        Err(_) => Err(Error::Io { path: path.to_path_buf(), message: not_a_secrets_file() }),
    }
}

fn not_a_secrets_file() -> String {
    "not a pangeo-render secrets file (expected apiVersion, kind, proxySecretToken, daskGatewayApiToken, adminPasswordHash); restore it from a backup, or move it away to generate new secrets".into()
}

/// Like ssh with a private key: a secrets file readable or writable by anyone but its owner
/// is not used.
#[cfg(unix)]
fn check_private(path: &Path) -> Result<()> {
    let mode = fsutil::mode_of(path);
    if mode & 0o077 != 0 {
        return Err(Error::Io {
            path: path.to_path_buf(),
            message: format!(
                "permissions {mode:04o} are too open: the file holds the deployment's tokens and password hash and must be readable and writable by its owner alone; run `chmod 600 {}`",
                crate::helm::command::shell_word(&path.display().to_string())
            ),
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path) -> Result<()> {
    Ok(())
}

// PR015 and PR016 in one wording for every command: `validate`'s rules (validate/rules/tokens.rs)
// and the loader below build their diagnostics from these.

/// What is wrong with a token that is not one `values` would generate.
pub fn token_defect(token: &str) -> String {
    format!(
        "the token is not 64 lower-case hexadecimal characters (it has {} characters)",
        token.chars().count()
    )
}
pub const TOKEN_HINT: &str =
    "generate one with `openssl rand -hex 32`, or let `pangeo-render values --rotate tokens` do it";
pub const SAME_TOKEN: &str = "the Dask Gateway API token is the same as proxy.secretToken";
pub const SAME_TOKEN_HINT: &str =
    "use a different random token for each purpose (`pangeo-render values --rotate tokens`)";

/// What is wrong with a stored password hash, from [`password::parse`]'s error.
pub fn hash_defect(why: impl std::fmt::Display) -> String {
    format!("the admin password hash is not usable: {why}")
}
pub const HASH_HINT: &str = "set the password again: a generated one with `pangeo-render values --rotate password`, or your own with `pangeo-render values --rotate password --admin-password-stdin`";

/// A token problem of the secrets file as the diagnostic `validate` gives for it (rule, line,
/// key), so that `values`, `diff` and `apply` refuse it with the same verdict and exit code.
fn token_problem(path: &Path, a: &str, b: &str) -> Option<Error> {
    let problem = if !is_token(a) {
        ("proxySecretToken", token_defect(a), TOKEN_HINT)
    } else if !is_token(b) {
        ("daskGatewayApiToken", token_defect(b), TOKEN_HINT)
    } else if a == b {
        ("daskGatewayApiToken", SAME_TOKEN.to_string(), SAME_TOKEN_HINT)
    } else {
        return None;
    };
    let (key, message, hint) = problem;
    Some(invalid(path, ids::TOKENS, key, message, hint))
}

fn invalid(path: &Path, id: &'static str, key: &str, message: String, hint: &str) -> Error {
    Error::Invalid(vec![Diagnostic::error(id, path, key_position(path, key), message).field(key).hint(hint)])
}

/// Where `key`'s value starts in the file (plaintext or SOPS: both keep the keys readable), as
/// YAML positions count: from 1. The file is read again only on this error path.
fn key_position(path: &Path, key: &str) -> Pos {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let prefix = format!("{key}:");
    text.lines()
        .enumerate()
        .find_map(|(i, line)| {
            let rest = line.strip_prefix(&prefix)?;
            let col = prefix.len() + rest.len() - rest.trim_start().len() + 1;
            Some(Pos { line: i as u32 + 1, col: col as u32 })
        })
        .unwrap_or(Pos { line: 1, col: 1 })
}

impl Stored {
    /// The secrets, when every one is present and valid (what `diff` and `apply` need); else
    /// an error naming the key and the `values` command that repairs it.
    pub fn complete(self, path: &Path) -> Result<Secrets> {
        let bad = |message: String| Error::Io { path: path.to_path_buf(), message };
        let missing = |key: &str| {
            bad(format!(
                "{key} is missing; run `pangeo-render values` to generate it (only what is missing is generated)"
            ))
        };
        let proxy = self.proxy_secret_token.ok_or_else(|| missing("proxySecretToken"))?;
        let gateway = self.dask_gateway_api_token.ok_or_else(|| missing("daskGatewayApiToken"))?;
        let hash = self.admin_password_hash.ok_or_else(|| missing("adminPasswordHash"))?;
        if let Some(e) = token_problem(path, &proxy, &gateway) {
            return Err(e);
        }
        if let Err(e) = password::parse(&hash) {
            return Err(invalid(path, ids::PASSWORD_HASH, "adminPasswordHash", hash_defect(e), HASH_HINT));
        }
        Ok(Secrets {
            api_version: API_VERSION.into(),
            kind: KIND.into(),
            proxy_secret_token: proxy,
            dask_gateway_api_token: gateway,
            admin_password_hash: hash,
        })
    }
}

/// Reads the secrets for `diff` and `apply`: all must be there and valid.
pub fn load(path: &Path) -> Result<Option<Secrets>> {
    read(path)?.map(|s| s.complete(path)).transpose()
}

/// The secrets `values` renders with: the stored ones, with what is missing generated and what
/// is asked for rotated. A stored value that is invalid is an error unless it is being replaced
/// (so the advice in that error works). Nothing is written here.
pub fn resolve(
    path: &Path,
    existing: Option<Stored>,
    rotate: &[Rotate],
    new_password: Option<&str>,
) -> Result<(Secrets, Changes)> {
    let mut changes = Changes::default();
    let stored = existing.unwrap_or_else(|| {
        changes.created = true;
        Stored::default()
    });

    let rotate_tokens = rotate.contains(&Rotate::Tokens) && !changes.created;
    let (mut proxy, gateway) = match (rotate_tokens, stored.proxy_secret_token, stored.dask_gateway_api_token)
    {
        (true, _, _) => {
            changes.rotated_tokens = true;
            (token(), token())
        }
        (false, proxy, gateway) => {
            let mut fill = |key: &'static str, v: Option<String>| {
                v.unwrap_or_else(|| {
                    if !changes.created {
                        changes.regenerated.push(key);
                    }
                    token()
                })
            };
            (fill("proxySecretToken", proxy), fill("daskGatewayApiToken", gateway))
        }
    };
    // Fresh tokens are always well-formed: only stored ones can be reported here, and the
    // advice (rotate both) replaces them.
    if let Some(e) = token_problem(path, &proxy, &gateway) {
        return Err(e);
    }
    while proxy == gateway {
        proxy = token();
    }

    let hash = match (new_password, stored.admin_password_hash) {
        (Some(p), _) => {
            changes.password_changed = true;
            password::hash(p)
        }
        (None, stored_hash)
            if changes.created || rotate.contains(&Rotate::Password) || stored_hash.is_none() =>
        {
            if stored_hash.is_none() && !changes.created && !rotate.contains(&Rotate::Password) {
                changes.regenerated.push("adminPasswordHash");
            }
            let p = password::generate();
            changes.generated_password = Some(p.clone());
            changes.password_changed = true;
            password::hash(&p)
        }
        (None, Some(h)) => {
            if let Err(e) = password::parse(&h) {
                return Err(invalid(
                    path,
                    ids::PASSWORD_HASH,
                    "adminPasswordHash",
                    hash_defect(e),
                    HASH_HINT,
                ));
            }
            h
        }
        (None, None) => unreachable!("handled above"),
    };
    let secrets = Secrets {
        api_version: API_VERSION.into(),
        kind: KIND.into(),
        proxy_secret_token: proxy,
        dask_gateway_api_token: gateway,
        admin_password_hash: hash,
    };
    Ok((secrets, changes))
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

/// The secrets file's new bytes, decided before anything is written.
pub struct Encoded {
    pub bytes: Vec<u8>,
    /// The age recipients, when the file is written SOPS-encrypted.
    pub encrypted_for: Option<Vec<String>>,
}

/// What to write to the secrets file, or `None` to leave it alone. It is written when the
/// secrets changed, when a plaintext file is not 0600, or when it is plaintext and a `.sops.yaml`
/// creation rule now asks for encryption. An encrypted file stays encrypted for its own
/// recipients (as `sops edit` keeps them); a new one is encrypted for the rule's recipients.
pub fn encode(path: &Path, secrets: &Secrets, on_disk: Option<&OnDisk>) -> Result<Option<Encoded>> {
    let fail = |source: &Path, message: String| Error::Io { path: source.to_path_buf(), message };
    let unchanged = on_disk.is_some_and(|d| d.stored.clone().complete(path).ok().as_ref() == Some(secrets));
    let plan = match on_disk.and_then(|d| d.sops.as_deref()) {
        Some(_) if unchanged => return Ok(None),
        Some(opened) => Some(sops::Plan::for_rewrite(opened).map_err(|why| fail(path, why))?),
        None => match sops::rules::rule_for(path).map_err(|(source, why)| fail(&source, why))? {
            Some(rule) => Some(sops::Plan::for_rule(&rule).map_err(|why| fail(&rule.source, why))?),
            None if unchanged && fsutil::mode_ok(path, true) => return Ok(None),
            None => None,
        },
    };
    Ok(Some(match plan {
        Some(plan) => Encoded {
            bytes: sops::encrypt(&entries(secrets), &plan, &sops::now_utc()).into_bytes(),
            encrypted_for: Some(plan.recipients().into_iter().map(String::from).collect()),
        },
        None => Encoded { bytes: to_yaml(secrets).into_bytes(), encrypted_for: None },
    }))
}

/// The file's fields in file order, as the plaintext file has them.
fn entries(s: &Secrets) -> [(&str, &str); 5] {
    [
        ("apiVersion", &s.api_version),
        ("kind", &s.kind),
        ("proxySecretToken", &s.proxy_secret_token),
        ("daskGatewayApiToken", &s.dask_gateway_api_token),
        ("adminPasswordHash", &s.admin_password_hash),
    ]
}

/// Every secret string, for masking and for tests that scan output.
pub fn values(s: &Secrets) -> Vec<&str> {
    vec![&s.proxy_secret_token, &s.dask_gateway_api_token, &s.admin_password_hash]
}
