//! Sequence models on fixed-length clips: clip datasets (`sequence.json` next to the MARL
//! `.npy` files, one clip per row), one-hot encoding of digitised waveform levels when batches
//! are made (never stored), a Flatten-Dense baseline and one recurrent layer (simple RNN with
//! tanh, or GRU in PyTorch/candle-nn gate order r, z, n) returning all states `(batch, seq,
//! hidden)` or the last one, then Dense layers (ReLU, dropout) and softmax with a log-softmax
//! cross-entropy (stable for any logits, binary or not); training (Adam), metrics and
//! sequence-model folders (`format: instclf-sequence-model`).
//!
//! The input projections of all time steps are one matmul (`(batch*seq, in) x (in, gates*hidden)`,
//! and one more for their gradient); only the recurrence itself is a per-step loop, written out
//! by hand (forward and back-propagation through time) over flat `f32` buffers, because a
//! per-step autograd graph costs thousands of tensor ops per sequence. The hand-written
//! gradients are checked against candle autograd through candle-nn's GRU (whose states are
//! stacked as `(batch, seq, hidden)` by [`stack_states`]) in this module's tests.

use crate::dataset::{Dataset, Split};
use crate::device::device_name;
use crate::error::ModelError;
use crate::metrics::{metrics_from_predictions, predictions, Evaluation};
use crate::model::{
    write_folder_atomic, write_history, HistorySummary, Standardiser, TrainingInfo,
};
use crate::net::Dense;
use crate::npy::write_atomic;
use crate::train::{epoch_end, Callback, EpochRecord, Validation};
use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The file that marks a clip (sequence) dataset and describes its rows.
pub const SEQUENCE_JSON: &str = "sequence.json";
/// `format` of a sequence model's `model.json`.
pub const SEQ_FORMAT: &str = "instclf-sequence-model";

/// What one row of a clip dataset holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceSpec {
    /// `waveform` (digitised samples) or `mel` (feature frames of the dataset's recipe).
    pub input: String,
    /// Clip length in seconds.
    pub clip_s: f64,
    /// Sample rate of the clip (the digitising rate, or the recipe's rate for `mel`).
    pub rate: u32,
    /// Bits per sample of a digitised waveform (`None` for `mel`).
    pub bits: Option<u32>,
    /// Time steps per clip.
    pub steps: usize,
    /// Values stored per step in a row (1 level index for `waveform`).
    pub step_values: usize,
}

impl SequenceSpec {
    /// One-hot width of a digitised waveform (`2^bits`), `None` for real-valued frames.
    pub fn levels(&self) -> Option<usize> {
        self.bits.map(|b| 1usize << b)
    }

    /// Width of one time step as the network sees it.
    pub fn input_dim(&self) -> usize {
        self.levels().unwrap_or(self.step_values)
    }

    /// Checks sizes (steps and values > 0, 1..=16 bits).
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.steps == 0 || self.step_values == 0 {
            return Err(ModelError::Invalid(format!(
                "sequence spec has {} steps of {} values (both must be > 0)",
                self.steps, self.step_values
            )));
        }
        if let Some(b) = self.bits {
            if !(1..=16).contains(&b) || self.step_values != 1 {
                return Err(ModelError::Invalid(format!(
                    "a digitised waveform needs 1..16 bits and 1 value per step, got {b} bits and {}",
                    self.step_values
                )));
            }
        }
        Ok(())
    }
}

/// Whether `dir` is a clip dataset (holds `sequence.json`).
pub fn is_sequence_dataset(dir: &Path) -> bool {
    dir.join(SEQUENCE_JSON).is_file()
}

/// Whether `dir` is a sequence-model folder (its `model.json` has the sequence format).
pub fn is_sequence_model(dir: &Path) -> bool {
    std::fs::read(dir.join(crate::model::MODEL_JSON))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| v.get("format").and_then(|f| f.as_str()) == Some(SEQ_FORMAT))
}

/// A loaded clip dataset: rows of `steps * step_values` raw values.
#[derive(Debug, Clone)]
pub struct SequenceData {
    pub data: Dataset,
    pub spec: SequenceSpec,
}

fn data_err(path: &Path, msg: impl Into<String>) -> ModelError {
    ModelError::Data {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

/// Checks that every row of `x` has `spec.steps * spec.step_values` values and that digitised
/// levels are whole numbers in range; `what` names the source in errors.
pub fn check_rows(
    spec: &SequenceSpec,
    x: &[f32],
    cols: usize,
    what: &Path,
) -> Result<(), ModelError> {
    let want = spec.steps * spec.step_values;
    if cols != want {
        return Err(data_err(
            what,
            format!(
                "rows have {cols} values but the sequences are {} steps x {} values = {want} \
                 (sequences of different lengths cannot be mixed; rebuild with the same --clips/--rate)",
                spec.steps, spec.step_values
            ),
        ));
    }
    if let Some(levels) = spec.levels() {
        if let Some(i) = x
            .iter()
            .position(|&v| v < 0.0 || v >= levels as f32 || v.fract() != 0.0)
        {
            return Err(data_err(
                what,
                format!(
                    "row {} step {} holds {}, not a level in 0..{} ({} bits)",
                    i / cols,
                    i % cols,
                    x[i],
                    levels - 1,
                    spec.bits.unwrap_or(0)
                ),
            ));
        }
    }
    Ok(())
}

impl SequenceData {
    /// Loads a clip dataset; a frame dataset (no `sequence.json`) is a clear error.
    pub fn load(dir: &Path) -> Result<SequenceData, ModelError> {
        let sp = dir.join(SEQUENCE_JSON);
        if dir.is_dir() && !sp.is_file() {
            return Err(data_err(
                dir,
                "is a frame dataset (no sequence.json): dense/rnn/gru sequence models need a clip \
                 dataset from `instclf dataset build --clips SECONDS`; use --arch mlp for frame rows",
            ));
        }
        let data = Dataset::load(dir)?;
        let bytes = std::fs::read(&sp).map_err(|e| ModelError::Io {
            path: sp.clone(),
            source: e,
        })?;
        let spec: SequenceSpec = serde_json::from_slice(&bytes).map_err(|e| ModelError::Json {
            path: sp.clone(),
            msg: e.to_string(),
        })?;
        spec.validate().map_err(|e| data_err(&sp, e.to_string()))?;
        check_rows(
            &spec,
            &data.train.x,
            data.n_features,
            &dir.join(crate::dataset::TRAIN_DATA),
        )?;
        check_rows(
            &spec,
            &data.test.x,
            data.n_features,
            &dir.join(crate::dataset::TEST_DATA),
        )?;
        Ok(SequenceData { data, spec })
    }
}

/// The layer before the dense head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeqArch {
    /// Flatten the (one-hot) input, no recurrent layer.
    Dense,
    /// Simple RNN: `h' = tanh(x Wx + h U + b)`.
    Rnn,
    /// GRU (reset gate applied after the recurrent product, as in PyTorch, candle-nn and Keras
    /// `reset_after`).
    Gru,
}

impl std::str::FromStr for SeqArch {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        match s {
            "dense" => Ok(SeqArch::Dense),
            "rnn" => Ok(SeqArch::Rnn),
            "gru" => Ok(SeqArch::Gru),
            _ => Err(ModelError::Invalid(format!(
                "unknown sequence architecture '{s}' (expected dense, rnn or gru)"
            ))),
        }
    }
}

impl std::fmt::Display for SeqArch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SeqArch::Dense => "dense",
            SeqArch::Rnn => "rnn",
            SeqArch::Gru => "gru",
        })
    }
}

impl SeqArch {
    /// Gate blocks in the input projection (RNN 1, GRU 3).
    fn gates(self) -> usize {
        match self {
            SeqArch::Dense => 0,
            SeqArch::Rnn => 1,
            SeqArch::Gru => 3,
        }
    }
}

/// The shape of a sequence network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeqConfig {
    pub arch: SeqArch,
    /// Width of one input step (one-hot levels or features).
    pub input_dim: usize,
    pub steps: usize,
    /// Recurrent units (ignored by `dense`).
    pub units: usize,
    /// Feed every state `(seq, units)` flattened to the head (`true`, like EpyNN's
    /// `sequences=True`), or only the last state.
    pub all_states: bool,
    /// Hidden Dense (ReLU) layers of the head.
    pub head: Vec<usize>,
    /// Dropout rate before each head layer while training.
    pub dropout: f64,
    pub n_classes: usize,
}

impl SeqConfig {
    /// Checks that sizes are positive and dropout is in [0, 1).
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.input_dim == 0 || self.steps == 0 || self.n_classes == 0 {
            return Err(ModelError::Invalid(format!(
                "invalid sequence network: {} steps of {} values, {} classes",
                self.steps, self.input_dim, self.n_classes
            )));
        }
        if self.arch != SeqArch::Dense && self.units == 0 {
            return Err(ModelError::Invalid("--units must be at least 1".into()));
        }
        if self.head.contains(&0) {
            return Err(ModelError::Invalid(format!(
                "head layer sizes must be > 0, got {:?}",
                self.head
            )));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(ModelError::Invalid(format!(
                "dropout must be in [0, 1), got {}",
                self.dropout
            )));
        }
        Ok(())
    }

    /// Width of the flattened features that enter the head.
    pub fn feature_dim(&self) -> usize {
        match (self.arch, self.all_states) {
            (SeqArch::Dense, _) => self.steps * self.input_dim,
            (_, true) => self.steps * self.units,
            (_, false) => self.units,
        }
    }

    /// `(in, out)` of each head layer.
    pub fn head_sizes(&self) -> Vec<(usize, usize)> {
        let mut prev = self.feature_dim();
        let mut out = Vec::new();
        for &h in self.head.iter().chain(std::iter::once(&self.n_classes)) {
            out.push((prev, h));
            prev = h;
        }
        out
    }

    /// Number of trainable parameters.
    pub fn n_params(&self) -> usize {
        let gh = self.arch.gates() * self.units;
        let rec = match self.arch {
            SeqArch::Dense => 0,
            SeqArch::Rnn => self.input_dim * gh + self.units * gh + gh,
            SeqArch::Gru => self.input_dim * gh + self.units * gh + 2 * gh,
        };
        rec + self
            .head_sizes()
            .iter()
            .map(|(i, o)| i * o + o)
            .sum::<usize>()
    }
}

/// The recurrent layer's weights: input kernel `wx [in, gates*units]`, recurrent kernel
/// `u [units, gates*units]`, input bias `bi` and (GRU) recurrent bias `bh`, gate blocks in the
/// order r, z, n.
#[derive(Debug, Clone)]
pub struct Recurrent {
    pub wx: Var,
    pub u: Var,
    pub bi: Var,
    pub bh: Option<Var>,
}

/// A sequence network on the CPU.
#[derive(Debug, Clone)]
pub struct SeqNet {
    pub cfg: SeqConfig,
    pub rec: Option<Recurrent>,
    pub head: Vec<Dense>,
}

/// Per-step values kept by the forward pass for back-propagation through time.
struct RecCache {
    /// States `h_0..h_T`: `(batch, seq+1, units)`, `h_0 = 0`.
    h: Vec<f32>,
    /// GRU gates `(batch, seq, units)` each: r, z, n and the recurrent n term `h Un + bhn`.
    r: Vec<f32>,
    z: Vec<f32>,
    n: Vec<f32>,
    hn: Vec<f32>,
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

fn glorot(rng: &mut rand::rngs::StdRng, fan_in: usize, fan_out: usize) -> Vec<f32> {
    let limit = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
    (0..fan_in * fan_out)
        .map(|_| rng.random_range(-limit..limit))
        .collect()
}

/// A `rows x cols` matrix (rows <= cols) with orthonormal rows (Gram-Schmidt on Gaussian
/// rows), like Keras' orthogonal recurrent initialiser.
fn orthogonal(rng: &mut rand::rngs::StdRng, rows: usize, cols: usize) -> Vec<f32> {
    let mut normal = || -> f64 {
        let u1: f64 = rng.random::<f64>().max(1e-12);
        let u2: f64 = rng.random::<f64>();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    };
    let mut m: Vec<Vec<f64>> = (0..rows)
        .map(|_| (0..cols).map(|_| normal()).collect())
        .collect();
    for i in 0..rows {
        let (done, rest) = m.split_at_mut(i);
        let row = &mut rest[0];
        for prev in done.iter() {
            let d: f64 = row.iter().zip(prev).map(|(a, b)| a * b).sum();
            row.iter_mut().zip(prev).for_each(|(a, b)| *a -= d * b);
        }
        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
        row.iter_mut().for_each(|v| *v /= norm);
    }
    m.into_iter().flatten().map(|v| v as f32).collect()
}

fn to_vec(v: &Var) -> Result<Vec<f32>, ModelError> {
    Ok(v.as_tensor().flatten_all()?.to_vec1::<f32>()?)
}

impl SeqNet {
    /// A freshly initialised network: Glorot-uniform input and dense kernels, orthogonal
    /// recurrent kernel, zero biases; seeded.
    pub fn new(cfg: &SeqConfig, seed: u64) -> Result<SeqNet, ModelError> {
        cfg.validate()?;
        let dev = Device::Cpu;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let var = |v: Vec<f32>, shape: (usize, usize)| -> Result<Var, ModelError> {
            Ok(Var::from_tensor(&Tensor::from_vec(v, shape, &dev)?)?)
        };
        let rec = if cfg.arch == SeqArch::Dense {
            None
        } else {
            let gh = cfg.arch.gates() * cfg.units;
            let wx = var(glorot(&mut rng, cfg.input_dim, gh), (cfg.input_dim, gh))?;
            let u = var(orthogonal(&mut rng, cfg.units, gh), (cfg.units, gh))?;
            Some(Recurrent {
                wx,
                u,
                bi: Var::zeros(gh, DType::F32, &dev)?,
                bh: (cfg.arch == SeqArch::Gru)
                    .then(|| Var::zeros(gh, DType::F32, &dev))
                    .transpose()?,
            })
        };
        let mut head = Vec::new();
        for (i, o) in cfg.head_sizes() {
            head.push(Dense {
                kernel: var(glorot(&mut rng, i, o), (i, o))?,
                bias: Var::zeros(o, DType::F32, &dev)?,
            });
        }
        Ok(SeqNet {
            cfg: cfg.clone(),
            rec,
            head,
        })
    }

    /// All trainable variables with their names in the model file.
    pub fn named_vars(&self) -> Vec<(String, Var)> {
        let mut out = Vec::new();
        if let Some(r) = &self.rec {
            out.push(("rec.wx".to_string(), r.wx.clone()));
            out.push(("rec.u".to_string(), r.u.clone()));
            out.push(("rec.bi".to_string(), r.bi.clone()));
            if let Some(bh) = &r.bh {
                out.push(("rec.bh".to_string(), bh.clone()));
            }
        }
        for (i, l) in self.head.iter().enumerate() {
            out.push((format!("head{i}.kernel"), l.kernel.clone()));
            out.push((format!("head{i}.bias"), l.bias.clone()));
        }
        out
    }

    /// Expected shape of every named variable.
    fn shapes(cfg: &SeqConfig) -> Vec<(String, Vec<usize>)> {
        let mut out = Vec::new();
        if cfg.arch != SeqArch::Dense {
            let gh = cfg.arch.gates() * cfg.units;
            out.push(("rec.wx".to_string(), vec![cfg.input_dim, gh]));
            out.push(("rec.u".to_string(), vec![cfg.units, gh]));
            out.push(("rec.bi".to_string(), vec![gh]));
            if cfg.arch == SeqArch::Gru {
                out.push(("rec.bh".to_string(), vec![gh]));
            }
        }
        for (i, (fi, fo)) in cfg.head_sizes().into_iter().enumerate() {
            out.push((format!("head{i}.kernel"), vec![fi, fo]));
            out.push((format!("head{i}.bias"), vec![fo]));
        }
        out
    }

    /// Runs the recurrence over the projected inputs `pre` (`(batch, seq, gates*units)`), the
    /// batch rows split over threads.
    fn recur(&self, pre: &[f32], b: usize, u: &[f32], bh: Option<&[f32]>) -> RecCache {
        let (t_len, h_n) = (self.cfg.steps, self.cfg.units);
        let gh = self.cfg.arch.gates() * h_n;
        let gru = self.cfg.arch == SeqArch::Gru;
        let gate_len = if gru { b * t_len * h_n } else { 0 };
        let mut c = RecCache {
            h: vec![0f32; b * (t_len + 1) * h_n],
            r: vec![0f32; gate_len],
            z: vec![0f32; gate_len],
            n: vec![0f32; gate_len],
            hn: vec![0f32; gate_len],
        };
        let rows = worker_rows(b);
        let gsz = if gru { rows * t_len * h_n } else { 0 };
        std::thread::scope(|s| {
            let mut h = c.h.chunks_mut(rows * (t_len + 1) * h_n);
            let (mut r, mut z, mut n, mut hn) = (
                GateChunks::new(&mut c.r, gsz),
                GateChunks::new(&mut c.z, gsz),
                GateChunks::new(&mut c.n, gsz),
                GateChunks::new(&mut c.hn, gsz),
            );
            for p in pre.chunks(rows * t_len * gh) {
                let g = Gates {
                    r: r.next(),
                    z: z.next(),
                    n: n.next(),
                    hn: hn.next(),
                };
                let h = h.next().unwrap_or_default();
                s.spawn(move || recur_rows(p, h, g, u, bh, gru, t_len, h_n));
            }
        });
        c
    }

    /// Back-propagation through time: from the gradient of every state `ds` (`(batch, seq,
    /// units)`) to the gradients of the projected inputs, `u` and `bh` (batch rows split over
    /// threads, their `u`/`bh` gradients summed).
    fn recur_backward(
        &self,
        c: &RecCache,
        ds: &[f32],
        b: usize,
        u: &[f32],
    ) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let (t_len, h_n) = (self.cfg.steps, self.cfg.units);
        let gh = self.cfg.arch.gates() * h_n;
        let gru = self.cfg.arch == SeqArch::Gru;
        let mut dpre = vec![0f32; b * t_len * gh];
        let rows = worker_rows(b);
        let gsz = if gru { rows * t_len * h_n } else { 0 };
        let parts: Vec<(Vec<f32>, Vec<f32>)> = std::thread::scope(|s| {
            let handles: Vec<_> = dpre
                .chunks_mut(rows * t_len * gh)
                .enumerate()
                .map(|(i, dp)| {
                    let hsz = rows * (t_len + 1) * h_n;
                    let h = &c.h[i * hsz..((i + 1) * hsz).min(c.h.len())];
                    let ssz = rows * t_len * h_n;
                    let d = &ds[i * ssz..((i + 1) * ssz).min(ds.len())];
                    let (r, z, n, hn) = (
                        gate_chunk(&c.r, gsz, i),
                        gate_chunk(&c.z, gsz, i),
                        gate_chunk(&c.n, gsz, i),
                        gate_chunk(&c.hn, gsz, i),
                    );
                    s.spawn(move || backward_rows(dp, h, [r, z, n, hn], d, u, gru, t_len, h_n))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("BPTT worker"))
                .collect()
        });
        let mut du = vec![0f32; h_n * gh];
        let mut dbh = vec![0f32; gh];
        for (pu, pb) in parts {
            du.iter_mut().zip(pu).for_each(|(a, v)| *a += v);
            dbh.iter_mut().zip(pb).for_each(|(a, v)| *a += v);
        }
        (dpre, du, dbh)
    }

    /// Features entering the head for a batch `x` (`(batch*seq, in)`), with the recurrence
    /// cache when there is a recurrent layer.
    fn features(&self, x: &Tensor, b: usize) -> Result<(Tensor, Option<RecCache>), ModelError> {
        let cfg = &self.cfg;
        match &self.rec {
            None => Ok((x.reshape((b, cfg.steps * cfg.input_dim))?, None)),
            Some(r) => {
                // All time steps' input projections in one matmul.
                let pre = x
                    .matmul(r.wx.as_tensor())?
                    .broadcast_add(r.bi.as_tensor())?
                    .flatten_all()?
                    .to_vec1::<f32>()?;
                let u = to_vec(&r.u)?;
                let bh = r.bh.as_ref().map(to_vec).transpose()?;
                let c = self.recur(&pre, b, &u, bh.as_deref());
                let (t_len, h_n) = (cfg.steps, cfg.units);
                let f: Vec<f32> = if cfg.all_states {
                    let mut f = Vec::with_capacity(b * t_len * h_n);
                    for bi in 0..b {
                        let s = (bi * (t_len + 1) + 1) * h_n;
                        f.extend_from_slice(&c.h[s..s + t_len * h_n]);
                    }
                    f
                } else {
                    (0..b)
                        .flat_map(|bi| {
                            let s = (bi * (t_len + 1) + t_len) * h_n;
                            c.h[s..s + h_n].to_vec()
                        })
                        .collect()
                };
                let dim = f.len() / b.max(1);
                Ok((Tensor::from_vec(f, (b, dim), &Device::Cpu)?, Some(c)))
            }
        }
    }

    /// Logits for a batch `x` (`(batch*seq, in)` network inputs), no dropout.
    pub fn forward(&self, x: &Tensor, b: usize) -> Result<Tensor, ModelError> {
        let (mut h, _) = self.features(x, b)?;
        let last = self.head.len() - 1;
        for (i, l) in self.head.iter().enumerate() {
            h = h
                .matmul(l.kernel.as_tensor())?
                .broadcast_add(l.bias.as_tensor())?;
            if i < last {
                h = h.relu()?;
            }
        }
        Ok(h)
    }

    /// Gradients of the mean cross-entropy (log-softmax) for a batch `x` (`(batch*seq, in)`),
    /// labels `y` and their one-hot rows, with dropout masks drawn from `rng` when `dropout >
    /// 0`; also the summed loss and the number correct.
    pub fn loss_and_grads(
        &self,
        x: &Tensor,
        y: &Tensor,
        onehot: &Tensor,
        rng: &mut rand::rngs::StdRng,
    ) -> Result<(GradStore, f32, f32), ModelError> {
        let b = y.dims1()?;
        let (f, cache) = self.features(x, b)?;
        let p = self.cfg.dropout;
        let last = self.head.len() - 1;
        let mut inputs = Vec::with_capacity(self.head.len());
        let mut masks: Vec<Option<Tensor>> = Vec::with_capacity(self.head.len());
        let mut h = f;
        for (i, l) in self.head.iter().enumerate() {
            let mask = if p > 0.0 {
                let keep = 1.0 / (1.0 - p) as f32;
                let m: Vec<f32> = (0..h.elem_count())
                    .map(|_| if rng.random::<f64>() < p { 0.0 } else { keep })
                    .collect();
                let m = Tensor::from_vec(m, h.dims(), &Device::Cpu)?;
                h = h.mul(&m)?;
                Some(m)
            } else {
                None
            };
            masks.push(mask);
            let z = h
                .matmul(l.kernel.as_tensor())?
                .broadcast_add(l.bias.as_tensor())?;
            inputs.push(h);
            h = if i < last { z.relu()? } else { z };
        }
        let logits = h;
        let lsm = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
        let loss_sum = -lsm.mul(onehot)?.sum_all()?.to_scalar::<f32>()?;
        let correct = logits
            .argmax(D::Minus1)?
            .eq(y)?
            .to_dtype(DType::F32)?
            .sum_all()?
            .to_scalar::<f32>()?;
        let mut g = ((lsm.exp()? - onehot)? * (1.0 / b as f64))?;
        let mut grads = GradStore::default();
        let mut d_features = None;
        for i in (0..self.head.len()).rev() {
            let a = &inputs[i];
            let l = &self.head[i];
            grads.insert(l.kernel.as_tensor(), a.t()?.matmul(&g)?);
            grads.insert(l.bias.as_tensor(), g.sum(0)?);
            if i == 0 && cache.is_none() {
                break;
            }
            let mut da = g.matmul(&l.kernel.as_tensor().t()?)?;
            if let Some(m) = &masks[i] {
                da = da.mul(m)?;
            }
            if i > 0 {
                // a_i = relu(z_{i-1}) (* mask): relu' from the kept activations
                g = da.mul(&a.gt(0f32)?.to_dtype(DType::F32)?)?;
            } else {
                d_features = Some(da);
            }
        }
        if let (Some(r), Some(c), Some(df)) = (&self.rec, cache, d_features) {
            let cfg = &self.cfg;
            let (t_len, h_n) = (cfg.steps, cfg.units);
            let df = df.flatten_all()?.to_vec1::<f32>()?;
            let ds = if cfg.all_states {
                df
            } else {
                let mut ds = vec![0f32; b * t_len * h_n];
                for bi in 0..b {
                    ds[(bi * t_len + t_len - 1) * h_n..][..h_n]
                        .copy_from_slice(&df[bi * h_n..(bi + 1) * h_n]);
                }
                ds
            };
            let u = to_vec(&r.u)?;
            let (dpre, du, dbh) = self.recur_backward(&c, &ds, b, &u);
            let gh = cfg.arch.gates() * h_n;
            let dpre = Tensor::from_vec(dpre, (b * t_len, gh), &Device::Cpu)?;
            // The input projections' gradient: one matmul again.
            grads.insert(r.wx.as_tensor(), x.t()?.matmul(&dpre)?);
            grads.insert(r.bi.as_tensor(), dpre.sum(0)?);
            grads.insert(
                r.u.as_tensor(),
                Tensor::from_vec(du, (h_n, gh), &Device::Cpu)?,
            );
            if let Some(bh) = &r.bh {
                grads.insert(bh.as_tensor(), Tensor::from_vec(dbh, gh, &Device::Cpu)?);
            }
        }
        Ok((grads, loss_sum, correct))
    }
}

/// Batch rows per worker thread (threads: `RAYON_NUM_THREADS`, else the available cores).
fn worker_rows(b: usize) -> usize {
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    b.div_ceil(threads).max(1)
}

/// The `i`-th chunk of `size` values of a gate buffer (empty when `size` is 0).
fn gate_chunk(v: &[f32], size: usize, i: usize) -> &[f32] {
    if size == 0 {
        &[]
    } else {
        &v[(i * size).min(v.len())..((i + 1) * size).min(v.len())]
    }
}

/// Per-thread chunks of a GRU gate buffer (empty slices for the RNN, which keeps no gates).
struct GateChunks<'a> {
    it: Option<std::slice::ChunksMut<'a, f32>>,
}

impl<'a> GateChunks<'a> {
    fn new(v: &'a mut [f32], size: usize) -> Self {
        GateChunks {
            it: (size > 0).then(|| v.chunks_mut(size)),
        }
    }

    fn next(&mut self) -> &'a mut [f32] {
        self.it.as_mut().and_then(|i| i.next()).unwrap_or_default()
    }
}

/// One thread's GRU gate buffers.
struct Gates<'a> {
    r: &'a mut [f32],
    z: &'a mut [f32],
    n: &'a mut [f32],
    hn: &'a mut [f32],
}

/// The recurrence over a block of batch rows (`h` holds `h_0 = 0` per row on entry).
#[allow(clippy::too_many_arguments)]
fn recur_rows(
    pre: &[f32],
    h: &mut [f32],
    g: Gates,
    u: &[f32],
    bh: Option<&[f32]>,
    gru: bool,
    t_len: usize,
    h_n: usize,
) {
    let gh = if gru { 3 * h_n } else { h_n };
    let b = pre.len() / (t_len * gh).max(1);
    let mut acc = vec![0f32; gh];
    for bi in 0..b {
        for t in 0..t_len {
            let hp = (bi * (t_len + 1) + t) * h_n;
            let p = &pre[(bi * t_len + t) * gh..][..gh];
            // acc = h_prev U (+ bh)
            match bh {
                Some(bh) => acc.copy_from_slice(bh),
                None => acc.iter_mut().for_each(|v| *v = 0.0),
            }
            for k in 0..h_n {
                let hk = h[hp + k];
                if hk != 0.0 {
                    for (a, &w) in acc.iter_mut().zip(&u[k * gh..(k + 1) * gh]) {
                        *a += hk * w;
                    }
                }
            }
            let o = (bi * t_len + t) * h_n;
            for j in 0..h_n {
                let hnew = if gru {
                    let r = sigmoid(p[j] + acc[j]);
                    let z = sigmoid(p[h_n + j] + acc[h_n + j]);
                    let hn = acc[2 * h_n + j];
                    let n = (p[2 * h_n + j] + r * hn).tanh();
                    g.r[o + j] = r;
                    g.z[o + j] = z;
                    g.n[o + j] = n;
                    g.hn[o + j] = hn;
                    (1.0 - z) * n + z * h[hp + j]
                } else {
                    (p[j] + acc[j]).tanh()
                };
                h[hp + h_n + j] = hnew;
            }
        }
    }
}

/// BPTT over a block of batch rows: fills `dpre`, returns this block's `(du, dbh)`.
#[allow(clippy::too_many_arguments)]
fn backward_rows(
    dpre: &mut [f32],
    h: &[f32],
    gates: [&[f32]; 4],
    ds: &[f32],
    u: &[f32],
    gru: bool,
    t_len: usize,
    h_n: usize,
) -> (Vec<f32>, Vec<f32>) {
    let gh = if gru { 3 * h_n } else { h_n };
    let b = dpre.len() / (t_len * gh).max(1);
    let [cr, cz, cn, chn] = gates;
    let mut du = vec![0f32; h_n * gh];
    let mut dbh = vec![0f32; gh];
    let mut carry = vec![0f32; h_n];
    let mut dacc = vec![0f32; gh];
    let mut next = vec![0f32; h_n];
    for bi in 0..b {
        carry.iter_mut().for_each(|v| *v = 0.0);
        for t in (0..t_len).rev() {
            let hp = (bi * (t_len + 1) + t) * h_n;
            let o = (bi * t_len + t) * h_n;
            let dp = &mut dpre[(bi * t_len + t) * gh..][..gh];
            for j in 0..h_n {
                let g = ds[o + j] + carry[j];
                if gru {
                    let (r, z, n, hn) = (cr[o + j], cz[o + j], cn[o + j], chn[o + j]);
                    let dn = g * (1.0 - z);
                    let dz = g * (h[hp + j] - n);
                    next[j] = g * z;
                    let dan = dn * (1.0 - n * n);
                    let dar = dan * hn * r * (1.0 - r);
                    let daz = dz * z * (1.0 - z);
                    dp[j] = dar;
                    dp[h_n + j] = daz;
                    dp[2 * h_n + j] = dan;
                    dacc[j] = dar;
                    dacc[h_n + j] = daz;
                    dacc[2 * h_n + j] = dan * r;
                } else {
                    let hnew = h[hp + h_n + j];
                    let da = g * (1.0 - hnew * hnew);
                    dp[j] = da;
                    dacc[j] = da;
                    next[j] = 0.0;
                }
            }
            for (d, &a) in dbh.iter_mut().zip(dacc.iter()) {
                *d += a;
            }
            for k in 0..h_n {
                let hk = h[hp + k];
                let row = &u[k * gh..(k + 1) * gh];
                let drow = &mut du[k * gh..(k + 1) * gh];
                let mut s = 0f32;
                for ((dw, &w), &a) in drow.iter_mut().zip(row).zip(dacc.iter()) {
                    *dw += hk * a;
                    s += a * w;
                }
                next[k] += s;
            }
            std::mem::swap(&mut carry, &mut next);
        }
    }
    (du, dbh)
}

/// Stacks per-step states (each `(batch, hidden)`) as `(batch, seq, hidden)`; candle-nn's
/// `states_to_tensor` concatenates them to `(batch, seq*hidden)` instead.
pub fn stack_states(states: &[candle_nn::rnn::GRUState]) -> Result<Tensor, ModelError> {
    let hs: Vec<Tensor> = states.iter().map(|s| s.h().clone()).collect();
    Ok(Tensor::stack(&hs, 1)?)
}

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
            format: SEQ_FORMAT.to_string(),
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
            write_atomic(&tmp.join(crate::model::MODEL_JSON), &json)?;
            candle_core::safetensors::save(&tensors, tmp.join(crate::model::MODEL_WEIGHTS))?;
            write_history(tmp, &self.history)
        })
    }

    /// Loads a sequence-model folder; a frame (MLP) model folder is a clear error.
    pub fn load(dir: &Path) -> Result<SequenceModel, ModelError> {
        if !dir.is_dir() {
            return Err(model_err(dir, "model folder not found"));
        }
        let jp = dir.join(crate::model::MODEL_JSON);
        let bytes = std::fs::read(&jp).map_err(|e| ModelError::Io {
            path: jp.clone(),
            source: e,
        })?;
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| ModelError::Json {
                path: jp.clone(),
                msg: e.to_string(),
            })?;
        if v.get("format").and_then(|f| f.as_str()) != Some(SEQ_FORMAT) {
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

/// Options of [`fit_sequence`].
#[derive(Debug, Clone)]
pub struct SeqFitOptions {
    pub arch: SeqArch,
    pub units: usize,
    pub all_states: bool,
    pub head: Vec<usize>,
    pub dropout: f64,
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub validation: Validation,
    pub seed: u64,
    /// When set, the model folder is written here after every finite epoch.
    pub checkpoint: Option<PathBuf>,
}

/// The outcome of [`fit_sequence`].
#[derive(Debug, Clone)]
pub struct SeqFitResult {
    pub model: SequenceModel,
    pub history: Vec<EpochRecord>,
    pub diverged: bool,
    pub stopped_early: bool,
    pub train_time_s: f64,
    /// Metrics of the final model on the training part and on the validation rows.
    pub train_eval: Evaluation,
    pub val_eval: Option<Evaluation>,
}

/// Trains a sequence network on a clip dataset (CPU; Adam; log-softmax cross-entropy;
/// seeded shuffling and dropout; per-epoch history and checkpoints).
pub fn fit_sequence(
    data: &SequenceData,
    opts: &SeqFitOptions,
    callbacks: &mut [&mut dyn Callback],
) -> Result<SeqFitResult, ModelError> {
    if opts.batch_size == 0 || opts.epochs == 0 || !(opts.lr > 0.0 && opts.lr.is_finite()) {
        return Err(ModelError::Invalid(format!(
            "batch size and epochs must be >= 1 and lr > 0 (got {}, {}, {})",
            opts.batch_size, opts.epochs, opts.lr
        )));
    }
    let spec = &data.spec;
    let ds = &data.data;
    let cols = spec.steps * spec.step_values;
    let (train, val): (Split, Option<Split>) = match opts.validation {
        Validation::None => (ds.train.clone(), None),
        Validation::Test => (ds.train.clone(), Some(ds.test.clone())),
        Validation::Split(f) => {
            let n = ds.train.rows();
            let at = (n as f64 * (1.0 - f)).floor() as usize;
            if at == 0 || at == n {
                return Err(ModelError::Invalid(format!(
                    "validation split {f} of {n} training clips leaves an empty part"
                )));
            }
            (
                Split {
                    x: ds.train.x[..at * cols].to_vec(),
                    y: ds.train.y[..at].to_vec(),
                },
                Some(Split {
                    x: ds.train.x[at * cols..].to_vec(),
                    y: ds.train.y[at..].to_vec(),
                }),
            )
        }
    };
    let n = train.rows();
    let k = ds.n_classes();
    if let Some(c) = (0..k).find(|&c| !train.y.contains(&(c as u32))) {
        return Err(ModelError::Invalid(format!(
            "class {c} ({}) has no clips in the training part",
            ds.classes[c]
        )));
    }
    let cfg = SeqConfig {
        arch: opts.arch,
        input_dim: spec.input_dim(),
        steps: spec.steps,
        units: opts.units,
        all_states: opts.all_states,
        head: opts.head.clone(),
        dropout: opts.dropout,
        n_classes: k,
    };
    let net = SeqNet::new(&cfg, opts.seed)?;
    let standardiser = spec
        .levels()
        .is_none()
        .then(|| Standardiser::fit(&train.x, spec.step_values));
    let mut opt = AdamW::new(
        net.named_vars().into_iter().map(|(_, v)| v).collect(),
        ParamsAdamW {
            lr: opts.lr,
            beta1: opts.beta1,
            beta2: opts.beta2,
            eps: opts.eps,
            weight_decay: 0.0,
        },
    )?;
    let mut model = SequenceModel {
        net,
        classes: ds.classes.clone(),
        spec: spec.clone(),
        standardiser,
        recipe: ds.recipe.clone(),
        training: None,
        history: Vec::new(),
    };
    let mut info = TrainingInfo {
        epochs: 0,
        batch_size: opts.batch_size,
        lr: opts.lr,
        beta1: opts.beta1,
        beta2: opts.beta2,
        eps: opts.eps,
        seed: opts.seed,
        validation: opts.validation.to_string(),
        device: device_name(&Device::Cpu),
        train_time_s: 0.0,
        diverged: false,
        train_rows: n,
        dataset: (!ds.dir.as_os_str().is_empty()).then(|| ds.dir.display().to_string()),
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(opts.seed ^ 0x5348_5546_464c_4521);
    let mut drop_rng = rand::rngs::StdRng::seed_from_u64(opts.seed ^ 0x4452_4f50);
    let mut perm: Vec<usize> = (0..n).collect();
    let bs = opts.batch_size;
    let n_batches = n.div_ceil(bs);
    let every = callbacks
        .iter()
        .filter_map(|c| c.running_metrics_every())
        .min();
    let (mut diverged, mut stopped_early, mut total) = (false, false, 0.0);
    let mut xb = Vec::with_capacity(bs * cols);
    for epoch in 1..=opts.epochs {
        let t0 = Instant::now();
        perm.shuffle(&mut rng);
        let (mut loss_sum, mut correct_sum) = (0f64, 0f64);
        for bi in 0..n_batches {
            let idx = &perm[bi * bs..(bi * bs + bs).min(n)];
            xb.clear();
            let mut yb = Vec::with_capacity(idx.len());
            let mut oh = vec![0f32; idx.len() * k];
            for (r, &i) in idx.iter().enumerate() {
                xb.extend_from_slice(&train.x[i * cols..(i + 1) * cols]);
                yb.push(train.y[i]);
                oh[r * k + train.y[i] as usize] = 1.0;
            }
            let x = model.inputs(&xb, idx.len())?;
            let y = Tensor::from_slice(&yb, idx.len(), &Device::Cpu)?;
            let onehot = Tensor::from_vec(oh, (idx.len(), k), &Device::Cpu)?;
            let (grads, loss, correct) =
                model.net.loss_and_grads(&x, &y, &onehot, &mut drop_rng)?;
            opt.step(&grads)?;
            loss_sum += f64::from(loss);
            correct_sum += f64::from(correct);
            let done = bi * bs + idx.len();
            let running = match every {
                Some(e) if e > 0 && ((bi + 1) % e == 0 || bi + 1 == n_batches) => {
                    Some((loss_sum / done as f64, correct_sum / done as f64))
                }
                _ => None,
            };
            for c in callbacks.iter_mut() {
                c.on_batch_end(epoch, bi + 1, n_batches, running);
            }
        }
        let loss = loss_sum / n as f64;
        let accuracy = correct_sum / n as f64;
        let (val_loss, val_accuracy) = match &val {
            Some(v) if loss.is_finite() => {
                let e = model.evaluate(&v.x, &v.y)?;
                (Some(e.loss), Some(e.accuracy))
            }
            _ => (None, None),
        };
        let time_s = t0.elapsed().as_secs_f64();
        total += time_s;
        let record = EpochRecord {
            epoch,
            loss,
            accuracy,
            val_loss,
            val_accuracy,
            time_s,
        };
        let stop = epoch_end(callbacks, &record);
        model.history.push(record);
        if !loss.is_finite() {
            diverged = true;
            break;
        }
        info.epochs = epoch;
        info.train_time_s = total;
        model.training = Some(info.clone());
        if let Some(dir) = &opts.checkpoint {
            model.save(dir)?;
        }
        if stop {
            stopped_early = epoch < opts.epochs;
            break;
        }
    }
    info.diverged = diverged;
    model.training = Some(info);
    let train_eval = model.evaluate(&train.x, &train.y)?;
    let val_eval = match &val {
        Some(v) if !diverged => Some(model.evaluate(&v.x, &v.y)?),
        _ => None,
    };
    Ok(SeqFitResult {
        history: model.history.clone(),
        model,
        diverged,
        stopped_early,
        train_time_s: total,
        train_eval,
        val_eval,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_nn::rnn::RNN;

    fn cfg(arch: SeqArch, all_states: bool, head: Vec<usize>) -> SeqConfig {
        SeqConfig {
            arch,
            input_dim: 4,
            steps: 6,
            units: 3,
            all_states,
            head,
            dropout: 0.0,
            n_classes: 2,
        }
    }

    fn batch() -> (Tensor, Tensor, Tensor, usize) {
        let b = 3;
        let xs: Vec<f32> = (0..b * 6 * 4)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) / 4.0)
            .collect();
        let x = Tensor::from_vec(xs, (b * 6, 4), &Device::Cpu).unwrap();
        let y = Tensor::new(&[0u32, 1, 1], &Device::Cpu).unwrap();
        let oh = Tensor::new(&[[1f32, 0.], [0., 1.], [0., 1.]], &Device::Cpu).unwrap();
        (x, y, oh, b)
    }

    /// The same network with candle autograd: candle-nn's GRU (weights shared with ours,
    /// transposed to its `[gates*hidden, in]` layout) or a tanh RNN written with tensor ops.
    fn autograd_logits(net: &SeqNet, x: &Tensor, b: usize) -> Tensor {
        let c = &net.cfg;
        let r = net.rec.as_ref().unwrap();
        let xs = x.reshape((b, c.steps, c.input_dim)).unwrap();
        let states = match c.arch {
            SeqArch::Gru => {
                let mut ts = HashMap::new();
                ts.insert("weight_ih_l0".to_string(), r.wx.as_tensor().t().unwrap());
                ts.insert("weight_hh_l0".to_string(), r.u.as_tensor().t().unwrap());
                ts.insert("bias_ih_l0".to_string(), r.bi.as_tensor().clone());
                ts.insert(
                    "bias_hh_l0".to_string(),
                    r.bh.as_ref().unwrap().as_tensor().clone(),
                );
                let vb = candle_nn::VarBuilder::from_tensors(ts, DType::F32, &Device::Cpu);
                let gru = candle_nn::rnn::gru(
                    c.input_dim,
                    c.units,
                    candle_nn::rnn::GRUConfig::default(),
                    vb,
                )
                .unwrap();
                let st = gru.seq(&xs).unwrap();
                let stacked = stack_states(&st).unwrap();
                assert_eq!(stacked.dims(), &[b, c.steps, c.units]);
                stacked
            }
            _ => {
                let mut h = Tensor::zeros((b, c.units), DType::F32, &Device::Cpu).unwrap();
                let mut hs = Vec::new();
                for t in 0..c.steps {
                    let xt = xs.narrow(1, t, 1).unwrap().squeeze(1).unwrap();
                    h = (xt.matmul(r.wx.as_tensor()).unwrap() + h.matmul(r.u.as_tensor()).unwrap())
                        .unwrap()
                        .broadcast_add(r.bi.as_tensor())
                        .unwrap()
                        .tanh()
                        .unwrap();
                    hs.push(h.clone());
                }
                Tensor::stack(&hs, 1).unwrap()
            }
        };
        let mut f = if c.all_states {
            states.reshape((b, c.steps * c.units)).unwrap()
        } else {
            states
                .narrow(1, c.steps - 1, 1)
                .unwrap()
                .squeeze(1)
                .unwrap()
        };
        let last = net.head.len() - 1;
        for (i, l) in net.head.iter().enumerate() {
            f = f
                .matmul(l.kernel.as_tensor())
                .unwrap()
                .broadcast_add(l.bias.as_tensor())
                .unwrap();
            if i < last {
                f = f.relu().unwrap();
            }
        }
        f
    }

    #[test]
    fn hand_written_bptt_matches_candle_autograd() {
        for (arch, all, head) in [
            (SeqArch::Gru, true, vec![]),
            (SeqArch::Gru, false, vec![5]),
            (SeqArch::Rnn, true, vec![5]),
            (SeqArch::Rnn, false, vec![]),
        ] {
            let net = SeqNet::new(&cfg(arch, all, head), 5).unwrap();
            // non-zero biases so every term is exercised
            for (_, v) in net.named_vars() {
                if v.dims().len() == 1 {
                    let n = v.dims()[0];
                    let b: Vec<f32> = (0..n).map(|i| 0.1 * i as f32 - 0.2).collect();
                    v.set(&Tensor::from_vec(b, n, &Device::Cpu).unwrap())
                        .unwrap();
                }
            }
            let (x, y, oh, b) = batch();
            let ours = net.forward(&x, b).unwrap().to_vec2::<f32>().unwrap();
            let auto = autograd_logits(&net, &x, b);
            let theirs = auto.to_vec2::<f32>().unwrap();
            for (p, q) in ours.iter().flatten().zip(theirs.iter().flatten()) {
                assert!((p - q).abs() < 1e-5, "{arch} logits {p} vs {q}");
            }
            let mut rng = rand::rngs::StdRng::seed_from_u64(0);
            let (grads, loss_sum, _) = net.loss_and_grads(&x, &y, &oh, &mut rng).unwrap();
            let loss = candle_nn::loss::cross_entropy(&auto, &y).unwrap();
            assert!((loss_sum / b as f32 - loss.to_scalar::<f32>().unwrap()).abs() < 1e-5);
            let ag = loss.backward().unwrap();
            for (name, v) in net.named_vars() {
                let a = ag.get(v.as_tensor()).unwrap().flatten_all().unwrap();
                let h = grads.get(v.as_tensor()).unwrap().flatten_all().unwrap();
                for (p, q) in a
                    .to_vec1::<f32>()
                    .unwrap()
                    .iter()
                    .zip(h.to_vec1::<f32>().unwrap())
                {
                    assert!(
                        (p - q).abs() < 1e-5,
                        "{arch} {name}: autograd {p} vs ours {q}"
                    );
                }
            }
        }
    }

    #[test]
    fn parameter_counts_match_keras_style_layers() {
        // GRU(1) on 16 one-hot levels, 10000 steps, all states -> Dense(2)
        let c = SeqConfig {
            arch: SeqArch::Gru,
            input_dim: 16,
            steps: 10_000,
            units: 1,
            all_states: true,
            head: vec![],
            dropout: 0.0,
            n_classes: 2,
        };
        assert_eq!(c.n_params(), 3 * (16 + 1 + 2) + 10_000 * 2 + 2);
        let d = SeqConfig {
            arch: SeqArch::Dense,
            ..c.clone()
        };
        assert_eq!(d.n_params(), 160_000 * 2 + 2);
        let r = SeqConfig {
            arch: SeqArch::Rnn,
            ..c
        };
        assert_eq!(r.n_params(), 16 + 1 + 1 + 10_000 * 2 + 2);
        let o = orthogonal(&mut rand::rngs::StdRng::seed_from_u64(1), 3, 9);
        for i in 0..3 {
            for j in 0..3 {
                let d: f32 = (0..9).map(|c| o[i * 9 + c] * o[j * 9 + c]).sum();
                assert!((d - if i == j { 1.0 } else { 0.0 }).abs() < 1e-5);
            }
        }
    }
}
