//! The feature recipe: every parameter that turns a waveform into per-frame feature vectors
//! (MFCCs, optionally with deltas and delta-deltas, optionally cepstral-mean normalised). A
//! model stores its recipe so classification computes exactly the features it was trained on.

use crate::delta::delta;
use crate::mel::MelParams;
use crate::mfcc::mfcc;
use crate::Matrix;
use serde::{Deserialize, Serialize};

/// Width of the delta window (librosa's default).
pub const DELTA_WIDTH: usize = 9;

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
        }
    }
}

impl Recipe {
    /// Length of one feature vector.
    pub fn dim(&self) -> usize {
        if self.deltas {
            3 * self.n_mfcc
        } else {
            self.n_mfcc
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
        if self.n_fft < 2 || self.n_fft > 1 << 20 {
            return Err(format!(
                "n_fft must be between 2 and 1048576, got {}",
                self.n_fft
            ));
        }
        if self.hop == 0 {
            return Err("hop must be at least 1".into());
        }
        if self.n_mels == 0 {
            return Err("n_mels must be at least 1".into());
        }
        if self.n_mfcc == 0 {
            return Err("n_mfcc must be at least 1".into());
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
        let m = mfcc(y, &self.mel_params(), self.n_mfcc);
        let mut feats = if self.deltas {
            let d1 = delta(&m, DELTA_WIDTH, 1);
            let d2 = delta(&m, DELTA_WIDTH, 2);
            Matrix::vstack(&[&m, &d1, &d2]).unwrap_or(m)
        } else {
            m
        };
        if self.cmn && feats.cols > 0 {
            let mask = mask.filter(|m| m.len() == feats.cols && m.iter().any(|&b| b));
            for r in 0..feats.rows {
                let row = feats.row_mut(r);
                let (sum, n) = match mask {
                    Some(mask) => row
                        .iter()
                        .zip(mask)
                        .filter(|(_, &keep)| keep)
                        .fold((0f64, 0usize), |(s, n), (&v, _)| (s + v as f64, n + 1)),
                    None => (row.iter().map(|&v| v as f64).sum::<f64>(), row.len()),
                };
                let mean = sum / n as f64;
                for v in row.iter_mut() {
                    *v -= mean as f32;
                }
            }
        }
        feats.transpose()
    }
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
    fn serde_round_trip() {
        let r = Recipe {
            fmax: Some(8000.0),
            ..Recipe::default()
        };
        let s = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Recipe>(&s).unwrap(), r);
    }
}
