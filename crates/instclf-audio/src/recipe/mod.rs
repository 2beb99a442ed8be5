//! The feature recipe: every parameter that turns a waveform into per-frame feature vectors
//! (MFCCs, optionally with deltas and delta-deltas, optionally cepstral-mean normalised, wholly or
//! partly, optionally without the first coefficients, and with per-note or per-frame extras
//! appended: the note's mean MFCCs, its pitch, stacked context frames, harmonic levels,
//! harmonicity, the envelope through the partials). A
//! model stores its recipe so classification computes exactly the features it was trained on;
//! every field has a default, so recipes saved before a field existed still load unchanged.

use crate::delta::delta;
use crate::mel::MelParams;
use crate::mfcc::mfcc_floored_with;
use crate::partials::{envelope, envelope_centres, harmonicity, partial_levels};
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
    /// Append, per frame, how far the note's partials stand above the noise between them in
    /// `harmonicity` octave groups of partials (1; 2-3; 4-7; ...), in dB
    /// ([`crate::partials::harmonicity`]): breath and bow noise, which the partial levels and
    /// the MFCCs blur. Left out of the written recipe when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub harmonicity: usize,
    /// Append, per frame, the spectral envelope through the note's partials read at `envelope`
    /// fixed frequencies from 150 Hz to 8 kHz, evenly in log-frequency
    /// ([`crate::partials::envelope`]), in dB below the strongest partial: where the energy lies
    /// whatever the pitch. Left out of the written recipe when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub envelope: usize,
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

pub use crate::partials::HARMONIC_FLOOR_DB;
/// Largest [`Recipe::context`] and [`Recipe::harmonics`] a recipe may ask for.
pub const MAX_CONTEXT: usize = 16;
pub const MAX_HARMONICS: usize = 64;
/// Largest [`Recipe::harmonicity`]: 6 octave groups reach the 63rd partial.
pub const MAX_HARMONICITY: usize = 6;
/// Largest [`Recipe::envelope`].
pub const MAX_ENVELOPE: usize = 64;

fn is_zero(n: &usize) -> bool {
    *n == 0
}

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
            harmonicity: 0,
            envelope: 0,
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
            + self.harmonicity
            + self.envelope
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
        if self.harmonicity > MAX_HARMONICITY {
            return Err(format!(
                "harmonicity must be at most {MAX_HARMONICITY} groups, got {}",
                self.harmonicity
            ));
        }
        if self.envelope > MAX_ENVELOPE {
            return Err(format!(
                "envelope must be at most {MAX_ENVELOPE} bands, got {}",
                self.envelope
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
        let f0 = if (self.pitch || self.harmonics > 0 || self.harmonicity > 0 || self.envelope > 0)
            && t > 0
        {
            Some(self.note_f0(y, t, &runs))
        } else {
            None
        };
        // The partial levels come from the same STFT pass as the MFCCs.
        let mut harmonics = vec![vec![-HARMONIC_FLOOR_DB; t]; self.harmonics];
        let mut levels = vec![0f32; self.harmonics];
        let mut clean = vec![vec![0f32; t]; self.harmonicity];
        let mut groups = vec![0f32; self.harmonicity];
        let bins_per_hz = self.n_fft as f32 / self.sr as f32;
        let mut env = vec![vec![-HARMONIC_FLOOR_DB; t]; self.envelope];
        let centres: Vec<f32> = envelope_centres(self.envelope)
            .iter()
            .map(|c| c * bins_per_hz)
            .collect();
        let mut bands = vec![0f32; self.envelope];
        let m = mfcc_floored_with(y, &self.mel_params(), n, floors, |i, power| {
            if let Some(&f) = f0.as_ref().and_then(|f0| f0.get(i)) {
                if partial_levels(power, f * bins_per_hz, &mut levels) {
                    for (row, &l) in harmonics.iter_mut().zip(&levels) {
                        row[i] = l;
                    }
                }
                if !groups.is_empty() {
                    harmonicity(power, f * bins_per_hz, &mut groups);
                    for (row, &g) in clean.iter_mut().zip(&groups) {
                        row[i] = g;
                    }
                }
                if !bands.is_empty() && envelope(power, f * bins_per_hz, &centres, &mut bands) {
                    for (row, &b) in env.iter_mut().zip(&bands) {
                        row[i] = b;
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
        rows.extend(clean.iter().map(|v| v.as_slice()));
        rows.extend(env.iter().map(|v| v.as_slice()));
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
mod tests;
