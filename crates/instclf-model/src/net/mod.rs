//! The dense network: `n_features -> Dense(h1, act) -> ... -> Dense(n_classes)` with logits out
//! (softmax applied by the loss and by prediction), optionally with a 1-D convolution over a
//! window of the input (a note's frames, [`Conv`]) whose globally pooled filters join the first
//! dense layer's input, or with a GRU over that window ([`crate::gru`]) whose last state joins
//! it. Keras-style initialisation (Glorot-uniform
//! kernels, zero biases) from a seeded RNG, so the same seed on the same device gives
//! bit-identical weights. Kernels are stored `[in, out]` as in Keras.

use crate::error::ModelError;
use crate::gru::{Gru, GruCache, GruWeights};
use crate::kernels;
use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var, D};
use serde::{Deserialize, Serialize};

/// Batches of at least this many rows are computed in two halves ([`Mlp::loss_and_grads`]).
pub const SPLIT_ROWS: usize = 64;

/// Kernel and bias gradients of each layer, input to output.
type LayerGrads = Vec<(Tensor, Tensor)>;

/// Products of fewer multiply-adds than this (`m * n * k`) run on one thread in gemm.
pub const GEMM_THREADING_THRESHOLD: usize = 1 << 24;

/// Raises gemm's threading threshold (48 * 48 * 256 by default) to [`GEMM_THREADING_THRESHOLD`]
/// for this process: a training batch's products are small, and splitting each over threads
/// cost more than it gained (seed MLP, batch 128, 2 cores: 0.28 s an epoch on two threads
/// against 0.20 s on one); [`Mlp::loss_and_grads`] runs the batch's halves in parallel instead.
/// Large products (validation chunks, big batches) are still threaded.
pub fn keep_small_products_on_one_thread() {
    if gemm::get_threading_threshold() < GEMM_THREADING_THRESHOLD {
        gemm::set_threading_threshold(GEMM_THREADING_THRESHOLD);
    }
}

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

/// A 1-D convolution over a window at the end of the input: its last `steps * channels` values,
/// `steps` frames of `channels` values each, time-major (a note's time profile,
/// `instclf_audio::pool::NotePool`). Every run of `kernel` consecutive frames goes through one
/// shared map to `filters` values and the network's activation; their mean over the
/// [`Conv::positions`] (global average pooling) takes the window's place in the first dense
/// layer's input, after the rest of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conv {
    pub steps: usize,
    pub channels: usize,
    pub kernel: usize,
    pub filters: usize,
}

impl Conv {
    /// Positions of the kernel in the window.
    pub fn positions(&self) -> usize {
        self.steps + 1 - self.kernel
    }

    /// Values under the kernel at one position.
    pub fn patch(&self) -> usize {
        self.kernel * self.channels
    }

    /// Length of the window (the last inputs).
    pub fn window(&self) -> usize {
        self.steps * self.channels
    }

    /// The kernel's inputs at every position of every row of `x` (`[rows, n_features]`):
    /// `[rows * positions, patch]`, row-major by input row then position.
    fn patches(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (rows, nf) = x.dims2()?;
        let start = nf - self.window();
        let parts = (0..self.positions())
            .map(|p| x.narrow(1, start + p * self.channels, self.patch()))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Tensor::stack(&parts, 1)?.reshape((rows * self.positions(), self.patch()))
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
    /// A convolution over the last inputs (none: a plain MLP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conv: Option<Conv>,
    /// A GRU over the last inputs (none: a plain MLP); not with a convolution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gru: Option<Gru>,
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
        if let Some(c) = &self.conv {
            if c.channels == 0 || c.filters == 0 || c.kernel == 0 || c.kernel > c.steps {
                return Err(ModelError::Invalid(format!(
                    "invalid convolution: kernel {} over {} steps of {} channels, {} filters \
                     (sizes must be > 0, the kernel at most the steps)",
                    c.kernel, c.steps, c.channels, c.filters
                )));
            }
            if c.window() > self.n_features {
                return Err(ModelError::Invalid(format!(
                    "the convolution's window ({} steps x {} channels) is longer than the {} \
                     input features",
                    c.steps, c.channels, self.n_features
                )));
            }
        }
        if let Some(g) = &self.gru {
            g.validate()?;
            if self.conv.is_some() {
                return Err(ModelError::Invalid(
                    "a network has a convolution or a GRU over its window, not both".into(),
                ));
            }
            if g.window() > self.n_features {
                return Err(ModelError::Invalid(format!(
                    "the GRU's window ({} steps x {} channels) is longer than the {} input \
                     features",
                    g.steps, g.channels, self.n_features
                )));
            }
        }
        Ok(())
    }

    /// Inputs of the first dense layer: the features outside the front's window and the pooled
    /// filters or the GRU's last state, or all the features.
    pub fn dense_inputs(&self) -> usize {
        match (&self.conv, &self.gru) {
            (Some(c), _) => self.n_features - c.window() + c.filters,
            (None, Some(g)) => self.n_features - g.window() + g.units,
            (None, None) => self.n_features,
        }
    }

    /// Length of the window the convolution or the GRU reads (0: none).
    fn front_window(&self) -> usize {
        match (&self.conv, &self.gru) {
            (Some(c), _) => c.window(),
            (None, Some(g)) => g.window(),
            (None, None) => 0,
        }
    }

    /// `(in, out)` sizes of each dense layer, input to output.
    pub fn layer_sizes(&self) -> Vec<(usize, usize)> {
        let mut sizes = Vec::with_capacity(self.hidden.len() + 1);
        let mut prev = self.dense_inputs();
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

    /// Names of the convolution's weight tensors (kernel `[patch, filters]`, bias `[filters]`).
    pub const CONV_TENSORS: (&'static str, &'static str) = ("conv.kernel", "conv.bias");
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
    /// The convolution's kernel `[patch, filters]` and bias, with [`Architecture::conv`].
    pub conv: Option<Dense>,
    /// The GRU's weights, with [`Architecture::gru`].
    pub gru: Option<GruWeights>,
}

/// Gradients of one batch (or part): each dense layer's, the front's (the convolution's one
/// pair, the GRU's two), the summed loss and the correct count.
type PartGrads = (LayerGrads, LayerGrads, Tensor, Tensor);

/// The front's weights as detached (kernel, bias) pairs: none, the convolution's, the GRU's.
type FrontWeights = Vec<(Tensor, Tensor)>;

/// What the front's gradients need from the forward pass.
enum FrontCache {
    None,
    /// The convolution's patches and activations (`[rows * positions, ...]`).
    Conv(Tensor, Tensor),
    Gru(GruCache),
}

/// Glorot-uniform `[fan_in, fan_out]` kernel and zero bias from `rng`.
fn glorot(
    fan_in: usize,
    fan_out: usize,
    rng: &mut rand::rngs::StdRng,
    device: &Device,
) -> Result<Dense, ModelError> {
    use rand::Rng;
    let limit = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
    let w: Vec<f32> = (0..fan_in * fan_out)
        .map(|_| rng.random_range(-limit..limit))
        .collect();
    let kernel = Var::from_tensor(&Tensor::from_vec(w, (fan_in, fan_out), device)?)?;
    let bias = Var::zeros(fan_out, DType::F32, device)?;
    Ok(Dense { kernel, bias })
}

impl Mlp {
    /// A freshly initialised network (Glorot-uniform kernels, zero biases).
    /// The dense layers are drawn first, so a network without a convolution has the weights
    /// it always had for its seed.
    pub fn new(arch: &Architecture, seed: u64, device: &Device) -> Result<Mlp, ModelError> {
        use rand::SeedableRng;
        arch.validate()?;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let layers = arch
            .layer_sizes()
            .into_iter()
            .map(|(fan_in, fan_out)| glorot(fan_in, fan_out, &mut rng, device))
            .collect::<Result<Vec<_>, _>>()?;
        let conv = match &arch.conv {
            Some(c) => Some(glorot(c.patch(), c.filters, &mut rng, device)?),
            None => None,
        };
        let gru = match &arch.gru {
            Some(g) => {
                let input = glorot(g.channels, 3 * g.units, &mut rng, device)?;
                let recurrent = glorot(g.units, 3 * g.units, &mut rng, device)?;
                Some(GruWeights {
                    input: (input.kernel, input.bias),
                    recurrent: (recurrent.kernel, recurrent.bias),
                })
            }
            None => None,
        };
        Ok(Mlp {
            arch: arch.clone(),
            layers,
            conv,
            gru,
        })
    }

    /// A network from given kernel and bias tensors: the dense layers', the convolution's or
    /// the GRU's (input projection, then recurrence) when the architecture has one (shapes are
    /// checked by the caller).
    pub fn from_tensors(
        arch: &Architecture,
        tensors: Vec<(Tensor, Tensor)>,
        conv: Option<(Tensor, Tensor)>,
        gru: Option<[(Tensor, Tensor); 2]>,
    ) -> Result<Mlp, ModelError> {
        let dense = |(k, b): (Tensor, Tensor)| -> Result<Dense, ModelError> {
            Ok(Dense {
                kernel: Var::from_tensor(&k)?,
                bias: Var::from_tensor(&b)?,
            })
        };
        let layers = tensors
            .into_iter()
            .map(dense)
            .collect::<Result<Vec<_>, ModelError>>()?;
        if arch.conv.is_some() != conv.is_some() {
            return Err(ModelError::Invalid(
                "convolution weights given without a convolution, or missing".into(),
            ));
        }
        if arch.gru.is_some() != gru.is_some() {
            return Err(ModelError::Invalid(
                "GRU weights given without a GRU, or missing".into(),
            ));
        }
        let var = |(k, b): (Tensor, Tensor)| -> Result<(Var, Var), ModelError> {
            Ok((Var::from_tensor(&k)?, Var::from_tensor(&b)?))
        };
        let gru = match gru {
            Some([input, recurrent]) => Some(GruWeights {
                input: var(input)?,
                recurrent: var(recurrent)?,
            }),
            None => None,
        };
        Ok(Mlp {
            arch: arch.clone(),
            layers,
            conv: conv.map(dense).transpose()?,
            gru,
        })
    }

    /// The front's variables as (kernel, bias) pairs: the convolution's, or the GRU's.
    fn front_vars(&self) -> Vec<(Var, Var)> {
        let conv = self.conv.iter().map(|l| (l.kernel.clone(), l.bias.clone()));
        let gru = self
            .gru
            .iter()
            .flat_map(|g| [g.input.clone(), g.recurrent.clone()]);
        conv.chain(gru).collect()
    }

    /// The front's weights, detached.
    fn front_weights(&self) -> FrontWeights {
        self.front_vars()
            .iter()
            .map(|(k, b)| (k.as_tensor().detach(), b.as_tensor().detach()))
            .collect()
    }

    /// All trainable variables: the dense layers', then the front's.
    pub fn vars(&self) -> Vec<Var> {
        self.layers
            .iter()
            .map(|l| (l.kernel.clone(), l.bias.clone()))
            .chain(self.front_vars())
            .flat_map(|(k, b)| [k, b])
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
        self.loss_and_grads_with(x, y, onehot, true, false)
    }

    /// [`Mlp::loss_and_grads`] for targets whose rows need not sum to 1: a row scaled by `w`
    /// weighs its example `w` times in the loss and the gradients (class-balanced training).
    pub fn loss_and_grads_weighted(
        &self,
        x: &Tensor,
        y: &Tensor,
        targets: &Tensor,
    ) -> Result<(GradStore, Tensor, Tensor), ModelError> {
        self.loss_and_grads_with(x, y, targets, true, true)
    }

    /// [`Mlp::loss_and_grads`], with the fused CPU kernels ([`crate::kernels`]) or without. On
    /// the CPU a batch of [`SPLIT_ROWS`] rows or more is computed as two halves whose gradients
    /// are added, on two threads when rayon has them: the same arithmetic whatever the thread
    /// count, so a seed gives the same weights on every machine.
    fn loss_and_grads_with(
        &self,
        x: &Tensor,
        y: &Tensor,
        onehot: &Tensor,
        fused: bool,
        weighted: bool,
    ) -> Result<(GradStore, Tensor, Tensor), ModelError> {
        let b = x.dim(0)?;
        let weights: Vec<(Tensor, Tensor)> = self
            .layers
            .iter()
            .map(|l| (l.kernel.as_tensor().detach(), l.bias.as_tensor().detach()))
            .collect();
        let front = self.front_weights();
        let part = |start: usize, len: usize| {
            self.part_grads(
                &weights,
                &front,
                &x.narrow(0, start, len)?,
                &y.narrow(0, start, len)?,
                &onehot.narrow(0, start, len)?,
                b,
                fused,
                weighted,
            )
        };
        let (layer_grads, front_grads, loss_sum, correct) = if b >= SPLIT_ROWS
            && x.device().is_cpu()
        {
            let h = b / 2;
            let (first, second) = if rayon::current_num_threads() > 1 {
                // The second half on a pool thread, the first here: one thread woken per batch.
                // (The scope ends after its task, so `second` is always overwritten.)
                let mut second = Err(ModelError::Invalid("a batch half was not computed".into()));
                let first = rayon::in_place_scope(|s| {
                    s.spawn(|_| second = part(h, b - h));
                    part(0, h)
                });
                (first, second)
            } else {
                (part(0, h), part(h, b - h))
            };
            let ((g0, v0, l0, c0), (g1, v1, l1, c1)) = (first?, second?);
            let add = |((k0, b0), (k1, b1)): ((Tensor, Tensor), (Tensor, Tensor))| {
                Ok::<_, ModelError>(((k0 + k1)?, (b0 + b1)?))
            };
            let summed = g0
                .into_iter()
                .zip(g1)
                .map(add)
                .collect::<Result<Vec<_>, ModelError>>()?;
            let front = v0
                .into_iter()
                .zip(v1)
                .map(add)
                .collect::<Result<Vec<_>, ModelError>>()?;
            (summed, front, (l0 + l1)?, (c0 + c1)?)
        } else {
            part(0, b)?
        };
        let mut grads = GradStore::default();
        let vars = self
            .layers
            .iter()
            .map(|l| (l.kernel.clone(), l.bias.clone()));
        for ((k, b), (gk, gb)) in vars
            .chain(self.front_vars())
            .zip(layer_grads.into_iter().chain(front_grads))
        {
            grads.insert(k.as_tensor(), gk);
            grads.insert(b.as_tensor(), gb);
        }
        Ok((grads, loss_sum, correct))
    }

    /// The first dense layer's input for rows `x`: `x` itself, or the features before the
    /// front's window followed by the convolution's pooled filters or the GRU's last state;
    /// with what the front's gradients need.
    fn front(
        &self,
        x: &Tensor,
        front: &[(Tensor, Tensor)],
        fused: bool,
    ) -> Result<(Tensor, FrontCache), ModelError> {
        let rest = || x.narrow(1, 0, self.arch.n_features - self.arch.front_window());
        if let (Some(c), [(k, bias)]) = (&self.arch.conv, front) {
            let rows = x.dim(0)?;
            let patches = c.patches(x)?;
            let a = kernels::bias_act(patches.matmul(k)?, bias, Some(self.arch.activation), fused)?;
            let pooled = a.reshape((rows, c.positions(), c.filters))?.mean(1)?;
            return Ok((
                Tensor::cat(&[&rest()?, &pooled], 1)?,
                FrontCache::Conv(patches, a),
            ));
        }
        if let (Some(g), [input, recurrent]) = (&self.arch.gru, front) {
            let (last, cache) = crate::gru::forward(g, x, &[input.clone(), recurrent.clone()])?;
            return Ok((Tensor::cat(&[&rest()?, &last], 1)?, FrontCache::Gru(cache)));
        }
        Ok((x.clone(), FrontCache::None))
    }

    /// Kernel and bias gradients of every layer (input to output) of the mean cross-entropy over
    /// a batch of `batch` rows, from `x`'s rows of it; their summed loss and correct count.
    #[allow(clippy::too_many_arguments)]
    fn part_grads(
        &self,
        weights: &[(Tensor, Tensor)],
        front: &[(Tensor, Tensor)],
        x: &Tensor,
        y: &Tensor,
        onehot: &Tensor,
        batch: usize,
        fused: bool,
        weighted: bool,
    ) -> Result<PartGrads, ModelError> {
        let last = weights.len() - 1;
        // Forward, keeping every layer's input.
        let mut inputs = Vec::with_capacity(weights.len());
        let (mut h, cache) = self.front(x, front, fused)?;
        for (i, (k, bias)) in weights.iter().enumerate() {
            let act = (i < last).then_some(self.arch.activation);
            let z = kernels::bias_act(h.matmul(k)?, bias, act, fused)?;
            inputs.push(h);
            h = z;
        }
        let logits = h;
        let lsm = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
        let loss_sum = (lsm.mul(onehot)?.sum_all()? * -1.0)?;
        let correct = logits
            .argmax(D::Minus1)?
            .eq(y)?
            .to_dtype(DType::F32)?
            .sum_all()?;
        // Backward: d(mean CE)/d logits = (softmax - onehot) / batch; for weighted targets
        // (rows summing to w), (w softmax - targets) / batch.
        let probs = if weighted {
            lsm.exp()?.broadcast_mul(&onehot.sum_keepdim(1)?)?
        } else {
            lsm.exp()?
        };
        let mut g = ((probs - onehot)? * (1.0 / batch as f64))?;
        let mut grads = Vec::with_capacity(weights.len());
        for i in (0..weights.len()).rev() {
            let a = &inputs[i];
            grads.push((a.t()?.matmul(&g)?, kernels::column_sums(&g, fused)?));
            if i > 0 {
                // sigmoid'(z) = a (1 - a), with a the layer's output
                let da = g.matmul(&weights[i].0.t()?)?;
                g = kernels::act_grad(da, a, self.arch.activation, fused)?;
            }
        }
        grads.reverse();
        // The gradient of the front's part of the first dense layer's input.
        let dfront = |width: usize| -> Result<Tensor, ModelError> {
            let start = self.arch.n_features - self.arch.front_window();
            Ok(g.matmul(&weights[0].0.t()?)?.narrow(1, start, width)?)
        };
        let front_grads = match (&self.arch.conv, &self.arch.gru, cache) {
            (Some(c), _, FrontCache::Conv(patches, a)) => {
                // The pooled filters' gradient, spread evenly over the positions they averaged.
                let rows = x.dim(0)?;
                let (p, f) = (c.positions(), c.filters);
                let da = (dfront(f)? * (1.0 / p as f64))?
                    .unsqueeze(1)?
                    .broadcast_as((rows, p, f))?
                    .contiguous()?
                    .reshape((rows * p, f))?;
                let gz = kernels::act_grad(da, &a, self.arch.activation, fused)?;
                vec![(patches.t()?.matmul(&gz)?, kernels::column_sums(&gz, fused)?)]
            }
            (_, Some(gr), FrontCache::Gru(c)) => {
                crate::gru::backward(gr, &c, &dfront(gr.units)?.contiguous()?)?.to_vec()
            }
            _ => Vec::new(),
        };
        Ok((grads, front_grads, loss_sum, correct))
    }

    /// Logits for a `[rows, n_features]` batch of standardised features, outside any gradient
    /// graph (training takes its gradients from [`Mlp::loss_and_grads`]).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor, ModelError> {
        let (mut h, _) = self.front(&x.detach(), &self.front_weights(), true)?;
        let last = self.layers.len().saturating_sub(1);
        for (i, l) in self.layers.iter().enumerate() {
            let act = (i < last).then_some(self.arch.activation);
            h = kernels::bias_act(
                h.matmul(&l.kernel.as_tensor().detach())?,
                &l.bias.as_tensor().detach(),
                act,
                true,
            )?;
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests;
