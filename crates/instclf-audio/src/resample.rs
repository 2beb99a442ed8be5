//! Sample-rate conversion with rubato's synchronous FFT resampler, standing in for librosa's
//! default `soxr_hq`: the output has exactly `ceil(n * sr_out / sr_in)` samples and the filter
//! delay is removed, so sample `k` of the output is aligned with time `k / sr_out` of the input.

use crate::decode::AudioError;
use rubato::{FftFixedIn, Resampler};

/// Approximate input chunk length handed to rubato; see [`chunk_len`].
const CHUNK: usize = 4096;

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// An input chunk near [`CHUNK`] that is an even multiple of rubato's FFT unit
/// (`sr_in / gcd`). With an odd FFT length the resampler's delay is not a whole number of
/// output samples and the delay-compensated output would be misaligned by a fraction of a
/// sample.
fn chunk_len(sr_in: u32, sr_out: u32) -> usize {
    let unit = (sr_in as u64 / gcd(sr_in as u64, sr_out as u64)) as usize;
    let k = CHUNK.div_ceil(unit).max(2);
    (k + k % 2) * unit
}

/// Number of output samples librosa produces, `ceil(n * sr_out / sr_in)`.
pub fn output_len(n: usize, sr_in: u32, sr_out: u32) -> usize {
    if sr_in == 0 {
        return 0;
    }
    let num = n as u128 * sr_out as u128;
    num.div_ceil(sr_in as u128) as usize
}

/// Resamples mono `samples` from `sr_in` to `sr_out` Hz. Equal rates return a copy.
pub fn resample(samples: &[f32], sr_in: u32, sr_out: u32) -> Result<Vec<f32>, AudioError> {
    let err = |detail: String| AudioError::Resample {
        from: sr_in,
        to: sr_out,
        detail,
    };
    if sr_in == 0 || sr_out == 0 {
        return Err(err("sample rates must be positive".into()));
    }
    if sr_in == sr_out {
        return Ok(samples.to_vec());
    }
    let want = output_len(samples.len(), sr_in, sr_out);
    if want == 0 {
        return Ok(Vec::new());
    }
    let mut r = FftFixedIn::<f32>::new(
        sr_in as usize,
        sr_out as usize,
        chunk_len(sr_in, sr_out),
        1,
        1,
    )
    .map_err(|e| err(e.to_string()))?;
    let delay = r.output_delay();
    let mut outbuf = r.output_buffer_allocate(true);
    let mut out: Vec<f32> = Vec::with_capacity(want + delay + outbuf[0].len());
    let mut pos = 0usize;
    // Each call yields a fixed, positive number of frames, so this bound is never reached for
    // valid resamplers; it only guards against an endless loop.
    let max_calls = want + delay + 16;
    for _ in 0..max_calls {
        if out.len() >= want + delay {
            break;
        }
        let need = r.input_frames_next();
        let (_, produced) = if pos + need <= samples.len() {
            r.process_into_buffer(&[&samples[pos..pos + need]], &mut outbuf, None)
        } else if pos < samples.len() {
            r.process_partial_into_buffer(Some(&[&samples[pos..]]), &mut outbuf, None)
        } else {
            r.process_partial_into_buffer(None::<&[&[f32]]>, &mut outbuf, None)
        }
        .map_err(|e| err(e.to_string()))?;
        pos += need;
        out.extend_from_slice(&outbuf[0][..produced]);
    }
    if out.len() < want + delay {
        return Err(err("resampler produced too few samples".into()));
    }
    out.drain(..delay);
    out.truncate(want);
    if sr_out < sr_in {
        soxr_like_band_edge(&mut out);
    }
    Ok(out)
}

/// Start of soxr's transition band (`soxr_hq` pass band end), as a fraction of Nyquist.
const PASSBAND_END: f64 = 0.913;

/// The taper's gain at `x` (a fraction of Nyquist): 1 in the pass band, a raised cosine down
/// to 0 at Nyquist.
fn taper(x: f64) -> f64 {
    if x <= PASSBAND_END {
        1.0
    } else if x >= 1.0 {
        0.0
    } else {
        0.5 * (1.0 + (std::f64::consts::PI * (x - PASSBAND_END) / (1.0 - PASSBAND_END)).cos())
    }
}

/// rubato's anti-aliasing filter is flat almost up to the new Nyquist frequency, while soxr's
/// (`soxr_hq`, librosa's default) rolls off from 91.3% of it. To make the top mel bands agree
/// with librosa, that band is shaped with a raised-cosine taper: a zero-phase 1023-tap FIR
/// (the taper's impulse response, which has decayed to ~1e-7 at its ends), applied by FFT
/// overlap-save.
fn soxr_like_band_edge(y: &mut [f32]) {
    const M: usize = 1024; // kernel design grid
    const K: usize = M - 1; // taps
    const C: usize = K / 2; // centre tap
    const L: usize = 8192; // block FFT size
    const STEP: usize = L - (K - 1);
    let n = y.len();
    if n == 0 {
        return;
    }
    let mut planner = realfft::RealFftPlanner::<f32>::new();
    let fwd = planner.plan_fft_forward(L);
    let inv = planner.plan_fft_inverse(L);
    let design = planner.plan_fft_inverse(M);
    // Zero-phase impulse response on the M grid, then centred into K taps.
    let mut hs = design.make_input_vec();
    for (k, v) in hs.iter_mut().enumerate() {
        *v = realfft::num_complex::Complex::new(
            (taper(k as f64 / (M / 2) as f64) / M as f64) as f32,
            0.0,
        );
    }
    let mut hc = design.make_output_vec();
    if design.process(&mut hs, &mut hc).is_err() {
        return;
    }
    let mut g = vec![0f32; L];
    for (j, v) in g.iter_mut().take(K).enumerate() {
        *v = hc[(j + M - C) % M];
    }
    let mut gf = fwd.make_output_vec();
    if fwd.process(&mut g, &mut gf).is_err() {
        return;
    }
    let x = y.to_vec();
    let mut buf = vec![0f32; L];
    let mut spec = fwd.make_output_vec();
    let scale = 1.0 / L as f32;
    // Linear convolution z[m] = sum_j g[j] x[m - j]; the zero-phase output is y[i] = z[i + C].
    let mut s = C;
    while s < C + n {
        for (i, b) in buf.iter_mut().enumerate() {
            let idx = (s + i) as isize - (K as isize - 1);
            *b = if idx >= 0 && (idx as usize) < n {
                x[idx as usize]
            } else {
                0.0
            };
        }
        if fwd.process(&mut buf, &mut spec).is_err() {
            return;
        }
        for (a, b) in spec.iter_mut().zip(&gf) {
            *a *= b;
        }
        if inv.process(&mut spec, &mut buf).is_err() {
            return;
        }
        for (i, &v) in buf.iter().enumerate().skip(K - 1) {
            let z = s + i - (K - 1);
            if z >= C + n {
                break;
            }
            y[z - C] = v * scale;
        }
        s += STEP;
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
    fn chunks_are_even_multiples_of_the_fft_unit() {
        assert_eq!(chunk_len(44100, 16000), 10 * 441);
        assert_eq!(chunk_len(44100, 22050), 4096);
        assert_eq!(chunk_len(22051, 22050), 2 * 22051);
    }

    #[test]
    fn zero_rate_is_an_error() {
        assert!(resample(&[0.0; 10], 0, 22050).is_err());
    }
}
