//! The training loop of sequence networks ([`fit_sequence`]): validation split, Adam, seeded
//! shuffling and dropout, per-epoch history, callbacks and checkpoints.

use super::data::SequenceData;
use super::io::SequenceModel;
use super::net::{SeqArch, SeqConfig, SeqNet};
use crate::callback::{Callback, EpochRecord};
use crate::dataset::Split;
use crate::device::device_name;
use crate::epochs::{run_epochs, EpochTrainer};
use crate::error::ModelError;
use crate::metrics::Evaluation;
use crate::model::{Standardiser, TrainingInfo};
use crate::optim::Adam;
use crate::train::Validation;
use candle_core::{Device, Tensor};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::path::PathBuf;

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
    let opt = Adam::with(
        net.named_vars().into_iter().map(|(_, v)| v).collect(),
        opts.lr,
        opts.beta1,
        opts.beta2,
        opts.eps,
    )?;

    let model = SequenceModel {
        net,
        classes: ds.classes.clone(),
        spec: spec.clone(),
        standardiser,
        recipe: ds.recipe.clone(),
        training: None,
        history: Vec::new(),
    };
    let info = TrainingInfo {
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
        average_from: None,
    };
    let every = callbacks
        .iter()
        .filter_map(|c| c.running_metrics_every())
        .min();
    let mut trainer = SeqTrainer {
        opts,
        train: &train,
        val: val.as_ref(),
        cols,
        k,
        perm: (0..n).collect(),
        rng: rand::rngs::StdRng::seed_from_u64(opts.seed ^ 0x5348_5546_464c_4521),
        drop_rng: rand::rngs::StdRng::seed_from_u64(opts.seed ^ 0x4452_4f50),
        every,
        model,
        opt,
        info,
    };
    let run = run_epochs(&mut trainer, 1..=opts.epochs, 0.0, callbacks)?;
    let model = trainer.model;
    let (diverged, stopped_early, total) = (run.diverged, run.stopped_early, run.total_s);
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

/// A sequence network inside [`run_epochs`]: its rows on the CPU, the shuffling and dropout
/// streams, Adam.
struct SeqTrainer<'a> {
    opts: &'a SeqFitOptions,
    train: &'a Split,
    val: Option<&'a Split>,
    /// Values per clip, and classes.
    cols: usize,
    k: usize,
    perm: Vec<usize>,
    rng: rand::rngs::StdRng,
    drop_rng: rand::rngs::StdRng,
    every: Option<usize>,
    model: SequenceModel,
    opt: Adam,
    info: TrainingInfo,
}

impl EpochTrainer for SeqTrainer<'_> {
    fn train_epoch(
        &mut self,
        epoch: usize,
        callbacks: &mut [&mut dyn Callback],
    ) -> Result<(f64, f64), ModelError> {
        let (bs, cols, k) = (self.opts.batch_size, self.cols, self.k);
        let n = self.perm.len();
        let n_batches = n.div_ceil(bs);
        self.perm.shuffle(&mut self.rng);
        let (mut loss_sum, mut correct_sum) = (0f64, 0f64);
        let mut xb = Vec::with_capacity(bs * cols);
        for bi in 0..n_batches {
            let idx = &self.perm[bi * bs..(bi * bs + bs).min(n)];
            xb.clear();
            let mut yb = Vec::with_capacity(idx.len());
            let mut oh = vec![0f32; idx.len() * k];
            for (r, &i) in idx.iter().enumerate() {
                xb.extend_from_slice(&self.train.x[i * cols..(i + 1) * cols]);
                yb.push(self.train.y[i]);
                oh[r * k + self.train.y[i] as usize] = 1.0;
            }
            let x = self.model.inputs(&xb, idx.len())?;
            let y = Tensor::from_slice(&yb, idx.len(), &Device::Cpu)?;
            let onehot = Tensor::from_vec(oh, (idx.len(), k), &Device::Cpu)?;
            let (grads, loss, correct) =
                self.model
                    .net
                    .loss_and_grads(&x, &y, &onehot, &mut self.drop_rng)?;
            self.opt.step(&grads)?;
            loss_sum += f64::from(loss);
            correct_sum += f64::from(correct);
            let done = bi * bs + idx.len();
            let running = match self.every {
                Some(e) if e > 0 && ((bi + 1) % e == 0 || bi + 1 == n_batches) => {
                    Some((loss_sum / done as f64, correct_sum / done as f64))
                }
                _ => None,
            };
            for c in callbacks.iter_mut() {
                c.on_batch_end(epoch, bi + 1, n_batches, running);
            }
        }
        Ok((loss_sum / n as f64, correct_sum / n as f64))
    }

    fn validate(&mut self) -> Result<Option<(f64, f64)>, ModelError> {
        match self.val {
            Some(v) => {
                let e = self.model.evaluate(&v.x, &v.y)?;
                Ok(Some((e.loss, e.accuracy)))
            }
            None => Ok(None),
        }
    }

    fn record(&mut self, record: &EpochRecord, total_s: f64, diverged: bool) {
        self.model.history.push(record.clone());
        self.info.epochs = record.epoch;
        self.info.train_time_s = total_s;
        self.info.diverged = diverged;
        self.model.training = Some(self.info.clone());
    }

    fn checkpoint(&mut self) -> Result<(), ModelError> {
        if let Some(dir) = &self.opts.checkpoint {
            self.model.save(dir)?;
        }
        Ok(())
    }
}
