//! Training like Keras `fit`: seeded per-epoch shuffling, standardisation fitted on the training
//! rows, Adam (candle-nn's AdamW with weight decay 0), sparse categorical cross-entropy,
//! validation on the test split or a held-out tail of the training rows, a per-epoch history,
//! callbacks that may stop training (train-to-accuracy), divergence detection and per-epoch
//! checkpoints, and weight averaging over the last epochs ([`crate::average`]). The whole
//! dataset is uploaded to the device once; batches are index gathers and
//! the loss/accuracy sums stay on the device until the end of each epoch.

use crate::average::Average;
use crate::callback::{Callback, EpochRecord};
use crate::dataset::Dataset;
use crate::device::device_name;
use crate::epochs::{run_epochs, EpochTrainer};
use crate::error::ModelError;
use crate::gru::Gru;
use crate::model::{Model, Standardiser, TrainingInfo};
use crate::net::{Activation, Architecture, Conv, Mlp};
use crate::optim::Adam;
use candle_core::{DType, Device, Tensor, D};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where validation rows come from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Validation {
    /// No validation.
    None,
    /// The dataset's test split.
    Test,
    /// The last fraction of the training rows in file order, taken before shuffling (like
    /// Keras `validation_split`).
    Split(f64),
}

impl std::str::FromStr for Validation {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        let bad = || {
            ModelError::Invalid(format!(
                "invalid validation '{s}' (expected test, none or split:F with 0 < F < 1)"
            ))
        };
        match s {
            "test" => Ok(Validation::Test),
            "none" => Ok(Validation::None),
            _ => {
                let f: f64 = s
                    .strip_prefix("split:")
                    .ok_or_else(bad)?
                    .parse()
                    .map_err(|_| bad())?;
                if f > 0.0 && f < 1.0 {
                    Ok(Validation::Split(f))
                } else {
                    Err(bad())
                }
            }
        }
    }
}

impl std::fmt::Display for Validation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Validation::None => f.write_str("none"),
            Validation::Test => f.write_str("test"),
            Validation::Split(x) => write!(f, "split:{x}"),
        }
    }
}

/// Options of [`fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct FitOptions {
    /// Maximum number of epochs.
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub hidden: Vec<usize>,
    pub activation: Activation,
    pub validation: Validation,
    pub seed: u64,
    /// When set, the model folder is written here (atomically) after every finite epoch.
    pub checkpoint: Option<PathBuf>,
    /// Fraction of the (standardised) input features zeroed at random in every training batch,
    /// the rest scaled by `1 / (1 - p)` (inverted dropout on the input; 0: off). The masks come
    /// from a stream seeded by `seed` and the epoch, so runs and resumed runs repeat exactly.
    pub input_dropout: f64,
    /// Label smoothing: the training target of a row is `1 - e` on its class plus `e / K` on
    /// every class (0: plain one-hot; the reported training loss is against these targets).
    pub label_smoothing: f64,
    /// Mixup (Zhang et al., 2018): every training row is blended with another row of its batch,
    /// inputs and targets alike, `l x_i + (1 - l) x_j` with `l ~ Beta(a, a)` folded to `l >= 0.5`
    /// so the row's own class keeps the larger share. This is `a`; 0: off. Seeded like the
    /// dropout masks, so runs and resumed runs repeat exactly.
    pub mixup: f64,
    /// Class-balanced loss: every training row weighs `n / (K n_c)` (its class's share of the
    /// rows inverted), so each class carries the same weight whatever its number of rows; the
    /// reported training loss is the weighted one. Off by default.
    pub balance_classes: bool,
    /// Weight averaging (stochastic weight averaging): from this epoch (1-based) on, the model
    /// validated, checkpointed and returned is the mean of the weights at the end of each epoch
    /// so far, while the live weights go on training (a run that stops before that epoch, to
    /// be resumed, saves its live weights). None: off.
    pub average_from: Option<usize>,
    /// A convolution over the last inputs (a note's time profile) beside the dense layers; none
    /// by default.
    pub conv: Option<Conv>,
    /// A GRU over the last inputs (a note's time profile) beside the dense layers; none by
    /// default, never with `conv`.
    pub gru: Option<Gru>,
}

impl Default for FitOptions {
    /// The seed model: Dense(256, sigmoid), Adam(0.001), batch 128, 10 epochs, validation on
    /// the test split.
    fn default() -> Self {
        FitOptions {
            epochs: 10,
            batch_size: 128,
            lr: 0.001,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-7,
            hidden: vec![256],
            activation: Activation::Sigmoid,
            validation: Validation::Test,
            seed: 0,
            checkpoint: None,
            input_dropout: 0.0,
            label_smoothing: 0.0,
            mixup: 0.0,
            balance_classes: false,
            average_from: None,
            conv: None,
            gru: None,
        }
    }
}

impl FitOptions {
    /// Checks ranges: batch size > 0, lr > 0, betas in [0, 1), eps > 0, epochs > 0.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::Invalid(m));
        if self.batch_size == 0 {
            return bad("batch size must be at least 1".into());
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad(format!("learning rate must be > 0, got {}", self.lr));
        }
        if !(0.0..1.0).contains(&self.beta1) || !(0.0..1.0).contains(&self.beta2) {
            return bad(format!(
                "beta1/beta2 must be in [0, 1), got {}/{}",
                self.beta1, self.beta2
            ));
        }
        if self.eps.is_nan() || self.eps <= 0.0 {
            return bad(format!("epsilon must be > 0, got {}", self.eps));
        }
        if self.epochs == 0 {
            return bad("epochs must be at least 1".into());
        }
        if self.hidden.contains(&0) {
            return bad(format!(
                "hidden layer sizes must be > 0, got {:?}",
                self.hidden
            ));
        }
        if !(0.0..1.0).contains(&self.input_dropout) {
            return bad(format!(
                "input dropout must be in [0, 1), got {}",
                self.input_dropout
            ));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return bad(format!(
                "label smoothing must be in [0, 1), got {}",
                self.label_smoothing
            ));
        }
        if self.average_from == Some(0) {
            return bad("weight averaging must start at epoch 1 or later, got 0".into());
        }
        if !(self.mixup >= 0.0 && self.mixup <= 100.0) {
            return bad(format!(
                "mixup alpha must be in [0, 100] (0: off), got {}",
                self.mixup
            ));
        }
        Ok(())
    }
}

/// Mixup of one batch: row `i` is blended with row `i + 1` (the last with the first; the batch
/// is already a random draw) with its own weight `l >= 0.5`, inputs and targets alike.
fn mix_rows(
    x: &Tensor,
    targets: &Tensor,
    beta: &rand_distr::Beta<f64>,
    rng: &mut rand::rngs::StdRng,
) -> Result<(Tensor, Tensor), ModelError> {
    use rand_distr::Distribution;
    let len = x.dim(0)?;
    if len < 2 {
        return Ok((x.clone(), targets.clone()));
    }
    let device = x.device();
    let l: Vec<f32> = (0..len)
        .map(|_| {
            let l = beta.sample(rng);
            l.max(1.0 - l) as f32
        })
        .collect();
    let partner: Vec<u32> = (1..=len as u32).map(|i| i % len as u32).collect();
    let partner = Tensor::from_vec(partner, len, device)?;
    let l = Tensor::from_vec(l, (len, 1), device)?;
    let rest = l.affine(-1.0, 1.0)?;
    let blend = |t: &Tensor| -> candle_core::Result<Tensor> {
        t.broadcast_mul(&l)? + t.index_select(&partner, 0)?.broadcast_mul(&rest)?
    };
    Ok((blend(x)?, blend(targets)?))
}

/// The outcome of [`fit`].
#[derive(Debug, Clone)]
pub struct FitResult {
    pub model: Model,
    pub history: Vec<EpochRecord>,
    /// The loss became NaN or infinite; training stopped.
    pub diverged: bool,
    /// A callback stopped training before the epoch limit.
    pub stopped_early: bool,
    /// Total wall time of the epochs, seconds.
    pub train_time_s: f64,
}

/// Where [`fit_resume`] continues from: a model folder written as a checkpoint by [`fit`].
struct Resume<'a> {
    dir: &'a Path,
    model: Model,
    /// The Adam moments from `optimizer.safetensors`, when the checkpoint has them.
    moments: Option<HashMap<String, Tensor>>,
}

/// Continues training from the checkpoint in the model folder `dir` (written by [`fit`] with
/// `opts.checkpoint`) up to `opts.epochs` epochs in all: weights, history, epoch count and
/// training time come from the checkpoint, the Adam moments from its `optimizer.safetensors`
/// (a checkpoint without that file restarts Adam from zero moments), and the shuffling stream
/// is replayed to where the checkpoint left it. With the moments present, a resumed run gives
/// the same weights and history (except times) as one that was never interrupted. The options
/// (batch size, Adam parameters, seed, validation, architecture) and the training rows must be
/// those the checkpoint was trained with; anything else is an error naming the difference.
pub fn fit_resume(
    data: &Dataset,
    opts: &FitOptions,
    dir: &Path,
    callbacks: &mut [&mut dyn Callback],
    device: &Device,
) -> Result<FitResult, ModelError> {
    let model = Model::load(dir, device)?;
    let moments = Model::load_optimizer_state(dir, device)?;
    fit_inner(
        data,
        opts,
        Some(Resume {
            dir,
            model,
            moments,
        }),
        callbacks,
        device,
    )
}

/// Checks that a checkpoint fits the options and data of the run resuming it; returns the
/// number of epochs it holds.
fn check_resume(
    r: &Resume,
    opts: &FitOptions,
    arch: &Architecture,
    classes: &[String],
    standardiser: &Standardiser,
    n: usize,
) -> Result<usize, ModelError> {
    let bad = |msg: String| {
        Err(ModelError::Model {
            path: r.dir.to_path_buf(),
            msg: format!("cannot resume: {msg}"),
        })
    };
    let m = &r.model;
    let info = match &m.training {
        Some(i) => i,
        None => return bad("the model folder has no training record".into()),
    };
    if m.net.arch != *arch {
        return bad(format!(
            "the checkpoint's network is {:?}, this run's is {:?}",
            m.net.arch, arch
        ));
    }
    if m.classes != classes {
        return bad("the dataset's classes differ from the checkpoint's".into());
    }
    let same = [
        ("batch size", info.batch_size as f64, opts.batch_size as f64),
        ("learning rate", info.lr, opts.lr),
        ("beta1", info.beta1, opts.beta1),
        ("beta2", info.beta2, opts.beta2),
        ("epsilon", info.eps, opts.eps),
        ("seed", info.seed as f64, opts.seed as f64),
    ];
    for (what, was, now) in same {
        if was != now {
            return bad(format!(
                "the checkpoint was trained with {what} {was}, this run asks for {now}"
            ));
        }
    }
    if info.average_from != opts.average_from {
        let says = |f: Option<usize>| {
            f.map_or("no weight averaging".into(), |f| {
                format!("weights averaged from epoch {f}")
            })
        };
        return bad(format!(
            "the checkpoint was trained with {}, this run asks for {}",
            says(info.average_from),
            says(opts.average_from)
        ));
    }
    if info.validation != opts.validation.to_string() {
        return bad(format!(
            "the checkpoint was trained with validation {}, this run asks for {}",
            info.validation, opts.validation
        ));
    }
    if info.train_rows != n || m.standardiser != *standardiser {
        return bad("the training rows differ from the checkpoint's dataset".into());
    }
    if info.diverged {
        return bad("the checkpoint's training diverged".into());
    }
    if m.history.len() != info.epochs {
        return bad(format!(
            "history.json holds {} epochs but model.json says {}",
            m.history.len(),
            info.epochs
        ));
    }
    if info.epochs >= opts.epochs {
        return bad(format!(
            "the checkpoint already holds {} of the {} epochs asked for",
            info.epochs, opts.epochs
        ));
    }
    Ok(info.epochs)
}

/// Loss and accuracy sums of a batch: (sum of per-row cross-entropy, number correct), on the
/// device.
fn batch_sums(logits: &Tensor, y: &Tensor) -> Result<(Tensor, Tensor), ModelError> {
    let n = y.dims1()?;
    let loss = candle_nn::loss::cross_entropy(logits, y)?;
    let correct = logits
        .argmax(D::Minus1)?
        .eq(y)?
        .to_dtype(DType::F32)?
        .sum_all()?;
    Ok(((loss * n as f64)?, correct))
}

/// Mean loss and accuracy of a whole split already on the device, one read at the end.
fn evaluate_on_device(net: &Mlp, x: &Tensor, y: &Tensor) -> Result<(f64, f64), ModelError> {
    let n = y.dims1()?;
    let chunk = 8192;
    let mut loss = Tensor::zeros((), DType::F32, x.device())?;
    let mut correct = Tensor::zeros((), DType::F32, x.device())?;
    let mut start = 0;
    while start < n {
        let len = chunk.min(n - start);
        let logits = net.forward(&x.narrow(0, start, len)?)?;
        let (l, c) = batch_sums(&logits, &y.narrow(0, start, len)?)?;
        loss = (loss + l)?;
        correct = (correct + c)?;
        start += len;
    }
    let nf = n.max(1) as f64;
    Ok((
        f64::from(loss.to_scalar::<f32>()?) / nf,
        f64::from(correct.to_scalar::<f32>()?) / nf,
    ))
}

/// Borrowed feature rows and their labels.
type Rows<'a> = (&'a [f32], &'a [u32]);

/// Trains a network on `data` (see the module documentation).
pub fn fit(
    data: &Dataset,
    opts: &FitOptions,
    callbacks: &mut [&mut dyn Callback],
    device: &Device,
) -> Result<FitResult, ModelError> {
    fit_inner(data, opts, None, callbacks, device)
}

fn fit_inner(
    data: &Dataset,
    opts: &FitOptions,
    resume: Option<Resume>,
    callbacks: &mut [&mut dyn Callback],
    device: &Device,
) -> Result<FitResult, ModelError> {
    opts.validate()?;
    if device.is_cpu() {
        crate::net::keep_small_products_on_one_thread();
    }
    let nf = data.n_features;
    let n_classes = data.n_classes();
    // Split off validation rows before shuffling.
    let (train_x, train_y, val): (&[f32], &[u32], Option<Rows>) = match opts.validation {
        Validation::None => (&data.train.x, &data.train.y, None),
        Validation::Test => (
            &data.train.x,
            &data.train.y,
            Some((&data.test.x[..], &data.test.y[..])),
        ),
        Validation::Split(f) => {
            let n = data.train.rows();
            let split_at = (n as f64 * (1.0 - f)).floor() as usize;
            if split_at == 0 || split_at == n {
                return Err(ModelError::Invalid(format!(
                    "validation split {f} of {n} training rows leaves an empty part"
                )));
            }
            let (a, b) = data.train.x.split_at(split_at * nf);
            let (ya, yb) = data.train.y.split_at(split_at);
            (a, ya, Some((b, yb)))
        }
    };
    let n = train_y.len();
    if n == 0 {
        return Err(ModelError::Invalid("no training rows".into()));
    }
    let mut seen = vec![false; n_classes];
    for &c in train_y {
        if let Some(s) = seen.get_mut(c as usize) {
            *s = true;
        }
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(ModelError::Invalid(format!(
            "class {missing} ({}) has no rows in the training part{}",
            data.classes.get(missing).map(String::as_str).unwrap_or("?"),
            if matches!(opts.validation, Validation::Split(_)) {
                " after the validation split"
            } else {
                ""
            }
        )));
    }
    let standardiser = Standardiser::fit(train_x, nf);
    // Upload everything once.
    let x_dev = Tensor::from_vec(standardiser.apply(train_x), (n, nf), device)?;
    let y_dev = Tensor::from_slice(train_y, n, device)?;
    let e = opts.label_smoothing;
    let (off, on) = (
        (e / n_classes as f64) as f32,
        (1.0 - e + e / n_classes as f64) as f32,
    );
    let mut onehot = vec![off; n * n_classes];
    for (row, &c) in onehot.chunks_exact_mut(n_classes).zip(train_y) {
        row[c as usize] = on;
    }
    if opts.balance_classes {
        let mut counts = vec![0usize; n_classes];
        for &c in train_y {
            counts[c as usize] += 1;
        }
        for (row, &c) in onehot.chunks_exact_mut(n_classes).zip(train_y) {
            let w = n as f32 / (n_classes * counts[c as usize]) as f32;
            row.iter_mut().for_each(|v| *v *= w);
        }
    }
    let onehot_dev = Tensor::from_vec(onehot, (n, n_classes), device)?;
    let val_dev = match val {
        Some((vx, vy)) if !vy.is_empty() => Some((
            Tensor::from_vec(standardiser.apply(vx), (vy.len(), nf), device)?,
            Tensor::from_slice(vy, vy.len(), device)?,
        )),
        _ => None,
    };
    let arch = Architecture {
        n_features: nf,
        hidden: opts.hidden.clone(),
        n_classes,
        activation: opts.activation,
        conv: opts.conv,
        gru: opts.gru,
    };
    let net = Mlp::new(&arch, opts.seed, device)?;
    let mut average = match opts.average_from {
        Some(from) => Some(Average::new(&arch, from, device)?),
        None => None,
    };
    let mut opt = Adam::new(net.vars(), opts)?;
    let bs = opts.batch_size;
    let n_batches = n.div_ceil(bs);
    let mut done = 0;
    let mut history = Vec::new();
    let mut total = 0.0;
    if let Some(r) = &resume {
        done = check_resume(r, opts, &arch, &data.classes, &standardiser, n)?;
        match &mut average {
            Some(a) => a.restore(&net, &r.model.net, r.moments.as_ref(), done, r.dir)?,
            None => {
                for (to, from) in net.vars().iter().zip(r.model.net.vars()) {
                    to.set(&from.as_tensor().to_device(device)?)?;
                }
            }
        }
        if let Some(t) = &r.moments {
            let path = r.dir.join(crate::model::OPTIMIZER);
            opt.restore(&path, t, done * n_batches)?;
        }
        history = r.model.history.clone();
        total = r.model.training.as_ref().map_or(0.0, |i| i.train_time_s);
    }
    let model = Model {
        net,
        classes: data.classes.clone(),
        standardiser,
        training: None,
        recipe: data.recipe.clone(),
        history,
        device: device.clone(),
        calibration: None,
    };
    let info = TrainingInfo {
        epochs: done,
        batch_size: opts.batch_size,
        lr: opts.lr,
        beta1: opts.beta1,
        beta2: opts.beta2,
        eps: opts.eps,
        seed: opts.seed,
        validation: opts.validation.to_string(),
        device: device_name(device),
        train_time_s: 0.0,
        diverged: false,
        train_rows: n,
        dataset: (!data.dir.as_os_str().is_empty()).then(|| data.dir.display().to_string()),
        average_from: opts.average_from,
    };
    // A separate stream for shuffling so that changing the architecture keeps the order.
    let mut rng = rand::rngs::StdRng::seed_from_u64(opts.seed ^ 0x5348_5546_464c_4521);
    let mut perm: Vec<u32> = (0..n as u32).collect();
    // A resumed run replays the shuffles of the epochs already done.
    for _ in 0..done {
        perm.shuffle(&mut rng);
    }
    let every = callbacks
        .iter()
        .filter_map(|c| c.running_metrics_every())
        .min();
    let mixup = if opts.mixup > 0.0 {
        Some(
            rand_distr::Beta::new(opts.mixup, opts.mixup)
                .map_err(|e| ModelError::Invalid(format!("mixup alpha {}: {e}", opts.mixup)))?,
        )
    } else {
        None
    };
    let mut trainer = FrameTrainer {
        opts,
        device,
        x: x_dev,
        y: y_dev,
        onehot: onehot_dev,
        val: val_dev,
        nf,
        perm,
        rng,
        mixup,
        every,
        model,
        opt,
        info,
        average,
    };
    let run = run_epochs(&mut trainer, done + 1..=opts.epochs, total, callbacks)?;
    let mut model = trainer.model;
    if let Some(a) = trainer.average.as_mut().filter(|a| a.active()) {
        std::mem::swap(&mut model.net, &mut a.net);
    }
    Ok(FitResult {
        history: model.history.clone(),
        model,
        diverged: run.diverged,
        stopped_early: run.stopped_early,
        train_time_s: run.total_s,
    })
}

/// A frame MLP inside [`run_epochs`]: the rows on the device, the shuffling stream, Adam.
struct FrameTrainer<'a> {
    opts: &'a FitOptions,
    device: &'a Device,
    /// Standardised training rows, their classes and (smoothed) one-hot targets.
    x: Tensor,
    y: Tensor,
    onehot: Tensor,
    val: Option<(Tensor, Tensor)>,
    nf: usize,
    perm: Vec<u32>,
    rng: rand::rngs::StdRng,
    mixup: Option<rand_distr::Beta<f64>>,
    /// Batches between running-metric reads (a device sync), as the callbacks ask.
    every: Option<usize>,
    model: Model,
    opt: Adam,
    info: TrainingInfo,
    /// The mean of the weights, with [`FitOptions::average_from`].
    average: Option<Average>,
}

impl EpochTrainer for FrameTrainer<'_> {
    fn train_epoch(
        &mut self,
        epoch: usize,
        callbacks: &mut [&mut dyn Callback],
    ) -> Result<(f64, f64), ModelError> {
        let (opts, device, nf) = (self.opts, self.device, self.nf);
        let n = self.perm.len();
        let bs = opts.batch_size;
        let n_batches = n.div_ceil(bs);
        self.perm.shuffle(&mut self.rng);
        let perm_dev = Tensor::from_slice(&self.perm, n, device)?;
        let mut loss_sum = Tensor::zeros((), DType::F32, device)?;
        let mut correct_sum = Tensor::zeros((), DType::F32, device)?;
        let mut mask_rng = rand::rngs::StdRng::seed_from_u64(
            opts.seed ^ 0x4452_4f50_4f55_5421 ^ (epoch as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        );
        let mut mix_rng = rand::rngs::StdRng::seed_from_u64(
            opts.seed ^ 0x4d49_5855_5021_2121 ^ (epoch as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        );
        for b in 0..n_batches {
            let start = b * bs;
            let len = bs.min(n - start);
            let idx = perm_dev.narrow(0, start, len)?;
            let mut xb = self.x.index_select(&idx, 0)?;
            if opts.input_dropout > 0.0 {
                let p = opts.input_dropout;
                let keep = (1.0 / (1.0 - p)) as f32;
                let mask: Vec<f32> = (0..len * nf)
                    .map(|_| {
                        if mask_rng.random::<f64>() < p {
                            0.0
                        } else {
                            keep
                        }
                    })
                    .collect();
                xb = (xb * Tensor::from_vec(mask, (len, nf), device)?)?;
            }
            let yb = self.y.index_select(&idx, 0)?;
            let mut ob = self.onehot.index_select(&idx, 0)?;
            if let Some(beta) = &self.mixup {
                (xb, ob) = mix_rows(&xb, &ob, beta, &mut mix_rng)?;
            }
            let (grads, loss, correct) = if opts.balance_classes {
                self.model.net.loss_and_grads_weighted(&xb, &yb, &ob)?
            } else {
                self.model.net.loss_and_grads(&xb, &yb, &ob)?
            };
            self.opt.step(&grads)?;
            loss_sum = (loss_sum + loss)?;
            correct_sum = (correct_sum + correct)?;
            if !callbacks.is_empty() {
                let running = match self.every {
                    Some(k) if k > 0 && ((b + 1) % k == 0 || b + 1 == n_batches) => {
                        let seen = (start + len) as f64;
                        Some((
                            f64::from(loss_sum.to_scalar::<f32>()?) / seen,
                            f64::from(correct_sum.to_scalar::<f32>()?) / seen,
                        ))
                    }
                    _ => None,
                };
                for c in callbacks.iter_mut() {
                    c.on_batch_end(epoch, b + 1, n_batches, running);
                }
            }
        }
        if let Some(a) = &mut self.average {
            a.add(&self.model.net, epoch)?;
        }
        Ok((
            f64::from(loss_sum.to_scalar::<f32>()?) / n as f64,
            f64::from(correct_sum.to_scalar::<f32>()?) / n as f64,
        ))
    }

    fn validate(&mut self) -> Result<Option<(f64, f64)>, ModelError> {
        let net = match &self.average {
            Some(a) if a.active() => &a.net,
            _ => &self.model.net,
        };
        match &self.val {
            Some((vx, vy)) => Ok(Some(evaluate_on_device(net, vx, vy)?)),
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
        let Some(dir) = &self.opts.checkpoint else {
            return Ok(());
        };
        let mut state = self.opt.state()?;
        // Once averaging has begun, the folder holds the mean as its model and the live weights
        // beside the moments.
        let mut mean = self.average.as_mut().filter(|a| a.active());
        if mean.is_some() {
            state.extend(Average::live_state(&self.model.net)?);
        }
        let bytes = crate::model::safetensors_bytes(&state)?;
        if let Some(a) = mean.as_mut() {
            std::mem::swap(&mut self.model.net, &mut a.net);
        }
        let saved = self
            .model
            .save_with(dir, &[(crate::model::OPTIMIZER, &bytes)]);
        if let Some(a) = mean {
            std::mem::swap(&mut self.model.net, &mut a.net);
        }
        saved
    }
}
