//! The segments of a recording: where one instrument plays, then another. A recording's notes
//! are labelled jointly by the best path through their classes (Viterbi) that pays a fixed
//! penalty, in nats of calibrated log-probability, for every change of class: one misread note
//! inside a phrase does not split it, while a run of notes that another class explains better
//! than the penalty costs becomes a segment of its own. The notes' own answers stay as they
//! are; segments are the recording-level view.

use serde::Serialize;

/// The penalty (nats of calibrated log-probability) for a change of class between two notes,
/// chosen on the held-out sources of a leave-one-source-out run (docs/experiments.md,
/// "Segments"): most recordings of one instrument stay one segment, and two recordings of
/// different instruments played one after the other give two.
pub const SWITCH_PENALTY: f64 = 6.0;

/// A run of consecutive notes given one class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    /// Start of its first note, seconds.
    pub start: f64,
    /// End of its last note, seconds.
    pub end: f64,
    pub label: String,
    /// Mean over its notes of the probability of `label`.
    pub confidence: f64,
    /// How many notes it holds.
    pub notes: usize,
}

/// The segments of notes at `times` (start, end) whose class log-probabilities are `log_p` (one
/// vector per note, in the order of `classes`), with `penalty` nats per change of class.
pub fn segments(
    times: &[(f64, f64)],
    log_p: &[Vec<f64>],
    classes: &[String],
    penalty: f64,
) -> Vec<Segment> {
    let path = best_path(log_p, penalty);
    let mut out: Vec<Segment> = Vec::new();
    for (i, &c) in path.iter().enumerate() {
        let p = log_p[i][c].exp();
        match out.last_mut() {
            Some(s) if s.label == classes[c] => {
                s.end = times[i].1;
                s.confidence += p;
                s.notes += 1;
            }
            _ => out.push(Segment {
                start: times[i].0,
                end: times[i].1,
                label: classes[c].clone(),
                confidence: p,
                notes: 1,
            }),
        }
    }
    for s in &mut out {
        s.confidence /= s.notes as f64;
    }
    out
}

/// The class sequence maximising the sum of the notes' log-probabilities minus `penalty` per
/// change of class. Ties keep the earlier class (and the lower class index).
fn best_path(log_p: &[Vec<f64>], penalty: f64) -> Vec<usize> {
    let Some(first) = log_p.first() else {
        return Vec::new();
    };
    let k = first.len();
    let mut best = first.clone();
    let mut back: Vec<Vec<usize>> = Vec::with_capacity(log_p.len());
    for lp in &log_p[1..] {
        let lead = argmax(&best);
        let mut from = vec![0; k];
        let mut next = vec![0.0; k];
        for c in 0..k {
            let (prev, score) = if best[c] >= best[lead] - penalty {
                (c, best[c])
            } else {
                (lead, best[lead] - penalty)
            };
            from[c] = prev;
            next[c] = score + lp[c];
        }
        back.push(from);
        best = next;
    }
    let mut c = argmax(&best);
    let mut path = vec![c; log_p.len()];
    for (i, from) in back.iter().enumerate().rev() {
        c = from[c];
        path[i] = c;
    }
    path
}

fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lp(p: &[f64]) -> Vec<f64> {
        p.iter().map(|v| v.ln()).collect()
    }

    fn classes() -> Vec<String> {
        vec!["A".into(), "B".into()]
    }

    #[test]
    fn one_stray_note_does_not_split_a_phrase() {
        let notes = [
            lp(&[0.9, 0.1]),
            lp(&[0.8, 0.2]),
            lp(&[0.3, 0.7]),
            lp(&[0.9, 0.1]),
        ];
        let times: Vec<(f64, f64)> = (0..4).map(|i| (i as f64, i as f64 + 0.5)).collect();
        let s = segments(&times, &notes, &classes(), SWITCH_PENALTY);
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].start, s[0].end, s[0].notes), (0.0, 3.5, 4));
        assert_eq!(s[0].label, "A");
        assert!((s[0].confidence - (0.9 + 0.8 + 0.3 + 0.9) / 4.0).abs() < 1e-12);
        // Without a penalty every note keeps its own best class.
        assert_eq!(segments(&times, &notes, &classes(), 0.0).len(), 3);
    }

    #[test]
    fn a_run_of_another_class_is_a_segment() {
        // Four notes of B at 9:1 outweigh the penalty (4 ln 9 = 8.8 nats).
        let mut notes = vec![lp(&[0.9, 0.1]); 3];
        notes.extend(vec![lp(&[0.1, 0.9]); 4]);
        let times: Vec<(f64, f64)> = (0..7).map(|i| (i as f64, i as f64 + 1.0)).collect();
        let s = segments(&times, &notes, &classes(), SWITCH_PENALTY);
        let got: Vec<(&str, f64, f64, usize)> = s
            .iter()
            .map(|s| (s.label.as_str(), s.start, s.end, s.notes))
            .collect();
        assert_eq!(got, [("A", 0.0, 3.0, 3), ("B", 3.0, 7.0, 4)]);
        // Two such notes (4.4 nats) do not.
        let short = &notes[..5];
        assert_eq!(
            segments(&times[..5], short, &classes(), SWITCH_PENALTY).len(),
            1
        );
        assert!(segments(&[], &[], &classes(), SWITCH_PENALTY).is_empty());
    }
}
