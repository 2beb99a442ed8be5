//! `instclf dataset build|info`: build a dataset folder from labelled recordings, or describe one.

use crate::cmd::LabelFromArg;
use clap::Subcommand;
use instclf_audio::augment::AugmentParams;
use instclf_audio::pool::NotePool;
use instclf_audio::recipe::Recipe;
use instclf_audio::segment::SegmentParams;
use instclf_model::dataset::Dataset;
use instclf_pipeline::build::{self, BuildOptions};
use instclf_pipeline::clips::{ClipInput, ClipSpec};
use instclf_pipeline::RecipeFile;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  instclf dataset build --audio fixtures/audio --audio fixtures/freepats --label-from folder -o sources
  instclf dataset info sources")]
pub struct Args {
    #[command(subcommand)]
    command: DatasetCommand,
}

#[derive(Subcommand)]
enum DatasetCommand {
    /// Build a dataset from labelled recordings: every frame inside a detected note becomes a row
    /// (with --note-stats, every note).
    /// Train and test are split by recording, stratified by class.
    Build(Box<BuildArgs>),
    /// Rows, features, classes and rows per class of a dataset folder.
    Info(InfoArgs),
}

#[derive(clap::Args)]
#[command(after_help = "Examples:
  instclf dataset build --audio fixtures/audio --audio fixtures/freepats --label-from folder -o sources
  instclf dataset build --audio fixtures/audio --audio fixtures/freepats --label-from folder \\
      --augment 2 --cmn -o sources-aug --force
  instclf dataset build --audio fixtures/audio --audio fixtures/freepats --label-from folder \\
      --recipe recipes/default.toml --member note -o notes
  instclf dataset build --audio fixtures/audio --audio fixtures/freepats --label-from folder \\
      --clips 1 --input waveform --rate 10000 --bits 4 -o clips")]
struct BuildArgs {
    /// Folder(s) of recordings (searched recursively); repeat to combine sources.
    #[arg(long, required = true)]
    audio: Vec<PathBuf>,
    /// Output dataset folder (missing parent folders are created).
    #[arg(short = 'o', long = "output", alias = "out")]
    out: PathBuf,
    /// Fraction of each class's recordings held out for the test split.
    #[arg(long, default_value_t = 0.2)]
    test_fraction: f64,
    /// Seed of the train/test split.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where each recording's class comes from.
    #[arg(long, value_enum, default_value = "name")]
    label_from: LabelFromArg,
    /// Replace an existing output folder (it stays as it was until the new one is complete).
    #[arg(long)]
    force: bool,
    /// The feature and augmentation settings of a recipe file's member (recipes/*.toml;
    /// docs/recipes.md) instead of the options below.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["sr", "n_fft", "hop", "n_mels", "fmin", "fmax", "n_mfcc", "no_deltas", "cmn", "pitch", "harmonics", "note_stats", "augment"])]
    recipe: Option<PathBuf>,
    /// The member of --recipe to build (needed when it has more than one).
    #[arg(long, value_name = "NAME", requires = "recipe")]
    member: Option<String>,
    /// Feature sample rate (Hz).
    #[arg(long, default_value_t = 22050)]
    sr: u32,
    #[arg(long, default_value_t = 2048)]
    n_fft: usize,
    #[arg(long, default_value_t = 512)]
    hop: usize,
    #[arg(long, default_value_t = 128)]
    n_mels: usize,
    /// Lowest mel band edge (Hz).
    #[arg(long, default_value_t = 0.0)]
    fmin: f32,
    /// Highest mel band edge (Hz) [default: half the sample rate].
    #[arg(long)]
    fmax: Option<f32>,
    /// MFCCs per frame (with deltas, the row has 3x as many values).
    #[arg(long, default_value_t = 40)]
    n_mfcc: usize,
    /// Leave out the delta and delta-delta coefficients.
    #[arg(long)]
    no_deltas: bool,
    /// Subtract each recording's mean feature vector (cepstral mean normalisation).
    #[arg(long)]
    cmn: bool,
    /// Append each frame's note pitch, log2(f0 / 440 Hz) by YIN, to the frame.
    #[arg(long)]
    pitch: bool,
    /// Append the levels of the note's first N partials (dB below the strongest, by the
    /// note's YIN pitch) to each frame.
    #[arg(long, default_value_t = 0, value_name = "N")]
    harmonics: usize,
    /// One example per note instead of one per frame: the note's frame features pooled into
    /// mean, standard deviation and attack (the first N frames); a model trained on it
    /// answers once per note. N = 0 leaves the attack block out.
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "4", conflicts_with = "clips")]
    note_stats: Option<usize>,
    /// Add N randomly augmented copies of every training recording (gain, noise, spectral
    /// tilt, +-40 cent pitch shift, room reverb; seeded). Test recordings are never augmented.
    /// A recipe's other augmentations (equaliser, low-pass, key stretch) are set in the file.
    #[arg(long, default_value_t = 0)]
    augment: usize,
    /// Cut recordings into clips of this many seconds (one row each, for sequence models)
    /// instead of note frames; writes sequence.json and clips.csv.
    #[arg(long, value_name = "SECONDS")]
    clips: Option<f64>,
    /// What a clip holds (with --clips): the digitised waveform, or mel/MFCC frames of the recipe.
    #[arg(long, value_enum, default_value = "waveform")]
    input: ClipInputArg,
    /// Digitising rate of --input waveform (Hz).
    #[arg(long, default_value_t = 10000)]
    rate: u32,
    /// Bits per digitised sample of --input waveform (one-hot of 2^bits levels at load time).
    #[arg(long, default_value_t = 4)]
    bits: u32,
}

/// What a clip holds: the command-line face of [`ClipInput`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ClipInputArg {
    /// The waveform, normalised per file to [0, 1], resampled and digitised to `bits`.
    Waveform,
    /// The recipe's feature frames (MFCC [+ deltas]) of the clip.
    Mel,
}

impl From<ClipInputArg> for ClipInput {
    fn from(a: ClipInputArg) -> ClipInput {
        match a {
            ClipInputArg::Waveform => ClipInput::Waveform,
            ClipInputArg::Mel => ClipInput::Mel,
        }
    }
}

#[derive(clap::Args)]
#[command(after_help = "Examples:
  instclf dataset info sources
  instclf dataset info --json sources | jq .rows_per_class")]
struct InfoArgs {
    /// Dataset folder.
    dir: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        DatasetCommand::Build(a) => build_cmd(*a),
        DatasetCommand::Info(a) => info_cmd(a),
    }
}

fn build_cmd(a: BuildArgs) -> anyhow::Result<()> {
    let replace = crate::util::output_dir(&a.out, a.force, None)?;
    let (recipe, augment, augment_params) = match &a.recipe {
        Some(path) => {
            let file = RecipeFile::load(path)?;
            let m = file.member(a.member.as_deref())?;
            (m.features.clone(), m.augment.copies, m.augment.params())
        }
        None => (
            Recipe {
                sr: a.sr,
                n_fft: a.n_fft,
                hop: a.hop,
                n_mels: a.n_mels,
                fmin: a.fmin,
                fmax: a.fmax,
                n_mfcc: a.n_mfcc,
                deltas: !a.no_deltas,
                cmn: a.cmn,
                pitch: a.pitch,
                harmonics: a.harmonics,
                pool: a.note_stats.map(|attack_frames| NotePool {
                    attack_frames,
                    ..NotePool::default()
                }),
                ..Recipe::default()
            },
            a.augment,
            AugmentParams::default(),
        ),
    };
    let opts = BuildOptions {
        inputs: a.audio,
        label_from: a.label_from.into(),
        test_fraction: a.test_fraction,
        seed: a.seed,
        recipe,
        segment: SegmentParams::default(),
        augment,
        augment_params,
    };
    let bar = crate::util::Bar(crate::util::progress_bar(0, "analysing"));
    if let Some(seconds) = a.clips {
        let clip = ClipSpec {
            seconds,
            input: a.input.into(),
            rate: a.rate,
            bits: a.bits,
        };
        return clips_cmd(&opts, &clip, &a.out, replace, &bar);
    }
    let (ds, notes_csv, report) = build::build(&opts, &bar)?;
    build::write(&ds, &notes_csv, &a.out, replace)?;
    for (path, why) in &report.skipped {
        eprintln!("instclf: skipped {}: {why}", path.display());
    }
    println!(
        "{}: {} recordings ({} train, {} test), {} notes, {} train rows and {} test rows of {} features, {} classes; {} files skipped",
        a.out.display(),
        report.files,
        report.train_files,
        report.test_files,
        report.notes,
        ds.train.rows(),
        ds.test.rows(),
        ds.n_features,
        ds.n_classes(),
        report.skipped.len()
    );
    Ok(())
}

fn clips_cmd(
    opts: &BuildOptions,
    clip: &ClipSpec,
    out: &std::path::Path,
    force: bool,
    bar: &crate::util::Bar,
) -> anyhow::Result<()> {
    let b = build::build_clips(opts, clip, bar)?;
    let spec = serde_json::to_vec_pretty(&b.spec)?;
    build::write_with(
        &b.dataset,
        &[
            ("clips.csv", b.clips_csv.into_bytes()),
            (instclf_model::sequence::SEQUENCE_JSON, spec),
        ],
        out,
        force,
    )?;
    let short = b
        .report
        .skipped
        .iter()
        .filter(|(_, why)| why.contains("shorter than one"))
        .count();
    for (path, why) in &b.report.skipped {
        eprintln!("instclf: skipped {}: {why}", path.display());
    }
    println!(
        "{}: {} recordings ({} train, {} test), {} clips of {} s ({} train, {} test) of {} steps x {} values ({}), {} classes; {} files skipped ({} shorter than one clip)",
        out.display(),
        b.report.files,
        b.report.train_files,
        b.report.test_files,
        b.report.notes,
        clip.seconds,
        b.dataset.train.rows(),
        b.dataset.test.rows(),
        b.spec.steps,
        b.spec.step_values,
        match b.spec.bits {
            Some(bits) => format!("{bits}-bit levels at {} Hz", b.spec.rate),
            None => "feature frames".to_string(),
        },
        b.dataset.n_classes(),
        b.report.skipped.len(),
        short
    );
    Ok(())
}

fn info_cmd(a: InfoArgs) -> anyhow::Result<()> {
    let ds = Dataset::load(&a.dir)?;
    let count = |y: &[u32]| {
        let mut c = vec![0usize; ds.n_classes()];
        for &v in y {
            c[v as usize] += 1;
        }
        c
    };
    let (tr, te) = (count(&ds.train.y), count(&ds.test.y));
    if a.json {
        let per_class: Vec<_> = ds
            .classes
            .iter()
            .enumerate()
            .map(|(i, c)| serde_json::json!({"class": c, "train": tr[i], "test": te[i]}))
            .collect();
        let v = serde_json::json!({
            "dir": a.dir.display().to_string(),
            "train_rows": ds.train.rows(),
            "test_rows": ds.test.rows(),
            "features": ds.n_features,
            "classes": ds.classes,
            "rows_per_class": per_class,
            "recipe": ds.recipe,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("{}", a.dir.display());
    println!("  train rows: {}", ds.train.rows());
    println!("  test rows:  {}", ds.test.rows());
    println!("  features:   {}", ds.n_features);
    println!("  classes:    {}", ds.n_classes());
    println!("  {:<16} {:>8} {:>8}", "class", "train", "test");
    for (i, c) in ds.classes.iter().enumerate() {
        println!("  {:<16} {:>8} {:>8}", c, tr[i], te[i]);
    }
    match &ds.recipe {
        Some(r) => println!("  recipe: {r}"),
        None => println!("  recipe: none (external features)"),
    }
    Ok(())
}
