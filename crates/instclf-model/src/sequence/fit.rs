//! The training loop of sequence networks ([`fit_sequence`]): validation split, Adam, seeded
//! shuffling and dropout, per-epoch history, callbacks and checkpoints.

use super::data::SequenceData;
use super::io::SequenceModel;
use super::net::{SeqArch, SeqConfig, SeqNet};
use crate::callback::{epoch_end, Callback, EpochRecord};
use crate::dataset::Split;
use crate::device::device_name;
use crate::error::ModelError;
use crate::metrics::Evaluation;
use crate::model::{Standardiser, TrainingInfo};
use crate::optim::Adam;
use crate::train::Validation;
use candle_core::{Device, Tensor};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::path::PathBuf;
use std::time::Instant;

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
    let mut opt = Adam::with(
        net.named_vars().into_iter().map(|(_, v)| v).collect(),
        opts.lr,
        opts.beta1,
        opts.beta2,
        opts.eps,
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
        callbacks.iter_mut().for_each(|c| c.on_epoch_begin(epoch));
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
