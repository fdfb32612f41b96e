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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
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

pub fn write_json(out: &mut dyn Write, diags: &[Diagnostic]) -> std::io::Result<()> {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let doc = serde_json::json!({
        "valid": errors == 0,
        "errors": errors,
        "warnings": diags.len() - errors,
        "diagnostics": diags,
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}
