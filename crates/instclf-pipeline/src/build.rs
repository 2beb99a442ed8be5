//! Dataset building (`dataset build`): labelled recordings in, a dataset folder in the MARL
//! layout out. Files are analysed in parallel (see [`crate::analysis`]), split into train and test *by recording*
//! (stratified by class, seeded; recordings with the same file name in several input folders,
//! e.g. the same run rendered from two soundfonts, always land in the same split), and every frame
//! inside a detected note becomes one row (or, with a pooling recipe, every note one row). The folder is written under a temporary name and
//! renamed into place, so it is never half-written.

use crate::analysis::{self, Analysis};
use crate::clips::{self, ClipInput, ClipSpec};
use crate::error::PipelineError;
use crate::inputs::{self, LabelFrom};
use crate::progress::Progress;
use instclf_audio::augment::{augment, AugmentParams, Rng};
use instclf_audio::recipe::Recipe;
use instclf_audio::segment::SegmentParams;
use instclf_fs::csv_field;
use instclf_model::dataset::{Dataset, Split};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What to build.
pub struct BuildOptions {
    pub inputs: Vec<PathBuf>,
    pub label_from: LabelFrom,
    pub test_fraction: f64,
    pub seed: u64,
    pub recipe: Recipe,
    pub segment: SegmentParams,
    /// Augmented variants added per training recording (0: none).
    pub augment: usize,
    /// The ranges the augmented variants are drawn from.
    pub augment_params: AugmentParams,
}

/// What was built, for the report.
pub struct BuildReport {
    pub files: usize,
    pub train_files: usize,
    pub test_files: usize,
    pub notes: usize,
    /// The recordings of the test split, in path order.
    pub test_recordings: Vec<PathBuf>,
    /// Files left out, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

/// The distinct labels of `labelled`, sorted: the dataset's classes.
fn classes_of(labelled: &[(PathBuf, String)]) -> Vec<String> {
    labelled
        .iter()
        .map(|(_, l)| l.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

struct FileRows {
    path: PathBuf,
    label: String,
    notes: Vec<(f64, f64, std::ops::Range<usize>)>,
    frames: instclf_audio::Matrix,
    is_test: bool,
    /// 0 for the recording itself, k > 0 for its k-th augmented variant.
    variant: usize,
}

/// Analyses `path` itself (`variant` 0) or its `variant`-th augmented copy, seeded by the build
/// seed, the file name and the variant so every build is reproducible.
fn analyse_variant(
    path: &Path,
    opts: &BuildOptions,
    variant: usize,
) -> Result<Analysis, PipelineError> {
    if variant == 0 {
        return analysis::analyse(path, &opts.recipe, &opts.segment);
    }
    let audio = instclf_audio::decode::load(path, Some(opts.recipe.sr))?;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in file_name(path).bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    let mut rng = Rng::new(opts.seed ^ h ^ (variant as u64).wrapping_mul(0x9E37_79B9));
    let y = augment(
        &audio.samples,
        opts.recipe.sr,
        &opts.augment_params,
        &mut rng,
    );
    Ok(analysis::analyse_samples(&y, &opts.recipe, &opts.segment))
}

/// Analyses the `(path, label, variant)` jobs in parallel; failures go to `skipped`.
fn analyse_all(
    jobs: Vec<(&PathBuf, &String, usize)>,
    opts: &BuildOptions,
    bar: &dyn Progress,
    skipped: &mut Vec<(PathBuf, String)>,
) -> Vec<FileRows> {
    let results: Vec<Result<FileRows, (PathBuf, String, usize)>> = jobs
        .into_par_iter()
        .map(|(path, label, variant)| {
            let r = analyse_variant(path, opts, variant);
            bar.inc(1);
            match r {
                Ok(a) if a.notes.is_empty() => {
                    Err((path.clone(), "no notes detected".to_string(), variant))
                }
                Ok(a) => Ok(FileRows {
                    notes: a
                        .notes
                        .iter()
                        .zip(a.note_frames)
                        .map(|(n, r)| (n.start, n.end, r))
                        .collect(),
                    frames: a.frames,
                    path: path.clone(),
                    label: label.clone(),
                    is_test: false,
                    variant,
                }),
                Err(e) => Err((path.clone(), e.to_string(), variant)),
            }
        })
        .collect();
    let mut ok = Vec::new();
    for r in results {
        match r {
            Ok(f) => ok.push(f),
            // An augmented copy can lose its notes (e.g. in noise); its original is still in.
            Err((_, _, variant)) if variant > 0 => {}
            Err((path, why, _)) => skipped.push((path, why)),
        }
    }
    ok
}

/// A file with its label, or with the reason it was skipped.
type PathLabel = (PathBuf, String);

/// The options every build checks before it reads any audio.
fn check_options(opts: &BuildOptions) -> Result<(), PipelineError> {
    if !(opts.test_fraction > 0.0 && opts.test_fraction < 1.0) {
        bail_invalid!(
            "--test-fraction must be between 0 and 1 (exclusive), got {}",
            opts.test_fraction
        );
    }
    let lowpass = opts.augment_params.lowpass_p;
    if !(0.0..=1.0).contains(&lowpass) {
        bail_invalid!("augment.lowpass must be a probability in [0, 1], got {lowpass}");
    }
    let clean = opts.augment_params.clean_p;
    if !(0.0..=1.0).contains(&clean) {
        bail_invalid!("augment.clean must be a probability in [0, 1], got {clean}");
    }
    let stretch = opts.augment_params.stretch_semitones;
    if !(0.0..=12.0).contains(&stretch) {
        bail_invalid!("augment.stretch must be between 0 and 12 semitones, got {stretch}");
    }
    opts.recipe
        .validate()
        .map_err(|e| PipelineError::Invalid(format!("invalid feature recipe: {e}")))
}

/// The audio files under the inputs with their class labels, and the files without a label
/// (with the reason); no labelled file at all is an error.
fn labelled_inputs(opts: &BuildOptions) -> Result<(Vec<PathLabel>, Vec<PathLabel>), PipelineError> {
    let mut skipped = Vec::new();
    let mut labelled = Vec::new();
    for f in inputs::expand_inputs(&opts.inputs)? {
        match inputs::label_of(&f, opts.label_from) {
            Some(l) => labelled.push((f, l)),
            None => skipped.push((f, "no class label in its name".to_string())),
        }
    }
    if labelled.is_empty() {
        bail_invalid!(
            "no labelled audio files found under {}",
            display_list(&opts.inputs)
        );
    }
    Ok((labelled, skipped))
}

/// Analyses every labelled recording and assembles the dataset; `notes_csv` lists every note
/// with its split and row range.
pub fn build(
    opts: &BuildOptions,
    bar: &dyn Progress,
) -> Result<(Dataset, String, BuildReport), PipelineError> {
    check_options(opts)?;
    let (labelled, mut skipped) = labelled_inputs(opts)?;
    // Phase 1: every recording itself. Phase 2: the split, among the usable recordings only.
    // Phase 3: `augment` random variants of each training recording.
    bar.set_length((labelled.len() * (1 + opts.augment)) as u64);
    let jobs: Vec<_> = labelled.iter().map(|(p, l)| (p, l, 0)).collect();
    let mut ok = analyse_all(jobs, opts, bar, &mut skipped);
    let usable: Vec<(PathBuf, String)> = ok
        .iter()
        .map(|f| (f.path.clone(), f.label.clone()))
        .collect();
    let classes = classes_of(&labelled);
    let test_names = split_by_recording(&usable, &classes, opts.test_fraction, opts.seed)?;
    for f in ok.iter_mut() {
        f.is_test = test_names.contains(file_name(&f.path));
    }
    let jobs: Vec<_> = usable
        .iter()
        .filter(|(p, _)| !test_names.contains(file_name(p)))
        .flat_map(|(p, l)| (1..=opts.augment).map(move |v| (p, l, v)))
        .collect();
    ok.extend(analyse_all(jobs, opts, bar, &mut skipped));
    bar.finish();
    ok.sort_by(|a, b| (&a.path, a.variant).cmp(&(&b.path, b.variant)));

    let dim = opts.recipe.input_dim();
    let (mut train, mut test) = (Split::default(), Split::default());
    let mut csv = String::from("split,file,variant,class,note,start,end,row_start,row_end\n");
    let (mut train_files, mut test_files, mut n_notes) = (0, 0, 0);
    for f in &ok {
        let class = classes.iter().position(|c| *c == f.label).unwrap_or(0) as u32;
        let (split, name) = if f.is_test {
            test_files += 1;
            (&mut test, "test")
        } else {
            train_files += usize::from(f.variant == 0);
            (&mut train, "train")
        };
        for (i, (start, end, rows)) in f.notes.iter().enumerate() {
            if rows.is_empty() && opts.recipe.pool.is_some() {
                continue; // no frame to pool (classify skips such notes too)
            }
            let first = split.rows();
            if let Some(pool) = &opts.recipe.pool {
                split.x.extend(pool.pool(&f.frames, rows.clone()));
                split.y.push(class);
            } else {
                for r in rows.clone() {
                    split.x.extend_from_slice(f.frames.row(r));
                    split.y.push(class);
                }
            }
            n_notes += 1;
            let _ = writeln!(
                csv,
                "{name},{},{},{},{i},{start:.4},{end:.4},{first},{}",
                csv_field(&f.path.display().to_string()),
                f.variant,
                f.label,
                split.rows()
            );
        }
    }
    if train.rows() == 0 || test.rows() == 0 {
        bail_invalid!(
            "the notes found give no rows for the {} split",
            if train.rows() == 0 { "train" } else { "test" }
        );
    }
    let ds = Dataset {
        train,
        test,
        n_features: dim,
        classes,
        recipe: Some(serde_json::to_value(&opts.recipe)?),
        dir: PathBuf::new(),
    };
    let report = BuildReport {
        files: train_files + test_files,
        train_files,
        test_files,
        notes: n_notes,
        test_recordings: ok
            .iter()
            .filter(|f| f.is_test)
            .map(|f| f.path.clone())
            .collect(),
        skipped,
    };
    Ok((ds, csv, report))
}

fn file_name(p: &Path) -> &str {
    p.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

fn display_list(p: &[PathBuf]) -> String {
    p.iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The file names that go to the test split: per class, a seeded shuffle of its recordings'
/// names, of which `round(n * fraction)` (at least 1, at most n - 1) are held out.
fn split_by_recording(
    files: &[(PathBuf, String)],
    classes: &[String],
    fraction: f64,
    seed: u64,
) -> Result<BTreeSet<String>, PipelineError> {
    let mut by_class: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (path, label) in files {
        by_class.entry(label).or_default().insert(file_name(path));
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut test = BTreeSet::new();
    for class in classes {
        let names: Vec<&str> = by_class
            .get(class.as_str())
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        if names.len() < 2 {
            bail_invalid!(
                "class {class} has {} usable recording(s); at least 2 are needed to split train and test by recording",
                names.len()
            );
        }
        let mut names = names;
        names.shuffle(&mut rng);
        let n_test = ((names.len() as f64 * fraction).round() as usize).clamp(1, names.len() - 1);
        test.extend(names[..n_test].iter().map(|s| s.to_string()));
    }
    Ok(test)
}

/// Writes the dataset folder atomically: into a temporary sibling, then renamed to `out`. An
/// existing `out` is replaced only with `force`.
pub fn write(ds: &Dataset, notes_csv: &str, out: &Path, force: bool) -> Result<(), PipelineError> {
    write_with(
        ds,
        &[("notes.csv", notes_csv.as_bytes().to_vec())],
        out,
        force,
    )
}

/// [`write`] with other extra files than `notes.csv` (a clip dataset: `clips.csv` and
/// `sequence.json`).
pub fn write_with(
    ds: &Dataset,
    extra: &[(&str, Vec<u8>)],
    out: &Path,
    force: bool,
) -> Result<(), PipelineError> {
    if out.exists() && !force {
        bail_invalid!(
            "{}: output folder exists (use --force to replace it)",
            out.display()
        );
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".dataset-")
        .tempdir_in(&parent)
        .map_err(|e| PipelineError::io(out, "cannot create output folder", e))?;
    ds.save(tmp.path())?;
    for (name, bytes) in extra {
        std::fs::write(tmp.path().join(name), bytes)
            .map_err(|e| PipelineError::io(out, &format!("cannot write {name}"), e))?;
    }
    if out.exists() {
        std::fs::remove_dir_all(out)
            .map_err(|e| PipelineError::io(out, "cannot replace the old folder", e))?;
    }
    let tmp = tmp.keep();
    std::fs::rename(&tmp, out)
        .map_err(|e| PipelineError::io(out, "cannot move the dataset into place", e))?;
    Ok(())
}

/// A clip dataset ([`build_clips`]): rows, the clip list and the `sequence.json` description.
pub struct ClipBuild {
    pub dataset: Dataset,
    pub clips_csv: String,
    pub spec: instclf_model::sequence::SequenceSpec,
    pub report: BuildReport,
}

/// Cuts every labelled recording into fixed-length clips (`--clips`): one row per clip, split
/// into train and test by recording like [`build`]. Recordings shorter than one clip are
/// skipped (listed in the report); none long enough is an error.
pub fn build_clips(
    opts: &BuildOptions,
    clip: &ClipSpec,
    bar: &dyn Progress,
) -> Result<ClipBuild, PipelineError> {
    check_options(opts)?;
    if opts.augment > 0 {
        bail_invalid!("--augment is not supported with --clips");
    }
    clip.validate()?;
    let (labelled, mut skipped) = labelled_inputs(opts)?;
    bar.set_length(labelled.len() as u64);
    let results: Vec<_> = labelled
        .par_iter()
        .map(|(p, _)| {
            let r = clips::clip_rows(p, clip, &opts.recipe);
            bar.inc(1);
            r
        })
        .collect();
    bar.finish();
    let mut ok = Vec::new();
    let mut too_short = 0;
    for ((path, label), r) in labelled.iter().zip(results) {
        match r {
            Ok(rows) => ok.push((path.clone(), label.clone(), rows)),
            Err(e) => {
                too_short += usize::from(matches!(e, PipelineError::ClipTooShort { .. }));
                skipped.push((path.clone(), e.to_string()));
            }
        }
    }
    if ok.is_empty() {
        bail_invalid!(
            "no usable recording under {}{}",
            display_list(&opts.inputs),
            if too_short > 0 {
                format!(
                    ": {too_short} recording(s) are shorter than one {} s clip (the clips are longer than the audio)",
                    clip.seconds
                )
            } else {
                String::new()
            }
        );
    }
    let classes = classes_of(&labelled);
    let usable: Vec<(PathBuf, String)> =
        ok.iter().map(|(p, l, _)| (p.clone(), l.clone())).collect();
    let test_names = split_by_recording(&usable, &classes, opts.test_fraction, opts.seed)?;
    let (steps, step_values) = clips::clip_shape(clip, &opts.recipe);
    let (mut train, mut test) = (Split::default(), Split::default());
    let mut csv = String::from("split,file,class,clip,start,end,row\n");
    let (mut train_files, mut test_files, mut n_clips) = (0, 0, 0);
    for (path, label, rows) in &ok {
        let class = classes.iter().position(|c| c == label).unwrap_or(0) as u32;
        let is_test = test_names.contains(file_name(path));
        let (split, name) = if is_test {
            test_files += 1;
            (&mut test, "test")
        } else {
            train_files += 1;
            (&mut train, "train")
        };
        for (i, row) in rows.iter().enumerate() {
            if row.len() != steps * step_values {
                bail_invalid!(
                    "{}: clip {i} has {} values, expected {}",
                    path.display(),
                    row.len(),
                    steps * step_values
                );
            }
            let _ = writeln!(
                csv,
                "{name},{},{label},{i},{:.4},{:.4},{}",
                csv_field(&path.display().to_string()),
                i as f64 * clip.seconds,
                (i + 1) as f64 * clip.seconds,
                split.rows()
            );
            split.x.extend_from_slice(row);
            split.y.push(class);
            n_clips += 1;
        }
    }
    let spec = instclf_model::sequence::SequenceSpec {
        input: match clip.input {
            ClipInput::Waveform => "waveform".to_string(),
            ClipInput::Mel => "mel".to_string(),
        },
        clip_s: clip.seconds,
        rate: match clip.input {
            ClipInput::Waveform => clip.rate,
            ClipInput::Mel => opts.recipe.sr,
        },
        bits: (clip.input == ClipInput::Waveform).then_some(clip.bits),
        steps,
        step_values,
    };
    let dataset = Dataset {
        train,
        test,
        n_features: steps * step_values,
        classes,
        recipe: (clip.input == ClipInput::Mel)
            .then(|| serde_json::to_value(&opts.recipe))
            .transpose()?,
        dir: PathBuf::new(),
    };
    Ok(ClipBuild {
        dataset,
        clips_csv: csv,
        spec,
        report: BuildReport {
            files: train_files + test_files,
            train_files,
            test_files,
            notes: n_clips,
            test_recordings: ok
                .iter()
                .filter(|(p, _, _)| test_names.contains(file_name(p)))
                .map(|(p, _, _)| p.clone())
                .collect(),
            skipped,
        },
    })
}
