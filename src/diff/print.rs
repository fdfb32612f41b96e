//! Turning values into text and text pairs into unified diffs, plain or coloured.
//!
//! Values are printed as YAML by a small emitter of our own, so the text is stable across
//! library versions: keys sorted (as kubectl and Helm print them), multi-line strings as
//! `|` blocks (a changed line of an embedded script shows as one line), anything ambiguous
//! double-quoted. Diffs come from `similar`; colour only decorates the finished text, and
//! anstream drops it when stdout is not a terminal or NO_COLOR is set.

use std::io::Write;

use serde_json::Value;

use crate::plan::strip::canonical;

/// YAML text of a value (keys sorted, numbers canonical), ending in a newline.
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    emit(&canonical(v), 0, &mut out);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn emit(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (i, (k, child)) in m.iter().enumerate() {
                if i > 0 {
                    pad(indent, out);
                }
                out.push_str(&scalar_text(k));
                out.push(':');
                emit_child(child, indent, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    pad(indent, out);
                }
                out.push_str("- ");
                match item {
                    Value::Object(m) if !m.is_empty() => emit(item, indent + 2, out),
                    Value::Array(l) if !l.is_empty() => emit(item, indent + 2, out),
                    _ => {
                        inline(item, indent + 2, out);
                    }
                }
            }
        }
        other => {
            inline(other, indent, out);
        }
    }
}

/// A mapping value after `key:`.
fn emit_child(child: &Value, indent: usize, out: &mut String) {
    match child {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            pad(indent + 2, out);
            emit(child, indent + 2, out);
        }
        Value::Array(l) if !l.is_empty() => {
            out.push('\n');
            pad(indent, out);
            emit(child, indent, out);
        }
        _ => {
            out.push(' ');
            inline(child, indent + 2, out);
        }
    }
}

/// A scalar (or empty collection), then a newline.
fn inline(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Null => out.push_str("null\n"),
        Value::Bool(b) => out.push_str(&format!("{b}\n")),
        Value::Number(n) => out.push_str(&format!("{n}\n")),
        Value::String(s) if is_block(s) => {
            out.push_str(if s.ends_with('\n') { "|\n" } else { "|-\n" });
            for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
                if !line.is_empty() {
                    pad(indent, out);
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
        Value::String(s) => {
            out.push_str(&scalar_text(s));
            out.push('\n');
        }
        Value::Array(_) => out.push_str("[]\n"),
        Value::Object(_) => out.push_str("{}\n"),
    }
}

fn pad(n: usize, out: &mut String) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// A multi-line string that a literal block can carry exactly.
fn is_block(s: &str) -> bool {
    s.contains('\n')
        && !s.contains('\r')
        && !s.starts_with([' ', '\n'])
        && !s.ends_with("\n\n")
        && s.split('\n').all(|l| !l.ends_with([' ', '\t']) && !l.chars().any(|c| c.is_control() && c != '\t'))
}

/// A string as a plain scalar when that reads back as the same string, else double-quoted.
fn scalar_text(s: &str) -> String {
    if is_plain(s) { s.to_string() } else { serde_json::to_string(s).unwrap_or_default() }
}

fn is_plain(s: &str) -> bool {
    if s.is_empty() || s != s.trim() || s.chars().any(|c| c.is_control()) {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    if ["true", "false", "null", "~", "yes", "no", "on", "off", "y", "n"].contains(&lower.as_str()) {
        return false;
    }
    if s.parse::<f64>().is_ok()
        || lower.starts_with("0x")
        || lower.starts_with("0o")
        || lower.starts_with(".")
    {
        return false;
    }
    if s.starts_with([
        '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`',
    ]) {
        return false;
    }
    !(s.contains(": ") || s.contains(" #") || s.ends_with(':'))
}

/// A unified diff of two texts with three lines of context; empty when they are equal.
pub fn unified(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}

/// Writes diff text, colouring each line by its marker.
pub fn write_diff(out: &mut impl Write, diff: &str) -> std::io::Result<()> {
    use anstyle::{AnsiColor, Style};
    let header = Style::new().bold();
    let hunk = AnsiColor::Cyan.on_default();
    let del = AnsiColor::Red.on_default();
    let add = AnsiColor::Green.on_default();
    for line in diff.split_inclusive('\n') {
        let style = if line.starts_with("---") || line.starts_with("+++") {
            header
        } else if line.starts_with("@@") {
            hunk
        } else if line.starts_with('-') {
            del
        } else if line.starts_with('+') {
            add
        } else {
            Style::new()
        };
        let body = line.strip_suffix('\n').unwrap_or(line);
        writeln!(out, "{style}{body}{style:#}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_is_sorted_quoted_and_blocky() {
        let v = json!({
            "b": {"x": [1, {"k": "v", "j": true}], "e": {}, "l": []},
            "a": "yes",
            "s": "line one\nline two\n",
            "n": null,
            "q": "a: b",
            "f": 4.0,
            "v": "1.34"
        });
        let text = to_yaml(&v);
        assert_eq!(
            text,
            "a: \"yes\"\nb:\n  e: {}\n  l: []\n  x:\n  - 1\n  - j: true\n    k: v\nf: 4\n\"n\": null\nq: \"a: b\"\ns: |\n  line one\n  line two\nv: \"1.34\"\n"
        );
        // What we print is YAML that reads back as the same value.
        let back = crate::yaml::parse_single(&text).unwrap().to_json();
        assert_eq!(canonical(&back), canonical(&v));
    }

    #[test]
    fn nested_lists_round_trip() {
        let v = json!({"rules": [{"apiGroups": [""], "verbs": ["get", "list"]}, [["x"]], "- dash", "#"]});
        let back = crate::yaml::parse_single(&to_yaml(&v)).unwrap().to_json();
        assert_eq!(back, canonical(&v));
    }

    #[test]
    fn unified_diff_has_headers_and_hunks() {
        let d = unified("a\nb\n", "a\nc\n", "live/x", "merged/x");
        assert!(d.starts_with("--- live/x\n+++ merged/x\n@@"), "{d}");
        assert!(d.contains("-b\n+c\n"), "{d}");
        assert!(unified("a\n", "a\n", "l", "m").is_empty());
    }
}
