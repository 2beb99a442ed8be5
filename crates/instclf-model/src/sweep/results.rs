//! The sweep folder: its settings (`sweep.json`), the finished trials ([`TrialResult`] in
//! `results.json` and `results.csv`, rewritten atomically after every trial), each trial's
//! history under `trials/<name>/`, preparing a folder for a run or a resume ([`prepare`],
//! [`missing`]) and merging shard folders ([`merge`]).

use super::config::{invalid, Shard, SweepConfig, TrialSpec};
use crate::error::ModelError;
use crate::npy::write_atomic;
use instclf_fs::csv_field;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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
    pub(super) fn key(&self) -> (usize, u64) {
        (self.batch_size, self.learning_rate.to_bits())
    }
}

impl TrialSpec {
    fn same_as(&self, r: &TrialResult) -> bool {
        self.batch_size == r.batch_size && self.learning_rate == r.learning_rate
    }
}

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
            csv_field(r.energy_source.as_deref().unwrap_or("")).into_owned(),
            r.energy_approximate.to_string(),
            opt(r.gpu_energy_j),
            opt(r.cpu_energy_j),
            opt(r.dram_energy_j),
            r.reached_target.map(|b| b.to_string()).unwrap_or_default(),
            r.diverged.to_string(),
            csv_field(&r.device).into_owned(),
            csv_field(r.energy_unavailable.as_deref().unwrap_or("")).into_owned(),
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

pub(super) fn write_history(dir: &Path, r: &TrialResult, name: &str) -> Result<(), ModelError> {
    let d = dir.join(TRIALS_DIR).join(name);
    std::fs::create_dir_all(&d).map_err(|e| io_err(&d, e))?;
    write_atomic(&d.join("history.json"), &to_json(&r.history)?)?;
    write_atomic(&d.join("history.csv"), history_csv(&r.history).as_bytes())
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
            msg: "already holds a sweep; pass --resume to finish it, --force to replace it, or choose another -o/--output"
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

/// What [`merge`] did.
#[derive(Debug, Clone)]
pub struct MergeReport {
    pub results: Vec<TrialResult>,
    /// Trials of the grid that no input folder holds.
    pub missing: Vec<TrialSpec>,
}

/// Combines the sweep folders `dirs` (shards of one sweep) into `out`: their settings must
/// agree, no trial may appear twice, and `out` must not hold another sweep unless `replace`
/// (then a folder `out` that is not one of the inputs is deleted once the inputs have been
/// read and checked). Each trial's history folder is copied.
pub fn merge(dirs: &[PathBuf], out: &Path, replace: bool) -> Result<MergeReport, ModelError> {
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
    if replace && !out_is_input && out.is_dir() {
        std::fs::remove_dir_all(out).map_err(|e| io_err(out, e))?;
    }
    if !out_is_input && (out.join(SWEEP_JSON).exists() || out.join(RESULTS_JSON).exists()) {
        return Err(ModelError::Data {
            path: out.to_path_buf(),
            msg: "already holds a sweep; merge into an empty folder, or pass --force to replace it"
                .into(),
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
