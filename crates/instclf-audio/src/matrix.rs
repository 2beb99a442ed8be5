//! A dense row-major `f32` matrix, the currency of the feature pipeline. Spectrograms use
//! librosa's orientation: rows are bins (frequency, mel band, coefficient), columns are frames.
//! Also the small vector kernels the pipeline's inner loops share (dot products, a fast
//! `10 log10`), each compiled twice, plainly and for AVX2, and picked at run time.

/// Row-major matrix: element `(r, c)` is `data[r * cols + c]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f32>,
}

impl Matrix {
    /// A `rows x cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Matrix {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// Wraps `data` (row-major); `None` when its length is not `rows * cols`.
    pub fn from_vec(rows: usize, cols: usize, data: Vec<f32>) -> Option<Self> {
        (data.len() == rows * cols).then_some(Matrix { rows, cols, data })
    }

    pub fn get(&self, r: usize, c: usize) -> f32 {
        self.data[r * self.cols + c]
    }

    pub fn row(&self, r: usize) -> &[f32] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    pub fn row_mut(&mut self, r: usize) -> &mut [f32] {
        &mut self.data[r * self.cols..(r + 1) * self.cols]
    }

    /// The transpose (`cols x rows`), e.g. bins x frames into frames x bins.
    pub fn transpose(&self) -> Matrix {
        let mut out = Matrix::zeros(self.cols, self.rows);
        for r in 0..self.rows {
            for c in 0..self.cols {
                out.data[c * self.rows + r] = self.data[r * self.cols + c];
            }
        }
        out
    }

    /// Stacks matrices with the same number of columns on top of each other.
    pub fn vstack(parts: &[&Matrix]) -> Option<Matrix> {
        let cols = parts.first()?.cols;
        if parts.iter().any(|m| m.cols != cols) {
            return None;
        }
        let mut data = Vec::with_capacity(parts.iter().map(|m| m.data.len()).sum());
        for m in parts {
            data.extend_from_slice(&m.data);
        }
        Some(Matrix {
            rows: data.len() / cols.max(1),
            cols,
            data,
        })
    }
}

/// Whether this CPU runs the AVX2 (+FMA) copies of the kernels (checked once, then cached by
/// std).
#[inline]
pub(crate) fn has_avx2() -> bool {
    #[cfg(test)]
    if tests::FORCE_PLAIN.with(|f| f.get()) {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Defines `fn name(args) -> R { body }` whose body is compiled twice, plainly and for
/// AVX2+FMA, and runs the AVX2 copy when the CPU has it. The body may call `inline(always)` helpers.
macro_rules! avx2_fn {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn plain($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    plain($($arg),*)
                }
                if $crate::matrix::has_avx2() {
                    // SAFETY: the CPU supports AVX2 (checked at run time just above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            plain($($arg),*)
        }
    };
}
pub(crate) use avx2_fn;

/// Dot product of the common length of `a` and `b`: AVX2+FMA with two 8-lane accumulators
/// where the CPU has it, else eight scalar accumulators.
#[inline(always)]
pub(crate) fn dot8(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: AVX2 and FMA are present (checked just above).
        return unsafe { dot_avx2(a, b) };
    }
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

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut i = 0;
    // SAFETY: every load reads 8 floats at `i + 8 <= n`, inside both slices.
    unsafe {
        let mut acc0 = _mm256_setzero_ps();
        let mut acc1 = _mm256_setzero_ps();
        while i + 16 <= n {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
            acc1 = _mm256_fmadd_ps(
                _mm256_loadu_ps(pa.add(i + 8)),
                _mm256_loadu_ps(pb.add(i + 8)),
                acc1,
            );
            i += 16;
        }
        if i + 8 <= n {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
            i += 8;
        }
        let acc = _mm256_add_ps(acc0, acc1);
        let q = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
        let q = _mm_add_ps(q, _mm_movehl_ps(q, q));
        let q = _mm_add_ss(q, _mm_shuffle_ps(q, q, 1));
        let mut s = _mm_cvtss_f32(q);
        while i < n {
            s += a[i] * b[i];
            i += 1;
        }
        s
    }
}

/// `10 log10(max(x, amin))` for `x >= 0` (or NaN, which maps to `amin`), to about 1e-6 dB:
/// `log2` of the exponent plus `2 atanh(t)` with `t = (m - 1) / (m + 1)` for the mantissa `m`
/// scaled into `[sqrt(1/2), sqrt(2))`, whose odd series to `t^7` is accurate to 3e-8.
/// `amin` must be a positive normal number.
#[inline(always)]
pub(crate) fn db10(x: f32, amin: f32) -> f32 {
    const DB_PER_LN: f32 = 10.0 * std::f32::consts::LOG10_E;
    const DB_PER_OCTAVE: f32 = 10.0 * std::f32::consts::LOG10_2;
    let v = x.max(amin);
    // v > 0 and normal: split into exponent e and mantissa m in [sqrt(1/2), sqrt(2)).
    let bits = v.to_bits() as i32;
    let shifted = bits - 0x3f35_04f3; // bits of sqrt(1/2)
    let e = shifted >> 23;
    let m = f32::from_bits((bits - (e << 23)) as u32);
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let series = t * (2.0 + t2 * (2.0 / 3.0 + t2 * (2.0 / 5.0 + t2 * (2.0 / 7.0))));
    e as f32 * DB_PER_OCTAVE + series * DB_PER_LN
}

/// [`db10`] over a slice in place; returns the largest result.
#[inline(always)]
pub(crate) fn db10_slice(v: &mut [f32], amin: f32) -> f32 {
    let mut max = [f32::NEG_INFINITY; 8];
    let mut chunks = v.chunks_exact_mut(8);
    for c in &mut chunks {
        for k in 0..8 {
            c[k] = db10(c[k], amin);
            max[k] = max[k].max(c[k]);
        }
    }
    let mut m = max.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    for x in chunks.into_remainder() {
        *x = db10(*x, amin);
        m = m.max(*x);
    }
    m
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        /// Makes [`has_avx2`] answer false on this thread, to test the plain kernels.
        pub(crate) static FORCE_PLAIN: Cell<bool> = const { Cell::new(false) };
    }

    #[test]
    fn plain_kernels_agree_with_the_avx2_ones() {
        use crate::delta::delta;
        use crate::mel::{melspectrogram, MelParams};
        use crate::mfcc::mfcc;
        use crate::stft::power_spectrogram;
        let y: Vec<f32> = (0..30011)
            .map(|i| (i as f32 * 0.031).sin() * (1.0 + (i as f32 * 0.0009).cos()) + 1e-3)
            .collect();
        let p = MelParams::default();
        let run = |plain: bool| {
            FORCE_PLAIN.with(|f| f.set(plain));
            let m = mfcc(&y, &p, 40);
            let out = [
                power_spectrogram(&y, 2048, 512),
                power_spectrogram(&y, 400, 160),
                melspectrogram(&y, &p),
                delta(&m, 9, 1),
                m,
            ];
            FORCE_PLAIN.with(|f| f.set(false));
            out
        };
        let (a, b) = (run(true), run(false));
        for (x, y) in a.iter().zip(&b) {
            assert_eq!((x.rows, x.cols), (y.rows, y.cols));
            let scale = x.data.iter().fold(0f32, |m, v| m.max(v.abs()));
            for (u, v) in x.data.iter().zip(&y.data) {
                assert!((u - v).abs() <= 1e-5 * scale, "{u} vs {v} (scale {scale})");
            }
        }
    }

    #[test]
    fn transpose_moves_every_element() {
        for (rows, cols) in [(1, 1), (3, 40), (37, 17), (128, 431)] {
            let m =
                Matrix::from_vec(rows, cols, (0..rows * cols).map(|i| i as f32).collect()).unwrap();
            let t = m.transpose();
            assert_eq!((t.rows, t.cols), (cols, rows));
            for r in 0..rows {
                for c in 0..cols {
                    assert_eq!(t.get(c, r), m.get(r, c));
                }
            }
        }
    }
}
