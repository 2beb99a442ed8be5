//! Hyper-parameter sweeps over learning rate and batch size, with time and energy to accuracy:
//! the trial grid ([`SweepConfig::trials`]), shards of it ([`Shard`]), one fresh model per trial
//! trained by [`fit`](crate::train::fit) with per-epoch time and energy from an [`energy::Monitor`], results
//! appended atomically to `DIR/results.json` and `DIR/results.csv` after every trial (so an
//! interrupted sweep keeps its finished trials and can be resumed), each trial's history in
//! `DIR/trials/<name>/`, and the merge of shard folders ([`merge`]).
//!
//! Test accuracy is always measured on the dataset's test split after training; stopping at a
//! target accuracy only looks at the validation rows (a split of the training rows).
//!
//! [`energy::Monitor`]: instclf_energy::Monitor
//!
//! One module per job: [`config`] the settings, the trial grid, shards and the checks on the
//! dataset before a run; [`results`] the sweep folder (settings, results, histories, preparing a
//! folder for a run, merging shard folders); [`run`] training and measuring the trials.

pub mod config;
pub mod results;
pub mod run;

pub use config::{check_split, shuffle_rows, split_warning, Shard, SweepConfig, TrialSpec};
pub use results::{
    history_csv, merge, missing, prepare, read_config, read_results, results_csv, write_results,
    MergeReport, TrialEpoch, TrialResult, CSV_HEADER, RESULTS_CSV, RESULTS_JSON, SWEEP_JSON,
    TRIALS_DIR,
};
pub use run::{Silent, Sweep, SweepObserver};

#[cfg(test)]
mod tests;
