//! The bundled default model, embedded in the binary so `instclf classify` works with no files
//! and no network. It is made by `scripts/train-default-model.sh` (see `src/default_model/REPORT.md`).

use instclf_model::model::Model;
use instclf_model::Device;

const MODEL_JSON: &[u8] = include_bytes!("default_model/model.json");
const MODEL_WEIGHTS: &[u8] = include_bytes!("default_model/model.safetensors");

/// Loads the bundled model onto `device`.
pub fn load(device: &Device) -> anyhow::Result<Model> {
    Ok(Model::from_bytes(MODEL_JSON, MODEL_WEIGHTS, device)?)
}
