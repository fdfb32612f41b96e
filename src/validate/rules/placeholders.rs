//! PR003: `<placeholder>` values left in an artifact, like the walkthrough's `<token-1>`,
//! `<acm-certificate-arn>` or the autoscaler example's `k8s.io/cluster-autoscaler/<YOUR CLUSTER NAME>`.
//! Runs per file (the config too), on every string value. Code blocks (multi-line strings) are skipped: Python
//! and shell legitimately contain `<…>`.

use std::path::Path;

use crate::diag::Diagnostic;
use crate::diag::ids;
use crate::yaml::{Node, dotted};

/// A `<word…>` span whose inside looks like prose (letters, digits, spaces, `-`, `_`, `.`), as
/// placeholders do; `a < b > c` and HTML-ish `<br/>` do not count.
pub fn is_placeholder(s: &str) -> bool {
    if s.contains('\n') {
        return false;
    }
    let mut rest = s;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else { return false };
        let inner = &after[..close];
        if !inner.is_empty()
            && inner.len() <= 80
            && inner.starts_with(|c: char| c.is_ascii_alphabetic())
            && inner.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'))
        {
            return true;
        }
        rest = &after[close + 1..];
    }
    false
}

/// An artifact's placeholders: left in a hand-edited file, or a template's.
pub fn check_file(file: &Path, docs: &[Node]) -> Vec<Diagnostic> {
    find(file, docs, "replace it with the real value, or render the file with `pangeo-render values`")
}

/// The config's placeholders: the walkthrough's values nobody replaced.
pub fn check_config(file: &Path, root: &Node) -> Vec<Diagnostic> {
    find(file, std::slice::from_ref(root), "replace it with the real value")
}

fn find(file: &Path, docs: &[Node], hint: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for doc in docs {
        let mut strings = Vec::new();
        doc.walk_strings(&mut Vec::new(), &mut strings);
        for (path, node) in strings {
            if node.as_str().is_some_and(is_placeholder) {
                out.push(
                    Diagnostic::error(ids::PLACEHOLDER, file, node.pos, "a placeholder value was left in")
                        .field(dotted(&path))
                        .hint(hint),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spots_placeholders_only() {
        for p in [
            "<token-1>",
            "<acm-certificate-arn>",
            "k8s.io/cluster-autoscaler/<YOUR CLUSTER NAME>",
            "<insert-your-kms-key-arn-here>",
        ] {
            assert!(is_placeholder(p), "{p}");
        }
        for p in [
            "a < b > c",
            "{JUPYTER_IMAGE_SPEC}",
            "x <",
            "<>",
            "if a<b:\n  <x>",
            "arn:aws:kms:us-west-2:1:key/x",
            "<br/>",
        ] {
            assert!(!is_placeholder(p), "{p}");
        }
    }
}
