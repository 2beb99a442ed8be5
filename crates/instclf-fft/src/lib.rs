//! FFT plans for instclf: the only place rustfft's and realfft's generic planners are
//! instantiated (complex f32, real f32 and real f64). Everything else holds the plans as trait
//! objects, so the planners' code (about 8,000 functions) is compiled once, in this crate,
//! which the workspace's dev profile builds optimised; instantiated in `instclf-audio` it was
//! compiled again, unoptimised, in each of that crate's builds (library, unit tests, benches).
//! It has no tests of its own for the same reason: `instclf-audio`'s tests (librosa parity of
//! the STFT, mel spectrograms, MFCCs and the resampler) exercise every plan made here.

use std::sync::Arc;

pub use realfft::{ComplexToReal, RealToComplex};
pub use rustfft::num_complex::Complex;
pub use rustfft::Fft;

/// The forward complex FFT of `len` points (unnormalised, as rustfft computes it).
pub fn forward(len: usize) -> Arc<dyn Fft<f32>> {
    rustfft::FftPlanner::new().plan_fft_forward(len)
}

/// The inverse complex FFT of `len` points (unnormalised).
pub fn inverse(len: usize) -> Arc<dyn Fft<f32>> {
    rustfft::FftPlanner::new().plan_fft_inverse(len)
}

/// The forward real-to-complex FFT of `len` points (`len / 2 + 1` bins).
pub fn real_forward(len: usize) -> Arc<dyn RealToComplex<f32>> {
    realfft::RealFftPlanner::new().plan_fft_forward(len)
}

/// The inverse complex-to-real FFT of `len` points (unnormalised).
pub fn real_inverse(len: usize) -> Arc<dyn ComplexToReal<f32>> {
    realfft::RealFftPlanner::new().plan_fft_inverse(len)
}

/// The forward real-to-complex FFT of `len` points, in double precision.
pub fn real_forward_f64(len: usize) -> Arc<dyn RealToComplex<f64>> {
    realfft::RealFftPlanner::new().plan_fft_forward(len)
}
