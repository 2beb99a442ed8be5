//! The kind of a model folder, read from the `format` field of its `model.json` in this one
//! place: [`ModelKind::Dense`] (frame and note-level MLPs, `instclf-model`) or
//! [`ModelKind::Sequence`] (Flatten-Dense, RNN and GRU networks on clips,
//! `instclf-sequence-model`). It depends on neither model type, so both loaders (and
//! [`crate::any::AnyModel`], which dispatches on it) can ask it without importing each other.

use std::path::Path;

/// The file name of a model folder's description.
pub const MODEL_JSON: &str = "model.json";

/// The kinds of model folder, one per `format` written in `model.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelKind {
    /// A dense frame or note-level network ([`crate::model::Model`]).
    Dense,
    /// A sequence network on fixed-length clips ([`crate::sequence::SequenceModel`]).
    Sequence,
}

impl ModelKind {
    /// Every kind, in a fixed order.
    pub const ALL: [ModelKind; 2] = [ModelKind::Dense, ModelKind::Sequence];

    /// The `format` string this kind writes into `model.json`.
    pub const fn format(self) -> &'static str {
        match self {
            ModelKind::Dense => "instclf-model",
            ModelKind::Sequence => "instclf-sequence-model",
        }
    }

    /// The kind a `format` string names, or `None` for a format instclf does not write.
    pub fn from_format(format: &str) -> Option<ModelKind> {
        Self::ALL.into_iter().find(|k| k.format() == format)
    }

    /// The kind a parsed `model.json` declares: `None` when it is not an object, has no string
    /// `format` field, or names an unknown format (the dense loader then reports the problem
    /// precisely, as it always has).
    pub fn of_value(json: &serde_json::Value) -> Option<ModelKind> {
        json.get("format")
            .and_then(|f| f.as_str())
            .and_then(Self::from_format)
    }

    /// [`ModelKind::of_value`] on `model.json` bytes; `None` also when they are not JSON.
    pub fn of_json(json: &[u8]) -> Option<ModelKind> {
        serde_json::from_slice::<serde_json::Value>(json)
            .ok()
            .as_ref()
            .and_then(Self::of_value)
    }

    /// The kind of the model folder `dir` (from its `model.json`); `None` also when the file
    /// cannot be read.
    pub fn of_folder(dir: &Path) -> Option<ModelKind> {
        std::fs::read(dir.join(MODEL_JSON))
            .ok()
            .and_then(|b| Self::of_json(&b))
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ModelKind::Dense => "dense",
            ModelKind::Sequence => "sequence",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip() {
        for k in ModelKind::ALL {
            assert_eq!(ModelKind::from_format(k.format()), Some(k));
        }
        assert_eq!(ModelKind::Dense.format(), "instclf-model");
        assert_eq!(ModelKind::Sequence.format(), "instclf-sequence-model");
    }

    #[test]
    fn detects_dense_and_sequence_model_json() {
        let dense = br#"{"format": "instclf-model", "version": 1, "classes": ["a"]}"#;
        let seq = br#"{"format": "instclf-sequence-model", "version": 1}"#;
        assert_eq!(ModelKind::of_json(dense), Some(ModelKind::Dense));
        assert_eq!(ModelKind::of_json(seq), Some(ModelKind::Sequence));
    }

    #[test]
    fn unknown_missing_or_unreadable_format_is_none() {
        // an unknown format (fixtures/bad/models/json_wrong_format)
        assert_eq!(ModelKind::of_json(br#"{"format": "keras"}"#), None);
        // formats are matched exactly
        assert_eq!(ModelKind::of_json(br#"{"format": "Instclf-Model"}"#), None);
        // no format field, or not a string
        assert_eq!(ModelKind::of_json(br#"{"version": 1}"#), None);
        assert_eq!(ModelKind::of_json(br#"{"format": 1}"#), None);
        assert_eq!(ModelKind::of_json(br#"{"format": null}"#), None);
        // not an object, or not JSON (fixtures/bad/models/json_invalid)
        assert_eq!(ModelKind::of_json(br#"["instclf-model"]"#), None);
        assert_eq!(
            ModelKind::of_json(br#"{"format": "instclf-model", "version": 1,"#),
            None
        );
        assert_eq!(ModelKind::of_json(b""), None);
    }

    #[test]
    fn reads_the_kind_of_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(ModelKind::of_folder(dir.path()), None); // no model.json
        assert_eq!(ModelKind::of_folder(&dir.path().join("missing")), None);
        for k in ModelKind::ALL {
            let json = format!(r#"{{"format": "{}"}}"#, k.format());
            std::fs::write(dir.path().join(MODEL_JSON), json).unwrap();
            assert_eq!(ModelKind::of_folder(dir.path()), Some(k));
        }
    }
}
