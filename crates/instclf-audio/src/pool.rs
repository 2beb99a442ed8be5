//! Note-level features: one vector per note, pooled from the feature rows of the frames inside
//! it (the recipe's frames: MFCCs, deltas, partial levels, ...). A frame holds one instant; how a
//! note unfolds (its attack, its decay, vibrato, how the spectrum moves) is in the spread of its
//! frames and in its first frames, which the pooled vector keeps: per feature column, the mean
//! over the note, the standard deviation, the mean of the attack frames, and optionally the
//! 10th and 90th percentiles and the mean of the note's second half (where a struck or plucked
//! note has decayed and a bowed or blown one sustains), and optionally a time profile: the means
//! of consecutive blocks of frames from the note's start (how the first second of the note moves).
//! Nothing outside the note enters it, so a note's vector does not depend on the other notes of
//! its recording.

use crate::Matrix;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// How a note's frames are pooled into one vector. See the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NotePool {
    /// Frames from the note's start averaged as its attack (0: no attack block).
    pub attack_frames: usize,
    /// Add each column's standard deviation over the note.
    pub std: bool,
    /// Add each column's 10th and 90th percentiles over the note.
    pub percentiles: bool,
    /// Add each column's mean over the note's second half (its later frames, `n / 2..n`).
    pub late: bool,
    /// Blocks of the time profile (0: none): block `b` is each column's mean over the frames
    /// `b * profile_frames..(b + 1) * profile_frames` from the note's start; a block past the
    /// note's end repeats the last block that holds frames. Left out of the written recipe when
    /// 0, so recipes without a profile read as they always did.
    #[serde(skip_serializing_if = "is_zero")]
    pub profile_blocks: usize,
    /// Frames per block of the time profile.
    #[serde(skip_serializing_if = "is_default_profile_frames")]
    pub profile_frames: usize,
}

impl Default for NotePool {
    fn default() -> Self {
        NotePool {
            attack_frames: 4,
            std: true,
            percentiles: false,
            late: false,
            profile_blocks: 0,
            profile_frames: 4,
        }
    }
}

/// Largest [`NotePool::attack_frames`] (and `profile_blocks * profile_frames`) a recipe may ask
/// for.
pub const MAX_ATTACK_FRAMES: usize = 256;

impl NotePool {
    /// How many blocks of `frame_dim` values the pooled vector holds.
    fn blocks(&self) -> usize {
        1 + usize::from(self.std)
            + usize::from(self.attack_frames > 0)
            + 2 * usize::from(self.percentiles)
            + usize::from(self.late)
            + self.profile_blocks
    }

    /// Length of the pooled vector of frames with `frame_dim` features.
    pub fn dim(&self, frame_dim: usize) -> usize {
        self.blocks() * frame_dim
    }

    /// The pooled vector of the frame rows `rows` of `frames` (`frames x dim`, one row per
    /// frame): blocks `[mean; std; attack mean; p10; p90; late mean; profile 0..B]`, those that
    /// are switched on, in that order. An empty range gives zeros.
    pub fn pool(&self, frames: &Matrix, rows: Range<usize>) -> Vec<f32> {
        let d = frames.cols;
        let mut out = vec![0f32; self.dim(d)];
        let rows = rows.start.min(frames.rows)..rows.end.min(frames.rows);
        let n = rows.len();
        if n == 0 {
            return out;
        }
        let mut column = vec![0f32; n];
        for c in 0..d {
            for (v, r) in column.iter_mut().zip(rows.clone()) {
                *v = frames.get(r, c);
            }
            let mean = mean_of(&column);
            out[c] = mean as f32;
            let mut block = 1;
            if self.std {
                let var = column
                    .iter()
                    .map(|&v| (f64::from(v) - mean).powi(2))
                    .sum::<f64>()
                    / n as f64;
                out[block * d + c] = var.sqrt() as f32;
                block += 1;
            }
            if self.attack_frames > 0 {
                out[block * d + c] = mean_of(&column[..self.attack_frames.min(n)]) as f32;
                block += 1;
            }
            // Taken before the percentiles sort the column in place.
            let late = self.late.then(|| mean_of(&column[n / 2..]));
            let profile: Vec<f32> = (0..self.profile_blocks)
                .map(|b| {
                    let f = self.profile_frames;
                    let s = b.min((n - 1) / f) * f;
                    mean_of(&column[s..(s + f).min(n)]) as f32
                })
                .collect();
            if self.percentiles {
                column.sort_by(f32::total_cmp);
                out[block * d + c] = percentile(&column, 0.1);
                out[(block + 1) * d + c] = percentile(&column, 0.9);
                block += 2;
            }
            if let Some(late) = late {
                out[block * d + c] = late as f32;
                block += 1;
            }
            for (b, v) in profile.into_iter().enumerate() {
                out[(block + b) * d + c] = v;
            }
        }
        out
    }

    /// Checks the parameters; the message names the bad field.
    pub fn validate(&self) -> Result<(), String> {
        if self.attack_frames > MAX_ATTACK_FRAMES {
            return Err(format!(
                "pool.attack_frames must be at most {MAX_ATTACK_FRAMES}, got {}",
                self.attack_frames
            ));
        }
        if self.profile_blocks > 0 {
            if self.profile_frames == 0 {
                return Err("pool.profile_frames must be at least 1".to_string());
            }
            if self.profile_blocks * self.profile_frames > MAX_ATTACK_FRAMES {
                return Err(format!(
                    "pool.profile_blocks * pool.profile_frames must be at most \
                     {MAX_ATTACK_FRAMES}, got {} * {}",
                    self.profile_blocks, self.profile_frames
                ));
            }
        }
        Ok(())
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn is_default_profile_frames(n: &usize) -> bool {
    *n == NotePool::default().profile_frames
}

/// The mean of `values` (not empty), summed in f64.
fn mean_of(values: &[f32]) -> f64 {
    values.iter().map(|&v| f64::from(v)).sum::<f64>() / values.len() as f64
}

/// The `q` quantile of `sorted` (ascending, not empty), linearly interpolated as numpy does.
fn percentile(sorted: &[f32], q: f64) -> f32 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let w = pos - lo as f64;
    (f64::from(sorted[lo]) * (1.0 - w) + f64::from(sorted[hi]) * w) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames() -> Matrix {
        // 5 frames x 2 columns: column 0 = 0..5, column 1 = 10, 10, 10, 10, 20.
        Matrix::from_vec(
            5,
            2,
            vec![0.0, 10.0, 1.0, 10.0, 2.0, 10.0, 3.0, 10.0, 4.0, 20.0],
        )
        .unwrap()
    }

    #[test]
    fn pooled_blocks_are_mean_std_attack_and_percentiles() {
        let p = NotePool {
            attack_frames: 2,
            std: true,
            percentiles: true,
            late: true,
            ..NotePool::default()
        };
        assert_eq!(p.dim(2), 12);
        let v = p.pool(&frames(), 0..5);
        let close = |a: f32, b: f32| (a - b).abs() < 1e-5;
        // mean
        assert!(close(v[0], 2.0) && close(v[1], 12.0));
        // population std: sqrt(2) and 4
        assert!(close(v[2], 2f32.sqrt()) && close(v[3], 4.0));
        // attack: the first two frames
        assert!(close(v[4], 0.5) && close(v[5], 10.0));
        // numpy.percentile([0,1,2,3,4], 10) = 0.4, 90 -> 3.6; [10,10,10,10,20]: 10 and 16
        assert!(close(v[6], 0.4) && close(v[7], 10.0));
        assert!(close(v[8], 3.6) && close(v[9], 16.0));
        // late: frames 2..5 (the second half, the middle frame with it)
        assert!(close(v[10], 3.0) && close(v[11], 40.0 / 3.0));
        // Without percentiles the late block follows the attack block.
        let q = NotePool {
            percentiles: false,
            ..p
        };
        assert_eq!(q.pool(&frames(), 0..5)[6..8], v[10..12]);
    }

    #[test]
    fn the_profile_holds_block_means_from_the_start_and_repeats_the_last() {
        let p = NotePool {
            attack_frames: 0,
            std: false,
            profile_blocks: 4,
            profile_frames: 2,
            ..NotePool::default()
        };
        assert_eq!(p.dim(2), 10);
        let v = p.pool(&frames(), 0..5);
        // mean, then blocks of frames 0..2, 2..4, 4..5, and 4..5 again past the end.
        let want = [2.0, 12.0, 0.5, 10.0, 2.5, 10.0, 4.0, 20.0, 4.0, 20.0];
        assert!(
            v.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-5),
            "{v:?}"
        );
        let bad = NotePool {
            profile_frames: 0,
            ..p.clone()
        };
        assert!(bad.validate().unwrap_err().contains("profile_frames"));
        let long = NotePool {
            profile_blocks: 200,
            ..p
        };
        assert!(long.validate().unwrap_err().contains("profile_blocks"));
    }

    #[test]
    fn a_note_sees_only_its_own_frames() {
        let p = NotePool::default();
        let all = frames();
        let alone = Matrix::from_vec(2, 2, all.data[4..8].to_vec()).unwrap();
        assert_eq!(p.pool(&all, 2..4), p.pool(&alone, 0..2));
        // An attack longer than the note is the whole note; an empty note is zeros.
        assert_eq!(p.pool(&all, 4..5)[4..6], [4.0, 20.0]);
        assert!(p.pool(&all, 3..3).iter().all(|&v| v == 0.0));
    }
}
