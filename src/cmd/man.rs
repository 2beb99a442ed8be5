//! `instclf man [COMMAND]`: prints the manual page (roff) of `instclf` or of one of its commands,
//! generated from the same clap definitions as `--help` (clap_mangen).

use anyhow::Context;
use std::io::Write;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  instclf man | man -l -
  instclf man > /usr/local/share/man/man1/instclf.1
  instclf man train | man -l -")]
pub struct Args {
    /// A command whose page to print (e.g. train); without it, the page of instclf itself.
    pub command: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut root = super::full_command();
    root.build();
    let cmd = match &args.command {
        None => root,
        Some(name) => {
            let names: Vec<&str> = root
                .get_subcommands()
                .map(|c| c.get_name())
                .filter(|n| *n != "help")
                .collect();
            // Built, a command's display name is instclf-COMMAND: the page's name, as git's.
            let sub = root
                .find_subcommand(name)
                .cloned()
                .with_context(|| format!("no command '{name}' (commands: {})", names.join(", ")))?;
            sub.version(env!("CARGO_PKG_VERSION"))
        }
    };
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut page)?;
    std::io::stdout().write_all(&page)?;
    Ok(())
}
