//! The subcommands of `instclf`, one file each. Each file owns its `Args` and `run`.

use clap::{Parser, Subcommand};

pub mod bundle;
pub mod classify;
pub mod completions;
pub mod convert;
pub mod dataset;
pub mod evaluate;
pub mod features;
pub mod man;
pub mod plot;
pub mod predict;
pub mod segment;
pub mod spectrogram;
pub mod sweep;
pub mod train;

#[derive(Parser)]
#[command(
    name = "instclf",
    version,
    about = "Listens to a recording and says which instrument is playing",
    after_help = "Examples:
  instclf classify fixtures/audio/Violin.Vib.mf.G4A4.aiff
  instclf segment --json fixtures/audio/SopSax.Vib.pp.C6Eb6.aiff
  instclf dataset build --audio fixtures/audio --audio fixtures/freepats --label-from folder -o sources
  instclf train --data sources -o models/sources
  instclf help train"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Print less: no progress bars, no per-epoch or per-trial lines and no status lines
    /// (results, warnings and errors stay). Accepted before or after the subcommand.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more on stderr: settings, device, data sizes. Accepted before or after the
    /// subcommand.
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Subcommand)]
pub enum Command {
    /// Name the instrument playing in recordings, note by note and per file.
    Classify(Lazy<classify::Args>),
    /// Decode an audio file and write it as 16-bit WAV, optionally resampled.
    Convert(Lazy<convert::Args>),
    /// Compute mel, dB-mel or MFCC features of a recording and write them as .npy or .csv.
    Features(Lazy<features::Args>),
    /// Draw the mel spectrogram of a recording as a PNG or SVG image.
    Spectrogram(Lazy<spectrogram::Args>),
    /// Find the notes (onsets and ends) in a recording.
    Segment(Lazy<segment::Args>),
    /// Build a dataset from labelled recordings, or describe one.
    Dataset(Lazy<dataset::Args>),
    /// Train an instrument classifier on a dataset folder.
    Train(Lazy<train::Args>),
    /// Make a model from a recipe file in one step: datasets, networks, calibration, report.
    Bundle(Lazy<bundle::Args>),
    /// Score a model on a dataset's test rows (--data) or on labelled recordings (--audio).
    Evaluate(Lazy<evaluate::Args>),
    /// Plot a model's training history.
    Plot(Lazy<plot::Args>),
    /// Sweep learning rate and batch size: time, energy and epochs to accuracy per trial.
    Sweep(Lazy<sweep::Args>),
    /// Predict classes and probabilities of new clips or dataset rows with a trained model.
    Predict(Lazy<predict::Args>),
    /// Print a shell completion script (bash, zsh or fish).
    Completions(Lazy<completions::Args>),
    /// Print the manual page (roff) of instclf or of one of its commands.
    Man(Lazy<man::Args>),
}

/// A subcommand's arguments, defined only when that subcommand is the one invoked (clap's
/// `Command::defer`): a run builds its own subcommand's options, not those of all fourteen, which
/// cost `instclf --version` 0.6 of its 2.0 ms (hyperfine, 2026-12-08). Help and errors
/// are unchanged (clap defines a subcommand's arguments before it shows them), and so are the
/// completions and the manual, which are made from [`full_command`].
pub struct Lazy<A>(pub A);

impl<A: clap::Args> clap::Args for Lazy<A> {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        defer_unless_eager(cmd, A::augment_args)
    }
    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        defer_unless_eager(cmd, A::augment_args_for_update)
    }
    fn group_id() -> Option<clap::Id> {
        A::group_id()
    }
}

/// `define(cmd)` now under [`full_command`], else when clap first needs `cmd`'s arguments.
fn defer_unless_eager(
    cmd: clap::Command,
    define: fn(clap::Command) -> clap::Command,
) -> clap::Command {
    if EAGER.load(std::sync::atomic::Ordering::Relaxed) {
        define(cmd)
    } else {
        cmd.defer(define)
    }
}

impl<A: clap::FromArgMatches> clap::FromArgMatches for Lazy<A> {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        A::from_arg_matches(m).map(Lazy)
    }
    fn from_arg_matches_mut(m: &mut clap::ArgMatches) -> Result<Self, clap::Error> {
        A::from_arg_matches_mut(m).map(Lazy)
    }
    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(m)
    }
    fn update_from_arg_matches_mut(&mut self, m: &mut clap::ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches_mut(m)
    }
}

/// Whether [`Lazy`] defines its arguments at once ([`full_command`]).
static EAGER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The whole command tree with every subcommand's arguments defined, as clap's derive makes it,
/// for what describes all of them at once (shell completions, the manual).
pub fn full_command() -> clap::Command {
    use clap::CommandFactory;
    EAGER.store(true, std::sync::atomic::Ordering::Relaxed);
    Cli::command()
}

/// Where a recording's class name comes from: the command-line face of
/// [`instclf_pipeline::LabelFrom`] (clap stays out of the library).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LabelFromArg {
    /// The first dot-separated token of the file name (`SopSax.Vib.pp.C6Eb6.aiff` -> SopSax).
    Name,
    /// The name of the folder that holds the file.
    Folder,
}

impl From<LabelFromArg> for instclf_pipeline::LabelFrom {
    fn from(a: LabelFromArg) -> instclf_pipeline::LabelFrom {
        match a {
            LabelFromArg::Name => instclf_pipeline::LabelFrom::Name,
            LabelFromArg::Folder => instclf_pipeline::LabelFrom::Folder,
        }
    }
}

/// A hidden layer's activation: the command-line face of [`instclf_model::Activation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ActivationArg {
    /// The logistic function (as the MARL notebook's Keras model).
    Sigmoid,
    /// max(0, x).
    Relu,
}

impl From<ActivationArg> for instclf_model::Activation {
    fn from(a: ActivationArg) -> instclf_model::Activation {
        match a {
            ActivationArg::Sigmoid => instclf_model::Activation::Sigmoid,
            ActivationArg::Relu => instclf_model::Activation::Relu,
        }
    }
}

/// Parses a probability: a number in 0..=1.
pub fn probability(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("expected a probability from 0 to 1, got '{s}'")),
    }
}

/// The help of every `--device` option (a string, since it takes `cuda:N`).
pub const DEVICE_HELP: &str = "Compute device [possible values: auto, cpu, cuda, cuda:N]";

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Classify(Lazy(a)) => classify::run(a),
        Command::Convert(Lazy(a)) => convert::run(a),
        Command::Features(Lazy(a)) => features::run(a),
        Command::Spectrogram(Lazy(a)) => spectrogram::run(a),
        Command::Segment(Lazy(a)) => segment::run(a),
        Command::Dataset(Lazy(a)) => dataset::run(a),
        Command::Train(Lazy(a)) => train::run(a),
        Command::Bundle(Lazy(a)) => bundle::run(a),
        Command::Evaluate(Lazy(a)) => evaluate::run(a),
        Command::Plot(Lazy(a)) => plot::run(a),
        Command::Sweep(Lazy(a)) => sweep::run(a),
        Command::Predict(Lazy(a)) => predict::run(a),
        Command::Completions(Lazy(a)) => completions::run(a),
        Command::Man(Lazy(a)) => man::run(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lazily_defined_subcommand_parses_as_the_full_tree_does() {
        use clap::CommandFactory;
        // Defines every deferred subcommand and checks the tree as clap's own tests do.
        Cli::command().debug_assert();
        let argv = [
            "instclf", "features", "x.wav", "--kind", "mfcc", "-o", "-", "-q",
        ];
        let cli = Cli::try_parse_from(argv).expect("parses");
        assert!(cli.quiet);
        let Command::Features(Lazy(a)) = cli.command else {
            panic!("not features")
        };
        assert_eq!((a.n_mfcc, a.sr), (40, 22050));
        let err = Cli::try_parse_from(["instclf", "features", "x.wav", "--bogus"])
            .err()
            .expect("refused");
        assert!(err.to_string().contains("--bogus"), "{err}");
    }
}
