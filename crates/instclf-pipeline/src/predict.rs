//! Predictions of a trained model on new data (`instclf predict`), like EpyNN's
//! `model.predict`: a sequence model's class probabilities for each clip of recordings (cut as
//! its dataset was) or for a clip dataset's test rows, a frame model's for a frame dataset's test
//! rows.

use crate::clips::{self, ClipInput, ClipSpec};
use crate::error::PipelineError;
use crate::inputs;
use instclf_audio::recipe::Recipe;
use instclf_model::dataset::TEST_DATA;
use instclf_model::sequence::{is_sequence_dataset, SequenceData, SequenceModel};
use instclf_model::{Dataset, Model};
use std::path::{Path, PathBuf};

/// One prediction: id, true class when known, class probabilities.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// `DATASET:test:ROW`, or `FILE@START_s` for a clip of a recording.
    pub id: String,
    pub truth: Option<String>,
    pub proba: Vec<f32>,
}

fn is_dataset_dir(p: &Path) -> bool {
    p.is_dir() && p.join(TEST_DATA).is_file()
}

/// A sequence model's class probabilities for each clip of the recordings under `inputs` (cut
/// as its dataset was; a recording shorter than one clip is skipped and listed in `skipped`),
/// or for the test rows of a clip dataset folder.
pub fn sequence_predictions(
    m: &SequenceModel,
    inputs: &[PathBuf],
    skipped: &mut Vec<String>,
) -> Result<Vec<Prediction>, PipelineError> {
    let mut rows = Vec::new();
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
                return Err(PipelineError::Input {
                    path: input.clone(),
                    msg: format!(
                        "clips of {}, but the model takes {}",
                        desc(&d.spec),
                        desc(&m.spec)
                    ),
                });
            }
            if d.data.classes != m.classes {
                return Err(PipelineError::Input {
                    path: input.clone(),
                    msg: format!(
                        "classes {:?} differ from the model's {:?}",
                        d.data.classes, m.classes
                    ),
                });
            }
            let p = m.predict_proba(&d.data.test.x)?;
            for (i, (pr, &y)) in p.chunks(m.classes.len()).zip(&d.data.test.y).enumerate() {
                rows.push(Prediction {
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
            Some(r) if clip.input == ClipInput::Mel => {
                serde_json::from_value(r.clone()).map_err(|e| PipelineError::Model {
                    origin: m_path(m),
                    msg: format!("invalid recipe: {e}"),
                })?
            }
            _ => Recipe::default(),
        };
        let files = inputs::expand_inputs(std::slice::from_ref(input))?;
        for f in files {
            let clips = match clips::clip_rows(&f, &clip, &recipe) {
                Ok(c) => c,
                Err(e @ PipelineError::ClipTooShort { .. }) => {
                    skipped.push(e.to_string());
                    continue;
                }
                Err(e) => return Err(e),
            };
            let flat: Vec<f32> = clips.concat();
            m.check(&flat, &f)?;
            let p = m.predict_proba(&flat)?;
            for (i, pr) in p.chunks(m.classes.len()).enumerate() {
                rows.push(Prediction {
                    id: format!("{}@{:.3}s", f.display(), i as f64 * clip.seconds),
                    truth: None,
                    proba: pr.to_vec(),
                });
            }
        }
    }
    if rows.is_empty() {
        bail_invalid!(
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

/// A frame model's class probabilities for the test rows of frame dataset folders.
pub fn frame_predictions(m: &Model, inputs: &[PathBuf]) -> Result<Vec<Prediction>, PipelineError> {
    let mut rows = Vec::new();
    for input in inputs {
        if is_sequence_dataset(input) {
            return Err(PipelineError::Input {
                path: input.clone(),
                msg: "is a clip (sequence) dataset, but the model is a frame MLP that takes frame rows"
                    .into(),
            });
        }
        if !is_dataset_dir(input) {
            return Err(PipelineError::Input {
                path: input.clone(),
                msg: "a frame model predicts dataset rows; for recordings use `instclf classify`"
                    .into(),
            });
        }
        let d = Dataset::load(input)?;
        if d.n_features != m.n_features() {
            return Err(PipelineError::Input {
                path: input.clone(),
                msg: format!(
                    "rows have {} features, the model takes {}",
                    d.n_features,
                    m.n_features()
                ),
            });
        }
        let p = m.predict_proba(&d.test.x)?;
        for (i, (pr, &y)) in p.chunks(m.n_classes()).zip(&d.test.y).enumerate() {
            rows.push(Prediction {
                id: format!("{}:test:{i}", input.display()),
                truth: d.classes.get(y as usize).cloned(),
                proba: pr.to_vec(),
            });
        }
    }
    Ok(rows)
}
