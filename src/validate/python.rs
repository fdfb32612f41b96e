//! Just enough of Python to read the Dask Gateway options handler back out of `daskhub.yaml`.
//!
//! The handler is Python that the gateway `exec()`s, so its option defaults and bounds live only
//! in that text: `Float("worker_cores", default=0.8, min=0.8, max=4.0, …)` and
//! `c.ClusterConfig.cluster_max_workers = 24`. A user editing the file edits them there. This is
//! a small tokenizer for call arguments (strings, numbers, nested brackets), not a Python parser:
//! anything it does not understand is skipped, never guessed at. No regex, so no compile cost.

/// One `Float(...)`/`Integer(...)`/`String(...)` option found in the text.
#[derive(Clone, Debug, PartialEq)]
pub struct OptionCall {
    /// `Float`, `Integer` or `String`.
    pub kind: String,
    /// The first positional argument: the option's name.
    pub name: String,
    /// Keyword arguments whose values are plain literals (numbers or strings).
    pub kwargs: Vec<Kwarg>,
    /// Where the call starts (byte offset in the text).
    pub offset: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Kwarg {
    pub key: String,
    pub value: Literal,
    pub offset: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Number(f64),
    Str(String),
    /// Anything else (an expression, a name): known to be there, value unknown.
    Other,
}

impl OptionCall {
    pub fn get(&self, key: &str) -> Option<&Kwarg> {
        self.kwargs.iter().find(|k| k.key == key)
    }
    pub fn number(&self, key: &str) -> Option<(f64, usize)> {
        match self.get(key) {
            Some(Kwarg { value: Literal::Number(n), offset, .. }) => Some((*n, *offset)),
            _ => None,
        }
    }
}

const OPTION_KINDS: &[&str] = &["Float", "Integer", "String", "Select", "Bool", "Mapping"];

/// A real handler declares a handful of options; a text with more is not one, and reading it
/// further would only cost time (each call's position is looked up in the file).
const MAX_CALLS: usize = 64;

/// Every option constructor call in `text`, in order (at most [`MAX_CALLS`]).
pub fn option_calls(text: &str) -> Vec<OptionCall> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        // Skip comments and string literals so that `Float(` inside them is not a call.
        match bytes[i] {
            b'#' => {
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
                continue;
            }
            b'"' | b'\'' => {
                i = skip_string(bytes, i).unwrap_or(bytes.len());
                continue;
            }
            _ => {}
        }
        if is_ident_start(bytes[i]) && (i == 0 || !is_ident(bytes[i - 1]) && bytes[i - 1] != b'.') {
            let end = ident_end(bytes, i);
            let word = &text[i..end];
            if OPTION_KINDS.contains(&word)
                && bytes.get(end) == Some(&b'(')
                && let Some((call, next)) = parse_call(text, word, i, end + 1)
            {
                out.push(call);
                if out.len() == MAX_CALLS {
                    break;
                }
                i = next;
                continue;
            }
            i = end;
            continue;
        }
        i += 1;
    }
    out
}

/// `c.ClusterConfig.cluster_max_workers = N`: the value and the byte offset of N.
pub fn assignment(text: &str, target: &str) -> Option<(Literal, usize)> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix(target) {
            let rest_trim = rest.trim_start();
            if let Some(value) = rest_trim.strip_prefix('=').filter(|v| !v.starts_with('=')) {
                let value_start =
                    offset + (line.len() - trimmed.len()) + target.len() + (rest.len() - rest_trim.len()) + 1;
                let lead = value.len() - value.trim_start().len();
                let text_value = value.split('#').next().unwrap_or("").trim();
                return Some((literal(text_value), value_start + lead));
            }
        }
        offset += line.len();
    }
    None
}

/// 1-based (line, column) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() as u32 + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
    (line, col)
}

fn parse_call(text: &str, kind: &str, start: usize, mut i: usize) -> Option<(OptionCall, usize)> {
    let bytes = text.as_bytes();
    let mut name = None;
    let mut kwargs = Vec::new();
    loop {
        i = skip_space(bytes, i);
        match bytes.get(i)? {
            b')' => break,
            b',' => {
                i += 1;
                continue;
            }
            _ => {}
        }
        // `key=value` or a positional argument.
        let mut key = None;
        if is_ident_start(bytes[i]) {
            let end = ident_end(bytes, i);
            let after = skip_space(bytes, end);
            if bytes.get(after) == Some(&b'=') && bytes.get(after + 1) != Some(&b'=') {
                key = Some(text[i..end].to_string());
                i = skip_space(bytes, after + 1);
            }
        }
        let value_start = i;
        i = skip_expression(bytes, i)?;
        let value = literal(text[value_start..i].trim());
        match key {
            Some(key) => kwargs.push(Kwarg { key, value, offset: value_start }),
            // The first positional argument is the option's name; later ones are not needed.
            None if name.is_none() => {
                name = Some(match value {
                    Literal::Str(s) => s,
                    _ => String::new(),
                });
            }
            None => {}
        }
    }
    Some((
        OptionCall { kind: kind.to_string(), name: name.unwrap_or_default(), kwargs, offset: start },
        i + 1,
    ))
}

/// Advances over one argument expression, up to the `,` or `)` that ends it.
fn skip_expression(bytes: &[u8], mut i: usize) -> Option<usize> {
    let mut depth = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'\'' => {
                i = skip_string(bytes, i)?;
                continue;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' if depth > 0 => depth -= 1,
            b')' | b',' if depth == 0 => return Some(i),
            b']' | b'}' => return None,
            _ => {}
        }
        i += 1;
    }
    None
}

/// Index just past a string literal starting at `i` (single, double or triple quoted, with an
/// optional prefix already consumed by the caller).
fn skip_string(bytes: &[u8], i: usize) -> Option<usize> {
    let q = bytes[i];
    let triple = bytes.get(i + 1) == Some(&q) && bytes.get(i + 2) == Some(&q);
    let mut j = if triple { i + 3 } else { i + 1 };
    while j < bytes.len() {
        match bytes[j] {
            b'\\' => j += 2,
            c if c == q => {
                if !triple {
                    return Some(j + 1);
                }
                if bytes.get(j + 1) == Some(&q) && bytes.get(j + 2) == Some(&q) {
                    return Some(j + 3);
                }
                j += 1;
            }
            b'\n' if !triple => return None,
            _ => j += 1,
        }
    }
    None
}

/// A literal's value: numbers (with `_` separators, optional sign) and simple strings.
fn literal(text: &str) -> Literal {
    let t = text.trim();
    if let Some(s) = plain_string(t) {
        return Literal::Str(s);
    }
    let digits: String = t.chars().filter(|c| *c != '_').collect();
    match digits.parse::<f64>() {
        Ok(n)
            if n.is_finite()
                && !digits.is_empty()
                && !digits.contains(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E') =>
        {
            Literal::Number(n)
        }
        _ => Literal::Other,
    }
}

/// `"text"` or `'text'` with no escapes, prefixes or concatenation; anything else is not plain.
fn plain_string(t: &str) -> Option<String> {
    let q = t.chars().next()?;
    if (q != '"' && q != '\'') || t.len() < 2 || !t.ends_with(q) {
        return None;
    }
    let inner = &t[1..t.len() - 1];
    (!inner.contains(q) && !inner.contains('\\')).then(|| inner.to_string())
}

fn skip_space(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            _ => break,
        }
    }
    i
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn ident_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && is_ident(bytes[i]) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    const HANDLER: &str = r#"from dask_gateway_server.options import Options, Float, String

def option_handler(options):
    if ":" not in options.image:  # Float("fake", default=1)
        raise ValueError("Float(x)")
    return {}

c.Backend.cluster_options = Options(
    Float("worker_cores", default=0.8, min=0.8, max=4.0, label="Worker Cores"),
    Float(
        "worker_memory",
        default=3.3,
        min=1,
        max=8_0,
        label="Worker Memory (GiB)",
    ),
    String("image", default="pangeo/base-notebook:2023.10.28", label="Image"),
    handler=option_handler,
)
c.ClusterConfig.cluster_max_workers = 24  # per cluster
"#;

    #[test]
    fn finds_calls_and_literals() {
        let calls = option_calls(HANDLER);
        let names: Vec<_> = calls.iter().map(|c| (c.kind.as_str(), c.name.as_str())).collect();
        assert_eq!(names, [("Float", "worker_cores"), ("Float", "worker_memory"), ("String", "image")]);
        assert_eq!(calls[0].number("default").map(|n| n.0), Some(0.8));
        assert_eq!(calls[1].number("max").map(|n| n.0), Some(80.0));
        let (line, col) = line_col(HANDLER, calls[1].number("min").unwrap().1);
        assert_eq!((line, col), (13, 13));
        assert_eq!(
            calls[2].get("default").unwrap().value,
            Literal::Str("pangeo/base-notebook:2023.10.28".into())
        );
        let (v, off) = assignment(HANDLER, "c.ClusterConfig.cluster_max_workers").unwrap();
        assert_eq!(v, Literal::Number(24.0));
        assert_eq!(line_col(HANDLER, off), (20, 39));
    }

    #[test]
    fn survives_garbage() {
        for text in [
            "Float(",
            "Float(\"x\", default=",
            "Float(\"x\" default=1)",
            "Float('''",
            ")))Float(((",
            "Float(\"a\", default=[1, 2)",
        ] {
            let _ = option_calls(text);
            let _ = assignment(text, "Float");
        }
        assert_eq!(
            option_calls("Float(\"x\", default=foo(1, 2), min=-1)")[0].number("min").map(|n| n.0),
            Some(-1.0)
        );
    }
}
