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

/// rubato's anti-aliasing filter is flat almost up to the new Nyquist frequency, while soxr's
/// (`soxr_hq`, librosa's default) rolls off from 91.3% of it. To make the top mel bands agree
/// with librosa, the band between is shaped with a raised-cosine taper (zero-padded FFT of the
/// whole signal, so nothing wraps around).
fn soxr_like_band_edge(y: &mut [f32]) {
    let n = y.len();
    if n == 0 {
        return;
    }
    let len = (n + 4096).next_power_of_two();
    let mut planner = realfft::RealFftPlanner::<f32>::new();
    let fwd = planner.plan_fft_forward(len);
    let inv = planner.plan_fft_inverse(len);
    let mut buf = vec![0f32; len];
    buf[..n].copy_from_slice(y);
    let mut spec = fwd.make_output_vec();
    if fwd.process(&mut buf, &mut spec).is_err() {
        return;
    }
    let half = (len / 2) as f64;
    let scale = 1.0 / len as f64;
    for (k, c) in spec.iter_mut().enumerate() {
        let x = k as f64 / half;
        let h = if x <= PASSBAND_END {
            1.0
        } else if x >= 1.0 {
            0.0
        } else {
            0.5 * (1.0 + (std::f64::consts::PI * (x - PASSBAND_END) / (1.0 - PASSBAND_END)).cos())
        };
        *c *= (h * scale) as f32;
    }
    if inv.process(&mut spec, &mut buf).is_err() {
        return;
    }
    y.copy_from_slice(&buf[..n]);
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
