//! `pangeo-render validate [-c CONFIG] [PATH…]`: read the files, run `validate::validate`, print.
//!
//! Exit codes: 0 valid (warnings allowed unless `--strict`), 1 invalid, 2 usage or I/O error
//! (a missing file is the caller's mistake, not a finding). Text goes to stderr like every
//! other diagnostic of the tool; JSON goes to stdout for machines.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::cli::ValidateArgs;
use crate::diag::source::{self, FileText, MAX_FILE_BYTES};
use crate::diag::{self, Diagnostic, Output, ids};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::validate::{self, Input};
use crate::yaml::Pos;

/// The verdict of one run: its exit code and what it found.
pub struct Verdict {
    pub code: i32,
    pub errors: usize,
    pub warnings: usize,
}

/// Validates `args.config` and `args.paths`; JSON goes to `out`, text to `err`.
pub fn run(args: &ValidateArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<Verdict> {
    if args.config.is_none() && args.paths.is_empty() {
        return Err(Error::Usage(
            "nothing to validate: give files (e.g. rendered/*.yaml) and/or -c CONFIG".into(),
        ));
    }
    let stdin_uses = args.paths.iter().chain(&args.config).filter(|p| fsutil::is_stdio(p)).count();
    if stdin_uses > 1 {
        return Err(Error::Usage("`-` (stdin) can be given only once".into()));
    }
    let format = output_format(args);
    let mut paths = Vec::new();
    for p in &args.paths {
        expand(p, &mut paths)?;
    }
    // A Python file is no YAML: it is checked as the kept option handler of the config beside it
    // that names it (daskGateway.optionHandler.file), which joins as context — so a commit that
    // changes only the handler is still checked against the config's worker bounds (PR035).
    let (handlers, paths): (Vec<PathBuf>, Vec<PathBuf>) =
        paths.into_iter().partition(|p| p.extension().is_some_and(|x| x == "py"));
    let mut refused = Vec::new();
    let mut keep = |path: &Path, r: FileText| match r {
        FileText::Text(t) if fsutil::is_stdio(path) => Some((PathBuf::from(fsutil::STDIN_NAME), t)),
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

    // Files of the same deployment that were not named: read quietly, used as context only.
    // Standard input has no directory, so it brings no context.
    let mut named: Vec<&Path> =
        paths.iter().chain(&handlers).map(PathBuf::as_path).filter(|p| !fsutil::is_stdio(p)).collect();
    named.extend(args.config.as_deref().filter(|p| !fsutil::is_stdio(p)));
    let neighbours = args.context.clone().unwrap_or_else(|| siblings(&named));
    let context: Vec<(PathBuf, String)> =
        neighbours.into_iter().filter_map(|p| quiet_read(&p).map(|t| (p, t))).collect();

    let config = config_file.as_ref().map(|(path, text)| Input { path, text });
    let inputs: Vec<Input> = texts.iter().map(|(path, text)| Input { path, text }).collect();
    let context: Vec<Input> = context.iter().map(|(path, text)| Input { path, text }).collect();
    let named_handlers: Vec<&Path> = handlers.iter().map(PathBuf::as_path).collect();
    let mut diags = validate::validate_with_context(config, &inputs, &context, &named_handlers);
    let yaml_files: Vec<&Input> = config.iter().chain(&inputs).chain(&context).collect();
    for handler in handlers.iter().filter(|h| !named_as_handler(h, &yaml_files)) {
        diags.push(
            Diagnostic::warning(
                ids::UNKNOWN_KIND,
                handler,
                Pos { line: 1, col: 1 },
                "a Python file that no config beside it names as its option handler; skipped",
            )
            .hint(
                "validate checks a Python file as the Dask Gateway option handler a config names \
                 (daskGateway.optionHandler.file)",
            ),
        );
        diag::sort(&mut diags);
    }
    if args.refuse_plaintext_secrets {
        diags.extend(config.iter().chain(&inputs).flat_map(validate::plaintext::check));
        diag::sort(&mut diags);
        diags.dedup();
    }
    if args.ignore_unknown {
        diags.retain(|d| d.id != ids::UNKNOWN_KIND);
    }
    if !refused.is_empty() {
        diags.extend(refused);
        diag::sort(&mut diags);
    }

    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    let failed = errors > 0 || (args.strict && warnings > 0);
    let files =
        paths.len() + handlers.len() + usize::from(args.config.as_ref().is_some_and(|c| !paths.contains(c)));
    match format {
        Output::Json | Output::Yaml => {
            diag::write_validation_report(out, format, &diags).map_err(|e| Error::io("<stdout>", e))?;
        }
        Output::Text => {
            let _ = diag::write_text(err, &diags);
            if !diags.is_empty() || failed {
                let verdict = if failed { "invalid" } else { "valid" };
                let _ =
                    writeln!(err, "{errors} error(s), {warnings} warning(s) in {files} file(s): {verdict}");
            }
        }
    }
    Ok(Verdict { code: if failed { 1 } else { 0 }, errors, warnings })
}

/// `-o`, or the deprecated `--format` with a warning.
pub fn output_format(args: &ValidateArgs) -> Output {
    match args.format {
        Some(f) => {
            diag::deprecated(&format!("`validate --format {0}` will be removed; write `-o {0}`", f.name()));
            f
        }
        None => args.output,
    }
}

/// A directory stands for the YAML files directly in it (what `values --output-dir DIR` writes).
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

/// YAML files that may belong to the same deployments as `named`: those in each named file's
/// directory, in its `rendered/` subdirectory (where `values` writes), and, for files inside a
/// `rendered/` directory, beside it (where the config is). Named files are not repeated.
fn siblings(named: &[&Path]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for p in named {
        let dir = p.parent().map(Path::to_path_buf).unwrap_or_default();
        let lookup = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir.clone() };
        if !lookup.is_dir() {
            continue;
        }
        dirs.push(dir.clone());
        dirs.push(dir.join("rendered"));
        if dir.file_name().is_some_and(|n| n == "rendered") {
            dirs.push(dir.parent().map(Path::to_path_buf).unwrap_or_default());
        }
    }
    dirs.sort();
    dirs.dedup();
    let mut out = Vec::new();
    for dir in dirs {
        let lookup = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir.clone() };
        let Ok(entries) = std::fs::read_dir(&lookup) else { continue };
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name();
                let is_yaml = Path::new(&name).extension().is_some_and(|x| x == "yaml" || x == "yml");
                (is_yaml && e.path().is_file()).then(|| dir.join(name))
            })
            .filter(|p| !named.iter().any(|n| same_file(n, p)))
            .collect();
        found.sort();
        out.extend(found);
    }
    out
}

/// Whether one of `files` is a config whose `daskGateway.optionHandler.file` is `handler`.
fn named_as_handler(handler: &Path, files: &[&Input]) -> bool {
    files.iter().any(|f| {
        let Ok(loaded) = crate::config::load_str(f.path, f.text) else { return false };
        loaded
            .config
            .dask_gateway
            .option_handler
            .is_some_and(|h| same_file(&crate::config::dir_of(f.path).join(h.file), handler))
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

/// A context file's text, or nothing: context files that cannot be read are simply not used.
fn quiet_read(path: &Path) -> Option<String> {
    match read(path) {
        Ok(FileText::Text(t)) => Some(t),
        _ => None,
    }
}

/// Reads a file; I/O failures are errors, anything else a finding ([`source::read`]).
fn read(path: &Path) -> Result<FileText> {
    if fsutil::is_stdio(path) {
        let mut bytes = Vec::new();
        let stdin = std::io::stdin().lock();
        let limit = MAX_FILE_BYTES as u64 + 1;
        stdin.take(limit).read_to_end(&mut bytes).map_err(|e| Error::io(fsutil::STDIN_NAME, e))?;
        return Ok(source::text(Path::new(fsutil::STDIN_NAME), bytes));
    }
    source::read(path).map_err(|e| Error::io(path, e))
}
