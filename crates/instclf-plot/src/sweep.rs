//! Hyper-parameter sweep pictures: four bar charts against the swept values (time to accuracy,
//! energy to accuracy, test accuracy, epochs trained), and the training loss curves of several
//! runs (one line per learning rate, say) on one log-y chart.

use crate::axes::{fmt_tick, font_px, nice_ticks, TickedAxis, PALETTE};
use crate::history::{draw_line_chart, Line, LineChart};
use crate::render::{draw_to_file, render, DrawResult, Figure, FONT_FAMILY};
use crate::{ImageFormat, PlotError};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// One trial of a sweep, as one bar in each chart.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepBar {
    /// The swept value(s) of this trial, shown under its bar (`"32"`, `"0.001"`).
    pub label: String,
    /// Training time until the target accuracy was reached (or until training stopped), seconds.
    pub time_s: f64,
    /// Energy used over that time, joules; `None` where it could not be measured.
    pub energy_j: Option<f64>,
    /// Accuracy on the test set, 0 to 1.
    pub test_accuracy: f64,
    /// Epochs trained.
    pub epochs: usize,
    /// Whether the target accuracy was reached (bars of other trials are grey).
    pub reached_target: bool,
    /// Whether training diverged (bars are red).
    pub diverged: bool,
}

/// The four sweep bar charts with their settings (see [`render_sweep_chart`]).
#[derive(Debug, Clone, Copy)]
pub struct SweepChart<'a> {
    pub bars: &'a [SweepBar],
    /// Names the swept parameter (x axis label).
    pub param: &'a str,
    /// The sweep trained to a target accuracy ("Time to accuracy"); without a target the
    /// charts say "Training time" and "Training energy".
    pub to_target: bool,
    /// Why energy is unavailable, shown in the energy chart when no trial has a figure.
    pub energy_note: Option<&'a str>,
}

/// Renders the four sweep bar charts of `chart`.
pub fn render_sweep_chart(
    chart: &SweepChart<'_>,
    format: ImageFormat,
    width: u32,
    height: u32,
) -> Result<Vec<u8>, PlotError> {
    check_bars(chart.bars)?;
    render(&BarsFigure(*chart), format, width, height)
}

/// Renders the four sweep bar charts of a sweep to a target accuracy; `param` names the swept
/// parameter (x axis label).
pub fn render_sweep_bars(
    bars: &[SweepBar],
    param: &str,
    format: ImageFormat,
    width: u32,
    height: u32,
) -> Result<Vec<u8>, PlotError> {
    render_sweep_chart(&to_target(bars, param), format, width, height)
}

fn to_target<'a>(bars: &'a [SweepBar], param: &'a str) -> SweepChart<'a> {
    SweepChart {
        bars,
        param,
        to_target: true,
        energy_note: None,
    }
}

/// Draws the four sweep bar charts to `path` (`.png` or `.svg`), written atomically.
pub fn draw_sweep_bars(
    bars: &[SweepBar],
    param: &str,
    path: &Path,
    width: u32,
    height: u32,
) -> Result<(), PlotError> {
    check_bars(bars).map_err(|e| PlotError::Output {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    draw_to_file(&BarsFigure(to_target(bars, param)), path, width, height)
}

/// Renders training loss against epoch for several runs (label, loss of epochs 1, 2, ...).
pub fn render_loss_curves(
    series: &[(String, Vec<f64>)],
    format: ImageFormat,
    width: u32,
    height: u32,
) -> Result<Vec<u8>, PlotError> {
    check_series(series)?;
    render(&LossFigure(series), format, width, height)
}

/// Draws training loss against epoch for several runs to `path`, written atomically.
pub fn draw_loss_curves(
    series: &[(String, Vec<f64>)],
    path: &Path,
    width: u32,
    height: u32,
) -> Result<(), PlotError> {
    check_series(series).map_err(|e| PlotError::Output {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    draw_to_file(&LossFigure(series), path, width, height)
}

fn check_bars(bars: &[SweepBar]) -> Result<(), PlotError> {
    if bars.is_empty() {
        return Err(PlotError::InvalidData("the sweep has no trial".into()));
    }
    Ok(())
}

fn check_series(series: &[(String, Vec<f64>)]) -> Result<(), PlotError> {
    if series.iter().all(|(_, v)| v.is_empty()) {
        return Err(PlotError::InvalidData("no loss value to plot".into()));
    }
    Ok(())
}

struct LossFigure<'a>(&'a [(String, Vec<f64>)]);

impl Figure for LossFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let lines = self
            .0
            .iter()
            .enumerate()
            .map(|(i, (label, loss))| Line {
                label: label.clone(),
                color: PALETTE[i % PALETTE.len()],
                points: loss
                    .iter()
                    .enumerate()
                    .map(|(e, &l)| ((e + 1) as f64, l))
                    .collect(),
            })
            .collect();
        draw_line_chart(
            root,
            &LineChart {
                title: "Training loss",
                x_desc: "Epoch",
                y_desc: "Loss",
                log_y: true,
                lines,
                legend: SeriesLabelPosition::UpperRight,
            },
            root.dim_in_pixel(),
        )
    }
}

struct BarsFigure<'a>(SweepChart<'a>);

/// What one of the four bar charts shows.
struct Panel<'a> {
    title: &'a str,
    y_desc: &'a str,
    values: Vec<Option<f64>>,
    /// Fixed top of the y axis (accuracy: 1), else from the data.
    y_max: Option<f64>,
    integer: bool,
    /// Shown under "unavailable" when no value is finite.
    note: Option<&'a str>,
}

impl Figure for BarsFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (w, h) = root.dim_in_pixel();
        let fs = font_px(w, h);
        let b = self.0.bars;
        let to_target = self.0.to_target;
        let any_missed = to_target && b.iter().any(|t| !t.reached_target && !t.diverged);
        let any_diverged = b.iter().any(|t| t.diverged);
        let note_h = if any_missed || any_diverged {
            (fs * 1.8) as u32
        } else {
            0
        };
        let (note, grid) = root.split_vertically(note_h);
        if note_h > 0 {
            let mut parts = Vec::new();
            if any_missed {
                parts.push("grey: target accuracy not reached");
            }
            if any_diverged {
                parts.push("red: diverged");
            }
            note.draw(&Text::new(
                parts.join(", "),
                ((w / 2) as i32, (note_h / 2) as i32),
                (FONT_FAMILY, fs)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Center, VPos::Center)),
            ))
            .de()?;
        }
        let acc_top = b
            .iter()
            .map(|t| t.test_accuracy)
            .filter(|v| v.is_finite())
            .fold(1.0f64, f64::max);
        let panels = [
            Panel {
                title: if to_target {
                    "Time to accuracy"
                } else {
                    "Training time"
                },
                y_desc: "Time [s]",
                values: b.iter().map(|t| Some(t.time_s)).collect(),
                y_max: None,
                integer: false,
                note: None,
            },
            Panel {
                title: if to_target {
                    "Energy to accuracy"
                } else {
                    "Training energy"
                },
                y_desc: "Energy [J]",
                values: b.iter().map(|t| t.energy_j).collect(),
                y_max: None,
                integer: false,
                note: self.0.energy_note,
            },
            Panel {
                title: "Test accuracy",
                y_desc: "Accuracy",
                values: b.iter().map(|t| Some(t.test_accuracy)).collect(),
                y_max: Some(acc_top * 1.1),
                integer: false,
                note: None,
            },
            Panel {
                title: "Epochs",
                y_desc: "Epochs",
                values: b.iter().map(|t| Some(t.epochs as f64)).collect(),
                y_max: None,
                integer: true,
                note: None,
            },
        ];
        let areas = grid.split_evenly((2, 2));
        for (area, panel) in areas.iter().zip(panels.iter()) {
            self.draw_panel(area, panel, fs)?;
        }
        Ok(())
    }
}

impl BarsFigure<'_> {
    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        p: &Panel<'_>,
        fs: f64,
    ) -> Result<(), String> {
        let font = (FONT_FAMILY, fs).into_font().color(&BLACK);
        let small = (FONT_FAMILY, fs * 0.85).into_font().color(&BLACK);
        let title_font = (FONT_FAMILY, fs * 1.2).into_font().color(&BLACK);
        let n = self.0.bars.len();
        let finite: Vec<f64> = p
            .values
            .iter()
            .flatten()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        let unavailable = finite.is_empty();
        let data_max = finite.iter().copied().fold(0.0f64, f64::max);
        let top = match p.y_max {
            Some(t) => t,
            None if data_max > 0.0 => data_max * 1.15,
            None => 1.0,
        };
        let mut ticks = nice_ticks(0.0, top, 5);
        if p.integer {
            ticks.retain(|v| v.fract() == 0.0);
        }
        if unavailable {
            // No values: no meaningless y scale either.
            ticks.clear();
        }
        let y_axis = TickedAxis::linear(0.0, top, ticks);
        let x_axis = TickedAxis::linear(-0.5, n as f64 - 0.5, (0..n).map(|i| i as f64).collect());
        let mut c = ChartBuilder::on(area)
            .caption(p.title, title_font)
            .margin((fs * 0.8) as u32)
            .margin_right((fs * 1.2) as u32)
            .x_label_area_size((fs * 3.0) as u32)
            .y_label_area_size((fs * 4.8) as u32)
            .build_cartesian_2d(x_axis, y_axis)
            .de()?;
        let labels: Vec<String> = self.0.bars.iter().map(|b| b.label.clone()).collect();
        // Shrink the bar labels when the longest would not fit under its bar.
        let slot = {
            let (xr, _) = c.plotting_area().get_pixel_range();
            (xr.end - xr.start) as f64 / n as f64
        };
        let mut widest = 1.0f64;
        for l in &labels {
            let (w, _) = area.estimate_text_size(l, &font).de()?;
            widest = widest.max(w as f64);
        }
        let x_fs = (fs * slot * 0.92 / widest).clamp(7.0, fs);
        c.configure_mesh()
            .disable_x_mesh()
            .x_desc(self.0.param)
            .y_desc(p.y_desc)
            .label_style(font.clone())
            .x_label_style((FONT_FAMILY, x_fs).into_font().color(&BLACK))
            .axis_desc_style(font.clone())
            .bold_line_style(RGBColor(0xe0, 0xe0, 0xe0).stroke_width(1))
            .x_label_formatter(&|v| {
                let i = v.round();
                if i >= 0.0 && (i as usize) < labels.len() {
                    labels[i as usize].clone()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|v| fmt_tick(*v))
            .draw()
            .de()?;
        c.plotting_area()
            .draw(&Rectangle::new(
                [(-0.5, 0.0), (n as f64 - 0.5, top)],
                BLACK.stroke_width(1),
            ))
            .de()?;
        let centre = Pos::new(HPos::Center, VPos::Center);
        if unavailable {
            let x_mid = (n as f64 - 1.0) / 2.0;
            c.plotting_area()
                .draw(&Text::new(
                    "unavailable",
                    (x_mid, top * 0.62),
                    font.clone().pos(centre),
                ))
                .de()?;
            if let Some(note) = p.note {
                // Word-wrapped to the plot width, in the small font, under "unavailable".
                let (xr, yr) = c.plotting_area().get_pixel_range();
                let width_px = (xr.end - xr.start) as f64 * 0.92;
                let line_h = fs * 1.05;
                let mut lines: Vec<String> = Vec::new();
                let mut cur = String::new();
                for word in note.split_whitespace() {
                    let cand = if cur.is_empty() {
                        word.to_string()
                    } else {
                        format!("{cur} {word}")
                    };
                    let (w, _) = area.estimate_text_size(&cand, &small).de()?;
                    if w as f64 > width_px && !cur.is_empty() {
                        lines.push(std::mem::replace(&mut cur, word.to_string()));
                    } else {
                        cur = cand;
                    }
                }
                if !cur.is_empty() {
                    lines.push(cur);
                }
                let height_px = (yr.end - yr.start) as f64;
                let max_lines = ((height_px * 0.45) / line_h).floor().max(1.0) as usize;
                if lines.len() > max_lines {
                    lines.truncate(max_lines);
                    if let Some(l) = lines.last_mut() {
                        l.push_str(" ...");
                    }
                }
                let px_to_y = top / height_px.max(1.0);
                for (i, l) in lines.iter().enumerate() {
                    let y = top * 0.5 - (i as f64 + 0.5) * line_h * px_to_y;
                    c.plotting_area()
                        .draw(&Text::new(l.clone(), (x_mid, y), small.clone().pos(centre)))
                        .de()?;
                }
            }
            return Ok(());
        }
        let label_gap = top * 0.04;
        for (i, (bar, v)) in self.0.bars.iter().zip(p.values.iter()).enumerate() {
            let x = i as f64;
            let Some(v) = v.filter(|v| v.is_finite()) else {
                c.plotting_area()
                    .draw(&Text::new("n/a", (x, label_gap), small.clone().pos(centre)))
                    .de()?;
                continue;
            };
            let color = if bar.diverged {
                PALETTE[3]
            } else if self.0.to_target && !bar.reached_target {
                RGBColor(0xa0, 0xa0, 0xa0)
            } else {
                PALETTE[0]
            };
            let shown = v.clamp(0.0, top);
            c.plotting_area()
                .draw(&Rectangle::new(
                    [(x - 0.35, 0.0), (x + 0.35, shown)],
                    color.filled(),
                ))
                .de()?;
            let text = if p.integer {
                format!("{}", v.round() as i64)
            } else if v.abs() >= 100.0 {
                format!("{v:.0}")
            } else if v.abs() >= 1.0 {
                format!("{v:.1}")
            } else {
                format!("{v:.3}")
            };
            let y = if shown + 2.0 * label_gap > top {
                shown - label_gap
            } else {
                shown + label_gap
            };
            c.plotting_area()
                .draw(&Text::new(text, (x, y), small.clone().pos(centre)))
                .de()?;
        }
        Ok(())
    }
}
