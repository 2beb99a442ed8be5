//! The bundled default model, embedded in the binary so `instclf classify` works with no files
//! and no network: an ensemble of networks trained on the same data and features (their
//! log-probabilities are averaged), one per `src/default_model/m<N>/` folder (`build.rs` lists
//! them). It is made by `instclf bundle --recipe recipes/default.toml`
//! (`scripts/train-default-model.sh`; see `src/default_model/REPORT.md`). [`classifier`] gives
//! the commands that classify either it or the `--model` folders a user names.

use instclf_model::model::Model;
use instclf_model::Device;
use instclf_pipeline::Classifier;
use std::path::PathBuf;

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

/// The classifier of `--model` folders (several: an ensemble), or the bundled model when none is
/// given, on `device` (`auto`, `cpu`, `cuda[:N]`).
pub fn classifier(model: &[PathBuf], device: &str) -> anyhow::Result<Classifier> {
    let device = instclf_model::device::device_from_arg(device)?;
    let models = if model.is_empty() {
        load(&device)?
    } else {
        let mut models = Vec::with_capacity(model.len());
        for p in model {
            let m = instclf_model::model::Model::load(p, &device)?;
            models.push((m, p.display().to_string()));
        }
        models
    };
    Ok(Classifier::new(models)?)
}
