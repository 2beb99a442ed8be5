//! The bundled default model, embedded in the binary so `instclf classify` works with no files
//! and no network: an ensemble of six networks (sigmoid and ReLU, three seeds each) trained on the
//! same data and features (their log-probabilities are averaged). It is made by
//! `scripts/train-default-model.sh` (see `src/default_model/REPORT.md`).

use instclf_model::model::Model;
use instclf_model::Device;

/// `(model.json, model.safetensors)` of every member: m1-m3 sigmoid, m4-m6 ReLU networks.
const MEMBERS: [(&[u8], &[u8]); 6] = [
    (
        include_bytes!("default_model/m1/model.json"),
        include_bytes!("default_model/m1/model.safetensors"),
    ),
    (
        include_bytes!("default_model/m2/model.json"),
        include_bytes!("default_model/m2/model.safetensors"),
    ),
    (
        include_bytes!("default_model/m3/model.json"),
        include_bytes!("default_model/m3/model.safetensors"),
    ),
    (
        include_bytes!("default_model/m4/model.json"),
        include_bytes!("default_model/m4/model.safetensors"),
    ),
    (
        include_bytes!("default_model/m5/model.json"),
        include_bytes!("default_model/m5/model.safetensors"),
    ),
    (
        include_bytes!("default_model/m6/model.json"),
        include_bytes!("default_model/m6/model.safetensors"),
    ),
];

/// Loads the bundled models onto `device`, each with the name it goes by in messages.
pub fn load(device: &Device) -> anyhow::Result<Vec<(Model, String)>> {
    MEMBERS
        .iter()
        .enumerate()
        .map(|(i, (json, weights))| {
            let model = Model::from_bytes(json, weights, device)?;
            Ok((model, format!("bundled model {}", i + 1)))
        })
        .collect()
}
