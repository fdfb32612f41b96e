//! YAML documents as trees that remember where each value came from.
//!
//! Every command reports problems as `FILE:LINE:COL`, so parsed YAML keeps a line and column on
//! every node and mapping key. Parsing goes through serde-saphyr (the project's one YAML crate),
//! whose default budget bounds hostile input: alias bombs, deep nesting, duplicate keys and
//! oversized documents are refused with an error instead of eating memory.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

/// A place in a source file, 1-based.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl Pos {
    fn from_location(loc: serde_saphyr::Location) -> Pos {
        Pos { line: loc.line() as u32, col: loc.column() as u32 }
    }
}

/// One YAML value with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
}

/// A mapping entry: the key keeps its own position, so "unknown key" points at the key.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// A YAML parse failure, with the position the parser reported.
#[derive(Clone, Debug, PartialEq)]
pub struct ParseError {
    pub message: String,
    pub pos: Pos,
    /// The dotted path of the value at fault, when the parser's complaint is about one value.
    pub field: Option<String>,
}

impl ParseError {
    fn new(message: impl Into<String>, pos: Pos) -> ParseError {
        ParseError { message: message.into(), pos, field: None }
    }
}

fn parse_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.with_snippet = false;
    options
}

fn parse_error(err: serde_saphyr::Error) -> ParseError {
    let pos = err.location().map(Pos::from_location).unwrap_or(Pos { line: 1, col: 1 });
    let text = err.without_snippet().to_string();
    // serde-saphyr appends " at line X, column Y"; the position is reported separately.
    let message = match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    ParseError::new(message, pos)
}

/// Parses every document of a (possibly multi-document) YAML text. Empty documents are dropped.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, ParseError> {
    let docs: Vec<Option<Node>> = parse_multiple(text)?;
    Ok(docs.into_iter().flatten().filter(|n| n.value != Value::Null).collect())
}

/// Every document of `text` as `T` (`None` for an empty one), with the checks and error
/// positions every parse here shares.
fn parse_multiple<T: de::DeserializeOwned>(text: &str) -> Result<Vec<Option<T>>, ParseError> {
    refuse_tabs(text)?;
    serde_saphyr::from_str_multiple_with_options(text, parse_options()).map_err(|e| match e {
        serde_saphyr::Error::NonFiniteFloat { .. } => non_finite(text, parse_error(e)),
        e => parse_error(e),
    })
}

/// [`parse_documents`] straight to JSON values ([`Node::to_json`]), without positions: for long
/// texts that a program wrote and that are read only as objects (helm's output, a release's
/// manifest). Keeping a position on every node costs about as much again as the parse.
pub fn parse_documents_json(text: &str) -> Result<Vec<serde_json::Value>, ParseError> {
    let docs: Vec<Option<Json>> = parse_multiple(text)?;
    Ok(docs.into_iter().flatten().map(|j| j.0).filter(|v| !v.is_null()).collect())
}

/// The documents of a multi-document text, each as its own text: split at every line that is
/// exactly `---`, a document marker (YAML allows no such line inside a scalar), so each part
/// parses alone to what it is in the whole. A part may still hold several documents (a marker
/// with more on its line) or none.
pub fn document_texts(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end_matches(['\n', '\r']) == "---" {
            parts.push(&text[start..at]);
            start = at + line.len();
        }
        at += line.len();
    }
    parts.push(&text[start..]);
    parts.retain(|p| !p.trim().is_empty());
    parts
}

fn refuse_tabs(text: &str) -> Result<(), ParseError> {
    if text.contains('\t') {
        // Tabs are never valid YAML indentation; name the first one instead of a confusing
        // downstream parse error.
        if let Some((i, line)) = text.lines().enumerate().find(|(_, l)| {
            let indent: String = l.chars().take_while(|c| c.is_whitespace()).collect();
            indent.contains('\t')
        }) {
            let col = line.find('\t').unwrap_or(0) as u32 + 1;
            return Err(ParseError::new(
                "a tab character is used for indentation; YAML allows only spaces",
                Pos { line: i as u32 + 1, col },
            ));
        }
    }
    Ok(())
}

/// `.inf`, `-.inf` and `.nan` are refused (no deployment value is infinite, and JSON cannot hold
/// them); the error names the value's field, found by reading the text once more with such
/// values kept as strings.
fn non_finite(text: &str, e: ParseError) -> ParseError {
    let mut options = parse_options();
    options.non_finite_float_policy = serde_saphyr::NonFiniteFloatPolicy::AsString;
    let docs: Vec<Option<Node>> =
        serde_saphyr::from_str_multiple_with_options(text, options).unwrap_or_default();
    let mut strings = Vec::new();
    for doc in docs.iter().flatten() {
        doc.walk_strings(&mut Vec::new(), &mut strings);
    }
    let found = strings.iter().find(|(_, n)| n.pos.line == e.pos.line && n.pos.col <= e.pos.col);
    let found = found.or_else(|| strings.iter().find(|(_, n)| n.pos.line == e.pos.line));
    ParseError {
        message: match found.and_then(|(_, n)| n.as_str()) {
            Some(v) => format!("`{v}` is not a finite number"),
            None => "an infinite or not-a-number value is not a finite number".into(),
        },
        pos: found.map_or(e.pos, |(_, n)| n.pos),
        field: found.map(|(p, _)| dotted(p)),
    }
}

/// Parses a text that must hold exactly one document.
pub fn parse_single(text: &str) -> Result<Node, ParseError> {
    let mut docs = parse_documents(text)?;
    match docs.len() {
        0 => Err(ParseError::new("the file is empty", Pos { line: 1, col: 1 })),
        1 => Ok(docs.remove(0)),
        _ => Err(ParseError::new("the file holds several YAML documents; one is expected", docs[1].pos)),
    }
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    pub fn as_map(&self) -> &[Entry] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    /// Follows a path of keys and indices, e.g. `["managedNodeGroups", "0", "taints"]`.
    pub fn at<S: AsRef<str>>(&self, path: &[S]) -> Option<&Node> {
        let mut node = self;
        for seg in path {
            let seg = seg.as_ref();
            node = match &node.value {
                Value::Map(_) => node.get(seg)?,
                Value::Seq(items) => items.get(seg.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// The position that best names `path`: the node itself or, when it is missing, the
    /// nearest ancestor that exists. With `key` set, a mapping value is located at its key.
    pub fn locate<S: AsRef<str>>(&self, path: &[S], key: bool) -> Pos {
        let mut node = self;
        let mut pos = self.pos;
        for seg in path {
            let seg = seg.as_ref();
            match &node.value {
                Value::Map(entries) => match entries.iter().find(|e| e.key == seg) {
                    Some(e) => {
                        pos = if key { e.key_pos } else { e.value.pos };
                        node = &e.value;
                    }
                    None => return pos,
                },
                Value::Seq(items) => match seg.parse::<usize>().ok().and_then(|i| items.get(i)) {
                    Some(item) => {
                        pos = item.pos;
                        node = item;
                    }
                    None => return pos,
                },
                _ => return pos,
            }
        }
        pos
    }

    /// The JSON equivalent, for schema validation and typed deserialisation.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map(J::Number).unwrap_or(J::Null),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => {
                J::Object(entries.iter().map(|e| (e.key.clone(), e.value.to_json())).collect())
            }
        }
    }

    /// Every string scalar with its path, for rules that look at all values (placeholders).
    pub fn walk_strings<'a>(&'a self, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, &'a Node)>) {
        match &self.value {
            Value::Str(_) => out.push((path.clone(), self)),
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(i.to_string());
                    item.walk_strings(path, out);
                    path.pop();
                }
            }
            Value::Map(entries) => {
                for e in entries {
                    path.push(e.key.clone());
                    e.value.walk_strings(path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
}

/// `text` as the YAML value of a mapping key indented by `key_indent` spaces, so that every YAML
/// reader gives back exactly `text` (a kept option handler must reach the gateway byte for byte).
/// A literal block (`|`) when it reads back exactly — the form people write code in — with the
/// chomping indicator that keeps the text's trailing newlines (`|-` none, `|` one, `|+` more);
/// otherwise a double-quoted string with escapes: a block cannot hold a line of only spaces or
/// tabs (it reads back empty), a first line that starts with a space (read as indentation), a line
/// that starts with a tab (YAML parsers disagree on it; ours refuses it), a carriage return or a
/// character YAML 1.1 readers (PyYAML) take as a line break or refuse.
pub fn scalar_for_text(text: &str, key_indent: usize) -> String {
    let printable = |c: char| match c {
        '\t' | '\n' => true,
        ' '..='~' => true,
        '\u{a0}'..='\u{d7ff}' => !matches!(c, '\u{2028}' | '\u{2029}'),
        '\u{e000}'..='\u{fffd}' => c != '\u{feff}',
        '\u{10000}'..='\u{10ffff}' => true,
        _ => false,
    };
    let body = text.trim_end_matches('\n');
    let first = body.lines().find(|l| !l.is_empty());
    let block = first.is_some_and(|l| !l.starts_with(' '))
        && text.chars().all(printable)
        && body.lines().all(|l| !l.starts_with('\t') && (l.is_empty() || !l.chars().all(|c| c == ' ')));
    if !block {
        return double_quoted(text);
    }
    let chomp = match text.len() - body.len() {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let pad = " ".repeat(key_indent + 2);
    let mut out = format!("|{chomp}");
    // `split('\n')` keeps the empty lines between and after (for `|+`) the text's lines.
    for line in text[..text.len() - usize::from(chomp != "-")].split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    out
}

/// A YAML double-quoted scalar; everything but printable characters escaped.
pub fn double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            ' '..='~' => out.push(c),
            '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..='\u{10ffff}'
                if !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') =>
            {
                out.push(c)
            }
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{:04x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Renders a path as the dotted form users write (`hub.config.Authenticator.admin_users[0]`).
pub fn dotted<S: AsRef<str>>(path: &[S]) -> String {
    let mut out = String::new();
    for seg in path {
        let seg = seg.as_ref();
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    if out.is_empty() { "(top level)".into() } else { out }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(deserializer)?;
        Ok(Node { value: spanned.value, pos: Pos::from_location(spanned.referenced) })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v).map(Value::Int).or(Ok(Value::Float(v as f64)))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        i64::try_from(v).map(Value::Int).or(Ok(Value::Float(v as f64)))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        i64::try_from(v).map(Value::Int).or(Ok(Value::Float(v as f64)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<KeyText>>()? {
            let value = map.next_value::<Node>()?;
            entries.push(Entry { key: key.value.0, key_pos: Pos::from_location(key.referenced), value });
        }
        Ok(Value::Map(entries))
    }
}

/// A JSON value read from YAML as [`Node::to_json`] converts it (keys as text, a float JSON
/// cannot hold as null), without a [`Node`] tree in between.
struct Json(serde_json::Value);

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor).map(Json)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(v).map(Into::into).unwrap_or_else(|_| float(v as f64)))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Self::Value, E> {
        Ok(i64::try_from(v).map(Into::into).unwrap_or_else(|_| float(v as f64)))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Self::Value, E> {
        Ok(i64::try_from(v).map(Into::into).unwrap_or_else(|_| float(v as f64)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Json::deserialize(d).map(|j| j.0)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Json>()? {
            items.push(item.0);
        }
        Ok(serde_json::Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = serde_json::Map::new();
        while let Some(key) = map.next_key::<KeyText>()? {
            let value = map.next_value::<Json>()?;
            entries.insert(key.0, value.0);
        }
        Ok(serde_json::Value::Object(entries))
    }
}

fn float(f: f64) -> serde_json::Value {
    serde_json::Number::from_f64(f).map(serde_json::Value::Number).unwrap_or(serde_json::Value::Null)
}

/// Mapping keys are compared as text: `1: x` and `"1": x` name the same key for our purposes.
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(deserializer)?;
        Ok(KeyText(match v {
            Value::Str(s) => s,
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => "null".into(),
            Value::Seq(_) | Value::Map(_) => {
                return Err(de::Error::custom("a mapping key must be a plain value, not a list or mapping"));
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions_of_keys_and_values() {
        let doc = parse_single("a:\n  b: [1, \"x\"]\n  c: 1.30\n").unwrap();
        assert_eq!(doc.locate(&["a", "b"], true), Pos { line: 2, col: 3 });
        assert_eq!(doc.at(&["a", "b", "1"]).unwrap().as_str(), Some("x"));
        assert_eq!(doc.at(&["a", "c"]).unwrap().value, Value::Float(1.3));
        assert_eq!(doc.locate(&["a", "c"], false).line, 3);
    }

    /// Text of every awkward shape, each as it must read back, and the style it gets.
    pub const AWKWARD_TEXTS: &[(&str, &str)] = &[
        ("from x import y\ndef f(o):\n    return o  # the options\n", "|"),
        ("no newline at the end", "|-"),
        ("trailing spaces   \n  and more  \n", "|"),
        ("def f():\n\treturn 1\n", "\""),
        ("x = 1\t# a tab inside\n", "|"),
        ("# a comment first\nx = 1\n", "|"),
        ("\n\nx = 1  # after blank lines\n", "|"),
        ("x = 1\n\n\n", "|+"),
        ("x = 1\n   \ny = 2\n", "\""),
        ("x = 1\n\t\n", "\""),
        ("    indented first\n", "\""),
        ("windows\r\nline\r\n", "\""),
        ("next\u{85}line \u{2028} \u{feff}\u{7f}\u{1}", "\""),
        ("quotes \" and \\ back 'slash' t\u{eb}st: - [x] {y} &z *w !t %p @a `b", "|-"),
        ("", "\""),
        ("\n\n", "\""),
        ("---\n...\nx: |\n  y\n", "|"),
    ];

    #[test]
    fn text_scalars_read_back_byte_for_byte() {
        for (raw, style) in AWKWARD_TEXTS {
            let scalar = scalar_for_text(raw, 4);
            assert!(scalar.starts_with(style), "{raw:?} as {scalar}");
            let doc = format!("a:\n  b:\n    k: {scalar}\n    next: 1\nc: 2\n");
            let node = parse_single(&doc).unwrap_or_else(|e| panic!("{raw:?} as\n{doc}: {}", e.message));
            assert_eq!(node.at(&["a", "b", "k"]).and_then(Node::as_str), Some(*raw), "{doc}");
            let json: serde_json::Value = serde_saphyr::from_str(&doc).unwrap();
            assert_eq!(json["a"]["b"]["k"], *raw, "{doc}");
        }
    }

    #[test]
    fn quoted_version_stays_a_string() {
        let doc = parse_single("version: \"1.30\"\n").unwrap();
        assert_eq!(doc.get("version").unwrap().as_str(), Some("1.30"));
    }

    #[test]
    fn refuses_duplicate_keys_and_tabs() {
        let err = parse_single("a: 1\na: 2\n").unwrap_err();
        assert!(err.message.to_lowercase().contains("duplicate"), "{}", err.message);
        let err = parse_single("a:\n\tb: 1\n").unwrap_err();
        assert_eq!(err.pos.line, 2);
    }

    #[test]
    fn refuses_alias_bombs_quickly() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        assert!(parse_documents(&text).is_err());
    }

    #[test]
    fn json_documents_are_the_nodes_as_json() {
        let text =
            "a: 1\nb: [x, 2.5, true, null, 18446744073709551615]\n3: {\"q\": ~}\n---\n---\nc: \"1.30\"\n";
        let nodes: Vec<serde_json::Value> =
            parse_documents(text).unwrap().iter().map(Node::to_json).collect();
        assert_eq!(parse_documents_json(text).unwrap(), nodes);
        assert_eq!(nodes.len(), 2);
        assert_eq!(parse_documents_json("a: 1\na: 2\n").unwrap_err().pos.line, 2);
        assert_eq!(parse_documents_json("a:\n\tb: 1\n").unwrap_err().pos.line, 2);
    }

    #[test]
    fn document_texts_parse_alone_as_in_the_whole() {
        let text = "---\n# Source: a\na: |\n  ---\n  x\n---\nb: 1\n--- # two\nc: 2\n---\n";
        let parts = document_texts(text);
        assert_eq!(parts, vec!["# Source: a\na: |\n  ---\n  x\n", "b: 1\n--- # two\nc: 2\n"]);
        let alone: Vec<serde_json::Value> =
            parts.iter().flat_map(|p| parse_documents_json(p).unwrap()).collect();
        assert_eq!(alone, parse_documents_json(text).unwrap());
    }

    #[test]
    fn multi_document() {
        let docs = parse_documents("a: 1\n---\nb: 2\n---\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].pos.line, 3);
    }
}
