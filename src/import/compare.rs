//! What an import does not carry over: each hand-edited file against the file pangeo-render
//! renders in its place, value by value.
//!
//! A value of the user's file that the rendered file does not have is *dropped*, one it says
//! otherwise is *changed*, one only the rendered file has is *added*. Lists of named items
//! (node groups, service accounts, tolerations by key) are matched by name, other lists by
//! position. Values under secret-looking keys, and anything shaped like a secret, are described,
//! never shown.

use serde_json::Value;

use crate::secrets::mask::{self, Masker};

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Dropped,
    Changed,
    Added,
}

/// One difference, at a dotted path of the file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    pub path: String,
    pub change: Change,
    /// The user's value and ours, shown short and masked (`None` where there is none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theirs: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ours: Option<String>,
}

/// Every difference between the user's file and the rendered one; `masker` knows the
/// deployment's secrets (the password too), which no value shown may contain.
pub fn differences(theirs: &Value, ours: &Value, masker: &Masker) -> Vec<Difference> {
    let mut out = Vec::new();
    walk(&mut String::new(), Some(theirs), Some(ours), &mut out);
    for d in &mut out {
        for v in [&mut d.theirs, &mut d.ours].into_iter().flatten() {
            *v = masker.text(v);
        }
    }
    out
}

fn walk(path: &mut String, theirs: Option<&Value>, ours: Option<&Value>, out: &mut Vec<Difference>) {
    let empty = serde_json::Map::new();
    // Two mappings, or a mapping only one side has: compared key by key, so that each leaf is
    // judged on its own (a password under a dropped mapping is masked by its key).
    let pair = match (theirs.and_then(Value::as_object), ours.and_then(Value::as_object)) {
        (Some(a), Some(b)) => Some((a, b)),
        (Some(a), None) if ours.is_none() => Some((a, &empty)),
        (None, Some(b)) if theirs.is_none() => Some((&empty, b)),
        _ => None,
    };
    if let Some((a, b)) = pair {
        let mut keys: Vec<&String> = a.keys().collect();
        keys.extend(b.keys().filter(|k| !a.contains_key(*k)));
        for k in keys {
            let len = path.len();
            push_key(path, k);
            walk(path, a.get(k), b.get(k), out);
            path.truncate(len);
        }
        return;
    }
    match (theirs, ours) {
        (Some(Value::Array(a)), Some(Value::Array(b))) if a != b => {
            let pairs = pair_items(a, b);
            for (label, x, y) in pairs {
                let len = path.len();
                path.push_str(&label);
                walk(path, x, y, out);
                path.truncate(len);
            }
        }
        (Some(a), Some(b)) if same(a, b) => {}
        (a, b) => {
            let change = match (a, b) {
                (Some(_), None) => Change::Dropped,
                (None, Some(_)) => Change::Added,
                _ => Change::Changed,
            };
            let sensitive = path.rsplit('.').next().is_some_and(mask::is_sensitive_key);
            let show =
                |v: Option<&Value>| v.map(|v| if sensitive { mask::MASK.to_string() } else { short(v) });
            out.push(Difference { path: path.clone(), change, theirs: show(a), ours: show(b) });
        }
    }
}

/// Numbers compare by value (`4` and `4.0`), strings that are numbers too (`"3600"`, 3600).
fn same(a: &Value, b: &Value) -> bool {
    let n = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        _ => None,
    };
    match (n(a), n(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
}

/// The name a list item is known by, if it has one.
fn item_name(v: &Value) -> Option<String> {
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
    s("/name").or_else(|| s("/metadata/name")).or_else(|| s("/key"))
}

type Pair<'a> = (String, Option<&'a Value>, Option<&'a Value>);

fn pair_items<'a>(a: &'a [Value], b: &'a [Value]) -> Vec<Pair<'a>> {
    let named = |l: &[Value]| !l.is_empty() && l.iter().all(|v| item_name(v).is_some());
    if named(a) && named(b) {
        let mut out: Vec<Pair<'a>> = Vec::new();
        for x in a {
            let n = item_name(x).unwrap_or_default();
            out.push((format!("[{n}]"), Some(x), b.iter().find(|y| item_name(y).as_deref() == Some(&n))));
        }
        for y in b {
            let n = item_name(y).unwrap_or_default();
            if !a.iter().any(|x| item_name(x).as_deref() == Some(&n)) {
                out.push((format!("[{n}]"), None, Some(y)));
            }
        }
        return out;
    }
    // Scalars: which values were dropped or added, not positions.
    if a.iter().chain(b).all(|v| !v.is_object() && !v.is_array()) {
        let mut out: Vec<Pair<'a>> = Vec::new();
        for x in a.iter().filter(|x| !b.contains(x)) {
            out.push((String::new(), Some(x), None));
        }
        for y in b.iter().filter(|y| !a.contains(y)) {
            out.push((String::new(), None, Some(y)));
        }
        return out;
    }
    (0..a.len().max(b.len())).map(|i| (format!("[{i}]"), a.get(i), b.get(i))).collect()
}

/// A value on one line, at most 80 characters, with anything secret-shaped masked.
fn short(v: &Value) -> String {
    let text = match v {
        Value::String(s) if s.contains('\n') => format!("({} lines of text)", s.lines().count()),
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    let text = mask::mask_shapes(&text);
    if text.chars().count() > 80 { format!("{}…", text.chars().take(79).collect::<String>()) } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_dropped_changed_and_added_values_by_name_and_never_a_secret() {
        let token = "ab".repeat(32);
        let theirs = json!({
            "groups": [{"name": "main", "size": 1}, {"name": "old", "size": 2}],
            "args": ["--a", "--b"],
            "proxy": {"secretToken": token, "port": "3600"},
            "memory": "4G",
        });
        let ours = json!({
            "groups": [{"name": "main", "size": 1.0}, {"name": "new", "size": 2}],
            "args": ["--a", "--c"],
            "proxy": {"secretToken": "cd".repeat(32), "port": "3600"},
            "memory": "4G",
            "extra": true,
        });
        let d = differences(&theirs, &ours, &Masker::default());
        let got: Vec<(String, Change)> = d.iter().map(|d| (d.path.clone(), d.change.clone())).collect();
        assert_eq!(
            got,
            [
                ("groups[old].name".to_string(), Change::Dropped),
                ("groups[old].size".to_string(), Change::Dropped),
                ("groups[new].name".to_string(), Change::Added),
                ("groups[new].size".to_string(), Change::Added),
                ("args".to_string(), Change::Dropped),
                ("args".to_string(), Change::Added),
                ("proxy.secretToken".to_string(), Change::Changed),
                ("extra".to_string(), Change::Added),
            ]
        );
        let text = format!("{d:?}");
        assert!(!text.contains(&token) && !text.contains("cdcd"), "{text}");
        assert_eq!(d[4].theirs.as_deref(), Some("\"--b\""));
    }
}
