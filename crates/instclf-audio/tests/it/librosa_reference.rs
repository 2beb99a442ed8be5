//! Compares the audio front end with librosa 0.11: the `.npy` arrays in `fixtures/reference/`
//! were written by `scripts/librosa_reference.py` (see `scripts/setup-librosa.sh`).

use instclf_audio::decode::{decode, load};
use instclf_audio::delta::delta;
use instclf_audio::mel::{mel_filterbank, melspectrogram, power_to_db, DbRef, MelParams, MelScale};
use instclf_audio::mfcc::{mfcc, mfcc_from_db};
use instclf_audio::resample::resample;
use instclf_audio::stft::power_spectrogram;
use instclf_audio::Matrix;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/reference")
        .join(name)
}

/// Reads a float32 `.npy` of 1 or 2 dimensions as a matrix (1-D arrays become one row).
fn npy(name: &str) -> Matrix {
    let path = fixture(&format!("{name}.npy"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let f = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape: Vec<usize> = f.shape().iter().map(|&d| d as usize).collect();
    let data: Vec<f32> = f.into_vec().unwrap();
    match shape[..] {
        [n] => Matrix::from_vec(1, n, data).unwrap(),
        [r, c] => Matrix::from_vec(r, c, data).unwrap(),
        _ => panic!("{name}: unexpected shape {shape:?}"),
    }
}

fn signal(name: &str) -> Vec<f32> {
    npy(name).data
}

fn same_shape(a: &Matrix, b: &Matrix, what: &str) {
    assert_eq!((a.rows, a.cols), (b.rows, b.cols), "{what}: shape");
}

/// Largest relative error over the values above `floor * max(reference)`.
fn max_rel_err(got: &Matrix, want: &Matrix, floor: f32, what: &str) -> f32 {
    same_shape(got, want, what);
    let max = want.data.iter().fold(0f32, |a, &b| a.max(b.abs()));
    got.data
        .iter()
        .zip(&want.data)
        .filter(|(_, &w)| w.abs() > floor * max)
        .map(|(&g, &w)| ((g - w) / w).abs())
        .fold(0f32, f32::max)
}

fn max_abs_err(got: &Matrix, want: &Matrix, what: &str) -> f32 {
    same_shape(got, want, what);
    got.data
        .iter()
        .zip(&want.data)
        .map(|(g, w)| (g - w).abs())
        .fold(0f32, f32::max)
}

fn range(m: &Matrix) -> f32 {
    let lo = m.data.iter().fold(f32::INFINITY, |a, &b| a.min(b));
    let hi = m.data.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    hi - lo
}

struct Case {
    prefix: &'static str,
    input: &'static str,
    params: MelParams,
    deltas: bool,
}

fn cases() -> Vec<Case> {
    let d = MelParams::default;
    vec![
        Case {
            prefix: "tone",
            input: "tone_in",
            params: d(),
            deltas: true,
        },
        Case {
            prefix: "tone_htk",
            input: "tone_in",
            params: MelParams {
                n_fft: 1024,
                hop: 256,
                n_mels: 64,
                fmin: 50.0,
                fmax: Some(8000.0),
                htk: true,
                ..d()
            },
            deltas: true,
        },
        Case {
            prefix: "noise",
            input: "noise_in",
            params: d(),
            deltas: true,
        },
        Case {
            prefix: "short",
            input: "short_in",
            params: d(),
            deltas: false,
        },
        Case {
            prefix: "violin44",
            input: "violin44_in",
            params: MelParams { sr: 44100, ..d() },
            deltas: true,
        },
        Case {
            prefix: "violin22",
            input: "violin22_resampled",
            params: d(),
            deltas: true,
        },
    ]
}

#[test]
fn filterbanks_match_librosa() {
    let got = mel_filterbank(22050, 512, 64, 0.0, None, MelScale::Slaney, true);
    let want = npy("fb_slaney_22050_512_64");
    assert!(max_abs_err(&got, &want, "slaney fb") < 1e-6);
    let got = mel_filterbank(44100, 512, 64, 50.0, Some(8000.0), MelScale::Htk, false);
    let want = npy("fb_htk_44100_512_64_none");
    assert!(max_abs_err(&got, &want, "htk fb") < 1e-6);
}

#[test]
fn power_spectrograms_match_librosa() {
    for name in ["noise", "short"] {
        let y = signal(&format!("{name}_in"));
        let got = power_spectrogram(&y, 2048, 512);
        let want = npy(&format!("{name}_stft"));
        let err = max_rel_err(&got, &want, 1e-6, name);
        assert!(err < 1e-3, "{name}: stft relative error {err}");
    }
}

#[test]
fn mel_db_mfcc_and_deltas_match_librosa() {
    for c in cases() {
        let y = signal(c.input);
        let mel = melspectrogram(&y, &c.params);
        let want = npy(&format!("{}_mel", c.prefix));
        let err = max_rel_err(&mel, &want, 1e-6, c.prefix);
        eprintln!("{}: mel rel err {err}", c.prefix);
        assert!(err <= 1e-4, "{}: mel relative error {err}", c.prefix);

        let db = power_to_db(&mel, DbRef::Max, 1e-10, Some(80.0));
        let err = max_abs_err(&db, &npy(&format!("{}_db", c.prefix)), c.prefix);
        eprintln!("{}: dB err {err}", c.prefix);
        assert!(err <= 0.01, "{}: dB error {err}", c.prefix);

        let want = npy(&format!("{}_mfcc", c.prefix));
        let got = mfcc(&y, &c.params, 40);
        let err = max_abs_err(&got, &want, c.prefix) / range(&want);
        eprintln!("{}: mfcc err {err} of range", c.prefix);
        assert!(err <= 1e-3, "{}: mfcc error {err} of range", c.prefix);

        if c.deltas {
            // Deltas of librosa's own MFCCs, so only the delta filter is under test.
            for order in [1, 2] {
                let want = npy(&format!("{}_delta{order}", c.prefix));
                let got = delta(&want_mfcc(c.prefix), 9, order);
                let err = max_abs_err(&got, &want, c.prefix) / range(&want);
                eprintln!("{}: delta{order} err {err} of range", c.prefix);
                assert!(
                    err <= 1e-4,
                    "{}: delta{order} error {err} of range",
                    c.prefix
                );
            }
        }
    }
}

fn want_mfcc(prefix: &str) -> Matrix {
    npy(&format!("{prefix}_mfcc"))
}

#[test]
fn mfcc_from_db_is_the_dct_of_librosa_db() {
    let y = signal("tone_in");
    let mel = melspectrogram(&y, &MelParams::default());
    let db = power_to_db(&mel, DbRef::Value(1.0), 1e-10, Some(80.0));
    let want = npy("tone_mfcc");
    let err = max_abs_err(&mfcc_from_db(&db, 40), &want, "mfcc_from_db") / range(&want);
    assert!(err <= 1e-3, "{err}");
}

#[test]
fn resampling_matches_soxr_hq_away_from_edges() {
    let y = signal("violin44_in");
    // Measured: 6e-6 at 22050 Hz and 3e-5 at 16000 Hz (Nyquist inside the violin's harmonics,
    // where the shape of the filter's transition band matters most).
    for (sr, name, tol) in [
        (22050u32, "violin22_resampled", 1e-3f32),
        (16000, "violin16_resampled", 1e-3),
    ] {
        let want = signal(name);
        let got = resample(&y, 44100, sr).unwrap();
        assert_eq!(got.len(), want.len(), "{name}: length");
        let edge = sr as usize / 20; // 50 ms
        let err = got[edge..got.len() - edge]
            .iter()
            .zip(&want[edge..want.len() - edge])
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        eprintln!("{name}: resample max abs error {err}");
        assert!(err <= tol, "{name}: max abs error {err}");
    }
}

#[test]
fn decoding_matches_librosa_load() {
    for file in [
        "dec_pcm16.wav",
        "dec_pcm24.wav",
        "dec_u8.wav",
        "dec_float.wav",
        "dec_pcm16.aiff",
        "dec_pcm24.aiff",
        "dec_float.aiff",
        "dec_sowt.aifc",
        "dec_twos.aifc",
        "dec_none.aifc",
        "dec_pcm32.wav",
        "dec_s8.aiff",
        "dec_pcm32.aiff",
        "dec_double.aiff",
        "dec_pcm16.flac",
    ] {
        let audio = decode(&fixture(file)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(audio.sample_rate, 44100, "{file}");
        let want = signal(&format!("dec_{}", file.replace('.', "_")));
        assert_eq!(audio.samples.len(), want.len(), "{file}: length");
        let err = audio
            .samples
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(err <= 1e-7, "{file}: max abs error {err}");
    }
}

#[test]
fn load_decodes_the_recording_and_resamples() {
    let native = load(&fixture("violin.wav"), None).unwrap();
    let want = signal("violin44_in");
    assert_eq!(native.sample_rate, 44100);
    assert_eq!(native.samples, want);
    let at22 = load(&fixture("violin.wav"), Some(22050)).unwrap();
    assert_eq!(at22.sample_rate, 22050);
    assert_eq!(at22.samples.len(), signal("violin22_resampled").len());
}
