//! Any trained model ([`AnyModel`]): a model folder of either [`ModelKind`], loaded by the kind
//! its `model.json` declares. Callers that accept both kinds (`instclf predict`) load through
//! here instead of asking for the format themselves; callers that need one kind keep using
//! [`Model::load`] or [`SequenceModel::load`], which refuse the other kind with a clear error.

use crate::error::ModelError;
use crate::kind::ModelKind;
use crate::model::Model;
use crate::sequence::SequenceModel;
use candle_core::Device;
use std::path::Path;

/// A trained model of either kind.
#[derive(Debug, Clone)]
pub enum AnyModel {
    /// A dense frame or note-level network.
    Dense(Model),
    /// A sequence network on clips (always computed on the CPU).
    Sequence(SequenceModel),
}

impl AnyModel {
    /// Loads the model folder `dir` by its kind; a dense model is placed on `device`.
    pub fn load(dir: &Path, device: &Device) -> Result<AnyModel, ModelError> {
        Self::load_with(dir, || Ok(device.clone()))
    }

    /// [`AnyModel::load`] with the device made only when the model needs one (dense models):
    /// sequence models run on the CPU, so a device option does not concern them.
    ///
    /// A folder whose `model.json` declares no known kind (unreadable, not JSON, no or an
    /// unknown `format`) goes to the dense loader, which names the problem.
    pub fn load_with(
        dir: &Path,
        device: impl FnOnce() -> Result<Device, ModelError>,
    ) -> Result<AnyModel, ModelError> {
        match ModelKind::of_folder(dir) {
            Some(ModelKind::Sequence) => SequenceModel::load(dir).map(AnyModel::Sequence),
            Some(ModelKind::Dense) | None => Model::load(dir, &device()?).map(AnyModel::Dense),
        }
    }

    /// The kind of this model.
    pub fn kind(&self) -> ModelKind {
        match self {
            AnyModel::Dense(_) => ModelKind::Dense,
            AnyModel::Sequence(_) => ModelKind::Sequence,
        }
    }

    /// The class names, in output order.
    pub fn classes(&self) -> &[String] {
        match self {
            AnyModel::Dense(m) => &m.classes,
            AnyModel::Sequence(m) => &m.classes,
        }
    }
}

impl From<Model> for AnyModel {
    fn from(m: Model) -> AnyModel {
        AnyModel::Dense(m)
    }
}

impl From<SequenceModel> for AnyModel {
    fn from(m: SequenceModel) -> AnyModel {
        AnyModel::Sequence(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Standardiser;
    use crate::net::{Activation, Architecture, Mlp};
    use crate::sequence::{SeqArch, SeqConfig, SeqNet, SequenceSpec};

    fn dense() -> Model {
        let arch = Architecture {
            n_features: 3,
            hidden: vec![4],
            n_classes: 2,
            activation: Activation::Relu,
            conv: None,
            gru: None,
        };
        Model {
            net: Mlp::new(&arch, 1, &Device::Cpu).unwrap(),
            classes: vec!["a".into(), "b".into()],
            standardiser: Standardiser {
                mean: vec![0.0; 3],
                std: vec![1.0; 3],
            },
            training: None,
            recipe: None,
            history: Vec::new(),
            device: Device::Cpu,
            calibration: None,
        }
    }

    fn sequence() -> SequenceModel {
        let cfg = SeqConfig {
            arch: SeqArch::Gru,
            input_dim: 4,
            steps: 6,
            units: 3,
            all_states: false,
            head: vec![],
            dropout: 0.0,
            n_classes: 2,
        };
        SequenceModel {
            net: SeqNet::new(&cfg, 1).unwrap(),
            classes: vec!["x".into(), "y".into()],
            spec: SequenceSpec {
                input: "waveform".into(),
                clip_s: 0.5,
                rate: 12,
                bits: Some(2),
                steps: 6,
                step_values: 1,
            },
            standardiser: None,
            recipe: None,
            training: None,
            history: Vec::new(),
        }
    }

    #[test]
    fn load_dispatches_on_the_kind() {
        let tmp = tempfile::tempdir().unwrap();
        let (d, s) = (tmp.path().join("dense"), tmp.path().join("seq"));
        dense().save(&d).unwrap();
        sequence().save(&s).unwrap();
        assert_eq!(ModelKind::of_folder(&d), Some(ModelKind::Dense));
        assert_eq!(ModelKind::of_folder(&s), Some(ModelKind::Sequence));

        let m = AnyModel::load(&d, &Device::Cpu).unwrap();
        assert!(matches!(m, AnyModel::Dense(_)));
        assert_eq!(
            (m.kind(), m.classes()),
            (ModelKind::Dense, &["a", "b"].map(String::from)[..])
        );
        // a sequence model never asks for a device
        let m = AnyModel::load_with(&s, || panic!("no device for a sequence model")).unwrap();
        assert!(matches!(m, AnyModel::Sequence(_)));
        assert_eq!(
            (m.kind(), m.classes()),
            (ModelKind::Sequence, &["x", "y"].map(String::from)[..])
        );
        // a dense model does, and its error is the caller's
        let e = AnyModel::load_with(&d, || Err(ModelError::Device("no such device".into())))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "no such device");

        // each loader refuses the other kind in one line naming model.json
        let e = Model::load(&s, &Device::Cpu).unwrap_err().to_string();
        assert!(
            e.contains("is a sequence model") && e.contains("model.json"),
            "{e}"
        );
        assert_eq!(e.lines().count(), 1, "{e}");
        let e = SequenceModel::load(&d).unwrap_err().to_string();
        assert!(
            e.contains("is a frame (MLP) model") && e.contains("model.json"),
            "{e}"
        );
        assert_eq!(e.lines().count(), 1, "{e}");
    }

    #[test]
    fn unknown_kinds_get_the_dense_loader_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("missing");
        let e = AnyModel::load(&missing, &Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(e.contains("model folder not found"), "{e}");
        let e = AnyModel::load(tmp.path(), &Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(e.contains("model.json"), "{e}");
        let d = tmp.path().join("keras");
        dense().save(&d).unwrap();
        let jp = d.join(crate::kind::MODEL_JSON);
        let json = std::fs::read_to_string(&jp)
            .unwrap()
            .replace("\"instclf-model\"", "\"keras\"");
        std::fs::write(&jp, json).unwrap();
        assert_eq!(ModelKind::of_folder(&d), None);
        let e = AnyModel::load(&d, &Device::Cpu).unwrap_err().to_string();
        assert!(
            e.contains("format is 'keras', expected 'instclf-model'"),
            "{e}"
        );
    }
}
