//! `pangeo-render validate [-c CONFIG] [PATH…]`: read the files, run `validate::validate`, print.
//!
//! Exit codes: 0 valid (warnings allowed unless `--strict`), 1 invalid, 2 usage or I/O error
//! (a missing file is the caller's mistake, not a finding). Text goes to stderr like every
//! other diagnostic of the tool; JSON goes to stdout for machines.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::cli::ValidateArgs;
use crate::error::{Error, Result};
use crate::report::{self, Diagnostic, Format};
use crate::rules;
use crate::validate::{self, Input, MAX_FILE_BYTES};
use crate::yaml::Pos;

pub fn run(args: &ValidateArgs) -> Result<i32> {
    if args.config.is_none() && args.paths.is_empty() {
        return Err(Error::Usage("nothing to validate: give files (e.g. rendered/*.yaml) and/or -c CONFIG".into()));
    }
    let mut paths = Vec::new();
    for p in &args.paths {
        expand(p, &mut paths)?;
    }
    let mut refused = Vec::new();
    let mut keep = |path: &Path, r: FileText| match r {
        FileText::Text(t) => Some((path.to_path_buf(), t)),
        FileText::Refused(d) => {
            refused.push(d);
            None
        }
    };
    let config_file = match &args.config {
        Some(p) => keep(p, read(p)?),
        None => None,
    };
    let mut texts = Vec::new();
    for p in &paths {
        texts.extend(keep(p, read(p)?));
    }

    let config = config_file.as_ref().map(|(path, text)| Input { path, text });
    let inputs: Vec<Input> = texts.iter().map(|(path, text)| Input { path, text }).collect();
    let mut diags = validate::validate(config, &inputs);
    if !refused.is_empty() {
        diags.extend(refused);
        report::sort(&mut diags);
    }

    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    let failed = errors > 0 || (args.strict && warnings > 0);
    let files = paths.len() + usize::from(args.config.as_ref().is_some_and(|c| !paths.contains(c)));
    match args.format {
        Format::Json => {
            let mut out = std::io::stdout().lock();
            report::write_json(&mut out, &diags).map_err(|e| Error::io("<stdout>", e))?;
        }
        Format::Text => {
            let mut err = anstream::stderr();
            let _ = report::write_text(&mut err, &diags);
            if !diags.is_empty() || failed {
                let verdict = if failed { "invalid" } else { "valid" };
                let _ = writeln!(err, "{errors} error(s), {warnings} warning(s) in {files} file(s): {verdict}");
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

/// A directory stands for the YAML files directly in it (what `values -o DIR` writes).
fn expand(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if !path.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| Error::io(path, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    found.sort();
    out.extend(found);
    Ok(())
}

/// A file's text, or the finding that it cannot be a deployment file at all.
enum FileText {
    Text(String),
    Refused(Diagnostic),
}

/// Reads a file, refusing before reading it all when it is far too large to be a deployment
/// file (a 50 MB "YAML" file is a mistake, and must not cost 50 MB of parsing).
fn read(path: &Path) -> Result<FileText> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES as u64 + 1).read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
    if bytes.len() > MAX_FILE_BYTES {
        return Ok(FileText::Refused(validate::too_large(path)));
    }
    Ok(match String::from_utf8(bytes) {
        Ok(text) => FileText::Text(text),
        Err(e) => FileText::Refused(
            Diagnostic::error(rules::YAML_SYNTAX, path, Pos { line: 1, col: 1 }, format!("not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()))
                .hint("YAML files are UTF-8 text"),
        ),
    })
}
