//! Hyper-parameter sweeps over learning rate and batch size, with time and energy to accuracy:
//! the trial grid ([`SweepConfig::trials`]), shards of it ([`Shard`]), one fresh model per trial
//! trained by [`fit`] with per-epoch time and energy from an [`energy::Monitor`], results
//! appended atomically to `DIR/results.json` and `DIR/results.csv` after every trial (so an
//! interrupted sweep keeps its finished trials and can be resumed), each trial's history in
//! `DIR/trials/<name>/`, and the merge of shard folders ([`merge`]).
//!
//! Test accuracy is always measured on the dataset's test split after training; stopping at a
//! target accuracy only looks at the validation rows (a split of the training rows).
//!
//! [`energy::Monitor`]: crate::energy::Monitor

use crate::dataset::Dataset;
use crate::device::device_name;
use crate::energy::{Domain, Measurement, Monitor};
use crate::error::ModelError;
use crate::metrics::evaluate;
use crate::net::Activation;
use crate::npy::write_atomic;
use crate::train::{fit, Callback, Control, EpochRecord, FitOptions, TargetAccuracy, Validation};
use candle_core::Device;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The sweep's settings, saved as `DIR/sweep.json`; resuming and merging need equal settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepConfig {
    /// The dataset folder (absolute).
    pub dataset: String,
    pub learning_rates: Vec<f64>,
    pub batch_sizes: Vec<usize>,
    /// Fixed number of epochs per trial (no target accuracy).
    pub epochs: Option<usize>,
    /// Train each trial until validation accuracy is above this for `patience` epochs.
    pub target_accuracy: Option<f64>,
    pub patience: usize,
    /// Epoch limit with a target accuracy.
    pub max_epochs: usize,
    /// Validation rows (`split:F`, `test` or `none`; `test` only without a target).
    pub validation: String,
    pub hidden: Vec<usize>,
    pub activation: String,
    pub seed: u64,
    /// The training rows were shuffled once (with `seed`) before the validation split, so that
    /// `split:F` takes a random fraction instead of the last rows in file order.
    #[serde(default)]
    pub shuffle: bool,
    /// The shard this folder holds (`i/n`), if any; not compared when resuming or merging.
    #[serde(default)]
    pub shard: Option<String>,
    /// The compute device; not compared when resuming or merging.
    #[serde(default)]
    pub device: String,
}

/// One trial of the grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrialSpec {
    /// 1-based position in the whole grid.
    pub trial: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
}

impl TrialSpec {
    /// The folder name of the trial's history: `bs128_lr0.001`.
    pub fn name(&self) -> String {
        format!("bs{}_lr{}", self.batch_size, self.learning_rate)
    }

    fn same_as(&self, r: &TrialResult) -> bool {
        self.batch_size == r.batch_size && self.learning_rate == r.learning_rate
    }
}

fn invalid(msg: impl Into<String>) -> ModelError {
    ModelError::Invalid(msg.into())
}

impl SweepConfig {
    /// Checks the lists (non-empty, positive, finite, no duplicates) and the mode's settings.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.learning_rates.is_empty() || self.batch_sizes.is_empty() {
            return Err(invalid(
                "the sweep needs at least one learning rate and batch size",
            ));
        }
        for (i, &lr) in self.learning_rates.iter().enumerate() {
            if !(lr > 0.0 && lr.is_finite()) {
                return Err(invalid(format!("learning rate must be > 0, got {lr}")));
            }
            if self.learning_rates[..i].contains(&lr) {
                return Err(invalid(format!("learning rate {lr} is listed twice")));
            }
        }
        for (i, &b) in self.batch_sizes.iter().enumerate() {
            if b == 0 {
                return Err(invalid("batch size must be at least 1"));
            }
            if self.batch_sizes[..i].contains(&b) {
                return Err(invalid(format!("batch size {b} is listed twice")));
            }
        }
        let validation: Validation = self.validation.parse()?;
        self.activation.parse::<Activation>()?;
        match (self.epochs, self.target_accuracy) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "give either a fixed number of epochs or a target accuracy, not both",
                ))
            }
            (Some(0), None) => return Err(invalid("epochs must be at least 1")),
            (None, None) => return Err(invalid("give a number of epochs or a target accuracy")),
            (None, Some(t)) => {
                if !(t > 0.0 && t <= 1.0) {
                    return Err(invalid(format!(
                        "target accuracy must be in (0, 1], got {t}"
                    )));
                }
                if self.max_epochs == 0 {
                    return Err(invalid("max epochs must be at least 1"));
                }
                if self.patience == 0 {
                    return Err(invalid("patience must be at least 1"));
                }
                match validation {
                    Validation::Split(_) => {}
                    Validation::Test => {
                        return Err(invalid(
                            "with a target accuracy the validation rows must not be the test \
                             data (test accuracy is measured on it): use --validation split:F",
                        ))
                    }
                    Validation::None => {
                        return Err(invalid(
                            "a target accuracy needs validation rows: use --validation split:F",
                        ))
                    }
                }
            }
            (Some(_), None) => {}
        }
        Ok(())
    }

    /// Every trial: for each batch size, each learning rate.
    pub fn trials(&self) -> Vec<TrialSpec> {
        let mut out = Vec::new();
        for &batch_size in &self.batch_sizes {
            for &learning_rate in &self.learning_rates {
                out.push(TrialSpec {
                    trial: out.len() + 1,
                    batch_size,
                    learning_rate,
                });
            }
        }
        out
    }

    /// The epoch limit of a trial.
    pub fn max_epochs(&self) -> usize {
        self.epochs.unwrap_or(self.max_epochs)
    }

    /// The training options of one trial.
    pub fn fit_options(&self, t: &TrialSpec) -> Result<FitOptions, ModelError> {
        Ok(FitOptions {
            epochs: self.max_epochs(),
            batch_size: t.batch_size,
            lr: t.learning_rate,
            hidden: self.hidden.clone(),
            activation: self.activation.parse()?,
            validation: self.validation.parse()?,
            seed: self.seed,
            checkpoint: None,
            ..FitOptions::default()
        })
    }

    /// Why `other` cannot continue or be merged with this sweep (the first differing setting),
    /// ignoring `shard` and `device`.
    pub fn incompatibility(&self, other: &SweepConfig) -> Option<String> {
        let strip = |c: &SweepConfig| {
            let mut v = serde_json::to_value(c).unwrap_or_default();
            if let Some(m) = v.as_object_mut() {
                m.remove("shard");
                m.remove("device");
            }
            v
        };
        let (a, b) = (strip(self), strip(other));
        let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
            return Some("settings cannot be compared".into());
        };
        a.iter().find(|(k, v)| b.get(*k) != Some(v)).map(|(k, v)| {
            format!(
                "{k} differs ({} vs {})",
                v,
                b.get(k).cloned().unwrap_or_default()
            )
        })
    }
}

/// Every n-th trial: shard `i/n` (1 <= i <= n) holds trials i, i+n, i+2n, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Shard, ModelError> {
        let bad = || {
            invalid(format!(
                "invalid shard '{s}' (expected i/n with 1 <= i <= n)"
            ))
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether the trial belongs to this shard.
    pub fn contains(&self, t: &TrialSpec) -> bool {
        (t.trial - 1) % self.count == self.index - 1
    }
}

/// One epoch of a trial: the training history plus the epoch's energy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialEpoch {
    pub epoch: usize,
    /// Training loss; `None` when it was not finite.
    pub loss: Option<f64>,
    pub accuracy: f64,
    pub val_loss: Option<f64>,
    pub val_accuracy: Option<f64>,
    pub time_s: f64,
    /// Energy of the epoch, joules (the first epoch includes uploading the data).
    pub energy_j: Option<f64>,
}

/// The outcome of one trial: one row of `results.csv`, one object of `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialResult {
    /// 1-based position in the whole grid.
    pub trial: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// Epochs trained.
    pub epochs: usize,
    /// Accuracy on the test split (never used for stopping); `None` when training diverged.
    pub test_accuracy: Option<f64>,
    pub test_loss: Option<f64>,
    /// Training time (sum of the epochs), seconds: the time to accuracy with a target.
    pub train_time_s: f64,
    pub time_per_epoch_s: f64,
    /// Energy over the trial's training, joules; `None` when no counter was available.
    pub energy_j: Option<f64>,
    pub energy_per_epoch_j: Option<f64>,
    /// The counters that gave `energy_j` (`nvml`, `rapl`, `nvml+rapl`).
    pub energy_source: Option<String>,
    /// Part of the energy is power x time (a counter did not move).
    pub energy_approximate: bool,
    /// Why energy, or part of it, is missing.
    pub energy_unavailable: Option<String>,
    pub gpu_energy_j: Option<f64>,
    pub cpu_energy_j: Option<f64>,
    pub dram_energy_j: Option<f64>,
    /// Whether validation accuracy was above the target for `patience` epochs at the end;
    /// `None` without a target.
    pub reached_target: Option<bool>,
    /// The loss became NaN or infinite.
    pub diverged: bool,
    pub device: String,
    pub history: Vec<TrialEpoch>,
}

impl TrialResult {
    fn key(&self) -> (usize, u64) {
        (self.batch_size, self.learning_rate.to_bits())
    }
}

/// What a sweep reports while it runs (progress bars, log lines). All methods default to
/// nothing.
pub trait SweepObserver {
    /// A trial starts; `position` counts from 1 among the `count` trials of this run.
    fn trial_start(&mut self, _t: &TrialSpec, _position: usize, _count: usize, _max_epochs: usize) {
    }
    /// After each batch: 1-based epoch, batches done, batches per epoch.
    fn batch_end(&mut self, _epoch: usize, _done: usize, _total: usize) {}
    /// After each epoch, with its energy where measured.
    fn epoch_end(&mut self, _r: &EpochRecord, _energy_j: Option<f64>) {}
    /// A trial finished and its result was written.
    fn trial_end(&mut self, _r: &TrialResult) {}
}

/// A [`SweepObserver`] that reports nothing.
pub struct Silent;
impl SweepObserver for Silent {}

/// File names in a sweep folder.
pub const RESULTS_JSON: &str = "results.json";
pub const RESULTS_CSV: &str = "results.csv";
pub const SWEEP_JSON: &str = "sweep.json";
pub const TRIALS_DIR: &str = "trials";

fn io_err(path: &Path, source: std::io::Error) -> ModelError {
    ModelError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn to_json<T: Serialize + ?Sized>(v: &T) -> Result<Vec<u8>, ModelError> {
    let mut b =
        serde_json::to_vec_pretty(v).map_err(|e| invalid(format!("cannot serialise: {e}")))?;
    b.push(b'\n');
    Ok(b)
}

fn read_json_file<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, ModelError> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| ModelError::Json {
                path: path.to_path_buf(),
                msg: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path, e)),
    }
}

/// The finished trials in `dir/results.json` (none when the file does not exist).
pub fn read_results(dir: &Path) -> Result<Vec<TrialResult>, ModelError> {
    Ok(read_json_file(&dir.join(RESULTS_JSON))?.unwrap_or_default())
}

/// The settings in `dir/sweep.json`, if there is one.
pub fn read_config(dir: &Path) -> Result<Option<SweepConfig>, ModelError> {
    read_json_file(&dir.join(SWEEP_JSON))
}

fn opt(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The columns of `results.csv`.
pub const CSV_HEADER: &str = "trial,batch_size,learning_rate,epochs,test_accuracy,test_loss,\
train_time_s,time_per_epoch_s,energy_j,energy_per_epoch_j,energy_source,energy_approximate,\
gpu_energy_j,cpu_energy_j,dram_energy_j,reached_target,diverged,device,energy_unavailable";

/// The results as CSV (one row per trial, no per-epoch history).
pub fn results_csv(results: &[TrialResult]) -> String {
    let mut s = String::from(CSV_HEADER);
    s.push('\n');
    for r in results {
        let fields = [
            r.trial.to_string(),
            r.batch_size.to_string(),
            r.learning_rate.to_string(),
            r.epochs.to_string(),
            opt(r.test_accuracy),
            opt(r.test_loss),
            r.train_time_s.to_string(),
            r.time_per_epoch_s.to_string(),
            opt(r.energy_j),
            opt(r.energy_per_epoch_j),
            csv_field(r.energy_source.as_deref().unwrap_or("")),
            r.energy_approximate.to_string(),
            opt(r.gpu_energy_j),
            opt(r.cpu_energy_j),
            opt(r.dram_energy_j),
            r.reached_target.map(|b| b.to_string()).unwrap_or_default(),
            r.diverged.to_string(),
            csv_field(&r.device),
            csv_field(r.energy_unavailable.as_deref().unwrap_or("")),
        ];
        s.push_str(&fields.join(","));
        s.push('\n');
    }
    s
}

/// Writes `results.json`, then `results.csv`, each atomically, sorted by trial.
pub fn write_results(dir: &Path, results: &[TrialResult]) -> Result<(), ModelError> {
    let mut sorted = results.to_vec();
    sorted.sort_by_key(|r| r.trial);
    write_atomic(&dir.join(RESULTS_JSON), &to_json(&sorted)?)?;
    write_atomic(&dir.join(RESULTS_CSV), results_csv(&sorted).as_bytes())
}

/// The trial's history as CSV (`epoch,loss,accuracy,val_loss,val_accuracy,time_s,energy_j`).
pub fn history_csv(history: &[TrialEpoch]) -> String {
    let mut s = String::from("epoch,loss,accuracy,val_loss,val_accuracy,time_s,energy_j\n");
    for e in history {
        s.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            e.epoch,
            e.loss
                .map(|v| v.to_string())
                .unwrap_or_else(|| "nan".into()),
            e.accuracy,
            opt(e.val_loss),
            opt(e.val_accuracy),
            e.time_s,
            opt(e.energy_j)
        ));
    }
    s
}

fn write_history(dir: &Path, r: &TrialResult, name: &str) -> Result<(), ModelError> {
    let d = dir.join(TRIALS_DIR).join(name);
    std::fs::create_dir_all(&d).map_err(|e| io_err(&d, e))?;
    write_atomic(&d.join("history.json"), &to_json(&r.history)?)?;
    write_atomic(&d.join("history.csv"), history_csv(&r.history).as_bytes())
}

/// Shuffles the training rows once, seeded (see [`SweepConfig::shuffle`]).
pub fn shuffle_rows(data: &mut Dataset, seed: u64) {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let n = data.train.rows();
    let nf = data.n_features;
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(
        seed ^ 0x5357_4545_5021,
    ));
    let mut x = Vec::with_capacity(data.train.x.len());
    let mut y = Vec::with_capacity(n);
    for &i in &order {
        x.extend_from_slice(&data.train.x[i * nf..(i + 1) * nf]);
        y.push(data.train.y[i]);
    }
    data.train.x = x;
    data.train.y = y;
}

/// Checks before any trial runs that the validation split leaves every class some training
/// rows (datasets built by `instclf dataset build` are in class order, so the last rows are
/// one or two classes only).
pub fn check_split(config: &SweepConfig, data: &Dataset) -> Result<(), ModelError> {
    let Validation::Split(f) = config.validation.parse()? else {
        return Ok(());
    };
    let n = data.train.rows();
    let split_at = (n as f64 * (1.0 - f)).floor() as usize;
    let mut seen = vec![false; data.n_classes()];
    for &c in &data.train.y[..split_at.min(n)] {
        if let Some(s) = seen.get_mut(c as usize) {
            *s = true;
        }
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(ModelError::Data {
            path: data.dir.clone(),
            msg: format!(
                "validation split:{f} (the last rows in file order, like Keras) leaves class \
                 {missing} ({}) without training rows; add --shuffle to split off a random \
                 fraction instead",
                data.classes.get(missing).map(String::as_str).unwrap_or("?")
            ),
        });
    }
    Ok(())
}

/// Prepares `dir` for a run: creates it, checks that a sweep already there is the same sweep
/// (with `resume`) or that there is none (without), writes `sweep.json`, and returns the
/// trials already finished.
pub fn prepare(
    dir: &Path,
    config: &SweepConfig,
    resume: bool,
) -> Result<Vec<TrialResult>, ModelError> {
    config.validate()?;
    if dir.exists() && !dir.is_dir() {
        return Err(ModelError::Data {
            path: dir.to_path_buf(),
            msg: "exists and is not a folder".into(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let old = read_config(dir)?;
    let results = read_results(dir)?;
    let started = old.is_some() || dir.join(RESULTS_JSON).exists();
    if started && !resume {
        return Err(ModelError::Data {
            path: dir.to_path_buf(),
            msg: "already holds a sweep; pass --resume to finish it, or choose another --out"
                .into(),
        });
    }
    if let Some(old) = &old {
        if let Some(why) = old.incompatibility(config) {
            return Err(ModelError::Data {
                path: dir.join(SWEEP_JSON),
                msg: format!("cannot resume a different sweep: {why}"),
            });
        }
        if old.shard != config.shard {
            return Err(ModelError::Data {
                path: dir.join(SWEEP_JSON),
                msg: format!(
                    "cannot resume: this folder holds shard {}, not {}",
                    old.shard.as_deref().unwrap_or("(all)"),
                    config.shard.as_deref().unwrap_or("(all)")
                ),
            });
        }
    }
    write_atomic(&dir.join(SWEEP_JSON), &to_json(config)?)?;
    // Rewrite both files from the JSON, in case an interruption fell between the two renames.
    if !results.is_empty() {
        write_results(dir, &results)?;
    }
    Ok(results)
}

/// The trials of `shard` (all without one) that `done` does not hold yet.
pub fn missing(config: &SweepConfig, shard: Option<Shard>, done: &[TrialResult]) -> Vec<TrialSpec> {
    config
        .trials()
        .into_iter()
        .filter(|t| shard.is_none_or(|s| s.contains(t)))
        .filter(|t| !done.iter().any(|r| t.same_as(r)))
        .collect()
}

/// Ends each epoch's energy window, opens the next, and reports to the observer.
struct Hooks<'a> {
    monitor: &'a Monitor,
    window: String,
    epoch_energy: Vec<Option<f64>>,
    epoch_notes: Vec<String>,
    observer: &'a mut dyn SweepObserver,
    /// Whether the trial's own window is open (from the first epoch on).
    started: bool,
}

impl Hooks<'_> {
    fn window_name(&self, epoch: usize) -> String {
        format!("{} epoch {epoch}", self.window)
    }
}

impl Callback for Hooks<'_> {
    fn on_batch_end(&mut self, epoch: usize, done: usize, total: usize, _: Option<(f64, f64)>) {
        self.observer.batch_end(epoch, done, total);
    }

    fn on_epoch_begin(&mut self, epoch: usize) {
        // The trial's window opens with its first epoch, so that its energy covers the same
        // span as its time (the sum of the epochs), not the copy of the rows to the device.
        if !self.started {
            self.started = true;
            if let Err(e) = self.monitor.begin_window(&self.window) {
                self.epoch_notes.push(e.to_string());
            }
        }
        if let Err(e) = self.monitor.begin_window(&self.window_name(epoch)) {
            self.epoch_notes.push(e.to_string());
        }
    }

    fn on_epoch_end(&mut self, r: &EpochRecord) -> Control {
        let energy = match self.monitor.end_window(&self.window_name(r.epoch)) {
            Ok(m) => m.total_energy_j(),
            Err(e) => {
                self.epoch_notes.push(e.to_string());
                None
            }
        };
        self.epoch_energy.push(energy);
        self.observer.epoch_end(r, energy);
        Control::Continue
    }
}

/// Whether the last `patience` epochs all had validation accuracy above `target`.
fn reached(history: &[EpochRecord], target: f64, patience: usize) -> bool {
    history.len() >= patience
        && history[history.len() - patience..]
            .iter()
            .all(|r| r.val_accuracy.is_some_and(|a| a > target))
}

/// What a sweep runs on: its settings, the dataset, the output folder, the energy monitor and
/// the compute device.
pub struct Sweep<'a> {
    pub config: &'a SweepConfig,
    pub data: &'a Dataset,
    pub dir: &'a Path,
    pub monitor: &'a Monitor,
    pub device: &'a Device,
}

impl Sweep<'_> {
    /// Runs the trials `todo` one after the other, appending each result (and writing its
    /// history) to the folder as soon as it is finished. `done` are the results already there.
    /// Returns all results of the folder.
    pub fn run(
        &self,
        done: Vec<TrialResult>,
        todo: &[TrialSpec],
        observer: &mut dyn SweepObserver,
    ) -> Result<Vec<TrialResult>, ModelError> {
        let mut results = done;
        for (i, t) in todo.iter().enumerate() {
            observer.trial_start(t, i + 1, todo.len(), self.config.max_epochs());
            let r = self.run_trial(t, observer)?;
            write_history(self.dir, &r, &t.name())?;
            results.retain(|x| x.key() != r.key());
            results.push(r.clone());
            results.sort_by_key(|r| r.trial);
            write_results(self.dir, &results)?;
            observer.trial_end(&r);
        }
        Ok(results)
    }

    /// Trains one fresh model for `t` and measures it. Divergence is a result, not an error.
    pub fn run_trial(
        &self,
        t: &TrialSpec,
        observer: &mut dyn SweepObserver,
    ) -> Result<TrialResult, ModelError> {
        let Sweep {
            config,
            data,
            monitor,
            device,
            ..
        } = *self;
        let opts = config.fit_options(t)?;
        let window = format!("trial {}", t.trial);
        let mut hooks = Hooks {
            monitor,
            window: window.clone(),
            epoch_energy: Vec::new(),
            epoch_notes: Vec::new(),
            observer,
            started: false,
        };
        let mut target = config
            .target_accuracy
            .map(|a| TargetAccuracy::new(a, config.patience));
        // Stale windows of an earlier failed attempt would make begin_window fail.
        monitor.cancel_window(&window);
        monitor.cancel_window(&hooks.window_name(1));
        let result = {
            let mut callbacks: Vec<&mut dyn Callback> = vec![&mut hooks];
            if let Some(tc) = target.as_mut() {
                callbacks.push(tc);
            }
            fit(data, &opts, &mut callbacks, device)
        };
        let open_epoch = hooks.window_name(hooks.epoch_energy.len() + 1);
        monitor.cancel_window(&open_epoch);
        let result = match result {
            Ok(r) => r,
            Err(e) => {
                monitor.cancel_window(&window);
                return Err(e);
            }
        };
        let m: Measurement = monitor
            .end_window(&window)
            .map_err(|e| invalid(e.to_string()))?;
        let eval = if result.diverged {
            None
        } else {
            Some(evaluate(&result.model, &data.test.x, &data.test.y)?)
        };
        let epochs = result.history.len();
        let history: Vec<TrialEpoch> = result
            .history
            .iter()
            .zip(hooks.epoch_energy.iter().chain(std::iter::repeat(&None)))
            .map(|(r, &energy_j)| TrialEpoch {
                epoch: r.epoch,
                loss: r.loss.is_finite().then_some(r.loss),
                accuracy: r.accuracy,
                val_loss: r.val_loss.filter(|v| v.is_finite()),
                val_accuracy: r.val_accuracy,
                time_s: r.time_s,
                energy_j,
            })
            .collect();
        let per_epoch = |v: f64| v / epochs.max(1) as f64;
        let energy_j = m.total_energy_j();
        let mut unavailable = m.unavailable.clone();
        unavailable.extend(hooks.epoch_notes.iter().cloned());
        Ok(TrialResult {
            trial: t.trial,
            batch_size: t.batch_size,
            learning_rate: t.learning_rate,
            epochs,
            test_accuracy: eval.as_ref().map(|e| e.accuracy),
            test_loss: eval.as_ref().map(|e| e.loss).filter(|v| v.is_finite()),
            train_time_s: result.train_time_s,
            time_per_epoch_s: per_epoch(result.train_time_s),
            energy_j,
            energy_per_epoch_j: energy_j.map(per_epoch),
            energy_source: m.source(),
            energy_approximate: m.approximate(),
            energy_unavailable: (!unavailable.is_empty()).then(|| unavailable.join("; ")),
            gpu_energy_j: m.domain_energy_j(Domain::Gpu),
            cpu_energy_j: m.domain_energy_j(Domain::CpuPackage),
            dram_energy_j: m.domain_energy_j(Domain::Dram),
            reached_target: config
                .target_accuracy
                .map(|a| !result.diverged && reached(&result.history, a, config.patience)),
            diverged: result.diverged,
            device: device_name(device),
            history,
        })
    }
}

/// What [`merge`] did.
#[derive(Debug, Clone)]
pub struct MergeReport {
    pub results: Vec<TrialResult>,
    /// Trials of the grid that no input folder holds.
    pub missing: Vec<TrialSpec>,
}

/// Combines the sweep folders `dirs` (shards of one sweep) into `out`: their settings must
/// agree, no trial may appear twice, and `out` must not hold another sweep. Each trial's
/// history folder is copied.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<MergeReport, ModelError> {
    if dirs.is_empty() {
        return Err(invalid("nothing to merge: give at least one sweep folder"));
    }
    let mut config: Option<SweepConfig> = None;
    let mut all: Vec<(TrialResult, PathBuf)> = Vec::new();
    for d in dirs {
        let c = read_config(d)?.ok_or_else(|| ModelError::Data {
            path: d.join(SWEEP_JSON),
            msg: "missing: not a sweep folder".into(),
        })?;
        if let Some(first) = &config {
            if let Some(why) = first.incompatibility(&c) {
                return Err(ModelError::Data {
                    path: d.join(SWEEP_JSON),
                    msg: format!(
                        "not the same sweep as {}: {why}",
                        dirs[0].join(SWEEP_JSON).display()
                    ),
                });
            }
        } else {
            config = Some(c);
        }
        for r in read_results(d)? {
            if let Some((_, other)) = all.iter().find(|(x, _)| x.key() == r.key()) {
                return Err(ModelError::Data {
                    path: d.join(RESULTS_JSON),
                    msg: format!(
                        "trial batch {} / lr {} is also in {}",
                        r.batch_size,
                        r.learning_rate,
                        other.join(RESULTS_JSON).display()
                    ),
                });
            }
            all.push((r, d.clone()));
        }
    }
    let mut config = config.expect("at least one folder");
    let out_is_input = dirs.iter().any(|d| same_dir(d, out));
    if !out_is_input && (out.join(SWEEP_JSON).exists() || out.join(RESULTS_JSON).exists()) {
        return Err(ModelError::Data {
            path: out.to_path_buf(),
            msg: "already holds a sweep; merge into an empty folder".into(),
        });
    }
    std::fs::create_dir_all(out).map_err(|e| io_err(out, e))?;
    all.sort_by_key(|(r, _)| r.trial);
    for (r, d) in &all {
        if same_dir(d, out) {
            continue;
        }
        let name = TrialSpec {
            trial: r.trial,
            batch_size: r.batch_size,
            learning_rate: r.learning_rate,
        }
        .name();
        write_history(out, r, &name)?;
    }
    let results: Vec<TrialResult> = all.into_iter().map(|(r, _)| r).collect();
    config.shard = None;
    write_atomic(&out.join(SWEEP_JSON), &to_json(&config)?)?;
    write_results(out, &results)?;
    let missing = missing(&config, None, &results);
    Ok(MergeReport { results, missing })
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::energy::{Channel, EnergySource};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    fn config(lrs: &[f64], bss: &[usize]) -> SweepConfig {
        SweepConfig {
            dataset: "/data".into(),
            learning_rates: lrs.to_vec(),
            batch_sizes: bss.to_vec(),
            epochs: Some(3),
            target_accuracy: None,
            patience: 1,
            max_epochs: 50,
            validation: "split:0.2".into(),
            hidden: vec![16],
            activation: "relu".into(),
            seed: 0,
            shuffle: false,
            shard: None,
            device: "cpu".into(),
        }
    }

    #[test]
    fn merge_and_resume_keep_every_float_bit() {
        // Both rewrite results.json from what they read; serde_json's default float parser can
        // be one ulp off (0.9639735921223959 came back as 0.963973592122396), so merged shards
        // differed from an unsharded run. Values seen in a real 4-shard sweep.
        let x = [
            0.9639735921223959,
            0.38141080220540363,
            0.39090744018554685,
            0.36154561360677084,
        ];
        let tmp = tempfile::tempdir().unwrap();
        let (dir, out) = (tmp.path().join("shard"), tmp.path().join("merged"));
        let c = config(&[0.01], &[32]);
        prepare(&dir, &c, false).unwrap();
        let r = TrialResult {
            trial: 1,
            batch_size: 32,
            learning_rate: 0.01,
            epochs: 1,
            test_accuracy: Some(x[0]),
            test_loss: Some(x[1]),
            train_time_s: x[2],
            time_per_epoch_s: x[2],
            energy_j: None,
            energy_per_epoch_j: None,
            energy_source: None,
            energy_approximate: false,
            energy_unavailable: None,
            gpu_energy_j: None,
            cpu_energy_j: None,
            dram_energy_j: None,
            reached_target: None,
            diverged: false,
            device: "cpu".into(),
            history: vec![TrialEpoch {
                epoch: 1,
                loss: Some(x[0]),
                accuracy: x[1],
                val_loss: Some(x[2]),
                val_accuracy: Some(x[3]),
                time_s: x[3],
                energy_j: None,
            }],
        };
        let one = std::slice::from_ref(&r);
        write_results(&dir, one).unwrap();
        assert_eq!(prepare(&dir, &c, true).unwrap(), one, "resume");
        let rep = merge(std::slice::from_ref(&dir), &out).unwrap();
        assert_eq!(rep.results, one);
        assert_eq!(read_results(&out).unwrap(), one);
        let text = std::fs::read_to_string(out.join(RESULTS_JSON)).unwrap();
        for v in x {
            assert!(text.contains(&v.to_string()), "{v} not in {text}");
        }
    }

    #[test]
    fn grid_shards_and_validation() {
        let c = config(&[0.1, 0.01], &[32, 64, 128]);
        let t = c.trials();
        assert_eq!(t.len(), 6);
        assert_eq!((t[0].batch_size, t[0].learning_rate), (32, 0.1));
        assert_eq!((t[1].batch_size, t[1].learning_rate), (32, 0.01));
        assert_eq!((t[5].batch_size, t[5].trial), (128, 6));
        assert_eq!(t[1].name(), "bs32_lr0.01");
        let s: Shard = "2/4".parse().unwrap();
        let mine: Vec<usize> = t
            .iter()
            .filter(|x| s.contains(x))
            .map(|x| x.trial)
            .collect();
        assert_eq!(mine, [2, 6]);
        // Every trial is in exactly one shard.
        for x in &t {
            let n = (1..=4)
                .filter(|i| {
                    Shard {
                        index: *i,
                        count: 4,
                    }
                    .contains(x)
                })
                .count();
            assert_eq!(n, 1);
        }
        for bad in ["3/2", "0/2", "1/0", "a/2", "2", "1/2/3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert!(c.validate().is_ok());
        for (f, msg) in [
            (
                Box::new(|c: &mut SweepConfig| c.learning_rates = vec![0.1, 0.1])
                    as Box<dyn Fn(&mut SweepConfig)>,
                "listed twice",
            ),
            (Box::new(|c| c.batch_sizes = vec![0]), "at least 1"),
            (Box::new(|c| c.learning_rates = vec![-1.0]), "> 0"),
            (Box::new(|c| c.target_accuracy = Some(0.9)), "not both"),
            (
                Box::new(|c| {
                    c.epochs = None;
                    c.target_accuracy = Some(0.9);
                    c.validation = "test".into();
                }),
                "must not be the test",
            ),
        ] {
            let mut c = config(&[0.1], &[32]);
            f(&mut c);
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(msg), "{e}");
        }
        let mut d = c.clone();
        d.device = "cuda:0".into();
        d.shard = Some("1/2".into());
        assert_eq!(c.incompatibility(&d), None);
        d.seed = 5;
        assert!(c.incompatibility(&d).unwrap().contains("seed"));
    }

    #[test]
    fn shuffled_rows_keep_their_labels_and_fix_a_class_ordered_split() {
        let mut d = Dataset::synthetic(40, 10, 3, 5, 0.5, 2);
        // Class order, as `dataset build` writes it.
        let mut rows: Vec<(u32, Vec<f32>)> = (0..40)
            .map(|i| (d.train.y[i], d.train.x[i * 3..i * 3 + 3].to_vec()))
            .collect();
        rows.sort_by_key(|r| r.0);
        d.train.y = rows.iter().map(|r| r.0).collect();
        d.train.x = rows.iter().flat_map(|r| r.1.clone()).collect();
        let c = config(&[0.1], &[8]);
        let e = check_split(&c, &d).unwrap_err().to_string();
        assert!(
            e.contains("class 4 (class4)") && e.contains("--shuffle"),
            "{e}"
        );
        let before = rows.clone();
        shuffle_rows(&mut d, 0);
        assert_ne!(d.train.y, before.iter().map(|r| r.0).collect::<Vec<_>>());
        let mut after: Vec<(u32, Vec<f32>)> = (0..40)
            .map(|i| (d.train.y[i], d.train.x[i * 3..i * 3 + 3].to_vec()))
            .collect();
        after.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let mut sorted = before;
        sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(after, sorted);
        check_split(&c, &d).unwrap();
    }

    #[test]
    fn reached_needs_patience_epochs_above_target() {
        let rec = |a: f64| EpochRecord {
            epoch: 1,
            loss: 1.0,
            accuracy: 0.0,
            val_loss: Some(1.0),
            val_accuracy: Some(a),
            time_s: 0.0,
        };
        let h = [rec(0.5), rec(0.95), rec(0.96)];
        assert!(reached(&h, 0.9, 2));
        assert!(!reached(&h, 0.9, 3));
        assert!(!reached(&h[..1], 0.9, 2));
    }

    /// A counter that gains 1 J (in microjoules) each time it is read.
    struct Ticking(Vec<Channel>, Arc<AtomicU64>);
    impl EnergySource for Ticking {
        fn name(&self) -> &str {
            "fake"
        }
        fn channels(&self) -> &[Channel] {
            &self.0
        }
        fn read(&mut self) -> Result<Vec<u64>, String> {
            Ok(vec![self.1.fetch_add(1_000_000, Ordering::SeqCst)])
        }
    }

    #[test]
    fn sweep_with_fake_energy_writes_results_and_resumes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("sweep");
        let data = Dataset::synthetic(300, 100, 6, 3, 0.5, 4);
        let ticks = Arc::new(AtomicU64::new(0));
        let monitor = Monitor::new(
            vec![Box::new(Ticking(
                vec![Channel {
                    name: "package-0".into(),
                    domain: Domain::CpuPackage,
                    joules_per_unit: 1e-6,
                    wrap: None,
                }],
                ticks,
            ))],
            vec!["GPU: unavailable because none".into()],
        );
        let c = config(&[0.01, 1e30], &[32]);
        let done = prepare(&dir, &c, false).unwrap();
        let todo = missing(&c, None, &done);
        assert_eq!(todo.len(), 2);
        // Only the first trial now, as if interrupted.
        let first = Sweep {
            config: &c,
            data: &data,
            dir: &dir,
            monitor: &monitor,
            device: &Device::Cpu,
        }
        .run(done, &todo[..1], &mut Silent)
        .unwrap();
        assert_eq!(first.len(), 1);
        assert!(
            prepare(&dir, &c, false).is_err(),
            "a started sweep needs --resume"
        );
        let mut other = c.clone();
        other.seed = 9;
        assert!(prepare(&dir, &other, true)
            .unwrap_err()
            .to_string()
            .contains("seed"));
        let done = prepare(&dir, &c, true).unwrap();
        let todo = missing(&c, None, &done);
        assert_eq!(todo.len(), 1);
        assert_eq!(todo[0].learning_rate, 1e30);
        let all = Sweep {
            config: &c,
            data: &data,
            dir: &dir,
            monitor: &monitor,
            device: &Device::Cpu,
        }
        .run(done, &todo, &mut Silent)
        .unwrap();
        assert_eq!(all.len(), 2);

        let ok = &all[0];
        assert_eq!(ok.epochs, 3);
        assert!(!ok.diverged);
        assert!(ok.test_accuracy.unwrap() > 0.5);
        assert_eq!(ok.reached_target, None);
        assert_eq!(ok.energy_source.as_deref(), Some("fake"));
        // Every epoch window spans whole reads of a counter that ticks 1 J per read.
        assert!(ok.history.iter().all(|e| e.energy_j.unwrap() >= 1.0));
        assert!(
            ok.energy_j.unwrap() >= ok.history.iter().map(|e| e.energy_j.unwrap()).sum::<f64>()
        );
        assert_eq!(ok.cpu_energy_j, ok.energy_j);
        assert_eq!(ok.gpu_energy_j, None);
        assert!(ok.energy_unavailable.as_deref().unwrap().contains("GPU"));
        let bad = &all[1];
        assert!(bad.diverged, "{bad:?}");
        assert_eq!(bad.test_accuracy, None);
        assert!(bad.history.last().unwrap().loss.is_none());

        let csv = std::fs::read_to_string(dir.join(RESULTS_CSV)).unwrap();
        assert_eq!(csv.lines().count(), 3);
        assert!(csv.starts_with(CSV_HEADER));
        assert_eq!(read_results(&dir).unwrap(), all);
        let h = std::fs::read_to_string(dir.join("trials/bs32_lr0.01/history.csv")).unwrap();
        assert_eq!(h.lines().count(), 4);

        // Merge two shards run separately equals the whole.
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        let mut shards = Vec::new();
        for (d, s) in [(&a, "1/2"), (&b, "2/2")] {
            let mut cs = c.clone();
            cs.shard = Some(s.into());
            let done = prepare(d, &cs, false).unwrap();
            let todo = missing(&cs, Some(s.parse().unwrap()), &done);
            assert_eq!(todo.len(), 1);
            let sw = Sweep {
                config: &cs,
                data: &data,
                dir: d,
                monitor: &monitor,
                device: &Device::Cpu,
            };
            shards.push(sw.run(done, &todo, &mut Silent).unwrap());
        }
        let merged = tmp.path().join("merged");
        let rep = merge(&[b.clone(), a.clone()], &merged).unwrap();
        assert!(rep.missing.is_empty());
        let strip = |v: &[TrialResult]| -> Vec<(usize, usize, usize, Option<f64>, bool)> {
            v.iter()
                .map(|r| (r.trial, r.batch_size, r.epochs, r.test_accuracy, r.diverged))
                .collect()
        };
        assert_eq!(strip(&rep.results), strip(&all));
        assert!(merged.join("trials/bs32_lr0.01/history.json").is_file());
        assert!(read_config(&merged).unwrap().unwrap().shard.is_none());
        // A trial in two inputs is refused; so is a folder holding another sweep.
        assert!(merge(&[a.clone(), a.clone()], &tmp.path().join("m2"))
            .unwrap_err()
            .to_string()
            .contains("also in"));
        assert!(merge(std::slice::from_ref(&a), &dir)
            .unwrap_err()
            .to_string()
            .contains("already holds"));
    }
}
