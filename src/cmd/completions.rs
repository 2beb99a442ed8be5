//! `instclf completions <bash|zsh|fish>`: prints a shell completion script for every command
//! and option, generated from the same clap definitions as `--help` (clap_complete).

use std::io::Write;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  instclf completions bash > ~/.local/share/bash-completion/completions/instclf
  instclf completions zsh > ~/.zfunc/_instclf
  instclf completions fish > ~/.config/fish/completions/instclf.fish")]
pub struct Args {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: ShellArg,
}

/// A shell with completions: the command-line face of [`clap_complete::Shell`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShellArg {
    Bash,
    Zsh,
    Fish,
}

impl From<ShellArg> for clap_complete::Shell {
    fn from(s: ShellArg) -> clap_complete::Shell {
        match s {
            ShellArg::Bash => clap_complete::Shell::Bash,
            ShellArg::Zsh => clap_complete::Shell::Zsh,
            ShellArg::Fish => clap_complete::Shell::Fish,
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut cmd = super::full_command();
    let mut script = Vec::new();
    clap_complete::generate(
        clap_complete::Shell::from(args.shell),
        &mut cmd,
        "instclf",
        &mut script,
    );
    std::io::stdout().write_all(&script)?;
    Ok(())
}
