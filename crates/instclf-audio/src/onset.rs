//! Onset detection, a port of librosa 0.11's `onset.onset_strength`, `util.peak_pick`,
//! `onset.onset_detect` and `onset.onset_backtrack` with librosa's default parameters.
//!
//! The onset strength envelope is the spectral flux of the dB mel spectrogram: for each frame,
//! the mean over mel bands of the positive first difference (lag 1), shifted right by
//! `1 + n_fft / (2 hop)` frames to undo the centring of the STFT frames. Peaks of the normalised
//! envelope that are local maxima and stand `delta` above their local mean are onsets.

use crate::mel::{melspectrogram, power_to_db, DbRef, MelParams};

/// librosa's `onset_strength(y, sr, n_fft, hop_length, n_mels)`: one value per STFT frame
/// (`1 + y.len() / hop` frames, centred). Mel power spectrogram with `fmax = sr / 2`, converted
/// to dB with `ref = 1.0`, `amin = 1e-10`, `top_db = 80`.
pub fn onset_strength(y: &[f32], sr: u32, hop: usize, n_fft: usize, n_mels: usize) -> Vec<f32> {
    let params = MelParams {
        sr,
        n_fft,
        hop,
        n_mels,
        fmin: 0.0,
        fmax: Some(sr as f32 / 2.0),
        htk: false,
    };
    let power = melspectrogram(y, &params);
    let db = power_to_db(&power, DbRef::Value(1.0), 1e-10, Some(80.0));
    spectral_flux(&db, 1 + n_fft / (2 * hop.max(1)))
}

/// Mean over rows of the positive lag-1 difference along columns, padded with `pad` leading
/// zeros and cut to the number of columns (librosa's `onset_strength_multi`, lag 1, max_size 1).
fn spectral_flux(s: &crate::Matrix, pad: usize) -> Vec<f32> {
    let frames = s.cols;
    let mut env = vec![0.0f32; frames];
    if s.rows == 0 || frames < 2 {
        return env;
    }
    let mut sums = vec![0.0f64; frames - 1];
    for r in 0..s.rows {
        let row = s.row(r);
        for (t, sum) in sums.iter_mut().enumerate() {
            let d = row[t + 1] - row[t];
            if d > 0.0 {
                *sum += f64::from(d);
            }
        }
    }
    for (t, sum) in sums.iter().enumerate() {
        if let Some(e) = env.get_mut(t + pad) {
            *e = (*sum / s.rows as f64) as f32;
        }
    }
    env
}

/// Peak-picking windows in frames, as librosa's `util.peak_pick` takes them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeakPick {
    pub pre_max: usize,
    pub post_max: usize,
    pub pre_avg: usize,
    pub post_avg: usize,
    pub wait: usize,
    pub delta: f32,
}

impl PeakPick {
    /// librosa `onset_detect`'s defaults: 30 ms before for the maximum, 100 ms either side for
    /// the mean, wait 30 ms, delta 0.07 (Python's `0.03 * sr // hop`, then `ceil`).
    pub fn librosa_default(sr: u32, hop: usize) -> Self {
        let frames =
            |seconds: f64| (seconds * f64::from(sr)).div_euclid(hop.max(1) as f64) as usize;
        PeakPick {
            pre_max: frames(0.03),
            post_max: frames(0.0) + 1,
            pre_avg: frames(0.10),
            post_avg: frames(0.10) + 1,
            wait: frames(0.03),
            delta: 0.07,
        }
    }
}

/// librosa's `util.peak_pick`: frames `n` with `x[n] == max(x[n - pre_max .. n + post_max])`
/// and `x[n] >= mean(x[n - pre_avg .. n + post_avg]) + delta`, at least `wait` frames apart.
pub fn peak_pick(x: &[f32], p: &PeakPick) -> Vec<usize> {
    let n_x = x.len();
    let mut peaks = Vec::new();
    if n_x == 0 {
        return peaks;
    }
    let max_of = |a: usize, b: usize| x[a..b].iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mean_of = |a: usize, b: usize| {
        let s: f64 = x[a..b].iter().map(|&v| f64::from(v)).sum();
        (s / (b - a) as f64) as f32
    };
    let post_max = p.post_max.max(1);
    let post_avg = p.post_avg.max(1);
    let first =
        x[0] >= max_of(0, post_max.min(n_x)) && x[0] >= mean_of(0, post_avg.min(n_x)) + p.delta;
    let mut n = 1;
    if first {
        peaks.push(0);
        n = p.wait + 1;
    }
    while n < n_x {
        let maxn = max_of(n.saturating_sub(p.pre_max), (n + post_max).min(n_x));
        if x[n] != maxn {
            n += 1;
            continue;
        }
        let avgn = mean_of(n.saturating_sub(p.pre_avg), (n + post_avg).min(n_x));
        if x[n] < avgn + p.delta {
            n += 1;
            continue;
        }
        peaks.push(n);
        n += p.wait + 1;
    }
    peaks
}

/// Shifts `env` to start at 0 and scales it to a maximum of 1 (librosa `onset_detect`'s
/// `normalize=True`).
pub fn normalize(env: &[f32]) -> Vec<f32> {
    let min = env.iter().copied().fold(f32::INFINITY, f32::min);
    let shifted: Vec<f32> = env.iter().map(|&v| v - min).collect();
    let max = shifted.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    shifted
        .iter()
        .map(|&v| v / (max + f32::MIN_POSITIVE))
        .collect()
}

/// librosa's `onset_backtrack`: moves each event back to the nearest preceding local minimum
/// of `energy` (frame 0 when there is none).
pub fn onset_backtrack(events: &[usize], energy: &[f32]) -> Vec<usize> {
    let mut minima = vec![0usize];
    for i in 1..energy.len().saturating_sub(1) {
        if energy[i] <= energy[i - 1] && energy[i] < energy[i + 1] {
            minima.push(i);
        }
    }
    events
        .iter()
        .map(|&e| {
            let k = minima.partition_point(|&m| m <= e);
            minima[k.saturating_sub(1)]
        })
        .collect()
}

/// librosa's `onset_detect(onset_envelope=env, sr, hop_length, backtrack)`: normalises the
/// envelope, peak-picks with the default windows and optionally backtracks to the preceding
/// minimum of the (normalised) envelope. Returns frame indices.
pub fn onset_detect_env(env: &[f32], sr: u32, hop: usize, backtrack: bool) -> Vec<usize> {
    let norm = normalize(env);
    if !norm.iter().any(|&v| v != 0.0) || !norm.iter().all(|v| v.is_finite()) {
        return Vec::new();
    }
    let onsets = peak_pick(&norm, &PeakPick::librosa_default(sr, hop));
    if backtrack {
        onset_backtrack(&onsets, &norm)
    } else {
        onsets
    }
}

/// librosa's `onset_detect(y, sr, hop_length, backtrack)` with the onset strength computed from
/// an `n_fft`-point STFT and `n_mels` mel bands. Returns frame indices (frame `t` is at
/// `t * hop / sr` seconds).
pub fn onset_detect(
    y: &[f32],
    sr: u32,
    hop: usize,
    n_fft: usize,
    n_mels: usize,
    backtrack: bool,
) -> Vec<usize> {
    let env = onset_strength(y, sr, hop, n_fft, n_mels);
    onset_detect_env(&env, sr, hop, backtrack)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn librosa_default_windows() {
        let p = PeakPick::librosa_default(22050, 512);
        assert_eq!(
            (p.pre_max, p.post_max, p.pre_avg, p.post_avg, p.wait),
            (1, 1, 4, 5, 1)
        );
        let p = PeakPick::librosa_default(44100, 512);
        assert_eq!(
            (p.pre_max, p.post_max, p.pre_avg, p.post_avg, p.wait),
            (2, 1, 8, 9, 2)
        );
    }

    #[test]
    fn peak_pick_finds_isolated_peaks_and_waits() {
        let mut x = vec![0.0f32; 40];
        x[10] = 1.0;
        x[11] = 0.9;
        x[25] = 0.5;
        let p = PeakPick::librosa_default(22050, 512);
        assert_eq!(peak_pick(&x, &p), vec![10, 25]);
    }

    #[test]
    fn backtrack_goes_to_preceding_minimum() {
        let e = [3.0, 2.0, 1.0, 2.0, 5.0, 4.0, 0.5, 1.0, 6.0];
        assert_eq!(onset_backtrack(&[4, 8, 0], &e), vec![2, 6, 0]);
    }

    #[test]
    fn flux_pads_and_averages_positive_differences() {
        let s =
            crate::Matrix::from_vec(2, 4, vec![0.0, 1.0, 0.0, 2.0, 0.0, 3.0, 3.0, 3.0]).unwrap();
        assert_eq!(spectral_flux(&s, 1), vec![0.0, 2.0, 0.0, 1.0]);
    }
}
