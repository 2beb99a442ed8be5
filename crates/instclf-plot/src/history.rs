//! Training-history pictures: two charts side by side, "Model accuracy" (training vs validation
//! accuracy per epoch) and "Model loss" (training vs validation loss per epoch, log y axis), with
//! labelled axes and legends, as the original notebook drew them.

use crate::axes::{fmt_log_tick, fmt_tick, font_px, log_ticks, nice_ticks, TickedAxis, PALETTE};
use crate::render::{draw_to_file, render, DrawResult, Figure, FONT_FAMILY};
use crate::{ImageFormat, PlotError};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// Per-epoch training metrics. `val_loss` and `val_accuracy` may be empty (no validation set);
/// otherwise every vector has one value per entry of `epochs`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub epochs: Vec<usize>,
    pub loss: Vec<f64>,
    pub accuracy: Vec<f64>,
    pub val_loss: Vec<f64>,
    pub val_accuracy: Vec<f64>,
}

impl History {
    fn validate(&self) -> Result<(), PlotError> {
        let n = self.epochs.len();
        if n == 0 {
            return Err(PlotError::InvalidData("the history has no epoch".into()));
        }
        for (name, v, optional) in [
            ("loss", &self.loss, false),
            ("accuracy", &self.accuracy, false),
            ("val_loss", &self.val_loss, true),
            ("val_accuracy", &self.val_accuracy, true),
        ] {
            if v.len() != n && !(optional && v.is_empty()) {
                return Err(PlotError::InvalidData(format!(
                    "{} {name} values for {n} epochs",
                    v.len()
                )));
            }
        }
        Ok(())
    }
}

/// Renders the history picture and returns the encoded PNG or SVG bytes.
pub fn render_history(
    h: &History,
    format: ImageFormat,
    width: u32,
    height: u32,
) -> Result<Vec<u8>, PlotError> {
    h.validate()?;
    render(&HistoryFigure(h), format, width, height)
}

/// Draws the history picture to `path` (`.png` or `.svg`), written atomically.
pub fn draw_history(h: &History, path: &Path, width: u32, height: u32) -> Result<(), PlotError> {
    h.validate().map_err(|e| PlotError::Output {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    draw_to_file(&HistoryFigure(h), path, width, height)
}

struct HistoryFigure<'a>(&'a History);

/// One line of a chart: legend label, colour, (x, y) points.
pub(crate) struct Line {
    pub label: String,
    pub color: RGBColor,
    pub points: Vec<(f64, f64)>,
}

/// What a line chart looks like.
pub(crate) struct LineChart<'a> {
    pub title: &'a str,
    pub x_desc: &'a str,
    pub y_desc: &'a str,
    pub log_y: bool,
    pub lines: Vec<Line>,
    pub legend: SeriesLabelPosition,
}

impl Figure for HistoryFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let h = self.0;
        let x: Vec<f64> = h.epochs.iter().map(|&e| e as f64).collect();
        let series = |label: &str, color: usize, ys: &[f64]| Line {
            label: label.to_string(),
            color: PALETTE[color],
            points: x.iter().copied().zip(ys.iter().copied()).collect(),
        };
        let mut acc = vec![series("Train", 0, &h.accuracy)];
        let mut loss = vec![series("Train", 0, &h.loss)];
        if !h.val_accuracy.is_empty() {
            acc.push(series("Validation", 1, &h.val_accuracy));
        }
        if !h.val_loss.is_empty() {
            loss.push(series("Validation", 1, &h.val_loss));
        }
        let (left, right) = root.split_horizontally(root.dim_in_pixel().0 / 2);
        draw_line_chart(
            &left,
            &LineChart {
                title: "Model accuracy",
                x_desc: "Epoch",
                y_desc: "Accuracy",
                log_y: false,
                lines: acc,
                legend: SeriesLabelPosition::LowerRight,
            },
            root.dim_in_pixel(),
        )?;
        draw_line_chart(
            &right,
            &LineChart {
                title: "Model loss",
                x_desc: "Epoch",
                y_desc: "Loss",
                log_y: true,
                lines: loss,
                legend: SeriesLabelPosition::UpperRight,
            },
            root.dim_in_pixel(),
        )
    }
}

/// Ticks for an epoch axis from `x0` to `x1`: whole numbers only (no epoch 1.5), about six of
/// them; every epoch when fewer than two nice ticks are whole.
fn epoch_ticks(x0: f64, x1: f64) -> Vec<f64> {
    let whole: Vec<f64> = nice_ticks(x0, x1, 6)
        .into_iter()
        .filter(|v| v.fract() == 0.0)
        .collect();
    if whole.len() >= 2 || x1 - x0 < 1.0 {
        return whole;
    }
    (x0.ceil() as i64..=x1.floor() as i64)
        .map(|e| e as f64)
        .collect()
}

/// Draws a line chart with a title, labelled axes, a legend and a linear or log y axis onto
/// `area`. Points that are not finite (or not positive on a log axis) are left out.
/// `canvas` is the whole picture's size, which sets the font size.
pub(crate) fn draw_line_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &LineChart<'_>,
    canvas: (u32, u32),
) -> Result<(), String> {
    let fs = font_px(canvas.0, canvas.1);
    let font = (FONT_FAMILY, fs).into_font().color(&BLACK);
    let title_font = (FONT_FAMILY, fs * 1.2).into_font().color(&BLACK);
    let usable = |y: f64| y.is_finite() && (!chart.log_y || y > 0.0);
    let lines: Vec<Line> = chart
        .lines
        .iter()
        .map(|l| Line {
            label: l.label.clone(),
            color: l.color,
            points: l
                .points
                .iter()
                .copied()
                .filter(|&(x, y)| x.is_finite() && usable(y))
                .collect(),
        })
        .collect();
    let all = || lines.iter().flat_map(|l| l.points.iter());
    let (mut x0, mut x1) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
        (a.min(p.0), b.max(p.0))
    });
    let (mut y0, mut y1) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
        (a.min(p.1), b.max(p.1))
    });
    let empty = !x0.is_finite();
    if empty {
        (x0, x1, y0, y1) = (0.0, 1.0, 1.0, 10.0);
    }
    if x1 - x0 < 1e-9 {
        x0 -= 0.5;
        x1 += 0.5;
    } else {
        let pad = (x1 - x0) * 0.04;
        x0 -= pad;
        x1 += pad;
    }
    let y_axis = if chart.log_y {
        let (mut l0, mut l1) = (y0.log10(), y1.log10());
        if l1 - l0 < 1e-6 {
            l0 -= 0.1;
            l1 += 0.1;
        }
        let pad = (l1 - l0) * 0.05;
        let (lo, hi) = (10f64.powf(l0 - pad), 10f64.powf(l1 + pad));
        TickedAxis {
            lo,
            hi,
            ticks: log_ticks(lo, hi),
            warp: f64::log10,
        }
    } else {
        if y1 - y0 < 1e-9 {
            y0 -= 0.05;
            y1 += 0.05;
        }
        let pad = (y1 - y0) * 0.05;
        let (lo, hi) = (y0 - pad, y1 + pad);
        TickedAxis::linear(lo, hi, nice_ticks(lo, hi, 6))
    };
    let x_ticks = epoch_ticks(x0, x1);
    let x_axis = TickedAxis::linear(x0, x1, x_ticks);

    let mut c = ChartBuilder::on(area)
        .caption(chart.title, title_font)
        .margin((fs * 0.8) as u32)
        .margin_right((fs * 1.2) as u32)
        .x_label_area_size((fs * 3.0) as u32)
        .y_label_area_size((fs * 4.0) as u32)
        .build_cartesian_2d(x_axis.clone(), y_axis.clone())
        .de()?;
    let log_y = chart.log_y;
    c.configure_mesh()
        .x_desc(chart.x_desc)
        .y_desc(chart.y_desc)
        .label_style(font.clone())
        .axis_desc_style(font.clone())
        .bold_line_style(RGBColor(0xe0, 0xe0, 0xe0).stroke_width(1))
        .x_label_formatter(&|v| fmt_tick(*v))
        .y_label_formatter(&|v| {
            if log_y {
                fmt_log_tick(*v)
            } else {
                fmt_tick(*v)
            }
        })
        .draw()
        .de()?;
    let (xa, ya) = (c.x_range(), c.y_range());
    c.plotting_area()
        .draw(&Rectangle::new(
            [(xa.start, ya.start), (xa.end, ya.end)],
            BLACK.stroke_width(1),
        ))
        .de()?;
    if empty {
        c.plotting_area()
            .draw(&Text::new(
                "no data",
                (
                    (xa.start + xa.end) / 2.0,
                    if log_y {
                        (ya.start * ya.end).sqrt()
                    } else {
                        (ya.start + ya.end) / 2.0
                    },
                ),
                font.clone(),
            ))
            .de()?;
        return Ok(());
    }
    let stroke = (fs / 7.0).round().max(1.5) as u32;
    for l in &lines {
        let color = l.color;
        let style = color.stroke_width(stroke);
        let s = c
            .draw_series(LineSeries::new(l.points.iter().copied(), style))
            .de()?;
        s.label(l.label.clone()).legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(stroke))
        });
        if l.points.len() <= 40 {
            c.draw_series(
                l.points
                    .iter()
                    .map(|&p| Circle::new(p, stroke + 1, color.filled())),
            )
            .de()?;
        }
    }
    c.configure_series_labels()
        .position(legend_position(
            &lines,
            &x_axis,
            &y_axis,
            chart.legend.clone(),
        ))
        .label_font(font)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(0xcc, 0xcc, 0xcc))
        .draw()
        .de()?;
    Ok(())
}

/// The legend corner with the fewest data points under it, `preferred` when it is as good as
/// any (a rough take on matplotlib's `loc='best'`).
fn legend_position(
    lines: &[Line],
    x: &TickedAxis,
    y: &TickedAxis,
    preferred: SeriesLabelPosition,
) -> SeriesLabelPosition {
    use SeriesLabelPosition::*;
    // Corner boxes in axis fractions: the legend covers about a third of the width and a
    // quarter of the height.
    let area = |p: &SeriesLabelPosition| match p {
        UpperRight => ((0.65, 1.0), (0.7, 1.0)),
        LowerRight => ((0.65, 1.0), (0.0, 0.3)),
        UpperLeft => ((0.0, 0.35), (0.7, 1.0)),
        LowerLeft => ((0.0, 0.35), (0.0, 0.3)),
        UpperMiddle => ((0.33, 0.67), (0.7, 1.0)),
        _ => ((0.33, 0.67), (0.0, 0.3)),
    };
    let count = |p: &SeriesLabelPosition| {
        let (bx, by) = area(p);
        lines
            .iter()
            .flat_map(|l| l.points.iter())
            .filter(|&&(px, py)| {
                let (fx, fy) = (x.fraction(px), y.fraction(py));
                fx >= bx.0 && fx <= bx.1 && fy >= by.0 && fy <= by.1
            })
            .count()
    };
    let mut best = (count(&preferred), preferred);
    for pos in [
        UpperRight,
        LowerRight,
        UpperLeft,
        LowerLeft,
        UpperMiddle,
        LowerMiddle,
    ] {
        let c = count(&pos);
        if c < best.0 {
            best = (c, pos);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::epoch_ticks;

    #[test]
    fn epoch_ticks_are_whole_numbers() {
        // Three epochs padded by 4%: nice ticks would be 1, 1.5, 2, 2.5, 3.
        assert_eq!(epoch_ticks(0.92, 3.08), [1.0, 2.0, 3.0]);
        for (a, b) in [(0.5, 1.5), (0.6, 50.4), (0.9, 10.1)] {
            let t = epoch_ticks(a, b);
            assert!(!t.is_empty(), "{a}..{b}");
            assert!(
                t.iter().all(|v| v.fract() == 0.0 && *v >= a && *v <= b),
                "{t:?}"
            );
        }
    }
}
