//! Classification of recordings with a trained model: decode -> resample -> segment notes ->
//! the model's own feature recipe per frame -> frame probabilities (or, for a note-level model,
//! the probabilities of each note's pooled frames) -> per-note and per-file answers.
//!
//! How scores combine: a note's score for class c is the mean over its frames of log p(c | frame)
//! (a geometric mean of frame probabilities, so one confident frame cannot outvote the rest;
//! a note-level model gives log p(c | note) directly),
//! and with several models (an ensemble) also the mean over the models (weighted by each
//! model's calibration `weight` where one is set);
//! the file's score is the mean of its notes' scores, so every note counts the same whatever
//! its length. Confidences are those scores passed through a softmax (renormalised geometric
//! means) at the models' calibrated temperature. The file's segments come from the notes'
//! calibrated log-probabilities ([`crate::segments`]).
//!
//! Unknown: a note, segment or file is answered [`UNKNOWN`] when its best class is the model's
//! own `unknown` class (trained on recordings that are none of the instruments), when that best
//! class's probability is below [`Classifier::min_confidence`], or, for a file, when no note
//! was found in it. `top` still ranks the model's classes, so the best instrument stays visible.

use crate::analysis;
use crate::error::PipelineError;
use crate::segments::{segments, Segment, SWITCH_PENALTY};
use instclf_audio::recipe::Recipe;
use instclf_audio::segment::SegmentParams;
use instclf_audio::{decode, segment};
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

/// The answer for what is none of the classes (and the name of a model's class trained on such
/// recordings).
pub const UNKNOWN: &str = "unknown";

/// One file's answer; `label` is [`UNKNOWN`] and `confidence` `None` when no note was found.
#[derive(Debug, Clone, Serialize)]
pub struct FileResult {
    pub file: String,
    pub label: String,
    pub confidence: Option<f64>,
    pub top: Vec<Ranked>,
    /// Where each class plays: runs of notes of one class ([`crate::segments`]).
    pub segments: Vec<Segment>,
    pub notes: Vec<NoteResult>,
}

/// Models ready to classify audio: one network, or several (an ensemble) that share their
/// classes. Members may differ in their feature recipes (frame models beside note-level ones,
/// say) as long as they analyse audio at one sample rate, where the notes are found.
pub struct Classifier {
    pub models: Vec<Model>,
    /// The members' distinct feature recipes; every one has the same `sr`.
    pub recipes: Vec<Recipe>,
    /// For each model, the index of its recipe in `recipes`.
    pub recipe_of: Vec<usize>,
    pub segment: SegmentParams,
    /// Confidences are softmax(score / temperature): the models' fitted calibration, 1 without.
    pub temperature: f64,
    /// Nats taken from the `unknown` class's score after the division by the temperature (the
    /// models' calibration; 0 without, or when the model has no such class).
    pub unknown_bias: f64,
    /// Nats of calibrated log-probability a change of class between notes costs in the
    /// segments ([`crate::segments::SWITCH_PENALTY`] by default).
    pub switch_penalty: f64,
    /// Answers whose best class is less probable than this are [`UNKNOWN`] (0 by default:
    /// only the model's own `unknown` class answers unknown).
    pub min_confidence: f64,
}

impl Classifier {
    /// Checks that every model carries a usable feature recipe of the right size, that all of
    /// them name the same classes, and that their recipes share a sample rate. `models` pairs
    /// each model with where it came from, for the messages.
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
                if first_recipe.sr != recipe.sr {
                    let msg = format!(
                        "its feature recipe analyses audio at {} Hz and that of {first_origin} \
                         at {} Hz; an ensemble's models must share a sample rate",
                        recipe.sr, first_recipe.sr
                    );
                    return Err(PipelineError::Model { origin, msg });
                }
            }
            checked.push((model, recipe, origin));
        }
        let (temperature, unknown_bias) = ensemble_calibration(&checked)?;
        if checked.is_empty() {
            return Err(PipelineError::Invalid("no model given".to_string()));
        }
        let mut recipes: Vec<Recipe> = Vec::new();
        let mut recipe_of = Vec::with_capacity(checked.len());
        for (_, recipe, _) in &checked {
            let i = match recipes.iter().position(|r| r == recipe) {
                Some(i) => i,
                None => {
                    recipes.push(recipe.clone());
                    recipes.len() - 1
                }
            };
            recipe_of.push(i);
        }
        Ok(Classifier {
            models: checked.into_iter().map(|c| c.0).collect(),
            recipes,
            recipe_of,
            segment: SegmentParams::default(),
            temperature,
            unknown_bias,
            switch_penalty: SWITCH_PENALTY,
            min_confidence: 0.0,
        })
    }

    /// Classifies one file, keeping the `top` best classes per note and file.
    pub fn classify(&self, path: &Path, top: usize) -> Result<FileResult, PipelineError> {
        let sr = self.recipes[0].sr;
        let y = decode::load(path, Some(sr))?.samples;
        let found = segment::segment(&y, sr, &self.segment);
        let features: Vec<_> = self
            .recipes
            .iter()
            .map(|r| analysis::features_of_notes(&y, r, &found))
            .collect();
        let classes = &self.models[0].classes;
        let k = classes.len();
        let mut note_scores: Vec<Vec<f64>> = Vec::with_capacity(found.len());
        let mut notes = Vec::with_capacity(found.len());
        for (i, note) in found.iter().enumerate() {
            // A note without frames (shorter than a hop) is not scored.
            if features.iter().any(|(_, rows)| rows[i].is_empty()) {
                continue;
            }
            // A frame model's score is its mean log-probability over the note's frames, a
            // note-level model's that of the pooled note; the ensemble's, the mean of its models'.
            let mut score = vec![0f64; k];
            for (model, &r) in self.models.iter().zip(&self.recipe_of) {
                let w = weight(model);
                let (frames, note_frames) = &features[r];
                let rows = note_frames[i].clone();
                let pooled;
                let (x, n_rows) = match &self.recipes[r].pool {
                    Some(pool) => {
                        pooled = pool.pool(frames, rows);
                        (&pooled[..], 1)
                    }
                    None => (
                        &frames.data[rows.start * frames.cols..rows.end * frames.cols],
                        rows.len(),
                    ),
                };
                let p = model.predict_proba(x)?;
                for row in p.chunks(k) {
                    for (s, &v) in score.iter_mut().zip(row) {
                        *s += w * (v as f64).max(1e-30).ln() / n_rows as f64;
                    }
                }
            }
            let n: f64 = self.models.iter().map(weight).sum();
            score.iter_mut().for_each(|s| *s /= n);
            self.shift_unknown(&mut score);
            let ranked = rank(&score, classes, top, self.temperature);
            notes.push(NoteResult {
                start: note.start,
                end: note.end,
                label: self.answer(&ranked[0].label, ranked[0].p),
                confidence: ranked[0].p,
                top: ranked,
            });
            note_scores.push(score);
        }
        let file = path.display().to_string();
        if note_scores.is_empty() {
            return Ok(FileResult {
                file,
                label: UNKNOWN.to_string(),
                confidence: None,
                top: Vec::new(),
                segments: Vec::new(),
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
        let times: Vec<(f64, f64)> = notes.iter().map(|n| (n.start, n.end)).collect();
        let log_p: Vec<Vec<f64>> = note_scores
            .iter()
            .map(|s| log_softmax(s, self.temperature))
            .collect();
        let mut segments = segments(&times, &log_p, classes, self.switch_penalty);
        for s in &mut segments {
            s.label = self.answer(&s.label, s.confidence);
        }
        Ok(FileResult {
            file,
            label: self.answer(&ranked[0].label, ranked[0].p),
            confidence: Some(ranked[0].p),
            top: ranked,
            segments,
            notes,
        })
    }

    /// Takes the unknown bias from the `unknown` class's score (in score units: the bias is in
    /// nats after the division by the temperature).
    fn shift_unknown(&self, score: &mut [f64]) {
        if self.unknown_bias == 0.0 {
            return;
        }
        if let Some(u) = self.models[0].classes.iter().position(|c| c == UNKNOWN) {
            score[u] -= self.unknown_bias * self.temperature;
        }
    }

    /// The answer for a best class `label` of probability `p`: the class itself, or
    /// [`UNKNOWN`] when it is the model's unknown class or `p` is below `min_confidence`.
    pub fn answer(&self, label: &str, p: f64) -> String {
        answer(label, p, self.min_confidence)
    }
}

/// `label`, or [`UNKNOWN`] when its probability `p` is below `min_confidence` (a model's own
/// `unknown` class answers unknown by its name).
fn answer(label: &str, p: f64, min_confidence: f64) -> String {
    if p < min_confidence {
        UNKNOWN.to_string()
    } else {
        label.to_string()
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
    if recipe.input_dim() != model.n_features() {
        return Err(fail(format!(
            "the model takes {} features but its recipe makes {}",
            model.n_features(),
            recipe.input_dim()
        )));
    }
    Ok(recipe)
}

/// The temperature and unknown bias of an ensemble: those of its calibrated models, which must
/// agree (a model without calibration beside calibrated ones is an error too); 1 and 0 when none
/// is calibrated.
fn ensemble_calibration(models: &[(Model, Recipe, String)]) -> Result<(f64, f64), PipelineError> {
    let t = |m: &Model| m.calibration.as_ref().map(|c| c.temperature);
    let b = |m: &Model| m.calibration.as_ref().and_then(|c| c.unknown_bias);
    let Some(((first, _, first_origin), rest)) = models.split_first() else {
        return Ok((1.0, 0.0));
    };
    for (model, _, origin) in rest {
        for (what, get) in [
            ("unknown bias", &b as &dyn Fn(&Model) -> Option<f64>),
            ("calibration temperature", &t),
        ] {
            if get(model) != get(first) {
                let show = |v: Option<f64>| v.map_or("none".to_string(), |v| v.to_string());
                return Err(PipelineError::Model {
                    origin: origin.clone(),
                    msg: format!(
                        "its {what} ({}) differs from that of {first_origin} ({}); \
                         an ensemble's models must be calibrated together",
                        show(get(model)),
                        show(get(first))
                    ),
                });
            }
        }
    }
    Ok((t(first).unwrap_or(1.0), b(first).unwrap_or(0.0)))
}

/// A model's weight in an ensemble's mean: its calibration's `weight`, 1 without.
fn weight(m: &Model) -> f64 {
    m.calibration.as_ref().and_then(|c| c.weight).unwrap_or(1.0)
}

/// Log-softmax of `score / temperature`, in class order.
fn log_softmax(score: &[f64], temperature: f64) -> Vec<f64> {
    let max = score.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let z: f64 = score.iter().map(|s| ((s - max) / temperature).exp()).sum();
    score
        .iter()
        .map(|s| (s - max) / temperature - z.ln())
        .collect()
}

/// Softmax of `score / temperature`, best `top` classes first (at least one; at least two when
/// the best is the model's `unknown` class, so the best instrument is always named).
fn rank(score: &[f64], classes: &[String], top: usize, temperature: f64) -> Vec<Ranked> {
    let mut r: Vec<Ranked> = classes
        .iter()
        .zip(log_softmax(score, temperature))
        .map(|(c, lp)| Ranked {
            label: c.clone(),
            p: lp.exp(),
        })
        .collect();
    r.sort_by(|a, b| b.p.total_cmp(&a.p));
    let keep = if r.first().is_some_and(|b| b.label == UNKNOWN) {
        top.max(2)
    } else {
        top.max(1)
    };
    r.truncate(keep);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_below_the_minimum_confidence_are_unknown() {
        assert_eq!(answer("Flute", 0.6, 0.0), "Flute");
        assert_eq!(answer("Flute", 0.6, 0.6), "Flute");
        assert_eq!(answer("Flute", 0.59, 0.6), UNKNOWN);
        assert_eq!(answer(UNKNOWN, 0.9, 0.0), UNKNOWN);
    }

    #[test]
    fn rank_is_a_softmax_sorted_by_probability() {
        let classes = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let r = rank(&[0.0, 2f64.ln(), f64::NEG_INFINITY], &classes, 3, 1.0);
        assert_eq!(r[0].label, "b");
        assert!((r[0].p - 2.0 / 3.0).abs() < 1e-12);
        assert!((r[1].p - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(r[2].p, 0.0);
        assert_eq!(rank(&[1.0, 0.0, 0.0], &classes, 0, 1.0).len(), 1);
        // A best `unknown` class brings the best instrument with it.
        let with_unknown = vec!["a".to_string(), UNKNOWN.to_string()];
        let r = rank(&[0.0, 1.0], &with_unknown, 1, 1.0);
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].label.as_str(), r[1].label.as_str()), (UNKNOWN, "a"));
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
