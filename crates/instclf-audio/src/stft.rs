//! The short-time Fourier transform as librosa 0.11 computes it for spectrograms: a periodic
//! Hann window, `center=True` with zero (`'constant'`) padding of `n_fft / 2` samples on each
//! side, and the power `|X|^2` of each one-sided spectrum. The FFT plan, window and buffers are
//! made once per [`Stft`] and reused for every frame.

use crate::Matrix;
use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};
use std::sync::Arc;

/// The periodic ("fftbins=True") Hann window of length `n`, as `scipy.signal.get_window('hann', n)`.
pub fn hann_periodic(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let x = 2.0 * std::f64::consts::PI * i as f64 / n as f64;
            (0.5 - 0.5 * x.cos()) as f32
        })
        .collect()
}

/// Number of frames librosa's centred STFT produces for `len` samples.
pub fn n_frames(len: usize, n_fft: usize, hop: usize) -> usize {
    if hop == 0 || n_fft == 0 {
        return 0;
    }
    let padded = len + 2 * (n_fft / 2);
    if padded < n_fft {
        return 0;
    }
    1 + (padded - n_fft) / hop
}

/// A reusable power-spectrum engine for one `(n_fft, hop)` pair.
pub struct Stft {
    n_fft: usize,
    hop: usize,
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
    input: Vec<f32>,
    output: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    power: Vec<f32>,
}

impl Stft {
    /// Plans an STFT. `n_fft` and `hop` must be at least 1 (callers validate user input first);
    /// zero values are clamped to 1 so this never panics.
    pub fn new(n_fft: usize, hop: usize) -> Self {
        let n_fft = n_fft.max(1);
        let mut planner = RealFftPlanner::<f32>::new();
        let fft = planner.plan_fft_forward(n_fft);
        let input = fft.make_input_vec();
        let output = fft.make_output_vec();
        let scratch = fft.make_scratch_vec();
        Stft {
            n_fft,
            hop: hop.max(1),
            window: hann_periodic(n_fft),
            fft,
            input,
            output,
            scratch,
            power: vec![0.0; n_fft / 2 + 1],
        }
    }

    /// Number of frequency bins, `1 + n_fft / 2`.
    pub fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Number of frames for a signal of `len` samples.
    pub fn n_frames(&self, len: usize) -> usize {
        n_frames(len, self.n_fft, self.hop)
    }

    /// Calls `f(frame_index, power_spectrum)` for every frame of `y`, in order. The slice has
    /// [`Stft::n_bins`] values and is only valid during the call.
    pub fn for_each_power_frame(&mut self, y: &[f32], mut f: impl FnMut(usize, &[f32])) {
        let n = y.len() as isize;
        let pad = (self.n_fft / 2) as isize;
        let frames = self.n_frames(y.len());
        for t in 0..frames {
            let start = (t * self.hop) as isize - pad;
            // Window positions i with 0 <= start + i < n carry signal; the rest is padding.
            let lo = (-start).clamp(0, self.n_fft as isize) as usize;
            let hi = (n - start).clamp(0, self.n_fft as isize) as usize;
            self.input[..lo].fill(0.0);
            if hi > lo {
                let s = (start + lo as isize) as usize;
                let src = &y[s..s + (hi - lo)];
                for ((dst, &x), &w) in self.input[lo..hi]
                    .iter_mut()
                    .zip(src)
                    .zip(&self.window[lo..hi])
                {
                    *dst = x * w;
                }
            }
            if hi.max(lo) < self.n_fft {
                self.input[hi.max(lo)..].fill(0.0);
            }
            // Lengths come from the plan itself, so this cannot fail.
            if self
                .fft
                .process_with_scratch(&mut self.input, &mut self.output, &mut self.scratch)
                .is_err()
            {
                self.output.fill(Complex::new(0.0, 0.0));
            }
            for (p, c) in self.power.iter_mut().zip(&self.output) {
                *p = c.re * c.re + c.im * c.im;
            }
            f(t, &self.power);
        }
    }
}

/// Power spectrogram `|STFT(y)|^2`, `(1 + n_fft / 2) x (1 + len / hop)` (bins x frames), equal to
/// `np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop)) ** 2` with librosa 0.11 defaults.
pub fn power_spectrogram(y: &[f32], n_fft: usize, hop: usize) -> Matrix {
    let mut stft = Stft::new(n_fft, hop);
    let bins = stft.n_bins();
    let frames = stft.n_frames(y.len());
    let mut out = Matrix::zeros(bins, frames);
    stft.for_each_power_frame(y, |t, p| {
        for (b, &v) in p.iter().enumerate() {
            out.data[b * frames + t] = v;
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_count_matches_librosa_formula() {
        assert_eq!(n_frames(22050, 2048, 512), 1 + 22050 / 512);
        assert_eq!(n_frames(100, 2048, 512), 1);
        assert_eq!(n_frames(0, 2048, 512), 1);
    }

    #[test]
    fn dc_signal_energy_is_in_bin_zero() {
        let y = vec![1.0f32; 8192];
        let s = power_spectrogram(&y, 512, 128);
        assert_eq!(s.rows, 257);
        // A middle frame sees the whole window: DC bin = (sum of window)^2 = (n/2)^2.
        let mid = s.cols / 2;
        assert!((s.get(0, mid) - 256.0f32 * 256.0).abs() < 1.0);
        assert!(s.get(10, mid) < 1e-3);
    }
}
