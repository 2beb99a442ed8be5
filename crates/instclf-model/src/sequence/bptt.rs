//! The recurrence written out by hand: the forward loop over time steps ([`SeqNet`]'s `recur`)
//! and back-propagation through time (`recur_backward`) over flat `f32` buffers, batch rows
//! split over threads. Its gradients are checked against candle autograd in this module's tests.
//! [`recur`] and [`recur_backward`] are the same loops for any caller (the GRU over a note's time
//! profile in [`crate::net`]).

use super::net::{SeqArch, SeqNet};

/// Per-step values kept by the forward pass for back-propagation through time.
pub(crate) struct RecCache {
    /// States `h_0..h_T`: `(batch, seq+1, units)`, `h_0 = 0`.
    pub(crate) h: Vec<f32>,
    /// GRU gates `(batch, seq, units)` each: r, z, n and the recurrent n term `h Un + bhn`.
    r: Vec<f32>,
    z: Vec<f32>,
    n: Vec<f32>,
    hn: Vec<f32>,
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl SeqNet {
    /// Runs the recurrence over the projected inputs `pre` (`(batch, seq, gates*units)`), the
    /// batch rows split over threads.
    pub(super) fn recur(&self, pre: &[f32], b: usize, u: &[f32], bh: Option<&[f32]>) -> RecCache {
        let gru = self.cfg.arch == SeqArch::Gru;
        recur(pre, b, u, bh, gru, self.cfg.steps, self.cfg.units)
    }

    /// Back-propagation through time: from the gradient of every state `ds` (`(batch, seq,
    /// units)`) to the gradients of the projected inputs, `u` and `bh` (batch rows split over
    /// threads, their `u`/`bh` gradients summed).
    pub(super) fn recur_backward(
        &self,
        c: &RecCache,
        ds: &[f32],
        b: usize,
        u: &[f32],
    ) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let gru = self.cfg.arch == SeqArch::Gru;
        recur_backward(c, ds, b, u, gru, self.cfg.steps, self.cfg.units)
    }
}

/// The recurrence (a GRU in gate order r, z, n, or a tanh RNN) of `units` units over `steps`
/// time steps of the projected inputs `pre` (`(batch, steps, gates*units)`), recurrent weights
/// `u` (`[units, gates*units]`) and bias `bh`, from `h_0 = 0`; batch rows split over threads.
pub(crate) fn recur(
    pre: &[f32],
    b: usize,
    u: &[f32],
    bh: Option<&[f32]>,
    gru: bool,
    steps: usize,
    units: usize,
) -> RecCache {
    let (t_len, h_n) = (steps, units);
    let gh = if gru { 3 * h_n } else { h_n };
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

/// Back-propagation through time of [`recur`]: from the gradient of every state `ds`
/// (`(batch, steps, units)`) to the gradients of the projected inputs, `u` and `bh` (batch rows
/// split over threads, their `u`/`bh` gradients summed).
pub(crate) fn recur_backward(
    c: &RecCache,
    ds: &[f32],
    b: usize,
    u: &[f32],
    gru: bool,
    steps: usize,
    units: usize,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (t_len, h_n) = (steps, units);
    let gh = if gru { 3 * h_n } else { h_n };
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

#[cfg(test)]
mod tests {
    use super::super::net::{stack_states, SeqConfig};
    use super::*;
    use candle_core::{DType, Device, Tensor};
    use candle_nn::rnn::RNN;
    use rand::SeedableRng;
    use std::collections::HashMap;

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
}
