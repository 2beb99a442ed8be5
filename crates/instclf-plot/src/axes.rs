//! Axis helpers shared by the pictures: an axis with hand-picked ticks and an optional warped
//! scale (used for the mel-spaced frequency axis and the colorbar), "nice" tick spacing, number
//! formatting, matplotlib's default colour cycle and font sizes scaled to the picture.

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::style::RGBColor;
use std::ops::Range;

/// A continuous axis over `lo..hi` whose labelled ticks are exactly `ticks`, drawn through the
/// monotone transform `warp` (identity for a linear axis, Hz → mel for a mel axis).
#[derive(Clone)]
pub(crate) struct TickedAxis {
    pub lo: f64,
    pub hi: f64,
    pub ticks: Vec<f64>,
    pub warp: fn(f64) -> f64,
}

pub(crate) fn identity(v: f64) -> f64 {
    v
}

impl TickedAxis {
    pub fn linear(lo: f64, hi: f64, ticks: Vec<f64>) -> Self {
        TickedAxis {
            lo,
            hi,
            ticks,
            warp: identity,
        }
    }

    /// Position of `v` along the axis, 0 at `lo` and 1 at `hi`.
    pub fn fraction(&self, v: f64) -> f64 {
        let (a, b) = ((self.warp)(self.lo), (self.warp)(self.hi));
        if b == a {
            0.0
        } else {
            ((self.warp)(v) - a) / (b - a)
        }
    }
}

impl Ranged for TickedAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let t = self.fraction(*value);
        (limit.0 as f64 + t * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Only the labelled ("bold") ticks: no light grid lines.
        if hint.weight().allow_light_points() {
            return Vec::new();
        }
        let (lo, hi) = (self.lo.min(self.hi), self.lo.max(self.hi));
        let eps = (hi - lo).abs() * 1e-9;
        self.ticks
            .iter()
            .copied()
            .filter(|t| *t >= lo - eps && *t <= hi + eps)
            .collect()
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// About `target` evenly spaced round ticks (steps of 1, 2, 2.5 or 5 times a power of ten)
/// covering `lo..=hi`, as matplotlib's default locator picks them.
pub(crate) fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// Formats a tick value with no more decimals than needed (`0`, `0.5`, `1.25`, `1000`).
pub(crate) fn fmt_tick(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    for decimals in 0..6 {
        let s = format!("{v:.decimals$}");
        let back: f64 = s.parse().unwrap_or(f64::NAN);
        if (back - v).abs() <= v.abs() * 1e-9 {
            return s;
        }
    }
    format!("{v:.3}")
}

/// Formats a value on a logarithmic axis: plain numbers between 0.001 and 10000, else `1e-5`.
pub(crate) fn fmt_log_tick(v: f64) -> String {
    if v == 0.0 {
        "0".to_string()
    } else if (1e-3..1e4).contains(&v.abs()) {
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        let e = v.log10().round() as i32;
        let m = v / 10f64.powi(e);
        if (m - 1.0).abs() < 1e-6 {
            format!("1e{e}")
        } else {
            format!("{m:.1}e{e}")
        }
    }
}

/// Ticks for a logarithmic axis over `lo..hi` (both > 0): powers of ten, with 2 and 5 times
/// them added when the range spans fewer than two decades.
pub(crate) fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo) {
        return vec![lo];
    }
    let (e0, e1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let decades = hi.log10() - lo.log10();
    let mults: &[f64] = if decades < 0.6 {
        &[1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    } else if decades < 3.0 {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0]
    };
    let mut out = Vec::new();
    for e in e0..=e1 {
        for m in mults {
            let v = m * 10f64.powi(e);
            if v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9) {
                out.push(v);
            }
        }
    }
    if out.len() < 2 {
        // Very narrow range: fall back to linear ticks inside it.
        return nice_ticks(lo, hi, 4);
    }
    // With decade ticks only, the top of the axis can run a long way past the last tick (a loss
    // axis from 0.001 to 2.5 would be unlabelled above 1): label the largest 2 or 5 x 10^e
    // below the top as well.
    if let Some(&last) = out.last() {
        if hi >= 2.0 * last * (1.0 - 1e-9) {
            let e = hi.log10().floor() as i32;
            let top = [5.0, 2.0, 1.0]
                .iter()
                .map(|m| m * 10f64.powi(e))
                .find(|v| *v <= hi * (1.0 + 1e-9) && *v > last * (1.0 + 1e-9));
            out.extend(top);
        }
    }
    out
}

/// matplotlib's default colour cycle ("tab10").
pub(crate) const PALETTE: [RGBColor; 10] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
];

/// Base font size in pixels for a picture of this size (about matplotlib's 10 pt at 100 dpi for
/// a 400-pixel-high figure).
pub(crate) fn font_px(width: u32, height: u32) -> f64 {
    let side = width.min(height) as f64;
    (side / 30.0).clamp(10.0, 16.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks_are_round_and_cover_range() {
        assert_eq!(
            nice_ticks(0.0, 3.0, 6),
            vec![0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
        );
        assert_eq!(
            nice_ticks(-80.0, 0.0, 8),
            (0..=8).map(|i| -80.0 + 10.0 * i as f64).collect::<Vec<_>>()
        );
        let t = nice_ticks(0.0, 2.97, 6);
        assert_eq!(t.first(), Some(&0.0));
        assert!(*t.last().unwrap_or(&0.0) <= 2.97);
    }

    #[test]
    fn tick_formatting() {
        assert_eq!(fmt_tick(0.5), "0.5");
        assert_eq!(fmt_tick(2.0), "2");
        assert_eq!(fmt_tick(1.25), "1.25");
        assert_eq!(fmt_log_tick(0.01), "0.01");
        assert_eq!(fmt_log_tick(1e-5), "1e-5");
        assert_eq!(fmt_log_tick(2.0), "2");
    }

    #[test]
    fn log_ticks_within_range() {
        let t = log_ticks(0.03, 2.5);
        assert!(t.contains(&0.1) && t.contains(&1.0));
        assert!(t.iter().all(|v| *v >= 0.03 && *v <= 2.5));
    }

    #[test]
    fn a_long_log_axis_is_labelled_above_its_last_decade() {
        // Four decades: decade ticks only, then 2 below the top of 2.5.
        let t = log_ticks(0.0005, 2.5);
        assert_eq!(t.last(), Some(&2.0), "{t:?}");
        assert!(t.contains(&0.001) && t.contains(&1.0));
        // A top just above a decade tick adds nothing.
        assert_eq!(log_ticks(0.0005, 1.2).last(), Some(&1.0));
    }
}
