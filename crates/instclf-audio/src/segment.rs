//! Note segmentation: splits a recording of separately played notes (UIowa-style chromatic runs)
//! into notes with a start and an end in seconds.
//!
//! Onsets come from [`crate::onset`] (librosa's detector, backtracked); an energy check then
//! keeps only the onsets that begin a note: the first onset of each region where the level
//! stands above the silence threshold, and later onsets in a region only when the level dipped
//! by `dip_db` just before them and rose again (so vibrato or tremolo inside a held note never
//! splits it). A region without any detected onset (a very soft note) still gives a note that
//! starts where its level crosses the threshold. Each note ends where the level falls to
//! silence or the next note begins; notes shorter than `min_note_s` are dropped.

use crate::onset;

/// Parameters of [`segment`]. Levels are frame RMS levels in dB over `n_fft`-sample frames
/// every `hop` samples, relative to the loudest frame of the recording.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentParams {
    /// Hop between analysis frames, in samples.
    pub hop: usize,
    /// Frame length of the STFT (onset strength) and of the RMS level, in samples.
    pub n_fft: usize,
    /// Mel bands of the onset strength envelope.
    pub n_mels: usize,
    /// Frames more than this many dB below the loudest frame count as silence (negative).
    pub silence_db: f32,
    /// Notes shorter than this (seconds) are dropped.
    pub min_note_s: f64,
    /// Silent gaps shorter than this (seconds) do not end a note.
    pub min_gap_s: f64,
    /// An onset inside a sounding region starts a new note only when the level rises by at
    /// least this many dB from the dip just before it.
    pub dip_db: f32,
    /// Notes whose loudest frame is more than this many dB below the recording's loudest frame
    /// are dropped (release noises, not notes).
    pub min_peak_db: f32,
    /// Onset times are refined on a fine level curve (hop / 8, frames of hop / 2): a note
    /// starts where the level has risen this many dB above the dip before it (and at most
    /// `attack_range_db` below the attack's peak).
    pub rise_db: f32,
    /// The rise of an attack is searched back from its peak down to this many dB below it.
    pub attack_range_db: f32,
    /// Move onsets back to the preceding minimum of the onset envelope (librosa `backtrack`).
    pub backtrack: bool,
    /// Recordings whose loudest frame is below this absolute level (dBFS) have no notes.
    pub floor_dbfs: f32,
    /// A recording that begins mid-sound (its first frames above the silence threshold: a note
    /// cut out of a longer recording, with the tail of the one before) starts its first note at
    /// the first onset within this many seconds where the level has fallen by `rise_db` before
    /// it or rises by `rise_db` after it, and what sounds before is left out; elsewhere a
    /// region's first onset must lie within 0.05 s of where it starts.
    pub lead_in_s: f64,
}

impl Default for SegmentParams {
    fn default() -> Self {
        SegmentParams {
            hop: 512,
            n_fft: 2048,
            n_mels: 128,
            silence_db: -45.0,
            min_note_s: 0.1,
            min_gap_s: 0.05,
            dip_db: 15.0,
            min_peak_db: -30.0,
            rise_db: 6.0,
            attack_range_db: 40.0,
            backtrack: true,
            floor_dbfs: -90.0,
            lead_in_s: 0.3,
        }
    }
}

/// One note: where it starts and ends, in seconds from the start of the recording.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Note {
    pub start: f64,
    pub end: f64,
}

impl Note {
    pub fn duration(&self) -> f64 {
        self.end - self.start
    }
}

/// RMS level in dB (re full scale 1.0) of `n_fft`-sample frames centred every `hop` samples
/// (zero padding at the edges), one value per STFT frame (`1 + y.len() / hop`).
pub fn frame_level_db(y: &[f32], n_fft: usize, hop: usize) -> Vec<f32> {
    let hop = hop.max(1);
    let n_frames = 1 + y.len() / hop;
    let mut cum = Vec::with_capacity(y.len() + 1);
    let mut acc = 0.0f64;
    cum.push(0.0);
    for &v in y {
        acc += f64::from(v) * f64::from(v);
        cum.push(acc);
    }
    let half = n_fft / 2;
    (0..n_frames)
        .map(|t| {
            let centre = t * hop;
            let a = centre.saturating_sub(half).min(y.len());
            let b = (centre + n_fft - half).min(y.len());
            let energy = (cum[b] - cum[a]).max(0.0) / n_fft.max(1) as f64;
            (10.0 * (energy + 1e-12).log10()) as f32
        })
        .collect()
}

/// Finds the notes of `y` (mono samples at `sr` Hz).
pub fn segment(y: &[f32], sr: u32, p: &SegmentParams) -> Vec<Note> {
    let hop = p.hop.max(1);
    if y.is_empty() || sr == 0 {
        return Vec::new();
    }
    let level = frame_level_db(y, p.n_fft, hop);
    let loudest = max_of(&level);
    if loudest.is_nan() || loudest <= p.floor_dbfs {
        return Vec::new();
    }
    let threshold = loudest + p.silence_db;
    let min_peak = loudest + p.min_peak_db;
    let fps = f64::from(sr) / hop as f64;
    let frames = |seconds: f64| (seconds * fps).round() as usize;

    // Onset candidates: (backtracked frame, peak-picked frame).
    let env = onset::onset_strength(y, sr, hop, p.n_fft, p.n_mels);
    let peaks = onset::onset_detect_env(&env, sr, hop, false);
    let backs = if p.backtrack {
        onset::onset_backtrack(&peaks, &onset::normalize(&env))
    } else {
        peaks.clone()
    };
    let candidates: Vec<(usize, usize)> = backs.into_iter().zip(peaks).collect();

    let fine_hop = (hop / 8).max(1);
    let fine = frame_level_db(y, (hop / 2).max(2), fine_hop);
    let refine = |b: usize, pk: usize, lower: f64| -> f64 {
        let lo = ((b as f64 / fps - 0.05).max(lower) * f64::from(sr) / fine_hop as f64).ceil();
        let hi = (pk as f64 / fps + 0.03) * f64::from(sr) / fine_hop as f64;
        let (i0, i1) = (lo as usize, (hi as usize).min(fine.len().saturating_sub(1)));
        if i0 >= i1 {
            return b as f64 / fps;
        }
        // The dip before the attack, the loudest point after it, then back from that peak to
        // the first point of the rise.
        let mut m = i0;
        for i in i0..=i1 {
            if fine[i] <= fine[m] {
                m = i;
            }
        }
        let top = m + argmax(&fine[m..=i1]);
        let floor = (fine[m] + p.rise_db).max(fine[top] - p.attack_range_db);
        let mut j = top;
        while j > m && fine[j - 1] >= floor {
            j -= 1;
        }
        j as f64 * fine_hop as f64 / f64::from(sr)
    };

    // Whether an onset at frame `b` ends a lead-in (`lead_in_s`): the level on the fine curve,
    // whose frames are short enough to see it, fell by `rise_db` from the recording's opening
    // before `b` or rises by `rise_db` within 0.1 s after it.
    let fine_at = |frame: usize| (frame * hop / fine_hop).min(fine.len().saturating_sub(1));
    let opening = max_of(&fine[..fine.len().min(4)]);
    let ends_a_lead_in = |b: usize| {
        let dip = min_of(&fine[..=fine_at(b)]);
        let attack = max_of(&fine[fine_at(b)..=fine_at(b + frames(0.1))]);
        dip <= opening - p.rise_db || attack >= dip + p.rise_db
    };

    let regions = sounding_regions(&level, threshold, frames(p.min_gap_s));
    let mut notes: Vec<Note> = Vec::new();
    let lead = frames(0.1);
    let attack = frames(0.25);
    for &(rs, re) in &regions {
        if max_of(&level[rs..re]) < min_peak {
            continue;
        }
        // The first onset: a candidate whose peak is near the threshold crossing, or for a
        // recording that begins mid-sound, the first within its lead-in where the level has
        // fallen by `rise_db` before it or rises by `rise_db` after it (an attack; a sweep or a
        // held tone that merely begins with the recording has neither).
        let first = candidates
            .iter()
            .copied()
            .find(|&(b, pk)| {
                pk + lead >= rs
                    && (b <= rs + frames(0.05)
                        || (rs == 0 && b <= frames(p.lead_in_s) && ends_a_lead_in(b)))
            })
            .unwrap_or((rs, rs));
        let mut starts = vec![first];
        for &(b, pk) in candidates.iter().filter(|&&(b, pk)| b > first.0 && pk < re) {
            let last = starts.last().map_or(first.0, |s| s.0);
            if b < last + frames(p.min_note_s) {
                continue;
            }
            // The level must fall from the current note's peak and rise again.
            let top = argmax(&level[last..b]) + last;
            let dip = min_of(&level[top..=pk]);
            let after = max_of(&level[pk..(pk + attack).min(re).max(pk + 1)]);
            if after - dip >= p.dip_db && level[top] - dip >= p.dip_db && after >= min_peak {
                starts.push((b, pk));
            }
        }
        let mut times = Vec::with_capacity(starts.len());
        for &(b, pk) in &starts {
            let lower = times
                .last()
                .or(notes.last().map(|n| &n.start))
                .map_or(0.0, |&t: &f64| t + p.min_note_s);
            times.push(refine(b, pk, lower));
        }
        let region_end = (re as f64 / fps).min(y.len() as f64 / f64::from(sr));
        for (k, &start) in times.iter().enumerate() {
            let end = times.get(k + 1).copied().unwrap_or(region_end);
            let note = Note { start, end };
            if note.duration() >= p.min_note_s {
                notes.push(note);
            }
        }
    }
    notes
}

/// How well detected notes match reference onsets: a one-to-one greedy matching of each
/// reference onset (seconds, ascending) to the nearest unused detected start within `tol`
/// seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OnsetScore {
    /// Reference onsets.
    pub reference: usize,
    /// Detected notes.
    pub detected: usize,
    /// Reference onsets matched by a detected start within the tolerance.
    pub matched: usize,
    /// Sum of |detected start - reference onset| over the matched notes, in seconds.
    pub abs_error_s: f64,
}

impl OnsetScore {
    /// Scores `notes` against `reference` onsets.
    pub fn new(notes: &[Note], reference: &[f64], tol: f64) -> Self {
        let mut used = vec![false; notes.len()];
        let mut matched = 0;
        let mut abs_error_s = 0.0;
        for &r in reference {
            let best = notes
                .iter()
                .enumerate()
                .filter(|&(i, n)| !used[i] && (n.start - r).abs() <= tol)
                .min_by(|a, b| (a.1.start - r).abs().total_cmp(&(b.1.start - r).abs()));
            if let Some((i, n)) = best {
                used[i] = true;
                matched += 1;
                abs_error_s += (n.start - r).abs();
            }
        }
        OnsetScore {
            reference: reference.len(),
            detected: notes.len(),
            matched,
            abs_error_s,
        }
    }

    /// Adds another file's counts.
    pub fn add(&mut self, other: &OnsetScore) {
        self.reference += other.reference;
        self.detected += other.detected;
        self.matched += other.matched;
        self.abs_error_s += other.abs_error_s;
    }

    /// Mean onset error of the matched notes, in seconds.
    pub fn mean_abs_error_s(&self) -> f64 {
        self.abs_error_s / self.matched.max(1) as f64
    }

    /// Share of reference onsets found.
    pub fn recall(&self) -> f64 {
        self.matched as f64 / self.reference.max(1) as f64
    }

    /// Share of detected notes that match no reference onset.
    pub fn spurious(&self) -> f64 {
        (self.detected - self.matched.min(self.detected)) as f64 / self.detected.max(1) as f64
    }
}

/// Maximal runs `[start, end)` of frames above `threshold`, with gaps shorter than `min_gap`
/// frames bridged.
fn sounding_regions(level: &[f32], threshold: f32, min_gap: usize) -> Vec<(usize, usize)> {
    let mut regions: Vec<(usize, usize)> = Vec::new();
    let mut t = 0;
    while t < level.len() {
        if level[t] > threshold {
            let s = t;
            while t < level.len() && level[t] > threshold {
                t += 1;
            }
            match regions.last_mut() {
                Some(last) if s - last.1 < min_gap => last.1 = t,
                _ => regions.push((s, t)),
            }
        } else {
            t += 1;
        }
    }
    regions
}

fn min_of(x: &[f32]) -> f32 {
    x.iter().copied().fold(f32::INFINITY, f32::min)
}

fn argmax(x: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if v > x[best] {
            best = i;
        }
    }
    best
}

fn max_of(x: &[f32]) -> f32 {
    x.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(sr: u32, notes: &[(f64, f64, f32)], seconds: f64) -> Vec<f32> {
        let n = (seconds * f64::from(sr)) as usize;
        let mut y = vec![0.0f32; n];
        for &(start, end, amp) in notes {
            for (i, v) in y.iter_mut().enumerate() {
                let t = i as f64 / f64::from(sr);
                if t >= start && t < end {
                    let ramp = ((t - start) / 0.01).min(1.0).min((end - t) / 0.01);
                    *v += amp * (ramp * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as f32;
                }
            }
        }
        y
    }

    #[test]
    fn silence_has_no_notes() {
        let y = vec![0.0f32; 22050];
        assert!(segment(&y, 22050, &SegmentParams::default()).is_empty());
        assert!(segment(&[], 22050, &SegmentParams::default()).is_empty());
    }

    #[test]
    fn two_tones_give_two_notes() {
        let sr = 22050;
        let y = tone(sr, &[(0.3, 1.1, 0.5), (1.6, 2.4, 0.05)], 3.0);
        let notes = segment(&y, sr, &SegmentParams::default());
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!((notes[0].start - 0.3).abs() < 0.03, "{notes:?}");
        assert!((notes[1].start - 1.6).abs() < 0.03, "{notes:?}");
        assert!((notes[0].end - 1.1).abs() < 0.08, "{notes:?}");
    }

    #[test]
    fn a_recording_that_begins_in_a_tail_starts_at_the_onset() {
        // The tail of a loud note (fading over the first 0.15 s) and, at 0.12 s, a softer note:
        // what a note cut out of a recording with 0.1 s before it looks like.
        let sr = 22050;
        let n = (1.5 * f64::from(sr)) as usize;
        let y: Vec<f32> = (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(sr);
                let tail =
                    0.5 * (1.0 - t / 0.15).max(0.0) * (std::f64::consts::TAU * 330.0 * t).sin();
                let note = if (0.12..1.2).contains(&t) {
                    0.3 * ((t - 0.12) / 0.01).min(1.0) * (std::f64::consts::TAU * 440.0 * t).sin()
                } else {
                    0.0
                };
                (tail + note) as f32
            })
            .collect();
        let notes = segment(&y, sr, &SegmentParams::default());
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!((notes[0].start - 0.12).abs() < 0.03, "{notes:?}");
        // Without the lead-in the tail and the note run together from the first frame.
        let strict = SegmentParams {
            lead_in_s: 0.0,
            ..SegmentParams::default()
        };
        assert!(segment(&y, sr, &strict)[0].start < 0.05);
        // A note already playing when the recording starts, then a louder one: the louder one's
        // attack starts the first note, the fragment before it is left out.
        let held: Vec<f32> = (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(sr);
                let a = if t < 0.12 { 0.1 } else { 0.5 };
                (a * (std::f64::consts::TAU * 440.0 * t).sin()) as f32
            })
            .collect();
        let notes = segment(&held, sr, &SegmentParams::default());
        assert!((notes[0].start - 0.12).abs() < 0.03, "{notes:?}");
    }

    #[test]
    fn regions_bridge_short_gaps() {
        let l = [
            -80.0, -10.0, -10.0, -80.0, -10.0, -80.0, -80.0, -80.0, -10.0,
        ];
        assert_eq!(sounding_regions(&l, -40.0, 2), vec![(1, 5), (8, 9)]);
    }

    #[test]
    fn level_of_full_scale_square_is_zero_db() {
        let y = vec![1.0f32; 8192];
        let l = frame_level_db(&y, 2048, 512);
        assert_eq!(l.len(), 17);
        assert!(l[8].abs() < 1e-4);
        assert!((l[0] - 10.0 * 0.5f32.log10()).abs() < 1e-3);
    }
}
