//! End-to-end tests of `instclf spectrogram`: real recordings to PNG and SVG, and bad input
//! (missing or corrupt audio, unwritable output, unknown format) failing with exit code 2, a
//! one-line error naming the file and no output file.

use crate::common::{assert_failed, instclf, png_size, write_wav};
use std::path::{Path, PathBuf};

const FIXTURE: &str = "fixtures/audio/SopSax.Vib.pp.C6Eb6.aiff";

/// A mono 16-bit WAV of a sine tone.
fn write_sine_wav(path: &Path, freq: f32, sr: u32, seconds: f32) {
    let n = (sr as f32 * seconds) as usize;
    let tone: Vec<f32> = (0..n)
        .map(|i| (2.0 * std::f32::consts::PI * freq * i as f32 / sr as f32).sin() * 0.5)
        .collect();
    write_wav(path, sr, &tone);
}

#[test]
fn fixture_to_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("spec.png");
    let out = instclf(&["spectrogram", FIXTURE, "-o", png.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(png_size(&png), (1000, 400));

    let svg = dir.path().join("spec.svg");
    let out = instclf(&[
        "spectrogram",
        FIXTURE,
        "-o",
        svg.to_str().unwrap(),
        "--title",
        "Soprano sax",
        "--width",
        "640",
        "--height",
        "320",
        "--n-mels",
        "64",
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.contains("width=\"640\""));
    assert!(text.contains("Soprano sax") && text.contains("+0 dB") && text.contains("-80 dB"));
    assert!(text.contains("4096"), "mel axis ticks missing");
}

#[test]
fn generated_wav_with_custom_analysis() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("tone.wav");
    write_sine_wav(&wav, 1000.0, 16000, 0.5);
    let png = dir.path().join("tone.png");
    let out = instclf(&[
        "spectrogram",
        wav.to_str().unwrap(),
        "-o",
        png.to_str().unwrap(),
        "--sr",
        "16000",
        "--fmax",
        "8000",
        "--n-fft",
        "1024",
        "--hop",
        "256",
        "--width",
        "500",
        "--height",
        "300",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(png_size(&png), (500, 300));
    // Without --fmax the mel bands reach half of --sr, whatever it is.
    for sr in ["8000", "4000"] {
        let out = instclf(&[
            "spectrogram",
            wav.to_str().unwrap(),
            "-o",
            png.to_str().unwrap(),
            "--sr",
            sr,
        ]);
        assert!(out.status.success(), "--sr {sr}: {out:?}");
    }
}

fn no_files_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

#[test]
fn bad_input_fails_without_output() {
    let dir = tempfile::tempdir().unwrap();
    let out_png = dir.path().join("out.png");
    let o = out_png.to_str().unwrap();

    let out = instclf(&["spectrogram", "no/such/file.wav", "-o", o]);
    assert_failed(&out, "no/such/file.wav");

    let junk = dir.path().join("junk.wav");
    std::fs::write(&junk, b"this is not audio at all, just text").unwrap();
    let out = instclf(&["spectrogram", junk.to_str().unwrap(), "-o", o]);
    assert_failed(&out, "junk.wav");
    std::fs::remove_file(&junk).unwrap();

    let out = instclf(&[
        "spectrogram",
        FIXTURE,
        "-o",
        dir.path().join("x.jpg").to_str().unwrap(),
    ]);
    assert_failed(&out, "x.jpg");

    let out = instclf(&["spectrogram", FIXTURE, "-o", o, "--fmax", "20000"]);
    assert_failed(&out, "--fmax");

    // Missing parent folders are created, but not under a plain file.
    let plain = dir.path().join("plain");
    std::fs::write(&plain, b"x").unwrap();
    let under_file = plain.join("missing/out.png");
    let out = instclf(&["spectrogram", FIXTURE, "-o", under_file.to_str().unwrap()]);
    assert_failed(&out, "out.png");
    std::fs::remove_file(&plain).unwrap();
    let nested = dir.path().join("a/b/out.png");
    let out = instclf(&["spectrogram", FIXTURE, "-o", nested.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    std::fs::remove_dir_all(dir.path().join("a")).unwrap();

    // An output path that is a folder cannot be replaced by a file.
    let folder = dir.path().join("folder.png");
    std::fs::create_dir(&folder).unwrap();
    let out = instclf(&["spectrogram", FIXTURE, "-o", folder.to_str().unwrap()]);
    assert_failed(&out, "folder.png");
    assert!(folder.is_dir());
    std::fs::remove_dir(&folder).unwrap();

    assert_eq!(no_files_in(dir.path()), Vec::<PathBuf>::new());
}
