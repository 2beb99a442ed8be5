//! `instclf bundle`: makes a model from a recipe file in one step (every member's dataset, every
//! network, the recipe's calibration, a report on held-out recordings) and prints the report.

use crate::cmd::LabelFromArg;
use instclf_model::device_from_arg;
use instclf_pipeline::bundle::{self, BundleOptions};
use instclf_pipeline::RecipeFile;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    after_help = "The output folder holds m1, m2, ... (model.json and model.safetensors each),
recipe.toml, REPORT.md and report.json; give its networks to classify with --model. The work
folder keeps datasets and networks as they are finished: run the same command again to resume.

Examples:
  instclf bundle --recipe recipes/default.toml --audio fixtures/audio --audio fixtures/freepats \\
      --label-from folder -o models/mine
  instclf classify --model models/mine/m1 --model models/mine/m2 song.wav
  scripts/train-default-model.sh   # the bundled model, from the rendered training sources"
)]
pub struct Args {
    /// Recipe file (recipes/*.toml): its members, their networks and the calibration.
    #[arg(long, value_name = "FILE")]
    recipe: PathBuf,
    /// Folder(s) of labelled recordings (searched recursively); repeat to combine sources.
    #[arg(long, required_unless_present = "list_networks")]
    audio: Vec<PathBuf>,
    /// Further folder(s) of labelled recordings scored whole in the report (not trained on).
    #[arg(long, value_name = "DIR")]
    eval: Vec<PathBuf>,
    /// Output folder (missing parent folders are created).
    #[arg(
        short = 'o',
        long = "output",
        required_unless_present = "list_networks"
    )]
    output: Option<PathBuf>,
    /// Where datasets and networks are kept between runs [default: OUTPUT.work].
    #[arg(long, value_name = "DIR")]
    work: Option<PathBuf>,
    /// Replace an existing output folder, and start over a work folder made with other settings.
    #[arg(long)]
    force: bool,
    /// Where each recording's class comes from.
    #[arg(long, value_enum, default_value = "name")]
    label_from: LabelFromArg,
    /// Fraction of each class's recordings held out for the test split (scored in the report).
    #[arg(long, default_value_t = 0.2)]
    test_fraction: f64,
    /// Seed of the train/test split.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value = "cpu", value_name = "DEVICE", help = super::DEVICE_HELP)]
    device: String,
    /// CPU threads (sets RAYON_NUM_THREADS; default: the environment's, or every core).
    #[arg(long)]
    threads: Option<usize>,
    /// Print report.json instead of the Markdown report.
    #[arg(long)]
    json: bool,
    /// Only list the recipe's networks, one `MEMBER ACTIVATION SEED` line each, in training
    /// order (what scripts/crossval.sh trains in every fold), and make nothing.
    #[arg(long)]
    list_networks: bool,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    if let Some(t) = a.threads {
        if t == 0 {
            anyhow::bail!("--threads must be at least 1");
        }
        std::env::set_var("RAYON_NUM_THREADS", t.to_string());
    }
    let recipe = RecipeFile::load(&a.recipe)?;
    if a.list_networks {
        for m in &recipe.members {
            for (activation, seed) in m.train.networks() {
                println!("{} {activation} {seed}", m.name);
            }
        }
        return Ok(());
    }
    let Some(output) = a.output else {
        anyhow::bail!("-o/--output is required");
    };
    let work = a.work.unwrap_or_else(|| {
        let mut w = output.clone().into_os_string();
        w.push(".work");
        PathBuf::from(w)
    });
    let opts = BundleOptions {
        recipe: &recipe,
        inputs: a.audio,
        eval: a.eval,
        label_from: a.label_from.into(),
        test_fraction: a.test_fraction,
        seed: a.seed,
        work,
        output,
        force: a.force,
        device: device_from_arg(&a.device)?,
    };
    let quiet = crate::util::quiet();
    let status = |line: &str| {
        if !quiet {
            eprintln!("instclf: {line}");
        }
    };
    let bar = crate::util::Bar(crate::util::progress_bar(0, "working"));
    let report = bundle::bundle(&opts, &status, &bar)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.markdown());
    }
    Ok(())
}
