//! One recording analysed with a feature recipe: decode -> resample -> segment notes ->
//! per-frame feature rows, and which frames lie inside each note.

use crate::error::PipelineError;
use instclf_audio::decode;
use instclf_audio::recipe::Recipe;
use instclf_audio::segment::{self, Note, SegmentParams};
use instclf_audio::Matrix;
use std::path::Path;

/// One recording analysed: its notes, and the feature rows of its frames.
pub struct Analysis {
    pub notes: Vec<Note>,
    /// `frames x recipe.dim()` feature rows of the whole recording.
    pub frames: Matrix,
    /// Per note, the range of frame rows whose centres lie inside it.
    pub note_frames: Vec<std::ops::Range<usize>>,
}

/// Frames (centred, hop `hop` at rate `sr`) whose centre lies in `[start, end)` seconds.
pub fn frames_in(note: &Note, sr: u32, hop: usize, n_frames: usize) -> std::ops::Range<usize> {
    let per_s = sr as f64 / hop as f64;
    let first = (note.start * per_s).ceil().max(0.0) as usize;
    let last = ((note.end * per_s).ceil().max(0.0) as usize).min(n_frames);
    first.min(last)..last
}

/// Decodes `path`, resamples it to the recipe's rate, finds its notes and computes features.
pub fn analyse(
    path: &Path,
    recipe: &Recipe,
    seg: &SegmentParams,
) -> Result<Analysis, PipelineError> {
    let audio = decode::load(path, Some(recipe.sr))?;
    Ok(analyse_samples(&audio.samples, recipe, seg))
}

/// [`analyse`] on samples already at `recipe.sr`.
pub fn analyse_samples(y: &[f32], recipe: &Recipe, seg: &SegmentParams) -> Analysis {
    let notes = segment::segment(y, recipe.sr, seg);
    let (frames, note_frames) = features_of_notes(y, recipe, &notes);
    Analysis {
        notes,
        frames,
        note_frames,
    }
}

/// The recipe's feature rows of `y` (at `recipe.sr`) and, per note of `notes`, the rows whose
/// centres lie inside it. With CMN, the mean is taken over the frames inside notes, not the
/// silence around them; with `note_local`, each note's dB floor and pitch are its own.
pub fn features_of_notes(
    y: &[f32],
    recipe: &Recipe,
    notes: &[Note],
) -> (Matrix, Vec<std::ops::Range<usize>>) {
    let n_frames = instclf_audio::stft::n_frames(y.len(), recipe.n_fft, recipe.hop);
    let note_frames: Vec<_> = notes
        .iter()
        .map(|n| frames_in(n, recipe.sr, recipe.hop, n_frames))
        .collect();
    (recipe.frames_of_notes(y, &note_frames), note_frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_inside_a_note() {
        // hop 512 at 22050 Hz: frame t is centred at t * 23.2 ms.
        let n = Note {
            start: 0.1,
            end: 0.2,
        };
        let r = frames_in(&n, 22050, 512, 100);
        assert_eq!(r, 5..9);
        for t in r {
            let c = t as f64 * 512.0 / 22050.0;
            assert!((0.1..0.2).contains(&c));
        }
        assert_eq!(
            frames_in(
                &Note {
                    start: 0.1,
                    end: 9.0
                },
                22050,
                512,
                7
            ),
            5..7
        );
    }
}
