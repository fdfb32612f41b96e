//! What the binary can tell about itself: `schema` (the config's JSON Schema, embedded from
//! `schemas/`), `completions SHELL` and `man` (generated from the clap definition in `cli.rs`,
//! so they always list the flags this binary has).

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs, SchemaArgs, SchemaName};
use crate::diag::Output;
use crate::diag::schema;
use crate::error::{Error, Result};
use crate::fsutil;

const BIN: &str = "pangeo-render";

pub fn schema(args: &SchemaArgs) -> Result<()> {
    let schema = match args.name {
        SchemaName::Config => &schema::CONFIG,
        SchemaName::Output => &schema::OUTPUT,
    };
    let text = match args.output {
        // The file as shipped in schemas/, byte for byte.
        Output::Json | Output::Text => schema.text().to_string(),
        Output::Yaml => serde_saphyr::to_string(&schema.json()).map_err(|e| Error::Usage(e.to_string()))?,
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|_| out.flush()).map_err(|e| Error::io("<stdout>", e))
}

pub fn completions(args: &CompletionsArgs) -> Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), BIN, &mut script);
    let mut script = String::from_utf8(script).expect("clap_complete writes UTF-8");
    if args.shell == clap_complete::Shell::Bash {
        // clap_complete 4.6 spells the state for `pangeo-render SUB` one way in its dispatch loop
        // (`pangeo__render__subcmd__SUB`) and another in the case arms that list SUB's flags
        // (`pangeo__subcmd__render__subcmd__SUB`), so no flag after a subcommand would complete
        // for a binary with a hyphen in its name (clap-rs/clap#6421). The arms get the loop's.
        script = script.replace("pangeo__subcmd__render", "pangeo__render");
    }
    let mut out = std::io::stdout().lock();
    out.write_all(script.as_bytes()).and_then(|_| out.flush()).map_err(|e| Error::io("<stdout>", e))
}

/// The top page on stdout, or every page (top and one per command, as git and cargo ship them)
/// written into a directory.
pub fn man(args: &ManArgs) -> Result<()> {
    // Built, so that each subcommand knows its display name (`pangeo-render-values`), which
    // titles its page and names its file.
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let Some(dir) = &args.output_dir else {
        let mut out = std::io::stdout().lock();
        return page(&cmd, &mut out).and_then(|_| out.flush()).map_err(|e| Error::io("<stdout>", e));
    };
    fsutil::refuse_stdio(
        "--output-dir",
        dir,
        "man writes one file per command; leave out --output-dir for stdout",
    )?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for c in std::iter::once(&cmd).chain(cmd.get_subcommands()) {
        let path = dir.join(clap_mangen::Man::new(c.clone()).get_filename());
        let mut bytes = Vec::new();
        page(c, &mut bytes).map_err(|e| Error::io(&path, e))?;
        fsutil::write_atomic(&path, &bytes, false)?;
        let _ = writeln!(anstream::stderr(), "wrote {}", path.display());
    }
    Ok(())
}

fn page(cmd: &clap::Command, out: &mut dyn Write) -> std::io::Result<()> {
    clap_mangen::Man::new(cmd.clone()).render(out)
}
