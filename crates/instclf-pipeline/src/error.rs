//! The error type of instclf-pipeline: every variant names the file, model or option at fault
//! and the problem, in one line. Errors from the audio and model crates pass through unchanged.

use std::path::{Path, PathBuf};

/// Errors from finding, analysing, classifying and evaluating recordings and building datasets.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A file or folder could not be read or written. The I/O error is part of the message, not
    /// a `source`, so `{:#}` chains do not repeat it.
    #[error("{}: {what}: {error}", path.display())]
    Io {
        path: PathBuf,
        what: String,
        error: std::io::Error,
    },
    /// An input path or recording is unusable as given (no audio in a folder, a label that is
    /// not one of the model's classes, ...).
    #[error("{}: {msg}", path.display())]
    Input { path: PathBuf, msg: String },
    /// A recording is shorter than one clip.
    #[error(
        "{}: the recording is {seconds:.3} s long, shorter than one {clip_s} s clip",
        path.display()
    )]
    ClipTooShort {
        path: PathBuf,
        seconds: f64,
        clip_s: f64,
    },
    /// A model cannot be used here (no feature recipe, an ensemble whose members disagree);
    /// `origin` names the model (its folder, or "bundled model N").
    #[error("{origin}: {msg}")]
    Model { origin: String, msg: String },
    /// An option is out of range, or the inputs as a whole give nothing to work on.
    #[error("{0}")]
    Invalid(String),
    /// Decoding or resampling failed (the message names the file).
    #[error(transparent)]
    Audio(#[from] instclf_audio::decode::AudioError),
    /// Reading or running a model, or writing a dataset, failed.
    #[error(transparent)]
    Trained(#[from] instclf_model::ModelError),
    /// A value could not be turned into JSON.
    #[error("cannot write JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl PipelineError {
    /// [`PipelineError::Io`] for `path`.
    pub fn io(path: &Path, what: &str, error: std::io::Error) -> PipelineError {
        PipelineError::Io {
            path: path.to_path_buf(),
            what: what.to_string(),
            error,
        }
    }
}

/// `return Err(PipelineError::Invalid(format!(...)))`: an option or the inputs as a whole are
/// unusable.
macro_rules! bail_invalid {
    ($($arg:tt)*) => {
        return Err($crate::error::PipelineError::Invalid(format!($($arg)*)))
    };
}
