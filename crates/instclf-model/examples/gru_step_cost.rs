//! Times one training step (forward + gradients) of a GRU over a batch of one-hot sequences two
//! ways: candle-nn's GRU with autograd (one small tensor graph per time step, states stacked
//! with `stack_states`), and instclf's batched input projection + hand-written BPTT
//! (`SeqNet::loss_and_grads`). Same weights, same batch; prints seconds per batch and the
//! largest gradient difference.
//!
//! `cargo run --release -p instclf-model --example gru_step_cost -- [STEPS] [BATCH] [UNITS]`
//! (defaults 1000 32 1; the autograd graph is walked recursively, so it runs in a thread with a
//! large stack).

use candle_core::{DType, Device, Tensor};
use candle_nn::rnn::RNN;
use instclf_model::sequence::{stack_states, SeqArch, SeqConfig, SeqNet};
use rand::SeedableRng;
use std::collections::HashMap;
use std::time::Instant;

fn main() {
    let a: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|s| s.parse().ok())
        .collect();
    let steps = a.first().copied().unwrap_or(1000);
    let batch = a.get(1).copied().unwrap_or(32);
    let units = a.get(2).copied().unwrap_or(1);
    let child = std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(move || run(steps, batch, units))
        .expect("spawn");
    child.join().expect("timing thread");
}

fn run(steps: usize, batch: usize, units: usize) {
    let levels = 16;
    let cfg = SeqConfig {
        arch: SeqArch::Gru,
        input_dim: levels,
        steps,
        units,
        all_states: true,
        head: vec![],
        dropout: 0.0,
        n_classes: 2,
    };
    let net = SeqNet::new(&cfg, 1).unwrap();
    let mut oh = vec![0f32; batch * steps * levels];
    for (i, row) in oh.chunks_mut(levels).enumerate() {
        row[(i * 7 + i / 13) % levels] = 1.0;
    }
    let x = Tensor::from_vec(oh, (batch * steps, levels), &Device::Cpu).unwrap();
    let yv: Vec<u32> = (0..batch as u32).map(|i| i % 2).collect();
    let y = Tensor::new(yv.as_slice(), &Device::Cpu).unwrap();
    let mut ohy = vec![0f32; batch * 2];
    for (i, &c) in yv.iter().enumerate() {
        ohy[i * 2 + c as usize] = 1.0;
    }
    let onehot = Tensor::from_vec(ohy, (batch, 2), &Device::Cpu).unwrap();

    // instclf: batched projection + hand-written BPTT.
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let _ = net.loss_and_grads(&x, &y, &onehot, &mut rng).unwrap();
    let reps = 3;
    let t0 = Instant::now();
    let mut ours = None;
    for _ in 0..reps {
        ours = Some(net.loss_and_grads(&x, &y, &onehot, &mut rng).unwrap().0);
    }
    let ours_s = t0.elapsed().as_secs_f64() / reps as f64;

    // candle-nn GRU with autograd.
    let r = net.rec.as_ref().unwrap();
    let t0 = Instant::now();
    let mut ts = HashMap::new();
    ts.insert("weight_ih_l0".to_string(), r.wx.as_tensor().t().unwrap());
    ts.insert("weight_hh_l0".to_string(), r.u.as_tensor().t().unwrap());
    ts.insert("bias_ih_l0".to_string(), r.bi.as_tensor().clone());
    ts.insert(
        "bias_hh_l0".to_string(),
        r.bh.as_ref().unwrap().as_tensor().clone(),
    );
    let vb = candle_nn::VarBuilder::from_tensors(ts, DType::F32, &Device::Cpu);
    let gru = candle_nn::rnn::gru(levels, units, candle_nn::rnn::GRUConfig::default(), vb).unwrap();
    let xs = x.reshape((batch, steps, levels)).unwrap();
    let states = stack_states(&gru.seq(&xs).unwrap()).unwrap();
    let f = states.reshape((batch, steps * units)).unwrap();
    let l = &net.head[0];
    let logits = f
        .matmul(l.kernel.as_tensor())
        .unwrap()
        .broadcast_add(l.bias.as_tensor())
        .unwrap();
    let loss = candle_nn::loss::cross_entropy(&logits, &y).unwrap();
    let auto = loss.backward().unwrap();
    let auto_s = t0.elapsed().as_secs_f64();

    let ours = ours.unwrap();
    let mut max_diff = 0f32;
    for (_, v) in net.named_vars() {
        let a = auto.get(v.as_tensor()).unwrap().flatten_all().unwrap();
        let b = ours.get(v.as_tensor()).unwrap().flatten_all().unwrap();
        for (p, q) in a
            .to_vec1::<f32>()
            .unwrap()
            .iter()
            .zip(b.to_vec1::<f32>().unwrap())
        {
            max_diff = max_diff.max((p - q).abs());
        }
    }
    println!(
        "GRU({units}) on {batch} x {steps} steps x {levels} one-hot: candle-nn autograd {auto_s:.3} s/batch, \
         batched projection + hand-written BPTT {ours_s:.4} s/batch ({:.0}x); max gradient difference {max_diff:.2e}",
        auto_s / ours_s
    );
}
