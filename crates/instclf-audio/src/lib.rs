//! instclf-audio: the audio front end of instclf. It owns everything from bytes on disk to
//! feature matrices: decoding ([`decode`]), resampling ([`resample`]), the STFT ([`stft`]), mel
//! spectrograms and dB scaling ([`mel`]), MFCCs ([`mfcc`]) and deltas ([`delta`]), the feature
//! recipe that names all parameters ([`recipe`]), pitch ([`pitch`]), the harmonic series
//! ([`partials`]), note-level pooling ([`pool`]), onset detection ([`onset`]) and note
//! segmentation ([`segment`]); a decoding stream's samples handed to a second thread ([`pipe`]);
//! mel spectrograms straight from a decoding stream ([`stream_mel`]); 16-bit WAV output
//! ([`wav16`]); whole-recording buffers come from [`hugepage`]. It depends on no
//! machine-learning crate.

pub mod augment;
pub mod decode;
pub mod delta;
pub mod error;
pub mod hugepage;
pub mod matrix;
pub mod mel;
pub mod mfcc;
pub mod onset;
pub mod partials;
pub mod pipe;
pub mod pitch;
pub mod pool;
pub mod recipe;
pub mod resample;
pub mod segment;
pub mod stft;
pub mod stream_mel;
pub mod wav16;

pub use matrix::Matrix;
