//! Keeping secrets out of every diff and message.
//!
//! A value is sensitive when it sits where secrets live — a Secret's `data`/`stringData`, the
//! `kubectl.kubernetes.io/last-applied-configuration` annotation (a copy of the whole object,
//! Secret data included), a Helm values key such as `proxy.secretToken`, `apiToken(s)` or
//! `password_hash` — or when it contains one of the deployment's known secret strings. Masking
//! works on the live and the desired value together: equal values both become
//! [`MASK`], so no diff line appears; different ones become [`MASK`] and [`CHANGED`], so the
//! diff says that the value changed without showing either side.

use serde_json::Value;

pub const MASK: &str = "(sensitive value)";
pub const CHANGED: &str = "(sensitive value changed)";

/// Helm values keys whose values are secret wherever they appear.
const SENSITIVE_VALUE_KEYS: &[&str] = &[
    "secretToken",
    "apiToken",
    "apiTokens",
    "password",
    "password_hash",
    // SharedPasswordAuthenticator (JupyterHub 5), which `import` adopts.
    "user_password",
    "admin_password",
    "cookieSecret",
    "client_secret",
    "cryptKey",
];

/// Whether values under this key are secret (Helm values, and the secrets file's own keys).
pub fn is_sensitive_key(key: &str) -> bool {
    SENSITIVE_VALUE_KEYS.contains(&key)
        || matches!(key, "proxySecretToken" | "daskGatewayApiToken" | "adminPasswordHash")
}

/// Whether a string has the shape of a secret this tool makes or reads: a long hex token, or a
/// password hash. Used where a secret may turn up out of place (a token pasted as a key).
pub fn looks_secret(s: &str) -> bool {
    (s.len() >= 32 && s.bytes().all(|b| b.is_ascii_hexdigit())) || s.starts_with("$pbkdf2")
}

/// `s` with every run of 32 or more hex digits (a token, or most of one) and every password
/// hash replaced by [`MASK`]: for messages about files whose secrets are not known beforehand.
pub fn mask_shapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(i) = rest.find("$pbkdf2") {
            let (head, tail) = rest.split_at(i);
            out.push_str(&mask_hex_runs(head));
            out.push_str(MASK);
            let end =
                tail.find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`')).unwrap_or(tail.len());
            rest = &tail[end..];
        } else {
            out.push_str(&mask_hex_runs(rest));
            break;
        }
    }
    out
}

fn mask_hex_runs(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 32 {
            out.push_str(MASK);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in s.chars() {
        if c.is_ascii_hexdigit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// What is being masked, which decides where secrets are expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A Kubernetes object (a `v1` Secret has its `data`/`stringData` masked).
    Object { secret: bool },
    /// Helm values: keys named in [`SENSITIVE_VALUE_KEYS`] are masked at any depth.
    HelmValues,
}

/// Knows the secret strings of one deployment.
#[derive(Clone, Debug, Default)]
pub struct Masker {
    secrets: Vec<String>,
}

impl Masker {
    /// Strings shorter than 8 characters are not treated as secrets (they would mask ordinary
    /// words); the tool's own secrets are 64-character tokens and a long hash.
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let mut secrets: Vec<String> =
            secrets.into_iter().filter(|s| s.len() >= 8).map(str::to_string).collect();
        // Longest first, so a secret that contains another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Masker { secrets }
    }

    fn contains_secret(&self, s: &str) -> bool {
        self.secrets.iter().any(|x| s.contains(x.as_str()))
    }

    /// A message with every known secret replaced by [`MASK`]: for errors that quote a request
    /// or a value, and for the output of helm.
    pub fn text(&self, s: &str) -> String {
        let mut out = s.to_string();
        for x in &self.secrets {
            if out.contains(x.as_str()) {
                out = out.replace(x.as_str(), MASK);
            }
        }
        out
    }

    /// Masks a live value and a desired value of the same thing together (either may be absent).
    pub fn pair(&self, shape: Shape, live: Option<&mut Value>, desired: Option<&mut Value>) {
        self.walk(shape, &mut Vec::new(), live, desired);
    }

    /// Masks one value on its own.
    pub fn one(&self, shape: Shape, v: &mut Value) {
        self.walk(shape, &mut Vec::new(), Some(v), None);
    }

    fn sensitive_path(&self, shape: Shape, path: &[String]) -> bool {
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        match shape {
            Shape::Object { secret } => {
                matches!(p.as_slice(), ["metadata", "annotations", LAST_APPLIED])
                    || (secret && matches!(p.as_slice(), ["data", _] | ["stringData", _]))
                    || is_checksum_annotation(&p)
            }
            Shape::HelmValues => p.last().is_some_and(|k| SENSITIVE_VALUE_KEYS.contains(k)),
        }
    }

    fn walk(&self, shape: Shape, path: &mut Vec<String>, a: Option<&mut Value>, b: Option<&mut Value>) {
        if structured_secret_value(shape, path, [a.as_deref(), b.as_deref()]) {
            return self.walk(Shape::HelmValues, &mut Vec::new(), a, b);
        }
        let secret_string = |v: &Option<&mut Value>| {
            v.as_deref().and_then(Value::as_str).is_some_and(|s| self.contains_secret(s))
        };
        if self.sensitive_path(shape, path) || secret_string(&a) || secret_string(&b) {
            match (a, b) {
                (Some(a), Some(b)) => {
                    let same = *a == *b;
                    *a = Value::from(MASK);
                    *b = Value::from(if same { MASK } else { CHANGED });
                }
                (Some(a), None) => *a = Value::from(MASK),
                (None, Some(b)) => *b = Value::from(MASK),
                (None, None) => {}
            }
            return;
        }
        match (a, b) {
            (Some(Value::Object(ma)), Some(Value::Object(mb))) => {
                let mut keys: Vec<String> = ma.keys().cloned().collect();
                keys.extend(mb.keys().filter(|k| !ma.contains_key(*k)).cloned());
                for k in keys {
                    path.push(k.clone());
                    self.walk(shape, path, ma.get_mut(&k), mb.get_mut(&k));
                    path.pop();
                }
            }
            (Some(Value::Array(la)), Some(Value::Array(lb))) => {
                let n = la.len().max(lb.len());
                for i in 0..n {
                    path.push(i.to_string());
                    self.walk(shape, path, la.get_mut(i), lb.get_mut(i));
                    path.pop();
                }
            }
            (a, b) => {
                for v in [a, b].into_iter().flatten() {
                    self.walk_one(shape, path, v);
                }
            }
        }
    }

    fn walk_one(&self, shape: Shape, path: &mut Vec<String>, v: &mut Value) {
        if structured_secret_value(shape, path, [Some(&*v), None]) {
            return self.walk_one(Shape::HelmValues, &mut Vec::new(), v);
        }
        if self.sensitive_path(shape, path) || v.as_str().is_some_and(|s| self.contains_secret(s)) {
            *v = Value::from(MASK);
            return;
        }
        match v {
            Value::Object(m) => {
                for (k, child) in m.iter_mut() {
                    path.push(k.clone());
                    self.walk_one(shape, path, child);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter_mut().enumerate() {
                    path.push(i.to_string());
                    self.walk_one(shape, path, child);
                    path.pop();
                }
            }
            _ => {}
        }
    }
}

/// A Secret's data value that was decoded into a structure (the hub Secret's `values.yaml`,
/// see [`decode_structured_data`]): masked leaf by leaf like Helm values, so that a changed image
/// tag inside it shows and only its secret leaves are hidden.
fn structured_secret_value(shape: Shape, path: &[String], values: [Option<&Value>; 2]) -> bool {
    shape == (Shape::Object { secret: true })
        && path.len() == 2
        && path[0] == "data"
        && values.iter().flatten().any(|v| v.is_object())
}

/// Replaces each `data` value of a Secret that holds a YAML or JSON mapping (base64 of it) by
/// that mapping, so that a diff can show what changed inside it. Anything else stays as it is
/// (and is masked whole).
pub fn decode_structured_data(secret: &mut Value) {
    use base64::Engine;
    let Some(data) = secret.get_mut("data").and_then(Value::as_object_mut) else { return };
    for (key, value) in data.iter_mut() {
        if !(key.ends_with(".yaml") || key.ends_with(".yml") || key.ends_with(".json")) {
            continue;
        }
        let Some(text) = value
            .as_str()
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .and_then(|bytes| String::from_utf8(bytes).ok())
        else {
            continue;
        };
        if let Ok(node) = crate::yaml::parse_single(&text) {
            let parsed = node.to_json();
            if parsed.is_object() {
                *value = parsed;
            }
        }
    }
}

/// Charts restart pods when a Secret changes by a digest of it in a pod annotation
/// (`checksum/secret`, Z2JH's `checksum/auth-token`): derived from secrets, so shown only as changed.
fn is_checksum_annotation(path: &[&str]) -> bool {
    matches!(path, [.., "annotations", key] if key.starts_with("checksum/"))
}

/// Whether `kind`/`apiVersion` is a core Secret.
pub fn is_secret(obj: &Value) -> bool {
    obj.get("kind").and_then(Value::as_str) == Some("Secret")
        && obj.get("apiVersion").and_then(Value::as_str) == Some("v1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_of_secrets_are_masked_in_free_text() {
        let token = "ab".repeat(32);
        let hash = "$pbkdf2-sha256$i=600000,l=32$c2FsdA$aGFzaA";
        assert_eq!(mask_shapes(&format!("key `x{token}y` here")), format!("key `x{MASK}y` here"));
        assert_eq!(mask_shapes(&format!("hash \"{hash}\", ok")), format!("hash \"{MASK}\", ok"));
        assert_eq!(
            mask_shapes("arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab"),
            "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab"
        );
    }
    use serde_json::json;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn secret_data_equal_is_masked_without_a_difference() {
        let m = Masker::new([]);
        let mut live = json!({"kind": "Secret", "apiVersion": "v1", "data": {"a": "c2VjcmV0"}});
        let mut want = live.clone();
        m.pair(Shape::Object { secret: true }, Some(&mut live), Some(&mut want));
        assert_eq!(live["data"]["a"], MASK);
        assert_eq!(want["data"]["a"], MASK);
    }

    #[test]
    fn secret_data_changed_says_so_without_values() {
        let m = Masker::new([]);
        let mut live = json!({"data": {"a": "b2xk"}, "stringData": {"s": "old"}});
        let mut want = json!({"data": {"a": "bmV3"}, "stringData": {"s": "new"}, "type": "Opaque"});
        m.pair(Shape::Object { secret: true }, Some(&mut live), Some(&mut want));
        assert_eq!(live, json!({"data": {"a": MASK}, "stringData": {"s": MASK}}));
        assert_eq!(want, json!({"data": {"a": CHANGED}, "stringData": {"s": CHANGED}, "type": "Opaque"}));
    }

    #[test]
    fn last_applied_annotation_is_masked_on_any_object() {
        let m = Masker::new([]);
        let mut live =
            json!({"metadata": {"annotations": {LAST_APPLIED: "{\"data\":{\"x\":\"y\"}}", "other": "kept"}}});
        m.one(Shape::Object { secret: false }, &mut live);
        assert_eq!(live["metadata"]["annotations"][LAST_APPLIED], MASK);
        assert_eq!(live["metadata"]["annotations"]["other"], "kept");
    }

    #[test]
    fn helm_keys_and_known_secrets_anywhere() {
        let m = Masker::new([TOKEN]);
        let mut live = json!({
            "proxy": {"secretToken": "aaaaaaaa"},
            "services": {"g": {"apiToken": "x"}},
            "auth": {"password_hash": "h"},
            "env": [format!("TOKEN={TOKEN}"), "plain"],
            "apiTokens": {"a": "b"},
            "image": "pangeo"
        });
        let mut want = live.clone();
        want["proxy"]["secretToken"] = json!("bbbbbbbb");
        m.pair(Shape::HelmValues, Some(&mut live), Some(&mut want));
        let text = serde_json::to_string(&(&live, &want)).unwrap();
        assert!(!text.contains(TOKEN) && !text.contains("aaaaaaaa") && !text.contains("bbbbbbbb"), "{text}");
        assert_eq!(live["proxy"]["secretToken"], MASK);
        assert_eq!(want["proxy"]["secretToken"], CHANGED);
        assert_eq!(want["services"]["g"]["apiToken"], MASK);
        assert_eq!(want["auth"]["password_hash"], MASK);
        assert_eq!(want["env"], json!([MASK, "plain"]));
        assert_eq!(want["apiTokens"], MASK);
        assert_eq!(want["image"], "pangeo");
    }

    #[test]
    fn one_sided_values_are_masked() {
        let m = Masker::new([TOKEN]);
        let mut want = json!({"proxy": {"secretToken": "zzzzzzzzz"}, "x": TOKEN});
        m.pair(Shape::HelmValues, None, Some(&mut want));
        assert_eq!(want, json!({"proxy": {"secretToken": MASK}, "x": MASK}));
    }

    #[test]
    fn text_replaces_every_secret() {
        let m = Masker::new([TOKEN, "short"]);
        assert_eq!(m.text(&format!("bad value {TOKEN}; short")), format!("bad value {MASK}; short"));
    }

    #[test]
    fn checksum_annotations_are_masked() {
        let m = Masker::new([]);
        let mut live =
            json!({"spec": {"template": {"metadata": {"annotations": {"checksum/secret": "ab", "x": "1"}}}}});
        let mut want =
            json!({"spec": {"template": {"metadata": {"annotations": {"checksum/secret": "cd", "x": "1"}}}}});
        m.pair(Shape::Object { secret: false }, Some(&mut live), Some(&mut want));
        assert_eq!(
            want["spec"]["template"]["metadata"]["annotations"],
            json!({"checksum/secret": CHANGED, "x": "1"})
        );
    }

    #[test]
    fn structured_secret_values_show_plain_changes_and_mask_secret_leaves() {
        use base64::Engine;
        let enc = |t: &str| base64::engine::general_purpose::STANDARD.encode(t);
        let m = Masker::new([TOKEN]);
        let secret = |tag: &str, token: &str| {
            let values =
                format!("proxy:\n  secretToken: {token}\nsingleuser:\n  image:\n    tag: \"{tag}\"\n");
            let mut s = json!({"apiVersion": "v1", "kind": "Secret",
                "data": {"values.yaml": enc(&values), "cookie": enc("c00kie-c00kie")}});
            decode_structured_data(&mut s);
            s
        };
        let mut live = secret("1", "old-token-value");
        let mut want = secret("2", TOKEN);
        m.pair(Shape::Object { secret: true }, Some(&mut live), Some(&mut want));
        assert_eq!(live["data"]["values.yaml"]["singleuser"]["image"]["tag"], "1");
        assert_eq!(want["data"]["values.yaml"]["singleuser"]["image"]["tag"], "2");
        assert_eq!(want["data"]["values.yaml"]["proxy"]["secretToken"], CHANGED);
        assert_eq!(want["data"]["cookie"], MASK);
        let text = serde_json::to_string(&(&live, &want)).unwrap();
        assert!(
            !text.contains(TOKEN) && !text.contains("old-token-value") && !text.contains("c00kie"),
            "{text}"
        );
        // An object only on one side (created) is masked the same way.
        let mut created = secret("3", TOKEN);
        m.one(Shape::Object { secret: true }, &mut created);
        assert_eq!(created["data"]["values.yaml"]["proxy"]["secretToken"], MASK);
        assert_eq!(created["data"]["values.yaml"]["singleuser"]["image"]["tag"], "3");
    }
}
