//! instclf-pipeline: the one crate that joins instclf's audio side (instclf-audio: decoding,
//! features, segmentation) and model side (instclf-model: networks, datasets, metrics). It owns
//! finding labelled recordings ([`inputs`]), turning one recording into notes and feature rows
//! ([`analysis`]), fixed-length clips for sequence models ([`clips`]), building datasets
//! ([`build`]), classifying recordings with a model or an ensemble ([`classify`]), the segments
//! of a recording where the instrument changes ([`segments`]) and scoring
//! a classifier on labelled recordings ([`evaluate`]), recipe files ([`recipe_file`]) and making
//! a model from one in a single step ([`bundle`]), and a trained model's predictions on new data
//! ([`predict`]). It prints nothing and parses no command
//! line: the `instclf` binary does that.

#[macro_use]
pub mod error;
pub mod analysis;
pub mod build;
pub mod bundle;
pub mod classify;
pub mod clips;
pub mod evaluate;
pub mod inputs;
pub mod predict;
pub mod progress;
pub mod recipe_file;
pub mod segments;

pub use analysis::{analyse, analyse_samples, Analysis};
pub use classify::{Classifier, FileResult, NoteResult, Ranked, UNKNOWN};
pub use clips::{ClipInput, ClipSpec};
pub use error::PipelineError;
pub use inputs::{audio_files, expand_inputs, label_of, LabelFrom, AUDIO_EXTENSIONS};
pub use progress::{NoProgress, Progress};
pub use recipe_file::{Member, RecipeFile};
pub use segments::Segment;
