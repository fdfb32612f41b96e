//! Entry point: parse arguments, run the command, print an error once, exit 0/1/2.

use clap::Parser;
use std::process::ExitCode;

use pangeo_render::cli::Cli;
use pangeo_render::run;

fn main() -> ExitCode {
    pangeo_render::trace::start();
    let cli = Cli::parse();
    let result = run(cli);
    pangeo_render::trace::mark(|| "command done".into());
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(err) => {
            pangeo_render::print_error(&err);
            ExitCode::from(err.exit_code() as u8)
        }
    }
}
