//! `values`, `validate`, `diff` and `apply` over a fleet: each deployment runs the single
//! command's own code with its output captured, then `crate::fleet` prints the outputs, the
//! summary table (or one JSON document) and exits with the worst result.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::cli::{ApplyArgs, DiffArgs, OutputOrPath, ValidateArgs, ValuesArgs};
use crate::diag::Output;
use crate::error::{Error, Result};
use crate::fleet::{self, Document, Outcome};

fn cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
}

/// `NAME (REGION)` from the config, without the full checks (the run itself reports problems).
fn cluster_of(config: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(config) else { return String::new() };
    let Ok(node) = crate::yaml::parse_single(&text) else { return String::new() };
    let json = node.to_json();
    match (
        json.pointer("/cluster/name").and_then(Value::as_str),
        json.pointer("/cluster/region").and_then(Value::as_str),
    ) {
        (Some(n), Some(r)) => format!("{n} ({r})"),
        (Some(n), None) => n.to_string(),
        _ => String::new(),
    }
}

/// One deployment: runs `single` with captured stdout/stderr and fills in the outcome.
fn capture(
    config: &Path,
    json: bool,
    single: impl FnOnce(&mut Vec<u8>, &mut Vec<u8>, &mut Outcome) -> Result<()>,
) -> Outcome {
    let mut o = Outcome::new(config);
    o.cluster = cluster_of(config);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let result = single(&mut out, &mut err, &mut o);
    if json {
        o.report = serde_json::from_slice(&out).ok();
    }
    o.output = out;
    o.notes = err;
    match result {
        Ok(()) => o,
        Err(e) => o.failed(&e),
    }
}

/// The format each deployment of a fleet writes in: its JSON document is parsed into the
/// fleet's own document, which is then written as JSON or YAML.
fn inner(format: Output) -> Output {
    match format {
        Output::Text => Output::Text,
        Output::Json | Output::Yaml => Output::Json,
    }
}

/// Prints the fleet (outputs and table, or one `FleetReport` document) and returns the worst
/// exit code.
fn finish(command: &str, outcomes: Vec<Outcome>, format: Output) -> Result<i32> {
    let code = fleet::worst(&outcomes);
    // What each run said on stderr goes to stderr, in either format, before the results.
    fleet::write_notes(&mut anstream::stderr().lock(), &outcomes).map_err(|e| Error::io("<stderr>", e))?;
    if format != Output::Text {
        let mut out = std::io::stdout().lock();
        let doc = Document { command, exit_code: code, deployments: &outcomes };
        crate::diag::write_document(&mut out, format, "FleetReport", &doc)
            .map_err(|e| Error::io("<stdout>", e))?;
    } else {
        let mut out = anstream::stdout().lock();
        fleet::write_text(&mut out, &outcomes).map_err(|e| Error::io("<stdout>", e))?;
    }
    Ok(code)
}

pub fn values(args: &ValuesArgs) -> Result<i32> {
    let configs = fleet::expand(&args.configs)?;
    if args.admin_password_stdin || args.secrets.is_some() {
        return Err(Error::Usage(
            "--admin-password-stdin and --secrets name one deployment's secrets: use them with a single --config".into(),
        ));
    }
    let (dir, format) = super::values::resolve_output(args)?;
    let outcomes = fleet::run("values", &configs, args.jobs.unwrap_or_else(cpus), |config| {
        capture(config, format != Output::Text, |out, err, o| {
            let mut one = args.clone();
            one.config = config.to_path_buf();
            one.output = Some(OutputOrPath::Format(inner(format)));
            one.output_dir = Some(dir.join(fleet::stem(config)));
            let written = super::values::run(&one, out, err)?;
            o.result = "rendered".into();
            o.changes = format!("{} written, {} unchanged", written.written, written.unchanged);
            Ok(())
        })
    });
    finish("values", outcomes, format)
}

pub fn validate(args: &ValidateArgs) -> Result<i32> {
    let configs = fleet::expand(&args.configs)?;
    let format = super::validate::output_format(args);
    let outcomes = fleet::run("validate", &configs, args.jobs.unwrap_or_else(cpus), |config| {
        capture(config, format != Output::Text, |out, err, o| {
            let mut one = args.clone();
            one.config = Some(config.to_path_buf());
            // Its own secrets file is this deployment's context; the folder's other configs are
            // other deployments (and reading them all for each would make a fleet quadratic).
            one.context =
                Some(vec![crate::secrets::path_for(config)].into_iter().filter(|p| p.is_file()).collect());
            (one.output, one.format) = (inner(format), None);
            // Each PATH holds one folder per deployment, as `values -c FOLDER --output-dir PATH` writes.
            one.paths = args
                .paths
                .iter()
                .map(|p| p.join(fleet::stem(config)))
                .filter(|p| p.is_dir())
                .collect::<Vec<PathBuf>>();
            let v = super::validate::run(&one, out, err)?;
            o.exit_code = v.code;
            o.result = if v.code == 0 { "valid".into() } else { "invalid".into() };
            o.changes = format!("{} error(s), {} warning(s)", v.errors, v.warnings);
            Ok(())
        })
    });
    finish("validate", outcomes, format)
}

pub fn diff(args: &DiffArgs) -> Result<i32> {
    let configs = fleet::expand(&args.cluster.configs)?;
    let outcomes = fleet::run("diff", &configs, args.cluster.jobs, |config| {
        capture(config, args.output != Output::Text, |out, err, o| {
            let mut one = args.clone();
            one.cluster.config = config.to_path_buf();
            one.output = inner(args.output);
            let (code, summary) = super::diff::run(&one, out, err)?;
            o.exit_code = code;
            o.result = if code == 0 { "in sync".into() } else { "differs".into() };
            o.changes = summary;
            Ok(())
        })
    });
    finish("diff", outcomes, args.output)
}

pub fn apply(args: &ApplyArgs) -> Result<i32> {
    let configs = fleet::expand(&args.cluster.configs)?;
    let outcomes = fleet::run("apply", &configs, args.cluster.jobs, |config| {
        capture(config, args.output != Output::Text, |out, err, o| {
            let mut one = args.clone();
            one.cluster.config = config.to_path_buf();
            one.output = inner(args.output);
            let applied = super::apply::run(&one, out, err)?;
            let count = |w: &str| applied.iter().filter(|a| a.result.contains(w)).count();
            o.result = if args.dry_run { "checked".into() } else { "applied".into() };
            o.changes = format!(
                "{} created, {} configured, {} unchanged",
                count("created"),
                count("configured"),
                count("unchanged")
            );
            Ok(())
        })
    });
    finish("apply", outcomes, args.output)
}
