//! Mel filter banks, mel power spectrograms and the power-to-dB conversion, numerically equal to
//! librosa 0.11 (`librosa.filters.mel`, `librosa.feature.melspectrogram`, `librosa.power_to_db`).
//! The filter bank is applied as a banded (sparse) product: each mel band only touches the FFT
//! bins between its neighbours' centre frequencies.

use crate::stft::Stft;
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
    let fmax = fmax.map(f64::from).unwrap_or(sr as f64 / 2.0);
    let bins = n_fft / 2 + 1;
    let fftfreqs = fft_frequencies(sr as f64, n_fft);
    let mel_f = mel_frequencies(n_mels + 2, fmin as f64, fmax, scale);
    let mut w = Matrix::zeros(n_mels, bins);
    for i in 0..n_mels {
        let fdiff_lo = mel_f[i + 1] - mel_f[i];
        let fdiff_hi = mel_f[i + 2] - mel_f[i + 1];
        let enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
        let row = w.row_mut(i);
        for (b, &f) in fftfreqs.iter().enumerate() {
            let lower = -(mel_f[i] - f) / fdiff_lo;
            let upper = (mel_f[i + 2] - f) / fdiff_hi;
            let v = 0f64.max(lower.min(upper)) as f32;
            row[b] = if slaney_norm {
                (v as f64 * enorm) as f32
            } else {
                v
            };
        }
    }
    w
}

/// A filter bank stored as one contiguous run of non-zero weights per band.
#[derive(Debug, Clone)]
pub struct SparseFilterbank {
    /// `(first_bin, weights)` per band.
    bands: Vec<(usize, Vec<f32>)>,
    n_bins: usize,
}

impl SparseFilterbank {
    /// Keeps, for each row of `dense`, the span from its first to its last non-zero weight.
    pub fn from_dense(dense: &Matrix) -> Self {
        let bands = (0..dense.rows)
            .map(|r| {
                let row = dense.row(r);
                match row.iter().position(|&v| v != 0.0) {
                    Some(first) => {
                        let last = row.iter().rposition(|&v| v != 0.0).unwrap_or(first);
                        (first, row[first..=last].to_vec())
                    }
                    None => (0, Vec::new()),
                }
            })
            .collect();
        SparseFilterbank {
            bands,
            n_bins: dense.cols,
        }
    }

    pub fn n_bands(&self) -> usize {
        self.bands.len()
    }

    pub fn n_bins(&self) -> usize {
        self.n_bins
    }

    /// `out[m] = sum_f W[m, f] * spectrum[f]` for one frame.
    pub fn apply(&self, spectrum: &[f32], out: &mut [f32]) {
        for ((first, w), o) in self.bands.iter().zip(out.iter_mut()) {
            let s = &spectrum[*first..*first + w.len()];
            *o = dot(w, s);
        }
    }

    /// Projects a full `bins x frames` spectrogram onto the mel bands (`bands x frames`).
    pub fn project(&self, s: &Matrix) -> Matrix {
        let mut out = Matrix::zeros(self.bands.len(), s.cols);
        if s.rows != self.n_bins {
            return out;
        }
        for (m, (first, w)) in self.bands.iter().enumerate() {
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

/// Dot product with eight independent accumulators so the compiler can vectorise it.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
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
    let fb = SparseFilterbank::from_dense(&p.filterbank());
    let mut stft = Stft::new(p.n_fft, p.hop);
    let frames = stft.n_frames(y.len());
    let n_mels = fb.n_bands();
    // Frames x mels while filling (contiguous writes), transposed at the end.
    let mut tmp = Matrix::zeros(frames, n_mels);
    stft.for_each_power_frame(y, |t, power| {
        fb.apply(power, tmp.row_mut(t));
    });
    tmp
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
    let mut data: Vec<f32> = s
        .data
        .iter()
        .map(|&v| 10.0 * amin.max(v.abs()).log10() - offset)
        .collect();
    if let Some(top) = top_db {
        let max = data.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let floor = max - top;
        for v in &mut data {
            *v = v.max(floor);
        }
    }
    Matrix {
        rows: s.rows,
        cols: s.cols,
        data,
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
        let p = MelParams {
            n_fft: 512,
            n_mels: 40,
            ..MelParams::default()
        };
        let dense = p.filterbank();
        let fb = SparseFilterbank::from_dense(&dense);
        let spec: Vec<f32> = (0..257).map(|i| ((i * 37) % 11) as f32 + 0.5).collect();
        let mut out = vec![0f32; 40];
        fb.apply(&spec, &mut out);
        for (m, &got) in out.iter().enumerate() {
            let want: f32 = dense.row(m).iter().zip(&spec).map(|(a, b)| a * b).sum();
            assert!((got - want).abs() <= 1e-5 * want.abs().max(1.0));
        }
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
