//! What the training loops tell their observers: one epoch's record ([`EpochRecord`], also the
//! history stored in model folders), the [`Callback`] hooks with their [`Control`] answer, and
//! the stock [`TargetAccuracy`] callback. Shared by [`fit`](crate::train::fit),
//! [`fit_sequence`](crate::sequence::fit_sequence) and the sweeps; depends on nothing else of
//! the crate.

use serde::{Deserialize, Serialize};

/// Accepts `null` (how JSON writes NaN) as NaN.
fn nan_if_null<'de, De: serde::Deserializer<'de>>(d: De) -> Result<f64, De::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// The metrics of one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    #[serde(deserialize_with = "nan_if_null")]
    pub loss: f64,
    pub accuracy: f64,
    pub val_loss: Option<f64>,
    pub val_accuracy: Option<f64>,
    /// Wall time of the epoch (training and validation), seconds.
    pub time_s: f64,
}

/// What a callback wants after an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Continue,
    Stop,
}

/// Hooks called during training ([`fit`](crate::train::fit) and
/// [`fit_sequence`](crate::sequence::fit_sequence)).
pub trait Callback {
    /// Called after each epoch with its record; `Control::Stop` ends training.
    fn on_epoch_end(&mut self, record: &EpochRecord) -> Control;

    /// Called as each epoch (1-based) starts, after the model and data are on the device: what
    /// lies between the first call and the last `on_epoch_end` is the time `fit` reports.
    fn on_epoch_begin(&mut self, _epoch: usize) {}

    /// When `Some(n)`, `fit` reads the running loss/accuracy from the device every `n` batches
    /// (a device sync) and passes them to [`Callback::on_batch_end`]. Default: never.
    fn running_metrics_every(&self) -> Option<usize> {
        None
    }

    /// Called after every batch: 1-based epoch, batches done, batches per epoch and, when
    /// requested through [`Callback::running_metrics_every`], the running (loss, accuracy).
    fn on_batch_end(
        &mut self,
        _epoch: usize,
        _done: usize,
        _total: usize,
        _running: Option<(f64, f64)>,
    ) {
    }
}

/// Gives every callback the epoch's record; true when any of them asks to stop.
pub(crate) fn epoch_end(callbacks: &mut [&mut dyn Callback], record: &EpochRecord) -> bool {
    let mut stop = false;
    for c in callbacks.iter_mut() {
        if c.on_epoch_end(record) == Control::Stop {
            stop = true;
        }
    }
    stop
}

/// Stops once validation accuracy has been above `target` for `patience` epochs in a row.
#[derive(Debug, Clone)]
pub struct TargetAccuracy {
    pub target: f64,
    pub patience: usize,
    streak: usize,
}

impl TargetAccuracy {
    pub fn new(target: f64, patience: usize) -> TargetAccuracy {
        TargetAccuracy {
            target,
            patience: patience.max(1),
            streak: 0,
        }
    }
}

impl Callback for TargetAccuracy {
    fn on_epoch_end(&mut self, r: &EpochRecord) -> Control {
        match r.val_accuracy {
            Some(a) if a > self.target => self.streak += 1,
            _ => self.streak = 0,
        }
        if self.streak >= self.patience {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}
