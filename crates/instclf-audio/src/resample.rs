//! Sample-rate conversion standing in for librosa's default `soxr_hq`: the output has exactly
//! `ceil(n * sr_out / sr_in)` samples, sample `k` of it is aligned with time `k / sr_out` of the
//! input (linear phase, delay removed), and the low-pass filter is soxr_hq's: flat to 91.3% of the
//! lower Nyquist frequency, stop band (126 dB) from 100%. It runs as one pass of FFT overlap-save
//! with realfft: each block of input is transformed, multiplied by the filter, and transformed
//! back at the output rate by an inverse FFT of the output block's length, so filtering and
//! rate change cost one forward and one inverse real FFT per block, for any rational ratio.
//! [`resample_owned`] downsamples in the input's own buffer where the geometry allows.

use crate::error::AudioError;
use instclf_fft::Complex;
use std::borrow::Cow;

/// End of soxr_hq's pass band, as a fraction of the lower Nyquist frequency.
const PASSBAND_END: f64 = 0.913;
/// Stop-band attenuation in dB: soxr_hq's 20-bit precision, (20 + 1) x 20 log10(2).
const ATTENUATION_DB: f64 = 126.43;
/// Longest filter half-length in input samples; extreme ratios (a narrow transition band at a
/// high input rate) get a shorter Kaiser window, so a wider transition, rather than a filter of
/// millions of taps.
const MAX_HALF_TAPS: usize = 1 << 16;
/// Preferred FFT length of an input block.
const BLOCK: usize = 8192;

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Number of output samples librosa produces, `ceil(n * sr_out / sr_in)`.
pub fn output_len(n: usize, sr_in: u32, sr_out: u32) -> usize {
    if sr_in == 0 {
        return 0;
    }
    let num = n as u128 * sr_out as u128;
    num.div_ceil(sr_in as u128) as usize
}

/// Modified Bessel function of the first kind, order 0 (power series), for the Kaiser window.
fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term, q) = (1.0f64, 1.0f64, x * x / 4.0);
    for k in 1..200 {
        term *= q / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// The zero-phase low-pass at the input rate, taps `h[0..=half]` (h[-n] = h[n]): a
/// Kaiser-windowed sinc with its cutoff midway through soxr_hq's transition band and the length
/// Kaiser's formula gives for that band and attenuation. Its DC gain is 1.
fn lowpass(sr_in: u32, sr_out: u32) -> Vec<f64> {
    let nyquist = sr_in.min(sr_out) as f64 / 2.0;
    let width = (1.0 - PASSBAND_END) * nyquist / sr_in as f64; // cycles per input sample
    let cutoff = (1.0 + PASSBAND_END) / 2.0 * nyquist / sr_in as f64;
    let taps = (ATTENUATION_DB - 7.95) / (2.285 * 2.0 * std::f64::consts::PI * width);
    let half = ((taps / 2.0).ceil() as usize).clamp(1, MAX_HALF_TAPS);
    let beta = 0.1102 * (ATTENUATION_DB - 8.7);
    let norm = bessel_i0(beta);
    (0..=half)
        .map(|n| {
            let t = n as f64;
            let arg = 2.0 * cutoff * t;
            let sinc = if n == 0 {
                1.0
            } else {
                (std::f64::consts::PI * arg).sin() / (std::f64::consts::PI * arg)
            };
            let r = t / (half + 1) as f64;
            2.0 * cutoff * sinc * bessel_i0(beta * (1.0 - r * r).sqrt()) / norm
        })
        .collect()
}

/// Resamples mono `samples` from `sr_in` to `sr_out` Hz. Equal rates return a copy.
pub fn resample(samples: &[f32], sr_in: u32, sr_out: u32) -> Result<Vec<f32>, AudioError> {
    run(
        Io::Separate(Cow::Borrowed(samples), Vec::new()),
        sr_in,
        sr_out,
    )
}

/// [`resample`] of a signal the caller gives up: when downsampling leaves room (each block's
/// output lands before the input the next block reads), the output is written over the input
/// in its own buffer, so no second whole-signal buffer is touched. The same values as
/// [`resample`], bit for bit.
pub fn resample_owned(samples: Vec<f32>, sr_in: u32, sr_out: u32) -> Result<Vec<f32>, AudioError> {
    run(Io::Owned(samples, 0), sr_in, sr_out)
}

/// Where [`run`] reads its input and writes its output: an input and a new output, or one
/// owned buffer (input in front, then overwritten by the output; `usize` counts what is
/// written).
enum Io<'a> {
    Separate(Cow<'a, [f32]>, Vec<f32>),
    Owned(Vec<f32>, usize),
}

fn run(mut io: Io<'_>, sr_in: u32, sr_out: u32) -> Result<Vec<f32>, AudioError> {
    let err = |detail: String| AudioError::Resample {
        from: sr_in,
        to: sr_out,
        detail,
    };
    if sr_in == 0 || sr_out == 0 {
        return Err(err("sample rates must be positive".into()));
    }
    let n = match &io {
        Io::Separate(samples, _) => samples.len(),
        Io::Owned(samples, _) => samples.len(),
    };
    if sr_in == sr_out {
        return Ok(match io {
            Io::Separate(samples, _) => samples.into_owned(),
            Io::Owned(samples, _) => samples,
        });
    }
    let want = output_len(n, sr_in, sr_out);
    if want == 0 {
        return Ok(Vec::new());
    }
    let g = gcd(sr_in as u64, sr_out as u64);
    let (p, q) = ((sr_in as u64 / g) as usize, (sr_out as u64 / g) as usize);
    let h = lowpass(sr_in, sr_out);
    let half = h.len() - 1;
    // Overlap-save geometry, in input samples: each block of `n_in` samples starts `margin`
    // before the stretch of `step` samples whose outputs it keeps. Block starts are multiples of
    // `p`, so each block's output grid is the global one.
    let margin = half.div_ceil(p) * p;
    let target = (8 * margin).max(BLOCK).min(2 * margin + n.div_ceil(p) * p);
    let mut m = 1usize;
    while m * p < target || m * p <= 2 * margin {
        m *= 2;
    }
    let (n_in, n_out) = (m * p, m * q);
    let step = n_in - 2 * margin;
    let (step_out, margin_out) = (step / p * q, margin / p * q);

    let (fwd, inv) = (instclf_fft::forward(n_in), instclf_fft::inverse(n_out));
    // The filter's spectrum on the input block's bins 0..=half_bins (real: zero phase; even in
    // frequency), with the inverse FFT's 1/n_in folded in. Bins at or above the lower Nyquist
    // frequency are dropped: the filter is in its stop band there.
    let half_bins = (n_in.min(n_out) - 1) / 2;
    let gain: Vec<f32> = {
        let f64fft = instclf_fft::real_forward_f64(n_in);
        let mut wrapped = vec![0f64; n_in];
        for (i, &v) in h.iter().enumerate() {
            wrapped[i % n_in] += v;
            if i > 0 {
                wrapped[(n_in - i % n_in) % n_in] += v;
            }
        }
        let mut spec = f64fft.make_output_vec();
        f64fft
            .process(&mut wrapped, &mut spec)
            .map_err(|e| err(e.to_string()))?;
        spec[..=half_bins]
            .iter()
            .map(|c| (c.re / n_in as f64) as f32)
            .collect()
    };

    // Two blocks at a time, one as the real and one as the imaginary part of a complex FFT: the
    // filter is real and even, so the two never mix and no real-FFT untangling is needed.
    let zero = Complex::new(0f32, 0.0);
    let mut buf = vec![zero; n_in];
    let mut obuf = vec![zero; n_out];
    let mut scratch = vec![
        zero;
        fwd.get_inplace_scratch_len()
            .max(inv.get_inplace_scratch_len())
    ];
    let pairs = want.div_ceil(2 * step_out);
    // In place only where each pair's output ends before the next pair's input starts.
    if 2 * step_out + margin > 2 * step {
        if let Io::Owned(samples, _) = io {
            io = Io::Separate(Cow::Owned(samples), Vec::new());
        }
    }
    if let Io::Separate(_, out) = &mut io {
        *out = crate::hugepage::vec_with_capacity(2 * pairs * step_out);
    }
    for pair in 0..pairs {
        let samples = match &io {
            Io::Separate(samples, _) => &samples[..],
            Io::Owned(buffer, _) => &buffer[..n],
        };
        // The real part holds x[lo..lo + n_in], the imaginary part x[lo + step..][..n_in]; the
        // signal is zero outside its samples (only the first and last blocks reach there).
        let lo = (2 * pair * step) as isize - margin as isize;
        if lo >= 0 && lo as usize + step + n_in <= samples.len() {
            let lo = lo as usize;
            let (re, im) = (
                &samples[lo..lo + n_in],
                &samples[lo + step..lo + step + n_in],
            );
            for ((b, &r), &i) in buf.iter_mut().zip(re).zip(im) {
                *b = Complex::new(r, i);
            }
        } else {
            let at = |i: isize| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| samples.get(i).copied())
            };
            for (i, b) in (lo..).zip(buf.iter_mut()) {
                *b = Complex::new(at(i).unwrap_or(0.0), at(i + step as isize).unwrap_or(0.0));
            }
        }
        fwd.process_with_scratch(&mut buf, &mut scratch);
        // Bins 0..=half_bins, then the negative frequencies -half_bins..=-1 (the top of each
        // spectrum), with zeros between.
        let (low, rest) = obuf.split_at_mut(half_bins + 1);
        let (mid, high) = rest.split_at_mut(n_out - 2 * half_bins - 1);
        for ((o, &b), &g) in low.iter_mut().zip(&buf).zip(&gain) {
            *o = b * g;
        }
        mid.fill(zero);
        let top = &buf[n_in - half_bins..];
        for ((o, &b), &g) in high.iter_mut().rev().zip(top.iter().rev()).zip(&gain[1..]) {
            *o = b * g;
        }
        inv.process_with_scratch(&mut obuf, &mut scratch);
        let kept = &obuf[margin_out..margin_out + step_out];
        io.put(kept.iter().map(|c| c.re));
        io.put(kept.iter().map(|c| c.im));
    }
    Ok(match io {
        Io::Separate(_, mut out) => {
            out.truncate(want);
            out
        }
        Io::Owned(mut buffer, _) => {
            // The input's tail goes back (an mmap'd buffer shrinks in place).
            buffer.truncate(want);
            buffer.shrink_to_fit();
            buffer
        }
    })
}

impl Io<'_> {
    /// Appends output samples (over the input already read, in an owned buffer).
    fn put(&mut self, values: impl ExactSizeIterator<Item = f32>) {
        match self {
            Io::Separate(_, out) => out.extend(values),
            Io::Owned(buffer, written) => {
                let k = values.len();
                let inside = buffer.len().saturating_sub(*written).min(k);
                let mut values = values;
                for (slot, v) in buffer[*written..*written + inside]
                    .iter_mut()
                    .zip(&mut values)
                {
                    *slot = v;
                }
                buffer.extend(values);
                *written += k;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_length_is_ceil() {
        assert_eq!(output_len(1001, 44100, 22050), 501);
        assert_eq!(output_len(44100, 44100, 22050), 22050);
        let y = vec![0.0f32; 1001];
        assert_eq!(resample(&y, 44100, 22050).unwrap().len(), 501);
        assert_eq!(resample(&y, 16000, 22050).unwrap().len(), 1380);
        assert_eq!(resample(&[], 16000, 22050).unwrap().len(), 0);
    }

    #[test]
    fn sine_survives_with_alignment() {
        let f = 440.0f64;
        let y: Vec<f32> = (0..44100)
            .map(|i| (2.0 * std::f64::consts::PI * f * i as f64 / 44100.0).sin() as f32)
            .collect();
        let z = resample(&y, 44100, 22050).unwrap();
        for (k, &v) in z.iter().enumerate().skip(500).take(20000) {
            let want = (2.0 * std::f64::consts::PI * f * k as f64 / 22050.0).sin() as f32;
            assert!((v - want).abs() < 1e-3, "sample {k}: {v} vs {want}");
        }
    }

    #[test]
    fn other_ratios_keep_a_sine_aligned() {
        // Downsampling and upsampling by ratios that are not whole numbers, and a signal
        // shorter than one block.
        for (from, to, n) in [
            (48000u32, 22050u32, 48000usize),
            (44100, 16000, 44100),
            (16000, 22050, 16000),
            (44100, 22050, 3000),
        ] {
            let f = 440.0f64;
            let y: Vec<f32> = (0..n)
                .map(|i| (2.0 * std::f64::consts::PI * f * i as f64 / from as f64).sin() as f32)
                .collect();
            let z = resample(&y, from, to).unwrap();
            assert_eq!(z.len(), output_len(n, from, to));
            let edge = to as usize / 50;
            for (k, &v) in z.iter().enumerate().take(z.len() - edge).skip(edge) {
                let want = (2.0 * std::f64::consts::PI * f * k as f64 / to as f64).sin() as f32;
                assert!((v - want).abs() < 1e-3, "{from}->{to} {k}: {v} vs {want}");
            }
        }
    }

    #[test]
    fn resampling_in_place_equals_resampling_a_copy() {
        // Downsampling in place (44.1 -> 22.05, 48 -> 22.05, 44.1 -> 16 kHz), ratios that fall
        // back to a second buffer (48 -> 44.1 kHz, upsampling), a signal shorter than a block.
        for (from, to, n) in [
            (44100u32, 22050u32, 100_000usize),
            (48000, 22050, 70_001),
            (44100, 16000, 50_000),
            (48000, 44100, 30_000),
            (16000, 22050, 20_000),
            (44100, 22050, 3000),
            (44100, 44100, 100),
        ] {
            let y: Vec<f32> = (0..n)
                .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
                .collect();
            let copy = resample(&y, from, to).unwrap();
            let owned = resample_owned(y, from, to).unwrap();
            assert_eq!(owned.len(), copy.len(), "{from}->{to}");
            assert!(owned == copy, "{from}->{to}: values differ");
        }
    }

    #[test]
    fn zero_rate_is_an_error() {
        assert!(resample(&[0.0; 10], 0, 22050).is_err());
    }
}
