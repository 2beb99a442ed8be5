//! The one Adam optimiser of every network ([`crate::train`], [`crate::sequence`]): candle-nn's `AdamW` with weight decay 0, with its
//! moments reachable for checkpoints (`optimizer.safetensors`). On the CPU, with contiguous f32
//! tensors, a step updates each parameter and its moments in place, in three passes that do the
//! tensor path's f32 arithmetic in its order (bit-identical results, no allocation per batch).

use crate::error::ModelError;
use crate::kernels::{slice, slice_mut, SliceOp2};
use crate::net::Architecture;
use crate::train::FitOptions;
use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, DType, Layout, Tensor, Var};
use std::collections::HashMap;
use std::path::Path;

/// A tensor for a safetensors file: name, shape, row-major values.
pub(crate) type NamedTensor = (String, Vec<usize>, Vec<f32>);

/// Adam exactly as candle-nn's `AdamW` with weight decay 0 (the same tensor operations in the
/// same order, so training is bit-identical to it), with its moment estimates reachable so a
/// checkpoint stores them (`optimizer.safetensors`) and [`fit_resume`] restores them.
pub(crate) struct Adam {
    /// (parameter, first moment, second moment) in [`Mlp::vars`] order.
    vars: Vec<(Var, Var, Var)>,
    step_t: usize,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    /// Whether the CPU in-place path may be used (tests compare it with the tensor path).
    in_place: bool,
}

impl Adam {
    pub(crate) fn new(vars: Vec<Var>, opts: &FitOptions) -> Result<Adam, ModelError> {
        Adam::with(vars, opts.lr, opts.beta1, opts.beta2, opts.eps)
    }

    /// Adam over `vars` with these hyperparameters (the sequence networks' trainer).
    pub(crate) fn with(
        vars: Vec<Var>,
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
    ) -> Result<Adam, ModelError> {
        let vars = vars
            .into_iter()
            .map(|v| {
                let m = Var::zeros(v.shape(), v.dtype(), v.device())?;
                let s = Var::zeros(v.shape(), v.dtype(), v.device())?;
                Ok((v, m, s))
            })
            .collect::<Result<Vec<_>, ModelError>>()?;
        Ok(Adam {
            vars,
            step_t: 0,
            lr,
            beta1,
            beta2,
            eps,
            in_place: true,
        })
    }

    pub(crate) fn step(&mut self, grads: &GradStore) -> Result<(), ModelError> {
        self.step_t += 1;
        let (lr, beta1, beta2) = (self.lr, self.beta1, self.beta2);
        let scale_m = 1f64 / (1f64 - beta1.powi(self.step_t as i32));
        let scale_v = 1f64 / (1f64 - beta2.powi(self.step_t as i32));
        let fused = Fused {
            beta1: beta1 as f32,
            one_minus_beta1: (1.0 - beta1) as f32,
            beta2: beta2 as f32,
            one_minus_beta2: (1.0 - beta2) as f32,
            scale_m: scale_m as f32,
            scale_v: scale_v as f32,
            eps: self.eps as f32,
            lr: lr as f32,
        };
        for (theta, m, v) in &self.vars {
            let Some(g) = grads.get(theta) else { continue };
            if self.in_place && fused.applies(theta, g) {
                // The same f32 arithmetic in the same order as below, in place: no allocation.
                let first = SliceOp2::new("adam-moment", |m, g| first_moment(m, g, fused));
                let second = SliceOp2::new("adam-moment", |v, g| second_moment(v, g, fused));
                m.as_tensor().inplace_op2(g, &first)?;
                v.as_tensor().inplace_op2(g, &second)?;
                theta
                    .as_tensor()
                    .inplace_op3(m.as_tensor(), v.as_tensor(), &Update(fused))?;
                continue;
            }
            let next_m = ((m.as_tensor() * beta1)? + (g * (1.0 - beta1))?)?;
            let next_v = ((v.as_tensor() * beta2)? + (g.sqr()? * (1.0 - beta2))?)?;
            let m_hat = (&next_m * scale_m)?;
            let v_hat = (&next_v * scale_v)?;
            let adjusted = (m_hat / (v_hat.sqrt()? + self.eps)?)?;
            let next_theta = (theta.as_tensor() - (adjusted * lr)?)?;
            m.set(&next_m)?;
            v.set(&next_v)?;
            theta.set(&next_theta)?;
        }
        Ok(())
    }

    /// Names of the moment tensors of parameter `i` ([`Mlp::vars`] order) in
    /// `optimizer.safetensors`.
    fn names(i: usize) -> (String, String) {
        (state_name("adam.m", i), state_name("adam.v", i))
    }

    /// The moments as named f32 tensors, for `optimizer.safetensors`.
    pub(crate) fn state(&self) -> Result<Vec<NamedTensor>, ModelError> {
        let mut out = Vec::new();
        for (i, (_, m, v)) in self.vars.iter().enumerate() {
            let (mn, vn) = Adam::names(i);
            for (name, t) in [(mn, m), (vn, v)] {
                let t = t.as_tensor();
                out.push((name, t.dims().to_vec(), t.flatten_all()?.to_vec1::<f32>()?));
            }
        }
        Ok(out)
    }

    /// Restores the moments saved by [`Adam::state`] after `step_t` steps.
    pub(crate) fn restore(
        &mut self,
        path: &Path,
        tensors: &HashMap<String, Tensor>,
        step_t: usize,
    ) -> Result<(), ModelError> {
        for (i, (theta, m, v)) in self.vars.iter().enumerate() {
            let (mn, vn) = Adam::names(i);
            for (name, var) in [(mn, m), (vn, v)] {
                let t = state_tensor(path, tensors, &name, theta)?;
                var.set(&t.to_device(theta.device())?)?;
            }
        }
        self.step_t = step_t;
        Ok(())
    }
}

/// Name of parameter `i` ([`Mlp::vars`] order) among the tensors of `optimizer.safetensors`
/// that start with `prefix` (the Adam moments', the live weights' of [`crate::average`]).
pub(crate) fn state_name(prefix: &str, i: usize) -> String {
    let (k, b) = Architecture::tensor_names(i / 2);
    format!("{prefix}.{}", if i.is_multiple_of(2) { k } else { b })
}

/// Tensor `name` of the optimizer state read from `path`, checked to be f32 and shaped like
/// the parameter `like`.
pub(crate) fn state_tensor<'a>(
    path: &Path,
    tensors: &'a HashMap<String, Tensor>,
    name: &str,
    like: &Var,
) -> Result<&'a Tensor, ModelError> {
    let bad = |msg: String| ModelError::Model {
        path: path.to_path_buf(),
        msg,
    };
    let t = tensors
        .get(name)
        .ok_or_else(|| bad(format!("optimizer tensor '{name}' is missing")))?;
    if t.dims() != like.dims() || t.dtype() != DType::F32 {
        return Err(bad(format!(
            "optimizer tensor '{name}' is {:?} {:?}, expected F32 {:?}",
            t.dtype(),
            t.dims(),
            like.dims()
        )));
    }
    Ok(t)
}

/// The step's constants, as the tensor path rounds them to f32.
#[derive(Clone, Copy)]
struct Fused {
    beta1: f32,
    one_minus_beta1: f32,
    beta2: f32,
    one_minus_beta2: f32,
    scale_m: f32,
    scale_v: f32,
    eps: f32,
    lr: f32,
}

impl Fused {
    /// Whether the in-place path applies: CPU, f32 and contiguous parameter and gradient.
    fn applies(&self, theta: &Var, g: &Tensor) -> bool {
        theta.device().is_cpu()
            && theta.dtype() == DType::F32
            && g.dtype() == DType::F32
            && theta.is_contiguous()
            && g.is_contiguous()
            && g.dims() == theta.dims()
    }
}

/// m = m * beta1 + g * (1 - beta1), in place.
fn first_moment(m: &mut [f32], g: &[f32], f: Fused) -> candle_core::Result<()> {
    for (m, &g) in m.iter_mut().zip(g) {
        // candle's affine is x * mul + add (add = 0 here).
        *m = (*m * f.beta1 + 0.0) + (g * f.one_minus_beta1 + 0.0);
    }
    Ok(())
}

/// v = v * beta2 + g^2 * (1 - beta2), in place.
fn second_moment(v: &mut [f32], g: &[f32], f: Fused) -> candle_core::Result<()> {
    for (v, &g) in v.iter_mut().zip(g) {
        *v = (*v * f.beta2 + 0.0) + ((g * g) * f.one_minus_beta2 + 0.0);
    }
    Ok(())
}

/// theta = theta - (m * scale_m) / (sqrt(v * scale_v) + eps) * lr, in place.
struct Update(Fused);

impl candle_core::InplaceOp3 for Update {
    fn name(&self) -> &'static str {
        "adam-update"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<()> {
        let f = self.0;
        let (m, v) = (slice(s2, l2)?, slice(s3, l3)?);
        let theta = slice_mut(s1, l1)?;
        for ((t, &m), &v) in theta.iter_mut().zip(m).zip(v) {
            let m_hat = m * f.scale_m + 0.0;
            let v_hat = v * f.scale_v + 0.0;
            let adjusted = m_hat / ((v_hat.sqrt() * 1.0) + f.eps);
            *t -= adjusted * f.lr + 0.0;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// The in-place CPU step gives the tensor path's parameters and moments bit for bit.
    #[test]
    fn the_in_place_step_equals_the_tensor_path() {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (64, 33), &dev).unwrap();
        let init = Tensor::randn(0f32, 1.0, (33, 7), &dev).unwrap();
        let run = |in_place: bool| {
            let w = Var::from_tensor(&init).unwrap();
            let mut opt = Adam::new(vec![w.clone()], &FitOptions::default()).unwrap();
            opt.in_place = in_place;
            for _ in 0..5 {
                let loss = x
                    .matmul(w.as_tensor())
                    .unwrap()
                    .tanh()
                    .unwrap()
                    .sum_all()
                    .unwrap();
                opt.step(&loss.backward().unwrap()).unwrap();
            }
            let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let (_, m, v) = &opt.vars[0];
            (
                flat(w.as_tensor()),
                flat(m.as_tensor()),
                flat(v.as_tensor()),
            )
        };
        let (fused, tensors) = (run(true), run(false));
        assert_ne!(
            fused.0,
            init.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        );
        assert_eq!(fused, tensors);
    }
}
