//! Helpers shared by the CLI end-to-end tests: running the `instclf` binary, reading its output,
//! the committed fixtures, and small files the tests write.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `instclf` binary built for these tests from the repository root.
pub fn instclf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_instclf"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run instclf")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A path as an argument.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// A committed recording under `fixtures/audio`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/audio")
        .join(name)
}

/// A committed fixture folder (`fixtures/<dir>`).
pub fn fixture_dir(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(dir)
}

/// File name -> note onsets (seconds, in order) from a render folder's `manifest.csv`
/// (`file,class,note_index,midi,onset_s,offset_s`, written by `scripts/render.py`).
pub fn manifest_onsets(dir: &Path) -> BTreeMap<String, Vec<f64>> {
    let path = dir.join("manifest.csv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("file,class,note_index,midi,onset_s,offset_s"),
        "{}",
        path.display()
    );
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 6, "{}: bad row {line}", path.display());
        let onset: f64 = f[4].parse().unwrap_or_else(|e| panic!("{line}: {e}"));
        out.entry(f[0].to_string()).or_default().push(onset);
    }
    out
}

/// Exit code 2 and one error line, `instclf: error: ...`, that contains `needle` (the file or
/// option at fault, or the problem).
pub fn assert_failed(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = stderr(out);
    assert!(err.starts_with("instclf: error: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one-line error: {err}");
    assert!(err.contains(needle), "expected '{needle}' in: {err}");
}

/// Width and height from a PNG file's IHDR chunk.
pub fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).expect("read png");
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&b[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    (be(16), be(20))
}

/// `dir/audio` with two copies (`Class.a.aiff`, `Class.b.aiff`) of each named fixture, the class
/// being the fixture name's first token.
pub fn audio_dir(dir: &Path, fixtures: &[&str]) -> PathBuf {
    let audio = dir.join("audio");
    std::fs::create_dir(&audio).unwrap();
    for f in fixtures {
        let class = f.split('.').next().unwrap();
        for copy in ["a", "b"] {
            std::fs::copy(fixture(f), audio.join(format!("{class}.{copy}.aiff"))).unwrap();
        }
    }
    audio
}

/// A 16-bit mono WAV of `samples` (in [-1, 1]) at `sr`.
pub fn write_wav(path: &Path, sr: u32, samples: &[f32]) {
    let data_len = (samples.len() * 2) as u32;
    let mut b = Vec::with_capacity(44 + samples.len() * 2);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&1u16.to_le_bytes()); // mono
    b.extend_from_slice(&sr.to_le_bytes());
    b.extend_from_slice(&(sr * 2).to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for v in samples {
        b.extend_from_slice(&((v * 32767.0) as i16).to_le_bytes());
    }
    std::fs::write(path, b).expect("write wav");
}

/// `instclf dataset build --audio AUDIO -o OUT --test-fraction 0.5 EXTRA...` (half the
/// recordings of each class held out: the test folders hold two per class).
pub fn dataset_build(audio: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "dataset",
        "build",
        "--audio",
        s(audio),
        "-o",
        s(out),
        "--test-fraction",
        "0.5",
    ];
    args.extend_from_slice(extra);
    instclf(&args)
}

/// The fields every `train --json` prints, dense or sequence model: `test_accuracy` and
/// `test_loss` (the test split), `test` with per-class metrics, `epochs`, `train_time_s`,
/// `history`, `model`, `model_saved`, `diverged`.
pub fn assert_train_json_schema(v: &serde_json::Value) {
    for k in [
        "model",
        "model_saved",
        "epochs",
        "train_time_s",
        "mean_epoch_time_s",
        "diverged",
        "history",
    ] {
        assert!(v.get(k).is_some(), "train --json lacks {k}: {v}");
    }
    let acc = v["test_accuracy"].as_f64().expect("test_accuracy");
    assert!((0.0..=1.0).contains(&acc), "{v}");
    assert!(v["test_loss"].as_f64().unwrap().is_finite());
    assert_eq!(v["test"]["accuracy"], v["test_accuracy"]);
    assert!(v["test"]["per_class"]
        .as_array()
        .is_some_and(|p| !p.is_empty()));
    assert_eq!(
        v["history"].as_array().unwrap().len() as u64,
        v["epochs"].as_u64().unwrap()
    );
}

/// The samples of the audio file `path` at 22050 Hz, mono, in [-1, 1): `instclf convert` to a
/// 16-bit WAV in `tmp`, read back with hound.
pub fn mono_22050(path: &Path, tmp: &Path) -> Vec<f32> {
    let wav = tmp.join("converted.wav");
    let o = instclf(&["convert", s(path), "-o", s(&wav), "--sr", "22050"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut r = hound::WavReader::open(&wav).unwrap();
    let spec = r.spec();
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (22050, 1, 16)
    );
    r.samples::<i16>()
        .map(|x| f32::from(x.unwrap()) / 32768.0)
        .collect()
}
