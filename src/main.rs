//! `instclf`: the command-line front end. Each subcommand lives in `src/cmd/<name>.rs` and only
//! parses its arguments, calls a library crate and prints. Every error ends here: one line on
//! stderr that names the file and the problem, exit code 2.

mod cmd;
mod default_model;
mod util;

use clap::Parser;

fn main() {
    let cli = cmd::Cli::parse();
    if let Err(err) = cmd::run(cli) {
        eprintln!("instclf: error: {err:#}");
        std::process::exit(2);
    }
}
