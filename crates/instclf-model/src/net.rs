//! The dense network: `n_features -> Dense(h1, act) -> ... -> Dense(n_classes)` with logits out
//! (softmax applied by the loss and by prediction). Keras-style initialisation (Glorot-uniform
//! kernels, zero biases) from a seeded RNG, so the same seed on the same device gives
//! bit-identical weights. Kernels are stored `[in, out]` as in Keras.

use crate::error::ModelError;
use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var, D};
use serde::{Deserialize, Serialize};

/// Hidden-layer activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Sigmoid,
    Relu,
}

impl std::str::FromStr for Activation {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        match s.to_ascii_lowercase().as_str() {
            "sigmoid" => Ok(Activation::Sigmoid),
            "relu" => Ok(Activation::Relu),
            _ => Err(ModelError::Invalid(format!(
                "unknown activation '{s}' (expected sigmoid or relu)"
            ))),
        }
    }
}

impl std::fmt::Display for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Activation::Sigmoid => "sigmoid",
            Activation::Relu => "relu",
        })
    }
}

/// The shape of a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Architecture {
    pub n_features: usize,
    /// Sizes of the hidden layers (the seed model: `[256]`).
    pub hidden: Vec<usize>,
    pub n_classes: usize,
    pub activation: Activation,
}

impl Architecture {
    /// Checks that every size is positive.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.n_features == 0 || self.n_classes == 0 || self.hidden.contains(&0) {
            return Err(ModelError::Invalid(format!(
                "invalid architecture: {} features, hidden {:?}, {} classes (sizes must be > 0)",
                self.n_features, self.hidden, self.n_classes
            )));
        }
        Ok(())
    }

    /// `(in, out)` sizes of each dense layer, input to output.
    pub fn layer_sizes(&self) -> Vec<(usize, usize)> {
        let mut sizes = Vec::with_capacity(self.hidden.len() + 1);
        let mut prev = self.n_features;
        for &h in self.hidden.iter().chain(std::iter::once(&self.n_classes)) {
            sizes.push((prev, h));
            prev = h;
        }
        sizes
    }

    /// Names of the weight tensors of layer `i`.
    pub fn tensor_names(i: usize) -> (String, String) {
        (format!("dense{i}.kernel"), format!("dense{i}.bias"))
    }
}

/// One dense layer: kernel `[in, out]`, bias `[out]`.
#[derive(Debug, Clone)]
pub struct Dense {
    pub kernel: Var,
    pub bias: Var,
}

/// A multi-layer perceptron with its weights on one device.
#[derive(Debug, Clone)]
pub struct Mlp {
    pub arch: Architecture,
    pub layers: Vec<Dense>,
}

impl Mlp {
    /// A freshly initialised network (Glorot-uniform kernels, zero biases).
    pub fn new(arch: &Architecture, seed: u64, device: &Device) -> Result<Mlp, ModelError> {
        use rand::{Rng, SeedableRng};
        arch.validate()?;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut layers = Vec::new();
        for (fan_in, fan_out) in arch.layer_sizes() {
            let limit = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
            let w: Vec<f32> = (0..fan_in * fan_out)
                .map(|_| rng.random_range(-limit..limit))
                .collect();
            let kernel = Var::from_tensor(&Tensor::from_vec(w, (fan_in, fan_out), device)?)?;
            let bias = Var::zeros(fan_out, DType::F32, device)?;
            layers.push(Dense { kernel, bias });
        }
        Ok(Mlp {
            arch: arch.clone(),
            layers,
        })
    }

    /// A network from given kernel and bias tensors (shapes are checked by the caller).
    pub fn from_tensors(
        arch: &Architecture,
        tensors: Vec<(Tensor, Tensor)>,
    ) -> Result<Mlp, ModelError> {
        let layers = tensors
            .into_iter()
            .map(|(k, b)| {
                Ok(Dense {
                    kernel: Var::from_tensor(&k)?,
                    bias: Var::from_tensor(&b)?,
                })
            })
            .collect::<Result<Vec<_>, ModelError>>()?;
        Ok(Mlp {
            arch: arch.clone(),
            layers,
        })
    }

    /// All trainable variables.
    pub fn vars(&self) -> Vec<Var> {
        self.layers
            .iter()
            .flat_map(|l| [l.kernel.clone(), l.bias.clone()])
            .collect()
    }

    /// One training step's gradients, computed by hand (no autograd graph): for a batch `x`
    /// (`[B, n_features]`, standardised), labels `y` (`[B]`, u32) and their one-hot rows
    /// (`[B, n_classes]`, f32), returns the gradients of the mean cross-entropy with respect to
    /// every kernel and bias, the summed loss and the number of correct predictions (both
    /// scalars left on the device).
    pub fn loss_and_grads(
        &self,
        x: &Tensor,
        y: &Tensor,
        onehot: &Tensor,
    ) -> Result<(GradStore, Tensor, Tensor), ModelError> {
        let b = x.dim(0)?;
        let last = self.layers.len() - 1;
        let weights: Vec<(Tensor, Tensor)> = self
            .layers
            .iter()
            .map(|l| (l.kernel.as_tensor().detach(), l.bias.as_tensor().detach()))
            .collect();
        // Forward, keeping every layer's input.
        let mut inputs = Vec::with_capacity(self.layers.len());
        let mut h = x.clone();
        for (i, (k, bias)) in weights.iter().enumerate() {
            let z = h.matmul(k)?.broadcast_add(bias)?;
            inputs.push(h);
            h = if i < last {
                match self.arch.activation {
                    Activation::Sigmoid => candle_nn::ops::sigmoid(&z)?,
                    Activation::Relu => z.relu()?,
                }
            } else {
                z
            };
        }
        let logits = h;
        let lsm = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
        let loss_sum = (lsm.mul(onehot)?.sum_all()? * -1.0)?;
        let correct = logits
            .argmax(D::Minus1)?
            .eq(y)?
            .to_dtype(DType::F32)?
            .sum_all()?;
        // Backward: d(mean CE)/d logits = (softmax - onehot) / B.
        let mut g = ((lsm.exp()? - onehot)? * (1.0 / b as f64))?;
        let mut grads = GradStore::default();
        for i in (0..self.layers.len()).rev() {
            let a = &inputs[i];
            grads.insert(self.layers[i].kernel.as_tensor(), a.t()?.matmul(&g)?);
            grads.insert(self.layers[i].bias.as_tensor(), g.sum(0)?);
            if i > 0 {
                let da = g.matmul(&weights[i].0.t()?)?;
                g = match self.arch.activation {
                    // sigmoid'(z) = a (1 - a), with a the layer's output
                    Activation::Sigmoid => (da * a)?.mul(&a.affine(-1.0, 1.0)?)?,
                    Activation::Relu => da.mul(&a.gt(0f32)?.to_dtype(DType::F32)?)?,
                };
            }
        }
        Ok((grads, loss_sum, correct))
    }

    /// Logits for a `[rows, n_features]` batch of standardised features.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor, ModelError> {
        let mut h = x.clone();
        let last = self.layers.len().saturating_sub(1);
        for (i, l) in self.layers.iter().enumerate() {
            h = h
                .matmul(l.kernel.as_tensor())?
                .broadcast_add(l.bias.as_tensor())?;
            if i < last {
                h = match self.arch.activation {
                    Activation::Sigmoid => candle_nn::ops::sigmoid(&h)?,
                    Activation::Relu => h.relu()?,
                };
            }
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glorot_init_is_seeded_and_bounded() {
        let arch = Architecture {
            n_features: 12,
            hidden: vec![8, 6],
            n_classes: 3,
            activation: Activation::Relu,
        };
        let a = Mlp::new(&arch, 7, &Device::Cpu).unwrap();
        let b = Mlp::new(&arch, 7, &Device::Cpu).unwrap();
        let c = Mlp::new(&arch, 8, &Device::Cpu).unwrap();
        let w = |m: &Mlp| {
            m.layers[0]
                .kernel
                .as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        assert_eq!(w(&a), w(&b));
        assert_ne!(w(&a), w(&c));
        let limit = (6.0f32 / 20.0).sqrt();
        assert!(w(&a).iter().all(|v| v.abs() <= limit));
        assert_eq!(a.layers.len(), 3);
        assert_eq!(a.layers[2].kernel.dims(), &[6, 3]);
        let bias = a.layers[1].bias.as_tensor().to_vec1::<f32>().unwrap();
        assert!(bias.iter().all(|&v| v == 0.0));
        let x = Tensor::zeros((5, 12), DType::F32, &Device::Cpu).unwrap();
        assert_eq!(a.forward(&x).unwrap().dims(), &[5, 3]);
        assert!("tanh".parse::<Activation>().is_err());
    }

    #[test]
    fn hand_written_gradients_match_autograd() {
        for act in [Activation::Sigmoid, Activation::Relu] {
            let arch = Architecture {
                n_features: 7,
                hidden: vec![9, 5],
                n_classes: 4,
                activation: act,
            };
            let net = Mlp::new(&arch, 3, &Device::Cpu).unwrap();
            let xs: Vec<f32> = (0..6 * 7)
                .map(|i| ((i * 37 % 11) as f32 - 5.0) / 3.0)
                .collect();
            let x = Tensor::from_vec(xs, (6, 7), &Device::Cpu).unwrap();
            let yv = [0u32, 1, 2, 3, 1, 0];
            let y = Tensor::new(&yv, &Device::Cpu).unwrap();
            let mut oh = vec![0f32; 24];
            for (r, &c) in yv.iter().enumerate() {
                oh[r * 4 + c as usize] = 1.0;
            }
            let onehot = Tensor::from_vec(oh, (6, 4), &Device::Cpu).unwrap();
            let (grads, loss_sum, _) = net.loss_and_grads(&x, &y, &onehot).unwrap();
            let loss = candle_nn::loss::cross_entropy(&net.forward(&x).unwrap(), &y).unwrap();
            let auto = loss.backward().unwrap();
            let l1 = loss_sum.to_scalar::<f32>().unwrap() / 6.0;
            assert!((l1 - loss.to_scalar::<f32>().unwrap()).abs() < 1e-5);
            for v in net.vars() {
                let a = auto
                    .get(v.as_tensor())
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap();
                let h = grads
                    .get(v.as_tensor())
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap();
                for (p, q) in a.iter().zip(&h) {
                    assert!((p - q).abs() < 1e-5, "{act}: {p} vs {q}");
                }
            }
        }
    }
}
