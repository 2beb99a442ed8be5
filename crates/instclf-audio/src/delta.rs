//! Delta features, equal to `librosa.feature.delta(m, width, order, axis=-1, mode='interp')`.
//!
//! librosa calls `scipy.signal.savgol_filter(m, width, polyorder=order, deriv=order,
//! mode='interp')`. With `polyorder == deriv` the fitted polynomial's `order`-th derivative is a
//! constant, `order! * a_order` (its leading coefficient), so every output value is that
//! constant of a least-squares fit: over the centred window in the interior, and over the first
//! (last) `width` frames for the first (last) `width / 2` outputs — which is exactly what scipy's
//! `interp` mode does with `np.polyfit` on the edge windows.

use crate::matrix::avx2_fn;
use crate::Matrix;

/// Weights `c` (length `width`) such that `c . x` is `order! * a_order` of the least-squares
/// polynomial of degree `order` through `(t_j, x_j)`, `t_j = j - width / 2`.
fn leading_coefficient_weights(width: usize, order: usize) -> Vec<f64> {
    let half = (width / 2) as f64;
    let p = order + 1;
    // Gram matrix G = V^T V with V[j][k] = t_j^k; a = G^-1 V^T x, so the weights are row
    // `order` of G^-1 V^T: solve G z = e_order, then c_j = sum_k z_k t_j^k.
    let t: Vec<f64> = (0..width).map(|j| j as f64 - half).collect();
    let mut g = vec![vec![0f64; p + 1]; p];
    for (r, row) in g.iter_mut().enumerate() {
        for (c, v) in row.iter_mut().take(p).enumerate() {
            *v = t.iter().map(|&x| x.powi((r + c) as i32)).sum();
        }
        row[p] = if r == order { 1.0 } else { 0.0 };
    }
    // Gauss-Jordan elimination with partial pivoting (p is tiny).
    for col in 0..p {
        let piv = (col..p)
            .max_by(|&a, &b| g[a][col].abs().total_cmp(&g[b][col].abs()))
            .unwrap_or(col);
        g.swap(col, piv);
        let d = g[col][col];
        if d == 0.0 {
            return vec![0.0; width];
        }
        for v in g[col].iter_mut() {
            *v /= d;
        }
        let pivot_row = g[col].clone();
        for (r, row) in g.iter_mut().enumerate() {
            let f = row[col];
            if r != col && f != 0.0 {
                for (v, pv) in row.iter_mut().zip(&pivot_row) {
                    *v -= f * pv;
                }
            }
        }
    }
    let z: Vec<f64> = g.iter().map(|row| row[p]).collect();
    let fact: f64 = (1..=order).map(|k| k as f64).product();
    t.iter()
        .map(|&x| {
            fact * z
                .iter()
                .enumerate()
                .map(|(k, zk)| zk * x.powi(k as i32))
                .sum::<f64>()
        })
        .collect()
}

/// The `order`-th delta of `m` along its columns (frames), same shape as `m`.
///
/// `width` must be odd and at least 3 (librosa uses 9) and larger than `order`. librosa refuses
/// inputs with fewer frames than `width`; here the width is shrunk to the largest odd value that
/// fits instead (and deltas of fewer than 3 frames, or with invalid parameters, are zero), so
/// very short recordings still get features.
pub fn delta(m: &Matrix, width: usize, order: usize) -> Matrix {
    let n = m.cols;
    let mut width = width.min(n);
    if width.is_multiple_of(2) {
        width = width.saturating_sub(1);
    }
    let mut out = Matrix::zeros(m.rows, n);
    if width < 3 || order >= width {
        return out;
    }
    let c = leading_coefficient_weights(width, order);
    let cf: Vec<f32> = c.iter().map(|&v| v as f32).collect();
    let half = width / 2;
    for r in 0..m.rows {
        let x = m.row(r);
        let orow = out.row_mut(r);
        // The edge windows (f64, once per row) ...
        let eval = |start: usize| -> f32 {
            c.iter()
                .zip(&x[start..start + width])
                .map(|(&w, &v)| w * v as f64)
                .sum::<f64>() as f32
        };
        orow[..half].fill(eval(0));
        orow[n - half..].fill(eval(n - width));
        // ... and the centred ones, tap by tap across all frames so it vectorises.
        interior(x, &cf, &mut orow[half..n - half]);
    }
    out
}

avx2_fn! {
    /// `out[i] = sum_j c[j] x[i + j]` for `i < out.len()` (`x.len() >= out.len() + c.len() - 1`).
    fn interior(x: &[f32], c: &[f32], out: &mut [f32]) {
        out.fill(0.0);
        let n = out.len();
        for (j, &cj) in c.iter().enumerate() {
            for (o, &v) in out.iter_mut().zip(&x[j..j + n]) {
                *o += cj * v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_delta_of_a_ramp_is_its_slope() {
        let m = Matrix::from_vec(1, 20, (0..20).map(|i| 3.0 * i as f32 + 1.0).collect()).unwrap();
        let d = delta(&m, 9, 1);
        assert!(d.data.iter().all(|&v| (v - 3.0).abs() < 1e-4));
    }

    #[test]
    fn second_delta_of_a_parabola_is_twice_its_curvature() {
        let m = Matrix::from_vec(1, 15, (0..15).map(|i| 0.5 * (i * i) as f32).collect()).unwrap();
        let d = delta(&m, 9, 2);
        assert!(
            d.data.iter().all(|&v| (v - 1.0).abs() < 1e-3),
            "{:?}",
            d.data
        );
    }

    #[test]
    fn short_inputs_shrink_the_window() {
        let m = Matrix::from_vec(1, 4, vec![0.0, 1.0, 2.0, 3.0]).unwrap();
        let d = delta(&m, 9, 1);
        assert!(d.data.iter().all(|&v| (v - 1.0).abs() < 1e-5));
        let one = Matrix::from_vec(1, 1, vec![5.0]).unwrap();
        assert_eq!(delta(&one, 9, 1).data, vec![0.0]);
    }
}
