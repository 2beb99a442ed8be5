//! Classification of recordings with a trained model: decode -> resample -> segment notes ->
//! the model's own feature recipe per frame -> frame probabilities -> per-note and per-file
//! answers.
//!
//! How scores combine: a note's score for class c is the mean over its frames of log p(c | frame)
//! (a geometric mean of frame probabilities, so one confident frame cannot outvote the rest),
//! and with several models (an ensemble) also the mean over the models;
//! the file's score is the mean of its notes' scores, so every note counts the same whatever
//! its length. Confidences are those scores passed through a softmax (renormalised geometric
//! means).

use crate::analysis;
use crate::error::PipelineError;
use instclf_audio::recipe::Recipe;
use instclf_audio::segment::SegmentParams;
use instclf_model::model::Model;
use serde::Serialize;
use std::path::Path;

/// One class and its probability.
#[derive(Debug, Clone, Serialize)]
pub struct Ranked {
    pub label: String,
    pub p: f64,
}

/// One note's answer.
#[derive(Debug, Clone, Serialize)]
pub struct NoteResult {
    pub start: f64,
    pub end: f64,
    pub label: String,
    pub confidence: f64,
    pub top: Vec<Ranked>,
}

/// One file's answer; `label` is `None` when no note was found.
#[derive(Debug, Clone, Serialize)]
pub struct FileResult {
    pub file: String,
    pub label: Option<String>,
    pub confidence: Option<f64>,
    pub top: Vec<Ranked>,
    pub notes: Vec<NoteResult>,
}

/// Models ready to classify audio: one network, or several (an ensemble) that share their
/// classes and the feature recipe they were trained with.
pub struct Classifier {
    pub models: Vec<Model>,
    pub recipe: Recipe,
    pub segment: SegmentParams,
    /// Confidences are softmax(score / temperature): the models' fitted calibration, 1 without.
    pub temperature: f64,
}

impl Classifier {
    /// Checks that every model carries a usable feature recipe of the right size, and that all
    /// of them share the recipe and the class names. `models` pairs each model with where it
    /// came from, for the messages.
    pub fn new(models: Vec<(Model, String)>) -> Result<Classifier, PipelineError> {
        let mut checked: Vec<(Model, Recipe, String)> = Vec::with_capacity(models.len());
        for (model, origin) in models {
            let recipe = model_recipe(&model, &origin)?;
            if let Some((first, first_recipe, first_origin)) = checked.first() {
                if first.classes != model.classes {
                    let msg = format!(
                        "its classes ({}) differ from those of {first_origin} ({}); \
                         an ensemble's models must name the same classes in the same order",
                        model.classes.join(", "),
                        first.classes.join(", ")
                    );
                    return Err(PipelineError::Model { origin, msg });
                }
                if *first_recipe != recipe {
                    let msg = format!(
                        "its feature recipe differs from that of {first_origin}; an \
                         ensemble's models must be trained on features made the same way"
                    );
                    return Err(PipelineError::Model { origin, msg });
                }
            }
            checked.push((model, recipe, origin));
        }
        let temperature = ensemble_temperature(&checked)?;
        let Some(recipe) = checked.first().map(|c| c.1.clone()) else {
            return Err(PipelineError::Invalid("no model given".to_string()));
        };
        Ok(Classifier {
            models: checked.into_iter().map(|c| c.0).collect(),
            recipe,
            segment: SegmentParams::default(),
            temperature,
        })
    }

    /// Classifies one file, keeping the `top` best classes per note and file.
    pub fn classify(&self, path: &Path, top: usize) -> Result<FileResult, PipelineError> {
        let a = analysis::analyse(path, &self.recipe, &self.segment)?;
        let classes = &self.models[0].classes;
        let k = classes.len();
        let mut note_scores: Vec<Vec<f64>> = Vec::with_capacity(a.notes.len());
        let mut notes = Vec::with_capacity(a.notes.len());
        for (note, rows) in a.notes.iter().zip(&a.note_frames) {
            if rows.is_empty() {
                continue;
            }
            let x = &a.frames.data[rows.start * a.frames.cols..rows.end * a.frames.cols];
            let mut score = vec![0f64; k];
            for model in &self.models {
                let p = model.predict_proba(x)?;
                for row in p.chunks(k) {
                    for (s, &v) in score.iter_mut().zip(row) {
                        *s += (v as f64).max(1e-30).ln();
                    }
                }
            }
            let n = (rows.len() * self.models.len()) as f64;
            score.iter_mut().for_each(|s| *s /= n);
            let ranked = rank(&score, classes, top, self.temperature);
            notes.push(NoteResult {
                start: note.start,
                end: note.end,
                label: ranked[0].label.clone(),
                confidence: ranked[0].p,
                top: ranked,
            });
            note_scores.push(score);
        }
        let file = path.display().to_string();
        if note_scores.is_empty() {
            return Ok(FileResult {
                file,
                label: None,
                confidence: None,
                top: Vec::new(),
                notes,
            });
        }
        let mut score = vec![0f64; k];
        for s in &note_scores {
            for (a, b) in score.iter_mut().zip(s) {
                *a += b / note_scores.len() as f64;
            }
        }
        let ranked = rank(&score, classes, top, self.temperature);
        Ok(FileResult {
            file,
            label: Some(ranked[0].label.clone()),
            confidence: Some(ranked[0].p),
            top: ranked,
            notes,
        })
    }
}

/// The feature recipe `model` was trained with, checked: present, valid and of the model's
/// input size.
fn model_recipe(model: &Model, origin: &str) -> Result<Recipe, PipelineError> {
    let fail = |msg: String| PipelineError::Model {
        origin: origin.to_string(),
        msg,
    };
    let Some(recipe) = model.recipe.as_ref() else {
        return Err(fail(
            "the model has no feature recipe (it was trained on external features, \
             e.g. the MARL .npy files), so instclf cannot compute its features from audio; \
             train on a dataset made by `instclf dataset build`"
                .to_string(),
        ));
    };
    let recipe: Recipe = serde_json::from_value(recipe.clone())
        .map_err(|e| fail(format!("the model's feature recipe is invalid: {e}")))?;
    recipe
        .validate()
        .map_err(|e| fail(format!("the model's feature recipe is invalid: {e}")))?;
    if recipe.dim() != model.n_features() {
        return Err(fail(format!(
            "the model takes {} features but its recipe makes {}",
            model.n_features(),
            recipe.dim()
        )));
    }
    Ok(recipe)
}

/// The temperature of an ensemble: that of its calibrated models, which must agree (a model
/// without calibration beside calibrated ones is an error too); 1 when none is calibrated.
fn ensemble_temperature(models: &[(Model, Recipe, String)]) -> Result<f64, PipelineError> {
    let t = |m: &Model| m.calibration.as_ref().map(|c| c.temperature);
    let show = |t: Option<f64>| t.map_or("none".to_string(), |t| t.to_string());
    let Some(((first, _, first_origin), rest)) = models.split_first() else {
        return Ok(1.0);
    };
    for (model, _, origin) in rest {
        if t(model) != t(first) {
            return Err(PipelineError::Model {
                origin: origin.clone(),
                msg: format!(
                    "its calibration temperature ({}) differs from that of {first_origin} ({}); \
                     an ensemble's models must be calibrated together",
                    show(t(model)),
                    show(t(first))
                ),
            });
        }
    }
    Ok(t(first).unwrap_or(1.0))
}

/// Softmax of `score / temperature`, best `top` classes first (at least one).
fn rank(score: &[f64], classes: &[String], top: usize, temperature: f64) -> Vec<Ranked> {
    let max = score.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = score
        .iter()
        .map(|s| ((s - max) / temperature).exp())
        .collect();
    let z: f64 = e.iter().sum();
    let mut r: Vec<Ranked> = classes
        .iter()
        .zip(&e)
        .map(|(c, v)| Ranked {
            label: c.clone(),
            p: v / z,
        })
        .collect();
    r.sort_by(|a, b| b.p.total_cmp(&a.p));
    r.truncate(top.max(1));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_is_a_softmax_sorted_by_probability() {
        let classes = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let r = rank(&[0.0, 2f64.ln(), f64::NEG_INFINITY], &classes, 3, 1.0);
        assert_eq!(r[0].label, "b");
        assert!((r[0].p - 2.0 / 3.0).abs() < 1e-12);
        assert!((r[1].p - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(r[2].p, 0.0);
        assert_eq!(rank(&[1.0, 0.0, 0.0], &classes, 0, 1.0).len(), 1);
    }

    #[test]
    fn temperature_softens_without_changing_the_order() {
        let classes = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let score = [0.0, 4f64.ln(), 1f64.ln() - 1.0];
        let sharp = rank(&score, &classes, 3, 1.0);
        let soft = rank(&score, &classes, 3, 2.0);
        // p ~ exp(score / 2): 1 : 2 : exp(-0.5)
        let z = 1.0 + 2.0 + (-0.5f64).exp();
        assert_eq!(soft[0].label, "b");
        assert!((soft[0].p - 2.0 / z).abs() < 1e-12);
        assert!(soft[0].p < sharp[0].p);
        let order = |r: &[Ranked]| r.iter().map(|x| x.label.clone()).collect::<Vec<_>>();
        assert_eq!(order(&sharp), order(&soft));
    }
}
