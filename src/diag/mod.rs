//! Diagnostics: what is wrong, where, and how to fix it — and the one place that prints them.
//!
//! Every problem the tool finds in user files becomes a [`Diagnostic`]. It is printed as
//! `FILE:LINE:COL: error[ID]: message` followed by `  hint: …`, coloured on a terminal (honouring
//! NO_COLOR through anstream), or as JSON for machines. Messages never quote secret values.
//!
//! [`ids`] is the catalogue of rule ids; [`schema`] turns JSON Schema errors into diagnostics
//! placed at the offending key or value; [`source`] reads a user's YAML file and words what is
//! wrong with it at the YAML level.

pub mod ids;
pub mod schema;
pub mod source;

use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::yaml::Pos;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diagnostic {
    /// A stable rule id (`PR…`), documented in the README; never reused for another rule.
    pub id: &'static str,
    pub severity: Severity,
    pub file: PathBuf,
    pub line: u32,
    pub col: u32,
    /// The field, as a dotted path (`cluster.region`), when the problem has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(id: &'static str, file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            id,
            severity: Severity::Error,
            file: file.to_path_buf(),
            line: pos.line,
            col: pos.col,
            field: None,
            message: message.into(),
            hint: None,
        }
    }

    pub fn warning(id: &'static str, file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(id, file, pos, message) }
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// `-o/--output`: how a command reports. Text is for people (diagnostics on stderr); JSON and
/// YAML are one document on stdout for machines, with `apiVersion` and `kind` like a Kubernetes
/// object, its shape described by a schema in `schemas/` (see [`write_document`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Output {
    #[default]
    Text,
    Json,
    Yaml,
}

impl Output {
    pub fn name(self) -> &'static str {
        match self {
            Output::Text => "text",
            Output::Json => "json",
            Output::Yaml => "yaml",
        }
    }
}

/// The `apiVersion` of every document the tool prints, the same as the config's.
pub const API_VERSION: &str = "pangeo-render/v1alpha1";

/// Writes `body` (a struct serialising to a JSON object) as a `kind` document: `apiVersion` and
/// `kind` first, then the body's fields, in JSON (pretty) or YAML.
pub fn write_document(
    out: &mut dyn Write,
    format: Output,
    kind: &str,
    body: &impl Serialize,
) -> std::io::Result<()> {
    let mut doc = serde_json::Map::new();
    doc.insert("apiVersion".into(), API_VERSION.into());
    doc.insert("kind".into(), kind.into());
    match serde_json::to_value(body)? {
        serde_json::Value::Object(fields) => doc.extend(fields),
        other => unreachable!("a report body serialises to an object, not {other}"),
    }
    let doc = serde_json::Value::Object(doc);
    match format {
        Output::Yaml => {
            let text = serde_saphyr::to_string(&doc).map_err(std::io::Error::other)?;
            out.write_all(text.as_bytes())?;
            if !text.ends_with('\n') {
                writeln!(out)?;
            }
            Ok(())
        }
        Output::Json | Output::Text => {
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)
        }
    }
}

/// Warns that a spelling old scripts use still works but will go, naming the new one.
pub fn deprecated(message: &str) {
    let warn = anstyle::AnsiColor::Yellow.on_default().bold();
    let _ = writeln!(anstream::stderr(), "{warn}warning:{warn:#} deprecated: {message}");
}

/// Sorts diagnostics by file and position so output is stable and reads top to bottom.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| (&a.file, a.line, a.col, a.id).cmp(&(&b.file, b.line, b.col, b.id)));
}

/// Writes diagnostics in text form (to stderr by convention).
pub fn write_text(out: &mut dyn Write, diags: &[Diagnostic]) -> std::io::Result<()> {
    use anstyle::{AnsiColor, Style};
    let bold = Style::new().bold();
    let err = AnsiColor::Red.on_default().bold();
    let warn = AnsiColor::Yellow.on_default().bold();
    let hint = AnsiColor::Cyan.on_default();
    for d in diags {
        let (label, style) = match d.severity {
            Severity::Error => ("error", err),
            Severity::Warning => ("warning", warn),
        };
        let field = d.field.as_deref().map(|f| format!(" {f}:")).unwrap_or_default();
        writeln!(
            out,
            "{bold}{}:{}:{}:{bold:#} {style}{label}[{}]{style:#}:{field} {}",
            d.file.display(),
            d.line,
            d.col,
            d.id,
            d.message
        )?;
        if let Some(h) = &d.hint {
            writeln!(out, "  {hint}hint:{hint:#} {h}")?;
        }
    }
    Ok(())
}

/// A `ValidationReport` document (schemas/validation-report.schema.json).
pub fn write_validation_report(
    out: &mut dyn Write,
    format: Output,
    diags: &[Diagnostic],
) -> std::io::Result<()> {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let body = serde_json::json!({
        "valid": errors == 0,
        "errors": errors,
        "warnings": diags.len() - errors,
        "diagnostics": diags,
    });
    write_document(out, format, "ValidationReport", &body)
}
