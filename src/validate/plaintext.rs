//! Secrets in plaintext in files about to be committed (`validate --refuse-plaintext-secrets`,
//! which the pre-commit hook runs): the secrets file unencrypted, a rendered `daskhub.yaml`, a
//! Kubernetes Secret manifest. Each finding names the file and key, never the value. A
//! SOPS-encrypted file is how secrets belong in git and is never reported.

use crate::diag::{Diagnostic, ids};
use crate::secrets::mask::is_sensitive_key;
use crate::validate::Input;
use crate::validate::kind::{self, Kind};
use crate::yaml::{self, Node, Value};

const HINT: &str = "keep the secrets file encrypted with SOPS (a .sops.yaml creation rule; see README \
     \"Secrets in git\") and rendered files out of git (`values` lists them in .gitignore); if this \
     was committed before, rotate with `pangeo-render values --rotate tokens`/`password`";

pub fn check(input: &Input) -> Vec<Diagnostic> {
    let Ok(docs) = yaml::parse_documents(input.text) else { return Vec::new() };
    let kind = kind::detect(&docs);
    if kind == Some(Kind::Sops) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for doc in &docs {
        if doc.get("kind").and_then(Node::as_str) == Some("Secret") && kind == Some(Kind::Manifests) {
            for key in ["data", "stringData"] {
                if let Some(e) = doc.entry(key).filter(|e| !e.value.as_map().is_empty()) {
                    out.push(finding(
                        input,
                        e.key_pos,
                        key,
                        "a Kubernetes Secret's data (only base64-encoded)",
                    ));
                }
            }
            continue;
        }
        walk(input, doc, &mut Vec::new(), false, &mut out);
    }
    out
}

fn walk(input: &Input, node: &Node, path: &mut Vec<String>, secret_key: bool, out: &mut Vec<Diagnostic>) {
    match &node.value {
        Value::Str(s)
            if !s.is_empty() && !s.starts_with("ENC[") && (secret_key || s.starts_with("$pbkdf2")) =>
        {
            let what = if s.starts_with("$pbkdf2") { "a password hash" } else { "a secret" };
            out.push(finding(input, node.pos, &yaml::dotted(path), what));
        }
        Value::Seq(items) => items.iter().for_each(|i| walk(input, i, path, secret_key, out)),
        Value::Map(entries) => {
            for e in entries {
                path.push(e.key.clone());
                walk(input, &e.value, path, secret_key || is_sensitive_key(&e.key), out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn finding(input: &Input, pos: yaml::Pos, field: &str, what: &str) -> Diagnostic {
    Diagnostic::error(
        ids::PLAINTEXT_SECRET,
        input.path,
        pos,
        format!("holds {what} in plaintext; it must not be committed"),
    )
    .field(field)
    .hint(HINT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn findings(text: &str) -> Vec<String> {
        check(&Input { path: Path::new("f.yaml"), text })
            .into_iter()
            .map(|d| format!("{}:{} {}", d.line, d.field.unwrap_or_default(), d.message))
            .collect()
    }

    #[test]
    fn names_each_secret_key_never_the_value() {
        let text = "jupyterhub:\n  proxy:\n    secretToken: \"abcdef0123\"\n  hub:\n    config:\n      A:\n        password_hash: \"$pbkdf2-sha256$x\"\n";
        let f = findings(text);
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f[0].starts_with("3:jupyterhub.proxy.secretToken"), "{f:?}");
        assert!(f[1].contains("password hash"), "{f:?}");
        assert!(f.iter().all(|l| !l.contains("abcdef0123") && !l.contains("$pbkdf2-sha256$x")));
    }

    #[test]
    fn encrypted_files_and_empty_values_pass() {
        assert!(findings("proxySecretToken: ENC[AES256_GCM,data:x]\nsops:\n    mac: ENC[x]\n").is_empty());
        assert!(findings("jupyterhub:\n  proxy:\n    secretToken: \"\"\n").is_empty());
    }

    #[test]
    fn secret_manifests_with_data_are_found() {
        let f = findings("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  token: YWJj\n");
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].starts_with("4:data"), "{f:?}");
    }
}
