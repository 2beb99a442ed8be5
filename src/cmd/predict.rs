//! `instclf predict`: a trained model's predictions on new data, one line per item (id,
//! predicted class, class probabilities), like EpyNN's `model.predict`. A sequence model takes
//! audio files or folders (cut into clips as its dataset was) or a clip dataset folder (its
//! test rows); a frame (MLP) model takes a frame dataset folder (its test rows).

use instclf_audio::recipe::Recipe;
use instclf_model::dataset::TEST_DATA;
use instclf_model::sequence::{is_sequence_dataset, SequenceData, SequenceModel};
use instclf_model::{device_from_arg, AnyModel, Dataset, Model};
use instclf_pipeline::clips::{self, ClipInput, ClipSpec};
use instclf_pipeline::{inputs, PipelineError};
use std::path::{Path, PathBuf};

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

/// One prediction: id, true class when known, class probabilities.
struct Row {
    id: String,
    truth: Option<String>,
    proba: Vec<f32>,
}

fn is_dataset_dir(p: &Path) -> bool {
    p.is_dir() && p.join(TEST_DATA).is_file()
}

fn sequence_rows(m: &SequenceModel, inputs: &[PathBuf]) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let cols = m.spec.steps * m.spec.step_values;
    for input in inputs {
        if is_dataset_dir(input) {
            let d = SequenceData::load(input)?;
            if d.spec != m.spec {
                let desc = |s: &instclf_model::sequence::SequenceSpec| {
                    format!(
                        "{} steps x {} values ({} input, {} s at {} Hz{})",
                        s.steps,
                        s.step_values,
                        s.input,
                        s.clip_s,
                        s.rate,
                        s.bits.map(|b| format!(", {b} bits")).unwrap_or_default()
                    )
                };
                anyhow::bail!(
                    "{}: clips of {}, but the model takes {}",
                    input.display(),
                    desc(&d.spec),
                    desc(&m.spec)
                );
            }
            if d.data.classes != m.classes {
                anyhow::bail!(
                    "{}: classes {:?} differ from the model's {:?}",
                    input.display(),
                    d.data.classes,
                    m.classes
                );
            }
            let p = m.predict_proba(&d.data.test.x)?;
            for (i, (pr, &y)) in p.chunks(m.classes.len()).zip(&d.data.test.y).enumerate() {
                rows.push(Row {
                    id: format!("{}:test:{i}", input.display()),
                    truth: Some(m.classes[y as usize].clone()),
                    proba: pr.to_vec(),
                });
            }
            continue;
        }
        let clip = ClipSpec {
            seconds: m.spec.clip_s,
            input: if m.spec.bits.is_some() {
                ClipInput::Waveform
            } else {
                ClipInput::Mel
            },
            rate: m.spec.rate,
            bits: m.spec.bits.unwrap_or(0),
        };
        let recipe: Recipe = match &m.recipe {
            Some(r) if clip.input == ClipInput::Mel => serde_json::from_value(r.clone())
                .map_err(|e| anyhow::anyhow!("{}: invalid recipe: {e}", m_path(m)))?,
            _ => Recipe::default(),
        };
        let files = inputs::expand_inputs(std::slice::from_ref(input))?;
        if files.is_empty() {
            anyhow::bail!("{}: no audio files found", input.display());
        }
        for f in files {
            let clips = match clips::clip_rows(&f, &clip, &recipe) {
                Ok(c) => c,
                Err(e @ PipelineError::ClipTooShort { .. }) => {
                    eprintln!("instclf: skipped {e}");
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let flat: Vec<f32> = clips.concat();
            m.check(&flat, &f)?;
            let p = m.predict_proba(&flat)?;
            for (i, pr) in p.chunks(m.classes.len()).enumerate() {
                rows.push(Row {
                    id: format!("{}@{:.3}s", f.display(), i as f64 * clip.seconds),
                    truth: None,
                    proba: pr.to_vec(),
                });
            }
        }
        let _ = cols;
    }
    if rows.is_empty() {
        anyhow::bail!(
            "no clips to predict: every recording is shorter than one {} s clip",
            m.spec.clip_s
        );
    }
    Ok(rows)
}

fn m_path(m: &SequenceModel) -> String {
    m.training
        .as_ref()
        .and_then(|t| t.dataset.clone())
        .unwrap_or_else(|| "model".into())
}

fn frame_rows(m: &Model, inputs: &[PathBuf]) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for input in inputs {
        if is_sequence_dataset(input) {
            anyhow::bail!(
                "{}: is a clip (sequence) dataset, but the model is a frame MLP that takes frame rows",
                input.display()
            );
        }
        if !is_dataset_dir(input) {
            anyhow::bail!(
                "{}: a frame model predicts dataset rows; for recordings use `instclf classify`",
                input.display()
            );
        }
        let d = Dataset::load(input)?;
        if d.n_features != m.n_features() {
            anyhow::bail!(
                "{}: rows have {} features, the model takes {}",
                input.display(),
                d.n_features,
                m.n_features()
            );
        }
        let p = m.predict_proba(&d.test.x)?;
        for (i, (pr, &y)) in p.chunks(m.n_classes()).zip(&d.test.y).enumerate() {
            rows.push(Row {
                id: format!("{}:test:{i}", input.display()),
                truth: d.classes.get(y as usize).cloned(),
                proba: pr.to_vec(),
            });
        }
    }
    Ok(rows)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    // --device concerns frame models only: it is read when the model is one.
    let (classes, rows) = match AnyModel::load_with(&args.model, || device_from_arg(&args.device))?
    {
        AnyModel::Sequence(m) => {
            let rows = sequence_rows(&m, &args.data)?;
            (m.classes, rows)
        }
        AnyModel::Dense(m) => {
            let rows = frame_rows(&m, &args.data)?;
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
