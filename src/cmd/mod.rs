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
    Classify(classify::Args),
    /// Decode an audio file and write it as 16-bit WAV, optionally resampled.
    Convert(convert::Args),
    /// Compute mel, dB-mel or MFCC features of a recording and write them as .npy or .csv.
    Features(features::Args),
    /// Draw the mel spectrogram of a recording as a PNG or SVG image.
    Spectrogram(spectrogram::Args),
    /// Find the notes (onsets and ends) in a recording.
    Segment(segment::Args),
    /// Build a dataset from labelled recordings, or describe one.
    Dataset(dataset::Args),
    /// Train an instrument classifier on a dataset folder.
    Train(train::Args),
    /// Make a model from a recipe file in one step: datasets, networks, calibration, report.
    Bundle(bundle::Args),
    /// Score a model on a dataset's test rows (--data) or on labelled recordings (--audio).
    Evaluate(evaluate::Args),
    /// Plot a model's training history.
    Plot(plot::Args),
    /// Sweep learning rate and batch size: time, energy and epochs to accuracy per trial.
    Sweep(sweep::Args),
    /// Predict classes and probabilities of new clips or dataset rows with a trained model.
    Predict(predict::Args),
    /// Print a shell completion script (bash, zsh or fish).
    Completions(completions::Args),
    /// Print the manual page (roff) of instclf or of one of its commands.
    Man(man::Args),
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
        Command::Classify(a) => classify::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Features(a) => features::run(a),
        Command::Spectrogram(a) => spectrogram::run(a),
        Command::Segment(a) => segment::run(a),
        Command::Dataset(a) => dataset::run(a),
        Command::Train(a) => train::run(a),
        Command::Bundle(a) => bundle::run(a),
        Command::Evaluate(a) => evaluate::run(a),
        Command::Plot(a) => plot::run(a),
        Command::Sweep(a) => sweep::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Completions(a) => completions::run(a),
        Command::Man(a) => man::run(a),
    }
}
