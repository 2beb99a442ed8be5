//! End-to-end tests of `instclf features` and `instclf convert`: shapes and values of the
//! written files, the numpy-identical `.npy` layout, and clean failures on bad input.

use crate::common::{assert_failed, instclf, stderr, stdout};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/reference")
        .join(name)
}

/// Parses a float32 1-D or 2-D `.npy` (1-D as one row) written by numpy's rules; returns (rows, cols, data).
fn read_npy(path: &Path) -> (usize, usize, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + hlen) % 64, 0, "header padded to 64 bytes");
    let header = std::str::from_utf8(&bytes[10..10 + hlen]).unwrap();
    assert!(header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': ("));
    assert!(header.ends_with(" \n"));
    let shape = &header[header.find("'shape': (").unwrap() + 10..header.find(')').unwrap()];
    let mut dims: Vec<usize> = shape
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.parse().unwrap())
        .collect();
    if dims.len() == 1 {
        dims.insert(0, 1);
    }
    let data: Vec<f32> = bytes[10 + hlen..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(data.len(), dims[0] * dims[1]);
    (dims[0], dims[1], data)
}

/// `instclf features INPUT --kind mel -o OUTPUT`.
fn mel(input: &Path, output: &str) -> std::process::Output {
    instclf(&[
        "features",
        input.to_str().unwrap(),
        "--kind",
        "mel",
        "-o",
        output,
    ])
}

fn reference(name: &str) -> (usize, usize, Vec<f32>) {
    read_npy(&fixture(&format!("{name}.npy")))
}

#[test]
fn mfcc_with_deltas_matches_librosa_at_native_rate() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.npy");
    let o = instclf(&[
        "features",
        fixture("violin.wav").to_str().unwrap(),
        "--kind",
        "mfcc",
        "--deltas",
        "--sr",
        "44100",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (rows, cols, got) = read_npy(&out);
    let (r, c, mfcc) = reference("violin44_mfcc");
    assert_eq!((rows, cols), (3 * r, c));
    let (_, _, d1) = reference("violin44_delta1");
    let (_, _, d2) = reference("violin44_delta2");
    for (part, want) in [mfcc, d1, d2].iter().enumerate() {
        let lo = want.iter().fold(f32::INFINITY, |a, &b| a.min(b));
        let hi = want.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let err = got[part * r * c..(part + 1) * r * c]
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(err <= 1e-3 * (hi - lo), "block {part}: error {err}");
    }
}

#[test]
fn db_csv_and_mel_npy_have_librosa_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("d.csv");
    let o = instclf(&[
        "features",
        fixture("violin.wav").to_str().unwrap(),
        "--kind",
        "db",
        "--sr",
        "44100",
        "-o",
        csv.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<Vec<f32>> = text
        .lines()
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    let (r, c, want) = reference("violin44_db");
    assert_eq!((rows.len(), rows[0].len()), (r, c));
    let err = rows
        .iter()
        .flatten()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(err <= 0.01, "dB error {err}");

    let npy = dir.path().join("m.npy");
    let o = instclf(&[
        "features",
        fixture("violin.wav").to_str().unwrap(),
        "--kind",
        "mel",
        "--n-mels",
        "40",
        "--hop",
        "256",
        "-o",
        npy.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let (rows, cols, _) = read_npy(&npy);
    // 1.5 s resampled to 22050 Hz = 33075 samples.
    assert_eq!((rows, cols), (40, 1 + 33075 / 256));
}

#[test]
fn convert_writes_16_bit_wav_and_resamples() {
    let dir = tempfile::tempdir().unwrap();
    // Missing parent folders of the output are created.
    let out = dir.path().join("a/b/c.wav");
    let o = instclf(&[
        "convert",
        fixture("dec_pcm16.flac").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--sr",
        "22050",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let a = instclf_audio::decode::decode(&out).unwrap();
    assert_eq!(a.sample_rate, 22050);
    assert_eq!(a.samples.len(), 1103);
    // Without --sr the samples survive exactly (the source is 16-bit). The output as a second
    // positional argument (the old spelling) still works.
    let same = dir.path().join("same.wav");
    let o = instclf(&[
        "convert",
        fixture("dec_pcm16.wav").to_str().unwrap(),
        same.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let b = instclf_audio::decode::decode(&same).unwrap();
    let (_, _, want) = reference("dec_dec_pcm16_wav");
    // The source is stereo; the mono mix may need one more bit, hence half a step.
    let err = b
        .samples
        .iter()
        .zip(&want)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(err <= 0.5 / 32768.0 + 1e-9, "{err}");
}

#[test]
fn convert_to_stdout_and_on_any_threads_writes_the_file_it_would_write() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("dec_pcm16.flac");
    for sr in [None, Some("16000")] {
        let file = dir.path().join("out.wav");
        let mut args = vec![
            "convert",
            input.to_str().unwrap(),
            "-o",
            file.to_str().unwrap(),
        ];
        args.extend(sr.iter().flat_map(|r| ["--sr", *r]));
        let o = instclf(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        args[3] = "-";
        let piped = instclf(&args);
        assert!(piped.status.success(), "{}", stderr(&piped));
        assert_eq!(piped.stdout, std::fs::read(&file).unwrap(), "--sr {sr:?}");
        for threads in ["1", "2"] {
            let mut a = args.clone();
            a.extend(["--threads", threads]);
            let one = instclf(&a);
            assert!(one.status.success(), "{}", stderr(&one));
            assert_eq!(one.stdout, piped.stdout, "--sr {sr:?} on {threads} threads");
        }
        // The summary goes to standard error, where the file's goes to standard output.
        let (to_file, to_pipe) = (stdout(&o), stderr(&piped));
        assert_eq!(
            to_pipe.strip_prefix("-"),
            to_file.strip_prefix(file.to_str().unwrap()),
            "{to_pipe}"
        );
    }
}

#[test]
fn features_to_stdout_and_on_one_thread_write_the_file_they_would_write() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("dec_pcm16.flac");
    for (kind, ext, extra) in [("mfcc", "npy", Some("--deltas")), ("db", "csv", None)] {
        let file = dir.path().join(format!("out.{ext}"));
        let mut args = vec!["features", input.to_str().unwrap(), "--kind", kind];
        args.extend(extra);
        let with = |more: &[&str]| {
            let mut a = args.clone();
            a.extend_from_slice(more);
            instclf(&a)
        };
        let o = with(&["-o", file.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        let want = std::fs::read(&file).unwrap();
        let piped = with(&["-o", "-", "--format", ext]);
        assert!(piped.status.success(), "{}", stderr(&piped));
        assert_eq!(piped.stdout, want, "{kind} to standard output");
        assert_eq!(
            stderr(&piped).strip_prefix("-"),
            stdout(&o).strip_prefix(file.to_str().unwrap()),
            "the summary goes to standard error"
        );
        std::fs::remove_file(&file).unwrap();
        let one = with(&["-o", file.to_str().unwrap(), "--threads", "1"]);
        assert!(one.status.success(), "{}", stderr(&one));
        assert_eq!(std::fs::read(&file).unwrap(), want, "{kind} on one thread");
    }
    // `-o -` without --format writes .npy.
    let o = mel(&input, "-");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(&o.stdout[..6], b"\x93NUMPY");
}

#[test]
fn bad_inputs_fail_cleanly_without_output() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    let noise = dir.path().join("noise.wav");
    std::fs::write(
        &noise,
        (0..4000u32)
            .map(|i| (i.wrapping_mul(2654435761u32) >> 24) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let missing = dir.path().join("missing.wav");
    let out = dir.path().join("out.npy");
    let cases: [(&Path, &str); 4] = [
        (&empty, "empty.wav"),
        (&noise, "noise.wav"),
        (&missing, "missing.wav"),
        (dir.path(), dir.path().to_str().unwrap()),
    ];
    for (input, needle) in cases {
        let o = mel(input, out.to_str().unwrap());
        assert_failed(&o, needle);
        assert!(!out.exists());
        let wav = dir.path().join("out.wav");
        let o = instclf(&[
            "convert",
            input.to_str().unwrap(),
            "-o",
            wav.to_str().unwrap(),
        ]);
        assert_failed(&o, needle);
        assert!(!wav.exists());
        // To standard output: nothing written there either.
        let o = instclf(&["convert", input.to_str().unwrap(), "-o", "-"]);
        assert_failed(&o, needle);
        assert!(o.stdout.is_empty(), "{} bytes on stdout", o.stdout.len());
        let o = instclf(&[
            "features",
            input.to_str().unwrap(),
            "--kind",
            "mfcc",
            "-o",
            "-",
        ]);
        assert_failed(&o, needle);
        assert!(o.stdout.is_empty(), "{} bytes on stdout", o.stdout.len());
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 2, "only the two inputs remain");
}

#[test]
fn unwritable_output_and_bad_parameters_fail() {
    let dir = tempfile::tempdir().unwrap();
    // Missing parent folders are created, but not under a plain file.
    std::fs::write(dir.path().join("plain"), b"x").unwrap();
    let out = dir.path().join("plain/dir/out.npy");
    let o = mel(&fixture("violin.wav"), out.to_str().unwrap());
    assert_failed(&o, "out.npy");
    assert!(!out.exists());
    let ok_out = dir.path().join("x.npy");
    for bad in [
        vec!["--n-fft", "0"],
        vec!["--hop", "0"],
        vec!["--sr", "0"],
        vec!["--n-mfcc", "200"],
    ] {
        let violin = fixture("violin.wav");
        let mut args = vec![
            "features",
            violin.to_str().unwrap(),
            "--kind",
            "mfcc",
            "-o",
            ok_out.to_str().unwrap(),
        ];
        args.extend_from_slice(&bad);
        let o = instclf(&args);
        assert_failed(
            &o,
            bad[0].trim_start_matches("--").replace('-', "_").as_str(),
        );
        assert!(!ok_out.exists());
    }
    let o = mel(
        &fixture("violin.wav"),
        dir.path().join("x.txt").to_str().unwrap(),
    );
    assert_failed(&o, "x.txt");
    for (bad, needle) in [
        (["--threads", "0", "-o", "-"], "--threads"),
        (["--format", "npy", "-o", "x.csv"], "x.csv"),
    ] {
        let mut args = vec!["features", "--kind", "mel"];
        let violin = fixture("violin.wav");
        args.push(violin.to_str().unwrap());
        args.extend_from_slice(&bad);
        let o = instclf(&args);
        assert_failed(&o, needle);
        assert!(o.stdout.is_empty());
    }
    let violin = fixture("violin.wav");
    let o = instclf(&[
        "convert",
        violin.to_str().unwrap(),
        "-o",
        "-",
        "--threads",
        "0",
    ]);
    assert_failed(&o, "--threads");
    assert!(o.stdout.is_empty());
}

#[test]
fn resampled_mfcc_matches_librosa_end_to_end() {
    // 44.1 kHz file -> 22050 Hz (soxr_hq-like low-pass) -> MFCC, against librosa's
    // soxr_hq-resampled MFCCs.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.npy");
    let o = instclf(&[
        "features",
        fixture("violin.wav").to_str().unwrap(),
        "--kind",
        "mfcc",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (rows, cols, got) = read_npy(&out);
    let (r, c, want) = reference("violin22_mfcc");
    assert_eq!((rows, cols), (r, c));
    let lo = want.iter().fold(f32::INFINITY, |a, &b| a.min(b));
    let hi = want.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    let err = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(err <= 1e-3 * (hi - lo), "error {err} of range {}", hi - lo);
}
