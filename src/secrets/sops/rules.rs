//! `.sops.yaml` creation rules: which age recipients a new encrypted file is written for.
//!
//! As SOPS does: the nearest `.sops.yaml` in the file's folder or a parent; its `creation_rules`
//! in order, the first whose `path_regex` (Go RE2 syntax, unanchored) matches the file's path
//! relative to the `.sops.yaml` folder wins (a rule without `path_regex` matches everything);
//! `age` is a comma-separated string or a list. Keys SOPS has and we do not use (`stores`,
//! `destination_rules`, …) are ignored. A matching rule that names no age recipient is an error:
//! somebody asked for encryption, and we must not quietly write plaintext instead.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::CryptRule;

pub const FILE_NAME: &str = ".sops.yaml";

/// The rule that applies to a file.
#[derive(Debug)]
pub struct Rule {
    /// The `.sops.yaml` it came from.
    pub source: PathBuf,
    pub recipients: Vec<String>,
    pub crypt: CryptRule,
}

#[derive(Deserialize, Default)]
struct File {
    #[serde(default)]
    creation_rules: Option<Vec<RawRule>>,
}

#[derive(Deserialize, Default)]
struct RawRule {
    #[serde(default)]
    path_regex: Option<String>,
    #[serde(default)]
    age: Option<StringOrList>,
    #[serde(default)]
    key_groups: Option<Vec<RawGroup>>,
    #[serde(default)]
    unencrypted_suffix: Option<String>,
    #[serde(default)]
    encrypted_suffix: Option<String>,
    #[serde(default)]
    unencrypted_regex: Option<String>,
    #[serde(default)]
    encrypted_regex: Option<String>,
    #[serde(default)]
    unencrypted_comment_regex: Option<String>,
    #[serde(default)]
    encrypted_comment_regex: Option<String>,
    #[serde(default)]
    mac_only_encrypted: bool,
    // The key services we do not write for: present only to say so.
    #[serde(default)]
    kms: Option<serde_json::Value>,
    #[serde(default)]
    pgp: Option<serde_json::Value>,
    #[serde(default)]
    gcp_kms: Option<serde_json::Value>,
    #[serde(default)]
    azure_keyvault: Option<serde_json::Value>,
    #[serde(default)]
    hc_vault_transit_uri: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
struct RawGroup {
    #[serde(default)]
    age: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StringOrList {
    One(String),
    Many(Vec<String>),
}

impl StringOrList {
    fn keys(&self) -> Vec<String> {
        match self {
            StringOrList::One(s) => {
                s.split(',').map(str::trim).filter(|k| !k.is_empty()).map(String::from).collect()
            }
            StringOrList::Many(v) => v.clone(),
        }
    }
}

/// The nearest `.sops.yaml` at or above the file's folder.
pub fn find(file: &Path) -> Option<PathBuf> {
    let abs = std::path::absolute(file).ok()?;
    abs.parent()?.ancestors().map(|d| d.join(FILE_NAME)).find(|p| p.is_file())
}

/// The creation rule for `file`, if a `.sops.yaml` has one that matches.
pub fn rule_for(file: &Path) -> Result<Option<Rule>, (PathBuf, String)> {
    let Some(source) = find(file) else { return Ok(None) };
    let fail = |why: String| (source.clone(), why);
    let text = std::fs::read_to_string(&source).map_err(|e| fail(e.to_string()))?;
    let parsed: File = if text.trim().is_empty() {
        File::default()
    } else {
        serde_saphyr::from_str(&text).map_err(|e| fail(format!("not a valid SOPS config: {e}")))?
    };
    let Some(rules) = parsed.creation_rules else { return Ok(None) };
    let abs = std::path::absolute(file).map_err(|e| fail(e.to_string()))?;
    let dir = source.parent().unwrap_or(Path::new("/"));
    let relative = abs.strip_prefix(dir).unwrap_or(&abs).to_string_lossy().into_owned();
    for (n, raw) in rules.iter().enumerate() {
        if let Some(pattern) = raw.path_regex.as_deref().filter(|p| !p.is_empty()) {
            let re = regex::Regex::new(pattern).map_err(|e| {
                fail(format!("creation_rules[{n}].path_regex is not a valid regular expression: {e}"))
            })?;
            if !re.is_match(&relative) {
                continue;
            }
        }
        return rule_from(raw, n).map(|r| Some(Rule { source: source.clone(), ..r })).map_err(fail);
    }
    Ok(None)
}

fn rule_from(raw: &RawRule, n: usize) -> Result<Rule, String> {
    let mut recipients = raw.age.as_ref().map(StringOrList::keys).unwrap_or_default();
    if let Some(groups) = &raw.key_groups {
        if groups.len() > 1 {
            return Err(format!(
                "creation_rules[{n}] has {} key_groups (Shamir secret sharing); pangeo-render writes \
                 one group of age recipients: list them under `age`",
                groups.len()
            ));
        }
        recipients.extend(groups.iter().flat_map(|g| g.age.clone().unwrap_or_default()));
    }
    if recipients.is_empty() {
        let others: Vec<&str> = [
            ("kms", raw.kms.is_some()),
            ("pgp", raw.pgp.is_some()),
            ("gcp_kms", raw.gcp_kms.is_some()),
            ("azure_keyvault", raw.azure_keyvault.is_some()),
            ("hc_vault_transit_uri", raw.hc_vault_transit_uri.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect();
        let what =
            if others.is_empty() { "no keys".to_string() } else { format!("only {}", others.join(", ")) };
        return Err(format!(
            "creation_rules[{n}] matches the secrets file but names {what}; pangeo-render encrypts for age \
             recipients: add `age: age1…` (your public key from `age-keygen -y KEYFILE`) to that rule"
        ));
    }
    for r in &recipients {
        super::age_keys::parse_recipient(r).map_err(|why| format!("creation_rules[{n}].age: {why}"))?;
    }
    let crypt = CryptRule {
        unencrypted_suffix: raw.unencrypted_suffix.clone().filter(|s| !s.is_empty()),
        encrypted_suffix: raw.encrypted_suffix.clone().filter(|s| !s.is_empty()),
        unencrypted_regex: raw.unencrypted_regex.clone().filter(|s| !s.is_empty()),
        encrypted_regex: raw.encrypted_regex.clone().filter(|s| !s.is_empty()),
        unencrypted_comment_regex: raw.unencrypted_comment_regex.clone().filter(|s| !s.is_empty()),
        encrypted_comment_regex: raw.encrypted_comment_regex.clone().filter(|s| !s.is_empty()),
        mac_only_encrypted: raw.mac_only_encrypted,
    };
    crypt.check().map_err(|why| format!("creation_rules[{n}]: {why}"))?;
    Ok(Rule { source: PathBuf::new(), recipients, crypt: crypt.with_default_suffix() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(sops_yaml: &str, file: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), sops_yaml).unwrap();
        let path = dir.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        (dir, path)
    }

    fn key() -> String {
        age::x25519::Identity::generate().to_public().to_string()
    }

    #[test]
    fn first_matching_rule_relative_to_the_config_folder() {
        let (key_a, key_b) = (key(), key());
        let yaml = format!(
            "creation_rules:\n  - path_regex: ^other/\n    age: {key_b}\n  - path_regex: deploy/.*\\.secrets\\.yaml$\n    age: {key_a}, {key_b}\n"
        );
        let (_d, file) = setup(&yaml, "deploy/pangeo.secrets.yaml");
        let rule = rule_for(&file).unwrap().unwrap();
        assert_eq!(rule.recipients, vec![key_a, key_b]);
        assert_eq!(rule.crypt.unencrypted_suffix.as_deref(), Some("_unencrypted"));
    }

    #[test]
    fn no_match_means_plaintext() {
        let yaml = format!("creation_rules:\n  - path_regex: \\.enc\\.yaml$\n    age: [{}]\n", key());
        let (_d, file) = setup(&yaml, "pangeo.secrets.yaml");
        assert!(rule_for(&file).unwrap().is_none());
    }

    #[test]
    fn a_matching_rule_without_age_is_an_error_that_says_what_to_add() {
        let (_d, file) = setup("creation_rules:\n  - kms: arn:aws:kms:us-west-2:1:key/x\n", "s.yaml");
        let (source, why) = rule_for(&file).unwrap_err();
        assert!(source.ends_with(FILE_NAME));
        assert!(why.contains("only kms") && why.contains("age: age1"), "{why}");
    }

    #[test]
    fn a_bad_recipient_is_named() {
        let (_d, file) = setup("creation_rules:\n  - age: age1notakey\n", "s.yaml");
        let (_, why) = rule_for(&file).unwrap_err();
        assert!(why.contains("age1notakey"), "{why}");
    }
}
