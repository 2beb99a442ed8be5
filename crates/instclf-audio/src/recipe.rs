//! The feature recipe: every parameter that turns a waveform into per-frame feature vectors
//! (MFCCs, optionally with deltas and delta-deltas, optionally cepstral-mean normalised, wholly or
//! partly, optionally without the first coefficients, and with per-note or per-frame extras
//! appended: the note's mean MFCCs, its pitch, stacked context frames, harmonic levels). A
//! model stores its recipe so classification computes exactly the features it was trained on;
//! every field has a default, so recipes saved before a field existed still load unchanged.

use crate::delta::delta;
use crate::mel::MelParams;
use crate::mfcc::mfcc_floored_with;
use crate::pool::NotePool;
use crate::Matrix;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// Width of the delta window (librosa's default).
pub const DELTA_WIDTH: usize = 9;

/// Largest FFT size a recipe may ask for (2^20 samples, 47 s at 22050 Hz).
pub const MAX_N_FFT: usize = 1 << 20;
/// Largest number of mel bands a recipe may ask for. Every band costs a run of filter weights and
/// a value per frame, so an untrusted recipe must not name millions of them (librosa users stay
/// at or below 512).
pub const MAX_N_MELS: usize = 4096;

/// Feature parameters (librosa names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Recipe {
    /// Sample rate the audio is resampled to before analysis.
    pub sr: u32,
    pub n_fft: usize,
    pub hop: usize,
    pub n_mels: usize,
    pub fmin: f32,
    /// Upper mel edge in Hz; `None` is `sr / 2`.
    pub fmax: Option<f32>,
    pub n_mfcc: usize,
    /// Append first and second deltas (width 9) to the MFCCs.
    pub deltas: bool,
    /// Subtract each recording's per-dimension mean (cepstral mean normalisation); the
    /// pipeline takes that mean over the frames inside detected notes
    /// ([`Recipe::frames_cmn_over`]).
    pub cmn: bool,
    /// With `cmn`: normalise only the first `cmn_coeffs` MFCCs and their deltas (e.g. 2: c0
    /// loudness and c1 spectral tilt); 0 normalises all of them.
    pub cmn_coeffs: usize,
    /// With `cmn`: the fraction of the mean that is subtracted (1: plain CMN; less keeps part of
    /// the long-term spectrum, which is also the instrument's timbre).
    pub cmn_weight: f32,
    /// With `cmn`: each note's frames lose their note's own mean (over the frames whose windows,
    /// and delta windows, lie inside it) instead of the recording's; a note is each run of
    /// consecutive masked frames, or with [`Recipe::note_local`] each note given to
    /// [`Recipe::frames_of_notes`]. Frames outside notes lose the recording's mean. Left out of
    /// the written recipe when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cmn_per_note: bool,
    /// Leave the first `skip_coeffs` static MFCCs out of the row (c0 is loudness, c1 tilt);
    /// their deltas stay.
    pub skip_coeffs: usize,
    /// Append to every frame the mean of the (kept) static MFCCs of the note it lies in: each
    /// run of consecutive masked frames ([`Recipe::frames_cmn_over`]) counts as one note, frames
    /// outside any run get the mean of the masked frames.
    pub note_mean: bool,
    /// Append to every frame its note's pitch, `log2(f0 / 440 Hz)` by YIN ([`crate::pitch`])
    /// over the middle of the note (each run of consecutive masked frames is a note; frames
    /// outside any run, and notes too short to measure, get the median pitch of the notes).
    pub pitch: bool,
    /// Append the kept static MFCCs of the `context` frames before and after each frame
    /// (offsets -context..-1 and 1..context, clamped at the recording's edges): stacked
    /// context frames.
    pub context: usize,
    /// Append the levels of the note's first `harmonics` partials in each frame: the power
    /// spectrum's peak near k f0 (f0 of the note by YIN, as for `pitch`), in dB below the
    /// frame's strongest partial, floored at -[`HARMONIC_FLOOR_DB`] (partials above Nyquist
    /// sit at the floor). The shape of the harmonic series (e.g. a clarinet's weak even
    /// partials) does not depend on where the note sits in the mel bands.
    pub harmonics: usize,
    /// Note-level examples: each note's frame rows pooled into one vector
    /// ([`crate::pool::NotePool`]); a model trained on them answers once per note.
    pub pool: Option<NotePool>,
    /// Take what is per note from the note alone ([`Recipe::frames_of_notes`]): the dB floor
    /// of its MFCCs (`top_db`) 80 dB below its own loudest mel bin instead of the recording's,
    /// and its pitch (`pitch`, `harmonics`) from its own frames instead of the run of adjacent
    /// notes it belongs to. Then a note reads the same whatever other notes share its
    /// recording. Left out of the written recipe when false, so earlier recipes read as before.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub note_local: bool,
}

/// Floor (dB below the strongest partial) of the [`Recipe::harmonics`] features.
pub const HARMONIC_FLOOR_DB: f32 = 80.0;
/// Largest [`Recipe::context`] and [`Recipe::harmonics`] a recipe may ask for.
pub const MAX_CONTEXT: usize = 16;
pub const MAX_HARMONICS: usize = 64;

impl Default for Recipe {
    fn default() -> Self {
        Recipe {
            sr: 22050,
            n_fft: 2048,
            hop: 512,
            n_mels: 128,
            fmin: 0.0,
            fmax: None,
            n_mfcc: 40,
            deltas: true,
            cmn: false,
            cmn_coeffs: 0,
            cmn_weight: 1.0,
            cmn_per_note: false,
            skip_coeffs: 0,
            note_mean: false,
            pitch: false,
            context: 0,
            harmonics: 0,
            pool: None,
            note_local: false,
        }
    }
}

impl Recipe {
    /// Length of one feature vector.
    pub fn dim(&self) -> usize {
        let statics = self.n_mfcc.saturating_sub(self.skip_coeffs);
        let deltas = if self.deltas { 2 * self.n_mfcc } else { 0 };
        statics
            + deltas
            + if self.note_mean { statics } else { 0 }
            + usize::from(self.pitch)
            + 2 * self.context * statics
            + self.harmonics
    }

    /// Length of one model input: [`Recipe::dim`], or with [`Recipe::pool`] the pooled note
    /// vector's.
    pub fn input_dim(&self) -> usize {
        match &self.pool {
            Some(p) => p.dim(self.dim()),
            None => self.dim(),
        }
    }

    /// The mel parameters of this recipe.
    pub fn mel_params(&self) -> MelParams {
        MelParams {
            sr: self.sr,
            n_fft: self.n_fft,
            hop: self.hop,
            n_mels: self.n_mels,
            fmin: self.fmin,
            fmax: self.fmax,
            htk: false,
        }
    }

    /// Checks that the parameters make sense; the message names the bad field.
    pub fn validate(&self) -> Result<(), String> {
        if self.sr == 0 || self.sr > 1_000_000 {
            return Err(format!(
                "sr must be between 1 and 1000000 Hz, got {}",
                self.sr
            ));
        }
        if self.n_fft < 2 || self.n_fft > MAX_N_FFT {
            return Err(format!(
                "n_fft must be between 2 and {MAX_N_FFT}, got {}",
                self.n_fft
            ));
        }
        if self.hop == 0 || self.hop > MAX_N_FFT {
            return Err(format!(
                "hop must be between 1 and {MAX_N_FFT}, got {}",
                self.hop
            ));
        }
        if self.n_mels == 0 || self.n_mels > MAX_N_MELS {
            return Err(format!(
                "n_mels must be between 1 and {MAX_N_MELS}, got {}",
                self.n_mels
            ));
        }
        if self.n_mfcc == 0 {
            return Err("n_mfcc must be at least 1".into());
        }
        if self.skip_coeffs >= self.n_mfcc {
            return Err(format!(
                "skip_coeffs ({}) must be less than n_mfcc ({})",
                self.skip_coeffs, self.n_mfcc
            ));
        }
        if !self.cmn_weight.is_finite() || !(0.0..=1.0).contains(&self.cmn_weight) {
            return Err(format!(
                "cmn_weight must be in [0, 1], got {}",
                self.cmn_weight
            ));
        }
        if self.context > MAX_CONTEXT {
            return Err(format!(
                "context must be at most {MAX_CONTEXT} frames, got {}",
                self.context
            ));
        }
        if self.harmonics > MAX_HARMONICS {
            return Err(format!(
                "harmonics must be at most {MAX_HARMONICS}, got {}",
                self.harmonics
            ));
        }
        if let Some(p) = &self.pool {
            p.validate()?;
        }
        if self.n_mfcc > self.n_mels {
            return Err(format!(
                "n_mfcc ({}) cannot exceed n_mels ({})",
                self.n_mfcc, self.n_mels
            ));
        }
        let nyquist = self.sr as f32 / 2.0;
        if !self.fmin.is_finite() || self.fmin < 0.0 || self.fmin >= nyquist {
            return Err(format!(
                "fmin must be in [0, {nyquist}) Hz, got {}",
                self.fmin
            ));
        }
        if let Some(fmax) = self.fmax {
            if !fmax.is_finite() || fmax <= self.fmin || fmax > nyquist {
                return Err(format!(
                    "fmax must be in ({}, {nyquist}] Hz, got {fmax}",
                    self.fmin
                ));
            }
        }
        Ok(())
    }

    /// Feature vectors of `y` (already at `self.sr`): `frames x dim`, one row per STFT frame,
    /// columns `[mfcc; delta; delta-delta]` when `deltas` is set.
    pub fn frames(&self, y: &[f32]) -> Matrix {
        self.frames_cmn_over(y, None)
    }

    /// [`Recipe::frames`], with the cepstral mean (when `cmn` is set) taken over the frames
    /// whose `mask` entry is true, e.g. the frames inside detected notes, so the amount of
    /// silence in a recording does not shift its features. `None`, or a mask with no true entry,
    /// takes the mean over every frame.
    pub fn frames_cmn_over(&self, y: &[f32], mask: Option<&[bool]>) -> Matrix {
        self.frames_inner(y, mask, None)
    }

    /// The feature rows of `y` for a recording whose notes cover the frame ranges `notes`
    /// (ranges that do not overlap): [`Recipe::frames_cmn_over`] with the frames inside notes
    /// as the mask, and with [`Recipe::note_local`] each note's dB floor and pitch its own.
    pub fn frames_of_notes(&self, y: &[f32], notes: &[Range<usize>]) -> Matrix {
        let t = crate::stft::n_frames(y.len(), self.n_fft, self.hop);
        let mut mask = vec![false; t];
        let notes: Vec<Range<usize>> = notes
            .iter()
            .map(|r| r.start.min(t)..r.end.min(t))
            .filter(|r| !r.is_empty())
            .collect();
        for r in &notes {
            mask[r.clone()].fill(true);
        }
        self.frames_inner(y, Some(&mask), self.note_local.then_some(&notes[..]))
    }

    /// [`Recipe::frames_cmn_over`]; with `groups` (the notes, when `note_local`), the per-note
    /// quantities are taken over each group instead of each run of masked frames.
    fn frames_inner(
        &self,
        y: &[f32],
        mask: Option<&[bool]>,
        groups: Option<&[Range<usize>]>,
    ) -> Matrix {
        let n = self.n_mfcc;
        let t = crate::stft::n_frames(y.len(), self.n_fft, self.hop);
        let mask = mask.filter(|m| m.len() == t && m.iter().any(|&b| b));
        // The notes: runs of consecutive masked frames (or the groups given), found once for
        // every per-note feature.
        let runs = match groups {
            Some(g) if mask.is_some() => g.to_vec(),
            _ => mask.map(masked_runs).unwrap_or_default(),
        };
        let floors = groups.map_or(&[][..], |_| &runs[..]);
        let f0 = if (self.pitch || self.harmonics > 0) && t > 0 {
            Some(self.note_f0(y, t, &runs))
        } else {
            None
        };
        // The partial levels come from the same STFT pass as the MFCCs.
        let mut harmonics = vec![vec![-HARMONIC_FLOOR_DB; t]; self.harmonics];
        let mut levels = vec![0f32; self.harmonics];
        let bins_per_hz = self.n_fft as f32 / self.sr as f32;
        let m = mfcc_floored_with(y, &self.mel_params(), n, floors, |i, power| {
            if let Some(&f) = f0.as_ref().and_then(|f0| f0.get(i)) {
                if partial_levels(power, f * bins_per_hz, &mut levels) {
                    for (row, &l) in harmonics.iter_mut().zip(&levels) {
                        row[i] = l;
                    }
                }
            }
        });
        let mut feats = if self.deltas {
            let d1 = delta(&m, DELTA_WIDTH, 1);
            let d2 = delta(&m, DELTA_WIDTH, 2);
            Matrix::vstack(&[&m, &d1, &d2]).unwrap_or(m)
        } else {
            m
        };
        if self.cmn && feats.cols > 0 {
            let weight = f64::from(self.cmn_weight);
            for r in 0..feats.rows {
                if self.cmn_coeffs > 0 && r % n >= self.cmn_coeffs {
                    continue;
                }
                let row = feats.row_mut(r);
                let all = (weight * masked_mean(row, mask, 0..row.len())) as f32;
                // With `cmn_per_note`, each note's frames lose its own mean (`runs` are in
                // order and do not overlap), the frames between notes the recording's.
                let mut done = 0;
                if self.cmn_per_note {
                    for run in &runs {
                        let own = (weight * masked_mean(row, None, self.inner(run))) as f32;
                        row[done..run.start].iter_mut().for_each(|v| *v -= all);
                        row[run.clone()].iter_mut().for_each(|v| *v -= own);
                        done = run.end;
                    }
                }
                row[done..].iter_mut().for_each(|v| *v -= all);
            }
        }
        let note_means = if self.note_mean && feats.cols > 0 {
            Some(self.note_means(&feats, mask, &runs))
        } else {
            None
        };
        let pitch = f0.as_ref().filter(|_| self.pitch).map(|f| {
            f.iter()
                .map(|&f0| (f0 / 440.0).log2())
                .collect::<Vec<f32>>()
        });
        let kept: Vec<usize> = (self.skip_coeffs.min(feats.rows)..feats.rows).collect();
        let statics = self.skip_coeffs.min(feats.rows)..self.n_mfcc.min(feats.rows);
        let context: Vec<Vec<f32>> = context_offsets(self.context)
            .flat_map(|o| statics.clone().map(move |r| (o, r)))
            .map(|(o, r)| shifted(feats.row(r), o))
            .collect();
        let mut rows: Vec<&[f32]> = kept.iter().map(|&r| feats.row(r)).collect();
        if let Some(nm) = &note_means {
            rows.extend(nm.iter().map(|v| v.as_slice()));
        }
        if let Some(p) = &pitch {
            rows.push(p);
        }
        rows.extend(context.iter().map(|v| v.as_slice()));
        rows.extend(harmonics.iter().map(|v| v.as_slice()));
        let cols = feats.cols;
        let data: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        Matrix::from_vec(rows.len(), cols, data)
            .unwrap_or_else(|| Matrix::zeros(rows.len(), cols))
            .transpose()
    }

    /// The frames of `note` whose windows (n_fft / 2 either side of their centres), and with
    /// `deltas` their delta windows, stay inside it; all of them when it is too short to have
    /// any.
    fn inner(&self, note: &Range<usize>) -> Range<usize> {
        let edge = self.n_fft.div_ceil(2 * self.hop.max(1))
            + if self.deltas { DELTA_WIDTH / 2 } else { 0 };
        crate::mfcc::interior(note, edge)
    }

    /// Per kept static coefficient, one value per frame: the mean over the run of consecutive
    /// masked frames the frame lies in (outside any run, or without a mask: over all masked or
    /// all frames).
    fn note_means(
        &self,
        feats: &Matrix,
        mask: Option<&[bool]>,
        runs: &[Range<usize>],
    ) -> Vec<Vec<f32>> {
        let t = feats.cols;
        (self.skip_coeffs..self.n_mfcc.min(feats.rows))
            .map(|r| {
                let row = feats.row(r);
                let all = masked_mean(row, mask, 0..t) as f32;
                let mut out = vec![all; t];
                for run in runs {
                    let mean = masked_mean(row, None, run.clone()) as f32;
                    out[run.clone()].iter_mut().for_each(|v| *v = mean);
                }
                out
            })
            .collect()
    }

    /// One value per frame: the f0 (Hz) of the note (run of masked frames) it lies in, by YIN
    /// over the middle of the note; frames outside any run, and notes too short to measure, get
    /// the median f0 of the notes (or of the whole recording). See [`Recipe::pitch`].
    fn note_f0(&self, y: &[f32], t: usize, runs: &[Range<usize>]) -> Vec<f32> {
        let (fmin, fmax) = (PITCH_FMIN, PITCH_FMAX.min(self.sr as f32 / 2.0));
        let measured: Vec<Option<f32>> = runs
            .iter()
            .map(|run| {
                let lo = (run.start * self.hop).min(y.len());
                let hi = (run.end * self.hop).min(y.len());
                crate::pitch::yin_f0(&y[lo..hi], self.sr, fmin, fmax)
            })
            .collect();
        let mut known: Vec<f32> = measured.iter().flatten().copied().collect();
        known.sort_by(f32::total_cmp);
        let fallback = known
            .get(known.len() / 2)
            .copied()
            .or_else(|| crate::pitch::yin_f0(y, self.sr, fmin, fmax))
            .unwrap_or(440.0);
        let mut out = vec![fallback; t];
        for (run, p) in runs.iter().zip(&measured) {
            out[run.clone()].fill(p.unwrap_or(fallback));
        }
        out
    }
}

/// The levels of the partials of one frame's power spectrum whose fundamental sits at bin `f`
/// (fractional): `levels[k]` is the peak near `(k + 1) f`, in dB below the strongest of them,
/// floored at -[`HARMONIC_FLOOR_DB`]; partials above Nyquist sit at the floor. Returns false (and
/// leaves `levels` meaningless) for a silent frame. See [`Recipe::harmonics`].
fn partial_levels(power: &[f32], f: f32, levels: &mut [f32]) -> bool {
    let Some(last) = power.len().checked_sub(1) else {
        return false;
    };
    // Half the spacing of the partials, at least one bin: the peak search window.
    let half = (0.5 * f).max(1.0);
    for (k, level) in levels.iter_mut().enumerate() {
        let centre = (k + 1) as f32 * f;
        *level = if centre > last as f32 {
            0.0
        } else {
            let lo = (centre - half).ceil().max(0.0) as usize;
            let hi = ((centre + half).floor() as usize).min(last);
            power[lo.min(hi)..=hi].iter().copied().fold(0.0, f32::max)
        };
    }
    let peak = levels.iter().copied().fold(0.0, f32::max);
    if peak <= 0.0 {
        return false;
    }
    for l in levels.iter_mut() {
        *l = (10.0 * (*l / peak).max(1e-12).log10()).max(-HARMONIC_FLOOR_DB);
    }
    true
}

/// The frame offsets of [`Recipe::context`]: `-c..=-1` then `1..=c`.
fn context_offsets(c: usize) -> impl Iterator<Item = isize> {
    let c = c as isize;
    (-c..0).chain(1..=c)
}

/// `row` moved by `offset` frames (entry `i` is `row[i + offset]`, clamped to the edges).
fn shifted(row: &[f32], offset: isize) -> Vec<f32> {
    let last = row.len() as isize - 1;
    (0..row.len() as isize)
        .map(|i| row[(i + offset).clamp(0, last.max(0)) as usize])
        .collect()
}

/// Lowest and highest pitch (Hz) the `pitch` feature looks for (below E1; above C7).
const PITCH_FMIN: f32 = 40.0;
const PITCH_FMAX: f32 = 2200.0;

/// The runs of consecutive true entries of `mask`.
fn masked_runs(mask: &[bool]) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < mask.len() {
        if mask[i] {
            let start = i;
            while i < mask.len() && mask[i] {
                i += 1;
            }
            runs.push(start..i);
        } else {
            i += 1;
        }
    }
    runs
}

/// Mean of `row[range]`, over the entries whose `mask` is true when a mask is given.
fn masked_mean(row: &[f32], mask: Option<&[bool]>, range: Range<usize>) -> f64 {
    let (sum, n) = range.fold((0f64, 0usize), |(s, n), i| {
        if mask.is_none_or(|m| m[i]) {
            (s + f64::from(row[i]), n + 1)
        } else {
            (s, n)
        }
    });
    sum / n.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmn_over_a_mask_zeroes_the_masked_mean_only() {
        let r = Recipe {
            cmn: true,
            ..Recipe::default()
        };
        let y: Vec<f32> = (0..22050)
            .map(|i| {
                if i < 11025 {
                    (i as f32 * 0.07).sin() * 0.5
                } else {
                    0.0
                }
            })
            .collect();
        let n = crate::stft::n_frames(y.len(), r.n_fft, r.hop);
        let mask: Vec<bool> = (0..n).map(|t| t < n / 3).collect();
        let f = r.frames_cmn_over(&y, Some(&mask));
        for c in 0..f.cols {
            let masked: f64 = (0..n / 3).map(|t| f.get(t, c) as f64).sum::<f64>() / (n / 3) as f64;
            assert!(masked.abs() < 1e-3, "column {c}: mean {masked}");
        }
        let all = r.frames(&y);
        assert_ne!(all, f, "the mask changes the mean");
    }

    #[test]
    fn a_note_local_note_reads_as_it_does_alone() {
        // A loud A3, then straight after it (legato, no gap) a soft E4 60 dB below, each 43 hops
        // long: frame j of the soft note alone is frame 43 + j of the whole. With `note_local`
        // (and, with CMN, `cmn_per_note`) the soft note's rows are those it has alone.
        let sr = 22050.0;
        let hop = Recipe::default().hop;
        let n = 43 * hop;
        let tone = |f: f32, a: f32| {
            (0..n).map(move |i| a * (2.0 * std::f32::consts::PI * f * i as f32 / sr).sin())
        };
        let soft: Vec<f32> = tone(329.6, 1e-3).collect();
        let y: Vec<f32> = tone(220.0, 1.0).chain(soft.iter().copied()).collect();
        let t = crate::stft::n_frames(y.len(), 2048, hop);
        let alone_t = crate::stft::n_frames(soft.len(), 2048, hop);
        for (local, cmn) in [(true, false), (true, true), (false, false), (false, true)] {
            let r = Recipe {
                pitch: true,
                harmonics: 10,
                note_local: local,
                cmn,
                cmn_weight: 0.5,
                cmn_per_note: local,
                ..Recipe::default()
            };
            let whole = r.frames_of_notes(&y, &[0..43, 43..t]);
            let alone = r.frames_of_notes(&soft, std::slice::from_ref(&(0..alone_t)));
            // Interior frames of the soft note: clear of the join's window and delta width.
            let worst = (8..alone_t - 8)
                .flat_map(|j| (0..r.dim()).map(move |c| (j, c)))
                .map(|(j, c)| (whole.get(43 + j, c) - alone.get(j, c)).abs())
                .fold(0.0, f32::max);
            if local {
                assert!(worst < 1e-3, "note_local (cmn {cmn}): {worst}");
            } else {
                assert!(
                    worst > 1.0,
                    "one floor, pitch and mean for the run: {worst}"
                );
            }
        }
    }

    #[test]
    fn pitch_is_one_value_per_note() {
        let r = Recipe {
            pitch: true,
            ..Recipe::default()
        };
        assert_eq!(r.dim(), 121);
        let sr = r.sr as usize;
        // 0.5 s of A3 (220 Hz), 0.25 s of silence, 0.5 s of A4 (440 Hz).
        let tone = |f: f32, n: usize| -> Vec<f32> {
            (0..n)
                .map(|i| (2.0 * std::f32::consts::PI * f * i as f32 / sr as f32).sin() * 0.5)
                .collect()
        };
        let mut y = tone(220.0, sr / 2);
        y.extend(vec![0.0; sr / 4]);
        y.extend(tone(440.0, sr / 2));
        let n = crate::stft::n_frames(y.len(), r.n_fft, r.hop);
        let frame_of = |sample: usize| sample / r.hop;
        let mask: Vec<bool> = (0..n)
            .map(|t| t < frame_of(sr / 2) || t > frame_of(3 * sr / 4))
            .collect();
        let f = r.frames_cmn_over(&y, Some(&mask));
        assert_eq!(f.cols, 121);
        let p = |t: usize| f.get(t, 120);
        assert!(
            (p(2) - (-1.0)).abs() < 0.01,
            "A3 is an octave below A4: {}",
            p(2)
        );
        assert!(p(n - 3).abs() < 0.01, "A4: {}", p(n - 3));
        assert_eq!(p(0), p(frame_of(sr / 2) - 1), "one value per note");
        // Without a mask: the pitch of the middle of the recording, on every frame.
        let g = r.frames(&y);
        assert!((0..n).all(|t| g.get(t, 120) == g.get(0, 120)));
    }

    #[test]
    fn context_stacks_the_neighbouring_frames() {
        let base = Recipe::default();
        let r = Recipe {
            context: 2,
            ..Recipe::default()
        };
        assert_eq!(r.dim(), 120 + 4 * 40);
        let y: Vec<f32> = (0..22050)
            .map(|i| ((i as f32 * 0.05).sin() + (i as f32 * 0.013).sin()) * (i as f32 / 22050.0))
            .collect();
        let (a, f) = (base.frames(&y), r.frames(&y));
        assert_eq!((f.rows, f.cols), (a.rows, r.dim()));
        let last = f.rows - 1;
        for t in [0, 7, last] {
            // The row starts with the plain features, then offsets -2, -1, +1, +2 of the statics.
            assert_eq!(&f.row(t)[..120], a.row(t));
            for (j, o) in [-2isize, -1, 1, 2].into_iter().enumerate() {
                let src = (t as isize + o).clamp(0, last as isize) as usize;
                assert_eq!(&f.row(t)[120 + 40 * j..160 + 40 * j], &a.row(src)[..40]);
            }
        }
    }

    #[test]
    fn harmonics_follow_the_partials() {
        let r = Recipe {
            harmonics: 6,
            ..Recipe::default()
        };
        assert_eq!(r.dim(), 126);
        let sr = r.sr as f32;
        // A "clarinet": 220 Hz with odd partials at 1/k and even partials 30 dB lower.
        let y: Vec<f32> = (0..r.sr as usize)
            .map(|i| {
                (1..=6)
                    .map(|k| {
                        let a = if k % 2 == 1 {
                            1.0 / k as f32
                        } else {
                            0.0316 / k as f32
                        };
                        a * (2.0 * std::f32::consts::PI * 220.0 * k as f32 * i as f32 / sr).sin()
                    })
                    .sum::<f32>()
                    * 0.3
            })
            .collect();
        let f = r.frames(&y);
        let row = &f.row(f.rows / 2)[120..];
        let expect = [0.0, -36.0, -9.5, -42.0, -14.0, -45.6];
        for (k, (&got, &want)) in row.iter().zip(&expect).enumerate() {
            assert!(
                (got - want).abs() < 1.5,
                "partial {}: {got} dB, not {want}",
                k + 1
            );
        }
        // A recipe that asks for partials above Nyquist gets the floor there.
        let high = Recipe {
            harmonics: 64,
            ..Recipe::default()
        };
        let g = high.frames(&y);
        assert_eq!(g.get(g.rows / 2, 120 + 63), -HARMONIC_FLOOR_DB);
        // Silence: every partial at the floor, no NaN.
        let s = r.frames(&vec![0.0; 4096]);
        assert!((0..s.rows).all(|t| s.row(t)[120..].iter().all(|&v| v == -HARMONIC_FLOOR_DB)));
    }

    #[test]
    fn default_is_120_dims() {
        let r = Recipe::default();
        assert_eq!(r.dim(), 120);
        assert!(r.validate().is_ok());
    }

    #[test]
    fn validate_rejects_nonsense() {
        let bad = [
            Recipe {
                n_fft: 0,
                ..Recipe::default()
            },
            Recipe {
                hop: 0,
                ..Recipe::default()
            },
            Recipe {
                sr: 0,
                ..Recipe::default()
            },
            Recipe {
                n_mfcc: 200,
                ..Recipe::default()
            },
            Recipe {
                fmax: Some(20000.0),
                ..Recipe::default()
            },
            Recipe {
                n_mels: MAX_N_MELS + 1,
                ..Recipe::default()
            },
            Recipe {
                n_fft: MAX_N_FFT + 1,
                ..Recipe::default()
            },
            Recipe {
                hop: usize::MAX,
                ..Recipe::default()
            },
            Recipe {
                context: MAX_CONTEXT + 1,
                ..Recipe::default()
            },
            Recipe {
                harmonics: MAX_HARMONICS + 1,
                ..Recipe::default()
            },
        ];
        for r in bad {
            assert!(r.validate().is_err(), "{r:?}");
        }
    }

    #[test]
    fn frames_shape_and_cmn() {
        let y: Vec<f32> = (0..5000).map(|i| (i as f32 * 0.05).sin()).collect();
        let r = Recipe {
            cmn: true,
            ..Recipe::default()
        };
        let f = r.frames(&y);
        assert_eq!((f.rows, f.cols), (1 + 5000 / 512, 120));
        for c in 0..f.cols {
            let mean: f32 = (0..f.rows).map(|t| f.get(t, c)).sum::<f32>() / f.rows as f32;
            assert!(mean.abs() < 1e-3);
        }
    }

    #[test]
    fn skip_coeffs_and_note_mean_change_the_row() {
        let y: Vec<f32> = (0..22050)
            .map(|i| {
                if (4000..9000).contains(&i) || (12000..20000).contains(&i) {
                    (i as f32 * if i < 10000 { 0.07 } else { 0.13 }).sin() * 0.5
                } else {
                    0.0
                }
            })
            .collect();
        let base = Recipe::default();
        let r = Recipe {
            skip_coeffs: 2,
            note_mean: true,
            ..Recipe::default()
        };
        assert_eq!(r.dim(), 38 + 80 + 38);
        let n = crate::stft::n_frames(y.len(), r.n_fft, r.hop);
        let mask: Vec<bool> = (0..n)
            .map(|t| (9..16).contains(&t) || (25..37).contains(&t))
            .collect();
        let f = r.frames_cmn_over(&y, Some(&mask));
        let b = base.frames_cmn_over(&y, Some(&mask));
        assert_eq!((f.rows, f.cols), (n, r.dim()));
        for t in 0..n {
            // The rows without c0 and c1 are the default rows shifted by two.
            assert_eq!(&f.row(t)[..118], &b.row(t)[2..]);
        }
        // The appended block holds each note's mean of c2.. and is constant within a note.
        for run in [9..16, 25..37] {
            for c in 0..38 {
                let mean: f32 =
                    run.clone().map(|t| b.get(t, c + 2)).sum::<f32>() / run.len() as f32;
                for t in run.clone() {
                    assert!((f.get(t, 118 + c) - mean).abs() < 1e-3 * (1.0 + mean.abs()));
                }
            }
        }
        assert_ne!(f.get(10, 118), f.get(30, 118), "two notes, two means");
    }

    #[test]
    fn partial_cmn_touches_only_the_chosen_coefficients() {
        let y: Vec<f32> = (0..8000).map(|i| (i as f32 * 0.05).sin()).collect();
        let r = Recipe {
            cmn: true,
            cmn_coeffs: 2,
            cmn_weight: 0.5,
            ..Recipe::default()
        };
        let f = r.frames(&y);
        let b = Recipe::default().frames(&y);
        let mean =
            |m: &Matrix, c: usize| (0..m.rows).map(|t| m.get(t, c)).sum::<f32>() / m.rows as f32;
        for c in [0, 1, 40, 41, 80, 81] {
            assert!((mean(&f, c) - 0.5 * mean(&b, c)).abs() < 1e-3 * (1.0 + mean(&b, c).abs()));
        }
        for c in [2, 39, 42, 100] {
            assert_eq!(mean(&f, c), mean(&b, c));
        }
        assert!(Recipe {
            cmn_weight: 1.5,
            ..Recipe::default()
        }
        .validate()
        .is_err());
        assert!(Recipe {
            skip_coeffs: 40,
            ..Recipe::default()
        }
        .validate()
        .is_err());
    }

    #[test]
    fn recipes_saved_before_the_new_fields_still_load() {
        let old = r#"{"sr":22050,"n_fft":2048,"hop":512,"n_mels":128,"fmin":0.0,"fmax":null,"n_mfcc":40,"deltas":true,"cmn":false}"#;
        let r: Recipe = serde_json::from_str(old).unwrap();
        assert_eq!(r, Recipe::default());
        assert_eq!(r.dim(), 120);
    }

    #[test]
    fn serde_round_trip() {
        let r = Recipe {
            fmax: Some(8000.0),
            ..Recipe::default()
        };
        let s = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Recipe>(&s).unwrap(), r);
    }
}
