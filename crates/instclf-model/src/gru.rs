//! A GRU over a window at the end of a dense network's input (a note's time profile, time-major:
//! `steps` frames of `channels` values): its last state takes the window's place in the first
//! dense layer's input, as the pooled filters of [`crate::net::Conv`] do. The input projection
//! of every step is one matmul; the recurrence and its back-propagation through time are the
//! sequence models' hand-written loops ([`crate::sequence::bptt`], checked against candle
//! autograd there), in PyTorch's gate order r, z, n.

use crate::error::ModelError;
use crate::sequence::bptt::{recur, recur_backward, RecCache};
use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};

/// The GRU's place and size: the last `steps * channels` inputs, `units` units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gru {
    pub steps: usize,
    pub channels: usize,
    pub units: usize,
}

/// Names of the GRU's weight tensors, in [`GruWeights::pairs`] order: input kernel
/// `[channels, 3 units]` and bias `[3 units]`, recurrent kernel `[units, 3 units]` and bias.
pub const TENSORS: [&str; 4] = [
    "gru.input_kernel",
    "gru.input_bias",
    "gru.recurrent_kernel",
    "gru.recurrent_bias",
];

impl Gru {
    /// Length of the window (the last inputs).
    pub fn window(&self) -> usize {
        self.steps * self.channels
    }

    /// Shapes of the [`TENSORS`].
    pub fn shapes(&self) -> [Vec<usize>; 4] {
        let g = 3 * self.units;
        [
            vec![self.channels, g],
            vec![g],
            vec![self.units, g],
            vec![g],
        ]
    }

    /// Checks that every size is positive.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.steps == 0 || self.channels == 0 || self.units == 0 {
            return Err(ModelError::Invalid(format!(
                "invalid GRU: {} steps of {} channels, {} units (sizes must be > 0)",
                self.steps, self.channels, self.units
            )));
        }
        Ok(())
    }
}

/// The GRU's weights as (kernel, bias) pairs: the input projection's, the recurrence's.
#[derive(Debug, Clone)]
pub struct GruWeights {
    pub input: (Var, Var),
    pub recurrent: (Var, Var),
}

impl GruWeights {
    /// The two (kernel, bias) pairs, input projection first, detached from any graph.
    pub fn pairs(&self) -> [(Tensor, Tensor); 2] {
        let d = |(k, b): &(Var, Var)| (k.as_tensor().detach(), b.as_tensor().detach());
        [d(&self.input), d(&self.recurrent)]
    }
}

/// What the backward pass needs from the forward one.
pub(crate) struct GruCache {
    window: Tensor,
    rec: RecCache,
    u: Vec<f32>,
}

/// The last state `[rows, units]` of the GRU over the window of `x` (`[rows, n_features]`).
pub(crate) fn forward(
    g: &Gru,
    x: &Tensor,
    w: &[(Tensor, Tensor); 2],
) -> Result<(Tensor, GruCache), ModelError> {
    let (rows, nf) = x.dims2()?;
    let window = x
        .narrow(1, nf - g.window(), g.window())?
        .contiguous()?
        .reshape((rows * g.steps, g.channels))?;
    let [(wx, bi), (wu, bh)] = w;
    let pre = window.matmul(wx)?.broadcast_add(bi)?;
    let pre = pre.flatten_all()?.to_vec1::<f32>()?;
    let u = wu.flatten_all()?.to_vec1::<f32>()?;
    let bh = bh.to_vec1::<f32>()?;
    let rec = recur(&pre, rows, &u, Some(&bh), true, g.steps, g.units);
    let h = g.units;
    let mut last = Vec::with_capacity(rows * h);
    for r in 0..rows {
        let s = (r * (g.steps + 1) + g.steps) * h;
        last.extend_from_slice(&rec.h[s..s + h]);
    }
    let last = Tensor::from_vec(last, (rows, h), x.device())?;
    Ok((last, GruCache { window, rec, u }))
}

/// Gradients of the [`TENSORS`] (in their order) from the gradient of the last states `dlast`
/// (`[rows, units]`).
pub(crate) fn backward(
    g: &Gru,
    cache: &GruCache,
    dlast: &Tensor,
) -> Result<[(Tensor, Tensor); 2], ModelError> {
    let (rows, h) = dlast.dims2()?;
    let dl = dlast.flatten_all()?.to_vec1::<f32>()?;
    let mut ds = vec![0f32; rows * g.steps * h];
    for r in 0..rows {
        let s = (r * g.steps + g.steps - 1) * h;
        ds[s..s + h].copy_from_slice(&dl[r * h..(r + 1) * h]);
    }
    let (dpre, du, dbh) = recur_backward(&cache.rec, &ds, rows, &cache.u, true, g.steps, h);
    let dev = dlast.device();
    let dpre = Tensor::from_vec(dpre, (rows * g.steps, 3 * h), dev)?;
    let dwx = cache.window.t()?.matmul(&dpre)?;
    let dbi = dpre.sum(0)?;
    let du = Tensor::from_vec(du, (h, 3 * h), dev)?;
    let dbh = Tensor::from_vec(dbh, 3 * h, dev)?;
    Ok([(dwx, dbi), (du, dbh)])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use std::collections::HashMap;

    /// The last state of candle-nn's GRU (autograd) with our weights, for the gradient check.
    pub(crate) fn autograd_last(g: &Gru, x: &Tensor, w: &[Var; 4]) -> Tensor {
        let rows = x.dim(0).unwrap();
        let nf = x.dim(1).unwrap();
        let xs = x
            .narrow(1, nf - g.window(), g.window())
            .unwrap()
            .reshape((rows, g.steps, g.channels))
            .unwrap();
        let mut ts = HashMap::new();
        ts.insert("weight_ih_l0".to_string(), w[0].as_tensor().t().unwrap());
        ts.insert("bias_ih_l0".to_string(), w[1].as_tensor().clone());
        ts.insert("weight_hh_l0".to_string(), w[2].as_tensor().t().unwrap());
        ts.insert("bias_hh_l0".to_string(), w[3].as_tensor().clone());
        let vb = candle_nn::VarBuilder::from_tensors(ts, DType::F32, &Device::Cpu);
        let gru = candle_nn::rnn::gru(
            g.channels,
            g.units,
            candle_nn::rnn::GRUConfig::default(),
            vb,
        )
        .unwrap();
        use candle_nn::rnn::RNN;
        let states = gru.seq(&xs).unwrap();
        states.last().unwrap().h().clone()
    }

    #[test]
    fn hand_written_gradients_match_autograd() {
        let g = Gru {
            steps: 5,
            channels: 3,
            units: 4,
        };
        let (rows, nf) = (3, 2 + g.window());
        let dev = Device::Cpu;
        let xs: Vec<f32> = (0..rows * nf)
            .map(|i| ((i * 37 % 13) as f32 - 6.0) / 5.0)
            .collect();
        let x = Tensor::from_vec(xs, (rows, nf), &dev).unwrap();
        let shapes = g.shapes();
        let w: [Var; 4] = std::array::from_fn(|t| {
            let n: usize = shapes[t].iter().product();
            let v: Vec<f32> = (0..n)
                .map(|i| (((i + 7 * t) * 29 % 17) as f32 - 8.0) / 20.0)
                .collect();
            Var::from_tensor(&Tensor::from_vec(v, shapes[t].clone(), &dev).unwrap()).unwrap()
        });
        let pairs = [
            (w[0].as_tensor().clone(), w[1].as_tensor().clone()),
            (w[2].as_tensor().clone(), w[3].as_tensor().clone()),
        ];
        let (last, cache) = forward(&g, &x, &pairs).unwrap();
        let reference = autograd_last(&g, &x, &w);
        let max_diff = |a: &Tensor, b: &Tensor| {
            (a - b)
                .and_then(|d| d.abs()?.max_all()?.to_scalar::<f32>())
                .unwrap()
        };
        let diff = max_diff(&last, &reference);
        assert!(diff < 1e-5, "states differ by {diff}");
        // A loss that weighs every state differently: sum(last * c).
        let c: Vec<f32> = (0..rows * g.units)
            .map(|i| (i as f32 - 5.0) / 7.0)
            .collect();
        let c = Tensor::from_vec(c, (rows, g.units), &dev).unwrap();
        let grads = (reference * &c)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let [(dwx, dbi), (du, dbh)] = backward(&g, &cache, &c).unwrap();
        for (t, ours) in [dwx, dbi, du, dbh].iter().enumerate() {
            let theirs = grads.get(w[t].as_tensor()).unwrap();
            let d = max_diff(ours, theirs);
            assert!(d < 1e-5, "{}: gradients differ by {d}", TENSORS[t]);
        }
    }
}
