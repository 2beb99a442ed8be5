//! The glue between the audio and model crates that more than one command needs: finding
//! labelled audio files, and turning one recording into notes and per-frame feature rows with a
//! given recipe (decode -> resample -> segment -> features).

use anyhow::Context;
use instclf_audio::decode;
use instclf_audio::recipe::Recipe;
use instclf_audio::segment::{self, Note, SegmentParams};
use instclf_audio::Matrix;
use std::path::{Path, PathBuf};

/// File name endings taken as audio when walking a folder.
pub const AUDIO_EXTENSIONS: &[&str] = &["aiff", "aif", "aifc", "wav", "flac", "mp3", "ogg", "oga"];

/// Where a recording's class name comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LabelFrom {
    /// The first dot-separated token of the file name (`SopSax.Vib.pp.C6Eb6.aiff` -> SopSax).
    Name,
    /// The name of the folder that holds the file.
    Folder,
}

/// The class name of `path`, or `None` when it has none.
pub fn label_of(path: &Path, from: LabelFrom) -> Option<String> {
    let label = match from {
        LabelFrom::Name => path.file_name()?.to_str()?.split('.').next()?.to_string(),
        LabelFrom::Folder => path.parent()?.file_name()?.to_str()?.to_string(),
    };
    (!label.is_empty()).then_some(label)
}

fn is_audio(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Every audio file under `dir` (recursively), sorted by path so runs are reproducible.
pub fn audio_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d)
            .with_context(|| format!("{}: cannot read folder", d.display()))?;
        for entry in entries {
            let path = entry
                .with_context(|| format!("{}: cannot read folder", d.display()))?
                .path();
            if path.is_dir() {
                stack.push(path);
            } else if is_audio(&path) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Expands command-line inputs: files stay, folders become the audio files under them.
pub fn expand_inputs(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            out.extend(audio_files(p)?);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

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
pub fn analyse(path: &Path, recipe: &Recipe, seg: &SegmentParams) -> anyhow::Result<Analysis> {
    let audio = decode::load(path, Some(recipe.sr))?;
    Ok(analyse_samples(&audio.samples, recipe, seg))
}

/// [`analyse`] on samples already at `recipe.sr`.
pub fn analyse_samples(y: &[f32], recipe: &Recipe, seg: &SegmentParams) -> Analysis {
    let notes = segment::segment(y, recipe.sr, seg);
    let n_frames = instclf_audio::stft::n_frames(y.len(), recipe.n_fft, recipe.hop);
    let note_frames: Vec<_> = notes
        .iter()
        .map(|n| frames_in(n, recipe.sr, recipe.hop, n_frames))
        .collect();
    // With CMN, the mean is taken over the frames inside notes, not the silence around them.
    let mut in_note = vec![false; n_frames];
    for r in &note_frames {
        in_note[r.clone()].iter_mut().for_each(|b| *b = true);
    }
    let frames = recipe.frames_cmn_over(y, Some(&in_note));
    Analysis {
        notes,
        frames,
        note_frames,
    }
}

/// What a clip holds (`dataset build --clips`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
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
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(self.seconds > 0.0 && self.seconds.is_finite()) {
            anyhow::bail!(
                "--clips must be a positive number of seconds, got {}",
                self.seconds
            );
        }
        if self.input == ClipInput::Waveform {
            if !(1..=16).contains(&self.bits) {
                anyhow::bail!("--bits must be between 1 and 16, got {}", self.bits);
            }
            if self.rate == 0 {
                anyhow::bail!("--rate must be at least 1 Hz");
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
/// flat row per clip; a recording shorter than one clip is an error that says so.
pub fn clip_rows(path: &Path, spec: &ClipSpec, recipe: &Recipe) -> anyhow::Result<Vec<Vec<f32>>> {
    let rate = match spec.input {
        ClipInput::Waveform => spec.rate,
        ClipInput::Mel => recipe.sr,
    };
    let audio = decode::load(path, Some(rate))?;
    let len = clip_samples(spec.seconds, rate);
    if len == 0 || audio.samples.len() < len {
        anyhow::bail!(
            "{}: the recording is {:.3} s long, shorter than one {} s clip",
            path.display(),
            audio.samples.len() as f64 / f64::from(rate),
            spec.seconds
        );
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
    fn labels_from_name_and_folder() {
        let p = Path::new("/x/Strings/SopSax.Vib.pp.C6Eb6.aiff");
        assert_eq!(label_of(p, LabelFrom::Name).as_deref(), Some("SopSax"));
        assert_eq!(label_of(p, LabelFrom::Folder).as_deref(), Some("Strings"));
        assert_eq!(label_of(Path::new(".hidden.wav"), LabelFrom::Name), None);
    }

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
