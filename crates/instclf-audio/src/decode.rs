//! Decoding audio files into mono `f32` samples, like `librosa.load(path, sr=None, mono=True)`:
//! every channel is decoded to `f32` in `[-1, 1)` and the channels are averaged. Decoding is done
//! by symphonia (AIFF/AIFC, WAV, FLAC, MP3, Ogg Vorbis); 16-bit PCM, the common case, is
//! converted here straight from symphonia's packets. It also writes 16-bit WAV
//! ([`encode_wav16`]). This module also owns [`AudioError`],
//! the error type of the whole crate, whose messages name the file and the problem. Panics
//! inside symphonia are caught at this boundary and reported as errors.

pub use crate::error::{AudioError, MAX_SAMPLES, MAX_SAMPLE_RATE};
use std::fs::File;
use std::path::Path;
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
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
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes).map_err(|error| {
            AudioError::Io {
                path: STDIN_NAME.into(),
                error,
            }
        })?;
        return decode_bytes(Path::new(STDIN_NAME), bytes);
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
    decode_source(path, Box::new(file), meta.len())
}

/// Decodes audio file bytes already in memory, like [`decode`]; `path` names them in errors
/// and its extension is the format hint.
pub fn decode_bytes(path: &Path, bytes: Vec<u8>) -> Result<Audio, AudioError> {
    if bytes.is_empty() {
        return Err(AudioError::Empty {
            path: path.to_path_buf(),
        });
    }
    let len = bytes.len() as u64;
    decode_source(path, Box::new(std::io::Cursor::new(bytes)), len)
}

thread_local! {
    /// Set while this thread runs symphonia, so the panic hook stays quiet for panics that
    /// [`decode_source`] catches and reports as [`AudioError::DecoderPanic`].
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

/// Runs symphonia on `source` with panics caught at this boundary.
fn decode_source(
    path: &Path,
    source: Box<dyn MediaSource>,
    file_len: u64,
) -> Result<Audio, AudioError> {
    install_quiet_hook();
    let was = IN_DECODER.with(|f| f.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decode_stream(path, source, file_len)
    }));
    IN_DECODER.with(|f| f.set(was));
    match result {
        Ok(r) => r,
        Err(payload) => {
            let detail = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".to_string());
            Err(AudioError::DecoderPanic {
                path: path.to_path_buf(),
                detail,
            })
        }
    }
}

/// [`decode`], then resampling to `sr` (`None` keeps the native rate), like
/// `librosa.load(path, sr=sr)`.
pub fn load(path: &Path, sr: Option<u32>) -> Result<Audio, AudioError> {
    let audio = decode(path)?;
    match sr {
        Some(target) if target != audio.sample_rate => {
            if target == 0 || target > MAX_SAMPLE_RATE {
                return Err(AudioError::Resample {
                    from: audio.sample_rate,
                    to: target,
                    detail: format!("target rate must be 1..={MAX_SAMPLE_RATE}"),
                });
            }
            let samples =
                crate::resample::resample_owned(audio.samples, audio.sample_rate, target)?;
            Ok(Audio {
                samples,
                sample_rate: target,
            })
        }
        _ => Ok(audio),
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

fn decode_stream(
    path: &Path,
    source: Box<dyn MediaSource>,
    file_len: u64,
) -> Result<Audio, AudioError> {
    let mss = MediaSourceStream::new(source, Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe()
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
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| classify(path, e, false))?;
    let fast = Pcm16::of(&params);

    // Never trust a declared length for the allocation: cap it by what the file could hold
    // (uncompressed 8-bit mono is the densest: one byte per sample).
    let channels_hint = params.channels.as_ref().map_or(1, |c| c.count().max(1));
    let reserve = declared_frames
        .unwrap_or(0)
        .min(file_len.saturating_mul(2))
        .min(MAX_SAMPLES as u64) as usize;
    let mut mono: Vec<f32> =
        crate::hugepage::vec_with_capacity(reserve.min(MAX_SAMPLES / channels_hint));
    let mut interleaved: Vec<f32> = Vec::new();
    let mut rate: Option<u32> = params.sample_rate;
    let mut total = 0usize;
    let mut decode_errors = 0usize;
    let mut last_error: Option<String> = None;

    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                // A file cut short mid-stream: keep what was decoded, like libsndfile.
                if mono.is_empty() {
                    return Err(AudioError::Truncated {
                        path: path.to_path_buf(),
                        detail: "file ends before any audio data".into(),
                    });
                }
                break;
            }
            Err(e) => {
                if mono.is_empty() {
                    return Err(classify(path, e, false));
                }
                break;
            }
        };
        if packet.track_id != track_id {
            continue;
        }
        if let Some(pcm) = &fast {
            total = total.saturating_add(pcm.samples_in(&packet.data));
            if total > MAX_SAMPLES {
                return Err(AudioError::TooLong {
                    path: path.to_path_buf(),
                });
            }
            if pcm.channels == 1 {
                pcm.append_f32(&packet.data, &mut mono);
            } else {
                interleaved.clear();
                pcm.append_f32(&packet.data, &mut interleaved);
                mix_into(&mut mono, &interleaved, pcm.channels);
            }
            continue;
        }
        let buf = match decoder.decode(&packet) {
            Ok(b) => b,
            Err(SymError::DecodeError(msg)) => {
                decode_errors += 1;
                last_error = Some(msg.to_string());
                continue;
            }
            Err(SymError::IoError(e)) => {
                decode_errors += 1;
                last_error = Some(e.to_string());
                continue;
            }
            Err(e) => return Err(classify(path, e, false)),
        };
        let spec = buf.spec();
        let ch = spec.channels().count();
        if ch == 0 {
            return Err(AudioError::ZeroChannels {
                path: path.to_path_buf(),
            });
        }
        let r = spec.rate();
        if r == 0 || r > MAX_SAMPLE_RATE {
            return Err(AudioError::BadSampleRate {
                path: path.to_path_buf(),
                rate: r,
            });
        }
        rate.get_or_insert(r);
        total = total.saturating_add(buf.samples_interleaved());
        if total > MAX_SAMPLES {
            return Err(AudioError::TooLong {
                path: path.to_path_buf(),
            });
        }
        buf.copy_to_vec_interleaved(&mut interleaved);
        mix_into(&mut mono, &interleaved, ch);
    }

    if mono.is_empty() {
        if decode_errors > 0 {
            return Err(AudioError::Truncated {
                path: path.to_path_buf(),
                detail: last_error.unwrap_or_else(|| "no packet could be decoded".into()),
            });
        }
        return Err(AudioError::NoSamples {
            path: path.to_path_buf(),
        });
    }
    // 16-bit integers are always finite.
    if fast.is_none() && mono.iter().any(|v| !v.is_finite()) {
        return Err(AudioError::NonFinite {
            path: path.to_path_buf(),
        });
    }
    let sample_rate = rate.ok_or_else(|| AudioError::BadSampleRate {
        path: path.to_path_buf(),
        rate: 0,
    })?;
    Ok(Audio {
        samples: mono,
        sample_rate,
    })
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
        let pairs = data.chunks_exact(2);
        if self.big_endian {
            for (o, b) in out[start..].iter_mut().zip(pairs) {
                *o = i16::from_be_bytes([b[0], b[1]]) as f32 / 32_768.0;
            }
        } else {
            for (o, b) in out[start..].iter_mut().zip(pairs) {
                *o = i16::from_le_bytes([b[0], b[1]]) as f32 / 32_768.0;
            }
        }
    }
}

/// Encodes mono samples as a 16-bit PCM WAV file in memory ([`write_wav16`]).
pub fn encode_wav16(samples: &[f32], sample_rate: u32) -> std::io::Result<Vec<u8>> {
    let mut cursor = std::io::Cursor::new(Vec::with_capacity(44 + 2 * samples.len()));
    write_wav16(&mut cursor, samples, sample_rate)?;
    Ok(cursor.into_inner())
}

/// Writes mono samples as a 16-bit PCM WAV file (hound). Samples are scaled by 32768 and
/// clipped, so decoding the result gives back `round(x * 32768) / 32768`. More than 2^32 - 1
/// samples is an `InvalidInput` error.
pub fn write_wav16<W: std::io::Write + std::io::Seek>(
    writer: W,
    samples: &[f32],
    sample_rate: u32,
) -> std::io::Result<()> {
    let io = |e: hound::Error| match e {
        hound::Error::IoError(e) => e,
        e => std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
    };
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    u32::try_from(samples.len()).map_err(|_| io(hound::Error::TooWide))?;
    let mut w = hound::WavWriter::new(writer, spec).map_err(io)?;
    // In chunks: hound's 16-bit writer buffers all the samples it is asked for at once.
    const CHUNK: usize = 8192;
    let mut pcm = [0i16; CHUNK];
    for chunk in samples.chunks(CHUNK) {
        for (p, &x) in pcm.iter_mut().zip(chunk) {
            // Rounds half away from zero, like `f64::round` (exact: x * 32768 +- 0.5 needs at
            // most 41 bits), without a call to libm per sample; NaN becomes 0, like `as i16`.
            let v = x as f64 * 32768.0;
            *p = (v + 0.5f64.copysign(v)).clamp(-32768.0, 32767.0) as i16;
        }
        let mut s16 = w.get_i16_writer(chunk.len() as u32);
        for &p in &pcm[..chunk.len()] {
            s16.write_sample(p);
        }
        s16.flush().map_err(io)?;
    }
    w.finalize().map_err(io)
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
