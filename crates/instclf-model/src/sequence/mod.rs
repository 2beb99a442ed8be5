//! Sequence models on fixed-length clips: clip datasets (`sequence.json` next to the MARL
//! `.npy` files, one clip per row), one-hot encoding of digitised waveform levels when batches
//! are made (never stored), a Flatten-Dense baseline and one recurrent layer (simple RNN with
//! tanh, or GRU in PyTorch/candle-nn gate order r, z, n) returning all states `(batch, seq,
//! hidden)` or the last one, then Dense layers (ReLU, dropout) and softmax with a log-softmax
//! cross-entropy (stable for any logits, binary or not); training (Adam), metrics and
//! sequence-model folders (`format: instclf-sequence-model`).
//!
//! The input projections of all time steps are one matmul (`(batch*seq, in) x (in, gates*hidden)`,
//! and one more for their gradient); only the recurrence itself is a per-step loop, written out
//! by hand (forward and back-propagation through time) over flat `f32` buffers, because a
//! per-step autograd graph costs thousands of tensor ops per sequence. The hand-written
//! gradients are checked against candle autograd through candle-nn's GRU (whose states are
//! stacked as `(batch, seq, hidden)` by [`stack_states`]) in this module's tests.
//!
//! One module per job: [`data`] the clip-dataset format (`sequence.json`, row checks), [`net`]
//! the network (layers, initialisation, forward pass, loss and gradients), [`bptt`] the
//! hand-written recurrence and its back-propagation through time, [`io`] the trained
//! [`SequenceModel`] (inputs, prediction, evaluation, its model folder) and [`fit`] the training
//! loop.

pub mod bptt;
pub mod data;
pub mod fit;
pub mod io;
pub mod net;

pub use data::{check_rows, is_sequence_dataset, SequenceData, SequenceSpec, SEQUENCE_JSON};
pub use fit::{fit_sequence, SeqFitOptions, SeqFitResult};
pub use io::SequenceModel;
pub use net::{stack_states, Recurrent, SeqArch, SeqConfig, SeqNet};
