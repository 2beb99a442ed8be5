//! MFCCs as librosa 0.11 computes them: the orthonormal DCT-II (`scipy.fftpack.dct(type=2,
//! norm='ortho')`) over the mel axis of a dB mel spectrogram (`power_to_db(S, ref=1.0)`, with
//! librosa's `amin = 1e-10` and `top_db = 80`), keeping the first `n_mfcc` coefficients.

use crate::matrix::{avx2_fn, dot8};
use crate::mel::{clamp_below, melspectrogram_frames, to_db_in_place, MelParams};
use crate::Matrix;

/// The `n_out x n` orthonormal DCT-II matrix (rows are coefficients).
pub fn dct_matrix(n_out: usize, n: usize) -> Matrix {
    let mut m = Matrix::zeros(n_out, n);
    let nf = n as f64;
    for k in 0..n_out {
        let scale = if k == 0 {
            (1.0 / nf).sqrt()
        } else {
            (2.0 / nf).sqrt()
        };
        let row = m.row_mut(k);
        for (i, v) in row.iter_mut().enumerate() {
            let angle = std::f64::consts::PI * k as f64 * (2 * i + 1) as f64 / (2.0 * nf);
            *v = (scale * angle.cos()) as f32;
        }
    }
    m
}

/// MFCCs (`n_mfcc x frames`) of a dB mel spectrogram (`n_mels x frames`, from
/// `power_to_db(S, DbRef::Value(1.0), 1e-10, Some(80.0))`). `n_mfcc` is clamped to `n_mels`.
pub fn mfcc_from_db(db: &Matrix, n_mfcc: usize) -> Matrix {
    let n_mfcc = n_mfcc.min(db.rows);
    let dct = dct_matrix(n_mfcc, db.rows);
    let mut out = Matrix::zeros(n_mfcc, db.cols);
    for k in 0..n_mfcc {
        let coeffs = dct.row(k);
        let orow = &mut out.data[k * db.cols..(k + 1) * db.cols];
        for (i, &c) in coeffs.iter().enumerate() {
            for (o, &v) in orow.iter_mut().zip(db.row(i)) {
                *o += c * v;
            }
        }
    }
    out
}

/// `librosa.feature.mfcc(y=y, sr, n_mfcc, n_fft, hop_length, n_mels, fmin, fmax, htk)`.
///
/// Same arithmetic as `mfcc_from_db(&power_to_db(&melspectrogram(y, p), Value(1.0), 1e-10,
/// Some(80.0)), n_mfcc)`, but done frame by frame on the frames-major mel matrix so each
/// coefficient is one contiguous dot product.
pub fn mfcc(y: &[f32], p: &MelParams, n_mfcc: usize) -> Matrix {
    let mut fm = melspectrogram_frames(y, p);
    // Mel power is never negative, so power_to_db's `abs` is a no-op here.
    let max = to_db_in_place(&mut fm.data, 1e-10, 0.0);
    clamp_below(&mut fm.data, max - 80.0);
    let n_mfcc = n_mfcc.min(fm.cols);
    let dct = dct_matrix(n_mfcc, fm.cols);
    let mut out = Matrix::zeros(n_mfcc, fm.rows);
    dct_frames(&fm, &dct, &mut out);
    out
}

avx2_fn! {
    /// `out[k, t] = dct[k, :] . frames[t, :]` (frames-major input, coefficient-major output).
    fn dct_frames(frames: &Matrix, dct: &Matrix, out: &mut Matrix) {
        let n = frames.rows;
        for t in 0..n {
            let frame = frames.row(t);
            for k in 0..dct.rows {
                out.data[k * n + t] = dot8(dct.row(k), frame);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dct_matrix_is_orthonormal() {
        let d = dct_matrix(16, 16);
        for a in 0..16 {
            for b in 0..16 {
                let dot: f32 = d.row(a).iter().zip(d.row(b)).map(|(x, y)| x * y).sum();
                let want = if a == b { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-5, "{a} {b} {dot}");
            }
        }
    }

    #[test]
    fn fused_mfcc_equals_the_composition() {
        use crate::mel::{melspectrogram, power_to_db, DbRef};
        let y: Vec<f32> = (0..9000)
            .map(|i| (i as f32 * 0.03).sin() * (1.0 + (i as f32 * 0.0007).cos()))
            .collect();
        let p = MelParams::default();
        let db = power_to_db(
            &melspectrogram(&y, &p),
            DbRef::Value(1.0),
            1e-10,
            Some(80.0),
        );
        let a = mfcc_from_db(&db, 40);
        let b = mfcc(&y, &p, 40);
        assert_eq!((a.rows, a.cols), (b.rows, b.cols));
        for (x, y) in a.data.iter().zip(&b.data) {
            assert!((x - y).abs() < 1e-3, "{x} vs {y}");
        }
    }

    #[test]
    fn constant_input_has_only_c0() {
        let db = Matrix::from_vec(8, 2, vec![3.0; 16]).unwrap();
        let m = mfcc_from_db(&db, 4);
        assert!((m.get(0, 0) - 3.0 * 8f32.sqrt()).abs() < 1e-5);
        for k in 1..4 {
            assert!(m.get(k, 1).abs() < 1e-5);
        }
    }
}
