//! 16-bit PCM WAV output: mono samples scaled by 32768, rounded half away from zero and clipped,
//! written through hound as a whole ([`write_wav16`], [`encode_wav16`]) or piece by piece as a
//! recording is decoded (`Wav16`, which [`crate::decode::Stream::write_wav16`] uses).

/// Encodes mono samples as a 16-bit PCM WAV file in memory ([`write_wav16`]).
pub fn encode_wav16(samples: &[f32], sample_rate: u32) -> std::io::Result<Vec<u8>> {
    let mut cursor = std::io::Cursor::new(Vec::with_capacity(44 + 2 * samples.len()));
    write_wav16(&mut cursor, samples, sample_rate)?;
    Ok(cursor.into_inner())
}

/// Writes mono samples as a 16-bit PCM WAV file (hound). Samples are scaled by 32768 and
/// clipped, so decoding the result gives back `round(x * 32768) / 32768`. More than 2^31 - 23
/// samples (a RIFF size over 4 GiB) is an `InvalidInput` error.
pub fn write_wav16<W: std::io::Write + std::io::Seek>(
    writer: W,
    samples: &[f32],
    sample_rate: u32,
) -> std::io::Result<()> {
    let mut w = Wav16::new(writer, sample_rate)?;
    w.write(samples)?;
    w.finish().map(|_| ())
}

/// `round(x * 32768)`, half away from zero, clipped to the 16-bit range; NaN becomes 0, like
/// `as i16`. In `f32` and without a call to libm, so that the loop over a buffer vectorises:
/// scaling by a power of two is exact, the truncation of a clipped value is exact, and so is
/// the fraction `v - trunc(v)`, so the result is that of `f64::round` on the exact product.
#[inline]
fn to_i16(x: f32) -> i16 {
    let v = (x * 32768.0).clamp(-32768.0, 32767.0);
    let v = if v.is_nan() { 0.0 } else { v };
    // SAFETY: `v` is finite and within i32's range, so the conversion is a plain truncation.
    let t = unsafe { v.to_int_unchecked::<i32>() };
    let frac = v - t as f32;
    (t + (frac >= 0.5) as i32 - (frac <= -0.5) as i32) as i16
}

/// A 16-bit mono WAV file being written piece by piece.
pub(crate) struct Wav16<W: std::io::Write + std::io::Seek> {
    w: hound::WavWriter<W>,
    written: usize,
    /// The samples of one chunk as 16-bit integers.
    pcm: Vec<i16>,
}

/// hound's errors as I/O errors.
fn hound_io(e: hound::Error) -> std::io::Error {
    match e {
        hound::Error::IoError(e) => e,
        e => std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
    }
}

impl<W: std::io::Write + std::io::Seek> Wav16<W> {
    /// Samples handed to hound at a time: its 16-bit writer buffers all it is asked for at once.
    const CHUNK: usize = 8192;

    pub(crate) fn new(writer: W, sample_rate: u32) -> std::io::Result<Self> {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let w = hound::WavWriter::new(writer, spec).map_err(hound_io)?;
        Ok(Wav16 {
            w,
            written: 0,
            pcm: vec![0; Self::CHUNK],
        })
    }

    pub(crate) fn write(&mut self, samples: &[f32]) -> std::io::Result<()> {
        self.written += samples.len();
        // The RIFF chunk size (36 header bytes + 2 a sample) must fit in 32 bits.
        if self.written > (u32::MAX as usize - 36) / 2 {
            return Err(hound_io(hound::Error::TooWide));
        }
        for chunk in samples.chunks(Self::CHUNK) {
            let pcm = &mut self.pcm[..chunk.len()];
            for (p, &x) in pcm.iter_mut().zip(chunk) {
                *p = to_i16(x);
            }
            let mut s16 = self.w.get_i16_writer(chunk.len() as u32);
            for &p in pcm.iter() {
                s16.write_sample(p);
            }
            s16.flush().map_err(hound_io)?;
        }
        Ok(())
    }

    /// Writes the header's sizes; returns the samples written.
    pub(crate) fn finish(self) -> std::io::Result<usize> {
        self.w.finalize().map_err(hound_io)?;
        Ok(self.written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_f32_rounding_is_f64_round_of_the_exact_product() {
        // One in 1009 of all 2^32 bit patterns (every sign, exponent, NaN and infinity), and the
        // floats next to every half step of the 16-bit grid.
        let mut xs: Vec<f32> = (0..=u32::MAX / 1009)
            .map(|k| f32::from_bits(k * 1009))
            .collect();
        for k in -32770i32..32770 {
            let h = (k as f32 + 0.5) / 32768.0;
            xs.extend([
                h,
                f32::from_bits(h.to_bits() - 1),
                f32::from_bits(h.to_bits() + 1),
            ]);
        }
        for x in xs {
            let want = (x as f64 * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
            assert_eq!(to_i16(x), want, "{x:e} ({:#x})", x.to_bits());
        }
    }
}
