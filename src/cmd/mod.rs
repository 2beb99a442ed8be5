//! The subcommands of `instclf`, one file each.

use clap::{Parser, Subcommand};

pub mod convert;
pub mod features;
pub mod spectrogram;

#[derive(Parser)]
#[command(name = "instclf", version, about = "Listens to a recording and says which instrument is playing")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Decode an audio file and write it as 16-bit WAV, optionally resampled.
    Convert(convert::Args),
    /// Compute mel, dB-mel or MFCC features of a recording and write them as .npy or .csv.
    Features(features::Args),
    /// Draw the mel spectrogram of a recording as a PNG or SVG image.
    Spectrogram(spectrogram::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Convert(a) => convert::run(a),
        Command::Features(a) => features::run(a),
        Command::Spectrogram(a) => spectrogram::run(a),
    }
}
