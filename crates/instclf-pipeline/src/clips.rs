//! Fixed-length clips for sequence models (`dataset build --clips`, `predict`): what a clip
//! holds, its shape, and cutting a recording into clips (digitised waveform or feature frames).

use crate::error::PipelineError;
use instclf_audio::decode;
use instclf_audio::recipe::Recipe;
use std::path::Path;

/// What a clip holds (`dataset build --clips`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClipInput {
    /// The waveform, normalised per file to [0, 1], resampled and digitised to `bits`.
    Waveform,
    /// The recipe's feature frames (MFCC [+ deltas]) of the clip.
    Mel,
}

/// How recordings are cut into fixed-length clips.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClipSpec {
    pub seconds: f64,
    pub input: ClipInput,
    /// Digitising rate for `waveform` (Hz).
    pub rate: u32,
    /// Bits per digitised sample (1..=16).
    pub bits: u32,
}

impl ClipSpec {
    /// Checks the clip length, rate and bits.
    pub fn validate(&self) -> Result<(), PipelineError> {
        if !(self.seconds > 0.0 && self.seconds.is_finite()) {
            return Err(PipelineError::Invalid(format!(
                "--clips must be a positive number of seconds, got {}",
                self.seconds
            )));
        }
        if self.input == ClipInput::Waveform {
            if !(1..=16).contains(&self.bits) {
                return Err(PipelineError::Invalid(format!(
                    "--bits must be between 1 and 16, got {}",
                    self.bits
                )));
            }
            if self.rate == 0 {
                return Err(PipelineError::Invalid(
                    "--rate must be at least 1 Hz".to_string(),
                ));
            }
        }
        Ok(())
    }
}

/// Digitises `y` (normalised to [0, 1] by its own minimum and maximum, like EpyNN's author-music
/// preparation) to the levels `0..2^bits`, returned as whole-number `f32`s.
pub fn digitise(y: &[f32], bits: u32) -> Vec<f32> {
    let levels = (1u32 << bits) as f32;
    let (lo, hi) = y
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    y.iter()
        .map(|&v| {
            (((v - lo) / span) * levels)
                .floor()
                .clamp(0.0, levels - 1.0)
        })
        .collect()
}

/// Time steps and values per step of one clip.
pub fn clip_shape(spec: &ClipSpec, recipe: &Recipe) -> (usize, usize) {
    match spec.input {
        ClipInput::Waveform => (clip_samples(spec.seconds, spec.rate), 1),
        ClipInput::Mel => {
            let n = clip_samples(spec.seconds, recipe.sr);
            (
                instclf_audio::stft::n_frames(n, recipe.n_fft, recipe.hop),
                recipe.dim(),
            )
        }
    }
}

fn clip_samples(seconds: f64, rate: u32) -> usize {
    (seconds * f64::from(rate)).round() as usize
}

/// Cuts `path` into consecutive non-overlapping clips (the remainder is dropped) and returns one
/// flat row per clip; a recording shorter than one clip is [`PipelineError::ClipTooShort`].
pub fn clip_rows(
    path: &Path,
    spec: &ClipSpec,
    recipe: &Recipe,
) -> Result<Vec<Vec<f32>>, PipelineError> {
    let rate = match spec.input {
        ClipInput::Waveform => spec.rate,
        ClipInput::Mel => recipe.sr,
    };
    let audio = decode::load(path, Some(rate))?;
    let len = clip_samples(spec.seconds, rate);
    if len == 0 || audio.samples.len() < len {
        return Err(PipelineError::ClipTooShort {
            path: path.to_path_buf(),
            seconds: audio.samples.len() as f64 / f64::from(rate),
            clip_s: spec.seconds,
        });
    }
    let y = match spec.input {
        ClipInput::Waveform => digitise(&audio.samples, spec.bits),
        ClipInput::Mel => audio.samples,
    };
    Ok(y.chunks_exact(len)
        .map(|c| match spec.input {
            ClipInput::Waveform => c.to_vec(),
            ClipInput::Mel => recipe.frames(c).data,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digitise_normalises_per_file() {
        let y = [-1.0f32, -0.5, 0.0, 0.5, 1.0];
        assert_eq!(digitise(&y, 4), vec![0.0, 4.0, 8.0, 12.0, 15.0]);
        assert_eq!(digitise(&[0.3; 4], 2), vec![0.0; 4]);
        assert!(ClipSpec {
            seconds: 1.0,
            input: ClipInput::Waveform,
            rate: 10_000,
            bits: 0
        }
        .validate()
        .is_err());
    }
}
