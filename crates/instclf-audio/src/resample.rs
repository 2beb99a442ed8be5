//! Sample-rate conversion standing in for librosa's default `soxr_hq`: the output has exactly
//! `ceil(n * sr_out / sr_in)` samples, sample `k` of it is aligned with time `k / sr_out` of the
//! input (linear phase, delay removed), and the low-pass filter is soxr_hq's: flat to 91.3% of the
//! lower Nyquist frequency, stop band (126 dB) from 100%. It runs as one pass of FFT overlap-save
//! with realfft: each block of input is transformed, multiplied by the filter, and transformed
//! back at the output rate by an inverse FFT of the output block's length, so filtering and
//! rate change cost one forward and one inverse real FFT per block, for any rational ratio.
//! [`Resampler`] does it as a stream, block by block as the input arrives.

use crate::error::AudioError;
use instclf_fft::Complex;

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
    let mut r = Resampler::new(sr_in, sr_out)?;
    let mut out = crate::hugepage::vec_with_capacity(output_len(samples.len(), sr_in, sr_out));
    r.process(samples, &mut out);
    r.finish(&mut out);
    Ok(out)
}

/// The resampler of [`resample`] as a stream: input arrives in pieces of any size
/// ([`Resampler::process`]), each block of output leaves as soon as its input is in, and
/// [`Resampler::finish`] adds the tail. About two FFT blocks of input are held, so a recording
/// can be resampled as it is decoded, without a buffer for the whole of it. The output is
/// [`resample`]'s, bit for bit, however the input is cut.
pub struct Resampler {
    sr_in: u32,
    sr_out: u32,
    /// Input samples given, output samples emitted.
    seen: usize,
    emitted: usize,
    /// Input not yet consumed by a pair of blocks; before the first pair it starts with the
    /// `margin` zeros that precede the signal.
    pending: Vec<f32>,
    /// `None` for equal rates (input passes through).
    blocks: Option<Blocks>,
}

/// The overlap-save machinery: two blocks at a time, one as the real and one as the imaginary
/// part of a complex FFT. The filter is real and even, so the two never mix and no real-FFT
/// untangling is needed.
struct Blocks {
    /// Each block is `n_in` input samples starting `margin` before the `step` samples whose
    /// outputs it keeps (`step_out`, after `margin_out` output samples).
    n_in: usize,
    step: usize,
    step_out: usize,
    margin_out: usize,
    /// Filter gain on bins `0..=half_bins`.
    half_bins: usize,
    gain: Vec<f32>,
    /// The gains of bins `-half_bins..=-1`, in that order (`gain` reversed, without bin 0).
    gain_top: Vec<f32>,
    fwd: std::sync::Arc<dyn instclf_fft::Fft<f32>>,
    inv: std::sync::Arc<dyn instclf_fft::Fft<f32>>,
    buf: Vec<Complex<f32>>,
    obuf: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
}

impl Resampler {
    /// A resampler from `sr_in` to `sr_out` Hz: designs the filter and plans the FFTs.
    pub fn new(sr_in: u32, sr_out: u32) -> Result<Self, AudioError> {
        let err = |detail: String| AudioError::Resample {
            from: sr_in,
            to: sr_out,
            detail,
        };
        if sr_in == 0 || sr_out == 0 {
            return Err(err("sample rates must be positive".into()));
        }
        let mut r = Resampler {
            sr_in,
            sr_out,
            seen: 0,
            emitted: 0,
            pending: Vec::new(),
            blocks: None,
        };
        if sr_in == sr_out {
            return Ok(r);
        }
        let g = gcd(sr_in as u64, sr_out as u64);
        let (p, q) = ((sr_in as u64 / g) as usize, (sr_out as u64 / g) as usize);
        let h = lowpass(sr_in, sr_out);
        let half = h.len() - 1;
        // Block starts are multiples of `p`, so each block's output grid is the global one.
        let margin = half.div_ceil(p) * p;
        let target = (8 * margin).max(BLOCK);
        let mut m = 1usize;
        while m * p < target || m * p <= 2 * margin {
            m *= 2;
        }
        let (n_in, n_out) = (m * p, m * q);
        let step = n_in - 2 * margin;
        let (fwd, inv) = (instclf_fft::forward(n_in), instclf_fft::inverse(n_out));
        // The filter's spectrum on the input block's bins 0..=half_bins (real: zero phase;
        // even in frequency), with the inverse FFT's 1/n_in folded in. Bins at or above the
        // lower Nyquist frequency are dropped: the filter is in its stop band there.
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
        let zero = Complex::new(0f32, 0.0);
        let scratch_len = fwd
            .get_inplace_scratch_len()
            .max(inv.get_inplace_scratch_len());
        r.pending = vec![0.0; margin];
        r.blocks = Some(Blocks {
            n_in,
            step,
            step_out: step / p * q,
            margin_out: margin / p * q,
            half_bins,
            gain_top: gain[1..].iter().rev().copied().collect(),
            gain,
            fwd,
            inv,
            buf: vec![zero; n_in],
            obuf: vec![zero; n_out],
            scratch: vec![zero; scratch_len],
        });
        Ok(r)
    }

    /// Takes the next `input` samples and appends to `out` every output sample they complete.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        match &mut self.blocks {
            None => {
                self.seen += input.len();
                out.extend_from_slice(input);
            }
            Some(_) => self.process_by(input, |b, head, tail| b.pair(head, tail, out)),
        }
    }

    /// Takes the next `input` samples and hands every pair of blocks they complete, in order, to
    /// `pair` with this resampler's buffers: the pair's input is `head` followed by `tail`
    /// ([`PairWorker::run`] computes it). The output of the pairs, concatenated in order, is what
    /// [`Resampler::process`] appends. Equal rates have no pairs: nothing is handed out.
    pub fn process_pairs(&mut self, input: &[f32], mut pair: impl FnMut(&[f32], &[f32])) {
        if self.blocks.is_some() {
            self.process_by(input, |_, head, tail| pair(head, tail));
        } else {
            self.seen += input.len();
        }
    }

    /// A set of buffers for this resampler's filter and FFTs, to compute the pairs of
    /// [`Resampler::process_pairs`] on any thread; `None` for equal rates.
    pub fn pair_worker(&self) -> Option<PairWorker> {
        self.blocks.as_ref().map(|b| PairWorker(b.twin()))
    }

    fn process_by(&mut self, mut input: &[f32], mut pair: impl FnMut(&mut Blocks, &[f32], &[f32])) {
        self.seen += input.len();
        let Some(b) = &mut self.blocks else {
            return;
        };
        // A pair of blocks reads `need` samples (the pending ones, then the input's); the next
        // pair starts `advance` later.
        let (need, advance) = (b.step + b.n_in, 2 * b.step);
        while self.pending.len() + input.len() >= need {
            let tail = &input[..need.saturating_sub(self.pending.len())];
            pair(b, &self.pending, tail);
            self.emitted += 2 * b.step_out;
            if advance <= self.pending.len() {
                self.pending.drain(..advance);
            } else {
                input = &input[advance - self.pending.len()..];
                self.pending.clear();
            }
        }
        self.pending.extend_from_slice(input);
    }

    /// Ends the stream: appends the rest of the output, so that all of it holds exactly
    /// [`output_len`] samples of the input given.
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        let Some(b) = &mut self.blocks else {
            return;
        };
        let want = output_len(self.seen, self.sr_in, self.sr_out);
        let (need, advance) = (b.step + b.n_in, 2 * b.step);
        let before = out.len();
        while self.emitted < want {
            // Past its end the signal is zero.
            self.pending.resize(need.max(self.pending.len()), 0.0);
            b.pair(&self.pending, &[], out);
            self.emitted += 2 * b.step_out;
            self.pending.drain(..advance);
        }
        // Only this call's last pair can reach past the end (a pair whose input was all there
        // before the end was known ends at or before it).
        let excess = self.emitted - want.min(self.emitted);
        out.truncate(before.max(out.len() - excess));
        self.emitted -= excess;
    }
}

/// A resampler's filter and FFTs with buffers of their own: computes pairs of blocks cut by
/// [`Resampler::process_pairs`], on another thread if need be.
pub struct PairWorker(Blocks);

impl PairWorker {
    /// Appends to `out` the output of the pair of blocks whose input is `head` followed by
    /// `tail` (as [`Resampler::process_pairs`] handed them out, or joined into one slice).
    pub fn run(&mut self, head: &[f32], tail: &[f32], out: &mut Vec<f32>) {
        self.0.pair(head, tail, out);
    }
}

/// Samples `start..start + len` of `head` followed by `tail`, as the part in `head` and the
/// part in `tail`.
fn span<'a>(head: &'a [f32], tail: &'a [f32], start: usize, len: usize) -> (&'a [f32], &'a [f32]) {
    let h = &head[start.min(head.len())..(start + len).min(head.len())];
    let from = start.saturating_sub(head.len());
    (h, &tail[from..from + len - h.len()])
}

impl Blocks {
    /// The same filter and FFTs with buffers of its own.
    fn twin(&self) -> Blocks {
        Blocks {
            gain: self.gain.clone(),
            gain_top: self.gain_top.clone(),
            fwd: self.fwd.clone(),
            inv: self.inv.clone(),
            buf: self.buf.clone(),
            obuf: self.obuf.clone(),
            scratch: self.scratch.clone(),
            ..*self
        }
    }

    /// Resamples the pair of blocks that starts at the first sample of `head` followed by
    /// `tail`: the real part reads samples `0..n_in`, the imaginary part `step..step + n_in`.
    /// Appends the two blocks' kept outputs to `out`.
    fn pair(&mut self, head: &[f32], tail: &[f32], out: &mut Vec<f32>) {
        let (n_in, step) = (self.n_in, self.step);
        let (re_head, re_tail) = span(head, tail, 0, n_in);
        let (im_head, im_tail) = span(head, tail, step, n_in);
        // Filled in at most three runs over which the real and the imaginary parts each come
        // from one slice, so that each run is one interleaving copy.
        let (rh, ih) = (re_head.len(), im_head.len());
        let mut cuts = [0, rh.min(ih), rh.max(ih), n_in];
        cuts.sort_unstable();
        for w in cuts.windows(2) {
            let (a, b) = (w[0], w[1]);
            if a == b {
                continue;
            }
            let re = if a < rh {
                &re_head[a..b]
            } else {
                &re_tail[a - rh..b - rh]
            };
            let im = if a < ih {
                &im_head[a..b]
            } else {
                &im_tail[a - ih..b - ih]
            };
            for ((o, &r), &i) in self.buf[a..b].iter_mut().zip(re).zip(im) {
                *o = Complex::new(r, i);
            }
        }
        self.fwd
            .process_with_scratch(&mut self.buf, &mut self.scratch);
        // Bins 0..=half_bins, then the negative frequencies -half_bins..=-1 (the top of each
        // spectrum), with zeros between.
        let (hb, n_out) = (self.half_bins, self.obuf.len());
        let (low, rest) = self.obuf.split_at_mut(hb + 1);
        let (mid, high) = rest.split_at_mut(n_out - 2 * hb - 1);
        for ((o, &b), &g) in low.iter_mut().zip(&self.buf).zip(&self.gain) {
            *o = b * g;
        }
        mid.fill(Complex::new(0.0, 0.0));
        let top = &self.buf[n_in - hb..];
        for ((o, &b), &g) in high.iter_mut().zip(top).zip(&self.gain_top) {
            *o = b * g;
        }
        self.inv
            .process_with_scratch(&mut self.obuf, &mut self.scratch);
        let kept = &self.obuf[self.margin_out..self.margin_out + self.step_out];
        let n = kept.len();
        out.reserve(2 * n);
        let (re, im) = out.spare_capacity_mut()[..2 * n].split_at_mut(n);
        for ((r, i), c) in re.iter_mut().zip(im).zip(kept) {
            r.write(c.re);
            i.write(c.im);
        }
        // SAFETY: the `2 n` elements past the length were all written just above.
        unsafe { out.set_len(out.len() + 2 * n) };
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

    /// `n` samples of a sawtooth-like test signal in [-1, 1).
    fn saw(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
            .collect()
    }

    #[test]
    fn a_stream_cut_anywhere_equals_one_call() {
        // Downsampling and upsampling by whole and fractional ratios, equal rates, a signal
        // shorter than a block, and one of a single sample; pieces of 1, 1152 (a WAV packet),
        // 5000 and 100,000 samples.
        for (from, to, n) in [
            (44100u32, 22050u32, 100_000usize),
            (48000, 22050, 70_001),
            (44100, 16000, 50_000),
            (48000, 44100, 30_000),
            (16000, 22050, 20_000),
            (44100, 22050, 3000),
            (44100, 22050, 1),
            (44100, 44100, 100),
        ] {
            let y = saw(n);
            let whole = resample(&y, from, to).unwrap();
            assert_eq!(whole.len(), output_len(n, from, to), "{from}->{to}");
            for piece in [1usize, 1152, 5000, 100_000] {
                if piece == 1 && n > 20_000 {
                    continue;
                }
                let mut r = Resampler::new(from, to).unwrap();
                let mut out = Vec::new();
                for chunk in y.chunks(piece) {
                    r.process(chunk, &mut out);
                }
                r.finish(&mut out);
                assert!(
                    out == whole,
                    "{from}->{to} in pieces of {piece}: values differ"
                );
                // The pairs handed out and computed by two workers, alternately, in order.
                let mut r = Resampler::new(from, to).unwrap();
                let mut workers = [r.pair_worker(), r.pair_worker()];
                assert_eq!(workers[0].is_none(), from == to);
                let mut out = Vec::new();
                let mut k = 0;
                for chunk in y.chunks(piece) {
                    if from == to {
                        r.process(chunk, &mut out);
                        continue;
                    }
                    r.process_pairs(chunk, |head, tail| {
                        if let Some(w) = &mut workers[k % 2] {
                            // One worker gets the pair's input joined into one slice.
                            if k % 2 == 0 {
                                w.run(head, tail, &mut out);
                            } else {
                                w.run(&[head, tail].concat(), &[], &mut out);
                            }
                        }
                        k += 1;
                    });
                }
                r.finish(&mut out);
                assert!(
                    out == whole,
                    "{from}->{to} in pieces of {piece}, pairs on two workers: values differ"
                );
            }
        }
    }

    #[test]
    fn zero_rate_is_an_error() {
        assert!(resample(&[0.0; 10], 0, 22050).is_err());
    }
}
