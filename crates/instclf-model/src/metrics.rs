//! Evaluation of a model on labelled rows: loss, accuracy, per-class precision/recall/F1
//! (0/0 counts as 0, with a note, never NaN), macro averages and the confusion matrix.

use crate::error::ModelError;
use crate::model::Model;
use serde::{Deserialize, Serialize};

/// Metrics of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    pub name: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Number of rows whose true class is this one.
    pub support: u64,
}

/// The evaluation of a model on a labelled split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub rows: usize,
    /// Mean sparse categorical cross-entropy.
    pub loss: f64,
    pub accuracy: f64,
    pub per_class: Vec<ClassMetrics>,
    pub macro_precision: f64,
    pub macro_recall: f64,
    pub macro_f1: f64,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<u64>>,
    /// Remarks, e.g. which metrics were 0/0 and set to 0.
    pub notes: Vec<String>,
}

/// Metrics from true labels, predicted labels and the summed loss.
pub fn metrics_from_predictions(
    classes: &[String],
    y: &[u32],
    pred: &[u32],
    loss_sum: f64,
) -> Evaluation {
    let k = classes.len();
    let mut confusion = vec![vec![0u64; k]; k];
    for (&t, &p) in y.iter().zip(pred) {
        if (t as usize) < k && (p as usize) < k {
            confusion[t as usize][p as usize] += 1;
        }
    }
    let mut notes = Vec::new();
    let ratio = |num: u64, den: u64, what: &str, name: &str, notes: &mut Vec<String>| {
        if den == 0 {
            notes.push(format!("{what} of class {name} is 0/0, reported as 0"));
            0.0
        } else {
            num as f64 / den as f64
        }
    };
    let mut per_class = Vec::with_capacity(k);
    for c in 0..k {
        let tp = confusion[c][c];
        let predicted: u64 = (0..k).map(|t| confusion[t][c]).sum();
        let support: u64 = confusion[c].iter().sum();
        let name = &classes[c];
        let precision = ratio(tp, predicted, "precision", name, &mut notes);
        let recall = ratio(tp, support, "recall", name, &mut notes);
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        per_class.push(ClassMetrics {
            name: name.clone(),
            precision,
            recall,
            f1,
            support,
        });
    }
    let mean = |f: fn(&ClassMetrics) -> f64| {
        if k == 0 {
            0.0
        } else {
            per_class.iter().map(f).sum::<f64>() / k as f64
        }
    };
    let correct: u64 = (0..k).map(|c| confusion[c][c]).sum();
    let rows = y.len();
    Evaluation {
        rows,
        loss: if rows == 0 {
            0.0
        } else {
            loss_sum / rows as f64
        },
        accuracy: if rows == 0 {
            0.0
        } else {
            correct as f64 / rows as f64
        },
        macro_precision: mean(|m| m.precision),
        macro_recall: mean(|m| m.recall),
        macro_f1: mean(|m| m.f1),
        per_class,
        confusion,
        notes,
    }
}

/// Evaluates `model` on raw (unstandardised) features `x` (`rows x n_features`) with labels `y`.
pub fn evaluate(model: &Model, x: &[f32], y: &[u32]) -> Result<Evaluation, ModelError> {
    let nf = model.n_features();
    if x.len() != y.len() * nf {
        return Err(ModelError::Invalid(format!(
            "{} feature values for {} labels and {nf} features",
            x.len(),
            y.len()
        )));
    }
    let k = model.n_classes();
    if let Some(&bad) = y.iter().find(|&&l| l as usize >= k) {
        return Err(ModelError::Invalid(format!(
            "label {bad} is outside the model's {k} classes"
        )));
    }
    let logits = model.predict_logits(x)?;
    let (pred, loss_sum) = predictions(&logits, y, k);
    Ok(metrics_from_predictions(&model.classes, y, &pred, loss_sum))
}

/// Arg-max predictions and the summed cross-entropy (log-sum-exp in f64) of `rows x k` logits
/// against the labels `y`.
pub fn predictions(logits: &[f32], y: &[u32], k: usize) -> (Vec<u32>, f64) {
    let mut loss = 0f64;
    let mut pred = Vec::with_capacity(y.len());
    for (row, &t) in logits.chunks(k).zip(y) {
        let mut best = 0usize;
        for (i, &v) in row.iter().enumerate() {
            if v > row[best] {
                best = i;
            }
        }
        let m = f64::from(row[best]);
        let lse = m + row
            .iter()
            .map(|&v| (f64::from(v) - m).exp())
            .sum::<f64>()
            .ln();
        loss += lse - f64::from(row[t as usize]);
        pred.push(best as u32);
    }
    (pred, loss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_recall_f1_and_zero_division() {
        let classes: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        // true:  a a b b c
        // pred:  a b b b a   -> class c never predicted
        let e = metrics_from_predictions(&classes, &[0, 0, 1, 1, 2], &[0, 1, 1, 1, 0], 5.0);
        assert_eq!(
            e.confusion,
            vec![vec![1, 1, 0], vec![0, 2, 0], vec![1, 0, 0]]
        );
        assert!((e.accuracy - 0.6).abs() < 1e-12);
        assert!((e.loss - 1.0).abs() < 1e-12);
        assert!((e.per_class[0].precision - 0.5).abs() < 1e-12);
        assert!((e.per_class[0].recall - 0.5).abs() < 1e-12);
        assert!((e.per_class[1].precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((e.per_class[1].f1 - 0.8).abs() < 1e-12);
        assert_eq!(e.per_class[2].precision, 0.0);
        assert_eq!(e.per_class[2].f1, 0.0);
        assert!(e.notes.iter().any(|n| n.contains("precision of class c")));
        let macro_f1 = (0.5 + 0.8 + 0.0) / 3.0;
        assert!((e.macro_f1 - macro_f1).abs() < 1e-12);
        assert!(e.per_class.iter().all(|m| m.f1.is_finite()));
    }
}
