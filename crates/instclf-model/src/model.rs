//! Trained models and model folders. A model folder holds `model.safetensors` (the weights and
//! the standardisation statistics), `model.json` (architecture, class names, standardisation
//! mean/std, training hyperparameters, feature recipe, history summary), `history.csv` and
//! `history.json`; a training checkpoint also holds `optimizer.safetensors` (the Adam moments,
//! for `--resume`). Folders are written atomically (a temporary sibling folder, then a rename);
//! models can also be loaded from bytes in memory (for a model embedded in the binary).

use crate::callback::EpochRecord;
use crate::error::ModelError;
use crate::kind::ModelKind;
use crate::net::{Architecture, Mlp};
use crate::npy::write_atomic;
use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use crate::kind::MODEL_JSON;
pub const MODEL_WEIGHTS: &str = "model.safetensors";
pub const HISTORY_CSV: &str = "history.csv";
pub const HISTORY_JSON: &str = "history.json";
/// Adam moments of a training checkpoint (read by `fit_resume`; not needed for prediction).
pub const OPTIMIZER: &str = "optimizer.safetensors";
const FORMAT: &str = ModelKind::Dense.format();
const MEAN: &str = "standardise.mean";
const STD: &str = "standardise.std";

/// Per-feature standardisation `(x - mean) / std`, fitted on training data only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardiser {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Standardiser {
    /// Mean and population standard deviation of each column of a row-major matrix (computed
    /// in f64); a zero standard deviation becomes 1.
    pub fn fit(x: &[f32], n_features: usize) -> Standardiser {
        let rows = x.len().checked_div(n_features).unwrap_or(0).max(1);
        let mut sum = vec![0f64; n_features];
        for row in x.chunks_exact(n_features.max(1)) {
            for (s, &v) in sum.iter_mut().zip(row) {
                *s += f64::from(v);
            }
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / rows as f64).collect();
        let mut sq = vec![0f64; n_features];
        for row in x.chunks_exact(n_features.max(1)) {
            for ((s, &v), m) in sq.iter_mut().zip(row).zip(&mean) {
                let d = f64::from(v) - m;
                *s += d * d;
            }
        }
        let std = sq
            .iter()
            .map(|s| {
                let sd = (s / rows as f64).sqrt() as f32;
                if sd > 0.0 && sd.is_finite() {
                    sd
                } else {
                    1.0
                }
            })
            .collect();
        Standardiser {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std,
        }
    }

    /// Standardises a row-major matrix.
    pub fn apply(&self, x: &[f32]) -> Vec<f32> {
        let n = self.mean.len().max(1);
        let mut out = Vec::with_capacity(x.len());
        for row in x.chunks(n) {
            for ((&v, &m), &s) in row.iter().zip(&self.mean).zip(&self.std) {
                out.push((v - m) / s);
            }
        }
        out
    }
}

/// Training hyperparameters and outcome, stored in `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingInfo {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub seed: u64,
    pub validation: String,
    pub device: String,
    pub train_time_s: f64,
    pub diverged: bool,
    pub train_rows: usize,
    pub dataset: Option<String>,
    /// The first epoch of weight averaging ([`crate::train::FitOptions::average_from`]); left
    /// out when off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_from: Option<usize>,
}

/// The last and best epoch of a training history, stored in `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistorySummary {
    pub epochs: usize,
    pub final_loss: f64,
    pub final_accuracy: f64,
    pub final_val_loss: Option<f64>,
    pub final_val_accuracy: Option<f64>,
    pub best_val_accuracy: Option<f64>,
}

impl HistorySummary {
    pub fn of(history: &[EpochRecord]) -> Option<HistorySummary> {
        let last = history.last()?;
        Some(HistorySummary {
            epochs: history.len(),
            final_loss: last.loss,
            final_accuracy: last.accuracy,
            final_val_loss: last.val_loss,
            final_val_accuracy: last.val_accuracy,
            best_val_accuracy: history
                .iter()
                .filter_map(|r| r.val_accuracy)
                .fold(None, |b: Option<f64>, v| Some(b.map_or(v, |b| b.max(v)))),
        })
    }
}

/// How far to soften a model's (or an ensemble's) note scores so that its confidences match its
/// accuracy on sample sets it was not trained on: confidences are softmax(score / temperature),
/// with `unknown_bias` nats taken from the `unknown` class (when the model has one) after the
/// division. Fitted on held-out sources (leave-one-source-out), never on a model's own test rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub temperature: f64,
    /// Nats subtracted from the `unknown` class's calibrated log-score: a prior shift that trades
    /// unknown recordings recognised for instrument notes kept (scripts/unknown-threshold.py).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_bias: Option<f64>,
    /// What it was fitted on, for the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fitted_on: Option<String>,
    /// This network's weight in an ensemble's mean of log-probabilities (1 when absent; only
    /// the ratios between an ensemble's networks matter). Chosen, like the temperature, on
    /// held-out sources; a bundle sets it per member from its recipe's `calibration.weights`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ModelJson {
    format: String,
    version: u32,
    architecture: Architecture,
    classes: Vec<String>,
    standardisation: Standardiser,
    training: Option<TrainingInfo>,
    recipe: Option<serde_json::Value>,
    history_summary: Option<HistorySummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    calibration: Option<Calibration>,
}

/// A trained classifier: network, class names and standardisation.
#[derive(Debug, Clone)]
pub struct Model {
    pub net: Mlp,
    pub classes: Vec<String>,
    pub standardiser: Standardiser,
    pub training: Option<TrainingInfo>,
    /// The feature recipe of the dataset it was trained on (opaque JSON).
    pub recipe: Option<serde_json::Value>,
    pub history: Vec<EpochRecord>,
    pub device: Device,
    /// The temperature of its note scores, where one was fitted (`model.json` `calibration`).
    pub calibration: Option<Calibration>,
}

fn model_err(path: &Path, msg: impl Into<String>) -> ModelError {
    ModelError::Model {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

/// Serialises f32 tensors in the safetensors format (keys sorted, header padded to 8 bytes).
pub(crate) fn safetensors_bytes(
    tensors: &[(String, Vec<usize>, Vec<f32>)],
) -> Result<Vec<u8>, ModelError> {
    let mut sorted: Vec<&(String, Vec<usize>, Vec<f32>)> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut header = serde_json::Map::new();
    let mut offset = 0usize;
    for (name, shape, data) in &sorted {
        let end = offset + data.len() * 4;
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [offset, end]}),
        );
        offset = end;
    }
    let mut h = serde_json::to_vec(&header)
        .map_err(|e| ModelError::Invalid(format!("cannot serialise weights header: {e}")))?;
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + h.len() + offset);
    out.extend_from_slice(&(h.len() as u64).to_le_bytes());
    out.extend_from_slice(&h);
    for (_, _, data) in &sorted {
        for v in data.iter() {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    Ok(out)
}

impl Model {
    pub fn arch(&self) -> &Architecture {
        &self.net.arch
    }

    pub fn n_features(&self) -> usize {
        self.net.arch.n_features
    }

    pub fn n_classes(&self) -> usize {
        self.net.arch.n_classes
    }

    /// `model.json` and `model.safetensors` as bytes.
    pub fn to_bytes(&self) -> Result<(Vec<u8>, Vec<u8>), ModelError> {
        let mj = ModelJson {
            format: FORMAT.to_string(),
            version: 1,
            architecture: self.net.arch.clone(),
            classes: self.classes.clone(),
            standardisation: self.standardiser.clone(),
            training: self.training.clone(),
            recipe: self.recipe.clone(),
            history_summary: HistorySummary::of(&self.history),
            calibration: self.calibration.clone(),
        };
        let json = serde_json::to_vec_pretty(&mj)
            .map_err(|e| ModelError::Invalid(format!("cannot serialise model.json: {e}")))?;
        let mut tensors = Vec::new();
        for (i, l) in self.net.layers.iter().enumerate() {
            let (kn, bn) = Architecture::tensor_names(i);
            let k = l.kernel.as_tensor();
            tensors.push((kn, k.dims().to_vec(), k.flatten_all()?.to_vec1::<f32>()?));
            let b = l.bias.as_tensor();
            tensors.push((bn, b.dims().to_vec(), b.to_vec1::<f32>()?));
        }
        if let Some(c) = &self.net.conv {
            let (kn, bn) = Architecture::CONV_TENSORS;
            let k = c.kernel.as_tensor();
            tensors.push((
                kn.into(),
                k.dims().to_vec(),
                k.flatten_all()?.to_vec1::<f32>()?,
            ));
            let b = c.bias.as_tensor();
            tensors.push((bn.into(), b.dims().to_vec(), b.to_vec1::<f32>()?));
        }
        if let Some(g) = &self.net.gru {
            let [(wx, bi), (wu, bh)] = g.pairs();
            for (name, t) in crate::gru::TENSORS.iter().zip([wx, bi, wu, bh]) {
                let v = t.flatten_all()?.to_vec1::<f32>()?;
                tensors.push((name.to_string(), t.dims().to_vec(), v));
            }
        }
        let n = self.standardiser.mean.len();
        tensors.push((MEAN.to_string(), vec![n], self.standardiser.mean.clone()));
        tensors.push((STD.to_string(), vec![n], self.standardiser.std.clone()));
        Ok((json, safetensors_bytes(&tensors)?))
    }

    /// A model from `model.json` and `model.safetensors` bytes (e.g. from `include_bytes!`).
    pub fn from_bytes(
        json: &[u8],
        safetensors: &[u8],
        device: &Device,
    ) -> Result<Model, ModelError> {
        Self::from_bytes_named(
            json,
            safetensors,
            Path::new(MODEL_JSON),
            Path::new(MODEL_WEIGHTS),
            device,
        )
    }

    fn from_bytes_named(
        json: &[u8],
        safetensors: &[u8],
        json_path: &Path,
        st_path: &Path,
        device: &Device,
    ) -> Result<Model, ModelError> {
        if ModelKind::of_json(json) == Some(ModelKind::Sequence) {
            return Err(model_err(
                json_path,
                "is a sequence model (dense/rnn/gru on clips), not a frame model: use `instclf predict`",
            ));
        }
        let mj: ModelJson = serde_json::from_slice(json).map_err(|e| ModelError::Json {
            path: json_path.to_path_buf(),
            msg: e.to_string(),
        })?;
        if mj.format != FORMAT {
            return Err(model_err(
                json_path,
                format!("format is '{}', expected '{FORMAT}'", mj.format),
            ));
        }
        if let Some(c) = &mj.calibration {
            if !(c.temperature > 0.0 && c.temperature.is_finite()) {
                return Err(model_err(
                    json_path,
                    format!("calibration temperature must be > 0, got {}", c.temperature),
                ));
            }
            if let Some(w) = c.weight.filter(|w| !(*w > 0.0 && w.is_finite())) {
                return Err(model_err(
                    json_path,
                    format!("calibration weight must be > 0, got {w}"),
                ));
            }
        }
        let arch = mj.architecture;
        arch.validate()
            .map_err(|e| model_err(json_path, e.to_string()))?;
        if mj.classes.len() != arch.n_classes {
            return Err(model_err(
                json_path,
                format!(
                    "{} class names for {} outputs",
                    mj.classes.len(),
                    arch.n_classes
                ),
            ));
        }
        let tensors: HashMap<String, Tensor> =
            candle_core::safetensors::load_buffer(safetensors, device)
                .map_err(|e| model_err(st_path, format!("cannot read weights: {e}")))?;
        let get = |name: &str, shape: &[usize]| -> Result<Tensor, ModelError> {
            let t = tensors
                .get(name)
                .ok_or_else(|| model_err(st_path, format!("weight tensor '{name}' is missing")))?;
            if t.dims() != shape {
                return Err(model_err(
                    st_path,
                    format!(
                        "weight tensor '{name}' has shape {:?}, expected {:?}",
                        t.dims(),
                        shape
                    ),
                ));
            }
            if t.dtype() != DType::F32 {
                return Err(model_err(
                    st_path,
                    format!("weight tensor '{name}' is {:?}, expected F32", t.dtype()),
                ));
            }
            Ok(t.clone())
        };
        let mut layers = Vec::new();
        for (i, (fi, fo)) in arch.layer_sizes().into_iter().enumerate() {
            let (kn, bn) = Architecture::tensor_names(i);
            layers.push((get(&kn, &[fi, fo])?, get(&bn, &[fo])?));
        }
        let conv = match &arch.conv {
            Some(c) => {
                let (kn, bn) = Architecture::CONV_TENSORS;
                Some((get(kn, &[c.patch(), c.filters])?, get(bn, &[c.filters])?))
            }
            None => None,
        };
        let gru = match &arch.gru {
            Some(g) => {
                let [a, b, c, d] = g.shapes();
                let t = crate::gru::TENSORS;
                Some([
                    (get(t[0], &a)?, get(t[1], &b)?),
                    (get(t[2], &c)?, get(t[3], &d)?),
                ])
            }
            None => None,
        };
        let nf = arch.n_features;
        let standardiser = match (tensors.get(MEAN), tensors.get(STD)) {
            (Some(_), Some(_)) => Standardiser {
                mean: get(MEAN, &[nf])?.to_vec1::<f32>()?,
                std: get(STD, &[nf])?.to_vec1::<f32>()?,
            },
            _ => mj.standardisation,
        };
        if standardiser.mean.len() != nf || standardiser.std.len() != nf {
            return Err(model_err(
                json_path,
                format!(
                    "standardisation has {} values for {nf} features",
                    standardiser.mean.len()
                ),
            ));
        }
        Ok(Model {
            net: Mlp::from_tensors(&arch, layers, conv, gru)?,
            classes: mj.classes,
            standardiser,
            training: mj.training,
            recipe: mj.recipe,
            history: Vec::new(),
            device: device.clone(),
            calibration: mj.calibration,
        })
    }

    /// Loads a model folder (history from `history.json` when present).
    pub fn load(dir: &Path, device: &Device) -> Result<Model, ModelError> {
        if !dir.is_dir() {
            return Err(model_err(dir, "model folder not found"));
        }
        let read = |name: &str| -> Result<(PathBuf, Vec<u8>), ModelError> {
            let p = dir.join(name);
            let b = std::fs::read(&p).map_err(|e| ModelError::Io {
                path: p.clone(),
                source: e,
            })?;
            Ok((p, b))
        };
        let (jp, json) = read(MODEL_JSON)?;
        let (sp, st) = read(MODEL_WEIGHTS)?;
        let mut m = Self::from_bytes_named(&json, &st, &jp, &sp, device)?;
        let hp = dir.join(HISTORY_JSON);
        if let Ok(h) = std::fs::read(&hp) {
            m.history = serde_json::from_slice(&h).map_err(|e| ModelError::Json {
                path: hp,
                msg: e.to_string(),
            })?;
        }
        Ok(m)
    }

    /// The tensors of the folder's `optimizer.safetensors` (training checkpoints), or `None`
    /// when it has none.
    pub fn load_optimizer_state(
        dir: &Path,
        device: &Device,
    ) -> Result<Option<HashMap<String, Tensor>>, ModelError> {
        let p = dir.join(OPTIMIZER);
        let bytes = match std::fs::read(&p) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ModelError::Io { path: p, source: e }),
        };
        candle_core::safetensors::load_buffer(&bytes, device)
            .map(Some)
            .map_err(|e| model_err(&p, format!("cannot read optimizer state: {e}")))
    }

    /// Writes the model folder atomically: everything goes into a temporary sibling folder
    /// which then replaces `dir`.
    pub fn save(&self, dir: &Path) -> Result<(), ModelError> {
        self.save_with(dir, &[])
    }

    /// [`Model::save`] with extra files (name, bytes) written into the folder in the same
    /// atomic step (a training checkpoint's optimizer state).
    pub fn save_with(&self, dir: &Path, extra: &[(&str, &[u8])]) -> Result<(), ModelError> {
        let (json, st) = self.to_bytes()?;
        write_folder_atomic(dir, |tmp| {
            write_atomic(&tmp.join(MODEL_JSON), &json)?;
            write_atomic(&tmp.join(MODEL_WEIGHTS), &st)?;
            write_history(tmp, &self.history)?;
            for (name, bytes) in extra {
                write_atomic(&tmp.join(name), bytes)?;
            }
            Ok(())
        })
    }

    /// Logits for standardised features already on the model's device.
    pub fn logits(&self, x: &Tensor) -> Result<Tensor, ModelError> {
        self.net.forward(x)
    }

    fn check_input(&self, x: &[f32]) -> Result<usize, ModelError> {
        let nf = self.n_features();
        if !x.len().is_multiple_of(nf) {
            return Err(ModelError::Invalid(format!(
                "input has {} values, not a multiple of the model's {nf} features",
                x.len()
            )));
        }
        Ok(x.len() / nf)
    }

    /// Raw logits (`rows x classes`, row-major) for raw, unstandardised features.
    pub fn predict_logits(&self, x: &[f32]) -> Result<Vec<f32>, ModelError> {
        let rows = self.check_input(x)?;
        let nf = self.n_features();
        let mut out = Vec::with_capacity(rows * self.n_classes());
        for chunk in x.chunks(8192 * nf) {
            let xs = self.standardiser.apply(chunk);
            let t = Tensor::from_vec(xs, (chunk.len() / nf, nf), &self.device)?;
            out.extend(self.net.forward(&t)?.flatten_all()?.to_vec1::<f32>()?);
        }
        Ok(out)
    }

    /// Class probabilities (`rows x classes`, row-major) for raw, unstandardised features
    /// (`rows x n_features`, row-major); standardises with the model's statistics.
    pub fn predict_proba(&self, x: &[f32]) -> Result<Vec<f32>, ModelError> {
        let rows = self.check_input(x)?;
        let nf = self.n_features();
        let mut out = Vec::with_capacity(rows * self.n_classes());
        for chunk in x.chunks(8192 * nf) {
            let xs = self.standardiser.apply(chunk);
            let t = Tensor::from_vec(xs, (chunk.len() / nf, nf), &self.device)?;
            let p = candle_nn::ops::softmax_last_dim(&self.net.forward(&t)?)?;
            out.extend(p.flatten_all()?.to_vec1::<f32>()?);
        }
        Ok(out)
    }
}

/// The training history as CSV (`epoch,loss,accuracy,val_loss,val_accuracy,time_s`).
pub fn history_csv(history: &[EpochRecord]) -> String {
    let mut s = String::from("epoch,loss,accuracy,val_loss,val_accuracy,time_s\n");
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for r in history {
        s.push_str(&format!(
            "{},{},{},{},{},{}\n",
            r.epoch,
            r.loss,
            r.accuracy,
            opt(r.val_loss),
            opt(r.val_accuracy),
            r.time_s
        ));
    }
    s
}

/// `history.csv` and `history.json` of a training history, into the folder `dir`.
pub(crate) fn write_history(dir: &Path, history: &[EpochRecord]) -> Result<(), ModelError> {
    write_atomic(&dir.join(HISTORY_CSV), history_csv(history).as_bytes())?;
    let hj = serde_json::to_vec_pretty(history)
        .map_err(|e| ModelError::Invalid(format!("cannot serialise history: {e}")))?;
    write_atomic(&dir.join(HISTORY_JSON), &hj)
}

/// Replaces the folder `dir` atomically: `fill` writes the new contents into a temporary
/// sibling folder, which is then renamed into place (an existing folder is moved aside first and
/// put back if the rename fails), so a reader or an interrupted run sees the old folder or the
/// new one, never a mixture.
pub(crate) fn write_folder_atomic(
    dir: &Path,
    fill: impl FnOnce(&Path) -> Result<(), ModelError>,
) -> Result<(), ModelError> {
    let io = |p: &Path, e: std::io::Error| ModelError::Io {
        path: p.to_path_buf(),
        source: e,
    };
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| io(&parent, e))?;
    if dir.exists() && !dir.is_dir() {
        return Err(model_err(dir, "exists and is not a folder"));
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp"))
        .tempdir_in(&parent)
        .map_err(|e| io(&parent, e))?;
    fill(tmp.path())?;
    if dir.exists() {
        // Swap: move the old folder aside, move the new one in, delete the old one.
        let old = tempfile::Builder::new()
            .prefix(&format!(".{name}.old"))
            .tempdir_in(&parent)
            .map_err(|e| io(&parent, e))?;
        let old_path = old.path().join("m");
        std::fs::rename(dir, &old_path).map_err(|e| io(dir, e))?;
        let tmp_path = tmp.keep();
        if let Err(e) = std::fs::rename(&tmp_path, dir) {
            let _ = std::fs::rename(&old_path, dir);
            let _ = std::fs::remove_dir_all(&tmp_path);
            return Err(io(dir, e));
        }
        drop(old);
    } else {
        let tmp_path = tmp.keep();
        if let Err(e) = std::fs::rename(&tmp_path, dir) {
            let _ = std::fs::remove_dir_all(&tmp_path);
            return Err(io(dir, e));
        }
    }
    Ok(())
}
