//! MFCCs as librosa 0.11 computes them: the orthonormal DCT-II (`scipy.fftpack.dct(type=2,
//! norm='ortho')`) over the mel axis of a dB mel spectrogram (`power_to_db(S, ref=1.0)`, with
//! librosa's `amin = 1e-10` and `top_db = 80`), keeping the first `n_mfcc` coefficients.

use crate::matrix::{avx2_fn, dot8};
use crate::mel::{clamp_below, melspectrogram_frames_with, to_db_in_place, MelParams, MelStream};
use crate::Matrix;
use std::ops::Range;

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
    mfcc_with(y, p, n_mfcc, |_, _| {})
}

/// [`mfcc`], also handing every frame's power spectrum to `each(t, power)` (see
/// [`crate::mel::melspectrogram_frames_with`]).
pub fn mfcc_with(
    y: &[f32],
    p: &MelParams,
    n_mfcc: usize,
    each: impl FnMut(usize, &[f32]),
) -> Matrix {
    mfcc_floored_with(y, p, n_mfcc, &[], each)
}

/// [`mfcc_with`], with the dB floor (`top_db` = 80 below the loudest mel bin) taken per group
/// of frames: the frames of each range of `groups` (ranges that do not overlap, e.g. the notes
/// of a recording) are floored 80 dB below the loudest bin of the group's frames whose windows
/// lie inside it, every other frame 80 dB below the recording's, so a note's coefficients do
/// not depend on how loud the other notes are. With no groups this is librosa's MFCC.
pub fn mfcc_floored_with(
    y: &[f32],
    p: &MelParams,
    n_mfcc: usize,
    groups: &[Range<usize>],
    each: impl FnMut(usize, &[f32]),
) -> Matrix {
    mfcc_of_mel_frames(melspectrogram_frames_with(y, p, each), p, n_mfcc, groups)
}

/// The MFCCs of [`mfcc_floored_with`] from the frames-major mel power spectrogram `fm` (`frames x
/// n_mels`, as [`crate::mel::MelStream`] or [`melspectrogram_frames_with`] make it) of the
/// signal.
pub fn mfcc_of_mel_frames(
    mut fm: Matrix,
    p: &MelParams,
    n_mfcc: usize,
    groups: &[Range<usize>],
) -> Matrix {
    // Mel power is never negative, so power_to_db's `abs` is a no-op here.
    let max = to_db_in_place(&mut fm.data, 1e-10, 0.0);
    if groups.is_empty() {
        clamp_below(&mut fm.data, max - 80.0);
    } else {
        floor_groups(&mut fm, p, groups, max);
    }
    let n_mfcc = n_mfcc.min(fm.cols);
    let dct = dct_matrix(n_mfcc, fm.cols);
    let mut out = Matrix::zeros(n_mfcc, fm.rows);
    dct_frames(&fm.data, &dct, 0..fm.rows, &mut out.data, fm.rows);
    out
}

/// The frames of `frames` at least `edge` frames from either end; all of them when there are
/// none such (a group too short to have an interior).
pub(crate) fn interior(frames: &Range<usize>, edge: usize) -> Range<usize> {
    if frames.len() > 2 * edge {
        frames.start + edge..frames.end - edge
    } else {
        frames.clone()
    }
}

/// Floors each group of rows of the frames-major dB mel matrix `fm` 80 dB below its own loudest
/// bin, and every other row 80 dB below `max`, the loudest of all (see [`mfcc_floored_with`]).
fn floor_groups(fm: &mut Matrix, p: &MelParams, groups: &[Range<usize>], max: f32) {
    let cols = fm.cols;
    // A frame's window reaches n_fft / 2 samples past its centre: the loudest bin of a group
    // is taken over the frames whose windows stay inside it, so a loud neighbour does not set
    // its floor (all its frames when it is too short to have any).
    let edge = p.n_fft.div_ceil(2 * p.hop.max(1));
    let mut grouped = vec![false; fm.rows];
    for g in groups {
        let rows = g.start.min(fm.rows)..g.end.min(fm.rows);
        let inner = interior(&rows, edge);
        let own = fm.data[inner.start * cols..inner.end * cols]
            .iter()
            .copied()
            .fold(f32::NEG_INFINITY, f32::max);
        clamp_below(&mut fm.data[rows.start * cols..rows.end * cols], own - 80.0);
        grouped[rows].fill(true);
    }
    for (t, _) in grouped.iter().enumerate().filter(|(_, &g)| !g) {
        clamp_below(&mut fm.data[t * cols..(t + 1) * cols], max - 80.0);
    }
}

/// `out[k * stride + t] = dct[k, :] . frames[t, :]` for the frames `range` of the frames-major
/// `frames` (`dct.cols` values a frame): coefficient-major output with room for `stride` frames
/// a row. Frames go four at a time from `range.start`, the rest one at a time, so a frame's
/// coefficients are the same to the bit however the frames are cut into ranges whose starts are
/// multiples of 4.
fn dct_frames(frames: &[f32], dct: &Matrix, range: Range<usize>, out: &mut [f32], stride: usize) {
    let mut t0 = range.start;
    #[cfg(target_arch = "x86_64")]
    if crate::matrix::has_avx2() && dct.cols.is_multiple_of(8) {
        // SAFETY: AVX2 and FMA are present (checked just above).
        t0 = unsafe { dct_frames_avx2(frames, dct, range.clone(), out, stride) };
    }
    dct_frames_from(frames, dct, t0..range.end, out, stride);
}

avx2_fn! {
    /// [`dct_frames`] one frame at a time.
    fn dct_frames_from(frames: &[f32], dct: &Matrix, range: Range<usize>, out: &mut [f32], stride: usize) {
        let cols = dct.cols;
        for t in range {
            let frame = &frames[t * cols..(t + 1) * cols];
            for k in 0..dct.rows {
                out[k * stride + t] = dot8(dct.row(k), frame);
            }
        }
    }
}

/// [`dct_frames`] four frames and two coefficients at a time: each DCT row is loaded once per
/// four frames and each frame once per two rows, and the eight sums are independent, so the
/// FMAs overlap instead of waiting on one another. Every sum is accumulated in the same order
/// as one at a time would be. Needs `dct.cols` a multiple of 8. Returns the first frame it
/// left out.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dct_frames_avx2(
    frames: &[f32],
    dct: &Matrix,
    range: Range<usize>,
    out: &mut [f32],
    stride: usize,
) -> usize {
    use std::arch::x86_64::*;
    let len = dct.cols;
    /// The four frames' sums of `acc` (one 256-bit accumulator per frame) into `out[at..at + 4]`.
    #[target_feature(enable = "avx2,fma")]
    fn store4(acc: &[__m256; 4], out: &mut [f32], at: usize) {
        // (a0 a0 a1 a1 | ...) pairs, then one sum per frame in each 128-bit half.
        let h = _mm256_hadd_ps(
            _mm256_hadd_ps(acc[0], acc[1]),
            _mm256_hadd_ps(acc[2], acc[3]),
        );
        let s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
        let dst = &mut out[at..at + 4];
        // SAFETY: `dst` holds exactly four floats.
        unsafe { _mm_storeu_ps(dst.as_mut_ptr(), s) };
    }
    let mut t = range.start;
    while t + 4 <= range.end {
        let f: [&[f32]; 4] = std::array::from_fn(|j| &frames[(t + j) * len..(t + j + 1) * len]);
        let mut k = 0;
        while k < dct.rows {
            let pair = k + 1 < dct.rows;
            let (d0, d1) = (dct.row(k), dct.row(if pair { k + 1 } else { k }));
            let mut acc = [[_mm256_setzero_ps(); 4]; 2];
            let mut i = 0;
            while i + 8 <= len {
                // SAFETY: i + 8 <= len for every load, and all six rows have `len` values.
                unsafe {
                    let (a, b) = (
                        _mm256_loadu_ps(d0.as_ptr().add(i)),
                        _mm256_loadu_ps(d1.as_ptr().add(i)),
                    );
                    for j in 0..4 {
                        let x = _mm256_loadu_ps(f[j].as_ptr().add(i));
                        acc[0][j] = _mm256_fmadd_ps(a, x, acc[0][j]);
                        acc[1][j] = _mm256_fmadd_ps(b, x, acc[1][j]);
                    }
                }
                i += 8;
            }
            store4(&acc[0], out, k * stride + t);
            if pair {
                store4(&acc[1], out, (k + 1) * stride + t);
            }
            k += 2;
        }
        t += 4;
    }
    t
}

/// MFCCs computed while the signal arrives: [`mfcc_of_mel_frames`] without groups, the same to
/// the bit, but each complete group of four mel frames is turned into dB and its coefficients as
/// soon as it is there, so that with two threads ([`crate::stream_mel::mfcc_of_stream`]) that
/// work overlaps the decoding instead of following it. The dB floor (80 dB below the loudest
/// bin of the whole recording) is only known at the end; groups with a bin below it are floored
/// then and computed again.
pub struct MfccStream {
    mel: MelStream,
    dct: Matrix,
    /// Frames whose dB values and coefficients are computed: a multiple of 4.
    done: usize,
    /// The loudest dB value of those frames.
    max: f32,
    /// Each computed group's quietest dB value.
    group_min: Vec<f32>,
    coeffs: Coeffs,
}

/// Coefficients, coefficient-major, with room for `stride` frames a row: the frames the stream
/// expects, more if more come.
struct Coeffs {
    data: Vec<f32>,
    stride: usize,
}

impl Coeffs {
    /// Room for `stride` frames in each of the `rows` rows, the first `kept` frames of each kept.
    fn restride(&mut self, rows: usize, kept: usize, stride: usize) {
        let mut data = vec![0.0; rows * stride];
        for (k, row) in data.chunks_exact_mut(stride.max(1)).enumerate() {
            let from = k * self.stride;
            row[..kept].copy_from_slice(&self.data[from..from + kept]);
        }
        (self.data, self.stride) = (data, stride);
    }
}

impl MfccStream {
    /// A stream of `n_mfcc` coefficients (at most `p.n_mels`) a frame for `p`, with room for
    /// about `expected_len` samples.
    pub fn new(p: &MelParams, n_mfcc: usize, expected_len: usize) -> Self {
        let mel = MelStream::new(p, expected_len);
        let n_mels = mel.n_bands();
        let n_mfcc = n_mfcc.min(n_mels);
        let stride = crate::stft::n_frames(expected_len, p.n_fft, p.hop);
        MfccStream {
            mel,
            dct: dct_matrix(n_mfcc, n_mels),
            done: 0,
            max: f32::NEG_INFINITY,
            group_min: Vec::new(),
            coeffs: Coeffs {
                data: vec![0.0; n_mfcc * stride],
                stride,
            },
        }
    }

    /// Appends `piece` to the signal.
    pub fn push(&mut self, piece: &[f32]) {
        self.mel.push(piece);
        let (cols, done) = (self.dct.cols, self.done);
        let rows = self.mel.rows_mut();
        let ready = rows.len() / cols.max(1) / 4 * 4;
        if ready <= done || cols == 0 {
            return;
        }
        if ready > self.coeffs.stride {
            let stride = ready.max(2 * self.coeffs.stride);
            self.coeffs.restride(self.dct.rows, done, stride);
        }
        let fresh = &mut rows[done * cols..ready * cols];
        self.max = self.max.max(to_db_in_place(fresh, 1e-10, 0.0));
        self.group_min.extend(
            fresh
                .chunks(4 * cols)
                .map(|g| g.iter().copied().fold(f32::INFINITY, f32::min)),
        );
        let stride = self.coeffs.stride;
        dct_frames(rows, &self.dct, done..ready, &mut self.coeffs.data, stride);
        self.done = ready;
    }

    /// The MFCCs (`n_mfcc x frames`), now that the signal has ended.
    pub fn finish(self) -> Matrix {
        let MfccStream {
            mel,
            dct,
            done,
            max,
            group_min,
            mut coeffs,
        } = self;
        let mut fm = mel.finish();
        let (cols, n_mfcc, n) = (dct.cols, dct.rows, fm.rows);
        if n != coeffs.stride {
            coeffs.restride(n_mfcc, done, n);
        }
        let rest = &mut fm.data[done * cols..];
        let floor = max.max(to_db_in_place(rest, 1e-10, 0.0)) - 80.0;
        clamp_below(rest, floor);
        for (g, _) in group_min.iter().enumerate().filter(|(_, &m)| m < floor) {
            let frames = 4 * g..4 * (g + 1);
            clamp_below(&mut fm.data[frames.start * cols..frames.end * cols], floor);
            dct_frames(&fm.data, &dct, frames, &mut coeffs.data, n);
        }
        dct_frames(&fm.data, &dct, done..n, &mut coeffs.data, n);
        Matrix {
            rows: n_mfcc,
            cols: n,
            data: coeffs.data,
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
    fn a_group_is_floored_below_its_own_loudest_bin() {
        // A loud tone, then the same tone 60 dB softer, each 43 hops long, so frame j of the
        // soft tone alone is frame 43 + j of the whole. With one floor for the recording the
        // soft half loses what lies 80 dB below the loud half's peak; floored as a group of its
        // own it is the soft tone analysed alone.
        let p = MelParams::default();
        let n = 43 * p.hop;
        let tone = |a: f32| (0..n).map(move |i| a * (i as f32 * 0.05).sin());
        let soft: Vec<f32> = tone(1e-3).collect();
        let y: Vec<f32> = tone(1.0).chain(soft.iter().copied()).collect();
        let t = crate::stft::n_frames(y.len(), p.n_fft, p.hop);
        let alone = mfcc(&soft, &p, 20);
        let shared = mfcc(&y, &p, 20);
        let own = mfcc_floored_with(&y, &p, 20, &[0..43, 43..t], |_, _| {});
        let err = |m: &Matrix| {
            (2..alone.cols - 2)
                .flat_map(|j| (0..20).map(move |k| (k, j)))
                .map(|(k, j)| (m.get(k, 43 + j) - alone.get(k, j)).abs())
                .fold(0.0, f32::max)
        };
        assert!(err(&own) < 1e-3, "{}", err(&own));
        assert!(err(&shared) > 1.0, "{}", err(&shared));
        // The loud half, its own group, is floored as the whole recording is.
        for k in 0..20 {
            for j in 2..41 {
                assert_eq!(own.get(k, j), shared.get(k, j));
            }
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
