//! Fused CPU kernels of the dense network's training step and forward pass, as candle custom
//! ops: bias + activation in place on a matrix product, the activation's derivative in place on
//! the back-propagated gradient, and a bias gradient's column sums. What goes is the allocation
//! and the extra pass of each step, candle's sum over the first dimension (an integer division
//! per element) and a scalar `expf` call per sigmoid: the sigmoid here takes its exponential from
//! a polynomial that vectorises (within 1 ulp of `exp`; the same bits at every SIMD width).
//! Everything else is the tensor path's f32 arithmetic in its order, bit for bit (tests below).
//! Other devices and layouts keep the tensor path.

use crate::net::Activation;
use candle_core::{CpuStorage, DType, Layout, Shape, Tensor};

/// The f32 slice of a contiguous CPU storage.
pub(crate) fn slice<'a>(s: &'a CpuStorage, l: &Layout) -> candle_core::Result<&'a [f32]> {
    match (s, l.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((a, b))) => Ok(&v[a..b]),
        _ => candle_core::bail!("expected a contiguous f32 tensor"),
    }
}

/// The mutable f32 slice of a contiguous CPU storage.
pub(crate) fn slice_mut<'a>(
    s: &'a mut CpuStorage,
    l: &Layout,
) -> candle_core::Result<&'a mut [f32]> {
    match (s, l.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((a, b))) => Ok(&mut v[a..b]),
        _ => candle_core::bail!("expected a contiguous f32 tensor"),
    }
}

/// An in-place op on two contiguous f32 CPU tensors, as a function of their values: the first
/// is written, the second read. Every fused kernel of the training step is one of these.
pub(crate) struct SliceOp2<F>(&'static str, F);

impl<F: Fn(&mut [f32], &[f32]) -> candle_core::Result<()>> SliceOp2<F> {
    /// The op `f`, named `name` in candle's errors.
    pub(crate) fn new(name: &'static str, f: F) -> Self {
        SliceOp2(name, f)
    }
}

impl<F: Fn(&mut [f32], &[f32]) -> candle_core::Result<()>> candle_core::InplaceOp2 for SliceOp2<F> {
    fn name(&self) -> &'static str {
        self.0
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<()> {
        (self.1)(slice_mut(s1, l1)?, slice(s2, l2)?)
    }
}

/// Whether the fused kernels apply to `t`: a contiguous f32 matrix on the CPU outside any
/// gradient graph (an in-place op would drop the steps it replaces from the graph).
fn fusable(t: &Tensor) -> bool {
    t.device().is_cpu()
        && t.dtype() == DType::F32
        && t.rank() == 2
        && t.is_contiguous()
        && !t.track_op()
}

/// `act(z + bias)` for a `[rows, n]` product `z` and a `[n]` bias; `None` adds the bias only.
/// In place when `z` is a fresh contiguous CPU tensor (as a matrix product's result is).
pub(crate) fn bias_act(
    z: Tensor,
    bias: &Tensor,
    act: Option<Activation>,
    fused: bool,
) -> candle_core::Result<Tensor> {
    if fused && fusable(&z) && bias.is_contiguous() {
        z.inplace_op2(
            bias,
            &SliceOp2::new("bias-act", |z, bias| bias_act_cpu(z, bias, act)),
        )?;
        return Ok(z);
    }
    let z = z.broadcast_add(bias)?;
    match act {
        Some(Activation::Sigmoid) => candle_nn::ops::sigmoid(&z),
        Some(Activation::Relu) => z.relu(),
        None => Ok(z),
    }
}

/// The gradient before a hidden layer's activation: `da * act'`, with `a` the layer's output
/// (sigmoid: `da * a * (1 - a)`; relu: `da * [a > 0]`). In place on `da` where it can be.
pub(crate) fn act_grad(
    da: Tensor,
    a: &Tensor,
    act: Activation,
    fused: bool,
) -> candle_core::Result<Tensor> {
    if fused && fusable(&da) && fusable(a) {
        da.inplace_op2(
            a,
            &SliceOp2::new("act-grad", |da, a| act_grad_cpu(da, a, act)),
        )?;
        return Ok(da);
    }
    match act {
        Activation::Sigmoid => (da * a)?.mul(&a.affine(-1.0, 1.0)?),
        Activation::Relu => da.mul(&a.gt(0f32)?.to_dtype(DType::F32)?),
    }
}

/// The sum over rows of a `[rows, n]` matrix (a bias gradient), `[n]`.
pub(crate) fn column_sums(g: &Tensor, fused: bool) -> candle_core::Result<Tensor> {
    if fused && fusable(g) {
        return g.apply_op1_no_bwd(&ColumnSums);
    }
    g.sum(0)
}

/// `z = act(z + bias)` row by row.
fn bias_act_cpu(z: &mut [f32], bias: &[f32], act: Option<Activation>) -> candle_core::Result<()> {
    if bias.is_empty() || !z.len().is_multiple_of(bias.len()) {
        candle_core::bail!("bias-act: {} values, bias of {}", z.len(), bias.len());
    }
    match act {
        Some(Activation::Sigmoid) => sigmoid_rows(z, bias),
        Some(Activation::Relu) => rows(z, bias, |x| x.max(0.0)),
        None => rows(z, bias, |x| x),
    }
    Ok(())
}

/// `v = f(v + b)` over each row of `z`.
#[inline(always)]
fn rows(z: &mut [f32], bias: &[f32], f: impl Fn(f32) -> f32) {
    for row in z.chunks_exact_mut(bias.len()) {
        for (v, &b) in row.iter_mut().zip(bias) {
            *v = f(*v + b);
        }
    }
}

/// `v = sigmoid(v + b)` over each row of `z`, eight lanes at a time where AVX2 is there.
fn sigmoid_rows(z: &mut [f32], bias: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        #[target_feature(enable = "avx2")]
        unsafe fn wide(z: &mut [f32], bias: &[f32]) {
            rows(z, bias, sigmoid);
        }
        // SAFETY: the CPU has AVX2 (checked above).
        unsafe { wide(z, bias) };
        return;
    }
    rows(z, bias, sigmoid);
}

/// `1 / (1 + exp(-x))` with [`exp`]; NaN stays NaN.
#[inline(always)]
pub(crate) fn sigmoid(x: f32) -> f32 {
    let s = 1.0 / (exp(-x) + 1.0);
    if x.is_nan() {
        x
    } else {
        s
    }
}

/// `e^x` for f32, as Cephes' `expf` computes it (x = n ln 2 + r, |r| <= ln 2 / 2, a degree-5
/// polynomial for e^r, then 2^n from the exponent bits), written without calls or branches so
/// that it vectorises; within 1 ulp of the exact value (0.97 at worst in the test) for
/// |x| <= 87, where the input is clamped: sigmoid is exactly 1 or below 2^-125 beyond it.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
    let x = x.clamp(-87.0, 87.0);
    let t = x * std::f32::consts::LOG2_E + ROUND;
    let n = t - ROUND;
    let k = t.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    // r = x - n ln 2, with ln 2 in two parts so that n * C1 is exact.
    let r = (x - n * 0.693_359_4) - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_66;
    p = p * r + 0.5;
    let y = (p * (r * r) + r) + 1.0;
    y * f32::from_bits(((k + 127) as u32) << 23)
}

/// `da = da * act'`, from the activation's output `a`.
fn act_grad_cpu(da: &mut [f32], a: &[f32], act: Activation) -> candle_core::Result<()> {
    if a.len() != da.len() {
        candle_core::bail!("act-grad: {} gradients for {} outputs", da.len(), a.len());
    }
    match act {
        // candle's affine(-1, 1) is a * -1 + 1, which is exactly 1 - a.
        Activation::Sigmoid => {
            for (g, &a) in da.iter_mut().zip(a) {
                *g = (*g * a) * (1.0 - a);
            }
        }
        Activation::Relu => {
            for (g, &a) in da.iter_mut().zip(a) {
                *g *= if a > 0.0 { 1.0 } else { 0.0 };
            }
        }
    }
    Ok(())
}

struct ColumnSums;

impl candle_core::CustomOp1 for ColumnSums {
    fn name(&self) -> &'static str {
        "column-sums"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (_, n) = l.shape().dims2()?;
        let g = slice(s, l)?;
        // Row by row, as candle's sum over dimension 0 adds them.
        let mut out = vec![0f32; n];
        if n > 0 {
            for row in g.chunks_exact(n) {
                for (o, &v) in out.iter_mut().zip(row) {
                    *o += v;
                }
            }
        }
        Ok((CpuStorage::F32(out), Shape::from(n)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn flat(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    }

    /// Each fused kernel gives the tensor path's values bit for bit.
    #[test]
    fn fused_kernels_equal_the_tensor_path() {
        let dev = Device::Cpu;
        let z = Tensor::randn(0f32, 3.0, (37, 19), &dev).unwrap();
        let b = Tensor::randn(0f32, 1.0, 19, &dev).unwrap();
        let da = Tensor::randn(0f32, 1.0, (37, 19), &dev).unwrap();
        for act in [
            Some(Activation::Sigmoid),
            Some(Activation::Relu),
            None::<Activation>,
        ] {
            let fused = bias_act(z.copy().unwrap(), &b, act, true).unwrap();
            let plain = bias_act(z.copy().unwrap(), &b, act, false).unwrap();
            if act == Some(Activation::Sigmoid) {
                for (f, p) in flat(&fused).iter().zip(flat(&plain)) {
                    assert!((f - p).abs() <= 2.5e-7 * p, "{f} vs {p}");
                }
                // The derivative, from the same activations, bit for bit.
                let plain = fused.copy().unwrap();
                let f = act_grad(da.copy().unwrap(), &fused, Activation::Sigmoid, true).unwrap();
                let p = act_grad(da.copy().unwrap(), &plain, Activation::Sigmoid, false).unwrap();
                assert_eq!(flat(&f), flat(&p));
                continue;
            }
            assert_eq!(flat(&fused), flat(&plain));
            if let Some(act) = act {
                let f = act_grad(da.copy().unwrap(), &fused, act, true).unwrap();
                let p = act_grad(da.copy().unwrap(), &plain, act, false).unwrap();
                assert_eq!(flat(&f), flat(&p));
                assert_ne!(flat(&f), flat(&da));
            }
        }
        // The vectorised path and the scalar one agree bit for bit.
        let mut wide: Vec<f32> = flat(&z);
        let scalar: Vec<f32> = wide.iter().map(|&x| sigmoid(x + 0.5)).collect();
        sigmoid_rows(&mut wide, &[0.5]);
        assert_eq!(wide, scalar);
        let f = column_sums(&da, true).unwrap();
        assert_eq!(f.dims(), &[19]);
        assert_eq!(flat(&f), flat(&column_sums(&da, false).unwrap()));
    }

    /// `exp` is within 1 ulp of the exact exponential at 127,000 points of the range it serves,
    /// and the sigmoid keeps its limits and NaN.
    #[test]
    fn polynomial_exp_is_within_one_ulp() {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x <= 87.0 {
            let exact = f64::from(x).exp();
            let got = f64::from(exp(x));
            // One ulp of the exact value, as an f32.
            let ulp = f64::from(f32::from_bits((exact as f32).to_bits() + 1) - exact as f32);
            worst = worst.max((got - exact).abs() / ulp);
            x += 0.001_37;
        }
        assert!(worst <= 1.0, "worst error {worst} ulp");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(sigmoid(100.0), 1.0);
        assert!(sigmoid(-100.0) < 1e-37);
        assert!(sigmoid(f32::NAN).is_nan());
        assert_eq!(sigmoid(0.0), 0.5);
    }
}
