//! Files in SOPS's encrypted YAML format, read and written in memory (the plaintext never touches
//! the disk).
//!
//! A SOPS file is the plaintext YAML tree with each value replaced by an `ENC[AES256_GCM,…]` string
//! (see [`cipher`]) sealed with one random 32-byte data key, plus a top-level `sops:` block: the data
//! key wrapped for each age recipient ([`age_keys`]), `lastmodified`, and `mac` — SHA-512 over the
//! plaintext values in document order (upper-case hex), sealed with the data key and `lastmodified`
//! as additional data, so any change made without the key shows. Which values are sealed follows
//! the file's rule (`unencrypted_suffix`, …; SOPS defaults to leaving keys ending `_unencrypted`
//! plain). Learned from getsops/sops v3.13 (`sops.go`, `aes/cipher.go`, `stores/`, `age/`,
//! `config/`); the walk, formats and checks here are our own, and the tests prove them against
//! the real `sops` binary (tests/sops.rs).

pub mod age_keys;
pub mod cipher;
pub mod rules;

use serde::Deserialize;
use sha2::{Digest, Sha512};

use crate::yaml::{self, Node, Value};
use age_keys::Identities;
use cipher::{DataKey, OpenError};

/// The SOPS release whose file format we write (the `version` field of `sops:`).
pub const FORMAT_VERSION: &str = "3.13.3";
const DEFAULT_UNENCRYPTED_SUFFIX: &str = "_unencrypted";

/// Which values are sealed. At most one rule is set (SOPS refuses more than one).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct CryptRule {
    #[serde(default)]
    pub unencrypted_suffix: Option<String>,
    #[serde(default)]
    pub encrypted_suffix: Option<String>,
    #[serde(default)]
    pub unencrypted_regex: Option<String>,
    #[serde(default)]
    pub encrypted_regex: Option<String>,
    #[serde(default)]
    pub unencrypted_comment_regex: Option<String>,
    #[serde(default)]
    pub encrypted_comment_regex: Option<String>,
    #[serde(default)]
    pub mac_only_encrypted: bool,
}

impl CryptRule {
    fn check(&self) -> Result<(), String> {
        let set = [
            &self.unencrypted_suffix,
            &self.encrypted_suffix,
            &self.unencrypted_regex,
            &self.encrypted_regex,
            &self.unencrypted_comment_regex,
            &self.encrypted_comment_regex,
        ]
        .iter()
        .filter(|r| r.is_some())
        .count();
        if set > 1 {
            return Err(
                "cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, \
                 unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex"
                    .into(),
            );
        }
        if self.unencrypted_comment_regex.is_some() || self.encrypted_comment_regex.is_some() {
            return Err("comment-based rules (encrypted_comment_regex, unencrypted_comment_regex) are not \
                 supported for the secrets file; use encrypted_regex or a suffix rule"
                .into());
        }
        for re in [&self.unencrypted_regex, &self.encrypted_regex].into_iter().flatten() {
            regex::Regex::new(re).map_err(|e| format!("`{re}` is not a valid regular expression: {e}"))?;
        }
        Ok(())
    }

    /// SOPS leaves keys ending `_unencrypted` plain when a rule sets nothing else.
    fn with_default_suffix(mut self) -> Self {
        if self.unencrypted_suffix.is_none()
            && self.encrypted_suffix.is_none()
            && self.unencrypted_regex.is_none()
            && self.encrypted_regex.is_none()
        {
            self.unencrypted_suffix = Some(DEFAULT_UNENCRYPTED_SUFFIX.into());
        }
        self
    }

    /// SOPS's `shouldBeEncrypted` for a value at `path` (the keys from the root; list items add
    /// no component).
    fn seals(&self, path: &[String]) -> bool {
        let mut sealed = true;
        if let Some(s) = &self.unencrypted_suffix
            && path.iter().any(|k| k.ends_with(s.as_str()))
        {
            sealed = false;
        }
        if let Some(s) = &self.encrypted_suffix {
            sealed = path.iter().any(|k| k.ends_with(s.as_str()));
        }
        let matches = |re: &str| {
            let re = regex::Regex::new(re).expect("checked when the rule was read");
            path.iter().any(|k| re.is_match(k))
        };
        if let Some(re) = &self.unencrypted_regex
            && matches(re)
        {
            sealed = false;
        }
        if let Some(re) = &self.encrypted_regex {
            sealed = matches(re);
        }
        sealed
    }
}

#[derive(Clone, Debug, Deserialize)]
struct AgeStanza {
    recipient: String,
    enc: String,
}

/// The `sops:` block as read. Key services other than age are kept only to name them.
#[derive(Debug, Deserialize)]
struct Metadata {
    #[serde(default)]
    age: Vec<AgeStanza>,
    #[serde(default)]
    key_groups: Vec<serde_json::Value>,
    #[serde(default)]
    kms: Vec<serde_json::Value>,
    #[serde(default)]
    pgp: Vec<serde_json::Value>,
    #[serde(default)]
    gcp_kms: Vec<serde_json::Value>,
    #[serde(default)]
    azure_kv: Vec<serde_json::Value>,
    #[serde(default)]
    hc_vault: Vec<serde_json::Value>,
    #[serde(default)]
    hckms: Vec<serde_json::Value>,
    #[serde(default)]
    lastmodified: String,
    #[serde(default)]
    mac: String,
    #[serde(flatten)]
    crypt: CryptRule,
}

impl Metadata {
    fn other_key_services(&self) -> Vec<&'static str> {
        [
            ("kms", self.kms.len()),
            ("pgp", self.pgp.len()),
            ("gcp_kms", self.gcp_kms.len()),
            ("azure_kv", self.azure_kv.len()),
            ("hc_vault", self.hc_vault.len()),
            ("hckms", self.hckms.len()),
        ]
        .into_iter()
        .filter_map(|(name, n)| (n > 0).then_some(name))
        .collect()
    }
}

/// A decrypted file: the plaintext tree, and what is needed to write it back the way
/// `sops edit` would (same data key and recipients, unchanged values keep their text).
pub struct Opened {
    /// The plaintext values, in file order. Lives in memory only.
    pub tree: serde_json::Map<String, serde_json::Value>,
    key: DataKey,
    age: Vec<AgeStanza>,
    crypt: CryptRule,
    /// Each top-level key's sealed text, so an unchanged value is not re-sealed.
    sealed: Vec<(String, String)>,
    other_key_services: Vec<&'static str>,
}

/// Shows the keys only: the values and the data key are secret.
impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened").field("keys", &self.tree.keys().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

/// True when the text is a SOPS file: a top-level `sops:` mapping with a `mac`.
pub fn is_sops(text: &str) -> bool {
    let Ok(root) = yaml::parse_single(text) else { return false };
    root.get("sops").is_some_and(|m| m.get("mac").is_some())
}

/// Decrypts a SOPS file in memory and checks its MAC. Errors say what to do and never carry
/// a value.
/// `file` is how the advice names the file.
pub fn decrypt(text: &str, identities: &Identities, file: &str) -> Result<Opened, String> {
    let root = yaml::parse_single(text)
        .map_err(|e| format!("line {}: not valid YAML: {}", e.pos.line, e.message))?;
    let meta_node = root.get("sops").ok_or("not a SOPS file (no `sops:` block)")?;
    let meta: Metadata = serde_json::from_value(meta_node.to_json())
        .map_err(|e| format!("the `sops:` block is not in SOPS's form: {e}"))?;
    meta.crypt.check()?;
    if !meta.key_groups.is_empty() {
        return Err("the file uses key_groups (Shamir secret sharing), which pangeo-render cannot decrypt; \
                    decrypt it with `sops decrypt`"
            .into());
    }
    let key = unwrap_data_key(&meta, identities, file)?;

    let mut hash = Sha512::new();
    if meta.crypt.mac_only_encrypted {
        hash.update(MAC_ONLY_ENCRYPTED_INIT);
    }
    let mut tree = serde_json::Map::new();
    let mut sealed = Vec::new();
    for entry in root.as_map().iter().filter(|e| e.key != "sops") {
        let mut path = vec![entry.key.clone()];
        let value = open_node(&entry.value, &mut path, &key, &meta.crypt, &mut hash)
            .map_err(|e| e.unwrap_or_else(|| tampered(file)))?;
        if let Value::Str(text) = &entry.value.value {
            sealed.push((entry.key.clone(), text.clone()));
        }
        tree.insert(entry.key.clone(), value);
    }
    let computed = hex::encode_upper(hash.finalize());
    let stored = cipher::parse(&meta.mac)
        .and_then(|s| cipher::open(&s, &key, &canonical_time(&meta.lastmodified)))
        .map_err(|_| tampered(file))?;
    if stored != computed.as_bytes() {
        return Err(tampered(file));
    }
    Ok(Opened {
        tree,
        key,
        age: meta.age.clone(),
        crypt: meta.crypt.clone(),
        sealed,
        other_key_services: meta.other_key_services(),
    })
}

fn tampered(file: &str) -> String {
    format!(
        "the file's MAC does not match its contents: it was changed without sops (tampered with, or \
         edited by hand). Restore it from git (`git checkout -- {file}`) and make changes with \
         `sops edit {file}` or `pangeo-render values --rotate`"
    )
}

/// `sha256("sops")`: the MAC's first bytes when only sealed values are covered, so the two MAC
/// kinds never collide (SOPS's `MACOnlyEncryptedInitialization`).
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b, 0x0b,
    0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

fn unwrap_data_key(meta: &Metadata, identities: &Identities, file: &str) -> Result<DataKey, String> {
    let recipients: Vec<&str> = meta.age.iter().map(|s| s.recipient.as_str()).collect();
    if recipients.is_empty() {
        let others = meta.other_key_services();
        return Err(format!(
            "the file's data key is wrapped only for {}; pangeo-render decrypts with age: add an age \
             recipient to .sops.yaml and run `sops updatekeys {file}`",
            if others.is_empty() { "no key at all".to_string() } else { others.join(", ") }
        ));
    }
    if identities.is_empty() {
        return Err(format!(
            "no age identity to decrypt it with (looked in {}); it is encrypted for {}: point \
             SOPS_AGE_KEY_FILE at the key file of one of those recipients",
            identities.looked_in.join(", "),
            recipients.join(", ")
        ));
    }
    meta.age.iter().find_map(|s| age_keys::unwrap(&s.enc, identities)).ok_or_else(|| {
        format!(
            "none of your age identities ({}) is a recipient of this file ({}): ask someone who can \
             decrypt it to add your public key to .sops.yaml and run `sops updatekeys {file}`",
            identities.recipients().join(", "),
            recipients.join(", ")
        )
    })
}

/// Opens one value (recursively), adding its plaintext to the MAC. `Err(None)` is a value that
/// does not verify; `Err(Some(why))` anything else.
fn open_node(
    node: &Node,
    path: &mut Vec<String>,
    key: &DataKey,
    rule: &CryptRule,
    hash: &mut Sha512,
) -> Result<serde_json::Value, Option<String>> {
    use serde_json::Value as J;
    match &node.value {
        Value::Null => Ok(J::Null),
        Value::Seq(items) => items
            .iter()
            .map(|item| open_node(item, path, key, rule, hash))
            .collect::<Result<_, _>>()
            .map(J::Array),
        Value::Map(entries) => {
            let mut out = serde_json::Map::new();
            for e in entries {
                path.push(e.key.clone());
                let v = open_node(&e.value, path, key, rule, hash);
                path.pop();
                out.insert(e.key.clone(), v?);
            }
            Ok(J::Object(out))
        }
        _ => {
            let seals = rule.seals(path);
            let plain = if seals {
                let Value::Str(text) = &node.value else {
                    return Err(None);
                };
                open_leaf(text, path, key).map_err(|_: OpenError| None)?
            } else {
                node.to_json()
            };
            if seals || !rule.mac_only_encrypted {
                hash.update(mac_bytes(&plain));
            }
            Ok(plain)
        }
    }
}

fn open_leaf(text: &str, path: &[String], key: &DataKey) -> Result<serde_json::Value, OpenError> {
    use serde_json::Value as J;
    if text.is_empty() {
        return Ok(J::String(String::new()));
    }
    let sealed = cipher::parse(text)?;
    let plain = cipher::open(&sealed, key, &additional_data(path))?;
    let plain = String::from_utf8(plain).map_err(|_| OpenError::Tampered)?;
    Ok(match sealed.kind.as_str() {
        "int" => plain.parse::<i64>().map(J::from).map_err(|_| OpenError::Tampered)?,
        "float" => plain
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(J::Number)
            .ok_or(OpenError::Tampered)?,
        "bool" => J::Bool(match plain.as_str() {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => true,
            "0" | "f" | "F" | "FALSE" | "false" | "False" => false,
            _ => return Err(OpenError::Tampered),
        }),
        // str, bytes, time (RFC 3339 text) and comment all read back as text.
        _ => J::String(plain),
    })
}

/// SOPS's `ToBytes`: what a plaintext value contributes to the MAC.
fn mac_bytes(v: &serde_json::Value) -> Vec<u8> {
    use serde_json::Value as J;
    match v {
        J::String(s) => s.as_bytes().to_vec(),
        J::Bool(true) => b"True".to_vec(),
        J::Bool(false) => b"False".to_vec(),
        // Go's strconv.Itoa / FormatFloat(f, 'f', -1, 64): shortest, never an exponent — as Rust's
        // Display for integers and f64.
        J::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string().into_bytes(),
            (None, Some(f)) => format!("{f}").into_bytes(),
            _ => n.to_string().into_bytes(),
        },
        J::Null | J::Array(_) | J::Object(_) => Vec::new(),
    }
}

/// The additional data that binds a value to its place: `a:b:` for `a: {b: …}`.
fn additional_data(path: &[String]) -> String {
    let mut s = path.join(":");
    s.push(':');
    s
}

/// `lastmodified` as SOPS re-formats it before using it as additional data (Go's RFC 3339 without
/// fractional seconds, `Z` for UTC).
fn canonical_time(text: &str) -> String {
    let (main, zone) = match text.rfind(['Z', 'z', '+']).or_else(|| text.rfind('-').filter(|&i| i > 10)) {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    let main = main.split('.').next().unwrap_or(main);
    let zone = match zone {
        "z" | "+00:00" | "-00:00" => "Z",
        z => z,
    };
    format!("{main}{zone}")
}

/// How to write an encrypted file.
pub struct Plan {
    key: DataKey,
    age: Vec<AgeStanza>,
    crypt: CryptRule,
    previous: Vec<(String, String, String)>,
}

impl Plan {
    /// A new file for the recipients of a `.sops.yaml` rule, with a fresh data key.
    pub fn for_rule(rule: &rules::Rule) -> Result<Plan, String> {
        let key = cipher::new_data_key();
        let mut age = Vec::new();
        for r in &rule.recipients {
            let recipient = age_keys::parse_recipient(r)?;
            age.push(AgeStanza { recipient: r.clone(), enc: age_keys::wrap(&key, &recipient) });
        }
        Ok(Plan { key, age, crypt: rule.crypt.clone(), previous: Vec::new() })
    }

    /// The file again, as `sops edit` would write it: same data key, recipients and rule; a value
    /// that did not change keeps its sealed text.
    pub fn for_rewrite(opened: &Opened) -> Result<Plan, String> {
        if !opened.other_key_services.is_empty() {
            return Err(format!(
                "the file's data key is also wrapped for {}, which pangeo-render cannot write; change it \
                 with `sops set` or `sops edit` instead",
                opened.other_key_services.join(", ")
            ));
        }
        let previous = opened
            .sealed
            .iter()
            .filter_map(|(k, text)| {
                let plain = opened.tree.get(k)?.as_str()?;
                Some((k.clone(), plain.to_string(), text.clone()))
            })
            .collect();
        Ok(Plan { key: opened.key, age: opened.age.clone(), crypt: opened.crypt.clone(), previous })
    }

    /// The recipients this plan writes for.
    pub fn recipients(&self) -> Vec<&str> {
        self.age.iter().map(|s| s.recipient.as_str()).collect()
    }
}

/// Writes a flat mapping of strings as a SOPS file, laid out as `sops encrypt` lays out YAML
/// (four-space indent, the `sops:` block last, its keys in SOPS's order).
pub fn encrypt(entries: &[(&str, &str)], plan: &Plan, now_utc: &str) -> String {
    let mut hash = Sha512::new();
    if plan.crypt.mac_only_encrypted {
        hash.update(MAC_ONLY_ENCRYPTED_INIT);
    }
    let mut out = String::new();
    for (k, v) in entries {
        let path = [k.to_string()];
        let seals = plan.crypt.seals(&path);
        if seals || !plan.crypt.mac_only_encrypted {
            hash.update(v.as_bytes());
        }
        let text = if !seals {
            yaml_scalar(v)
        } else if v.is_empty() {
            "\"\"".to_string()
        } else if let Some((_, _, text)) = plan.previous.iter().find(|(pk, pv, _)| pk == k && pv == v) {
            text.clone()
        } else {
            cipher::seal(v.as_bytes(), "str", &plan.key, &additional_data(&path))
        };
        out.push_str(&format!("{}: {text}\n", yaml_scalar(k)));
    }
    let mac = cipher::seal(hex::encode_upper(hash.finalize()).as_bytes(), "str", &plan.key, now_utc);
    // SOPS emits the block from a map: keys in alphabetical order, `enc` before `recipient`.
    out.push_str("sops:\n    age:\n");
    for stanza in &plan.age {
        out.push_str("        - enc: |\n");
        for line in stanza.enc.lines() {
            out.push_str(&format!("            {line}\n"));
        }
        out.push_str(&format!("          recipient: {}\n", stanza.recipient));
    }
    let c = &plan.crypt;
    let field = |name: &str, value: &Option<String>| {
        value.as_ref().map(|v| format!("    {name}: {}\n", yaml_scalar(v))).unwrap_or_default()
    };
    out.push_str(&field("encrypted_regex", &c.encrypted_regex));
    out.push_str(&field("encrypted_suffix", &c.encrypted_suffix));
    out.push_str(&format!("    lastmodified: \"{now_utc}\"\n    mac: {mac}\n"));
    if c.mac_only_encrypted {
        out.push_str("    mac_only_encrypted: true\n");
    }
    out.push_str(&field("unencrypted_regex", &c.unencrypted_regex));
    out.push_str(&field("unencrypted_suffix", &c.unencrypted_suffix));
    out.push_str(&format!("    version: {FORMAT_VERSION}\n"));
    out
}

/// A plain or double-quoted YAML scalar for a string (keys and values we write are simple).
fn yaml_scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-./[],:=+".contains(&b))
        && !s.starts_with(['-', ':', '[', ']', ','])
        && !s.contains(": ")
        && s.parse::<f64>().is_err()
        && !matches!(s, "true" | "false" | "null" | "~");
    if plain { s.to_string() } else { serde_json::to_string(s).expect("a string serialises") }
}

/// The current time as SOPS writes `lastmodified`: UTC, RFC 3339, whole seconds.
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    rfc3339_utc(secs)
}

fn rfc3339_utc(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let date = crate::aws::eks_versions::civil_date(days.max(0) as u64);
    format!("{date}T{:02}:{:02}:{:02}Z", rem / 3_600, rem % 3_600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_timestamps() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_795_786_496), "2026-11-27T13:34:56Z");
    }

    #[test]
    fn lastmodified_is_canonicalised_as_go_formats_it() {
        assert_eq!(canonical_time("2026-11-27T13:34:56Z"), "2026-11-27T13:34:56Z");
        assert_eq!(canonical_time("2026-11-27T13:34:56.123Z"), "2026-11-27T13:34:56Z");
        assert_eq!(canonical_time("2026-11-27T13:34:56+00:00"), "2026-11-27T13:34:56Z");
        assert_eq!(canonical_time("2026-11-27T14:34:56.5+01:00"), "2026-11-27T14:34:56+01:00");
        assert_eq!(canonical_time("2026-11-27T08:34:56-05:00"), "2026-11-27T08:34:56-05:00");
    }

    #[test]
    fn seals_follows_sops_rules() {
        let default = CryptRule::default().with_default_suffix();
        assert!(default.seals(&["token".into()]));
        assert!(!default.seals(&["note_unencrypted".into()]));
        let only = CryptRule { encrypted_regex: Some("^(data|token)$".into()), ..Default::default() };
        assert!(only.seals(&["token".into()]));
        assert!(!only.seals(&["kind".into()]));
        assert!(only.seals(&["data".into(), "x".into()]));
    }

    fn identities_for(id: &age::x25519::Identity) -> Identities {
        Identities::of(vec![id.clone()])
    }

    fn plan_for(id: &age::x25519::Identity) -> Plan {
        let rule = rules::Rule {
            source: Default::default(),
            recipients: vec![id.to_public().to_string()],
            crypt: CryptRule::default().with_default_suffix(),
        };
        Plan::for_rule(&rule).unwrap()
    }

    #[test]
    fn encrypt_then_decrypt_round_trips_and_detects_tampering() {
        let me = age::x25519::Identity::generate();
        let text =
            encrypt(&[("kind", "PangeoSecrets"), ("token", "abc")], &plan_for(&me), "2026-11-27T13:34:56Z");
        assert!(!text.contains("abc") && !text.contains("PangeoSecrets"), "{text}");
        let opened = decrypt(&text, &identities_for(&me), "s.yaml").unwrap();
        assert_eq!(opened.tree["token"], "abc");

        // Swapping two sealed values keeps each one valid on its own but breaks the path binding.
        let lines: Vec<&str> = text.lines().collect();
        let swapped = format!(
            "kind: {}\ntoken: {}\n{}\n",
            lines[1].trim_start_matches("token: "),
            lines[0].trim_start_matches("kind: "),
            lines[2..].join("\n")
        );
        assert!(
            decrypt(&swapped, &identities_for(&me), "s.yaml").unwrap_err().contains("MAC does not match")
        );

        let other = age::x25519::Identity::generate();
        let err = decrypt(&text, &identities_for(&other), "s.yaml").unwrap_err();
        assert!(
            err.contains("none of your age identities") && err.contains(&me.to_public().to_string()),
            "{err}"
        );
    }

    #[test]
    fn rewrite_keeps_unchanged_values_text() {
        let me = age::x25519::Identity::generate();
        let first = encrypt(&[("a", "one"), ("b", "two")], &plan_for(&me), "2026-11-27T13:34:56Z");
        let opened = decrypt(&first, &identities_for(&me), "s.yaml").unwrap();
        let second = encrypt(
            &[("a", "one"), ("b", "three")],
            &Plan::for_rewrite(&opened).unwrap(),
            "2026-11-27T13:35:00Z",
        );
        assert_eq!(first.lines().next(), second.lines().next(), "unchanged value keeps its text");
        assert_ne!(first.lines().nth(1), second.lines().nth(1));
        assert_eq!(decrypt(&second, &identities_for(&me), "s.yaml").unwrap().tree["b"], "three");
    }
}
