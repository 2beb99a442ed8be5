//! The trained sequence classifier ([`SequenceModel`]): network inputs from raw rows, prediction,
//! evaluation, and its model folder (`model.json` with `format: instclf-sequence-model`,
//! `model.safetensors`, history), written atomically and loaded with shape checks.

use super::data::{check_rows, data_err, SequenceSpec};
use super::net::{Recurrent, SeqArch, SeqConfig, SeqNet};
use crate::callback::EpochRecord;
use crate::error::ModelError;
use crate::kind::{ModelKind, MODEL_JSON};
use crate::metrics::{metrics_from_predictions, predictions, Evaluation};
use crate::model::{
    write_folder_atomic, write_history, HistorySummary, Standardiser, TrainingInfo,
};
use crate::net::Dense;
use crate::npy::write_atomic;
use candle_core::{DType, Device, Tensor, Var};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// A trained sequence classifier.
#[derive(Debug, Clone)]
pub struct SequenceModel {
    pub net: SeqNet,
    pub classes: Vec<String>,
    pub spec: SequenceSpec,
    /// Per-feature standardisation of real-valued steps (`mel`); `None` for one-hot levels.
    pub standardiser: Option<Standardiser>,
    pub recipe: Option<serde_json::Value>,
    pub training: Option<TrainingInfo>,
    pub history: Vec<EpochRecord>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SeqModelJson {
    format: String,
    version: u32,
    network: SeqConfig,
    parameters: usize,
    classes: Vec<String>,
    sequence: SequenceSpec,
    standardisation: Option<Standardiser>,
    training: Option<TrainingInfo>,
    recipe: Option<serde_json::Value>,
    history_summary: Option<HistorySummary>,
}

fn model_err(path: &Path, msg: impl Into<String>) -> ModelError {
    ModelError::Model {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

impl SequenceModel {
    /// Network inputs `(rows*steps, input_dim)` for raw rows: one-hot levels, or standardised
    /// frames.
    pub fn inputs(&self, raw: &[f32], rows: usize) -> Result<Tensor, ModelError> {
        let spec = &self.spec;
        let (t_len, d) = (spec.steps, spec.input_dim());
        let v = match spec.levels() {
            Some(levels) => {
                let mut v = vec![0f32; rows * t_len * levels];
                for (i, &l) in raw.iter().enumerate() {
                    v[i * levels + (l as usize).min(levels - 1)] = 1.0;
                }
                v
            }
            None => match &self.standardiser {
                Some(s) => s.apply(raw),
                None => raw.to_vec(),
            },
        };
        Ok(Tensor::from_vec(v, (rows * t_len, d), &Device::Cpu)?)
    }

    /// Checks raw rows against the model's sequence shape.
    pub fn check(&self, raw: &[f32], what: &Path) -> Result<usize, ModelError> {
        let cols = self.spec.steps * self.spec.step_values;
        if !raw.len().is_multiple_of(cols) {
            return Err(data_err(
                what,
                format!(
                    "{} values are not whole sequences of {} steps x {} values",
                    raw.len(),
                    self.spec.steps,
                    self.spec.step_values
                ),
            ));
        }
        check_rows(&self.spec, raw, cols, what)?;
        Ok(raw.len() / cols)
    }

    /// Logits `rows x classes` (row-major) for raw rows.
    pub fn predict_logits(&self, raw: &[f32]) -> Result<Vec<f32>, ModelError> {
        let cols = self.spec.steps * self.spec.step_values;
        let rows = raw.len() / cols.max(1);
        let mut out = Vec::with_capacity(rows * self.classes.len());
        let chunk = 64;
        let mut start = 0;
        while start < rows {
            let n = chunk.min(rows - start);
            let x = self.inputs(&raw[start * cols..(start + n) * cols], n)?;
            out.extend(self.net.forward(&x, n)?.flatten_all()?.to_vec1::<f32>()?);
            start += n;
        }
        Ok(out)
    }

    /// Class probabilities `rows x classes` (softmax of the logits, computed stably).
    pub fn predict_proba(&self, raw: &[f32]) -> Result<Vec<f32>, ModelError> {
        let k = self.classes.len();
        let mut p = self.predict_logits(raw)?;
        for row in p.chunks_mut(k) {
            let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let s: f32 = row.iter().map(|v| (v - m).exp()).sum();
            row.iter_mut().for_each(|v| *v = (*v - m).exp() / s);
        }
        Ok(p)
    }

    /// Accuracy, per-class and macro precision/recall/F1 on raw rows with labels.
    pub fn evaluate(&self, raw: &[f32], y: &[u32]) -> Result<Evaluation, ModelError> {
        let k = self.classes.len();
        let logits = self.predict_logits(raw)?;
        let (pred, loss) = predictions(&logits, y, k);
        Ok(metrics_from_predictions(&self.classes, y, &pred, loss))
    }

    /// `model.json` and the named weight tensors.
    fn json(&self) -> Result<Vec<u8>, ModelError> {
        let mj = SeqModelJson {
            format: ModelKind::Sequence.format().to_string(),
            version: 1,
            network: self.net.cfg.clone(),
            parameters: self.net.cfg.n_params(),
            classes: self.classes.clone(),
            sequence: self.spec.clone(),
            standardisation: self.standardiser.clone(),
            training: self.training.clone(),
            recipe: self.recipe.clone(),
            history_summary: HistorySummary::of(&self.history),
        };
        serde_json::to_vec_pretty(&mj)
            .map_err(|e| ModelError::Invalid(format!("cannot serialise model.json: {e}")))
    }

    /// Writes the model folder atomically (a temporary sibling folder, then renamed into place).
    pub fn save(&self, dir: &Path) -> Result<(), ModelError> {
        let json = self.json()?;
        let tensors: HashMap<String, Tensor> = self
            .net
            .named_vars()
            .into_iter()
            .map(|(n, v)| (n, v.as_tensor().clone()))
            .collect();
        write_folder_atomic(dir, |tmp| {
            write_atomic(&tmp.join(MODEL_JSON), &json)?;
            candle_core::safetensors::save(&tensors, tmp.join(crate::model::MODEL_WEIGHTS))?;
            write_history(tmp, &self.history)
        })
    }

    /// Loads a sequence-model folder; a frame (MLP) model folder is a clear error.
    pub fn load(dir: &Path) -> Result<SequenceModel, ModelError> {
        if !dir.is_dir() {
            return Err(model_err(dir, "model folder not found"));
        }
        let jp = dir.join(MODEL_JSON);
        let bytes = std::fs::read(&jp).map_err(|e| ModelError::Io {
            path: jp.clone(),
            source: e,
        })?;
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| ModelError::Json {
                path: jp.clone(),
                msg: e.to_string(),
            })?;
        if ModelKind::of_value(&v) != Some(ModelKind::Sequence) {
            return Err(model_err(
                &jp,
                "is a frame (MLP) model, not a sequence model; it takes frame rows, not clips",
            ));
        }
        let mj: SeqModelJson = serde_json::from_value(v).map_err(|e| ModelError::Json {
            path: jp.clone(),
            msg: e.to_string(),
        })?;
        let cfg = mj.network;
        cfg.validate().map_err(|e| model_err(&jp, e.to_string()))?;
        mj.sequence
            .validate()
            .map_err(|e| model_err(&jp, e.to_string()))?;
        if mj.classes.len() != cfg.n_classes
            || cfg.steps != mj.sequence.steps
            || cfg.input_dim != mj.sequence.input_dim()
        {
            return Err(model_err(
                &jp,
                "network, classes and sequence description disagree",
            ));
        }
        let wp = dir.join(crate::model::MODEL_WEIGHTS);
        let tensors = candle_core::safetensors::load(&wp, &Device::Cpu)
            .map_err(|e| model_err(&wp, format!("cannot read weights: {e}")))?;
        let mut vars = HashMap::new();
        for (name, shape) in SeqNet::shapes(&cfg) {
            let t = tensors
                .get(&name)
                .ok_or_else(|| model_err(&wp, format!("weight tensor '{name}' is missing")))?;
            if t.dims() != shape.as_slice() || t.dtype() != DType::F32 {
                return Err(model_err(
                    &wp,
                    format!(
                        "weight tensor '{name}' is {:?} {:?}, expected F32 {shape:?}",
                        t.dtype(),
                        t.dims()
                    ),
                ));
            }
            vars.insert(name, Var::from_tensor(t)?);
        }
        let take = |n: &str| vars.get(n).cloned();
        let rec = if cfg.arch == SeqArch::Dense {
            None
        } else {
            Some(Recurrent {
                wx: take("rec.wx").ok_or_else(|| model_err(&wp, "rec.wx missing"))?,
                u: take("rec.u").ok_or_else(|| model_err(&wp, "rec.u missing"))?,
                bi: take("rec.bi").ok_or_else(|| model_err(&wp, "rec.bi missing"))?,
                bh: take("rec.bh"),
            })
        };
        let head = (0..cfg.head_sizes().len())
            .map(|i| {
                Ok(Dense {
                    kernel: take(&format!("head{i}.kernel"))
                        .ok_or_else(|| model_err(&wp, "head kernel missing"))?,
                    bias: take(&format!("head{i}.bias"))
                        .ok_or_else(|| model_err(&wp, "head bias missing"))?,
                })
            })
            .collect::<Result<Vec<_>, ModelError>>()?;
        let hp = dir.join(crate::model::HISTORY_JSON);
        let history = match std::fs::read(&hp) {
            Ok(h) => serde_json::from_slice(&h).map_err(|e| ModelError::Json {
                path: hp,
                msg: e.to_string(),
            })?,
            Err(_) => Vec::new(),
        };
        Ok(SequenceModel {
            net: SeqNet { cfg, rec, head },
            classes: mj.classes,
            spec: mj.sequence,
            standardiser: mj.standardisation,
            recipe: mj.recipe,
            training: mj.training,
            history,
        })
    }
}
