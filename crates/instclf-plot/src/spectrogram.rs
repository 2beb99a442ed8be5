//! Mel spectrogram pictures, drawn like `librosa.display.specshow(S_db, x_axis='time',
//! y_axis='mel')` with `plt.colorbar(format='%+2.0f dB')` and a title: the dB values through the
//! magma colormap, time in seconds along x, a mel-spaced frequency axis labelled in Hz, and a
//! colorbar labelled `+0 dB`, `-10 dB`, ... on the right. The cells are blitted as one bitmap
//! (in SVG: one embedded PNG image), not drawn one rectangle each.

use crate::axes::{fmt_tick, font_px, nice_ticks, TickedAxis};
use crate::render::{draw_to_file, render, DrawResult, Figure, FONT_FAMILY};
use crate::{ImageFormat, PlotError};
use plotters::coord::Shift;
use plotters::element::BitMapElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// Default title, as in the original notebook.
pub const DEFAULT_TITLE: &str = "Mel spectrogram";

/// Frequencies (Hz) that get a labelled tick on the mel axis, when inside the shown range.
const HZ_TICKS: [f64; 8] = [0.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0, 32768.0];

/// A mel spectrogram in decibels, ready to draw.
#[derive(Debug, Clone)]
pub struct SpecImage<'a> {
    /// dB values, row-major `n_mels` x `n_frames` (row 0 is the lowest mel band).
    pub db: &'a [f32],
    pub n_mels: usize,
    pub n_frames: usize,
    /// Sample rate of the analysed signal, Hz.
    pub sr: u32,
    /// Hop between frames, samples.
    pub hop: usize,
    /// Lowest and highest frequency covered by the mel bands, Hz.
    pub fmin: f32,
    pub fmax: f32,
    pub title: String,
}

/// Hz to mel on librosa's default (Slaney) scale: linear below 1000 Hz, logarithmic above.
pub fn hz_to_mel(f: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;
    let logstep = 6.4f64.ln() / 27.0;
    if f >= MIN_LOG_HZ {
        MIN_LOG_MEL + (f / MIN_LOG_HZ).ln() / logstep
    } else {
        f / F_SP
    }
}

/// The magma colour for `t` in `[0, 1]` (values outside are clamped).
pub fn magma(t: f64) -> [u8; 3] {
    let c = colorous::MAGMA.eval_continuous(t.clamp(0.0, 1.0));
    [c.r, c.g, c.b]
}

/// Renders the spectrogram picture and returns the encoded PNG or SVG bytes.
pub fn render_spectrogram(
    spec: &SpecImage<'_>,
    format: ImageFormat,
    width: u32,
    height: u32,
) -> Result<Vec<u8>, PlotError> {
    let fig = SpecFigure::new(spec)?;
    render(&fig, format, width, height)
}

/// Draws the spectrogram picture to `path` (`.png` or `.svg`), written atomically.
pub fn draw_spectrogram(
    spec: &SpecImage<'_>,
    path: &Path,
    width: u32,
    height: u32,
) -> Result<(), PlotError> {
    let fig = SpecFigure::new(spec).map_err(|e| PlotError::Output {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    draw_to_file(&fig, path, width, height)
}

/// A validated spectrogram with its colour range.
struct SpecFigure<'s, 'a> {
    spec: &'s SpecImage<'a>,
    vmin: f64,
    vmax: f64,
    duration: f64,
}

impl<'s, 'a> SpecFigure<'s, 'a> {
    fn new(spec: &'s SpecImage<'a>) -> Result<Self, PlotError> {
        let bad = |m: String| Err(PlotError::InvalidData(m));
        if spec.n_mels == 0 || spec.n_frames == 0 {
            return bad(format!(
                "empty spectrogram ({} mel bands x {} frames)",
                spec.n_mels, spec.n_frames
            ));
        }
        if spec.db.len() != spec.n_mels * spec.n_frames {
            return bad(format!(
                "{} values for {} mel bands x {} frames",
                spec.db.len(),
                spec.n_mels,
                spec.n_frames
            ));
        }
        if spec.sr == 0 || spec.hop == 0 {
            return bad("sample rate and hop must be positive".to_string());
        }
        let (fmin, fmax) = (spec.fmin as f64, spec.fmax as f64);
        if !(fmin.is_finite() && fmax.is_finite() && fmin >= 0.0 && fmax > fmin) {
            return bad(format!(
                "frequency range {fmin} to {fmax} Hz is not a range"
            ));
        }
        let (mut vmin, mut vmax) = (f64::INFINITY, f64::NEG_INFINITY);
        for &v in spec.db.iter().filter(|v| v.is_finite()) {
            vmin = vmin.min(v as f64);
            vmax = vmax.max(v as f64);
        }
        if !vmin.is_finite() {
            return bad("the spectrogram has no finite value".to_string());
        }
        if vmax - vmin < 1e-6 {
            vmin = vmax - 1.0;
        }
        let duration = spec.n_frames as f64 * spec.hop as f64 / spec.sr as f64;
        Ok(SpecFigure {
            spec,
            vmin,
            vmax,
            duration,
        })
    }

    /// The spectrogram resampled (nearest cell) to a `pw` x `ph` RGB bitmap, top row = highest
    /// mel band.
    fn bitmap(&self, pw: usize, ph: usize) -> Vec<u8> {
        let s = self.spec;
        let lut: Vec<[u8; 3]> = (0..256).map(|i| magma(i as f64 / 255.0)).collect();
        let scale = 255.0 / (self.vmax - self.vmin);
        let cols: Vec<usize> = (0..pw)
            .map(|x| (x * s.n_frames / pw).min(s.n_frames - 1))
            .collect();
        let mut buf = Vec::with_capacity(pw * ph * 3);
        for y in 0..ph {
            let band = s.n_mels - 1 - (y * s.n_mels / ph).min(s.n_mels - 1);
            let row = &s.db[band * s.n_frames..(band + 1) * s.n_frames];
            for &c in &cols {
                let v = row[c] as f64;
                let idx = if v.is_finite() {
                    ((v - self.vmin) * scale).round().clamp(0.0, 255.0) as usize
                } else {
                    0
                };
                buf.extend_from_slice(&lut[idx]);
            }
        }
        buf
    }
}

impl Figure for SpecFigure<'_, '_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (w, h) = root.dim_in_pixel();
        let fs = font_px(w, h);
        let label = (FONT_FAMILY, fs).into_font().color(&BLACK);
        let title_font = (FONT_FAMILY, fs * 1.2).into_font().color(&BLACK);

        let top = (fs * 2.4) as u32;
        let bottom = (fs * 3.2) as u32;
        // Colorbar: as wide as a twentieth of the plot's height, with its labels to the right.
        let plot_h = h.saturating_sub(top + bottom).max(1);
        let bar_w = (plot_h / 20).max(8);
        let cb_labels = (fs * 4.2) as u32;
        let cb_gap = (fs * 2.4) as u32;
        let cb_total = bar_w + cb_gap + cb_labels + (fs * 0.6) as u32;
        let (main, cbar) = root.split_horizontally(w.saturating_sub(cb_total));

        let s = self.spec;
        let x_ticks = {
            let target = ((w as f64 / (fs * 7.0)) as usize).clamp(3, 12);
            nice_ticks(0.0, self.duration, target)
        };
        let x_axis = TickedAxis::linear(0.0, self.duration, x_ticks);
        let y_axis = TickedAxis {
            lo: s.fmin as f64,
            hi: s.fmax as f64,
            ticks: HZ_TICKS.to_vec(),
            warp: crate::spectrogram::hz_to_mel,
        };
        let mut chart = ChartBuilder::on(&main)
            .margin_top(top)
            .margin_left((fs * 0.6) as u32)
            .x_label_area_size(bottom)
            .y_label_area_size((fs * 4.6) as u32)
            .build_cartesian_2d(x_axis, y_axis)
            .de()?;

        // The cells, blitted as one bitmap covering the plotting area.
        let (xr, yr) = chart.plotting_area().get_pixel_range();
        let (pw, ph) = ((xr.end - xr.start).max(1), (yr.end - yr.start).max(1));
        let img = self.bitmap(pw as usize, ph as usize);
        let elem =
            BitMapElement::with_owned_buffer((xr.start, yr.start), (pw as u32, ph as u32), img)
                .ok_or("bitmap size mismatch")?;
        root.draw(&elem).de()?;

        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("Time")
            .y_desc("Hz")
            .label_style(label.clone())
            .axis_desc_style(label.clone())
            .x_label_formatter(&|v| fmt_tick(*v))
            .y_label_formatter(&|v| format!("{}", v.round() as i64))
            .draw()
            .de()?;
        chart
            .plotting_area()
            .draw(&Rectangle::new(
                [(0.0, s.fmin as f64), (self.duration, s.fmax as f64)],
                BLACK.stroke_width(1),
            ))
            .de()?;

        // Title, centred over the plot.
        let cx = (xr.start + xr.end) / 2;
        root.draw(&Text::new(
            s.title.clone(),
            (cx, (top as f64 * 0.5) as i32),
            title_font.pos(Pos::new(HPos::Center, VPos::Center)),
        ))
        .de()?;

        self.draw_colorbar(&cbar, top, bottom, cb_gap, cb_labels, &label)
    }
}

impl SpecFigure<'_, '_> {
    fn draw_colorbar<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        top: u32,
        bottom: u32,
        gap: u32,
        labels: u32,
        font: &TextStyle<'_>,
    ) -> Result<(), String> {
        let db_axis = TickedAxis::linear(self.vmin, self.vmax, nice_ticks(self.vmin, self.vmax, 8));
        let mut bar = ChartBuilder::on(area)
            .margin_top(top)
            .margin_bottom(bottom)
            .margin_left(gap)
            .right_y_label_area_size(labels)
            .build_cartesian_2d(0.0..1.0, db_axis)
            .de()?;
        let (xr, yr) = bar.plotting_area().get_pixel_range();
        let (bw, bh) = ((xr.end - xr.start).max(1), (yr.end - yr.start).max(1));
        let mut img = Vec::with_capacity((bw * bh * 3) as usize);
        for y in 0..bh {
            let t = 1.0 - y as f64 / (bh - 1).max(1) as f64;
            let c = magma(t);
            for _ in 0..bw {
                img.extend_from_slice(&c);
            }
        }
        let (ax, ay) = area.get_pixel_range();
        let pos = (xr.start - ax.start, yr.start - ay.start);
        let elem = BitMapElement::with_owned_buffer(pos, (bw as u32, bh as u32), img)
            .ok_or("colorbar bitmap size mismatch")?;
        area.draw(&elem).de()?;
        bar.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .label_style(font.clone())
            .y_label_formatter(&|v| format!("{:+.0} dB", v.round() + 0.0))
            .draw()
            .de()?;
        bar.plotting_area()
            .draw(&Rectangle::new(
                [(0.0, self.vmin), (1.0, self.vmax)],
                BLACK.stroke_width(1),
            ))
            .de()?;
        Ok(())
    }
}
