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
    /// Move onsets back to the preceding minimum of the onset envelope (librosa `backtrack`).
    pub backtrack: bool,
    /// Recordings whose loudest frame is below this absolute level (dBFS) have no notes.
    pub floor_dbfs: f32,
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
            dip_db: 9.0,
            backtrack: true,
            floor_dbfs: -90.0,
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
    let loudest = level.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !(loudest > p.floor_dbfs) {
        return Vec::new();
    }
    let threshold = loudest + p.silence_db;
    let fps = f64::from(sr) / hop as f64;
    let frames = |seconds: f64| (seconds * fps).round() as usize;

    let env = onset::onset_strength(y, sr, hop, p.n_fft, p.n_mels);
    let candidates = onset::onset_detect_env(&env, sr, hop, p.backtrack);

    let regions = sounding_regions(&level, threshold, frames(p.min_gap_s));
    let mut notes = Vec::new();
    let lead = frames(0.1);
    let attack = frames(0.25);
    let dip_window = frames(0.1);
    for &(rs, re) in &regions {
        // The first onset: the earliest candidate just before or at the threshold crossing.
        let first = candidates
            .iter()
            .copied()
            .find(|&c| c + lead >= rs && c <= rs + frames(0.05))
            .unwrap_or(rs);
        let mut starts = vec![first];
        for &c in candidates
            .iter()
            .filter(|&&c| c > rs + frames(0.05) && c < re)
        {
            let last = *starts.last().unwrap_or(&first);
            if c < last + frames(p.min_note_s) {
                continue;
            }
            let dip_from = c.saturating_sub(dip_window).max(last + 1);
            let dip = min_of(&level[dip_from..=c.min(level.len() - 1)]);
            let peak = max_of(&level[c..(c + attack).min(re).max(c + 1).min(level.len())]);
            if peak - dip >= p.dip_db {
                starts.push(c);
            }
        }
        for (k, &s) in starts.iter().enumerate() {
            let e = starts.get(k + 1).copied().unwrap_or(re);
            let note = Note {
                start: s as f64 / fps,
                end: (e as f64 / fps).min(y.len() as f64 / f64::from(sr)),
            };
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
}

impl OnsetScore {
    /// Scores `notes` against `reference` onsets.
    pub fn new(notes: &[Note], reference: &[f64], tol: f64) -> Self {
        let mut used = vec![false; notes.len()];
        let mut matched = 0;
        for &r in reference {
            let best = notes
                .iter()
                .enumerate()
                .filter(|&(i, n)| !used[i] && (n.start - r).abs() <= tol)
                .min_by(|a, b| (a.1.start - r).abs().total_cmp(&(b.1.start - r).abs()));
            if let Some((i, _)) = best {
                used[i] = true;
                matched += 1;
            }
        }
        OnsetScore {
            reference: reference.len(),
            detected: notes.len(),
            matched,
        }
    }

    /// Adds another file's counts.
    pub fn add(&mut self, other: &OnsetScore) {
        self.reference += other.reference;
        self.detected += other.detected;
        self.matched += other.matched;
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
