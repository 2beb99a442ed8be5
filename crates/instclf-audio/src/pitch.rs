//! Fundamental frequency of a stretch of audio by YIN (de Cheveigné and Kawahara, 2002): the
//! cumulative-mean-normalised difference function over one analysis window, the first lag whose
//! value dips under a threshold (else the global minimum), refined by parabolic interpolation.
//! Used for one pitch per note ([`crate::recipe::Recipe::pitch`]): an instrument's register is a
//! cue that does not depend on how its samples were recorded.

/// Analysis window (samples) of [`yin_f0`]; lags up to `sr / fmin` come on top of it.
pub const YIN_WINDOW: usize = 1024;
/// Dip threshold of the normalised difference. The paper (and librosa) use 0.1, but at 22050 Hz
/// a high note's period falls between whole lags and its dip stays above that (0.11 for a
/// 1760 Hz tone with six harmonics), so the twice-as-long period would win; at a half period a
/// tone's own difference stays near 1.5.
pub const YIN_THRESHOLD: f32 = 0.2;

/// The fundamental frequency (Hz) of `y` at `sr`, searched in `[fmin, fmax]`, from a window of
/// [`YIN_WINDOW`] samples taken from the middle of `y`. `None` when `y` is too short for the
/// lowest lag or silent.
pub fn yin_f0(y: &[f32], sr: u32, fmin: f32, fmax: f32) -> Option<f32> {
    let sr_f = sr as f32;
    let tau_min = ((sr_f / fmax).floor() as usize).max(2);
    let tau_max = (sr_f / fmin).ceil() as usize;
    let w = YIN_WINDOW;
    if tau_min >= tau_max || y.len() < w + tau_max + 1 {
        return None;
    }
    let start = (y.len() - w - tau_max - 1) / 2;
    let x = &y[start..start + w + tau_max + 1];
    if x.iter().all(|&v| v == 0.0) {
        return None;
    }
    // d(tau) = sum_j (x[j] - x[j + tau])^2, j < w; then d'(tau) = d(tau) * tau / sum_{1..tau} d.
    let mut d = vec![0f32; tau_max + 1];
    for (tau, dt) in d.iter_mut().enumerate().skip(1) {
        let (a, b) = (&x[..w], &x[tau..tau + w]);
        *dt = a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum();
    }
    let mut cmnd = vec![1f32; tau_max + 1];
    let mut running = 0f32;
    for tau in 1..=tau_max {
        running += d[tau];
        cmnd[tau] = if running > 0.0 {
            d[tau] * tau as f32 / running
        } else {
            1.0
        };
    }
    let range = tau_min..tau_max;
    let mut best = range
        .clone()
        .find(|&t| cmnd[t] < YIN_THRESHOLD && cmnd[t] <= cmnd[t + 1])
        .unwrap_or_else(|| {
            range
                .clone()
                .min_by(|&a, &b| cmnd[a].total_cmp(&cmnd[b]))
                .unwrap_or(tau_min)
        });
    // Walk down to the bottom of the dip the threshold found.
    while best + 1 < tau_max && cmnd[best + 1] < cmnd[best] {
        best += 1;
    }
    let shift = if best > tau_min && best < tau_max {
        let (a, b, c) = (cmnd[best - 1], cmnd[best], cmnd[best + 1]);
        let den = a - 2.0 * b + c;
        if den.abs() > 1e-12 {
            (0.5 * (a - c) / den).clamp(-1.0, 1.0)
        } else {
            0.0
        }
    } else {
        0.0
    };
    Some(sr_f / (best as f32 + shift))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn harmonic(f0: f32, sr: u32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = i as f32 / sr as f32;
                (1..=6)
                    .map(|h| (2.0 * std::f32::consts::PI * f0 * h as f32 * t).sin() / h as f32)
                    .sum::<f32>()
                    * 0.3
            })
            .collect()
    }

    #[test]
    fn finds_the_fundamental_of_harmonic_tones() {
        for f0 in [55.0, 110.0, 261.6, 440.0, 987.8, 1760.0] {
            let y = harmonic(f0, 22050, 8192);
            let got = yin_f0(&y, 22050, 40.0, 2000.0).unwrap();
            assert!((got / f0 - 1.0).abs() < 0.01, "{f0} Hz read as {got}");
        }
    }

    #[test]
    fn a_missing_fundamental_is_still_the_period() {
        // Harmonics 2..6 of 200 Hz only: the period, and so the pitch, is still 200 Hz.
        let sr = 22050;
        let y: Vec<f32> = (0..8192)
            .map(|i| {
                let t = i as f32 / sr as f32;
                (2..=6)
                    .map(|h| (2.0 * std::f32::consts::PI * 200.0 * h as f32 * t).sin())
                    .sum::<f32>()
                    * 0.1
            })
            .collect();
        let got = yin_f0(&y, sr, 40.0, 2000.0).unwrap();
        assert!((got / 200.0 - 1.0).abs() < 0.01, "{got}");
    }

    #[test]
    fn silence_and_short_input_have_no_pitch() {
        assert_eq!(yin_f0(&vec![0.0; 8192], 22050, 40.0, 2000.0), None);
        assert_eq!(yin_f0(&[0.1; 100], 22050, 40.0, 2000.0), None);
    }
}
