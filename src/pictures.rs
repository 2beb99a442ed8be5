//! Pictures of training results from the JSON files that `train` and `sweep` write: a model's
//! accuracy and loss per epoch (`history.json`), and a sweep's bar charts and loss curves
//! (`results.json`). `plot` draws them on request and `sweep` at its end.

use crate::util::write_atomic;
use anyhow::{bail, Context};
use instclf_plot::history::{render_history, History};
use instclf_plot::sweep::{render_loss_curves, render_sweep_chart, SweepBar, SweepChart};
use instclf_plot::ImageFormat;
use serde::Deserialize;
use std::path::Path;

/// One epoch of `history.json`. Missing or null metrics (NaN is written as null) become NaN,
/// which the chart leaves out.
#[derive(Deserialize)]
struct EpochRow {
    epoch: usize,
    loss: Option<f64>,
    accuracy: Option<f64>,
    #[serde(default)]
    val_loss: Option<f64>,
    #[serde(default)]
    val_accuracy: Option<f64>,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<T> {
    let bytes =
        std::fs::read(path).with_context(|| format!("{}: cannot read file", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("{}: invalid JSON", path.display()))
}

/// The [`History`] of the rows of a `history.json`.
fn history_of(rows: &[EpochRow]) -> History {
    let nan = |v: Option<f64>| v.unwrap_or(f64::NAN);
    let any_val_loss = rows.iter().any(|r| r.val_loss.is_some());
    let any_val_acc = rows.iter().any(|r| r.val_accuracy.is_some());
    History {
        epochs: rows.iter().map(|r| r.epoch).collect(),
        loss: rows.iter().map(|r| nan(r.loss)).collect(),
        accuracy: rows.iter().map(|r| nan(r.accuracy)).collect(),
        val_loss: if any_val_loss {
            rows.iter().map(|r| nan(r.val_loss)).collect()
        } else {
            Vec::new()
        },
        val_accuracy: if any_val_acc {
            rows.iter().map(|r| nan(r.val_accuracy)).collect()
        } else {
            Vec::new()
        },
    }
}

/// Draws the training history of the model in `model_dir` (its `history.json`) to `output`.
pub fn history_picture(
    model_dir: &Path,
    output: &Path,
    width: u32,
    height: u32,
) -> anyhow::Result<()> {
    let format = ImageFormat::from_path(output)?;
    let path = model_dir.join("history.json");
    let rows: Vec<EpochRow> = read_json(&path)?;
    if rows.is_empty() {
        bail!("{}: the history has no epoch", path.display());
    }
    let bytes = render_history(&history_of(&rows), format, width, height)
        .with_context(|| format!("{}: cannot draw the history", output.display()))?;
    write_atomic(output, &bytes)
}

/// One trial of `results.json`.
#[derive(Deserialize)]
struct Trial {
    batch_size: usize,
    learning_rate: f64,
    epochs: usize,
    test_accuracy: Option<f64>,
    train_time_s: f64,
    #[serde(default)]
    energy_j: Option<f64>,
    /// Why energy is missing (written by `instclf sweep`).
    #[serde(default)]
    energy_unavailable: Option<String>,
    /// `null` or absent when the sweep had no target accuracy (fixed epochs).
    #[serde(default)]
    reached_target: Option<bool>,
    #[serde(default)]
    diverged: bool,
    /// Training loss per epoch, when the sweep recorded it (either form).
    #[serde(default)]
    loss: Option<Vec<Option<f64>>>,
    #[serde(default)]
    history: Option<Vec<EpochRow>>,
}

impl Trial {
    fn losses(&self) -> Option<Vec<f64>> {
        if let Some(l) = &self.loss {
            return Some(l.iter().map(|v| v.unwrap_or(f64::NAN)).collect());
        }
        self.history
            .as_ref()
            .map(|h| h.iter().map(|r| r.loss.unwrap_or(f64::NAN)).collect())
    }
}

/// Which parameter the trials sweep: its axis name and each trial's label.
fn labels(trials: &[Trial]) -> (String, Vec<String>) {
    let differ = |f: &dyn Fn(&Trial) -> String| trials.iter().any(|t| f(t) != f(&trials[0]));
    let bs = |t: &Trial| t.batch_size.to_string();
    let lr = |t: &Trial| format!("{}", t.learning_rate);
    match (differ(&bs), differ(&lr)) {
        (true, false) => ("batch size".into(), trials.iter().map(bs).collect()),
        (false, true) => ("learning rate".into(), trials.iter().map(lr).collect()),
        (true, true) => (
            "batch size / learning rate".into(),
            trials
                .iter()
                .map(|t| format!("{} / {}", bs(t), lr(t)))
                .collect(),
        ),
        (false, false) => (
            "trial".into(),
            (1..=trials.len()).map(|i| i.to_string()).collect(),
        ),
    }
}

/// Draws the bar charts of the sweep in `dir` (its `results.json`) to `output`, and the
/// training loss of every trial to `loss_curves`; renders everything before writing anything.
pub fn sweep_pictures(
    dir: &Path,
    output: &Path,
    loss_curves: Option<&Path>,
    width: u32,
    height: u32,
) -> anyhow::Result<()> {
    let format = ImageFormat::from_path(output)?;
    let loss_format = loss_curves.map(ImageFormat::from_path).transpose()?;
    let path = dir.join("results.json");
    let mut trials: Vec<Trial> = read_json(&path)?;
    if trials.is_empty() {
        bail!("{}: the sweep has no trial", path.display());
    }
    trials.sort_by(|x, y| {
        (x.batch_size, x.learning_rate)
            .partial_cmp(&(y.batch_size, y.learning_rate))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let (param, names) = labels(&trials);
    let bars: Vec<SweepBar> = trials
        .iter()
        .zip(names.iter())
        .map(|(t, label)| SweepBar {
            label: label.clone(),
            time_s: t.train_time_s,
            energy_j: t.energy_j,
            test_accuracy: t.test_accuracy.unwrap_or(f64::NAN),
            epochs: t.epochs,
            // Without a target every trial counts as reached (no grey bars).
            reached_target: t.reached_target.unwrap_or(true),
            diverged: t.diverged,
        })
        .collect();
    let energy_note = trials
        .iter()
        .find(|t| t.energy_j.is_none())
        .and_then(|t| t.energy_unavailable.as_deref());
    let chart = SweepChart {
        bars: &bars,
        param: &param,
        to_target: trials.iter().any(|t| t.reached_target.is_some()),
        energy_note,
    };
    let bytes = render_sweep_chart(&chart, format, width, height)
        .with_context(|| format!("{}: cannot draw the sweep", output.display()))?;

    // Render everything before writing anything.
    let loss_picture = match (loss_curves, loss_format) {
        (Some(out), Some(fmt)) => {
            let series: Vec<(String, Vec<f64>)> = trials
                .iter()
                .zip(names.iter())
                .filter_map(|(t, name)| t.losses().map(|l| (format!("{param} {name}"), l)))
                .collect();
            if series.is_empty() {
                bail!(
                    "{}: no trial has a per-epoch training loss (\"loss\" or \"history\")",
                    path.display()
                );
            }
            let (w, h) = (width.min(1000), height.min(500));
            let png = render_loss_curves(&series, fmt, w, h)
                .with_context(|| format!("{}: cannot draw the loss curves", out.display()))?;
            Some((out.to_path_buf(), png))
        }
        _ => None,
    };
    write_atomic(output, &bytes)?;
    if let Some((out, png)) = loss_picture {
        write_atomic(&out, &png)?;
    }
    Ok(())
}
