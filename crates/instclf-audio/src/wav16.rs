//! 16-bit PCM WAV output: mono samples scaled by 32768, rounded half away from zero and clipped,
//! written as a whole ([`write_wav16`], [`encode_wav16`]) or piece by piece as a recording is
//! decoded (`Wav16`, which [`crate::decode::Stream::write_wav16`] uses). The bytes are hound's for
//! the same spec (tested against it); hound is what reads WAV files back in the tests.

/// Encodes mono samples as a 16-bit PCM WAV file in memory ([`write_wav16`]).
pub fn encode_wav16(samples: &[f32], sample_rate: u32) -> std::io::Result<Vec<u8>> {
    let mut cursor = std::io::Cursor::new(Vec::with_capacity(44 + 2 * samples.len()));
    write_wav16(&mut cursor, samples, sample_rate)?;
    Ok(cursor.into_inner())
}

/// Writes mono samples as a 16-bit PCM WAV file. Samples are scaled by 32768 and
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

/// The 44-byte header of a 16-bit mono PCM WAV file of `samples` samples: a RIFF file with a
/// 16-byte `fmt ` chunk (format 1, PCM) and the `data` chunk's header, byte for byte what hound
/// writes for that spec (`tests::the_header_and_samples_are_houndss`).
fn header(sample_rate: u32, samples: u32) -> [u8; HEADER] {
    let data = samples * 2;
    let mut h = [0u8; HEADER];
    let mut put = |at: usize, bytes: &[u8]| h[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, b"RIFF");
    put(4, &(36 + data).to_le_bytes());
    put(8, b"WAVEfmt ");
    put(16, &16u32.to_le_bytes());
    put(20, &1u16.to_le_bytes()); // PCM
    put(22, &1u16.to_le_bytes()); // mono
    put(24, &sample_rate.to_le_bytes());
    put(28, &(sample_rate.wrapping_mul(2)).to_le_bytes()); // bytes a second
    put(32, &2u16.to_le_bytes()); // bytes a frame
    put(34, &16u16.to_le_bytes()); // bits a sample
    put(36, b"data");
    put(40, &data.to_le_bytes());
    h
}

const HEADER: usize = 44;

/// A 16-bit mono WAV file being written piece by piece: the header with a length of 0 first,
/// then each piece's samples as little-endian 16-bit integers, then the header again with the
/// lengths. The samples go out in chunks converted in one vectorised pass each (hound's 16-bit
/// writer stores them a byte at a time, which was a tenth of `convert`'s time).
pub(crate) struct Wav16<W: std::io::Write + std::io::Seek> {
    w: W,
    sample_rate: u32,
    /// Where the header starts in `w`.
    start: u64,
    written: usize,
    /// The samples of one chunk as little-endian 16-bit integers.
    bytes: Vec<u8>,
}

impl<W: std::io::Write + std::io::Seek> Wav16<W> {
    /// Samples converted and written at a time.
    const CHUNK: usize = 8192;

    pub(crate) fn new(mut w: W, sample_rate: u32) -> std::io::Result<Self> {
        let start = w.stream_position()?;
        w.write_all(&header(sample_rate, 0))?;
        Ok(Wav16 {
            w,
            sample_rate,
            start,
            written: 0,
            bytes: vec![0; 2 * Self::CHUNK],
        })
    }

    pub(crate) fn write(&mut self, samples: &[f32]) -> std::io::Result<()> {
        self.written += samples.len();
        // The RIFF chunk size (36 header bytes + 2 a sample) must fit in 32 bits.
        if self.written > (u32::MAX as usize - 36) / 2 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "too many samples for a WAV file (its sizes are 32-bit)",
            ));
        }
        for chunk in samples.chunks(Self::CHUNK) {
            let bytes = &mut self.bytes[..2 * chunk.len()];
            for (b, &x) in bytes.chunks_exact_mut(2).zip(chunk) {
                b.copy_from_slice(&to_i16(x).to_le_bytes());
            }
            self.w.write_all(bytes)?;
        }
        Ok(())
    }

    /// Writes the header's sizes and flushes; returns the samples written.
    pub(crate) fn finish(mut self) -> std::io::Result<usize> {
        let end = self.w.stream_position()?;
        self.w.seek(std::io::SeekFrom::Start(self.start))?;
        // `write` keeps the count within 32 bits.
        self.w
            .write_all(&header(self.sample_rate, self.written as u32))?;
        self.w.seek(std::io::SeekFrom::Start(end))?;
        self.w.flush()?;
        Ok(self.written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What hound writes for the same samples, spec and pieces.
    fn hound_wav(samples: &[f32], sample_rate: u32) -> Vec<u8> {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut cursor = std::io::Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut cursor, spec).unwrap();
        for &x in samples {
            w.write_sample(to_i16(x)).unwrap();
        }
        w.finalize().unwrap();
        cursor.into_inner()
    }

    #[test]
    fn the_header_and_samples_are_houndss() {
        let signal: Vec<f32> = (0..20_000)
            .map(|i| (i as f32 * 0.013).sin() * 1.2 - 0.05)
            .collect();
        for (n, rate) in [
            (0, 22050),
            (1, 8000),
            (8191, 44100),
            (8193, 48000),
            (20_000, 1_000_000),
        ] {
            let want = hound_wav(&signal[..n], rate);
            assert_eq!(
                encode_wav16(&signal[..n], rate).unwrap(),
                want,
                "{n} at {rate}"
            );
            // Piece by piece, after bytes already in the writer.
            let mut cursor = std::io::Cursor::new(b"xyz".to_vec());
            cursor.set_position(3);
            let mut w = Wav16::new(&mut cursor, rate).unwrap();
            for piece in signal[..n].chunks(1000 + n / 7) {
                w.write(piece).unwrap();
            }
            assert_eq!(w.finish().unwrap(), n);
            assert_eq!(
                &cursor.get_ref()[3..],
                &want[..],
                "{n} at {rate}, in pieces"
            );
            assert_eq!(cursor.position() as usize, 3 + want.len());
        }
    }

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
