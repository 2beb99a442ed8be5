//! instclf-audio's integration tests, one test binary with a module per concern: decoding
//! errors, features against librosa, onsets, and segmentation quality (ignored by default).
//! Run one module with `cargo test -p instclf-audio --test it librosa_reference::`.

mod decode_errors;
mod librosa_reference;
mod segment_onset;
mod segment_quality;
