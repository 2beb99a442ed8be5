//! The one epoch loop of every network kind (frame MLPs in [`crate::train`], sequence networks in
//! [`crate::sequence`]): for each epoch, the callbacks' begin, the kind's batches, validation,
//! the epoch's record, divergence, the callbacks' end, the checkpoint and the early stop. A kind
//! supplies its batches, validation, bookkeeping and checkpoint through [`EpochTrainer`].

use crate::callback::{epoch_end, Callback, EpochRecord};
use crate::error::ModelError;
use std::ops::RangeInclusive;
use std::time::Instant;

/// What one kind of network does inside the loop of [`run_epochs`].
pub(crate) trait EpochTrainer {
    /// Trains one epoch's batches (calling the callbacks' `on_batch_end`); returns the epoch's
    /// mean training loss and accuracy.
    fn train_epoch(
        &mut self,
        epoch: usize,
        callbacks: &mut [&mut dyn Callback],
    ) -> Result<(f64, f64), ModelError>;

    /// Loss and accuracy on the validation rows, where there are any.
    fn validate(&mut self) -> Result<Option<(f64, f64)>, ModelError>;

    /// Keeps the epoch's record (history, training info); `total_s` is the training time so
    /// far. Called for every epoch, a diverged one too, before its checkpoint.
    fn record(&mut self, record: &EpochRecord, total_s: f64, diverged: bool);

    /// Writes the checkpoint after a finite epoch.
    fn checkpoint(&mut self) -> Result<(), ModelError>;
}

/// How [`run_epochs`] ended.
pub(crate) struct EpochsRun {
    /// The loss (or the validation loss) of the last epoch is not finite.
    pub diverged: bool,
    /// A callback stopped training before `last`.
    pub stopped_early: bool,
    /// Training time in all, seconds (with the time given to [`run_epochs`]).
    pub total_s: f64,
}

/// Trains `epochs` (1-based; `last` is the planned final epoch), starting from `total_s`
/// seconds of earlier training (a resumed run).
pub(crate) fn run_epochs(
    trainer: &mut dyn EpochTrainer,
    epochs: RangeInclusive<usize>,
    mut total_s: f64,
    callbacks: &mut [&mut dyn Callback],
) -> Result<EpochsRun, ModelError> {
    let last = *epochs.end();
    let (mut diverged, mut stopped_early) = (false, false);
    for epoch in epochs {
        callbacks.iter_mut().for_each(|c| c.on_epoch_begin(epoch));
        let t0 = Instant::now();
        let (loss, accuracy) = trainer.train_epoch(epoch, callbacks)?;
        let (val_loss, val_accuracy) = match loss.is_finite() {
            true => trainer
                .validate()?
                .map_or((None, None), |(l, a)| (Some(l), Some(a))),
            false => (None, None),
        };
        let time_s = t0.elapsed().as_secs_f64();
        total_s += time_s;
        let record = EpochRecord {
            epoch,
            loss,
            accuracy,
            val_loss,
            val_accuracy,
            time_s,
        };
        diverged = !loss.is_finite() || val_loss.is_some_and(|v| !v.is_finite());
        let stop = epoch_end(callbacks, &record);
        trainer.record(&record, total_s, diverged);
        if diverged {
            break;
        }
        trainer.checkpoint()?;
        if stop {
            stopped_early = epoch < last;
            break;
        }
    }
    Ok(EpochsRun {
        diverged,
        stopped_early,
        total_s,
    })
}
