//! instclf-model: the model side of instclf. It owns `.npy` input/output ([`npy`]), dataset
//! folders ([`dataset`]), compute devices ([`device`]), the dense network ([`net`]), training
//! ([`train`]), evaluation metrics ([`metrics`]) and model folders ([`model`]). No audio
//! decoding here: feature recipes are carried as opaque JSON.

pub mod dataset;
pub mod device;
pub mod error;
pub mod npy;

pub use candle_core::Device;
pub use dataset::{Dataset, Split};
pub use device::device_from_arg;
pub use error::ModelError;
