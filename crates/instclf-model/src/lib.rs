//! instclf-model: the model side of instclf. It owns `.npy` input/output ([`npy`]), dataset folders
//! ([`dataset`]), compute devices ([`device`]), the dense network ([`net`], with a GRU front in
//! [`gru`]), training ([`train`], observed through [`callback`]), evaluation metrics ([`metrics`]),
//! model folders ([`model`]), sequence models on clips ([`sequence`]) and hyper-parameter sweeps
//! ([`sweep`], with energy from the `instclf-energy` crate). A model folder's kind ([`kind`]) is
//! read from its `model.json` in one place, and [`any`] loads a folder of either kind. No audio
//! decoding here: feature recipes are carried as opaque JSON.

pub mod any;
mod average;
pub mod callback;
pub mod dataset;
pub mod device;
mod epochs;
pub mod error;
pub mod gru;
mod kernels;
pub mod kind;
pub mod metrics;
pub mod model;
pub mod net;
pub mod npy;
pub(crate) mod optim;
pub mod sequence;
pub mod sweep;
pub mod train;

pub use any::AnyModel;
pub use callback::{Callback, Control, EpochRecord, TargetAccuracy};
pub use candle_core::Device;
pub use dataset::{Dataset, Split};
pub use device::{device_from_arg, device_name};
pub use error::ModelError;
pub use gru::Gru;
pub use kind::ModelKind;
pub use metrics::{evaluate, ClassMetrics, Evaluation};
pub use model::{Model, Standardiser, TrainingInfo};
pub use net::{Activation, Architecture, Conv, Mlp};
pub use train::{fit, fit_resume, FitOptions, FitResult, Validation};
