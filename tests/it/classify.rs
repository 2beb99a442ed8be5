//! End-to-end tests of `instclf classify` with the bundled model and with models trained here.

use crate::common::{assert_failed, fixture, instclf, stderr, write_wav};
use std::path::Path;

#[test]
fn sopsax_fixture_is_a_soprano_sax_with_four_notes() {
    let f = fixture("SopSax.Vib.pp.C6Eb6.aiff");
    let o = instclf(&["classify", "--json", "--top", "3", f.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = one_file(&o);
    assert_eq!(v["label"], "SopSax");
    assert!(v["confidence"].as_f64().unwrap() > 0.5);
    let notes = v["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 4);
    // The manifest's onsets: 0.3 s, then every 1.5 s.
    for (i, n) in notes.iter().enumerate() {
        let start = n["start"].as_f64().unwrap();
        assert!(
            (start - (0.3 + 1.5 * i as f64)).abs() < 0.03,
            "note {i} starts at {start}"
        );
        assert!(n["end"].as_f64().unwrap() > start);
        assert_eq!(n["label"], "SopSax");
        let top = n["top"].as_array().unwrap();
        assert_eq!(top.len(), 3);
        let ps: Vec<f64> = top.iter().map(|t| t["p"].as_f64().unwrap()).collect();
        assert!(ps.windows(2).all(|w| w[0] >= w[1]));
    }
}

/// The committed fixtures (plain FluidR3 renders, one per class): every file is read as its class,
/// and most of its notes (the bundle of frame and note-level networks reads all 31; the frame-only
/// bundle before it read the Oboe fixture as Trumpet), each file as one segment.
#[test]
fn every_fixture_is_read_as_its_class() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/audio");
    let o = instclf(&["classify", "--json", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let files = v.as_array().unwrap();
    assert_eq!(files.len(), 10);
    let mut wrong_files = Vec::new();
    for f in files {
        let name = f["file"].as_str().unwrap();
        let class = Path::new(name).file_name().unwrap().to_str().unwrap();
        let class = class.split('.').next().unwrap();
        let notes = f["notes"].as_array().unwrap();
        let right = notes.iter().filter(|n| n["label"] == class).count();
        assert!(
            2 * right > notes.len(),
            "{name}: {right} of {} notes",
            notes.len()
        );
        if f["label"] != class {
            wrong_files.push(format!("{name} -> {}", f["label"]));
        }
        assert_eq!(f["segments"].as_array().unwrap().len(), 1, "{name}");
    }
    assert!(wrong_files.is_empty(), "{wrong_files:?}");
}

#[test]
fn table_output_names_file_notes_and_answer() {
    let f = fixture("Cello.Vib.ff.C3D3.aiff");
    let o = instclf(&["classify", f.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("Cello.Vib.ff.C3D3.aiff"));
    assert_eq!(
        out.lines()
            .filter(|l| l.contains("s ") && l.contains("Cello"))
            .count(),
        3
    );
    assert!(out.contains("=> Cello"));
}

#[test]
fn silence_has_no_notes_and_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("quiet.wav");
    write_wav(&p, 22050, &vec![0.0; 22050 * 2]);
    let o = instclf(&["classify", "--json", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = one_file(&o);
    assert_eq!(v["label"], "unknown");
    assert!(v["confidence"].is_null());
    assert_eq!(v["segments"].as_array().unwrap().len(), 0);
    assert_eq!(v["notes"].as_array().unwrap().len(), 0);
    let o = instclf(&["classify", p.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("no notes detected"));
}

#[test]
fn a_bad_file_is_reported_while_the_others_are_classified() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("Broken.wav");
    std::fs::write(&bad, b"this is not audio at all").unwrap();
    let good = fixture("SopSax.Vib.pp.C6Eb6.aiff");
    let o = instclf(&[
        "classify",
        "--json",
        bad.to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("Broken.wav"), "{err}");
    assert!(err.contains("1 of 2 files"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["label"], "SopSax");
}

#[test]
fn missing_input_and_missing_model_are_clear_errors() {
    let o = instclf(&["classify", "/no/such/file.aiff"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/no/such/file.aiff"));
    let f = fixture("Oboe.Vib.mf.C5D5.aiff");
    let o = instclf(&["classify", "--model", "/no/such/model", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/no/such/model"), "{}", stderr(&o));
}

#[test]
fn a_folder_is_reported_in_sorted_order_whatever_finishes_first() {
    let dir = tempfile::tempdir().unwrap();
    // Long and short files interleaved, so parallel workers finish out of order.
    let names = [
        "SopSax.Vib.pp.C6Eb6.aiff",
        "Cello.Vib.ff.C3D3.aiff",
        "Violin.Vib.mf.G4A4.aiff",
        "Flute.Vib.pp.E5Gb5.aiff",
        "Piano.NoVib.mf.C3D3.aiff",
    ];
    for (i, n) in names.iter().enumerate() {
        std::fs::copy(fixture(n), dir.path().join(format!("{i}_{n}"))).unwrap();
    }
    let o = instclf(&["classify", "--json", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let got: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap().to_string())
        .collect();
    let want: Vec<String> = (0..names.len())
        .map(|i| {
            dir.path()
                .join(format!("{i}_{}", names[i]))
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(got, want);
    for (f, n) in v.as_array().unwrap().iter().zip(names) {
        assert_eq!(f["label"], n.split('.').next().unwrap(), "{n}");
    }
}

#[test]
fn cuda_on_a_cpu_build_says_how_to_fix_it() {
    if cfg!(feature = "cuda") {
        return;
    }
    let f = fixture("Oboe.Vib.mf.C5D5.aiff");
    let o = instclf(&["classify", "--device", "cuda", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("built without CUDA"), "{e}");
    assert!(e.contains("build-cuda.sh"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
    assert!(o.stdout.is_empty());
}

/// Writes a tiny numpy-layout dataset without recipe (external MARL-like features).
fn external_dataset(dir: &Path) {
    fn npy(path: &Path, descr: &str, shape: &str, data: &[u8]) {
        let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        b.extend_from_slice(h.as_bytes());
        b.extend_from_slice(data);
        std::fs::write(path, b).unwrap();
    }
    let rows = 40;
    let mut x = Vec::new();
    let mut y = Vec::new();
    for r in 0..rows {
        let c = r % 2;
        for j in 0..120 {
            x.extend_from_slice(
                &((c as f32) * 2.0 + (j as f32 * 0.01) + r as f32 * 0.001).to_le_bytes(),
            );
        }
        y.extend_from_slice(&(c as i64).to_le_bytes());
    }
    for split in ["train", "test"] {
        npy(
            &dir.join(format!("uiowa_{split}_data.npy")),
            "<f4",
            &format!("({rows}, 120)"),
            &x,
        );
        npy(
            &dir.join(format!("uiowa_{split}_labels.npy")),
            "<i8",
            &format!("({rows},)"),
            &y,
        );
    }
}

#[test]
fn a_model_without_a_feature_recipe_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("marl");
    std::fs::create_dir(&data).unwrap();
    external_dataset(&data);
    let model = dir.path().join("model");
    let o = instclf(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "-o",
        model.to_str().unwrap(),
        "--epochs",
        "1",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let f = fixture("Oboe.Vib.mf.C5D5.aiff");
    let o = instclf(&[
        "classify",
        "--model",
        model.to_str().unwrap(),
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("no feature recipe"), "{err}");
    assert!(err.contains(model.to_str().unwrap()), "{err}");
}

/// The bundled ensemble's member folders, as committed.
fn bundled_member(i: usize) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("src/default_model/m{i}"))
}

/// The one file object of `classify --json` on one file: the output is always an array.
fn one_file(o: &std::process::Output) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let files = v.as_array().expect("classify --json prints an array");
    assert_eq!(files.len(), 1);
    files[0].clone()
}

/// Every member folder of the bundled ensemble, m1 first (build.rs embeds them all).
fn bundled_members() -> Vec<std::path::PathBuf> {
    let n = (1..).take_while(|&i| bundled_member(i).is_dir()).count();
    assert!(n > 0, "no src/default_model/m1");
    (1..=n).map(bundled_member).collect()
}

/// Per note, `label -> p` of every class (classify --json --top 100).
fn note_probabilities(v: &serde_json::Value) -> Vec<std::collections::BTreeMap<String, f64>> {
    v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            n["top"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    (
                        t["label"].as_str().unwrap().to_string(),
                        t["p"].as_f64().unwrap(),
                    )
                })
                .collect()
        })
        .collect()
}

#[test]
fn an_ensemble_averages_its_models_log_probabilities() {
    let f = fixture("Oboe.Vib.mf.C5D5.aiff");
    let run = |models: &[std::path::PathBuf]| {
        let mut args = vec!["classify", "--json", "--top", "100"];
        for m in models {
            args.extend(["--model", m.to_str().unwrap()]);
        }
        args.push(f.to_str().unwrap());
        let o = instclf(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        one_file(&o)
    };
    let members = bundled_members();
    // The bundled model is the ensemble of its committed members.
    let bundled = {
        let o = instclf(&["classify", "--json", "--top", "100", f.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        one_file(&o)
    };
    let ensemble = run(&members);
    assert_eq!(bundled, ensemble);
    // Each note's probabilities are the softmax of the mean of the members' log-probabilities,
    // weighted by each member's calibration `weight` (1 where it has none; the bundle weights
    // its frame networks 0.5); each member's own probabilities are a softmax of its mean frame
    // log-probabilities, so the normalising constants drop out.
    let alone: Vec<_> = members
        .iter()
        .map(|m| note_probabilities(&run(std::slice::from_ref(m))))
        .collect();
    let weights: Vec<f64> = members
        .iter()
        .map(|m| {
            let json: serde_json::Value =
                serde_json::from_slice(&std::fs::read(m.join("model.json")).unwrap()).unwrap();
            json["calibration"]["weight"].as_f64().unwrap_or(1.0)
        })
        .collect();
    assert!(
        weights.iter().any(|&w| w != 1.0),
        "the bundle weighs its members"
    );
    let together = note_probabilities(&ensemble);
    assert_eq!(together.len(), 3);
    for (n, p) in together.iter().enumerate() {
        let mean: Vec<(String, f64)> = p
            .keys()
            .map(|c| {
                let s: f64 = alone
                    .iter()
                    .zip(&weights)
                    .map(|(a, w)| w * a[n][c].max(1e-300).ln())
                    .sum();
                (c.clone(), s / weights.iter().sum::<f64>())
            })
            .collect();
        let max = mean.iter().map(|m| m.1).fold(f64::MIN, f64::max);
        let z: f64 = mean.iter().map(|m| (m.1 - max).exp()).sum();
        for (c, s) in &mean {
            let want = (s - max).exp() / z;
            assert!(
                (p[c] - want).abs() < 1e-3,
                "note {n} {c}: {} vs {want}",
                p[c]
            );
        }
    }
    // A model twice is that model.
    let one = run(&members[..1]);
    let twice = run(&[members[0].clone(), members[0].clone()]);
    for (a, b) in note_probabilities(&one)
        .iter()
        .zip(&note_probabilities(&twice))
    {
        for (c, p) in a {
            assert!((p - b[c]).abs() <= 1e-12 + 1e-9 * p, "{c}: {p} vs {}", b[c]);
        }
    }
}

#[test]
fn an_ensemble_of_models_that_disagree_on_classes_or_features_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let json = std::fs::read_to_string(bundled_member(1).join("model.json")).unwrap();
    let variant = |name: &str, from: &str, to: &str| {
        let d = dir.path().join(name);
        std::fs::create_dir(&d).unwrap();
        std::fs::copy(
            bundled_member(1).join("model.safetensors"),
            d.join("model.safetensors"),
        )
        .unwrap();
        assert!(json.contains(from), "{from}");
        std::fs::write(d.join("model.json"), json.replacen(from, to, 1)).unwrap();
        d
    };
    let classes = variant("classes", "\"Cello\",", "\"Violoncello\",");
    // Members may differ in their recipes (frame and note-level models) but not in the rate
    // the notes are found at.
    let recipe = variant("recipe", "\"sr\": 22050", "\"sr\": 16000");
    let f = fixture("Oboe.Vib.mf.C5D5.aiff");
    let m1 = bundled_member(1);
    for (other, needle) in [(&classes, "classes"), (&recipe, "must share a sample rate")] {
        let o = instclf(&[
            "classify",
            "--model",
            m1.to_str().unwrap(),
            "--model",
            other.to_str().unwrap(),
            f.to_str().unwrap(),
        ]);
        assert_failed(&o, needle);
        assert!(
            stderr(&o).contains(other.to_str().unwrap()),
            "{}",
            stderr(&o)
        );
        assert!(o.stdout.is_empty());
    }
}

/// A model folder whose model.json carries a calibration temperature T answers the same labels
/// with confidences softmax(log p / T) of its uncalibrated answers; T <= 0 is refused.
#[test]
fn a_calibration_temperature_softens_confidences_and_keeps_labels() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture("Clarinet.NoVib.ff.D4E4.aiff");
    let with_temperature = |t: Option<f64>, name: &str| {
        let m = dir.path().join(name);
        std::fs::create_dir(&m).unwrap();
        std::fs::copy(
            bundled_member(1).join("model.safetensors"),
            m.join("model.safetensors"),
        )
        .unwrap();
        let mut json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(bundled_member(1).join("model.json")).unwrap())
                .unwrap();
        match t {
            Some(t) => json["calibration"] = serde_json::json!({"temperature": t}),
            None => {
                json.as_object_mut().unwrap().remove("calibration");
            }
        }
        std::fs::write(m.join("model.json"), serde_json::to_vec(&json).unwrap()).unwrap();
        m
    };
    let run = |m: &Path| {
        let o = instclf(&[
            "classify",
            "--json",
            "--top",
            "100",
            "--model",
            m.to_str().unwrap(),
            f.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        one_file(&o)
    };
    let plain = run(&with_temperature(None, "plain"));
    let soft = run(&with_temperature(Some(3.0), "soft"));
    assert_eq!(plain["label"], soft["label"]);
    let (p, q) = (note_probabilities(&plain), note_probabilities(&soft));
    assert_eq!(p.len(), q.len());
    for (a, b) in p.iter().zip(&q) {
        let z: f64 = a.values().map(|v| v.max(1e-300).powf(1.0 / 3.0)).sum();
        for (c, v) in a {
            let want = v.max(1e-300).powf(1.0 / 3.0) / z;
            assert!((b[c] - want).abs() < 1e-6, "{c}: {} vs {want}", b[c]);
        }
        let best = |m: &std::collections::BTreeMap<String, f64>| {
            m.iter()
                .max_by(|x, y| x.1.total_cmp(y.1))
                .unwrap()
                .0
                .clone()
        };
        assert_eq!(best(a), best(b));
    }
    let refused = |model: &Path, msg: &str| {
        let o = instclf(&[
            "classify",
            "--model",
            model.to_str().unwrap(),
            f.to_str().unwrap(),
        ]);
        assert_failed(&o, msg);
    };
    refused(
        &with_temperature(Some(0.0), "bad"),
        "calibration temperature must be > 0",
    );
    let bad = with_temperature(Some(1.0), "bad-weight");
    let path = bad.join("model.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    json["calibration"]["weight"] = serde_json::json!(-1.0);
    std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
    refused(&bad, "calibration weight must be > 0, got -1");
    // An ensemble mixing a calibrated and an uncalibrated model is refused.
    let o = instclf(&[
        "classify",
        "--model",
        dir.path().join("plain").to_str().unwrap(),
        "--model",
        dir.path().join("soft").to_str().unwrap(),
        f.to_str().unwrap(),
    ]);
    assert_failed(&o, "calibrated together");
}

/// A reader that closes the pipe early (`instclf classify DIR | head -1`): exit 0, nothing on
/// stderr, no panic.
#[test]
fn a_closed_stdout_ends_quietly_with_exit_0() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/audio");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_instclf"))
        .args(["classify", dir.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
}

/// `classify EMPTYDIR` names the folder; `--top 0` is refused, naming the option.
#[test]
fn an_empty_folder_and_top_zero_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let o = instclf(&["classify", dir.path().to_str().unwrap()]);
    assert_failed(&o, dir.path().to_str().unwrap());
    assert!(
        stderr(&o).contains("no audio files in this folder"),
        "{}",
        stderr(&o)
    );
    let f = fixture("SopSax.Vib.pp.C6Eb6.aiff");
    let o = instclf(&["classify", "--top", "0", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(stderr(&o).contains("--top"), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
}

/// `-` reads the recording from standard input; an empty stdin is one clear error.
#[test]
fn a_dash_reads_the_recording_from_standard_input() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let run = |bytes: &[u8]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_instclf"))
            .args(["classify", "--json", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(bytes).unwrap();
        child.wait_with_output().unwrap()
    };
    let sax = std::fs::read(fixture("SopSax.Vib.pp.C6Eb6.aiff")).unwrap();
    let o = run(&sax);
    let v = one_file(&o);
    assert_eq!(v["label"], "SopSax");
    assert_eq!(v["file"], "-");
    let o = run(b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("<stdin>"), "{}", stderr(&o));
}

/// `--min-confidence`: an answer whose best class is less probable than P is `unknown`, with the
/// best class still first in `top` and `confidence` its probability; P outside 0..1 is refused.
#[test]
fn min_confidence_turns_doubtful_answers_unknown() {
    let f = fixture("SopSax.Vib.pp.C6Eb6.aiff");
    let f = f.to_str().unwrap();
    let o = instclf(&["classify", "--json", "--min-confidence", "1", f]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = one_file(&o);
    assert_eq!(v["label"], "unknown");
    assert_eq!(v["top"][0]["label"], "SopSax");
    assert_eq!(v["confidence"], v["top"][0]["p"]);
    for n in v["notes"].as_array().unwrap() {
        assert_eq!(n["label"], "unknown", "{n}");
        assert_eq!(n["top"][0]["label"], "SopSax", "{n}");
    }
    for s in v["segments"].as_array().unwrap() {
        assert_eq!(s["label"], "unknown", "{s}");
    }
    let o = instclf(&["classify", "--min-confidence", "1", f]);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("=> unknown (") && table.contains("SopSax"),
        "{table}"
    );
    // The default (0) keeps the answer.
    assert_eq!(
        one_file(&instclf(&["classify", "--json", f]))["label"],
        "SopSax"
    );
    for bad in ["1.5", "-0.1", "x"] {
        let o = instclf(&["classify", &format!("--min-confidence={bad}"), f]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {o:?}");
        assert!(stderr(&o).contains("--min-confidence"), "{}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
}
/// The bundled model has an `unknown` class, trained on other General MIDI programs, drum kits,
/// speech, noise and tones of the training sources: the fixtures/unknown recordings (a sentence,
/// pink noise, a sine sweep and a nylon guitar, none of them in its training data) are answered
/// unknown, and the instrument fixtures are not.
#[test]
fn the_bundled_model_answers_unknown_for_what_is_no_instrument() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/unknown");
    let o = instclf(&["classify", "--json", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let files = v.as_array().unwrap();
    assert_eq!(files.len(), 4);
    let wrong: Vec<String> = files
        .iter()
        .filter(|f| f["label"] != "unknown")
        .map(|f| format!("{} -> {}", f["file"], f["label"]))
        .collect();
    assert!(wrong.is_empty(), "{wrong:?}");
}

/// The calibration's `unknown_bias` (nats taken from the `unknown` class's calibrated score) moves
/// the line between unknown and the instruments: a huge bias turns the speech fixture into an
/// instrument, and with none it stays unknown with a probability at least as high as the bundle's.
#[test]
fn the_unknown_bias_moves_answers_between_unknown_and_the_instruments() {
    let dir = tempfile::tempdir().unwrap();
    let f =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/unknown/unknown.speech-fixture.aiff");
    let with_bias = |bias: f64| {
        let mut args = vec!["classify".to_string(), "--json".to_string()];
        for (i, member) in bundled_members().iter().enumerate() {
            let m = dir.path().join(format!("b{bias}-m{i}"));
            std::fs::create_dir(&m).unwrap();
            std::fs::copy(
                member.join("model.safetensors"),
                m.join("model.safetensors"),
            )
            .unwrap();
            let mut json: serde_json::Value =
                serde_json::from_slice(&std::fs::read(member.join("model.json")).unwrap()).unwrap();
            json["calibration"]["unknown_bias"] = serde_json::json!(bias);
            std::fs::write(m.join("model.json"), serde_json::to_vec(&json).unwrap()).unwrap();
            args.extend(["--model".to_string(), m.display().to_string()]);
        }
        args.push(f.display().to_string());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = instclf(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        one_file(&o)
    };
    let none = with_bias(0.0);
    assert_eq!(none["label"], "unknown");
    let bundled = one_file(&instclf(&["classify", "--json", f.to_str().unwrap()]));
    assert!(none["confidence"].as_f64() >= bundled["confidence"].as_f64());
    let huge = with_bias(1000.0);
    assert_ne!(huge["label"], "unknown", "{huge}");
    assert_eq!(huge["top"].as_array().unwrap().len(), 1);
}
