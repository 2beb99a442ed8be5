//! `instclf`: the command-line front end. Each subcommand lives in `src/cmd/<name>.rs` and only
//! parses its arguments, calls a library crate and prints. Every error ends here: one line on
//! stderr that names the file and the problem, exit code 2. A reader that closes standard output
//! early (`instclf classify DIR | head -1`) ends the program quietly with exit code 0, as ripgrep
//! does.

mod cmd;
mod default_model;
mod interrupt;
mod pictures;
mod util;

use clap::Parser;

fn main() {
    quiet_on_closed_stdout();
    let cli = cmd::Cli::parse();
    util::set_verbosity(cli.quiet, cli.verbose);
    if let Err(err) = cmd::run(cli) {
        if is_broken_pipe(&err) {
            std::process::exit(0);
        }
        eprintln!("instclf: error: {err:#}");
        std::process::exit(2);
    }
}

/// Whether `err` comes from writing to a closed pipe.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `println!` panics when standard output is a closed pipe: that panic ends the program with
/// exit code 0 and no message; every other panic is reported as usual.
fn quiet_on_closed_stdout() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        report(info);
    }));
}
