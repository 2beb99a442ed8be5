//! The bundled default model, embedded in the binary so `instclf classify` works with no files
//! and no network: an ensemble of networks trained on the same data and features (their
//! log-probabilities are averaged), one per `src/default_model/m<N>/` folder (`build.rs` lists
//! them). It is made by `scripts/train-default-model.sh` (see `src/default_model/REPORT.md`).

use instclf_model::model::Model;
use instclf_model::Device;

include!(concat!(env!("OUT_DIR"), "/default_members.rs"));

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
