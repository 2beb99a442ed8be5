//! The short-time Fourier transform as librosa 0.11 computes it for spectrograms: a periodic
//! Hann window, `center=True` with zero (`'constant'`) padding of `n_fft / 2` samples on each
//! side, and the power `|X|^2` of each one-sided spectrum. The FFT plan, window, twiddles and
//! buffers are made once per [`Stft`] and reused for every frame; an even `n_fft` runs as a
//! half-length complex FFT with the window applied while filling its buffer.

use crate::matrix::avx2_fn;
use crate::Matrix;
use instclf_fft::{Complex, Fft, RealToComplex};
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

/// How the one-sided spectrum is computed.
enum Engine {
    /// Even `n_fft = 2M`: the frame's even and odd samples are the real and imaginary parts of
    /// an `M`-point complex FFT `Z`, untangled into the power spectrum by [`half_to_power`]
    /// (windowing, FFT and power without any intermediate copy).
    Half {
        fft: Arc<dyn Fft<f32>>,
        buf: Vec<Complex<f32>>,
        scratch: Vec<Complex<f32>>,
        /// `cos(2 pi k / n_fft)` and `sin(2 pi k / n_fft)`, `k < M`.
        cos: Vec<f32>,
        sin: Vec<f32>,
        /// The same, every value twice.
        cos2: Vec<f32>,
        sin2: Vec<f32>,
    },
    /// Odd `n_fft`: realfft.
    Real {
        fft: Arc<dyn RealToComplex<f32>>,
        input: Vec<f32>,
        output: Vec<Complex<f32>>,
        scratch: Vec<Complex<f32>>,
    },
}

/// A reusable power-spectrum engine for one `(n_fft, hop)` pair.
pub struct Stft {
    n_fft: usize,
    hop: usize,
    window: Vec<f32>,
    engine: Engine,
    power: Vec<f32>,
}

impl Stft {
    /// Plans an STFT. `n_fft` and `hop` must be at least 1 (callers validate user input first);
    /// zero values are clamped to 1 so this never panics.
    pub fn new(n_fft: usize, hop: usize) -> Self {
        let n_fft = n_fft.max(1);
        let engine = if n_fft.is_multiple_of(2) {
            let m = n_fft / 2;
            let fft = instclf_fft::forward(m);
            let scratch = vec![Complex::new(0.0, 0.0); fft.get_inplace_scratch_len()];
            let (sin, cos) = (0..m)
                .map(|k| {
                    let (s, c) = (2.0 * std::f64::consts::PI * k as f64 / n_fft as f64).sin_cos();
                    (s as f32, c as f32)
                })
                .unzip();
            let twice = |v: &Vec<f32>| v.iter().flat_map(|&x| [x, x]).collect();
            Engine::Half {
                fft,
                buf: vec![Complex::new(0.0, 0.0); m],
                scratch,
                cos2: twice(&cos),
                sin2: twice(&sin),
                cos,
                sin,
            }
        } else {
            let fft = instclf_fft::real_forward(n_fft);
            Engine::Real {
                input: fft.make_input_vec(),
                output: fft.make_output_vec(),
                scratch: fft.make_scratch_vec(),
                fft,
            }
        };
        Stft {
            n_fft,
            hop: hop.max(1),
            window: hann_periodic(n_fft),
            engine,
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
    pub fn for_each_power_frame(&mut self, y: &[f32], f: impl FnMut(usize, &[f32])) {
        let frames = self.n_frames(y.len());
        self.frames_of(y, 0, y.len(), 0..frames, f);
    }

    /// The frames `range` of a signal of `n` samples of which `y` holds those from `y_start`
    /// on, as [`Stft::for_each_power_frame`] computes them: `y` must hold every sample below
    /// `n` that the frames' windows cover (a sample it lacks reads as padding).
    fn frames_of(
        &mut self,
        y: &[f32],
        y_start: usize,
        n: usize,
        range: std::ops::Range<usize>,
        mut f: impl FnMut(usize, &[f32]),
    ) {
        let n = n as isize;
        let n_fft = self.n_fft;
        let pad = (n_fft / 2) as isize;
        for t in range {
            let start = (t * self.hop) as isize - pad;
            // Window positions i with 0 <= start + i < n carry signal; the rest is padding.
            let lo = (-start).clamp(0, n_fft as isize) as usize;
            let hi = (n - start).clamp(0, n_fft as isize) as usize;
            let hi = hi.max(lo);
            let src = if hi > lo {
                let s = (start + lo as isize) as usize;
                let s = s.saturating_sub(y_start).min(y.len());
                &y[s..(s + (hi - lo)).min(y.len())]
            } else {
                &[][..]
            };
            match &mut self.engine {
                Engine::Half {
                    fft,
                    buf,
                    scratch,
                    cos,
                    sin,
                    cos2,
                    sin2,
                } => {
                    let input = complex_as_floats(buf);
                    windowed_copy(input, &self.window, src, lo);
                    fft.process_with_scratch(buf, scratch);
                    half_to_power(buf, cos, sin, cos2, sin2, &mut self.power);
                }
                Engine::Real {
                    fft,
                    input,
                    output,
                    scratch,
                } => {
                    windowed_copy(input, &self.window, src, lo);
                    // Lengths come from the plan itself, so this cannot fail.
                    if fft.process_with_scratch(input, output, scratch).is_err() {
                        output.fill(Complex::new(0.0, 0.0));
                    }
                    for (p, c) in self.power.iter_mut().zip(output.iter()) {
                        *p = c.re * c.re + c.im * c.im;
                    }
                }
            }
            f(t, &self.power);
        }
    }
}

/// An [`Stft`] over a signal that arrives in pieces (as a [`crate::decode::Stream`] hands it
/// out): every frame is computed as soon as its window's samples have arrived, with the same
/// arithmetic as [`Stft::for_each_power_frame`] on the whole signal, and only the samples later
/// frames still need are kept.
pub struct StftStream {
    stft: Stft,
    /// Samples from `buf_start` on.
    buf: Vec<f32>,
    buf_start: usize,
    /// Samples pushed so far, and the next frame to compute.
    len: usize,
    next: usize,
}

impl StftStream {
    /// Plans the STFT as [`Stft::new`] does.
    pub fn new(n_fft: usize, hop: usize) -> Self {
        let stft = Stft::new(n_fft, hop);
        StftStream {
            buf: Vec::with_capacity(4 * stft.n_fft),
            stft,
            buf_start: 0,
            len: 0,
            next: 0,
        }
    }

    /// Appends `piece` and calls `f(frame_index, power_spectrum)` for every frame whose window
    /// now lies within the samples pushed, in order.
    pub fn push(&mut self, piece: &[f32], f: impl FnMut(usize, &[f32])) {
        let keep = self.first_needed().saturating_sub(self.buf_start);
        // Drop what no frame will read once it is a good share of the buffer.
        if keep > 0 && keep >= self.buf.len() / 2 {
            self.buf.drain(..keep.min(self.buf.len()));
            self.buf_start += keep;
        }
        self.buf.extend_from_slice(piece);
        self.len += piece.len();
        // Frame t's window ends at t * hop + n_fft - n_fft / 2.
        let reach = self.stft.n_fft - self.stft.n_fft / 2;
        let ready = if self.len >= reach {
            (self.len - reach) / self.stft.hop + 1
        } else {
            0
        };
        if ready > self.next {
            let range = self.next..ready;
            self.next = ready;
            self.stft
                .frames_of(&self.buf, self.buf_start, self.len, range, f);
        }
    }

    /// The frames left, now that the signal has ended (the last ones padded as librosa pads);
    /// returns the number of frames of the whole signal.
    pub fn finish(mut self, f: impl FnMut(usize, &[f32])) -> usize {
        let frames = self.stft.n_frames(self.len);
        let range = self.next.min(frames)..frames;
        self.stft
            .frames_of(&self.buf, self.buf_start, self.len, range, f);
        frames
    }

    /// The first sample the next frame's window covers.
    fn first_needed(&self) -> usize {
        (self.next * self.stft.hop).saturating_sub(self.stft.n_fft / 2)
    }
}

/// The interleaved `(re, im)` floats of a complex buffer.
fn complex_as_floats(buf: &mut [Complex<f32>]) -> &mut [f32] {
    // SAFETY: `Complex<f32>` is `#[repr(C)]` with two `f32` fields, so `len` complex values
    // are `2 * len` contiguous, aligned `f32`s; the borrow of `buf` is carried over.
    unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<f32>(), 2 * buf.len()) }
}

avx2_fn! {
    /// `dst = window * frame` where the frame holds `src` from position `lo` and zeros elsewhere.
    fn windowed_copy(dst: &mut [f32], window: &[f32], src: &[f32], lo: usize) {
        let hi = (lo + src.len()).min(dst.len());
        let lo = lo.min(hi);
        dst[..lo].fill(0.0);
        for ((d, &x), &w) in dst[lo..hi].iter_mut().zip(src).zip(&window[lo..hi]) {
            *d = x * w;
        }
        dst[hi..].fill(0.0);
    }
}

/// Power spectrum `|X_k|^2`, `k = 0..=M`, of the real frame `x` whose even and odd samples
/// went into the `M`-point complex FFT `z`: with `a = z_k`, `b = conj(z_{M-k})`,
/// `X_k = (a + b) / 2 - i e^{-2 pi i k / 2M} (a - b) / 2`. `cos`/`sin` hold the twiddles
/// `k < M`, `cos2`/`sin2` the same with every value twice (for the interleaved AVX2 path).
fn half_to_power(
    z: &[Complex<f32>],
    cos: &[f32],
    sin: &[f32],
    cos2: &[f32],
    sin2: &[f32],
    power: &mut [f32],
) {
    let m = z.len();
    if m == 0 || power.len() != m + 1 || cos.len() < m || sin.len() < m {
        return;
    }
    let (r0, i0) = (z[0].re, z[0].im);
    power[0] = (r0 + i0) * (r0 + i0);
    power[m] = (r0 - i0) * (r0 - i0);
    #[allow(unused_mut)]
    let mut from = 1;
    #[cfg(target_arch = "x86_64")]
    if crate::matrix::has_avx2() && cos2.len() >= 2 * m && sin2.len() >= 2 * m {
        // SAFETY: AVX2 and FMA are present (checked just above).
        from = unsafe { half_to_power_avx2(z, cos2, sin2, power) };
    }
    let _ = (cos2, sin2);
    for k in from..=m - from {
        let (a, b) = (z[k], z[m - k]);
        let (c, s) = (cos[k], sin[k]);
        let sr = a.re + b.re;
        let si = a.im - b.im;
        let dr = a.re - b.re;
        let di = a.im + b.im;
        let xr = sr + c * di - s * dr;
        let xi = si - c * dr - s * di;
        power[k] = 0.25 * (xr * xr + xi * xi);
    }
}

/// The AVX2 body of [`half_to_power`]. Bin `k` and its mirror `M - k` share their inputs
/// (`X_{M-k}` is built from `conj` of the same `a`, `b`), so both come out of one pass:
/// with `s = a + b` and `q = -i e^{-2 pi i k / 2M} (a - b)`, `|X_k|^2 = |s + q|^2 / 4` and
/// `|X_{M-k}|^2 = |s - q|^2 / 4`. Runs blocks of 8 bins from `k = 1` and their mirrors while
/// they do not meet; returns the first bin `k` it left, so bins `k..=M-k` are the scalar loop's.
/// Lengths are checked by the caller.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn half_to_power_avx2(z: &[Complex<f32>], cos2: &[f32], sin2: &[f32], power: &mut [f32]) -> usize {
    use std::arch::x86_64::*;
    let m = z.len();
    let zf = z.as_ptr().cast::<f32>();
    let mut k = 1;
    // SAFETY: while 2k + 15 <= m, every read is of complex values k..k+8 and m-k-7..=m-k (all
    // in 1..m and apart), of twiddles 2k..2k+16 < 2m, and every write of power[k..k+8] and
    // power[m-k-7..=m-k] (power has m + 1 values).
    unsafe {
        let odd_sign = _mm256_setr_ps(0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0);
        let quarter = _mm256_set1_ps(0.25);
        let mirror = _mm256_setr_epi32(7, 6, 3, 2, 5, 4, 1, 0);
        // |s + q|^2 and |s - q|^2 (each value of a pair twice-summed later) for 4 bins from
        // a = z[k..k+4] and rb = z[m-k-3..=m-k] (reversed inside).
        let block = |a: __m256, rb: __m256, c: __m256, s: __m256| -> (__m256, __m256) {
            // Reverse the order of the four complex values.
            let b = _mm256_permute_ps(_mm256_permute2f128_ps(rb, rb, 0x01), 0x4E);
            let bc = _mm256_xor_ps(b, odd_sign); // conj(b)
            let sum = _mm256_add_ps(a, bc); // (sr, si)
            let d = _mm256_sub_ps(a, bc); // (dr, di)
            let dsw = _mm256_xor_ps(_mm256_permute_ps(d, 0xB1), odd_sign); // (di, -dr)
            let q = _mm256_fnmadd_ps(s, d, _mm256_mul_ps(c, dsw)); // (c di - s dr, -c dr - s di)
            let plus = _mm256_add_ps(sum, q);
            let minus = _mm256_sub_ps(sum, q);
            (_mm256_mul_ps(plus, plus), _mm256_mul_ps(minus, minus))
        };
        while 2 * k + 15 <= m {
            let a0 = _mm256_loadu_ps(zf.add(2 * k));
            let a1 = _mm256_loadu_ps(zf.add(2 * (k + 4)));
            let b0 = _mm256_loadu_ps(zf.add(2 * (m - k - 3)));
            let b1 = _mm256_loadu_ps(zf.add(2 * (m - k - 7)));
            let c0 = _mm256_loadu_ps(cos2.as_ptr().add(2 * k));
            let c1 = _mm256_loadu_ps(cos2.as_ptr().add(2 * (k + 4)));
            let s0 = _mm256_loadu_ps(sin2.as_ptr().add(2 * k));
            let s1 = _mm256_loadu_ps(sin2.as_ptr().add(2 * (k + 4)));
            let (p0, n0) = block(a0, b0, c0, s0);
            let (p1, n1) = block(a1, b1, c1, s1);
            // hadd: (j0 j1 j4 j5 | j2 j3 j6 j7) for the block's offsets j.
            let hp = _mm256_hadd_ps(p0, p1);
            let p = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(hp), 0xD8));
            _mm256_storeu_ps(power.as_mut_ptr().add(k), _mm256_mul_ps(p, quarter));
            // Offset j is bin m-k-j: stored ascending from m-k-7, so j = 7, 6, ..., 0.
            let hn = _mm256_permutevar8x32_ps(_mm256_hadd_ps(n0, n1), mirror);
            _mm256_storeu_ps(
                power.as_mut_ptr().add(m - k - 7),
                _mm256_mul_ps(hn, quarter),
            );
            k += 8;
        }
    }
    k
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
    fn half_length_fft_equals_realfft() {
        for n_fft in [2usize, 8, 40, 512, 2048] {
            let y: Vec<f32> = (0..5000)
                .map(|i| (i as f32 * 0.037).sin() + 0.3 * ((i * 7919) % 101) as f32 / 101.0)
                .collect();
            let s = power_spectrogram(&y, n_fft, n_fft / 2 + 1);
            let fft = instclf_fft::real_forward(n_fft);
            let w = hann_periodic(n_fft);
            let pad = n_fft / 2;
            for t in [0, 1, s.cols / 2, s.cols - 1] {
                let mut frame: Vec<f32> = (0..n_fft)
                    .map(|i| {
                        let j = (t * (n_fft / 2 + 1) + i) as isize - pad as isize;
                        if j >= 0 && (j as usize) < y.len() {
                            y[j as usize] * w[i]
                        } else {
                            0.0
                        }
                    })
                    .collect();
                let mut out = fft.make_output_vec();
                fft.process(&mut frame, &mut out).unwrap();
                let max = out.iter().map(|c| c.norm_sqr()).fold(0f32, f32::max);
                for (b, c) in out.iter().enumerate() {
                    let want = c.norm_sqr();
                    let got = s.get(b, t);
                    assert!(
                        (got - want).abs() <= 1e-5 * max + 1e-4 * want,
                        "n_fft {n_fft} frame {t} bin {b}: {got} vs {want}"
                    );
                }
            }
        }
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
