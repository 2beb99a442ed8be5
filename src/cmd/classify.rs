//! `instclf classify`: name the instrument in recordings, note by note and per file.

use instclf_pipeline::{inputs, FileResult, Ranked};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    after_help = "Each note's answer comes from the whole note (a note-level model) or from the \
mean log-probability over its frames (a frame model), and over the models when --model is given \
more than once (an ensemble); the file's answer averages its notes' scores, each note counting \
the same. Confidences are calibrated probabilities. When the instrument changes within a \
recording, the table lists its segments (runs of notes of one class); JSON always has them. \
Without --model the bundled default model is used; it needs no files or network. Several files \
are classified in parallel and reported in the order given.

JSON (--json: one array of files; --jsonl: one file object per line) is described field by \
field in docs/json.md.

Examples:
  instclf classify fixtures/audio/Violin.Vib.mf.G4A4.aiff
  instclf classify --top 3 fixtures/audio/
  instclf classify --jsonl fixtures/audio/ | jq -r '[.file, .label] | @tsv'"
)]
pub struct Args {
    /// Audio files or folders (searched recursively); `-` reads one file from standard input.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// A model folder made by `instclf train` (default: the bundled model). Give it more than
    /// once for an ensemble of models trained on the same classes (frame and note-level
    /// networks may be mixed).
    #[arg(long)]
    model: Vec<PathBuf>,
    /// How many of the best classes to show per note and file (at least 1).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    top: u16,
    /// Print JSON: one array with an object per file (docs/json.md).
    #[arg(long, conflicts_with = "jsonl")]
    json: bool,
    /// Print JSON Lines: one object per file, each on its own line as soon as it is done.
    #[arg(long)]
    jsonl: bool,
    /// Answer `unknown` when the best class is less probable than P (0..1). The bundled model
    /// also has a class of its own for what is none of its instruments.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = crate::cmd::probability)]
    min_confidence: f64,
    /// Device: auto (the first CUDA GPU in a CUDA build when one answers, else the CPU), cpu or
    /// cuda[:N].
    #[arg(long, default_value = "auto")]
    device: String,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut clf = crate::default_model::classifier(&args.model, &args.device)?;
    clf.min_confidence = args.min_confidence;
    let files = inputs::expand_inputs(&args.inputs)?;
    let bar = crate::util::progress_bar(
        if files.len() > 3 {
            files.len() as u64
        } else {
            0
        },
        "classifying",
    );
    // Files are classified in parallel and reported in the order given: workers send
    // (index, result) and this thread prints each one as soon as all before it are done.
    let mut results: Vec<FileResult> = Vec::new();
    let mut failed = 0usize;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            files
                .par_iter()
                .enumerate()
                .for_each_with(tx, |tx, (i, f)| {
                    let _ = tx.send((i, clf.classify(f, usize::from(args.top))));
                })
        });
        let mut pending = BTreeMap::new();
        let mut next = 0usize;
        for (i, r) in rx {
            pending.insert(i, r);
            while let Some(r) = pending.remove(&next) {
                match r {
                    Ok(r) => {
                        if args.jsonl {
                            match serde_json::to_string(&r) {
                                Ok(line) => bar.suspend(|| println!("{line}")),
                                Err(e) => bar.suspend(|| eprintln!("instclf: error: {e}")),
                            }
                        } else if args.json {
                            results.push(r);
                        } else {
                            bar.suspend(|| print_table(&r));
                        }
                    }
                    Err(e) => {
                        failed += 1;
                        bar.suspend(|| eprintln!("instclf: error: {e:#}"));
                    }
                }
                bar.inc(1);
                next += 1;
            }
        }
    });
    bar.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} files could not be classified", files.len());
    }
    Ok(())
}

fn print_table(r: &FileResult) {
    println!("{}", r.file);
    if r.notes.is_empty() {
        println!("  no notes detected\n  => {}", r.label);
        return;
    }
    println!(
        "  {:>8} {:>8}  {:<12} {:>6}",
        "start", "end", "class", "conf"
    );
    for n in &r.notes {
        println!(
            "  {:>7.2}s {:>7.2}s  {:<12} {:>6.2}{}",
            n.start,
            n.end,
            n.label,
            n.confidence,
            others(&n.label, &n.top, "  (", ")")
        );
    }
    if r.segments.len() > 1 {
        println!("  segments:");
        for s in &r.segments {
            println!(
                "  {:>7.2}s {:>7.2}s  {:<12} {:>6.2}  ({} note{})",
                s.start,
                s.end,
                s.label,
                s.confidence,
                s.notes,
                if s.notes == 1 { "" } else { "s" }
            );
        }
    }
    if let Some(c) = r.confidence {
        println!(
            "  => {} ({c:.2}){}",
            r.label,
            others(&r.label, &r.top, "; then ", "")
        );
    }
}

/// The classes of `top` other than the answer `label`, as "A 0.12, B 0.03" between `pre` and
/// `post` (an `unknown` answer thereby still shows the best class); empty when there are none.
fn others(label: &str, top: &[Ranked], pre: &str, post: &str) -> String {
    let list: Vec<String> = top
        .iter()
        .filter(|t| t.label != label)
        .map(|t| format!("{} {:.2}", t.label, t.p))
        .collect();
    if list.is_empty() {
        return String::new();
    }
    format!("{pre}{}{post}", list.join(", "))
}
