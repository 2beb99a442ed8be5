//! The error type of instclf-model: every variant names the file or option and the problem.

use std::path::PathBuf;

/// Errors from reading datasets and models, training and evaluation.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A `.npy` file is malformed or holds an unsupported dtype/shape.
    #[error("{}: {msg}", path.display())]
    Npy { path: PathBuf, msg: String },
    /// A dataset file is readable but its content is unusable (row counts, labels, values).
    #[error("{}: {msg}", path.display())]
    Data { path: PathBuf, msg: String },
    /// A JSON file (classes.json, model.json, ...) is invalid.
    #[error("{}: invalid JSON: {msg}", path.display())]
    Json { path: PathBuf, msg: String },
    /// A model folder or model bytes are inconsistent (missing weights, wrong shapes).
    #[error("{}: {msg}", path.display())]
    Model { path: PathBuf, msg: String },
    /// An option or argument is out of range.
    #[error("{0}")]
    Invalid(String),
    /// The requested device is not available.
    #[error("{0}")]
    Device(String),
    /// An error from the candle tensor library.
    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),
}
