//! What one frame's power spectrum says about a note's harmonic series, given its fundamental:
//! the levels of the partials relative to the strongest ([`partial_levels`], the recipe's
//! `harmonics`) and how far the partials stand above the noise between them in octave groups
//! ([`harmonicity`], the recipe's `harmonicity`), and the envelope through the partials' peaks at
//! fixed frequencies ([`envelope`], the recipe's `envelope`). All take the fundamental as a
//! fractional FFT bin.

/// Floor (dB below the strongest partial) of [`partial_levels`].
pub const HARMONIC_FLOOR_DB: f32 = 80.0;
/// Range (dB) of [`harmonicity`]: a group's ratio is clamped to `0..=HARMONICITY_MAX_DB`.
pub const HARMONICITY_MAX_DB: f32 = 60.0;

/// The levels of the partials of one frame's power spectrum whose fundamental sits at bin `f`
/// (fractional): `levels[k]` is the peak near `(k + 1) f`, in dB below the strongest of them,
/// floored at -[`HARMONIC_FLOOR_DB`]; partials above Nyquist sit at the floor. Returns false (and
/// leaves `levels` meaningless) for a silent frame.
pub fn partial_levels(power: &[f32], f: f32, levels: &mut [f32]) -> bool {
    let Some(last) = power.len().checked_sub(1) else {
        return false;
    };
    // Half the spacing of the partials, at least one bin: the peak search window.
    let half = (0.5 * f).max(1.0);
    for (k, level) in levels.iter_mut().enumerate() {
        let centre = (k + 1) as f32 * f;
        *level = if centre > last as f32 {
            0.0
        } else {
            peak(power, centre, half, last)
        };
    }
    let peak = levels.iter().copied().fold(0.0, f32::max);
    if peak <= 0.0 {
        return false;
    }
    for l in levels.iter_mut() {
        *l = (10.0 * (*l / peak).max(1e-12).log10()).max(-HARMONIC_FLOOR_DB);
    }
    true
}

/// How far the partials of one frame stand above what lies between them, per octave group of
/// partials: group `g` holds partials `2^g ..= 2^(g+1) - 1` (1; 2-3; 4-7; 8-15; ...). A group's
/// value is `10 log10(sum of its partials' peaks / sum of the mean power half way to the next
/// partial)`, clamped to `0..=`[`HARMONICITY_MAX_DB`]: high for a clean, reedy or bowed tone, low
/// where breath or bow noise fills the spectrum between the partials. Partials whose midpoint to
/// the next lies above Nyquist are left out; a group with none left, or a silent frame, reads 0.
/// The fundamental sits at fractional bin `f`.
pub fn harmonicity(power: &[f32], f: f32, groups: &mut [f32]) {
    groups.iter_mut().for_each(|g| *g = 0.0);
    let Some(last) = power.len().checked_sub(1) else {
        return;
    };
    if f.is_nan() || f <= 0.0 {
        return;
    }
    // A quarter of the spacing, at least one bin: the peak window around a partial and the
    // window of the gap half way to the next.
    let quarter = (0.25 * f).max(1.0);
    for (g, value) in groups.iter_mut().enumerate() {
        let (mut tone, mut gap) = (0f64, 0f64);
        for k in (1usize << g)..(1usize << (g + 1)) {
            let centre = k as f32 * f;
            let between = centre + 0.5 * f;
            if between + quarter > last as f32 {
                break;
            }
            tone += f64::from(peak(power, centre, quarter, last));
            gap += mean(power, between, quarter, last);
        }
        if tone > 0.0 {
            let db = 10.0 * (tone / gap.max(tone * 1e-12)).log10();
            *value = (db as f32).clamp(0.0, HARMONICITY_MAX_DB);
        }
    }
}

/// Lowest and highest centre (Hz) of the [`envelope`] bands, which are spaced evenly in
/// log-frequency between them.
pub const ENVELOPE_LOW_HZ: f32 = 150.0;
pub const ENVELOPE_HIGH_HZ: f32 = 8000.0;
/// Most partials [`envelope`] reads.
const ENVELOPE_PARTIALS: usize = 128;

/// The centres of `n` [`envelope`] bands in Hz, from [`ENVELOPE_LOW_HZ`] to
/// [`ENVELOPE_HIGH_HZ`] evenly in log-frequency (one band: the lowest).
pub fn envelope_centres(n: usize) -> Vec<f32> {
    let ratio = (ENVELOPE_HIGH_HZ / ENVELOPE_LOW_HZ).ln();
    (0..n)
        .map(|i| {
            let x = if n > 1 {
                i as f32 / (n - 1) as f32
            } else {
                0.0
            };
            ENVELOPE_LOW_HZ * (ratio * x).exp()
        })
        .collect()
}

/// The spectral envelope through the peaks of the partials of one frame's power spectrum whose
/// fundamental sits at bin `f` (fractional), read at the bins `centres` (fixed frequencies, in
/// fractional bins): in dB below the strongest partial, interpolated linearly between the two
/// partials around each centre, the first partial's level below it, and
/// -[`HARMONIC_FLOOR_DB`] above the last partial below Nyquist. Where [`partial_levels`] says how
/// strong each harmonic is, this says where in frequency the energy lies (a reed's or a body's
/// resonances), whatever the pitch. Returns false (and leaves `out` meaningless) for a silent
/// frame or no fundamental.
pub fn envelope(power: &[f32], f: f32, centres: &[f32], out: &mut [f32]) -> bool {
    let Some(last) = power.len().checked_sub(1) else {
        return false;
    };
    if f.is_nan() || f <= 0.0 {
        return false;
    }
    let count = ((last as f32 / f).floor() as usize).min(ENVELOPE_PARTIALS);
    if count == 0 {
        return false;
    }
    let mut levels = vec![0f32; count];
    let ok = partial_levels(power, f, &mut levels);
    if !ok {
        return false;
    }
    for (o, &c) in out.iter_mut().zip(centres) {
        // The centre's place in the series: partial k (1-based) sits at k f.
        let x = c / f;
        *o = if x <= 1.0 {
            levels[0]
        } else if x > count as f32 {
            -HARMONIC_FLOOR_DB
        } else {
            let k = (x.floor() as usize).clamp(1, count);
            let (lo, hi) = (levels[k - 1], levels[k.min(count - 1)]);
            let w = x - k as f32;
            lo + w * (hi - lo)
        };
    }
    true
}

/// The largest power within `half` bins of `centre`.
fn peak(power: &[f32], centre: f32, half: f32, last: usize) -> f32 {
    let (lo, hi) = window(centre, half, last);
    power[lo..=hi].iter().copied().fold(0.0, f32::max)
}

/// The mean power within `half` bins of `centre`.
fn mean(power: &[f32], centre: f32, half: f32, last: usize) -> f64 {
    let (lo, hi) = window(centre, half, last);
    power[lo..=hi].iter().map(|&p| f64::from(p)).sum::<f64>() / (hi - lo + 1) as f64
}

/// The bins `lo..=hi` within `half` of `centre`, at least one, inside `0..=last`.
fn window(centre: f32, half: f32, last: usize) -> (usize, usize) {
    let lo = (centre - half).ceil().max(0.0) as usize;
    let hi = ((centre + half).floor().max(0.0) as usize).min(last);
    (lo.min(hi), hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The power spectrum (n_fft 2048, Hann) of the middle frame of `y` at 22050 Hz.
    fn spectrum(y: &[f32]) -> Vec<f32> {
        let s = crate::stft::power_spectrogram(y, 2048, 512);
        (0..s.rows).map(|b| s.get(b, s.cols / 2)).collect()
    }

    fn tone(f0: f32, partials: usize, noise: f32, seed: u64) -> Vec<f32> {
        let sr = 22050.0;
        let mut s = seed;
        (0..22050)
            .map(|i| {
                let t = i as f32 / sr;
                let harm: f32 = (1..=partials)
                    .map(|k| (2.0 * std::f32::consts::PI * f0 * k as f32 * t).sin() / k as f32)
                    .sum();
                // xorshift noise in [-1, 1)
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let n = (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0;
                0.3 * harm + noise * n
            })
            .collect()
    }

    #[test]
    fn envelope_follows_the_partials_at_fixed_frequencies() {
        let bins_per_hz = 2048.0 / 22050.0;
        let centres: Vec<f32> = [100.0f32, 220.0, 330.0, 550.0, 4000.0, 9000.0]
            .iter()
            .map(|c| c * bins_per_hz)
            .collect();
        let f = 220.0 * bins_per_hz;
        // Partials 1..=16 at 1/k: partial k is 20 log10(k) dB down.
        let power = spectrum(&tone(220.0, 16, 0.0, 1));
        let mut env = vec![0f32; centres.len()];
        assert!(envelope(&power, f, &centres, &mut env));
        // A partial between two FFT bins reads up to 1.4 dB low (the Hann window's scalloping).
        let near = |got: f32, want: f32| (got - want).abs() < 1.5;
        assert!(
            near(env[0], 0.0),
            "below the fundamental: its level, {}",
            env[0]
        );
        assert!(near(env[1], 0.0), "{}", env[1]);
        // 330 Hz lies half way between partials 1 (0 dB) and 2 (-6 dB).
        assert!(near(env[2], -3.0), "{}", env[2]);
        // 550 Hz: half way between partials 2 (-6 dB) and 3 (-9.5 dB).
        assert!(near(env[3], -7.8), "{}", env[3]);
        // 4000 Hz is past the 16th partial (3520 Hz): nothing there but leakage and the floor.
        assert!(env[4] < -40.0, "{}", env[4]);
        assert_eq!(env[5], -HARMONIC_FLOOR_DB);
        assert!(!envelope(&vec![0.0; 1025], f, &centres, &mut env));
        assert!(!envelope(&power, 0.0, &centres, &mut env));
        let c = envelope_centres(16);
        assert_eq!(c.len(), 16);
        assert!((c[0] - ENVELOPE_LOW_HZ).abs() < 1e-3 && (c[15] - ENVELOPE_HIGH_HZ).abs() < 0.1);
    }

    #[test]
    fn breath_between_the_partials_lowers_harmonicity() {
        let f = 220.0 * 2048.0 / 22050.0;
        let mut clean = [0f32; 4];
        let mut breathy = [0f32; 4];
        harmonicity(&spectrum(&tone(220.0, 16, 0.0, 1)), f, &mut clean);
        harmonicity(&spectrum(&tone(220.0, 16, 0.05, 1)), f, &mut breathy);
        for g in 0..4 {
            assert!(
                clean[g] > 40.0,
                "group {g} of a clean tone: {} dB",
                clean[g]
            );
            assert!(
                breathy[g] < clean[g] - 10.0 && breathy[g] > 0.0,
                "group {g}: {} dB with noise, {} dB without",
                breathy[g],
                clean[g]
            );
        }
        // The upper groups hold weaker partials (1/k), so noise drowns them more.
        assert!(breathy[3] < breathy[0]);
    }

    #[test]
    fn silence_and_groups_above_nyquist_read_zero() {
        let f = 220.0 * 2048.0 / 22050.0;
        let mut g = [1f32; 3];
        harmonicity(&vec![0.0; 1025], f, &mut g);
        assert_eq!(g, [0.0; 3]);
        // At 3 kHz the 8-15th partials lie above Nyquist (11025 Hz): the fourth group is empty.
        let f = 3000.0 * 2048.0 / 22050.0;
        let mut g = [0f32; 4];
        harmonicity(&spectrum(&tone(3000.0, 3, 0.0, 2)), f, &mut g);
        assert!(g[0] > 40.0 && g[1] > 40.0, "{g:?}");
        assert_eq!(g[3], 0.0);
        assert!(g.iter().all(|v| v.is_finite()));
    }
}
