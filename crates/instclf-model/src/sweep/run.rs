//! Running a sweep: one fresh model per trial trained by [`fit`], each epoch and the whole trial
//! measured in an energy window of the [`Monitor`], the result written to the folder as soon as
//! the trial ends; progress goes to a [`SweepObserver`].

use super::config::{invalid, SweepConfig, TrialSpec};
use super::results::{write_history, write_results, TrialEpoch, TrialResult};
use crate::callback::{Callback, Control, EpochRecord, TargetAccuracy};
use crate::dataset::Dataset;
use crate::device::device_name;
use crate::error::ModelError;
use crate::metrics::evaluate;
use crate::train::fit;
use candle_core::Device;
use instclf_energy::{Domain, Measurement, Monitor};
use std::path::Path;

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
pub(super) fn reached(history: &[EpochRecord], target: f64, patience: usize) -> bool {
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
