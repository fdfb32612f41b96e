//! JSON Schemas shipped in `schemas/`, compiled once per process and only when needed, and
//! schema errors turned into diagnostics that point at the offending line.
//!
//! Messages are written here rather than taken from the jsonschema crate, because its messages
//! quote the offending value — and the value may be a token or a password hash.

use jsonschema::Validator;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use std::path::Path;
use std::sync::OnceLock;

use crate::diag::Diagnostic;
use crate::diag::ids;
use crate::yaml::{Node, dotted};

/// A schema embedded in the binary.
pub struct Schema {
    pub name: &'static str,
    text: &'static str,
    compiled: OnceLock<Validator>,
}

impl Schema {
    pub const fn new(name: &'static str, text: &'static str) -> Self {
        Schema { name, text, compiled: OnceLock::new() }
    }

    pub fn validator(&self) -> &Validator {
        self.compiled.get_or_init(|| {
            let value: serde_json::Value =
                serde_json::from_str(self.text).unwrap_or_else(|e| panic!("schemas/{}: {e}", self.name));
            jsonschema::validator_for(&value).unwrap_or_else(|e| panic!("schemas/{}: {e}", self.name))
        })
    }

    /// The schema file's text, byte for byte.
    pub fn text(&self) -> &'static str {
        self.text
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.text).expect("embedded schema is JSON")
    }
}

pub static CONFIG: Schema =
    Schema::new("pangeo-config.schema.json", include_str!("../../schemas/pangeo-config.schema.json"));

/// The documents `-o json|yaml` prints; only `pangeo-render schema output` and the tests use it.
pub static OUTPUT: Schema =
    Schema::new("output.schema.json", include_str!("../../schemas/output.schema.json"));

/// Validates `node` (parsed from `file`) and returns one diagnostic per schema error. `prefix` is
/// prepended to reported field paths when `node` is a section of a larger document.
pub fn check(schema: &Schema, file: &Path, node: &Node, prefix: &[&str]) -> Vec<Diagnostic> {
    let instance = node.to_json();
    let mut out = Vec::new();
    for err in schema.validator().iter_errors(&instance) {
        let path: Vec<String> = err
            .instance_path()
            .iter()
            .map(|seg| match seg {
                LocationSegment::Property(p) => p.to_string(),
                LocationSegment::Index(i) => i.to_string(),
            })
            .collect();
        let mut full: Vec<String> = prefix.iter().map(|p| p.to_string()).collect();
        full.extend(path.iter().cloned());
        let (message, hint, at_key, extra) = describe(err.kind(), &path, node);
        let mut located = path.clone();
        if let Some(child) = extra {
            located.push(child.clone());
            full.push(child);
        }
        let pos = node.locate(&located, at_key);
        let mut d = Diagnostic::error(ids::SCHEMA, file, pos, message).field(dotted(&full));
        if let Some(h) = hint {
            d = d.hint(h);
        }
        out.push(d);
    }
    out
}

type Described = (String, Option<String>, bool, Option<String>);

fn type_name(value: Option<&Node>) -> &'static str {
    use crate::yaml::Value;
    match value.map(|n| &n.value) {
        Some(Value::Null) | None => "null",
        Some(Value::Bool(_)) => "a boolean",
        Some(Value::Int(_)) => "an integer",
        Some(Value::Float(_)) => "a number",
        Some(Value::Str(_)) => "a string",
        Some(Value::Seq(_)) => "a list",
        Some(Value::Map(_)) => "a mapping",
    }
}

fn kinds(kind: &TypeKind) -> String {
    let name = |t: &jsonschema::JsonType| match t.to_string().as_str() {
        "object" => "a mapping".to_string(),
        "array" => "a list".to_string(),
        "string" => "a string".to_string(),
        "integer" => "an integer".to_string(),
        "number" => "a number".to_string(),
        "boolean" => "a boolean (true/false)".to_string(),
        other => other.to_string(),
    };
    match kind {
        TypeKind::Single(t) => name(t),
        TypeKind::Multiple(ts) => ts.iter().map(|t| name(&t)).collect::<Vec<_>>().join(" or "),
    }
}

fn describe(kind: &ValidationErrorKind, path: &[String], root: &Node) -> Described {
    let here = root.at(path);
    match kind {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let key = unexpected.first().cloned().unwrap_or_default();
            (
                format!("unknown key `{key}`"),
                Some("remove it or check its spelling against the documented keys".into()),
                true,
                Some(key),
            )
        }
        ValidationErrorKind::Required { property } => {
            let p = property.as_str().unwrap_or_default();
            (format!("missing required key `{p}`"), Some(format!("add `{p}:` here")), true, None)
        }
        ValidationErrorKind::Type { kind } => {
            let found = type_name(here);
            let mut hint = Some(format!("write {} here", kinds(kind)));
            if found == "a number" && kinds(kind).contains("string") {
                hint = Some("quote the value so YAML keeps it as text, e.g. \"1.30\" (unquoted 1.30 is the number 1.3)".into());
            }
            (format!("expected {}, found {found}", kinds(kind)), hint, false, None)
        }
        ValidationErrorKind::Enum { options } => {
            let opts = options
                .as_array()
                .map(|a| a.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", "))
                .unwrap_or_default();
            (
                "value is not one of the allowed values".into(),
                Some(format!("use one of: {opts}")),
                false,
                None,
            )
        }
        ValidationErrorKind::Constant { expected_value } => {
            (format!("must be {expected_value}"), Some(format!("set it to {expected_value}")), false, None)
        }
        ValidationErrorKind::Pattern { pattern } => (
            "value does not have the expected form".into(),
            Some(format!("it must match the pattern {pattern}")),
            false,
            None,
        ),
        ValidationErrorKind::MinItems { limit } => {
            (format!("needs at least {limit} item(s)"), Some("add the missing entries".into()), false, None)
        }
        ValidationErrorKind::MaxItems { limit } => {
            (format!("allows at most {limit} item(s)"), Some("remove entries".into()), false, None)
        }
        ValidationErrorKind::MinLength { limit } => (
            format!("must be at least {limit} character(s) long"),
            Some("fill in the value".into()),
            false,
            None,
        ),
        ValidationErrorKind::MaxLength { limit } => (
            format!("must be at most {limit} character(s) long"),
            Some("shorten the value".into()),
            false,
            None,
        ),
        ValidationErrorKind::Minimum { limit } => {
            (format!("must be at least {limit}"), Some(format!("use a value ≥ {limit}")), false, None)
        }
        ValidationErrorKind::Maximum { limit } => {
            (format!("must be at most {limit}"), Some(format!("use a value ≤ {limit}")), false, None)
        }
        ValidationErrorKind::ExclusiveMinimum { limit } => {
            (format!("must be greater than {limit}"), Some(format!("use a value > {limit}")), false, None)
        }
        ValidationErrorKind::ExclusiveMaximum { limit } => {
            (format!("must be less than {limit}"), Some(format!("use a value < {limit}")), false, None)
        }
        ValidationErrorKind::UniqueItems => {
            ("items must be unique".into(), Some("remove the repeated entry".into()), false, None)
        }
        ValidationErrorKind::OneOfNotValid { .. } | ValidationErrorKind::AnyOf { .. } => (
            "value matches none of the allowed forms".into(),
            Some("see the schema for the accepted forms".into()),
            false,
            None,
        ),
        other => (
            format!("schema violation ({})", short_kind(other)),
            Some("see the schema for this key".into()),
            false,
            None,
        ),
    }
}

fn short_kind(kind: &ValidationErrorKind) -> String {
    let text = format!("{kind:?}");
    text.split([' ', '{', '(']).next().unwrap_or("").to_string()
}
