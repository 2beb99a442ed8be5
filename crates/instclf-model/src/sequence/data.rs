//! The clip (sequence) dataset format: `sequence.json` next to a dataset's `.npy` files
//! describes one clip per row ([`SequenceSpec`]); [`SequenceData`] loads such a folder and
//! [`check_rows`] checks rows against the description.

use crate::dataset::Dataset;
use crate::error::ModelError;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The file that marks a clip (sequence) dataset and describes its rows.
pub const SEQUENCE_JSON: &str = "sequence.json";

/// What one row of a clip dataset holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceSpec {
    /// `waveform` (digitised samples) or `mel` (feature frames of the dataset's recipe).
    pub input: String,
    /// Clip length in seconds.
    pub clip_s: f64,
    /// Sample rate of the clip (the digitising rate, or the recipe's rate for `mel`).
    pub rate: u32,
    /// Bits per sample of a digitised waveform (`None` for `mel`).
    pub bits: Option<u32>,
    /// Time steps per clip.
    pub steps: usize,
    /// Values stored per step in a row (1 level index for `waveform`).
    pub step_values: usize,
}

impl SequenceSpec {
    /// One-hot width of a digitised waveform (`2^bits`), `None` for real-valued frames.
    pub fn levels(&self) -> Option<usize> {
        self.bits.map(|b| 1usize << b)
    }

    /// Width of one time step as the network sees it.
    pub fn input_dim(&self) -> usize {
        self.levels().unwrap_or(self.step_values)
    }

    /// Checks sizes (steps and values > 0, 1..=16 bits).
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.steps == 0 || self.step_values == 0 {
            return Err(ModelError::Invalid(format!(
                "sequence spec has {} steps of {} values (both must be > 0)",
                self.steps, self.step_values
            )));
        }
        if let Some(b) = self.bits {
            if !(1..=16).contains(&b) || self.step_values != 1 {
                return Err(ModelError::Invalid(format!(
                    "a digitised waveform needs 1..16 bits and 1 value per step, got {b} bits and {}",
                    self.step_values
                )));
            }
        }
        Ok(())
    }
}

/// Whether `dir` is a clip dataset (holds `sequence.json`).
pub fn is_sequence_dataset(dir: &Path) -> bool {
    dir.join(SEQUENCE_JSON).is_file()
}

/// A loaded clip dataset: rows of `steps * step_values` raw values.
#[derive(Debug, Clone)]
pub struct SequenceData {
    pub data: Dataset,
    pub spec: SequenceSpec,
}

pub(super) fn data_err(path: &Path, msg: impl Into<String>) -> ModelError {
    ModelError::Data {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

/// Checks that every row of `x` has `spec.steps * spec.step_values` values and that digitised
/// levels are whole numbers in range; `what` names the source in errors.
pub fn check_rows(
    spec: &SequenceSpec,
    x: &[f32],
    cols: usize,
    what: &Path,
) -> Result<(), ModelError> {
    let want = spec.steps * spec.step_values;
    if cols != want {
        return Err(data_err(
            what,
            format!(
                "rows have {cols} values but the sequences are {} steps x {} values = {want} \
                 (sequences of different lengths cannot be mixed; rebuild with the same --clips/--rate)",
                spec.steps, spec.step_values
            ),
        ));
    }
    if let Some(levels) = spec.levels() {
        if let Some(i) = x
            .iter()
            .position(|&v| v < 0.0 || v >= levels as f32 || v.fract() != 0.0)
        {
            return Err(data_err(
                what,
                format!(
                    "row {} step {} holds {}, not a level in 0..{} ({} bits)",
                    i / cols,
                    i % cols,
                    x[i],
                    levels - 1,
                    spec.bits.unwrap_or(0)
                ),
            ));
        }
    }
    Ok(())
}

impl SequenceData {
    /// Loads a clip dataset; a frame dataset (no `sequence.json`) is a clear error.
    pub fn load(dir: &Path) -> Result<SequenceData, ModelError> {
        let sp = dir.join(SEQUENCE_JSON);
        if dir.is_dir() && !sp.is_file() {
            return Err(data_err(
                dir,
                "is a frame dataset (no sequence.json): dense/rnn/gru sequence models need a clip \
                 dataset from `instclf dataset build --clips SECONDS`; use --arch mlp for frame rows",
            ));
        }
        let data = Dataset::load(dir)?;
        let bytes = std::fs::read(&sp).map_err(|e| ModelError::Io {
            path: sp.clone(),
            source: e,
        })?;
        let spec: SequenceSpec = serde_json::from_slice(&bytes).map_err(|e| ModelError::Json {
            path: sp.clone(),
            msg: e.to_string(),
        })?;
        spec.validate().map_err(|e| data_err(&sp, e.to_string()))?;
        check_rows(
            &spec,
            &data.train.x,
            data.n_features,
            &dir.join(crate::dataset::TRAIN_DATA),
        )?;
        check_rows(
            &spec,
            &data.test.x,
            data.n_features,
            &dir.join(crate::dataset::TEST_DATA),
        )?;
        Ok(SequenceData { data, spec })
    }
}
