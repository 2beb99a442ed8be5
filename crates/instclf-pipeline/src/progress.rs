//! How long-running work (dataset building, evaluation) reports its progress without this crate
//! drawing anything: the caller passes a [`Progress`] (the binary wraps its progress bar).

/// Receives progress: the number of steps, one call per finished step, and the end.
pub trait Progress: Sync {
    /// The total number of steps is (now) `len`.
    fn set_length(&self, _len: u64) {}
    /// `n` more steps are done.
    fn inc(&self, _n: u64) {}
    /// The work is over (drawn bars can be cleared).
    fn finish(&self) {}
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl Progress for NoProgress {}
