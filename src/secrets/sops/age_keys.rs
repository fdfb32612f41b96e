//! The data key wrapped for age recipients, and the identities that unwrap it.
//!
//! SOPS wraps the 32-byte data key for each recipient separately: one ASCII-armored age file per
//! recipient in `sops.age[].enc`. Identities are found where SOPS looks for them, in this order:
//! `SOPS_AGE_KEY` (identities separated by white space), the file named by `SOPS_AGE_KEY_FILE`,
//! and the default key file `sops/age/keys.txt` in the user config directory
//! (`$XDG_CONFIG_HOME`, else `~/.config`; `~/Library/Application Support` on macOS). Every place
//! that exists is read, as SOPS does. Identity text is never quoted back in errors.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::str::FromStr;

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use age::x25519;

use super::cipher::{DataKey, KEY_LEN};

pub const KEY_ENV: &str = "SOPS_AGE_KEY";
pub const KEY_FILE_ENV: &str = "SOPS_AGE_KEY_FILE";

/// The identities found, and where we looked (for the "no identity" error).
pub struct Identities {
    keys: Vec<x25519::Identity>,
    pub looked_in: Vec<String>,
}

impl Identities {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The public keys of the identities: safe to print, they say who we are.
    pub fn recipients(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.to_public().to_string()).collect()
    }

    #[cfg(test)]
    pub(crate) fn of(keys: Vec<x25519::Identity>) -> Identities {
        Identities { keys, looked_in: vec![] }
    }
}

/// Reads every identity SOPS would read. An unreadable or malformed place is an error naming the
/// place and the line, never the text.
pub fn load_identities() -> Result<Identities, String> {
    load_identities_from(|name| std::env::var_os(name), default_key_file())
}

fn load_identities_from(
    var: impl Fn(&str) -> Option<std::ffi::OsString>,
    default_file: Option<PathBuf>,
) -> Result<Identities, String> {
    let mut keys = Vec::new();
    let mut looked_in = Vec::new();
    if let Some(text) = var(KEY_ENV) {
        let text = text.into_string().map_err(|_| format!("{KEY_ENV} is not valid UTF-8"))?;
        for (n, line) in text.lines().enumerate() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            for word in line.split_whitespace() {
                keys.push(parse_identity(word).map_err(|why| format!("{KEY_ENV}, line {}: {why}", n + 1))?);
            }
        }
    }
    looked_in.push(KEY_ENV.to_string());
    if let Some(file) = var(KEY_FILE_ENV) {
        let file = PathBuf::from(file);
        keys.extend(read_key_file(&file).map_err(|why| format!("{KEY_FILE_ENV}={}: {why}", file.display()))?);
        looked_in.push(format!("{KEY_FILE_ENV}={}", file.display()));
    } else {
        looked_in.push(KEY_FILE_ENV.to_string());
    }
    if let Some(file) = default_file {
        match std::fs::metadata(&file) {
            Ok(_) => keys.extend(read_key_file(&file).map_err(|why| format!("{}: {why}", file.display()))?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{}: {e}", file.display())),
        }
        looked_in.push(file.display().to_string());
    }
    Ok(Identities { keys, looked_in })
}

/// An age key file as `age-keygen` writes it: one identity a line, `#` comments.
fn read_key_file(file: &PathBuf) -> Result<Vec<x25519::Identity>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        keys.push(parse_identity(line).map_err(|why| format!("line {}: {why}", n + 1))?);
    }
    Ok(keys)
}

fn parse_identity(text: &str) -> Result<x25519::Identity, String> {
    if text.starts_with("AGE-PLUGIN-") || text.starts_with("AGE-SECRET-KEY-PQ-") {
        return Err("age plugin and post-quantum identities are not supported; use an X25519 key \
                    (`age-keygen`)"
            .into());
    }
    x25519::Identity::from_str(text).map_err(|_| "not an age identity (AGE-SECRET-KEY-1…)".to_string())
}

/// Where SOPS looks when neither variable is set (Go's `os.UserConfigDir`, with SOPS's
/// `XDG_CONFIG_HOME` override on macOS).
fn default_key_file() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()).map(PathBuf::from);
    let home = std::env::var_os("HOME").filter(|v| !v.is_empty()).map(PathBuf::from);
    let dir = if cfg!(target_os = "macos") {
        xdg.or_else(|| home.map(|h| h.join("Library/Application Support")))
    } else {
        xdg.or_else(|| home.map(|h| h.join(".config")))
    }?;
    Some(dir.join("sops/age/keys.txt"))
}

/// Checks a recipient from `.sops.yaml`: only X25519 age public keys are written.
pub fn parse_recipient(text: &str) -> Result<x25519::Recipient, String> {
    x25519::Recipient::from_str(text).map_err(|_| {
        format!("`{text}` is not an X25519 age public key (age1…); SSH, plugin and post-quantum recipients are not supported")
    })
}

/// The data key as an armored age file for one recipient, as SOPS writes `enc`.
pub fn wrap(key: &DataKey, recipient: &x25519::Recipient) -> String {
    let encryptor = age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
        .expect("one X25519 recipient is always a valid set");
    let mut out = Vec::new();
    let armored = ArmoredWriter::wrap_output(&mut out, Format::AsciiArmor).expect("writing to memory");
    let mut writer = encryptor.wrap_output(armored).expect("writing to memory");
    writer.write_all(key).expect("writing to memory");
    writer.finish().and_then(|armored| armored.finish()).expect("writing to memory");
    let mut text = String::from_utf8(out).expect("armor is ASCII");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// Unwraps the data key from one `enc` with any of the identities; `None` when none of them is
/// the recipient (or the stanza is not an age file).
pub fn unwrap(enc: &str, identities: &Identities) -> Option<DataKey> {
    let decryptor = age::Decryptor::new(ArmoredReader::new(enc.as_bytes())).ok()?;
    let mut reader = decryptor.decrypt(identities.keys.iter().map(|k| k as &dyn age::Identity)).ok()?;
    let mut plain = Vec::new();
    reader.read_to_end(&mut plain).ok()?;
    <DataKey>::try_from(plain.as_slice()).ok().filter(|_| plain.len() == KEY_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;
    use std::ffi::OsString;

    fn env<'a>(pairs: &'a [(&'a str, String)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
    }

    #[test]
    fn wrap_unwrap_round_trip_only_for_the_recipient() {
        let me = x25519::Identity::generate();
        let other = x25519::Identity::generate();
        let key = crate::secrets::sops::cipher::new_data_key();
        let enc = wrap(&key, &me.to_public());
        assert!(enc.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"), "{enc}");
        assert!(enc.ends_with("-----END AGE ENCRYPTED FILE-----\n"), "{enc}");
        let mine = Identities { keys: vec![me], looked_in: vec![] };
        assert_eq!(unwrap(&enc, &mine), Some(key));
        let theirs = Identities { keys: vec![other], looked_in: vec![] };
        assert_eq!(unwrap(&enc, &theirs), None);
    }

    #[test]
    fn identities_from_the_variables_and_the_default_file() {
        let a = x25519::Identity::generate();
        let b = x25519::Identity::generate();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keys.txt");
        std::fs::write(
            &file,
            format!("# created: now\n# public key: x\n{}\n", b.to_string().expose_secret()),
        )
        .unwrap();
        let vars = [(KEY_ENV, a.to_string().expose_secret().to_string())];
        let ids = load_identities_from(env(&vars), Some(file.clone())).unwrap();
        assert_eq!(ids.recipients(), vec![a.to_public().to_string(), b.to_public().to_string()]);

        let none = load_identities_from(env(&[]), Some(dir.path().join("missing"))).unwrap();
        assert!(none.is_empty());
        assert_eq!(none.looked_in.len(), 3);
    }

    #[test]
    fn a_malformed_key_file_names_the_line_not_the_text() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keys.txt");
        std::fs::write(&file, "# comment\nAGE-SECRET-KEY-1SECRETBUTBROKEN\n").unwrap();
        let vars = [(KEY_FILE_ENV, file.display().to_string())];
        let err = load_identities_from(env(&vars), None).err().unwrap();
        assert!(err.contains("line 2"), "{err}");
        assert!(!err.contains("SECRETBUTBROKEN"), "{err}");
    }
}
