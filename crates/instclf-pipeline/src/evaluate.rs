//! Scoring a classifier on labelled recordings (`evaluate --audio`), the way users check it on
//! their own data: every note the classifier finds carries its recording's label as truth. It
//! owns finding and checking the labelled recordings, note and file accuracy, per-class
//! precision/recall/F1 and the confusion matrix of notes (instclf-model's metrics), the most
//! frequent confusions, and the calibration of note confidences: the expected calibration error
//! over [`ECE_BINS`] equal-width bins and the reliability table behind it. Recordings labelled
//! `unknown` (none of the instruments) are accepted whatever the model's classes: their right
//! answer is [`UNKNOWN`], and the evaluation says how many of them got it and how many
//! instrument notes were turned unknown.

use crate::classify::{Classifier, FileResult, UNKNOWN};
use crate::error::PipelineError;
use crate::inputs::{self, LabelFrom};
use crate::progress::Progress;
use instclf_model::metrics::{metrics_from_predictions, ClassMetrics};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Equal-width confidence bins of the expected calibration error.
pub const ECE_BINS: usize = 15;

/// How many of the most frequent confusions are reported.
pub const TOP_CONFUSIONS: usize = 8;

/// A recording to score and its true class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labelled {
    pub path: PathBuf,
    pub label: String,
}

/// The audio files under `inputs` (folders searched recursively, files taken as they are), each
/// with its label, checked against the model's `classes` before anything is decoded. A missing
/// path, a folder without audio, a file without a label or with a label that is not one of the
/// classes is an error that names it.
pub fn labelled_recordings(
    inputs: &[PathBuf],
    from: LabelFrom,
    classes: &[String],
) -> Result<Vec<Labelled>, PipelineError> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            files.extend(inputs::audio_files_in(input)?);
        } else if input.exists() {
            files.push(input.clone());
        } else {
            return Err(PipelineError::Input {
                path: input.clone(),
                msg: "no such file or folder".to_string(),
            });
        }
    }
    files
        .into_iter()
        .map(|path| {
            let Some(label) = inputs::label_of(&path, from) else {
                let msg = match from {
                    LabelFrom::Name => "no class label in its file name",
                    LabelFrom::Folder => "no class label: it lies in no named folder",
                };
                return Err(PipelineError::Input {
                    path,
                    msg: msg.to_string(),
                });
            };
            if !classes.contains(&label) && label != UNKNOWN {
                let msg = format!(
                    "its label '{label}' (--label-from {}) is not one of the model's classes ({})",
                    from.as_str(),
                    classes.join(", ")
                );
                return Err(PipelineError::Input { path, msg });
            }
            Ok(Labelled { path, label })
        })
        .collect()
}

/// One recording's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileOutcome {
    pub file: String,
    pub truth: String,
    /// The file's answer (`unknown` when no note was found).
    pub label: String,
    pub confidence: Option<f64>,
    pub notes: usize,
    pub correct_notes: usize,
}

/// One bin of the reliability table: confidences in `(lo, hi]` (the first bin also takes 0).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReliabilityBin {
    pub lo: f64,
    pub hi: f64,
    pub count: usize,
    /// Mean confidence of the bin's notes; `None` for an empty bin.
    pub mean_confidence: Option<f64>,
    /// Fraction of the bin's notes that are right; `None` for an empty bin.
    pub accuracy: Option<f64>,
}

/// A classifier scored on labelled recordings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AudioEvaluation {
    pub files: usize,
    pub notes: usize,
    /// Correct notes / notes (0 when no note was found anywhere).
    pub note_accuracy: f64,
    /// Files whose answer is their label / files (a file without notes is answered unknown).
    pub file_accuracy: f64,
    /// Of the notes of instrument recordings (label not `unknown`), the fraction answered
    /// unknown; `None` without such notes.
    pub notes_turned_unknown: Option<f64>,
    /// Recordings labelled `unknown`: how many, and the fraction answered unknown (`None`
    /// without any).
    pub unknown_files: usize,
    pub unknown_recognised: Option<f64>,
    /// Expected calibration error of note confidences over [`ECE_BINS`] equal-width bins.
    pub ece: f64,
    pub classes: Vec<String>,
    /// Per-class precision, recall and F1 over notes.
    pub per_class: Vec<ClassMetrics>,
    pub macro_precision: f64,
    pub macro_recall: f64,
    pub macro_f1: f64,
    /// `confusion[true][predicted]` note counts, in the order of `classes`.
    pub confusion: Vec<Vec<u64>>,
    /// The most frequent wrong answers as `Truth->Pred:count`, most frequent first.
    pub top_confusions: Vec<String>,
    pub reliability: Vec<ReliabilityBin>,
    /// Files in which no note was found.
    pub no_notes: Vec<String>,
    pub per_file: Vec<FileOutcome>,
    /// Remarks, e.g. which per-class metrics were 0/0 and set to 0.
    pub remarks: Vec<String>,
}

/// Classifies every recording (in parallel, one [`Progress`] step each) and scores the answers.
/// A recording that cannot be classified (e.g. it does not decode) is an error naming it; the
/// first such recording in the given order is reported.
pub fn evaluate_recordings(
    clf: &Classifier,
    files: &[Labelled],
    progress: &dyn Progress,
) -> Result<AudioEvaluation, PipelineError> {
    progress.set_length(files.len() as u64);
    let results: Vec<Result<FileResult, PipelineError>> = files
        .par_iter()
        .map(|f| {
            let r = clf.classify(&f.path, 1);
            progress.inc(1);
            r
        })
        .collect();
    progress.finish();
    let mut scored = Vec::with_capacity(files.len());
    for (f, r) in files.iter().zip(results) {
        scored.push((f.label.clone(), r?));
    }
    score(&clf.models[0].classes, &scored)
}

/// Scores classifier answers: each `(truth, result)` is one recording with its true class.
pub fn score(
    classes: &[String],
    results: &[(String, FileResult)],
) -> Result<AudioEvaluation, PipelineError> {
    // Labels and answers may be `unknown` whatever the model's classes: when one is, and the
    // model has no such class, the matrix gets its row and column.
    let mut classes = classes.to_vec();
    let any_unknown = results
        .iter()
        .any(|(t, r)| t == UNKNOWN || r.notes.iter().any(|n| n.label == UNKNOWN));
    if any_unknown && !classes.iter().any(|c| c == UNKNOWN) {
        classes.push(UNKNOWN.to_string());
    }
    let classes = &classes[..];
    let index = |label: &str, file: &str| {
        classes
            .iter()
            .position(|c| c == label)
            .map(|i| i as u32)
            .ok_or_else(|| PipelineError::Input {
                path: PathBuf::from(file),
                msg: format!("class '{label}' is not one of the model's classes"),
            })
    };
    let (mut truth, mut pred) = (Vec::new(), Vec::new());
    let (mut confidence, mut correct) = (Vec::new(), Vec::new());
    let mut per_file = Vec::with_capacity(results.len());
    let mut no_notes = Vec::new();
    let mut pairs: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for (label, r) in results {
        let t = index(label, &r.file)?;
        let mut ok_notes = 0;
        for n in &r.notes {
            let p = index(&n.label, &r.file)?;
            truth.push(t);
            pred.push(p);
            confidence.push(n.confidence);
            correct.push(p == t);
            ok_notes += usize::from(p == t);
            if p != t {
                *pairs.entry((label.as_str(), n.label.as_str())).or_default() += 1;
            }
        }
        if r.notes.is_empty() {
            no_notes.push(r.file.clone());
        }
        per_file.push(FileOutcome {
            file: r.file.clone(),
            truth: label.clone(),
            label: r.label.clone(),
            confidence: r.confidence,
            notes: r.notes.len(),
            correct_notes: ok_notes,
        });
    }
    let m = metrics_from_predictions(classes, &truth, &pred, 0.0);
    let files_ok = per_file.iter().filter(|f| f.label == f.truth).count();
    let unknown = classes.iter().position(|c| c == UNKNOWN).map(|i| i as u32);
    let instrument_notes = truth.iter().filter(|&&t| Some(t) != unknown).count();
    let turned = truth
        .iter()
        .zip(&pred)
        .filter(|&(&t, &p)| Some(t) != unknown && Some(p) == unknown)
        .count();
    let unknown_files = per_file.iter().filter(|f| f.truth == UNKNOWN).count();
    let recognised = per_file
        .iter()
        .filter(|f| f.truth == UNKNOWN && f.label == UNKNOWN)
        .count();
    let mut top: Vec<((&str, &str), u64)> = pairs.into_iter().collect();
    // Most frequent first; ties in the order of the names, so the list is reproducible.
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let top_confusions = top
        .iter()
        .take(TOP_CONFUSIONS)
        .map(|((t, p), c)| format!("{t}->{p}:{c}"))
        .collect();
    let reliability = reliability(&confidence, &correct, ECE_BINS);
    let mut remarks = m.notes;
    if truth.is_empty() {
        remarks.push("no note was found in any recording".to_string());
    }
    Ok(AudioEvaluation {
        files: per_file.len(),
        notes: truth.len(),
        note_accuracy: m.accuracy,
        file_accuracy: ratio(files_ok, per_file.len()),
        notes_turned_unknown: (instrument_notes > 0).then(|| ratio(turned, instrument_notes)),
        unknown_files,
        unknown_recognised: (unknown_files > 0).then(|| ratio(recognised, unknown_files)),
        ece: ece_of(&reliability),
        classes: classes.to_vec(),
        per_class: m.per_class,
        macro_precision: m.macro_precision,
        macro_recall: m.macro_recall,
        macro_f1: m.macro_f1,
        confusion: m.confusion,
        top_confusions,
        reliability,
        no_notes,
        per_file,
        remarks,
    })
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// The reliability table of `confidence` (each in [0, 1]) against `correct`: `bins`
/// equal-width bins, bin `m` (from 1) holding the confidences in `((m-1)/bins, m/bins]`, the
/// first also 0.
pub fn reliability(confidence: &[f64], correct: &[bool], bins: usize) -> Vec<ReliabilityBin> {
    let bins = bins.max(1);
    let mut count = vec![0usize; bins];
    let mut conf_sum = vec![0f64; bins];
    let mut right = vec![0usize; bins];
    for (&c, &ok) in confidence.iter().zip(correct) {
        let b = ((c * bins as f64).ceil() as usize).clamp(1, bins) - 1;
        count[b] += 1;
        conf_sum[b] += c;
        right[b] += usize::from(ok);
    }
    (0..bins)
        .map(|b| ReliabilityBin {
            lo: b as f64 / bins as f64,
            hi: (b + 1) as f64 / bins as f64,
            count: count[b],
            mean_confidence: (count[b] > 0).then(|| conf_sum[b] / count[b] as f64),
            accuracy: (count[b] > 0).then(|| right[b] as f64 / count[b] as f64),
        })
        .collect()
}

/// The expected calibration error of a reliability table: the sum over bins of
/// `|bin| / N * |accuracy(bin) - mean confidence(bin)|` (0 when the table is empty).
pub fn ece_of(table: &[ReliabilityBin]) -> f64 {
    let n: usize = table.iter().map(|b| b.count).sum();
    if n == 0 {
        return 0.0;
    }
    table
        .iter()
        .filter_map(|b| {
            let (acc, conf) = (b.accuracy?, b.mean_confidence?);
            Some(b.count as f64 / n as f64 * (acc - conf).abs())
        })
        .sum()
}

/// The expected calibration error of `confidence` against `correct` over `bins` equal-width
/// bins.
pub fn ece(confidence: &[f64], correct: &[bool], bins: usize) -> f64 {
    ece_of(&reliability(confidence, correct, bins))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::NoteResult;

    #[test]
    fn ece_of_a_hand_made_example() {
        // Four bins of width 0.25. Bin (0.5, 0.75]: 0.6, 0.7 -> mean 0.65, one right of two
        // (0.5): gap 0.15. Bin (0.75, 1]: 0.8, 0.9, 1.0 -> mean 0.9, all right: gap 0.1. Bin
        // [0, 0.25]: 0.25 -> wrong: gap 0.25. ECE = 2/6 * 0.15 + 3/6 * 0.1 + 1/6 * 0.25.
        let conf = [0.6, 0.7, 0.8, 0.9, 1.0, 0.25];
        let ok = [true, false, true, true, true, false];
        let expected = 2.0 / 6.0 * 0.15 + 3.0 / 6.0 * 0.1 + 1.0 / 6.0 * 0.25;
        assert!((ece(&conf, &ok, 4) - expected).abs() < 1e-12);
        let table = reliability(&conf, &ok, 4);
        let counts: Vec<usize> = table.iter().map(|b| b.count).collect();
        assert_eq!(counts, [1, 0, 2, 3]);
        assert_eq!(table[1].accuracy, None);
        assert_eq!(table[2].accuracy, Some(0.5));
        assert!((table[3].mean_confidence.unwrap() - 0.9).abs() < 1e-12);
        // Perfectly calibrated: every bin's accuracy equals its confidence.
        assert_eq!(ece(&[1.0, 1.0], &[true, true], ECE_BINS), 0.0);
        assert_eq!(ece(&[], &[], ECE_BINS), 0.0);
    }

    fn note(label: &str, confidence: f64) -> NoteResult {
        NoteResult {
            start: 0.0,
            end: 1.0,
            label: label.to_string(),
            confidence,
            top: Vec::new(),
        }
    }

    fn file(name: &str, label: Option<&str>, notes: Vec<NoteResult>) -> FileResult {
        FileResult {
            file: name.to_string(),
            label: label.unwrap_or(UNKNOWN).to_string(),
            confidence: label.map(|_| 0.9),
            top: Vec::new(),
            segments: Vec::new(),
            notes,
        }
    }

    #[test]
    fn notes_carry_their_recordings_label_and_silent_files_are_wrong() {
        let classes: Vec<String> = ["A", "B", "C"].map(String::from).to_vec();
        let results = vec![
            (
                "A".to_string(),
                file(
                    "a.wav",
                    Some("A"),
                    vec![note("A", 0.9), note("B", 0.6), note("A", 0.8)],
                ),
            ),
            (
                "B".to_string(),
                file("b.wav", Some("C"), vec![note("C", 0.7), note("C", 0.5)]),
            ),
            ("C".to_string(), file("c.wav", None, Vec::new())),
        ];
        let e = score(&classes, &results).unwrap();
        assert_eq!((e.files, e.notes), (3, 5));
        assert!((e.note_accuracy - 2.0 / 5.0).abs() < 1e-12);
        assert!((e.file_accuracy - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(e.no_notes, ["c.wav"]);
        assert_eq!(e.top_confusions, ["B->C:2", "A->B:1"]);
        assert_eq!(
            e.confusion,
            vec![vec![2, 1, 0], vec![0, 0, 2], vec![0, 0, 0]]
        );
        assert!((e.per_class[0].recall - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(e.per_class[0].precision, 1.0);
        let conf = [0.9, 0.6, 0.8, 0.7, 0.5];
        let ok = [true, false, true, false, false];
        assert!((e.ece - ece(&conf, &ok, ECE_BINS)).abs() < 1e-12);
        let unknown = vec![("D".to_string(), file("d.wav", None, Vec::new()))];
        let err = score(&classes, &unknown).unwrap_err().to_string();
        assert!(err.contains("d.wav") && err.contains("'D'"), "{err}");
    }

    #[test]
    fn recordings_are_checked_against_the_classes_before_decoding() {
        let dir = tempfile::tempdir().unwrap();
        let classes: Vec<String> = ["Flute", "Oboe"].map(String::from).to_vec();
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let err = labelled_recordings(std::slice::from_ref(&empty), LabelFrom::Name, &classes)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(&empty.display().to_string()), "{err}");
        assert!(err.contains("no audio files"), "{err}");
        let flute = dir.path().join("Flute.x.wav");
        let banjo = dir.path().join("Banjo.x.wav");
        for p in [&flute, &banjo] {
            std::fs::write(p, b"").unwrap();
        }
        let err = labelled_recordings(&[dir.path().to_path_buf()], LabelFrom::Name, &classes)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Banjo.x.wav") && err.contains("'Banjo'"),
            "{err}"
        );
        let ok =
            labelled_recordings(std::slice::from_ref(&flute), LabelFrom::Name, &classes).unwrap();
        assert_eq!(
            ok,
            [Labelled {
                path: flute,
                label: "Flute".to_string()
            }]
        );
    }
}
