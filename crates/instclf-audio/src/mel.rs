//! Mel filter banks, mel power spectrograms and the power-to-dB conversion, numerically equal to
//! librosa 0.11 (`librosa.filters.mel`, `librosa.feature.melspectrogram`, `librosa.power_to_db`).
//! The filter bank is applied as a banded (sparse) product: each mel band only touches the FFT
//! bins between its neighbours' centre frequencies.

use crate::matrix::{avx2_fn, db10_slice, dot8};
use crate::stft::{Stft, StftStream};
use crate::Matrix;

/// Which mel formula to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MelScale {
    /// Slaney's Auditory Toolbox scale (linear below 1 kHz, logarithmic above): librosa's default.
    Slaney,
    /// The HTK formula `2595 log10(1 + f / 700)`.
    Htk,
}

/// Hertz to mels (librosa `hz_to_mel`).
pub fn hz_to_mel(f: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 2595.0 * (1.0 + f / 700.0).log10(),
        MelScale::Slaney => {
            let f_sp = 200.0 / 3.0;
            let min_log_hz = 1000.0;
            let min_log_mel = min_log_hz / f_sp;
            let logstep = 6.4f64.ln() / 27.0;
            if f >= min_log_hz {
                min_log_mel + (f / min_log_hz).ln() / logstep
            } else {
                f / f_sp
            }
        }
    }
}

/// Mels to hertz (librosa `mel_to_hz`).
pub fn mel_to_hz(m: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 700.0 * (10f64.powf(m / 2595.0) - 1.0),
        MelScale::Slaney => {
            let f_sp = 200.0 / 3.0;
            let min_log_hz = 1000.0;
            let min_log_mel = min_log_hz / f_sp;
            let logstep = 6.4f64.ln() / 27.0;
            if m >= min_log_mel {
                min_log_hz * (logstep * (m - min_log_mel)).exp()
            } else {
                f_sp * m
            }
        }
    }
}

/// `n` frequencies equally spaced on the mel scale from `fmin` to `fmax` (librosa
/// `mel_frequencies`, using numpy's `linspace` arithmetic).
pub fn mel_frequencies(n: usize, fmin: f64, fmax: f64, scale: MelScale) -> Vec<f64> {
    let lo = hz_to_mel(fmin, scale);
    let hi = hz_to_mel(fmax, scale);
    let step = if n > 1 {
        (hi - lo) / (n - 1) as f64
    } else {
        0.0
    };
    (0..n)
        .map(|i| {
            let m = if n > 1 && i == n - 1 {
                hi
            } else {
                i as f64 * step + lo
            };
            mel_to_hz(m, scale)
        })
        .collect()
}

/// Centre frequency of every FFT bin, `np.fft.rfftfreq(n_fft, 1 / sr)`.
pub fn fft_frequencies(sr: f64, n_fft: usize) -> Vec<f64> {
    let val = 1.0 / (n_fft as f64 * (1.0 / sr));
    (0..=n_fft / 2).map(|i| i as f64 * val).collect()
}

/// Band `i`'s non-zero weights `(first_bin, weights)` of the filter bank described at
/// [`mel_filterbank`], given the bin frequencies and the `n_mels + 2` mel edge frequencies.
fn band_weights(i: usize, fftfreqs: &[f64], mel_f: &[f64], slaney_norm: bool) -> (usize, Vec<f32>) {
    let fdiff_lo = mel_f[i + 1] - mel_f[i];
    let fdiff_hi = mel_f[i + 2] - mel_f[i + 1];
    let enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
    // Only bins strictly between the outer edges can be non-zero (when both halves have a
    // positive width; otherwise every bin is evaluated).
    let (lo, hi) = if fdiff_lo > 0.0 && fdiff_hi > 0.0 {
        (
            fftfreqs.partition_point(|&f| f <= mel_f[i]),
            fftfreqs.partition_point(|&f| f < mel_f[i + 2]),
        )
    } else {
        (0, fftfreqs.len())
    };
    let hi = hi.max(lo);
    let vals: Vec<f32> = fftfreqs[lo..hi]
        .iter()
        .map(|&f| {
            let lower = -(mel_f[i] - f) / fdiff_lo;
            let upper = (mel_f[i + 2] - f) / fdiff_hi;
            let v = 0f64.max(lower.min(upper)) as f32;
            if slaney_norm {
                (v as f64 * enorm) as f32
            } else {
                v
            }
        })
        .collect();
    match vals.iter().position(|&v| v != 0.0) {
        Some(first) => {
            let last = vals.iter().rposition(|&v| v != 0.0).unwrap_or(first);
            (lo + first, vals[first..=last].to_vec())
        }
        None => (0, Vec::new()),
    }
}

/// The `n_mels + 2` band edges and the FFT bin frequencies of a filter bank.
fn filterbank_grid(
    sr: u32,
    n_fft: usize,
    n_mels: usize,
    fmin: f32,
    fmax: Option<f32>,
    scale: MelScale,
) -> (Vec<f64>, Vec<f64>) {
    let fmax = fmax.map(f64::from).unwrap_or(sr as f64 / 2.0);
    (
        fft_frequencies(sr as f64, n_fft),
        mel_frequencies(n_mels + 2, fmin as f64, fmax, scale),
    )
}

/// The mel filter bank, `n_mels x (1 + n_fft / 2)`, equal to
/// `librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax,
/// htk=(scale == Htk), norm='slaney' if slaney_norm else None)` (float32).
pub fn mel_filterbank(
    sr: u32,
    n_fft: usize,
    n_mels: usize,
    fmin: f32,
    fmax: Option<f32>,
    scale: MelScale,
    slaney_norm: bool,
) -> Matrix {
    let bins = n_fft / 2 + 1;
    let (fftfreqs, mel_f) = filterbank_grid(sr, n_fft, n_mels, fmin, fmax, scale);
    let mut w = Matrix::zeros(n_mels, bins);
    for i in 0..n_mels {
        let (first, vals) = band_weights(i, &fftfreqs, &mel_f, slaney_norm);
        w.row_mut(i)[first..first + vals.len()].copy_from_slice(&vals);
    }
    w
}

/// A filter bank stored as one contiguous run of weights per band, each run widened (with zero
/// weights, inside the spectrum) to a multiple of 8 so the per-band dot products run in whole
/// vector chunks.
#[derive(Debug, Clone)]
pub struct SparseFilterbank {
    /// First bin of each band's run.
    starts: Vec<usize>,
    /// Band `m`'s weights are `weights[offsets[m]..offsets[m + 1]]`.
    offsets: Vec<usize>,
    weights: Vec<f32>,
    n_bins: usize,
    /// Every band's run is a whole number of 8-float vectors (true unless `n_bins` is small).
    whole_vectors: bool,
}

impl SparseFilterbank {
    fn from_bands(bands: impl Iterator<Item = (usize, Vec<f32>)>, n_bins: usize) -> Self {
        let mut fb = SparseFilterbank {
            starts: Vec::new(),
            offsets: vec![0],
            weights: Vec::new(),
            n_bins,
            whole_vectors: true,
        };
        for (first, w) in bands {
            let len = w.len().next_multiple_of(8).min(n_bins).max(w.len());
            let start = first.min(n_bins.saturating_sub(len));
            fb.weights.extend((start..first).map(|_| 0.0));
            fb.weights.extend_from_slice(&w);
            let used = first - start + w.len();
            fb.weights.extend((used..len).map(|_| 0.0));
            fb.starts.push(start);
            fb.offsets.push(fb.weights.len());
            fb.whole_vectors &= len % 8 == 0;
        }
        fb
    }

    /// Keeps, for each row of `dense`, the span from its first to its last non-zero weight.
    pub fn from_dense(dense: &Matrix) -> Self {
        let bands = (0..dense.rows).map(|r| {
            let row = dense.row(r);
            match row.iter().position(|&v| v != 0.0) {
                Some(first) => {
                    let last = row.iter().rposition(|&v| v != 0.0).unwrap_or(first);
                    (first, row[first..=last].to_vec())
                }
                None => (0, Vec::new()),
            }
        });
        Self::from_bands(bands, dense.cols)
    }

    /// The Slaney-normalised filter bank of `p` (the sparse form of [`MelParams::filterbank`]),
    /// computed band by band without the dense matrix.
    pub fn new(p: &MelParams) -> Self {
        let (fftfreqs, mel_f) = filterbank_grid(p.sr, p.n_fft, p.n_mels, p.fmin, p.fmax, p.scale());
        let bands = (0..p.n_mels).map(|i| band_weights(i, &fftfreqs, &mel_f, true));
        Self::from_bands(bands, p.n_fft / 2 + 1)
    }

    pub fn n_bands(&self) -> usize {
        self.starts.len()
    }

    pub fn n_bins(&self) -> usize {
        self.n_bins
    }

    fn band(&self, m: usize) -> (usize, &[f32]) {
        (
            self.starts[m],
            &self.weights[self.offsets[m]..self.offsets[m + 1]],
        )
    }

    /// `out[m] = sum_f W[m, f] * spectrum[f]` for one frame (`spectrum` has [`Self::n_bins`]
    /// values).
    pub fn apply(&self, spectrum: &[f32], out: &mut [f32]) {
        if spectrum.len() < self.n_bins {
            out.fill(0.0);
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if self.whole_vectors && crate::matrix::has_avx2() {
            // SAFETY: AVX2 and FMA are present (checked just above); every band's run is a
            // whole number of vectors inside `weights`, and inside `spectrum` (`start + len <=
            // n_bins <= spectrum.len()`).
            return unsafe {
                apply_bands_by_eight(spectrum, &self.starts, &self.offsets, &self.weights, out)
            };
        }
        apply_bands(spectrum, &self.starts, &self.offsets, &self.weights, out);
    }

    /// Projects a full `bins x frames` spectrogram onto the mel bands (`bands x frames`).
    pub fn project(&self, s: &Matrix) -> Matrix {
        let mut out = Matrix::zeros(self.n_bands(), s.cols);
        if s.rows != self.n_bins {
            return out;
        }
        for m in 0..self.n_bands() {
            let (first, w) = self.band(m);
            let orow = out.row_mut(m);
            for (k, &wk) in w.iter().enumerate() {
                let srow = s.row(first + k);
                for (o, &v) in orow.iter_mut().zip(srow) {
                    *o += wk * v;
                }
            }
        }
        out
    }
}

/// The per-band dot products of [`SparseFilterbank::apply`].
fn apply_bands(
    spectrum: &[f32],
    starts: &[usize],
    offsets: &[usize],
    weights: &[f32],
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    if crate::matrix::has_avx2() {
        #[target_feature(enable = "avx2,fma")]
        fn avx2(spectrum: &[f32], starts: &[usize], offsets: &[usize], w: &[f32], out: &mut [f32]) {
            for ((o, &start), ends) in out.iter_mut().zip(starts).zip(offsets.windows(2)) {
                let w = &w[ends[0]..ends[1]];
                *o = crate::matrix::dot_avx2(w, &spectrum[start..start + w.len()]);
            }
        }
        // SAFETY: AVX2 and FMA are present (checked just above).
        return unsafe { avx2(spectrum, starts, offsets, weights, out) };
    }
    for ((o, &start), ends) in out.iter_mut().zip(starts).zip(offsets.windows(2)) {
        let w = &weights[ends[0]..ends[1]];
        *o = dot8(w, &spectrum[start..start + w.len()]);
    }
}

/// [`apply_bands`] for bands whose runs are whole vectors of 8 floats: eight bands at a time,
/// each summed into one vector, and the eight vectors' sums reduced together by a tree of
/// horizontal adds (9 instructions for eight bands, where one band alone takes 6).
///
/// # Safety
/// AVX2 and FMA must be present; every `offsets[m + 1] - offsets[m]` a multiple of 8, with
/// `offsets[m + 1] <= w.len()` and `starts[m] + that length <= spectrum.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn apply_bands_by_eight(
    spectrum: &[f32],
    starts: &[usize],
    offsets: &[usize],
    w: &[f32],
    out: &mut [f32],
) {
    use std::arch::x86_64::*;
    let n = out.len().min(starts.len());
    let (pw, ps) = (w.as_ptr(), spectrum.as_ptr());
    let band = |m: usize| -> __m256 {
        let (a, b, start) = (offsets[m], offsets[m + 1], starts[m]);
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i < b - a {
            // SAFETY: the caller's bounds.
            acc = unsafe {
                _mm256_fmadd_ps(
                    _mm256_loadu_ps(pw.add(a + i)),
                    _mm256_loadu_ps(ps.add(start + i)),
                    acc,
                )
            };
            i += 8;
        }
        acc
    };
    let mut m = 0;
    while m + 8 <= n {
        let a: [__m256; 8] = std::array::from_fn(|j| band(m + j));
        let t0 = _mm256_hadd_ps(a[0], a[1]);
        let t1 = _mm256_hadd_ps(a[2], a[3]);
        let t2 = _mm256_hadd_ps(a[4], a[5]);
        let t3 = _mm256_hadd_ps(a[6], a[7]);
        // Bands 0-3's four partial sums of the low half, then of the high half; and 4-7's.
        let u0 = _mm256_hadd_ps(t0, t1);
        let u1 = _mm256_hadd_ps(t2, t3);
        let sums = _mm256_add_ps(
            _mm256_permute2f128_ps(u0, u1, 0x20),
            _mm256_permute2f128_ps(u0, u1, 0x31),
        );
        // SAFETY: `m + 8 <= out.len()`.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(m), sums) };
        m += 8;
    }
    // The last bands (fewer than eight) one at a time.
    for (k, o) in out.iter_mut().enumerate().take(n).skip(m) {
        let w = &w[offsets[k]..offsets[k + 1]];
        *o = crate::matrix::dot_avx2(w, &spectrum[starts[k]..starts[k] + w.len()]);
    }
}

/// Parameters of a mel spectrogram (librosa names and defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct MelParams {
    pub sr: u32,
    pub n_fft: usize,
    pub hop: usize,
    pub n_mels: usize,
    pub fmin: f32,
    /// Upper edge in Hz; `None` is `sr / 2`.
    pub fmax: Option<f32>,
    /// HTK mel formula instead of Slaney's.
    pub htk: bool,
}

impl Default for MelParams {
    fn default() -> Self {
        MelParams {
            sr: 22050,
            n_fft: 2048,
            hop: 512,
            n_mels: 128,
            fmin: 0.0,
            fmax: None,
            htk: false,
        }
    }
}

impl MelParams {
    /// The mel scale these parameters select.
    pub fn scale(&self) -> MelScale {
        if self.htk {
            MelScale::Htk
        } else {
            MelScale::Slaney
        }
    }

    /// The Slaney-normalised filter bank for these parameters.
    pub fn filterbank(&self) -> Matrix {
        mel_filterbank(
            self.sr,
            self.n_fft,
            self.n_mels,
            self.fmin,
            self.fmax,
            self.scale(),
            true,
        )
    }
}

/// Mel power spectrogram (`n_mels x frames`), equal to
/// `librosa.feature.melspectrogram(y=y, sr, n_fft, hop_length, n_mels, fmin, fmax, htk)`.
/// The STFT frames are projected one at a time, so the full linear spectrogram never exists.
pub fn melspectrogram(y: &[f32], p: &MelParams) -> Matrix {
    melspectrogram_frames(y, p).transpose()
}

/// The mel power spectrogram in frames-major orientation (`frames x n_mels`, one row per
/// frame), i.e. the transpose of [`melspectrogram`]; cheaper when features are wanted per frame.
pub fn melspectrogram_frames(y: &[f32], p: &MelParams) -> Matrix {
    melspectrogram_frames_with(y, p, |_, _| {})
}

/// [`melspectrogram_frames`], also handing every frame's power spectrum to `each(t, power)`, so
/// other per-frame features can share the one STFT pass.
pub fn melspectrogram_frames_with(
    y: &[f32],
    p: &MelParams,
    mut each: impl FnMut(usize, &[f32]),
) -> Matrix {
    let fb = SparseFilterbank::new(p);
    let mut stft = Stft::new(p.n_fft, p.hop);
    let frames = stft.n_frames(y.len());
    let n_mels = fb.n_bands();
    // Frames x mels while filling (contiguous writes), transposed at the end.
    let mut tmp = Matrix::zeros(frames, n_mels);
    stft.for_each_power_frame(y, |t, power| {
        fb.apply(power, tmp.row_mut(t));
        each(t, power);
    });
    tmp
}

/// [`melspectrogram_frames`] of a signal that arrives in pieces: each frame is projected as soon
/// as its samples are in, with the same arithmetic, so the whole signal need never be held.
pub struct MelStream {
    fb: SparseFilterbank,
    stft: StftStream,
    /// Frames x mels, row after row.
    rows: Vec<f32>,
}

impl MelStream {
    /// A stream for `p`, with room for the frames of about `expected_len` samples.
    pub fn new(p: &MelParams, expected_len: usize) -> Self {
        let fb = SparseFilterbank::new(p);
        let frames = crate::stft::n_frames(expected_len, p.n_fft, p.hop);
        MelStream {
            rows: Vec::with_capacity(frames.saturating_mul(fb.n_bands())),
            stft: StftStream::new(p.n_fft, p.hop),
            fb,
        }
    }

    /// The mel bands a frame.
    pub fn n_bands(&self) -> usize {
        self.fb.n_bands()
    }

    /// The frames computed so far, frames-major (`n_bands` values each), for a consumer that
    /// transforms them in place ([`crate::mfcc::MfccStream`]).
    pub(crate) fn rows_mut(&mut self) -> &mut [f32] {
        &mut self.rows
    }

    /// Appends `piece` to the signal.
    pub fn push(&mut self, piece: &[f32]) {
        let (fb, rows) = (&self.fb, &mut self.rows);
        self.stft
            .push(piece, |_, power| project_row(fb, power, rows));
    }

    /// The mel power spectrogram, frames x mels, once the signal has ended.
    pub fn finish(self) -> Matrix {
        let MelStream { fb, stft, mut rows } = self;
        let frames = stft.finish(|_, power| project_row(&fb, power, &mut rows));
        let n_mels = fb.n_bands();
        debug_assert_eq!(rows.len(), frames * n_mels);
        Matrix {
            rows: frames,
            cols: n_mels,
            data: rows,
        }
    }
}

/// Appends the mel bands of one power spectrum to `rows`.
fn project_row(fb: &SparseFilterbank, power: &[f32], rows: &mut Vec<f32>) {
    let at = rows.len();
    rows.resize(at + fb.n_bands(), 0.0);
    fb.apply(power, &mut rows[at..]);
}

/// The reference level of [`power_to_db`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DbRef {
    /// A fixed reference power (librosa `ref=1.0` is `Value(1.0)`).
    Value(f32),
    /// The largest value of the input (`ref=np.max`).
    Max,
}

/// `librosa.power_to_db(s, ref, amin, top_db)`: `10 log10(max(amin, s) / max(amin, ref))`,
/// floored at `max - top_db` when `top_db` is given. librosa's defaults are `amin = 1e-10`,
/// `top_db = Some(80.0)`.
pub fn power_to_db(s: &Matrix, reference: DbRef, amin: f32, top_db: Option<f32>) -> Matrix {
    let ref_value = match reference {
        DbRef::Value(v) => v.abs(),
        DbRef::Max => s.data.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)),
    };
    let offset = 10.0 * amin.max(ref_value).log10();
    let mut data: Vec<f32> = s.data.iter().map(|v| v.abs()).collect();
    let max = to_db_in_place(&mut data, amin, offset);
    if let Some(top) = top_db {
        clamp_below(&mut data, max - top);
    }
    Matrix {
        rows: s.rows,
        cols: s.cols,
        data,
    }
}

avx2_fn! {
    /// `v = 10 log10(max(v, amin)) - offset` for `v >= 0`; returns the largest result.
    pub(crate) fn to_db_in_place(v: &mut [f32], amin: f32, offset: f32) -> f32 {
        let max = db10_slice(v, amin);
        if offset != 0.0 {
            for x in v.iter_mut() {
                *x -= offset;
            }
        }
        max - offset
    }
}

avx2_fn! {
    /// `v = max(v, floor)`.
    pub(crate) fn clamp_below(v: &mut [f32], floor: f32) {
        for x in v.iter_mut() {
            *x = x.max(floor);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slaney_scale_round_trips() {
        for f in [0.0, 440.0, 999.0, 1000.0, 4000.0, 11025.0] {
            let m = hz_to_mel(f, MelScale::Slaney);
            assert!((mel_to_hz(m, MelScale::Slaney) - f).abs() < 1e-6);
            let m = hz_to_mel(f, MelScale::Htk);
            assert!((mel_to_hz(m, MelScale::Htk) - f).abs() < 1e-6);
        }
    }

    #[test]
    fn sparse_projection_equals_dense_product() {
        // Bands by eights with none left over, with 5 left over, and runs too short to be
        // whole vectors (one band over most of 13 bins), which take the band-by-band path.
        for (n_fft, n_mels) in [(512, 40), (512, 13), (24, 1)] {
            let p = MelParams {
                n_fft,
                n_mels,
                ..MelParams::default()
            };
            let dense = p.filterbank();
            let fb = SparseFilterbank::from_dense(&dense);
            assert_eq!(fb.whole_vectors, n_fft > 24);
            let spec: Vec<f32> = (0..dense.cols)
                .map(|i| ((i * 37) % 11) as f32 + 0.5)
                .collect();
            let mut out = vec![0f32; n_mels];
            fb.apply(&spec, &mut out);
            for (m, &got) in out.iter().enumerate() {
                let want: f32 = dense.row(m).iter().zip(&spec).map(|(a, b)| a * b).sum();
                assert!(
                    (got - want).abs() <= 1e-5 * want.abs().max(1.0),
                    "{n_fft} {m}"
                );
            }
        }
    }

    #[test]
    fn sparse_filterbank_equals_the_dense_one() {
        for p in [
            MelParams::default(),
            MelParams {
                sr: 16000,
                n_fft: 400,
                n_mels: 40,
                fmin: 50.0,
                fmax: Some(7000.0),
                htk: true,
                ..MelParams::default()
            },
        ] {
            let dense = p.filterbank();
            let spec: Vec<f32> = (0..dense.cols)
                .map(|i| ((i * 37) % 11) as f32 + 0.5)
                .collect();
            let mut a = vec![0f32; p.n_mels];
            let mut b = vec![0f32; p.n_mels];
            SparseFilterbank::new(&p).apply(&spec, &mut a);
            SparseFilterbank::from_dense(&dense).apply(&spec, &mut b);
            for (m, (x, y)) in a.iter().zip(&b).enumerate() {
                let want: f32 = dense.row(m).iter().zip(&spec).map(|(a, b)| a * b).sum();
                assert_eq!(x, y);
                assert!((x - want).abs() <= 1e-5 * want.abs().max(1.0));
            }
        }
    }

    #[test]
    fn fast_db_is_within_a_micro_decibel_of_log10() {
        let mut x = 1e-12f32;
        let mut worst = 0f64;
        while x < 1e12 {
            let want = 10.0 * (x.max(1e-10) as f64).log10();
            let got = crate::matrix::db10(x, 1e-10) as f64;
            worst = worst.max((got - want).abs());
            x *= 1.0137;
        }
        assert!(worst < 2e-5, "worst {worst} dB");
        assert!((crate::matrix::db10(0.0, 1e-10) + 100.0).abs() < 2e-5);
    }

    #[test]
    fn power_to_db_applies_reference_and_floor() {
        let s = Matrix::from_vec(1, 3, vec![1.0, 0.1, 0.0]).unwrap();
        let db = power_to_db(&s, DbRef::Max, 1e-10, Some(80.0));
        assert_eq!(db.data[0], 0.0);
        assert!((db.data[1] + 10.0).abs() < 1e-5);
        assert_eq!(db.data[2], -80.0);
    }
}
