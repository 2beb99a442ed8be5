//! `instclf plot`: pictures of training results. `plot history MODEL_DIR` draws a model's
//! accuracy and loss per epoch from `MODEL_DIR/history.json`; `plot sweep DIR` draws the bar
//! charts (and optionally the loss curves) of a hyper-parameter sweep from `DIR/results.json`.

use crate::pictures::{history_picture, sweep_pictures};
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  instclf plot history models/sources -o curves.png
  instclf plot sweep sweeps/lr -o bars.png --loss-curves loss.svg")]
pub struct Args {
    #[command(subcommand)]
    pub what: What,
}

#[derive(clap::Subcommand)]
pub enum What {
    /// Training vs validation accuracy, and loss on a log scale, per epoch of a trained model.
    History(HistoryArgs),
    /// Time, energy, test accuracy and epochs of each trial of a hyper-parameter sweep.
    Sweep(SweepArgs),
}

#[derive(clap::Args)]
#[command(after_help = "Examples:
  instclf plot history models/sources -o curves.png
  instclf plot history models/sources -o curves.svg --width 800 --height 300")]
pub struct HistoryArgs {
    /// Model folder holding history.json (written by `instclf train`).
    pub model_dir: PathBuf,
    /// Output picture; the format follows the extension: .png or .svg.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Picture width in pixels.
    #[arg(long, default_value_t = 1200)]
    pub width: u32,
    /// Picture height in pixels.
    #[arg(long, default_value_t = 450)]
    pub height: u32,
}

#[derive(clap::Args)]
#[command(after_help = "Examples:
  instclf plot sweep sweeps/lr -o bars.png
  instclf plot sweep sweeps/bs -o bars.svg --loss-curves loss.svg")]
pub struct SweepArgs {
    /// Sweep folder holding results.json.
    pub dir: PathBuf,
    /// Output picture of the four bar charts (.png or .svg).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Also draw each trial's training loss per epoch on one chart, to this file.
    #[arg(long)]
    pub loss_curves: Option<PathBuf>,
    /// Picture width in pixels.
    #[arg(long, default_value_t = 1200)]
    pub width: u32,
    /// Picture height in pixels.
    #[arg(long, default_value_t = 800)]
    pub height: u32,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.what {
        What::History(a) => history_picture(&a.model_dir, &a.output, a.width, a.height),
        What::Sweep(a) => sweep_pictures(
            &a.dir,
            &a.output,
            a.loss_curves.as_deref(),
            a.width,
            a.height,
        ),
    }
}
