//! pangeo-render: one config file → every artifact of an EKS + DaskHub deployment, validated,
//! diffed against the live cluster and applied with server-side apply.
//!
//! Data flows one way: `config` → `render` | `validate` → `plan` (over `kube`) → `diff` | `apply`.
//! A module never reaches to its right; `render` and `validate` are siblings that both read
//! `config`; `error`, `diag`, `yaml`, `fsutil`, `secrets`, `aws`, `helm` (the pinned charts)
//! and `trace` (phase timestamps for profiling) sit below all.
//! docs/architecture.md says what each module holds and where a change goes.

pub mod apply;
pub mod aws;
pub mod cli;
pub mod commands;
pub mod config;
pub mod diag;
pub mod diff;
pub mod error;
pub mod fleet;
pub mod fsutil;
pub mod helm;
pub mod import;
pub mod kube;
pub mod memory;
pub mod plan;
pub mod render;
pub mod secrets;
pub mod trace;
pub mod upgrade;
pub mod validate;
pub mod yaml;

use std::io::Write;

use cli::{Cli, Command};
use error::Error;

/// Runs one command; returns the exit code for successful runs (diff: 0 same, 1 different).
/// `values`, `validate`, `diff` and `apply` given several configs, or a folder, run as a fleet.
pub fn run(cli: Cli) -> Result<i32, Error> {
    if cli.allow_unsupported_version {
        aws::eks_versions::allow_newer_versions();
    }
    let mut out = anstream::stdout();
    let mut err = anstream::stderr();
    match cli.command {
        Command::Init(args) => commands::init::run(&args).map(|_| 0),
        Command::Values(mut args) => match single(&args.configs) {
            Some(config) => {
                args.config = config;
                commands::values::run(&args, &mut out, &mut err).map(|_| 0)
            }
            None => commands::fleet::values(&args),
        },
        Command::Validate(mut args)
            if args.configs.len() <= 1 && !args.configs.iter().any(|c| c.is_dir()) =>
        {
            args.config = args.configs.first().cloned();
            commands::validate::run(&args, &mut out, &mut err).map(|v| v.code)
        }
        Command::Validate(args) => commands::fleet::validate(&args),
        Command::Diff(mut args) => match single(&args.cluster.configs) {
            Some(config) => {
                args.cluster.config = config;
                commands::diff::run(&args, &mut out, &mut err).map(|(code, _)| code)
            }
            None => commands::fleet::diff(&args),
        },
        Command::Apply(mut args) => match single(&args.cluster.configs) {
            Some(config) => {
                args.cluster.config = config;
                commands::apply::run(&args, &mut out, &mut err).map(|_| 0)
            }
            None => commands::fleet::apply(&args),
        },
        Command::Upgrade(args) => commands::upgrade::run(&args),
        Command::Import(args) => commands::import::run(&args).map(|_| 0),
        Command::Schema(args) => commands::docs::schema(&args).map(|_| 0),
        Command::Completions(args) => commands::docs::completions(&args).map(|_| 0),
        Command::Man(args) => commands::docs::man(&args).map(|_| 0),
    }
}

/// The config of a single-deployment run, or `None` for a fleet (several configs, or a folder).
fn single(configs: &[std::path::PathBuf]) -> Option<std::path::PathBuf> {
    match configs {
        [one] if !one.is_dir() => Some(one.clone()),
        _ => None,
    }
}

/// Prints an error to stderr: diagnostics one per line, anything else as one message.
pub fn print_error(err: &Error) {
    write_error(&mut anstream::stderr(), err);
}

/// Writes an error as [`print_error`] prints it.
pub fn write_error(out: &mut dyn Write, err: &Error) {
    match err {
        Error::Invalid(diags) => {
            let _ = diag::write_text(out, diags);
            let errors = diags.iter().filter(|d| d.is_error()).count();
            let _ = writeln!(out, "{errors} error(s); nothing was written");
        }
        other => {
            let style = anstyle::AnsiColor::Red.on_default().bold();
            let _ = writeln!(out, "{style}error:{style:#} {other}");
        }
    }
}
