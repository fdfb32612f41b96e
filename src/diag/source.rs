//! A user's YAML file as text, and what is wrong with it at the YAML level — one wording for
//! every command. A file far too large to be a deployment file, bytes that are not UTF-8, and
//! the parser's refusals (syntax, duplicate keys, alias bombs, deep nesting) become a
//! [`Diagnostic`] with rule PR001 at the place it happened.

use std::io::Read;
use std::path::Path;

use super::Diagnostic;
use super::ids;
use crate::yaml::{ParseError, Pos};

/// Deployment files are a few kilobytes; anything this large is refused before parsing.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;

/// A file's text, or the finding that it cannot be a deployment file at all.
pub enum FileText {
    Text(String),
    Refused(Diagnostic),
}

/// Reads a file, refusing before reading it all when it is far too large to be a deployment
/// file (a 50 MB "YAML" file is a mistake, and must not cost 50 MB of parsing).
pub fn read(path: &Path) -> std::io::Result<FileText> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES as u64 + 1).read_to_end(&mut bytes)?;
    Ok(text(path, bytes))
}

/// The text of `bytes` read from `path`, or why it is not a YAML file.
pub fn text(path: &Path, bytes: Vec<u8>) -> FileText {
    if bytes.len() > MAX_FILE_BYTES {
        return FileText::Refused(too_large(path));
    }
    match String::from_utf8(bytes) {
        Ok(text) => FileText::Text(text),
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
            let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let col = String::from_utf8_lossy(&valid[line_start..]).chars().count() + 1;
            let pos = Pos { line: line as u32, col: col as u32 };
            FileText::Refused(
                Diagnostic::error(ids::YAML_SYNTAX, path, pos, "not UTF-8 text: an invalid byte here")
                    .hint("YAML files are UTF-8 text; save the file as UTF-8"),
            )
        }
    }
}

/// The finding for a file over [`MAX_FILE_BYTES`].
pub fn too_large(path: &Path) -> Diagnostic {
    Diagnostic::error(
        ids::YAML_SYNTAX,
        path,
        Pos { line: 1, col: 1 },
        format!("the file is larger than {} MiB", MAX_FILE_BYTES >> 20),
    )
    .hint("deployment files are a few kilobytes; is this the right file?")
}

/// The parser's refusal in users' words, with a hint. Budget breaches (alias bombs, deep
/// nesting) are named for what they are rather than by the parser's internal counters.
pub fn parse_error(path: &Path, e: ParseError) -> Diagnostic {
    const LIMIT: &str = "deployment files are small and shallow; input this large or deep is refused to bound time and memory";
    let message = e.message;
    let (message, hint) = if let Some(field) = e.field {
        return Diagnostic::error(ids::YAML_SYNTAX, path, e.pos, message)
            .field(field)
            .hint("write a finite number (YAML reads .inf, -.inf and .nan as infinity and not-a-number)");
    } else if let Some((m, _)) = message.split_once(", set DuplicateKeyPolicy") {
        (m.to_string(), "remove one of the two; YAML tools disagree on which one wins")
    } else if message.starts_with("budget breached") || message.starts_with("recursion limit") {
        let what = if message.contains("Depth") || message.starts_with("recursion") {
            "the YAML is nested too deeply"
        } else if message.contains("Alias") || message.contains("Nodes") || message.contains("Events") {
            "the YAML expands to too many values (aliases repeated inside aliases?)"
        } else {
            "the YAML exceeds the parser's safety limits"
        };
        (what.to_string(), LIMIT)
    } else {
        (message, "fix the YAML at this position")
    };
    Diagnostic::error(ids::YAML_SYNTAX, path, e.pos, message).hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_points_at_the_byte() {
        let FileText::Refused(d) = text(Path::new("a.yaml"), b"a: 1\nbb: \xff\n".to_vec()) else {
            panic!("accepted invalid UTF-8")
        };
        assert_eq!((d.line, d.col), (2, 5));
        assert_eq!(d.id, ids::YAML_SYNTAX);
    }

    #[test]
    fn parser_counters_become_words() {
        let e = ParseError {
            message: "budget breached: Depth > 100".into(),
            pos: Pos { line: 3, col: 1 },
            field: None,
        };
        assert_eq!(parse_error(Path::new("a.yaml"), e).message, "the YAML is nested too deeply");
    }
}
