//! A model made from a recipe file in one step (`instclf bundle`): one dataset per member of the
//! recipe from the same labelled recordings and the same split, one network per activation and
//! seed of each member, the recipe's calibration written into every network, and a report of the
//! ensemble scored on the held-out (test-split) recordings of each input folder and on further
//! folders. This module owns that sequence, its resumable work folder (datasets and networks are
//! kept as they are finished, an interrupted network resumes from its last epoch) and the report
//! (`REPORT.md`, `report.json`). The output folder (`m1`, `m2`, ... with `model.json` and
//! `model.safetensors` each, the recipe, the report) is written under a temporary name and
//! renamed into place, so it is never half-written.

use crate::build::{self, BuildOptions};
use crate::classify::Classifier;
use crate::error::PipelineError;
use crate::evaluate::{self, AudioEvaluation, Labelled};
use crate::inputs::{self, LabelFrom};
use crate::progress::Progress;
use crate::recipe_file::{Member, RecipeFile};
use instclf_audio::segment::SegmentParams;
use instclf_model::model::Calibration;
use instclf_model::train::{fit, fit_resume};
use instclf_model::{Callback, Control, Dataset, Device, EpochRecord, Model};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What to make.
pub struct BundleOptions<'a> {
    pub recipe: &'a RecipeFile,
    /// Folders of labelled recordings (every member's dataset is built from all of them).
    pub inputs: Vec<PathBuf>,
    /// Further folders of labelled recordings, scored whole in the report.
    pub eval: Vec<PathBuf>,
    pub label_from: LabelFrom,
    pub test_fraction: f64,
    pub seed: u64,
    /// Where datasets and networks are kept between runs.
    pub work: PathBuf,
    pub output: PathBuf,
    /// Replace an existing output folder, and start over a work folder made with other settings.
    pub force: bool,
    pub device: Device,
}

/// One member's dataset, as built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetReport {
    pub member: String,
    pub kind: String,
    pub files: usize,
    pub train_files: usize,
    pub test_files: usize,
    pub notes: usize,
    pub train_rows: usize,
    pub test_rows: usize,
    pub features: usize,
    pub build_s: f64,
    pub test_recordings: Vec<PathBuf>,
}

/// One trained network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkReport {
    /// Its folder in the output (`m1`, `m2`, ...).
    pub name: String,
    pub member: String,
    pub activation: String,
    pub seed: u64,
    pub epochs: usize,
    pub train_time_s: f64,
    /// Accuracy on its dataset's test rows (frames, or notes for a note-level member).
    pub test_accuracy: f64,
}

/// The ensemble scored on one folder of recordings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    pub recordings: String,
    /// Only the test-split recordings of an input folder (true), or a whole further folder.
    pub held_out: bool,
    pub evaluation: AudioEvaluation,
}

/// What `bundle` made and measured (`report.json`; `REPORT.md` is [`BundleReport::markdown`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BundleReport {
    pub recipe: String,
    pub inputs: Vec<String>,
    pub datasets: Vec<DatasetReport>,
    pub networks: Vec<NetworkReport>,
    pub calibration: Option<Calibration>,
    /// The weight of each network of a member in the ensemble's mean, where not 1 (the recipe's
    /// `calibration.weights`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub member_weights: std::collections::BTreeMap<String, f64>,
    pub evaluations: Vec<EvalReport>,
    /// Seconds spent building datasets and training networks (this run and any it resumed).
    pub build_time_s: f64,
    pub train_time_s: f64,
}

/// The settings a work folder's contents depend on: a work folder made with others is not reused.
#[derive(Serialize)]
struct Settings<'a> {
    members: &'a [Member],
    inputs: Vec<String>,
    label_from: &'static str,
    test_fraction: f64,
    seed: u64,
}

const SETTINGS_JSON: &str = "settings.json";

/// Makes the bundle: see the module documentation. `status` receives one line per step (and per
/// epoch); `bar` the progress of dataset building and evaluation.
pub fn bundle(
    opts: &BundleOptions,
    status: &dyn Fn(&str),
    bar: &dyn Progress,
) -> Result<BundleReport, PipelineError> {
    if opts.output.exists() && !opts.force {
        bail_invalid!(
            "{}: output folder exists (use --force to replace it)",
            opts.output.display()
        );
    }
    check_inputs(opts)?;
    let created = prepare_work(opts)?;
    let result = make(opts, status, bar);
    if result.is_err() && created && !opts.work.join(DATASET_DONE_MARK).exists() {
        // Nothing finished: leave no trace of this run.
        let _ = std::fs::remove_dir_all(&opts.work);
    }
    result
}

/// Marks a work folder in which at least one dataset was finished (kept after a failure).
const DATASET_DONE_MARK: &str = "started";

fn make(
    opts: &BundleOptions,
    status: &dyn Fn(&str),
    bar: &dyn Progress,
) -> Result<BundleReport, PipelineError> {
    let mut datasets = Vec::new();
    for m in &opts.recipe.members {
        datasets.push(member_dataset(opts, m, status, bar)?);
    }
    let first = &datasets[0];
    if let Some(d) = datasets
        .iter()
        .find(|d| d.test_recordings != first.test_recordings)
    {
        bail_invalid!(
            "the datasets of members '{}' and '{}' split the recordings differently (a recording \
             usable in one is not in the other)",
            first.member,
            d.member
        );
    }
    let mut networks = Vec::new();
    let mut models = Vec::new();
    for m in &opts.recipe.members {
        let dir = opts.work.join(&m.name);
        let data = Dataset::load(&dir.join("dataset"))?;
        for (activation, seed) in m.train.networks() {
            let name = format!("m{}", networks.len() + 1);
            let (report, mut model) = network(opts, m, &data, activation, seed, &name, status)?;
            // The recipe's calibration, with the member's weight where it is not 1.
            model.calibration = opts.recipe.calibration.clone().map(|c| Calibration {
                weight: (m.weight != 1.0).then_some(m.weight),
                ..c
            });
            networks.push(report);
            models.push(model);
        }
    }
    let evaluations = evaluate_all(opts, &models, first, status, bar)?;
    let report = BundleReport {
        recipe: opts.recipe.path.display().to_string(),
        inputs: opts
            .inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        build_time_s: datasets.iter().map(|d| d.build_s).sum(),
        train_time_s: networks.iter().map(|n| n.train_time_s).sum(),
        datasets,
        networks,
        calibration: opts.recipe.calibration.clone(),
        member_weights: opts
            .recipe
            .members
            .iter()
            .filter(|m| m.weight != 1.0)
            .map(|m| (m.name.clone(), m.weight))
            .collect(),
        evaluations,
    };
    write_output(opts, &models, &report)?;
    Ok(report)
}

/// Checks the folders before anything is built: each exists, holds audio and is given once (an
/// `--audio` folder may also be an `--eval` folder, scored whole), and
/// every `--eval` recording is labelled with a class of the `--audio` recordings (or `unknown`),
/// so a typo fails now rather than after the training.
fn check_inputs(opts: &BundleOptions) -> Result<(), PipelineError> {
    let mut seen: Vec<&PathBuf> = Vec::new();
    let mut classes = std::collections::BTreeSet::new();
    for d in opts.inputs.iter().chain(&opts.eval) {
        if !d.is_dir() {
            return Err(PipelineError::Input {
                path: d.clone(),
                msg: "no such folder".into(),
            });
        }
        if seen.contains(&d) && !(opts.inputs.contains(d) && opts.eval.contains(d)) {
            return Err(PipelineError::Input {
                path: d.clone(),
                msg: "the folder is given twice".into(),
            });
        }
        seen.push(d);
        let files = inputs::audio_files_in(d)?;
        if opts.inputs.contains(d) {
            classes.extend(
                files
                    .iter()
                    .filter_map(|f| inputs::label_of(f, opts.label_from)),
            );
        }
    }
    let classes: Vec<String> = classes.into_iter().collect();
    for d in &opts.eval {
        evaluate::labelled_recordings(std::slice::from_ref(d), opts.label_from, &classes)?;
    }
    Ok(())
}

/// Creates the work folder (true), or checks that the one there was made with these settings
/// (false; with `force`, one made with others is emptied and made anew).
fn prepare_work(opts: &BundleOptions) -> Result<bool, PipelineError> {
    let settings = serde_json::to_string_pretty(&Settings {
        members: &opts.recipe.members,
        inputs: opts
            .inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        label_from: opts.label_from.as_str(),
        test_fraction: opts.test_fraction,
        seed: opts.seed,
    })?;
    let path = opts.work.join(SETTINGS_JSON);
    if opts.work.exists() {
        match std::fs::read_to_string(&path) {
            Ok(old) if old == settings => return Ok(false),
            _ if !opts.force => bail_invalid!(
                "{}: the work folder holds datasets and networks made with other settings (recipe, \
                 inputs or split); use --force to start it over, or another --work",
                opts.work.display()
            ),
            _ => std::fs::remove_dir_all(&opts.work)
                .map_err(|e| PipelineError::io(&opts.work, "cannot empty the work folder", e))?,
        }
    }
    std::fs::create_dir_all(&opts.work)
        .map_err(|e| PipelineError::io(&opts.work, "cannot create the work folder", e))?;
    write_file(&path, settings.as_bytes())?;
    Ok(true)
}

/// The member's dataset in the work folder: built now, or as an earlier run left it.
fn member_dataset(
    opts: &BundleOptions,
    m: &Member,
    status: &dyn Fn(&str),
    bar: &dyn Progress,
) -> Result<DatasetReport, PipelineError> {
    let dir = opts.work.join(&m.name);
    let report_path = dir.join("dataset.json");
    if let Ok(bytes) = std::fs::read(&report_path) {
        if let Ok(r) = serde_json::from_slice::<DatasetReport>(&bytes) {
            if dir.join("dataset").is_dir() {
                status(&format!("{}: dataset kept from an earlier run", m.name));
                return Ok(r);
            }
        }
    }
    status(&format!("{}: building the {} dataset", m.name, m.kind()));
    let t0 = Instant::now();
    let build_opts = BuildOptions {
        inputs: opts.inputs.clone(),
        label_from: opts.label_from,
        test_fraction: opts.test_fraction,
        seed: opts.seed,
        recipe: m.features.clone(),
        segment: SegmentParams::default(),
        augment: m.augment.copies,
        augment_params: m.augment.params(),
    };
    let (ds, notes_csv, built) = build::build(&build_opts, bar)?;
    if ds.n_classes() < 2 {
        bail_invalid!(
            "the recordings under {} name one class only ({}): a classifier needs two or more",
            opts.inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            ds.classes.join(", ")
        );
    }
    for (path, why) in &built.skipped {
        status(&format!("skipped {}: {why}", path.display()));
    }
    std::fs::create_dir_all(&dir).map_err(|e| PipelineError::io(&dir, "cannot create", e))?;
    build::write(&ds, &notes_csv, &dir.join("dataset"), true)?;
    let r = DatasetReport {
        member: m.name.clone(),
        kind: m.kind().to_string(),
        files: built.files,
        train_files: built.train_files,
        test_files: built.test_files,
        notes: built.notes,
        train_rows: ds.train.rows(),
        test_rows: ds.test.rows(),
        features: ds.n_features,
        build_s: t0.elapsed().as_secs_f64(),
        test_recordings: built.test_recordings,
    };
    status(&format!(
        "{}: {} recordings, {} notes, {} train and {} test rows of {} features in {:.0} s",
        m.name, r.files, r.notes, r.train_rows, r.test_rows, r.features, r.build_s
    ));
    write_file(&report_path, &serde_json::to_vec_pretty(&r)?)?;
    write_file(&opts.work.join(DATASET_DONE_MARK), b"")?;
    Ok(r)
}

/// Passes each epoch's line to the status callback.
struct EpochLines<'a> {
    name: String,
    epochs: usize,
    status: &'a dyn Fn(&str),
}

impl Callback for EpochLines<'_> {
    fn on_epoch_end(&mut self, r: &EpochRecord) -> Control {
        let mut line = format!(
            "{}: epoch {}/{} - {:.1}s - loss: {:.4} - accuracy: {:.4}",
            self.name, r.epoch, self.epochs, r.time_s, r.loss, r.accuracy
        );
        if let (Some(vl), Some(va)) = (r.val_loss, r.val_accuracy) {
            line.push_str(&format!(" - val_loss: {vl:.4} - val_accuracy: {va:.4}"));
        }
        (self.status)(&line);
        Control::Continue
    }
}

/// One network of a member: trained now (resumed from its last checkpoint when an earlier run
/// was interrupted), or as an earlier run finished it.
fn network(
    opts: &BundleOptions,
    m: &Member,
    data: &Dataset,
    activation: instclf_model::Activation,
    seed: u64,
    name: &str,
    status: &dyn Fn(&str),
) -> Result<(NetworkReport, Model), PipelineError> {
    let dir = opts.work.join(&m.name).join(format!("{activation}-{seed}"));
    let done = opts
        .work
        .join(&m.name)
        .join(format!("{activation}-{seed}.json"));
    if let Ok(bytes) = std::fs::read(&done) {
        if let Ok(mut r) = serde_json::from_slice::<NetworkReport>(&bytes) {
            if let Ok(model) = Model::load(&dir, &opts.device) {
                status(&format!(
                    "{name} ({} {activation} seed {seed}): kept",
                    m.name
                ));
                r.name = name.to_string();
                return Ok((r, model));
            }
        }
    }
    let fit_opts = m.fit_options(activation, seed, Some(dir.clone()));
    let label = format!("{name} ({} {activation} seed {seed})", m.name);
    let mut lines = EpochLines {
        name: label.clone(),
        epochs: fit_opts.epochs,
        status,
    };
    let result = if dir.join("model.json").is_file() {
        status(&format!("{label}: resuming from its last checkpoint"));
        fit_resume(
            data,
            &fit_opts,
            &dir,
            &mut [&mut lines as &mut dyn Callback],
            &opts.device,
        )?
    } else {
        status(&format!("{label}: training"));
        fit(
            data,
            &fit_opts,
            &mut [&mut lines as &mut dyn Callback],
            &opts.device,
        )?
    };
    if result.diverged {
        bail_invalid!(
            "{label}: training diverged at epoch {} (the loss is not finite)",
            result.history.len()
        );
    }
    let eval = instclf_model::evaluate(&result.model, &data.test.x, &data.test.y)?;
    let r = NetworkReport {
        name: name.to_string(),
        member: m.name.clone(),
        activation: activation.to_string(),
        seed,
        epochs: result.history.len(),
        // The whole history's time, so a resumed network counts its earlier epochs too.
        train_time_s: result.history.iter().map(|e| e.time_s).sum(),
        test_accuracy: eval.accuracy,
    };
    write_file(&done, &serde_json::to_vec_pretty(&r)?)?;
    Ok((r, result.model))
}

/// The ensemble scored on each input folder's test-split recordings, then on each --eval folder.
fn evaluate_all(
    opts: &BundleOptions,
    models: &[Model],
    split: &DatasetReport,
    status: &dyn Fn(&str),
    bar: &dyn Progress,
) -> Result<Vec<EvalReport>, PipelineError> {
    let members: Vec<(Model, String)> = models
        .iter()
        .enumerate()
        .map(|(i, m)| (m.clone(), format!("network m{}", i + 1)))
        .collect();
    let clf = Classifier::new(members)?;
    let classes = &clf.models[0].classes;
    let mut out = Vec::new();
    for input in &opts.inputs {
        let files: Vec<Labelled> = split
            .test_recordings
            .iter()
            .filter(|p| p.starts_with(input))
            .filter_map(|p| {
                inputs::label_of(p, opts.label_from).map(|label| Labelled {
                    path: p.clone(),
                    label,
                })
            })
            .collect();
        if files.is_empty() {
            continue;
        }
        status(&format!(
            "evaluating {} held-out recordings of {}",
            files.len(),
            input.display()
        ));
        out.push(EvalReport {
            recordings: input.display().to_string(),
            held_out: true,
            evaluation: evaluate::evaluate_recordings(&clf, &files, bar)?,
        });
    }
    for dir in &opts.eval {
        let files =
            evaluate::labelled_recordings(std::slice::from_ref(dir), opts.label_from, classes)?;
        status(&format!(
            "evaluating {} recordings of {}",
            files.len(),
            dir.display()
        ));
        out.push(EvalReport {
            recordings: dir.display().to_string(),
            held_out: false,
            evaluation: evaluate::evaluate_recordings(&clf, &files, bar)?,
        });
    }
    Ok(out)
}

/// Writes the output folder under a temporary name, then renames it into place.
fn write_output(
    opts: &BundleOptions,
    models: &[Model],
    report: &BundleReport,
) -> Result<(), PipelineError> {
    let out = &opts.output;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .map_err(|e| PipelineError::io(&parent, "cannot create the output's parent folder", e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".bundle-")
        .tempdir_in(&parent)
        .map_err(|e| PipelineError::io(out, "cannot create output folder", e))?;
    for (i, model) in models.iter().enumerate() {
        let dir = tmp.path().join(format!("m{}", i + 1));
        std::fs::create_dir(&dir).map_err(|e| PipelineError::io(out, "cannot create", e))?;
        let (json, weights) = model.to_bytes()?;
        write_file(&dir.join(instclf_model::kind::MODEL_JSON), &json)?;
        write_file(&dir.join(instclf_model::model::MODEL_WEIGHTS), &weights)?;
    }
    write_file(&tmp.path().join("recipe.toml"), opts.recipe.text.as_bytes())?;
    write_file(&tmp.path().join("REPORT.md"), report.markdown().as_bytes())?;
    write_file(
        &tmp.path().join("report.json"),
        &serde_json::to_vec_pretty(report)?,
    )?;
    if out.exists() {
        std::fs::remove_dir_all(out)
            .map_err(|e| PipelineError::io(out, "cannot replace the old folder", e))?;
    }
    let tmp = tmp.keep();
    std::fs::rename(&tmp, out)
        .map_err(|e| PipelineError::io(out, "cannot move the bundle into place", e))
}

/// Writes a file under a temporary name and renames it into place.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), PipelineError> {
    instclf_model::npy::write_atomic(path, bytes).map_err(PipelineError::from)
}

impl BundleReport {
    /// The report as Markdown (`REPORT.md`).
    pub fn markdown(&self) -> String {
        let mut s = String::from("# The bundled model\n\n");
        s.push_str(&format!(
            "Made by `instclf bundle --recipe {}` from {}.\n\n",
            self.recipe,
            self.inputs
                .iter()
                .map(|i| format!("`{i}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        s.push_str(&format!(
            "- Networks: {} ({}); `classify` takes the mean of their log-probabilities per note, weighted as the calibration says.\n",
            self.networks.len(),
            self.datasets
                .iter()
                .map(|d| {
                    let n = self
                        .networks
                        .iter()
                        .filter(|n| n.member == d.member)
                        .count();
                    format!("{n} {} on {} features", d.kind, d.features)
                })
                .collect::<Vec<_>>()
                .join(", ")
        ));
        s.push_str(&format!(
            "- Time: datasets built in {:.0} s, networks trained in {:.0} s.\n",
            self.build_time_s, self.train_time_s
        ));
        s.push_str(&match &self.calibration {
            Some(c) => format!(
                "- Calibration: temperature {:.3}{}{}{}.\n",
                c.temperature,
                c.unknown_bias
                    .map(|b| format!(", unknown bias {b}"))
                    .unwrap_or_default(),
                self.member_weights
                    .iter()
                    .map(|(m, w)| format!(", each {m} network weighted {w} in the mean"))
                    .collect::<String>(),
                c.fitted_on
                    .as_ref()
                    .map(|f| format!(" (fitted on {})", f.trim()))
                    .unwrap_or_default()
            ),
            None => "- Calibration: none (confidences are the plain softmax of note scores).\n"
                .to_string(),
        });
        s.push_str(
            "\n## Datasets\n\n| member | kind | recordings | train | test | notes | train rows | \
             test rows | features | build s |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for d in &self.datasets {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} |\n",
                d.member,
                d.kind,
                d.files,
                d.train_files,
                d.test_files,
                d.notes,
                d.train_rows,
                d.test_rows,
                d.features,
                d.build_s
            ));
        }
        s.push_str(
            "\n## Recordings\n\nHeld-out: the test-split recordings of an input folder; the \
             others are scored whole. A folder of `unknown` recordings scores the share answered \
             unknown as its file accuracy; \"-> unknown\" is the share of instrument notes \
             answered unknown.\n\n| recordings | held out | files | file accuracy | notes | \
             note accuracy | -> unknown | ECE |\n|---|---|---:|---:|---:|---:|---:|---:|\n",
        );
        for e in &self.evaluations {
            let v = &e.evaluation;
            s.push_str(&format!(
                "| {} | {} | {} | {:.4} | {} | {:.4} | {} | {:.3} |\n",
                e.recordings,
                if e.held_out { "yes" } else { "no" },
                v.files,
                v.file_accuracy,
                v.notes,
                v.note_accuracy,
                v.notes_turned_unknown
                    .map_or("-".to_string(), |u| format!("{u:.4}")),
                v.ece
            ));
        }
        s.push_str(
            "\n## Networks\n\nTest rows: accuracy on its own dataset's test rows (frames, or \
             notes for note-level networks).\n\n| network | member | activation | seed | epochs \
             | train s | test rows |\n|---|---|---|---:|---:|---:|---:|\n",
        );
        for n in &self.networks {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {:.1} | {:.4} |\n",
                n.name, n.member, n.activation, n.seed, n.epochs, n.train_time_s, n.test_accuracy
            ));
        }
        s
    }
}
