//! The error type of instclf-audio: everything that can go wrong between a path and a feature
//! matrix (decoding, resampling, analysis), and the limits it names. Every variant names the file
//! or the parameter.

use std::path::PathBuf;

/// Highest sample rate accepted, in Hz.
pub const MAX_SAMPLE_RATE: u32 = 1_000_000;
/// Most interleaved samples one file may decode to (about 6 hours of 48 kHz stereo); protects
/// against files that declare or expand to absurd sizes.
pub const MAX_SAMPLES: usize = 1 << 31;

/// Everything that can go wrong between a path and a feature matrix.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    // The I/O error is part of the message, not a `source`, so `{:#}` chains do not repeat it.
    #[error("{}: cannot read file: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: is a directory, not an audio file", path.display())]
    IsDirectory { path: PathBuf },
    #[error("{}: file is empty", path.display())]
    Empty { path: PathBuf },
    #[error("{}: not a recognised audio file ({detail})", path.display())]
    NotAudio { path: PathBuf, detail: String },
    #[error("{}: unsupported codec or format feature ({detail})", path.display())]
    Unsupported { path: PathBuf, detail: String },
    #[error("{}: truncated or corrupt audio ({detail})", path.display())]
    Truncated { path: PathBuf, detail: String },
    #[error("{}: audio stream has no channels", path.display())]
    ZeroChannels { path: PathBuf },
    #[error("{}: invalid sample rate {rate} Hz (must be 1..={MAX_SAMPLE_RATE})", path.display())]
    BadSampleRate { path: PathBuf, rate: u32 },
    #[error("{}: audio contains NaN or infinite samples", path.display())]
    NonFinite { path: PathBuf },
    #[error("{}: contains no audio samples", path.display())]
    NoSamples { path: PathBuf },
    #[error("{}: audio is too long (more than {MAX_SAMPLES} samples)", path.display())]
    TooLong { path: PathBuf },
    #[error("{}: decoder crashed: {detail}", path.display())]
    DecoderPanic { path: PathBuf, detail: String },
    #[error("cannot resample from {from} Hz to {to} Hz: {detail}")]
    Resample { from: u32, to: u32, detail: String },
}

/// An [`AudioError`] met while writing (as in [`crate::decode::Stream::write_wav16`]): an
/// `io::Error` whose inner error is the `AudioError`, so a caller can tell the input's fault
/// from the output's.
impl From<AudioError> for std::io::Error {
    fn from(e: AudioError) -> Self {
        std::io::Error::other(e)
    }
}
