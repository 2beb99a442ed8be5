//! Weight averaging (stochastic weight averaging, Izmailov et al., 2018): the running mean of a
//! network's weights at the end of every epoch from a given one on. Once it has begun, the mean
//! is the model that training validates, checkpoints and returns; the live weights go on
//! training, and a checkpoint keeps them beside the Adam moments (`live.*` tensors in
//! `optimizer.safetensors`) so that a resumed run continues bit for bit.

use crate::error::ModelError;
use crate::net::{Architecture, Mlp};
use crate::optim::{state_name, state_tensor, NamedTensor};
use candle_core::{Device, Tensor};
use std::collections::HashMap;
use std::path::Path;

/// The running mean of a network's weights over epochs `from..`.
pub(crate) struct Average {
    /// The first averaged epoch (1-based).
    from: usize,
    /// Epochs averaged so far.
    count: usize,
    /// The mean, as a network of its own (its variables are not the live network's).
    pub(crate) net: Mlp,
}

/// Prefix of the live weights' tensors in a checkpoint's `optimizer.safetensors`.
const LIVE: &str = "live";

impl Average {
    /// An empty mean for networks of `arch` that starts at epoch `from`.
    pub(crate) fn new(
        arch: &Architecture,
        from: usize,
        device: &Device,
    ) -> Result<Self, ModelError> {
        Ok(Average {
            from,
            count: 0,
            net: Mlp::new(arch, 0, device)?,
        })
    }

    /// Whether the mean holds at least one epoch (and so stands for the model).
    pub(crate) fn active(&self) -> bool {
        self.count > 0
    }

    /// Folds the weights of `live` at the end of `epoch` into the mean (`m + (w - m) / k` for
    /// the k-th averaged epoch); an epoch before `from` is left out.
    pub(crate) fn add(&mut self, live: &Mlp, epoch: usize) -> Result<(), ModelError> {
        if epoch < self.from {
            return Ok(());
        }
        let k = (self.count + 1) as f64;
        for (m, w) in self.net.vars().iter().zip(live.vars()) {
            let next = if self.count == 0 {
                w.as_tensor().copy()?
            } else {
                let m = m.as_tensor();
                (m + ((w.as_tensor() - m)? / k)?)?
            };
            m.set(&next)?;
        }
        self.count += 1;
        Ok(())
    }

    /// The live weights as named tensors, for the checkpoint's `optimizer.safetensors`.
    pub(crate) fn live_state(live: &Mlp) -> Result<Vec<NamedTensor>, ModelError> {
        live.vars()
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let t = v.as_tensor();
                Ok((
                    state_name(LIVE, i),
                    t.dims().to_vec(),
                    t.flatten_all()?.to_vec1::<f32>()?,
                ))
            })
            .collect()
    }

    /// Restores the state after `done` epochs from a checkpoint: its model's weights (`saved`)
    /// are the mean once averaging has begun, and the live weights are then its `live.*`
    /// tensors; before that, `saved` holds the live weights. Sets `live` accordingly.
    pub(crate) fn restore(
        &mut self,
        live: &Mlp,
        saved: &Mlp,
        tensors: Option<&HashMap<String, Tensor>>,
        done: usize,
        path: &Path,
    ) -> Result<(), ModelError> {
        let device = live.layers[0].kernel.device().clone();
        let copy = |to: &Mlp, from: &Mlp| -> Result<(), ModelError> {
            for (to, from) in to.vars().iter().zip(from.vars()) {
                to.set(&from.as_tensor().to_device(&device)?)?;
            }
            Ok(())
        };
        if done < self.from {
            return copy(live, saved);
        }
        copy(&self.net, saved)?;
        self.count = done + 1 - self.from;
        let none = HashMap::new();
        for (i, var) in live.vars().iter().enumerate() {
            let t = state_tensor(path, tensors.unwrap_or(&none), &state_name(LIVE, i), var)?;
            var.set(&t.to_device(&device)?)?;
        }
        Ok(())
    }
}
