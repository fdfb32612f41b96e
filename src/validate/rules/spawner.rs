//! PR027, spawn-values: `jupyterhub.singleuser` values that the hub or KubeSpawner refuse when a
//! user's server starts. The API server and Helm accept them all; the failure shows only at the
//! first spawn, for every user. Each check mirrors the program that reads the value:
//!
//! - memory: JupyterHub's `ByteSpecification` (see [`crate::memory::hub_bytes`]);
//! - extraEnv: KubeSpawner's `_expand_user_properties`, `template.format(**ns)` over each value
//!   (spawner.py, 6.2.0 and 7.0.0): `{name}` must be one of its names, `{{`/`}}` are literal braces.
//!   A name KubeSpawner does not know raises `KeyError` and no pod is built.

use crate::diag::Diagnostic;
use crate::diag::ids;
use crate::memory::Size;
use crate::validate::facts::{Fact, SpawnSetting};
use crate::validate::rules::Deployment;

/// The names KubeSpawner 6.2.0 (Z2JH 3.2.1) formats templates with.
const NAMES_6_2: &[&str] = &[
    "userid",
    "username",
    "unescaped_username",
    "legacy_escape_username",
    "servername",
    "unescaped_servername",
    "hubnamespace",
];

/// Names KubeSpawner 7.0.0 (Z2JH 4.4.0) adds; `legacy_escape_username` is gone there.
const NAMES_7_0_ONLY: &[&str] = &[
    "user_server",
    "safe_username",
    "safe_servername",
    "safe_user_server",
    "escaped_username",
    "escaped_servername",
    "escaped_user_server",
    "pod_name",
    "pvc_name",
    "namespace",
];

pub fn check(d: &Deployment, out: &mut Vec<Diagnostic>) {
    let Some(h) = d.hub else { return };
    let mut guarantee = None;
    let mut limit = None;
    for s in &h.spawn_settings {
        match &s.value {
            SpawnSetting::Memory { key, text, value: Err(why) } => out.push(
                s.error(ids::SPAWN_VALUES, format!("no server can start: {why}"))
                    .hint(memory_hint(key, text.as_deref())),
            ),
            SpawnSetting::Memory { key, value: Ok(bytes), .. } => {
                if *key == "guarantee" {
                    guarantee = Some((s, *bytes));
                } else {
                    limit = Some(*bytes);
                }
            }
            SpawnSetting::Env { name, value } => env(s, name, value, out),
        }
    }
    if let (Some((s, g)), Some(l)) = (guarantee, limit)
        && g > l
    {
        out.push(
            s.error(ids::SPAWN_VALUES, "no server can start: the memory guarantee exceeds the limit, and Kubernetes refuses such a pod")
                .hint("make the guarantee at most the limit"),
        );
    }
}

/// The same size in JupyterHub's form when the value is a Kubernetes quantity (`16Gi` → `16G`).
fn memory_hint(key: &str, text: Option<&str>) -> String {
    match text.and_then(|t| Size::parse(t).ok()) {
        Some(size) => format!(
            "write the memory {key} as {} — the same {} bytes as JupyterHub reads it (its K, M, G, T are powers of 1024)",
            size.hub_form(),
            size.bytes
        ),
        None => format!(
            "write the memory {key} as a whole number of bytes or as JupyterHub's K, M, G, T (powers of 1024), e.g. 8G for 8 GiB"
        ),
    }
}

fn env(s: &Fact<SpawnSetting>, name: &str, value: &str, out: &mut Vec<Diagnostic>) {
    match format_fields(value) {
        Err(why) => out.push(
            s.error(ids::SPAWN_VALUES, format!("no server can start: KubeSpawner formats `{name}` with Python's str.format, which fails here: {why}"))
                .hint("double a brace that should stay literal: {{ or }}"),
        ),
        Ok(fields) => {
            for field in fields {
                if NAMES_6_2.contains(&field.as_str()) && field != "legacy_escape_username" {
                    continue;
                }
                if NAMES_7_0_ONLY.contains(&field.as_str()) || field == "legacy_escape_username" {
                    out.push(
                        s.warning(ids::SPAWN_VALUES, format!("`{{{field}}}` in `{name}` is known to only one of KubeSpawner 6.2.0 and 7.0.0; with the other every spawn fails"))
                            .hint("check the chart target's KubeSpawner version, or use a name both know: username, servername, userid, hubnamespace"),
                    );
                    continue;
                }
                out.push(
                    s.error(ids::SPAWN_VALUES, format!("no server can start: KubeSpawner fills `{{{field}}}` in `{name}` itself and knows no such name (KeyError: '{field}')"))
                        .hint(format!("to pass the braces through to the notebook literally, write {{{{{field}}}}}")),
                );
            }
        }
    }
}

/// The field names a Python format string refers to, as `str.format` parses it, or the
/// `ValueError`/`IndexError` it raises when given only keyword arguments.
fn format_fields(text: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
            }
            '}' => return Err("Single '}' encountered in format string".into()),
            '{' => {
                let mut field = String::new();
                let mut depth = 1;
                loop {
                    match chars.next() {
                        None => return Err("expected '}' before end of string".into()),
                        Some('{') => depth += 1,
                        Some('}') => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        Some(ch) => field.push(ch),
                    }
                }
                let name: String =
                    field.chars().take_while(|c| !matches!(c, '!' | ':' | '.' | '[')).collect();
                if name.is_empty() || name.bytes().all(|b| b.is_ascii_digit()) {
                    return Err("a positional field `{}` has no value (IndexError)".into());
                }
                fields.push(name);
            }
            _ => {}
        }
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::format_fields;

    #[test]
    fn memory_hint_offers_the_same_bytes_in_jupyterhubs_form() {
        let hint = super::memory_hint("limit", Some("16Gi"));
        assert!(hint.contains("as \"16G\" — the same 17179869184 bytes"), "{hint}");
        assert!(super::memory_hint("limit", Some("8 GB")).contains("e.g. 8G"));
    }

    #[test]
    fn parses_like_str_format() {
        assert_eq!(format_fields("{JUPYTER_IMAGE_SPEC}").unwrap(), ["JUPYTER_IMAGE_SPEC"]);
        assert!(format_fields("{{JUPYTER_IMAGE_SPEC}}").unwrap().is_empty());
        assert_eq!(format_fields("/home/{username}/x").unwrap(), ["username"]);
        assert_eq!(format_fields("{username!r:>10}").unwrap(), ["username"]);
        assert!(format_fields("a}b").is_err());
        assert!(format_fields("{open").is_err());
        assert!(format_fields("{}").is_err());
        assert!(format_fields("{0}").is_err());
        assert!(format_fields("plain").unwrap().is_empty());
    }
}
