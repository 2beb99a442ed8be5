//! The sequence network: its architecture ([`SeqArch`]) and shape ([`SeqConfig`]), weights
//! ([`Recurrent`], the dense head), initialisation, the forward pass and the loss with its
//! gradients (the head by hand with tensor ops, the recurrence through [`super::bptt`]).

use super::bptt::RecCache;
use crate::error::ModelError;
use crate::net::Dense;
use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var, D};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

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
    pub(super) fn gates(self) -> usize {
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
    pub(super) fn shapes(cfg: &SeqConfig) -> Vec<(String, Vec<usize>)> {
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

/// Stacks per-step states (each `(batch, hidden)`) as `(batch, seq, hidden)`; candle-nn's
/// `states_to_tensor` concatenates them to `(batch, seq*hidden)` instead.
pub fn stack_states(states: &[candle_nn::rnn::GRUState]) -> Result<Tensor, ModelError> {
    let hs: Vec<Tensor> = states.iter().map(|s| s.h().clone()).collect();
    Ok(Tensor::stack(&hs, 1)?)
}

#[cfg(test)]
mod tests {
    use super::*;

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
