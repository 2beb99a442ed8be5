//! Decoding audio files into mono `f32` samples, like `librosa.load(path, sr=None, mono=True)`:
//! every channel is decoded to `f32` in `[-1, 1)` and the channels are averaged. Decoding is done
//! by symphonia (AIFF/AIFC, WAV, FLAC, MP3, Ogg Vorbis); 16-bit PCM, the common case, is
//! converted here straight from symphonia's packets. [`Stream`] hands the samples out piece by
//! piece as they are decoded (and resampled), so no buffer need hold a whole recording; it also
//! writes 16-bit WAV ([`Stream::write_wav16`]; the writer is `crate::wav16`'s, re-exported
//! here as [`write_wav16`] and [`encode_wav16`]). This module also owns [`AudioError`],
//! the error type of the whole crate, whose messages name the file and the problem. Panics
//! inside symphonia are caught at this boundary and reported as errors.

pub use crate::error::{AudioError, MAX_SAMPLES, MAX_SAMPLE_RATE};
use crate::resample::{output_len, Resampler};
use crate::wav16::Wav16;
pub use crate::wav16::{encode_wav16, write_wav16};
use std::fs::File;
use std::path::{Path, PathBuf};
use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;

/// Mono audio at its sample rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
}

impl Audio {
    /// Duration in seconds.
    pub fn duration(&self) -> f64 {
        if self.sample_rate == 0 {
            0.0
        } else {
            self.samples.len() as f64 / self.sample_rate as f64
        }
    }
}

/// How errors name audio read from standard input.
pub const STDIN_NAME: &str = "<stdin>";

/// Decodes the whole file at `path` to mono `f32` at its native rate; the path `-` reads the
/// file from standard input.
pub fn decode(path: &Path) -> Result<Audio, AudioError> {
    Stream::open(path, None)?.collect()
}

/// Decodes audio file bytes already in memory, like [`decode`]; `path` names them in errors
/// and its extension is the format hint.
pub fn decode_bytes(path: &Path, bytes: Vec<u8>) -> Result<Audio, AudioError> {
    Stream::of_bytes(path, bytes, None)?.collect()
}

/// [`decode`], then resampling to `sr` (`None` keeps the native rate), like
/// `librosa.load(path, sr=sr)`. The samples are resampled as they are decoded.
pub fn load(path: &Path, sr: Option<u32>) -> Result<Audio, AudioError> {
    Stream::open(path, sr)?.collect()
}

thread_local! {
    /// Set while this thread runs symphonia, so the panic hook stays quiet for panics that
    /// [`guarded`] catches and that are reported as [`AudioError::DecoderPanic`].
    static IN_DECODER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Installs (once per process) a panic hook that prints nothing for panics inside the decoder
/// and defers to the previous hook for every other panic.
fn install_quiet_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_DECODER.with(|f| f.get()) {
                previous(info);
            }
        }));
    });
}

/// Runs `f` (a call into symphonia) with panics caught at this boundary; a panic comes back as
/// its message, for the caller to name the file (so the path is only copied on a panic).
fn guarded<T>(f: impl FnOnce() -> Result<T, AudioError>) -> Result<Result<T, AudioError>, String> {
    install_quiet_hook();
    let was = IN_DECODER.with(|f| f.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    IN_DECODER.with(|f| f.set(was));
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".to_string())
    })
}

/// The error of a panic inside the decoder of `path`.
fn panicked(path: &Path) -> impl FnOnce(String) -> AudioError + '_ {
    move |detail| AudioError::DecoderPanic {
        path: path.to_path_buf(),
        detail,
    }
}

fn classify(path: &Path, err: SymError, probing: bool) -> AudioError {
    let path = path.to_path_buf();
    match err {
        SymError::Unsupported(what) if probing => AudioError::NotAudio {
            path,
            detail: what.to_string(),
        },
        SymError::Unsupported(what) => AudioError::Unsupported {
            path,
            detail: what.to_string(),
        },
        SymError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            AudioError::Truncated {
                path,
                detail: "unexpected end of file".into(),
            }
        }
        SymError::IoError(error) => AudioError::Io { path, error },
        SymError::LimitError(what) => AudioError::Unsupported {
            path,
            detail: format!("limit reached: {what}"),
        },
        other if probing => AudioError::NotAudio {
            path,
            detail: other.to_string(),
        },
        other => AudioError::Truncated {
            path,
            detail: other.to_string(),
        },
    }
}

/// A recording being decoded: its mono samples (the mean of its channels, like
/// `librosa.load(path, mono=True)`), resampled to the rate asked for, handed out a piece at a
/// time by [`Stream::next_chunk`]. Errors name the file; a file cut short mid-stream keeps what
/// was decoded, like libsndfile.
pub struct Stream {
    path: PathBuf,
    format: Box<dyn FormatReader + 'static>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    fast: Option<Pcm16>,
    /// The file's rate (from its header, or from its first decoded packet).
    native_rate: Option<u32>,
    /// A bound on the samples to come at the native rate, for reserving the output.
    expected: usize,
    target: Option<u32>,
    resampler: Option<Resampler>,
    /// The latest piece at the native rate, and resampled.
    piece: Vec<f32>,
    resampled: Vec<f32>,
    /// The first piece was decoded early (to learn the rate) and is still to be handed out.
    held: bool,
    interleaved: Vec<f32>,
    /// Interleaved samples decoded so far (against [`MAX_SAMPLES`]), and mono samples.
    total: usize,
    mono_total: usize,
    decode_errors: usize,
    last_error: Option<String>,
    ended: bool,
}

impl Stream {
    /// Opens the file at `path` (`-`: standard input) and reads its header; `sr` asks for
    /// resampling to that rate (`None`, or the file's own rate: none).
    pub fn open(path: &Path, sr: Option<u32>) -> Result<Stream, AudioError> {
        if path == Path::new("-") {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes).map_err(
                |error| AudioError::Io {
                    path: STDIN_NAME.into(),
                    error,
                },
            )?;
            return Stream::of_bytes(Path::new(STDIN_NAME), bytes, sr);
        }
        let meta = std::fs::metadata(path).map_err(|error| AudioError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        if meta.is_dir() {
            return Err(AudioError::IsDirectory {
                path: path.to_path_buf(),
            });
        }
        if meta.len() == 0 {
            return Err(AudioError::Empty {
                path: path.to_path_buf(),
            });
        }
        let file = File::open(path).map_err(|error| AudioError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        Stream::of_source(path, Box::new(file), meta.len(), sr)
    }

    /// [`Stream::open`] for file bytes already in memory; `path` names them in errors and its
    /// extension is the format hint.
    pub fn of_bytes(path: &Path, bytes: Vec<u8>, sr: Option<u32>) -> Result<Stream, AudioError> {
        if bytes.is_empty() {
            return Err(AudioError::Empty {
                path: path.to_path_buf(),
            });
        }
        let len = bytes.len() as u64;
        Stream::of_source(path, Box::new(std::io::Cursor::new(bytes)), len, sr)
    }

    fn of_source(
        path: &Path,
        source: Box<dyn MediaSource>,
        file_len: u64,
        sr: Option<u32>,
    ) -> Result<Stream, AudioError> {
        let mut stream =
            guarded(|| Stream::probe(path, source, file_len, sr)).map_err(panicked(path))??;
        if stream.native_rate.is_none() {
            // No rate in the header: the first decoded packet says it.
            stream.held = guarded(|| stream.decode_next()).map_err(panicked(path))??;
        }
        if let (Some(from), Some(to)) = (stream.native_rate, sr) {
            if to == 0 || to > MAX_SAMPLE_RATE {
                return Err(AudioError::Resample {
                    from,
                    to,
                    detail: format!("target rate must be 1..={MAX_SAMPLE_RATE}"),
                });
            }
            if from != to {
                stream.resampler = Some(Resampler::new(from, to)?);
            }
        }
        Ok(stream)
    }

    fn probe(
        path: &Path,
        source: Box<dyn MediaSource>,
        file_len: u64,
        target: Option<u32>,
    ) -> Result<Stream, AudioError> {
        let mss = MediaSourceStream::new(source, Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let format = symphonia::default::get_probe()
            .probe(
                &hint,
                mss,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .map_err(|e| classify(path, e, true))?;
        let track = format
            .default_track(TrackType::Audio)
            .ok_or_else(|| AudioError::NotAudio {
                path: path.to_path_buf(),
                detail: "no audio track".into(),
            })?;
        let track_id = track.id;
        let declared_frames = track.num_frames;
        let params = track
            .codec_params
            .as_ref()
            .and_then(|p| p.audio())
            .ok_or_else(|| AudioError::Unsupported {
                path: path.to_path_buf(),
                detail: "track has no audio codec parameters".into(),
            })?
            .clone();
        if let Some(ch) = &params.channels {
            if ch.count() == 0 {
                return Err(AudioError::ZeroChannels {
                    path: path.to_path_buf(),
                });
            }
        }
        if let Some(rate) = params.sample_rate {
            if rate == 0 || rate > MAX_SAMPLE_RATE {
                return Err(AudioError::BadSampleRate {
                    path: path.to_path_buf(),
                    rate,
                });
            }
        }
        let decoder = symphonia::default::get_codecs()
            .make_audio_decoder(&params, &AudioDecoderOptions::default())
            .map_err(|e| classify(path, e, false))?;
        // Never trust a declared length for an allocation: cap it by what the file could hold
        // (uncompressed 8-bit mono is the densest: one byte per sample).
        let channels = params.channels.as_ref().map_or(1, |c| c.count().max(1));
        let expected = declared_frames
            .unwrap_or(0)
            .min(file_len.saturating_mul(2))
            .min(MAX_SAMPLES as u64) as usize;
        Ok(Stream {
            path: path.to_path_buf(),
            format,
            decoder,
            track_id,
            fast: Pcm16::of(&params),
            native_rate: params.sample_rate,
            expected: expected.min(MAX_SAMPLES / channels),
            target,
            resampler: None,
            piece: Vec::new(),
            resampled: Vec::new(),
            held: false,
            interleaved: Vec::new(),
            total: 0,
            mono_total: 0,
            decode_errors: 0,
            last_error: None,
            ended: false,
        })
    }

    /// The rate of the samples handed out: the one asked for, or the file's.
    pub fn sample_rate(&self) -> u32 {
        self.target.or(self.native_rate).unwrap_or(0)
    }

    /// About how many samples are to come in all (from the header; 0 if it does not say).
    pub fn expected_len(&self) -> usize {
        match (self.native_rate, self.target) {
            (Some(from), Some(to)) => output_len(self.expected, from, to),
            _ => self.expected,
        }
    }

    /// Takes the resampler out (`None` if the stream does not resample): the pieces that follow
    /// are at the file's rate, for a caller that resamples them itself ([`crate::pipe`]).
    pub fn take_resampler(&mut self) -> Option<Resampler> {
        self.resampler.take()
    }

    /// The next piece of samples, `None` at the end. Pieces are never empty.
    pub fn next_chunk(&mut self) -> Result<Option<&[f32]>, AudioError> {
        loop {
            if self.ended {
                return Ok(None);
            }
            let got = std::mem::take(&mut self.held)
                || guarded(|| self.decode_next()).map_err(panicked(&self.path))??;
            if !got {
                self.end()?;
                self.ended = true;
                if let Some(r) = &mut self.resampler {
                    self.resampled.clear();
                    r.finish(&mut self.resampled);
                    if !self.resampled.is_empty() {
                        return Ok(Some(&self.resampled));
                    }
                }
                return Ok(None);
            }
            match &mut self.resampler {
                None => return Ok(Some(&self.piece)),
                Some(r) => {
                    self.resampled.clear();
                    r.process(&self.piece, &mut self.resampled);
                    if !self.resampled.is_empty() {
                        return Ok(Some(&self.resampled));
                    }
                }
            }
        }
    }

    /// All the rest of the samples, as [`Audio`].
    pub fn collect(mut self) -> Result<Audio, AudioError> {
        let mut samples: Vec<f32> = crate::hugepage::vec_with_capacity(self.expected_len());
        while let Some(piece) = self.next_chunk()? {
            samples.extend_from_slice(piece);
        }
        Ok(Audio {
            samples,
            sample_rate: self.sample_rate(),
        })
    }

    /// Writes the rest of the samples to `writer` as a 16-bit mono WAV file ([`write_wav16`])
    /// and returns how many there were; on `threads` threads (2: the resampling shared between
    /// two, [`crate::pipe::for_each_resampled_piece`]; the bytes are the same). An error of
    /// the input is an `io::Error` whose inner error is the [`AudioError`].
    pub fn write_wav16<W: std::io::Write + std::io::Seek>(
        &mut self,
        writer: W,
        threads: usize,
    ) -> std::io::Result<usize> {
        let mut w = Wav16::new(writer, self.sample_rate())?;
        crate::pipe::for_each_resampled_piece(self, threads, |piece| w.write(piece))?;
        w.finish()
    }

    /// Decodes the next packet that holds samples into `self.piece`; `false` at the end.
    fn decode_next(&mut self) -> Result<bool, AudioError> {
        let path = &self.path;
        loop {
            let packet = match self.format.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => return Ok(false),
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    // A file cut short mid-stream: keep what was decoded, like libsndfile.
                    if self.mono_total == 0 {
                        return Err(AudioError::Truncated {
                            path: path.clone(),
                            detail: "file ends before any audio data".into(),
                        });
                    }
                    return Ok(false);
                }
                Err(e) => {
                    if self.mono_total == 0 {
                        return Err(classify(path, e, false));
                    }
                    return Ok(false);
                }
            };
            if packet.track_id != self.track_id {
                continue;
            }
            self.piece.clear();
            if let Some(pcm) = &self.fast {
                self.total = self.total.saturating_add(pcm.samples_in(&packet.data));
                if self.total > MAX_SAMPLES {
                    return Err(AudioError::TooLong { path: path.clone() });
                }
                if pcm.channels == 1 {
                    pcm.append_f32(&packet.data, &mut self.piece);
                } else {
                    self.interleaved.clear();
                    pcm.append_f32(&packet.data, &mut self.interleaved);
                    mix_into(&mut self.piece, &self.interleaved, pcm.channels);
                }
            } else {
                let buf = match self.decoder.decode(&packet) {
                    Ok(b) => b,
                    Err(SymError::DecodeError(msg)) => {
                        self.decode_errors += 1;
                        self.last_error = Some(msg.to_string());
                        continue;
                    }
                    Err(SymError::IoError(e)) => {
                        self.decode_errors += 1;
                        self.last_error = Some(e.to_string());
                        continue;
                    }
                    Err(e) => return Err(classify(path, e, false)),
                };
                let spec = buf.spec();
                let ch = spec.channels().count();
                if ch == 0 {
                    return Err(AudioError::ZeroChannels { path: path.clone() });
                }
                let r = spec.rate();
                if r == 0 || r > MAX_SAMPLE_RATE {
                    return Err(AudioError::BadSampleRate {
                        path: path.clone(),
                        rate: r,
                    });
                }
                self.native_rate.get_or_insert(r);
                self.total = self.total.saturating_add(buf.samples_interleaved());
                if self.total > MAX_SAMPLES {
                    return Err(AudioError::TooLong { path: path.clone() });
                }
                buf.copy_to_vec_interleaved(&mut self.interleaved);
                mix_into(&mut self.piece, &self.interleaved, ch);
                // 16-bit integers are always finite; other codecs are checked.
                if self.piece.iter().any(|v| !v.is_finite()) {
                    return Err(AudioError::NonFinite { path: path.clone() });
                }
            }
            if !self.piece.is_empty() {
                self.mono_total += self.piece.len();
                return Ok(true);
            }
        }
    }

    /// At the end of the file: an error if it held no samples.
    fn end(&self) -> Result<(), AudioError> {
        let path = self.path.clone();
        if self.mono_total == 0 {
            if self.decode_errors > 0 {
                return Err(AudioError::Truncated {
                    path,
                    detail: self
                        .last_error
                        .clone()
                        .unwrap_or_else(|| "no packet could be decoded".into()),
                });
            }
            return Err(AudioError::NoSamples { path });
        }
        if self.native_rate.is_none() {
            return Err(AudioError::BadSampleRate { path, rate: 0 });
        }
        Ok(())
    }
}

/// Appends the mean of each frame of `ch` interleaved channels to `mono`.
fn mix_into(mono: &mut Vec<f32>, interleaved: &[f32], ch: usize) {
    if ch == 1 {
        mono.extend_from_slice(interleaved);
    } else {
        let inv = ch as f32;
        mono.extend(
            interleaved
                .chunks_exact(ch)
                .map(|f| f.iter().sum::<f32>() / inv),
        );
    }
}

/// 16-bit integer PCM (WAV's and AIFF's most common payload), converted straight from the
/// packet bytes: symphonia's generic decoder spends ~30 instructions a sample on it. The values
/// are symphonia's (`s as f32 / 32768`), and, like its decoder, a packet's trailing partial
/// frame is dropped.
struct Pcm16 {
    big_endian: bool,
    channels: usize,
}

impl Pcm16 {
    /// The fast path for these parameters, if they are 16-bit PCM that symphonia reads
    /// without a shift (coded and decoded widths equal).
    fn of(params: &symphonia::core::codecs::audio::AudioCodecParameters) -> Option<Self> {
        use symphonia::core::codecs::audio::well_known::{CODEC_ID_PCM_S16BE, CODEC_ID_PCM_S16LE};
        let big_endian = match params.codec {
            CODEC_ID_PCM_S16LE => false,
            CODEC_ID_PCM_S16BE => true,
            _ => return None,
        };
        let decoded = params.bits_per_sample.unwrap_or(16);
        if params.bits_per_coded_sample.unwrap_or(decoded) != decoded {
            return None;
        }
        let channels = params.channels.as_ref()?.count();
        (channels > 0 && params.sample_rate.is_some()).then_some(Pcm16 {
            big_endian,
            channels,
        })
    }

    /// Interleaved samples in the whole frames of `data`.
    fn samples_in(&self, data: &[u8]) -> usize {
        data.len() / (2 * self.channels) * self.channels
    }

    /// Appends the samples of the whole frames of `data` to `out`.
    fn append_f32(&self, data: &[u8], out: &mut Vec<f32>) {
        let n = self.samples_in(data);
        let start = out.len();
        out.resize(start + n, 0.0);
        let (out, data) = (&mut out[start..], &data[..2 * n]);
        if self.big_endian {
            convert16(out, data, i16::from_be_bytes);
        } else {
            convert16(out, data, i16::from_le_bytes);
        }
    }
}

/// `out[i] = sample(data[2i], data[2i + 1]) / 32768`, eight samples at a time (a fixed-length
/// inner loop, which the compiler turns into vector instructions), then the rest.
#[inline(always)]
fn convert16(out: &mut [f32], data: &[u8], sample: fn([u8; 2]) -> i16) {
    let mut blocks = out.chunks_exact_mut(8);
    let mut bytes = data.chunks_exact(16);
    for (o, b) in (&mut blocks).zip(&mut bytes) {
        for k in 0..8 {
            o[k] = sample([b[2 * k], b[2 * k + 1]]) as f32 / 32_768.0;
        }
    }
    for (o, b) in blocks
        .into_remainder()
        .iter_mut()
        .zip(bytes.remainder().chunks_exact(2))
    {
        *o = sample([b[0], b[1]]) as f32 / 32_768.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_bytes_matches_decode_of_the_same_file() {
        let samples: Vec<f32> = (0..3000).map(|i| ((i as f32) * 0.01).sin() * 0.5).collect();
        let bytes = encode_wav16(&samples, 16000).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.wav");
        std::fs::write(&p, &bytes).unwrap();
        let from_file = decode(&p).unwrap();
        let from_bytes = decode_bytes(&p, bytes).unwrap();
        assert_eq!(from_file, from_bytes);
        assert_eq!(from_bytes.sample_rate, 16000);
        let e = decode_bytes(Path::new("x.wav"), Vec::new()).unwrap_err();
        assert!(matches!(e, AudioError::Empty { .. }), "{e}");
        let e = decode_bytes(Path::new("x.aiff"), b"FORM\0\0\0\x04AIFF".to_vec()).unwrap_err();
        assert!(e.to_string().starts_with("x.aiff: "), "{e}");
    }

    #[test]
    fn sixteen_bit_round_trip_rounds_half_away_from_zero() {
        let mut xs: Vec<f32> = (-40..40).map(|k| (k as f32 + 0.5) / 32768.0).collect();
        xs.extend((0..2000).map(|i| ((i as f32) * 0.37).sin() * 1.2));
        xs.extend([
            f32::NAN,
            f32::INFINITY,
            -1.0,
            0.999_99,
            -0.0,
            2.0,
            -2.0,
            -1.000_01,
        ]);
        // Just inside and outside each half: the nearest floats to k + 0.5.
        for k in -40..40 {
            let h = k as f32 + 0.5;
            for bits in [h.to_bits() - 1, h.to_bits() + 1] {
                xs.push(f32::from_bits(bits) / 32768.0);
            }
        }
        let back = decode_bytes(Path::new("x.wav"), encode_wav16(&xs, 8000).unwrap()).unwrap();
        for (&x, &y) in xs.iter().zip(&back.samples) {
            let want = (x as f64 * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
            assert_eq!(y, want as f32 / 32768.0, "{x}");
        }
    }

    #[test]
    fn sixteen_bit_stereo_is_the_mean_of_its_channels() {
        for (ext, big) in [("wav", false), ("aiff", true)] {
            let frames: Vec<[i16; 2]> = (0..5000)
                .map(|i| [(i * 13 % 65536 - 32768) as i16, (i * 7 % 1000) as i16])
                .collect();
            let bytes = if big {
                let mut data: Vec<u8> = Vec::new();
                for f in &frames {
                    data.extend(f[0].to_be_bytes());
                    data.extend(f[1].to_be_bytes());
                }
                let mut comm = Vec::new();
                comm.extend(2u16.to_be_bytes());
                comm.extend((frames.len() as u32).to_be_bytes());
                comm.extend(16u16.to_be_bytes());
                comm.extend([0x40, 0x0D, 0xAC, 0x44, 0, 0, 0, 0, 0, 0]); // 22050 Hz
                let mut body = b"AIFFCOMM".to_vec();
                body.extend(18u32.to_be_bytes());
                body.extend(comm);
                body.extend(b"SSND");
                body.extend((data.len() as u32 + 8).to_be_bytes());
                body.extend([0u8; 8]);
                body.extend(data);
                let mut file = b"FORM".to_vec();
                file.extend((body.len() as u32).to_be_bytes());
                file.extend(body);
                file
            } else {
                let spec = hound::WavSpec {
                    channels: 2,
                    sample_rate: 22050,
                    bits_per_sample: 16,
                    sample_format: hound::SampleFormat::Int,
                };
                let mut cursor = std::io::Cursor::new(Vec::new());
                let mut w = hound::WavWriter::new(&mut cursor, spec).unwrap();
                for f in &frames {
                    w.write_sample(f[0]).unwrap();
                    w.write_sample(f[1]).unwrap();
                }
                w.finalize().unwrap();
                cursor.into_inner()
            };
            let a = decode_bytes(Path::new(&format!("x.{ext}")), bytes).unwrap();
            assert_eq!(a.sample_rate, 22050, "{ext}");
            assert_eq!(a.samples.len(), frames.len(), "{ext}");
            for (f, &y) in frames.iter().zip(&a.samples) {
                let want = (f[0] as f32 / 32768.0 + f[1] as f32 / 32768.0) / 2.0;
                assert_eq!(y, want, "{ext}");
            }
        }
    }

    #[test]
    fn the_decoder_flag_is_cleared_after_decoding() {
        // The quiet panic hook must only silence panics inside symphonia.
        let _ = decode_bytes(Path::new("x.wav"), vec![0u8; 64]);
        assert!(!IN_DECODER.with(|f| f.get()));
    }
}
