//! `instclf evaluate`: scores a model. `--data`: a model folder on a dataset's test rows (loss,
//! accuracy, per-class precision/recall/F1, macro averages, confusion matrix). `--audio`: a
//! model, an ensemble or the bundled model on labelled recordings, note by note and per file,
//! with the calibration of note confidences (see `instclf_pipeline::evaluate`). As a table or
//! as JSON.

use crate::cmd::{LabelFromArg, DEVICE_HELP};
use instclf_model::{device_from_arg, evaluate, ClassMetrics, Dataset, Model};
use instclf_pipeline::evaluate::{self as audio_eval, AudioEvaluation, ECE_BINS};
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["data", "audio"])))]
#[command(
    after_help = "With --audio, every note found in a recording is scored against the \
recording's label (its file name's first dot-separated token, or its folder's name), exactly as \
`classify` answers it; a recording without notes counts as a wrong file. The expected \
calibration error takes the note confidences in 15 equal-width bins.

Examples:
  instclf evaluate --audio fixtures/audio
  instclf evaluate --model models/sources --data sources
  instclf evaluate --model models/sources --audio fixtures/audio --audio fixtures/freepats \\
      --label-from folder --json"
)]
pub struct Args {
    /// Model folder written by `instclf train`. With --data: exactly one. With --audio: give it
    /// more than once for an ensemble; without it, the bundled model (as `classify` uses it).
    #[arg(long)]
    pub model: Vec<PathBuf>,
    /// Dataset folder; its test split is evaluated (with one --model).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Folder of labelled recordings (searched recursively); repeat to combine folders.
    #[arg(long)]
    pub audio: Vec<PathBuf>,
    /// With --audio: where each recording's true class comes from [default: name].
    #[arg(long, value_enum, conflicts_with = "data")]
    pub label_from: Option<LabelFromArg>,
    #[arg(long, default_value = "cpu", value_name = "DEVICE", help = DEVICE_HELP)]
    pub device: String,
    /// With --audio: answer `unknown` when the best class is less probable than P (0..1).
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = crate::cmd::probability,
          conflicts_with = "data")]
    pub min_confidence: f64,
    /// Print the evaluation as one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match &args.data {
        Some(data) => run_data(&args, data),
        None => run_audio(&args),
    }
}

fn run_data(args: &Args, data_dir: &std::path::Path) -> anyhow::Result<()> {
    let [model_dir] = args.model.as_slice() else {
        anyhow::bail!(
            "--data evaluates exactly one model: give --model once (it was given {} times)",
            args.model.len()
        );
    };
    let device = device_from_arg(&args.device)?;
    let model = Model::load(model_dir, &device)?;
    let data = Dataset::load(data_dir)?;
    crate::util::verbose(format_args!(
        "evaluating {} ({} features, {} classes) on {}: {} test rows",
        model_dir.display(),
        model.n_features(),
        model.n_classes(),
        instclf_model::device_name(&device),
        data.test.rows()
    ));
    if data.n_features != model.n_features() {
        anyhow::bail!(
            "{}: the model expects {} features per row but the dataset {} has {}",
            model_dir.display(),
            model.n_features(),
            data_dir.display(),
            data.n_features
        );
    }
    if data.n_classes() != model.n_classes() {
        anyhow::bail!(
            "{}: the model has {} classes but the dataset {} has {}",
            model_dir.display(),
            model.n_classes(),
            data_dir.display(),
            data.n_classes()
        );
    }
    let e = evaluate(&model, &data.test.x, &data.test.y)?;
    if args.json {
        let mut v = serde_json::to_value(&e)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("model".into(), model_dir.display().to_string().into());
            o.insert("data".into(), data_dir.display().to_string().into());
        }
        println!("{}", serde_json::to_string(&v)?);
        return Ok(());
    }
    println!(
        "{} on {} (test split, {} rows)",
        model_dir.display(),
        data_dir.display(),
        e.rows
    );
    println!("loss {:.4}  accuracy {:.4}\n", e.loss, e.accuracy);
    let avg = [e.macro_precision, e.macro_recall, e.macro_f1];
    print_classes(&e.per_class, avg, e.rows);
    print_confusion(&e.per_class, &e.confusion);
    for n in &e.notes {
        println!("note: {n}");
    }
    Ok(())
}

fn run_audio(args: &Args) -> anyhow::Result<()> {
    let mut clf = crate::default_model::classifier(&args.model, &args.device)?;
    clf.min_confidence = args.min_confidence;
    let label_from = args.label_from.unwrap_or(LabelFromArg::Name).into();
    let files = audio_eval::labelled_recordings(&args.audio, label_from, &clf.models[0].classes)?;
    let bar = crate::util::Bar(crate::util::progress_bar(0, "evaluating"));
    let e = audio_eval::evaluate_recordings(&clf, &files, &bar)?;
    let models: Vec<String> = if args.model.is_empty() {
        vec!["bundled".to_string()]
    } else {
        args.model.iter().map(|p| p.display().to_string()).collect()
    };
    let networks = clf.models.len();
    if args.json {
        let mut v = serde_json::to_value(&e)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("models".into(), models.into());
            let audio: Vec<String> = args.audio.iter().map(|p| p.display().to_string()).collect();
            o.insert("audio".into(), audio.into());
        }
        println!("{}", serde_json::to_string(&v)?);
        return Ok(());
    }
    print_audio(&e, &models, networks, args);
    Ok(())
}

fn print_audio(e: &AudioEvaluation, models: &[String], networks: usize, args: &Args) {
    let audio: Vec<String> = args.audio.iter().map(|p| p.display().to_string()).collect();
    let who = match models {
        [m] if args.model.is_empty() => format!("the {m} model ({networks} networks)"),
        [m] => m.clone(),
        _ => format!("an ensemble of {}", models.join(", ")),
    };
    println!(
        "{who} on {}: {} recordings, {} notes",
        audio.join(", "),
        e.files,
        e.notes
    );
    let correct_files = e.per_file.iter().filter(|f| f.label == f.truth).count();
    let correct_notes: usize = e.per_file.iter().map(|f| f.correct_notes).sum();
    println!(
        "note accuracy {:.4} ({correct_notes}/{})  file accuracy {:.4} ({correct_files}/{})",
        e.note_accuracy, e.notes, e.file_accuracy, e.files
    );
    if let Some(r) = e.unknown_recognised {
        println!(
            "unknown recordings answered unknown {r:.4} (of {})",
            e.unknown_files
        );
    }
    if let Some(t) = e.notes_turned_unknown {
        println!("instrument notes answered unknown {t:.4}");
    }
    println!(
        "expected calibration error {:.4} (note confidences, {ECE_BINS} bins)\n",
        e.ece
    );
    println!("notes per class");
    let avg = [e.macro_precision, e.macro_recall, e.macro_f1];
    print_classes(&e.per_class, avg, e.notes);
    print_confusion(&e.per_class, &e.confusion);
    if !e.top_confusions.is_empty() {
        println!(
            "\nmost frequent confusions: {}",
            e.top_confusions.join(", ")
        );
    }
    println!("\nreliability (note confidence bins)");
    println!(
        "  {:>11}  {:>6}  {:>9}  {:>8}",
        "confidence", "notes", "mean conf", "accuracy"
    );
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    for b in &e.reliability {
        println!(
            "  {:>5.3}-{:<5.3}  {:>6}  {:>9}  {:>8}",
            b.lo,
            b.hi,
            b.count,
            opt(b.mean_confidence),
            opt(b.accuracy)
        );
    }
    for f in &e.no_notes {
        println!("no notes found (answered unknown): {f}");
    }
    for r in &e.remarks {
        println!("note: {r}");
    }
}

/// The width of the class-name column: the longest name, at least 9.
fn name_width(per_class: &[ClassMetrics]) -> usize {
    per_class
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(5)
        .max(9)
}

/// The per-class table with its macro averages (`avg`: precision, recall, F1) over `total`.
fn print_classes(per_class: &[ClassMetrics], avg: [f64; 3], total: usize) {
    let w = name_width(per_class);
    println!(
        "{:<w$}  {:>9}  {:>9}  {:>9}  {:>7}",
        "class", "precision", "recall", "f1", "support"
    );
    for c in per_class {
        println!(
            "{:<w$}  {:>9.4}  {:>9.4}  {:>9.4}  {:>7}",
            c.name, c.precision, c.recall, c.f1, c.support
        );
    }
    println!(
        "{:<w$}  {:>9.4}  {:>9.4}  {:>9.4}  {:>7}",
        "macro avg", avg[0], avg[1], avg[2], total
    );
}

/// The confusion matrix, rows the true class and columns the predicted one.
fn print_confusion(per_class: &[ClassMetrics], confusion: &[Vec<u64>]) {
    let w = name_width(per_class);
    println!("\nconfusion matrix (rows: true class, columns: predicted class)");
    let cw = confusion
        .iter()
        .flatten()
        .map(|v| v.to_string().len())
        .max()
        .unwrap_or(1)
        .max(3);
    let lw = w + 4;
    print!("{:<lw$}", "");
    for i in 0..per_class.len() {
        print!(" {i:>cw$}");
    }
    println!();
    for (i, row) in confusion.iter().enumerate() {
        print!("{:<lw$}", format!("{i} {}", per_class[i].name));
        for v in row {
            print!(" {v:>cw$}");
        }
        println!();
    }
}
