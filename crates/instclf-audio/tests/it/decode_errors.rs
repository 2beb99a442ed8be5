//! Decoding: lossy formats against librosa, and every kind of bad input turning into an
//! [`AudioError`] whose message names the file (never a panic).

use instclf_audio::decode::{decode, load, AudioError};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/reference")
        .join(name)
}

fn reference(name: &str) -> Vec<f32> {
    let bytes = std::fs::read(fixture(name)).unwrap();
    npyz::NpyFile::new(&bytes[..]).unwrap().into_vec().unwrap()
}

/// A canonical 44-byte-header WAV with the given fields and payload.
fn wav(channels: u16, rate: u32, bits: u16, format: u16, data: &[u8]) -> Vec<u8> {
    let block = channels as u32 * bits as u32 / 8;
    let mut v = b"RIFF".to_vec();
    v.extend((36 + data.len() as u32).to_le_bytes());
    v.extend(b"WAVEfmt ");
    v.extend(16u32.to_le_bytes());
    v.extend(format.to_le_bytes());
    v.extend(channels.to_le_bytes());
    v.extend(rate.to_le_bytes());
    v.extend((rate * block).to_le_bytes());
    v.extend((block as u16).to_le_bytes());
    v.extend(bits.to_le_bytes());
    v.extend(b"data");
    v.extend((data.len() as u32).to_le_bytes());
    v.extend(data);
    v
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn expect_err(path: &Path) -> AudioError {
    let err = decode(path).expect_err("should fail");
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "message {msg:?} names the file"
    );
    err
}

#[test]
fn lossy_formats_decode_close_to_librosa() {
    for (file, tol) in [("dec_vorbis.ogg", 1e-4f32), ("dec_mp3.mp3", 1e-3)] {
        let a = decode(&fixture(file)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.sample_rate, 44100, "{file}");
        let want = reference(&format!("dec_{}.npy", file.replace('.', "_")));
        // Decoders may trim encoder delay/padding differently.
        let diff = a.samples.len().abs_diff(want.len());
        assert!(
            diff <= 2304,
            "{file}: {} vs {} samples",
            a.samples.len(),
            want.len()
        );
        if diff == 0 {
            let err = a
                .samples
                .iter()
                .zip(&want)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            assert!(err <= tol, "{file}: max abs error {err}");
        }
    }
}

#[test]
fn bad_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pcm: Vec<u8> = (0..400i16).flat_map(|i| (i * 50).to_le_bytes()).collect();

    assert!(matches!(
        expect_err(&d.join("missing.wav")),
        AudioError::Io { .. }
    ));
    assert!(matches!(expect_err(d), AudioError::IsDirectory { .. }));
    assert!(matches!(
        expect_err(&write(d, "empty.wav", b"")),
        AudioError::Empty { .. }
    ));
    let junk: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    assert!(matches!(
        expect_err(&write(d, "junk.wav", &junk)),
        AudioError::NotAudio { .. }
    ));
    // Header cut off in the middle of the fmt chunk.
    let full = wav(1, 22050, 16, 1, &pcm);
    expect_err(&write(d, "cut.wav", &full[..30]));
    // Header only: no sample data at all.
    expect_err(&write(d, "nodata.wav", &wav(1, 22050, 16, 1, &[])));
    expect_err(&write(d, "zero_rate.wav", &wav(1, 0, 16, 1, &pcm)));
    expect_err(&write(d, "zero_channels.wav", &wav(0, 22050, 16, 1, &pcm)));
    expect_err(&write(d, "huge_rate.wav", &wav(1, 4_000_000, 16, 1, &pcm)));
    // 32-bit float with NaN and infinity.
    let floats: Vec<u8> = [0.1f32, f32::NAN, 0.2, f32::INFINITY]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let err = expect_err(&write(d, "nan.wav", &wav(1, 22050, 32, 3, &floats)));
    assert!(matches!(err, AudioError::NonFinite { .. }), "{err}");
    // An unknown WAV format tag.
    expect_err(&write(d, "codec.wav", &wav(1, 22050, 16, 0x1234, &pcm)));
}

#[test]
fn truncated_data_keeps_what_is_there() {
    // A data chunk that claims more bytes than the file holds: like libsndfile, decode what
    // is present.
    let dir = tempfile::tempdir().unwrap();
    let pcm: Vec<u8> = (0..1000i16).flat_map(|i| (i * 20).to_le_bytes()).collect();
    let mut bytes = wav(1, 22050, 16, 1, &pcm);
    bytes.truncate(44 + 1200);
    let p = write(dir.path(), "short.wav", &bytes);
    let a = decode(&p).unwrap();
    assert_eq!(a.sample_rate, 22050);
    assert!(a.samples.len() <= 600 && !a.samples.is_empty());
    assert_eq!(a.samples[10], 200.0 / 32768.0);
}

#[test]
fn load_rejects_absurd_target_rates() {
    let err = load(&fixture("dec_pcm16.wav"), Some(0)).unwrap_err();
    assert!(err.to_string().contains("0 Hz"), "{err}");
}

#[test]
fn a_stream_gives_what_load_and_resample_give_in_bounded_pieces() {
    // Every codec's fixture, at its own rate and resampled up and down: the pieces of a
    // stream join to `load`'s samples, which are `resample` of the native ones, and the WAV
    // written as it decodes is the one written from `load`'s samples.
    use instclf_audio::decode::{encode_wav16, Stream};
    use instclf_audio::resample::resample;
    for name in [
        "dec_pcm16.wav",
        "dec_pcm16.aiff",
        "dec_pcm24.wav",
        "dec_float.wav",
        "dec_pcm16.flac",
        "dec_mp3.mp3",
        "dec_vorbis.ogg",
        "violin.wav",
    ] {
        let path = fixture(name);
        let native = load(&path, None).unwrap();
        for sr in [None, Some(22050), Some(8000), Some(48000)] {
            let mut stream = Stream::open(&path, sr).unwrap();
            let rate = stream.sample_rate();
            let (mut joined, mut pieces) = (Vec::new(), 0);
            while let Some(piece) = stream.next_chunk().unwrap() {
                assert!(!piece.is_empty() && piece.len() <= 1 << 16, "{name}");
                joined.extend_from_slice(piece);
                pieces += 1;
            }
            assert!(stream.next_chunk().unwrap().is_none(), "{name}: ended");
            let loaded = load(&path, sr).unwrap();
            assert_eq!(rate, loaded.sample_rate, "{name} {sr:?}");
            assert!(
                joined == loaded.samples,
                "{name} {sr:?}: stream differs from load"
            );
            let want = resample(&native.samples, native.sample_rate, rate).unwrap();
            assert!(
                loaded.samples == want,
                "{name} {sr:?}: load differs from resample"
            );
            if native.samples.len() > 100_000 {
                assert!(pieces > 10, "{name}: {pieces} pieces");
            }
            let want = encode_wav16(&loaded.samples, rate).unwrap();
            for threads in [1, 2] {
                let mut wav = std::io::Cursor::new(Vec::new());
                let n = Stream::open(&path, sr)
                    .unwrap()
                    .write_wav16(&mut wav, threads)
                    .unwrap();
                assert_eq!(n, loaded.samples.len(), "{name} {sr:?}");
                assert!(
                    wav.into_inner() == want,
                    "{name} {sr:?} on {threads} threads: streamed WAV differs"
                );
            }
        }
    }
}
