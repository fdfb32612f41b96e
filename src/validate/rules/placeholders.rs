//! PR003: `<placeholder>` values left in an artifact, like the walkthrough's `<token-1>`,
//! `<acm-certificate-arn>` or the autoscaler example's `k8s.io/cluster-autoscaler/<YOUR CLUSTER NAME>`.
//! Runs per file, on every string value. Code blocks (multi-line strings) are skipped: Python
//! and shell legitimately contain `<…>`.

use std::path::Path;

use crate::diag::Diagnostic;
use crate::diag::ids;
use crate::yaml::{Node, dotted};

/// One definition, shared with the config checks (config sits left of validate).
pub use crate::config::is_placeholder;

pub fn check_file(file: &Path, docs: &[Node]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for doc in docs {
        let mut strings = Vec::new();
        doc.walk_strings(&mut Vec::new(), &mut strings);
        for (path, node) in strings {
            if node.as_str().is_some_and(is_placeholder) {
                out.push(
                    Diagnostic::error(ids::PLACEHOLDER, file, node.pos, "a placeholder value was left in")
                        .field(dotted(&path))
                        .hint(
                            "replace it with the real value, or render the file with `pangeo-render values`",
                        ),
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
