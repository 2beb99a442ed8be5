//! `instclf predict`: a trained model's predictions on new data, one line per item (id,
//! predicted class, class probabilities), like EpyNN's `model.predict`. A sequence model takes
//! audio files or folders (cut into clips as its dataset was) or a clip dataset folder (its
//! test rows); a frame (MLP) model takes a frame dataset folder (its test rows). The predictions
//! come from instclf-pipeline's `predict`; this file parses and prints them.

use instclf_model::{device_from_arg, AnyModel};
use instclf_pipeline::predict::{frame_predictions, sequence_predictions};
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  instclf predict --model models/sources --data sources
  instclf predict --model models/gru --data fixtures/audio/Flute.Vib.pp.E5Gb5.aiff
  instclf predict --model models/gru --data clips --json")]
pub struct Args {
    /// Model folder written by `instclf train`.
    #[arg(long)]
    pub model: PathBuf,
    /// Audio file(s)/folder (sequence models), or a dataset folder (its test rows).
    #[arg(long, required = true)]
    pub data: Vec<PathBuf>,
    /// Compute device for frame models [possible values: auto, cpu, cuda, cuda:N].
    #[arg(long, default_value = "cpu", value_name = "DEVICE")]
    pub device: String,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    // --device concerns frame models only: it is read when the model is one.
    let (classes, rows) = match AnyModel::load_with(&args.model, || device_from_arg(&args.device))?
    {
        AnyModel::Sequence(m) => {
            let mut skipped = Vec::new();
            let rows = sequence_predictions(&m, &args.data, &mut skipped)?;
            for why in skipped {
                eprintln!("instclf: skipped {why}");
            }
            (m.classes, rows)
        }
        AnyModel::Dense(m) => {
            let rows = frame_predictions(&m, &args.data)?;
            (m.classes, rows)
        }
    };
    let predicted = |p: &[f32]| {
        let mut best = 0;
        for (i, &v) in p.iter().enumerate() {
            if v > p[best] {
                best = i;
            }
        }
        best
    };
    if args.json {
        let items: Vec<_> = rows
            .iter()
            .map(|r| {
                let probs: serde_json::Map<String, serde_json::Value> = classes
                    .iter()
                    .zip(&r.proba)
                    .map(|(c, &p)| (c.clone(), serde_json::json!(p)))
                    .collect();
                serde_json::json!({
                    "id": r.id,
                    "predicted": classes[predicted(&r.proba)],
                    "true": r.truth,
                    "probabilities": probs,
                })
            })
            .collect();
        let v = serde_json::json!({
            "model": args.model.display().to_string(),
            "classes": classes,
            "predictions": items,
        });
        println!("{}", serde_json::to_string(&v)?);
        return Ok(());
    }
    let idw = rows.iter().map(|r| r.id.len()).max().unwrap_or(2).max(2);
    let cw = classes.iter().map(|c| c.len()).max().unwrap_or(9).max(9);
    let mut head = format!("{:<idw$}  {:<cw$}", "id", "predicted");
    if rows.iter().any(|r| r.truth.is_some()) {
        head.push_str(&format!("  {:<cw$}", "true"));
    }
    for c in &classes {
        head.push_str(&format!(
            "  {:>w$}",
            format!("p({c})"),
            w = c.len().max(6) + 3
        ));
    }
    println!("{head}");
    for r in &rows {
        let mut line = format!("{:<idw$}  {:<cw$}", r.id, classes[predicted(&r.proba)]);
        if let Some(t) = &r.truth {
            line.push_str(&format!("  {t:<cw$}"));
        }
        for (c, p) in classes.iter().zip(&r.proba) {
            line.push_str(&format!("  {:>w$.4}", p, w = c.len().max(6) + 3));
        }
        println!("{line}");
    }
    Ok(())
}
