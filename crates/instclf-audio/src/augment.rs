//! Training-data augmentation of waveforms: gain, additive noise, a spectral tilt, a small pitch
//! shift, a synthetic room reverb and (optionally) a random smooth equaliser, a low-pass filter
//! and a zone stretch (pitch and formants moved together), each drawn from a seeded generator so
//! a dataset build is reproducible. Optionally a copy is first cleaned to its spectral peaks
//! ([`clean`]): the breath and bow noise between the partials gone, as in sample sets built
//! from short loops. It aims at what differs between recordings of the same
//! instrument (microphone, room, level, tuning, sample set), so a classifier learns the
//! instrument, not the recording.

/// A small deterministic generator (SplitMix64), so this crate needs no RNG dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform(f64::MIN_POSITIVE, 1.0);
        let u2 = self.uniform(0.0, 1.0);
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Ranges the random transforms are drawn from.
#[derive(Debug, Clone, PartialEq)]
pub struct AugmentParams {
    /// Gain in dB.
    pub gain_db: (f64, f64),
    /// Signal-to-noise ratio of added white noise, in dB.
    pub snr_db: (f64, f64),
    /// Gain of the high band against the low band of a first-order split at ~1 kHz, in dB.
    pub tilt_db: (f64, f64),
    /// Pitch shift in cents (by resampling; the duration changes accordingly).
    pub cents: (f64, f64),
    /// Probability of adding reverb, its RT60 in seconds and its wet level.
    pub reverb_p: f64,
    pub rt60_s: (f64, f64),
    pub wet: (f64, f64),
    /// Peak gain in dB of a random smooth equaliser (a few random cosines over log frequency,
    /// like a different microphone or instrument body); 0 leaves it out.
    pub eq_db: f64,
    /// Probability of a 4th-order Butterworth low-pass filter (a dull recording: small samples,
    /// a lossy codec, a distant microphone) and the range of its cutoff in Hz (drawn uniformly
    /// on a log scale; kept under 0.45 of the sample rate); probability 0 leaves it out.
    pub lowpass_p: f64,
    pub lowpass_hz: (f64, f64),
    /// Probability of a zone stretch and its largest shift in semitones: pitch and formants
    /// moved together by resampling, as a sampler plays one recording over a zone of keys
    /// (see [`stretch`]); probability 0 leaves it out.
    pub stretch_p: f64,
    pub stretch_semitones: f64,
    /// Probability that a copy is first cleaned to its spectral peaks ([`clean`]); 0 leaves it
    /// out.
    pub clean_p: f64,
}

impl AugmentParams {
    /// The default ranges with the tilt and pitch-shift ranges multiplied by `strength` and a
    /// random equaliser of up to `eq_db` dB.
    pub fn scaled(strength: f64, eq_db: f64) -> Self {
        let d = AugmentParams::default();
        AugmentParams {
            tilt_db: (d.tilt_db.0 * strength, d.tilt_db.1 * strength),
            cents: (d.cents.0 * strength, d.cents.1 * strength),
            eq_db,
            ..d
        }
    }

    /// These ranges with half the copies zone-stretched by up to `semitones` (0: none).
    pub fn with_stretch(self, semitones: f64) -> Self {
        AugmentParams {
            stretch_p: if semitones > 0.0 { 0.5 } else { 0.0 },
            stretch_semitones: semitones,
            ..self
        }
    }

    /// These ranges with a copy cleaned to its spectral peaks with probability `p`.
    pub fn with_clean(self, p: f64) -> Self {
        AugmentParams { clean_p: p, ..self }
    }

    /// These ranges with a low-pass filter drawn with probability `p`.
    pub fn with_lowpass(self, p: f64) -> Self {
        AugmentParams {
            lowpass_p: p,
            ..self
        }
    }
}

impl Default for AugmentParams {
    fn default() -> Self {
        AugmentParams {
            gain_db: (-12.0, 0.0),
            snr_db: (25.0, 60.0),
            tilt_db: (-9.0, 9.0),
            cents: (-40.0, 40.0),
            reverb_p: 0.6,
            rt60_s: (0.2, 1.2),
            wet: (0.1, 0.5),
            eq_db: 0.0,
            lowpass_p: 0.0,
            lowpass_hz: (2000.0, 8000.0),
            stretch_p: 0.0,
            stretch_semitones: 6.0,
            clean_p: 0.0,
        }
    }
}

/// One random variant of `y` (at `sr` Hz).
pub fn augment(y: &[f32], sr: u32, p: &AugmentParams, rng: &mut Rng) -> Vec<f32> {
    // Drawn only when asked for, so the default draws what it always drew.
    let cleaned = (p.clean_p > 0.0 && rng.uniform(0.0, 1.0) < p.clean_p).then(|| clean(y));
    let mut out = pitch_shift(
        cleaned.as_deref().unwrap_or(y),
        rng.uniform(p.cents.0, p.cents.1),
    );
    tilt(&mut out, sr, rng.uniform(p.tilt_db.0, p.tilt_db.1));
    if rng.uniform(0.0, 1.0) < p.reverb_p {
        out = reverb(
            &out,
            sr,
            rng.uniform(p.rt60_s.0, p.rt60_s.1),
            rng.uniform(p.wet.0, p.wet.1),
            rng,
        );
    }
    let gain = 10f64.powf(rng.uniform(p.gain_db.0, p.gain_db.1) / 20.0) as f32;
    out.iter_mut().for_each(|v| *v *= gain);
    add_noise(&mut out, rng.uniform(p.snr_db.0, p.snr_db.1), rng);
    // Drawn last, so the default (no equaliser) draws what it always drew.
    if p.eq_db > 0.0 {
        out = random_eq(&out, sr, p.eq_db, rng);
    }
    if p.lowpass_p > 0.0 && rng.uniform(0.0, 1.0) < p.lowpass_p {
        let (lo, hi) = (p.lowpass_hz.0.ln(), p.lowpass_hz.1.ln());
        lowpass(&mut out, sr, rng.uniform(lo, hi).exp());
    }
    if p.stretch_p > 0.0 && rng.uniform(0.0, 1.0) < p.stretch_p {
        let semitones = rng.uniform(-p.stretch_semitones, p.stretch_semitones);
        out = stretch(&out, sr, semitones);
    }
    out
}

/// Shifts pitch and formants together by `semitones` (resampling; the duration changes
/// accordingly). Upward, the signal is first low-passed under the shifted Nyquist frequency so
/// nothing folds back.
pub fn stretch(y: &[f32], sr: u32, semitones: f64) -> Vec<f32> {
    let ratio = 2f64.powf(semitones / 12.0);
    if ratio <= 1.0 {
        return pitch_shift(y, 100.0 * semitones);
    }
    let mut z = y.to_vec();
    lowpass(&mut z, sr, 0.45 * f64::from(sr) / ratio);
    pitch_shift(&z, 100.0 * semitones)
}

/// A 4th-order Butterworth low-pass filter at `cutoff` Hz (two cascaded biquads, RBJ cookbook
/// coefficients, Q = 0.5412 and 1.3066), in place; the cutoff is kept under 0.45 `sr`.
pub fn lowpass(y: &mut [f32], sr: u32, cutoff: f64) {
    let sr = f64::from(sr);
    let w0 = std::f64::consts::TAU * cutoff.clamp(1.0, 0.45 * sr) / sr;
    for q in [0.541_196_1, 1.306_563] {
        let alpha = w0.sin() / (2.0 * q);
        let cos = w0.cos();
        let a0 = 1.0 + alpha;
        let b0 = (1.0 - cos) / 2.0 / a0;
        let b1 = (1.0 - cos) / a0;
        let a1 = -2.0 * cos / a0;
        let a2 = (1.0 - alpha) / a0;
        // Direct form II transposed.
        let (mut z1, mut z2) = (0.0f64, 0.0f64);
        for v in y.iter_mut() {
            let x = f64::from(*v);
            let out = b0 * x + z1;
            z1 = b1 * x - a1 * out + z2;
            z2 = b0 * x - a2 * out;
            *v = out as f32;
        }
    }
}

/// Filters `y` by a random smooth gain curve: `sum_k a_k cos(k pi u + phi_k)` dB for k = 1..=4
/// over `u` = log frequency from 50 Hz to Nyquist (mapped to 0..1), scaled so its peak is at most
/// `max_db` (drawn uniformly up to it). Applied by one FFT of the whole signal.
pub fn random_eq(y: &[f32], sr: u32, max_db: f64, rng: &mut Rng) -> Vec<f32> {
    let coef: Vec<(f64, f64)> = (1..=4)
        .map(|k| {
            (
                rng.normal() / k as f64,
                rng.uniform(0.0, std::f64::consts::TAU),
            )
        })
        .collect();
    let peak_db = rng.uniform(0.0, max_db);
    let n = y.len().max(2).next_power_of_two();
    let (fwd, inv) = (instclf_fft::real_forward(n), instclf_fft::real_inverse(n));
    let mut buf = y.to_vec();
    buf.resize(n, 0.0);
    let mut spec = fwd.make_output_vec();
    if fwd.process(&mut buf, &mut spec).is_err() {
        return y.to_vec();
    }
    let nyq = sr as f64 / 2.0;
    let (lo, hi) = (50f64.ln(), nyq.max(51.0).ln());
    let curve: Vec<f64> = (0..spec.len())
        .map(|i| {
            let f = (i as f64 * sr as f64 / n as f64).max(50.0);
            let u = ((f.ln() - lo) / (hi - lo)).clamp(0.0, 1.0);
            coef.iter()
                .enumerate()
                .map(|(k, (a, ph))| a * ((k + 1) as f64 * std::f64::consts::PI * u + ph).cos())
                .sum()
        })
        .collect();
    let max = curve.iter().fold(1e-9f64, |m, v| m.max(v.abs()));
    for (x, c) in spec.iter_mut().zip(&curve) {
        *x *= 10f64.powf(c / max * peak_db / 20.0) as f32;
    }
    let mut out = inv.make_output_vec();
    if inv.process(&mut spec, &mut out).is_err() {
        return y.to_vec();
    }
    out.truncate(y.len());
    out.iter_mut().for_each(|v| *v /= n as f32);
    out
}

/// Shifts pitch by `cents` with linear-interpolation resampling.
pub fn pitch_shift(y: &[f32], cents: f64) -> Vec<f32> {
    let ratio = 2f64.powf(cents / 1200.0);
    let n = ((y.len() as f64) / ratio).floor() as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 * ratio;
            let k = t as usize;
            let f = (t - k as f64) as f32;
            let a = y.get(k).copied().unwrap_or(0.0);
            let b = y.get(k + 1).copied().unwrap_or(0.0);
            a + f * (b - a)
        })
        .collect()
}

/// Boosts (or cuts) the band above ~1 kHz by `db` against the band below.
pub fn tilt(y: &mut [f32], sr: u32, db: f64) {
    let c = 1.0 - (-std::f64::consts::TAU * 1000.0 / sr as f64).exp();
    let g_hi = 10f64.powf(db / 40.0);
    let g_lo = 1.0 / g_hi;
    let mut lp = 0.0f64;
    for v in y.iter_mut() {
        lp += c * (*v as f64 - lp);
        *v = (g_lo * lp + g_hi * (*v as f64 - lp)) as f32;
    }
}

/// Adds white noise at `snr_db` below the signal's RMS.
pub fn add_noise(y: &mut [f32], snr_db: f64, rng: &mut Rng) {
    let rms = (y.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / y.len().max(1) as f64).sqrt();
    let sigma = rms * 10f64.powf(-snr_db / 20.0);
    for v in y.iter_mut() {
        *v += (sigma * rng.normal()) as f32;
    }
}

/// Mixes in a synthetic room: exponentially decaying noise with the given RT60, convolved by FFT.
pub fn reverb(y: &[f32], sr: u32, rt60: f64, wet: f64, rng: &mut Rng) -> Vec<f32> {
    let len = ((rt60 * sr as f64) as usize).max(1);
    let decay = (-6.9078 / (rt60 * sr as f64)).exp(); // -60 dB after rt60
    let mut ir: Vec<f32> = Vec::with_capacity(len);
    let mut g = 1.0f64;
    for _ in 0..len {
        ir.push((g * rng.normal()) as f32);
        g *= decay;
    }
    let norm = ir.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
    ir.iter_mut().for_each(|v| *v /= norm);
    let wet_sig = fft_convolve(y, &ir);
    y.iter()
        .zip(&wet_sig)
        .map(|(d, w)| (1.0 - wet as f32) * d + wet as f32 * w)
        .collect()
}

/// Frame length and hop (samples) of [`clean`]'s STFT.
const CLEAN_N_FFT: usize = 2048;
const CLEAN_HOP: usize = 512;
/// A bin is kept when it lies within [`CLEAN_LOBE`] bins of a local maximum that stands
/// [`CLEAN_PROMINENCE`] times (10 dB) above the median power of the [`CLEAN_SPAN`] bins either
/// side of it; every other bin is silenced.
const CLEAN_LOBE: usize = 2;
const CLEAN_PROMINENCE: f32 = 10.0;
const CLEAN_SPAN: usize = 16;

/// `y` with only its spectral peaks: an STFT (Hann, 2048 samples, hop 512) whose bins away
/// from prominent peaks are zeroed, resynthesised by weighted overlap-add. Breath, bow and room
/// noise between the partials goes; the partials stay within a fraction of a dB. A sampler
/// playing a short loop sounds like this: strictly periodic, nothing between the partials.
pub fn clean(y: &[f32]) -> Vec<f32> {
    let (n, hop) = (CLEAN_N_FFT, CLEAN_HOP);
    if y.len() < n {
        return y.to_vec();
    }
    let window = crate::stft::hann_periodic(n);
    let (fwd, inv) = (instclf_fft::real_forward(n), instclf_fft::real_inverse(n));
    let pad = n / 2;
    let len = y.len() + 2 * pad;
    let mut out = vec![0f32; len];
    let mut norm = vec![0f32; len];
    let mut frame = fwd.make_input_vec();
    let mut spec = fwd.make_output_vec();
    let mut back = inv.make_output_vec();
    let mut power = vec![0f32; spec.len()];
    let mut keep = vec![false; spec.len()];
    let mut around = Vec::with_capacity(2 * CLEAN_SPAN + 1);
    let mut start = 0;
    while start + n <= len {
        for (i, (f, w)) in frame.iter_mut().zip(&window).enumerate() {
            let t = (start + i).wrapping_sub(pad);
            *f = y.get(t).copied().unwrap_or(0.0) * w;
        }
        if fwd.process(&mut frame, &mut spec).is_err() {
            return y.to_vec();
        }
        for (p, c) in power.iter_mut().zip(&spec) {
            *p = c.norm_sqr();
        }
        keep.fill(false);
        let last = power.len() - 1;
        for k in 0..=last {
            let (lo, hi) = (k.saturating_sub(CLEAN_LOBE), (k + CLEAN_LOBE).min(last));
            if power[lo..=hi].iter().any(|&q| q > power[k]) || power[k] <= 0.0 {
                continue;
            }
            around.clear();
            around.extend_from_slice(
                &power[k.saturating_sub(CLEAN_SPAN)..=(k + CLEAN_SPAN).min(last)],
            );
            let mid = around.len() / 2;
            let median = *around.select_nth_unstable_by(mid, f32::total_cmp).1;
            if power[k] >= CLEAN_PROMINENCE * median {
                keep[lo..=hi].fill(true);
            }
        }
        for (c, &k) in spec.iter_mut().zip(&keep) {
            if !k {
                *c = Default::default();
            }
        }
        // The DC and Nyquist bins of a real signal's spectrum are real.
        spec[0].im = 0.0;
        spec[last].im = 0.0;
        if inv.process(&mut spec, &mut back).is_err() {
            return y.to_vec();
        }
        for (i, (&b, w)) in back.iter().zip(&window).enumerate() {
            out[start + i] += b * w / n as f32;
            norm[start + i] += w * w;
        }
        start += hop;
    }
    (0..y.len())
        .map(|t| {
            let w = norm[t + pad];
            if w > 1e-3 {
                out[t + pad] / w
            } else {
                0.0
            }
        })
        .collect()
}

/// Linear convolution of `a` and `b`, truncated to `a.len()`.
fn fft_convolve(a: &[f32], b: &[f32]) -> Vec<f32> {
    let n = (a.len() + b.len()).next_power_of_two();
    let (fwd, inv) = (instclf_fft::real_forward(n), instclf_fft::real_inverse(n));
    let mut pa = a.to_vec();
    pa.resize(n, 0.0);
    let mut pb = b.to_vec();
    pb.resize(n, 0.0);
    let mut sa = fwd.make_output_vec();
    let mut sb = fwd.make_output_vec();
    if fwd.process(&mut pa, &mut sa).is_err() || fwd.process(&mut pb, &mut sb).is_err() {
        return a.to_vec();
    }
    for (x, y) in sa.iter_mut().zip(&sb) {
        *x *= *y;
    }
    let mut out = inv.make_output_vec();
    if inv.process(&mut sa, &mut out).is_err() {
        return a.to_vec();
    }
    out.truncate(a.len());
    out.iter_mut().for_each(|v| *v /= n as f32);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One second of a unit sine at `f` Hz, sampled at 22050 Hz.
    fn tone(f: f32) -> Vec<f32> {
        (0..22050)
            .map(|i| (std::f32::consts::TAU * f * i as f32 / 22050.0).sin())
            .collect()
    }

    #[test]
    fn rng_is_deterministic_and_uniform_in_range() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..100 {
            let x = a.uniform(-1.0, 2.0);
            assert_eq!(x, b.uniform(-1.0, 2.0));
            assert!((-1.0..2.0).contains(&x));
        }
    }

    #[test]
    fn pitch_shift_by_an_octave_halves_the_length() {
        let y: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        let z = pitch_shift(&y, 1200.0);
        assert_eq!(z.len(), 500);
        assert_eq!(z[10], 20.0);
    }

    #[test]
    fn convolution_with_an_impulse_is_identity() {
        let y: Vec<f32> = (0..300).map(|i| (i as f32 * 0.1).sin()).collect();
        let z = fft_convolve(&y, &[1.0]);
        for (a, b) in y.iter().zip(&z) {
            assert!((a - b).abs() < 1e-5);
        }
    }

    #[test]
    fn noise_has_the_requested_snr() {
        let y: Vec<f32> = (0..20000).map(|i| (i as f32 * 0.05).sin()).collect();
        let mut z = y.clone();
        add_noise(&mut z, 20.0, &mut Rng::new(1));
        let sig: f64 = y.iter().map(|v| (*v as f64).powi(2)).sum();
        let noise: f64 = y
            .iter()
            .zip(&z)
            .map(|(a, b)| ((b - a) as f64).powi(2))
            .sum();
        let snr = 10.0 * (sig / noise).log10();
        assert!((snr - 20.0).abs() < 0.3, "snr {snr}");
    }

    #[test]
    fn random_eq_stays_within_its_peak_gain() {
        let y: Vec<f32> = (0..8192).map(|i| (i as f32 * 0.3).sin()).collect();
        let e = |z: &[f32]| z.iter().map(|v| (*v as f64).powi(2)).sum::<f64>();
        let mut rng = Rng::new(5);
        for _ in 0..10 {
            let z = random_eq(&y, 22050, 12.0, &mut rng);
            assert_eq!(z.len(), y.len());
            let db = 10.0 * (e(&z) / e(&y)).log10();
            assert!(db.abs() <= 12.5, "{db} dB");
        }
        let flat = random_eq(&y, 22050, 1e-9, &mut rng);
        for (a, b) in y.iter().zip(&flat) {
            assert!((a - b).abs() < 1e-4);
        }
        assert_eq!(AugmentParams::scaled(1.0, 0.0), AugmentParams::default());
    }

    #[test]
    fn stretch_moves_the_pitch_and_folds_nothing_back() {
        let sr = 22050;
        // Zero crossings per second of the middle part give the frequency.
        let freq = |v: &[f32]| {
            let mid = &v[v.len() / 4..3 * v.len() / 4];
            let ups = mid.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
            ups as f32 * sr as f32 / mid.len() as f32
        };
        let up = stretch(&tone(440.0), sr, 7.0);
        let want = 440.0 * 2f32.powf(7.0 / 12.0);
        assert!((freq(&up) - want).abs() < 3.0, "{} vs {want}", freq(&up));
        assert_eq!(
            up.len(),
            (sr as f64 / 2f64.powf(7.0 / 12.0)).floor() as usize
        );
        let down = stretch(&tone(440.0), sr, -12.0);
        assert!((freq(&down) - 220.0).abs() < 2.0, "{}", freq(&down));
        // 9 kHz an octave up is past Nyquist: filtered out, not folded back to 4 kHz.
        let e = |v: &[f32]| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / v.len() as f64;
        let gone = stretch(&tone(9000.0), sr, 12.0);
        assert!(10.0 * (e(&gone) / 0.5).log10() < -30.0, "{}", e(&gone));
        // Drawn last: without a stretch the default draws stay what they were.
        let y = tone(440.0);
        let d = AugmentParams::default();
        assert_eq!(
            augment(&y, sr, &d.clone().with_stretch(0.0), &mut Rng::new(4)),
            augment(&y, sr, &d, &mut Rng::new(4))
        );
        let p = d.with_stretch(6.0);
        assert_eq!(p.stretch_p, 0.5);
        let a = augment(&y, sr, &p, &mut Rng::new(4));
        assert_eq!(a, augment(&y, sr, &p, &mut Rng::new(4)));
    }

    #[test]
    fn lowpass_passes_the_band_and_cuts_above_the_cutoff() {
        let sr = 22050;
        // Level in dB after the filter, over the second half (past the transient).
        let gain = |f: f32| {
            let y = tone(f);
            let mut z = y.clone();
            lowpass(&mut z, sr, 2000.0);
            let e = |v: &[f32]| {
                v[v.len() / 2..]
                    .iter()
                    .map(|x| (*x as f64).powi(2))
                    .sum::<f64>()
            };
            10.0 * (e(&z) / e(&y)).log10()
        };
        assert!(gain(500.0).abs() < 0.1, "500 Hz: {} dB", gain(500.0));
        assert!(
            (gain(2000.0) + 3.01).abs() < 0.1,
            "cutoff: {} dB",
            gain(2000.0)
        );
        // 4th order: -24 dB per octave well above the cutoff.
        assert!(gain(8000.0) < -45.0, "8 kHz: {} dB", gain(8000.0));
        let p = AugmentParams::default().with_lowpass(1.0);
        let y = tone(6000.0);
        let a = augment(&y, sr, &p, &mut Rng::new(9));
        assert_eq!(a, augment(&y, sr, &p, &mut Rng::new(9)));
        assert!(a.iter().all(|v| v.is_finite()));
        // Without the low-pass the default draws stay what they were.
        let d = AugmentParams::default();
        assert_eq!(
            augment(&y, sr, &d, &mut Rng::new(9)),
            augment(&y, sr, &d.clone().with_lowpass(0.0), &mut Rng::new(9))
        );
    }

    #[test]
    fn clean_keeps_the_partials_and_drops_the_noise_between_them() {
        let sr = 22050.0;
        let mut rng = Rng::new(7);
        let tone: Vec<f32> = (0..22050)
            .map(|i| {
                (1..=8)
                    .map(|k| {
                        (std::f32::consts::TAU * 220.0 * k as f32 * i as f32 / sr).sin() * 0.3
                            / k as f32
                    })
                    .sum()
            })
            .collect();
        let noise: Vec<f32> = (0..tone.len())
            .map(|_| 0.01 * rng.normal() as f32)
            .collect();
        let noisy: Vec<f32> = tone.iter().zip(&noise).map(|(a, b)| a + b).collect();
        let c = clean(&noisy);
        assert_eq!(c.len(), noisy.len());
        let rms = |v: &[f32]| (v.iter().map(|x| x * x).sum::<f32>() / v.len() as f32).sqrt();
        let mid = 4096..18000;
        let err_before = rms(&noise[mid.clone()]);
        let err: Vec<f32> = c[mid.clone()]
            .iter()
            .zip(&tone[mid.clone()])
            .map(|(a, b)| a - b)
            .collect();
        // Most of the noise goes (what stays lies under the partials' lobes) ...
        assert!(
            rms(&err) < 0.3 * err_before,
            "{} vs {}",
            rms(&err),
            err_before
        );
        // ... and a clean tone comes back as it was.
        let again = clean(&tone);
        let diff: Vec<f32> = again[mid.clone()]
            .iter()
            .zip(&tone[mid])
            .map(|(a, b)| a - b)
            .collect();
        assert!(rms(&diff) < 0.01 * rms(&tone), "{}", rms(&diff));
        // Short input is returned as it is.
        assert_eq!(clean(&[0.5; 100]), vec![0.5; 100]);
    }

    #[test]
    fn augment_is_reproducible_and_finite() {
        let y: Vec<f32> = (0..22050).map(|i| (i as f32 * 0.06).sin() * 0.5).collect();
        let p = AugmentParams::default();
        let a = augment(&y, 22050, &p, &mut Rng::new(3));
        let b = augment(&y, 22050, &p, &mut Rng::new(3));
        assert_eq!(a, b);
        assert!(a.iter().all(|v| v.is_finite()));
        assert_ne!(a, augment(&y, 22050, &p, &mut Rng::new(4)));
    }
}
