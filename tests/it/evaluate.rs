//! End-to-end tests of `instclf evaluate --audio`: scoring the bundled model (or an ensemble of
//! its members) on labelled recordings agrees with what `classify --json` answers on the same
//! files, and the calibration figures are consistent with each other.

use crate::common::{self, assert_failed, fixture, instclf, s, stderr, stdout, write_wav};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/audio")
}

fn json(o: &std::process::Output) -> Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_slice(&o.stdout).expect("one JSON value on stdout")
}

/// What `classify --json ARGS` implies: (notes, correct notes, files, correct files) and every
/// note's (confidence, correct), the truth of a file being its name's first token.
struct Implied {
    notes: usize,
    notes_ok: usize,
    files: usize,
    files_ok: usize,
    confidences: Vec<(f64, bool)>,
    /// Files in which classify found no note.
    no_notes: Vec<String>,
}

fn implied_by_classify(args: &[&str]) -> Implied {
    let mut argv = vec!["classify", "--json"];
    argv.extend_from_slice(args);
    let v = json(&instclf(&argv));
    let Value::Array(files) = v else {
        panic!("classify --json prints an array")
    };
    let mut r = Implied {
        notes: 0,
        notes_ok: 0,
        files: files.len(),
        files_ok: 0,
        confidences: Vec::new(),
        no_notes: Vec::new(),
    };
    for f in &files {
        let name = Path::new(f["file"].as_str().unwrap());
        let truth = name.file_name().unwrap().to_str().unwrap();
        let truth = truth.split('.').next().unwrap();
        r.files_ok += usize::from(f["label"] == truth);
        if f["notes"].as_array().unwrap().is_empty() {
            r.no_notes.push(name.display().to_string());
        }
        for n in f["notes"].as_array().unwrap() {
            let ok = n["label"] == truth;
            r.notes += 1;
            r.notes_ok += usize::from(ok);
            r.confidences.push((n["confidence"].as_f64().unwrap(), ok));
        }
    }
    r
}

/// ECE over 15 equal-width bins `((m-1)/15, m/15]`, written out here independently of the
/// library.
fn ece_15(conf: &[(f64, bool)]) -> f64 {
    let mut bins = vec![(0usize, 0f64, 0usize); 15];
    for &(c, ok) in conf {
        let b = ((c * 15.0).ceil() as usize).clamp(1, 15) - 1;
        bins[b].0 += 1;
        bins[b].1 += c;
        bins[b].2 += usize::from(ok);
    }
    let n = conf.len() as f64;
    bins.iter()
        .filter(|b| b.0 > 0)
        .map(|&(k, sum, right)| k as f64 / n * (right as f64 / k as f64 - sum / k as f64).abs())
        .sum()
}

/// Checks `e` (evaluate --json) against what classify implies, and its internal consistency.
fn assert_agrees(e: &Value, c: &Implied) {
    assert_eq!(e["files"].as_u64().unwrap() as usize, c.files);
    assert_eq!(e["notes"].as_u64().unwrap() as usize, c.notes);
    assert!(c.notes > 0, "the recordings should have notes");
    let note_acc = c.notes_ok as f64 / c.notes as f64;
    let file_acc = c.files_ok as f64 / c.files as f64;
    assert!((e["note_accuracy"].as_f64().unwrap() - note_acc).abs() < 1e-12);
    assert!((e["file_accuracy"].as_f64().unwrap() - file_acc).abs() < 1e-12);
    let no_notes: Vec<&str> = e["no_notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(no_notes, c.no_notes);

    // ECE: within [0, 1], as computed here from classify's confidences, and as the reliability
    // table implies.
    let ece = e["ece"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&ece), "ece {ece}");
    assert!((ece - ece_15(&c.confidences)).abs() < 1e-9, "ece {ece}");
    let bins = e["reliability"].as_array().unwrap();
    assert_eq!(bins.len(), 15);
    let counted: u64 = bins.iter().map(|b| b["count"].as_u64().unwrap()).sum();
    assert_eq!(counted as usize, c.notes);
    let mut from_table = 0.0;
    let mut right = 0.0;
    for b in bins {
        let k = b["count"].as_u64().unwrap() as f64;
        if k == 0.0 {
            assert!(b["accuracy"].is_null() && b["mean_confidence"].is_null());
            continue;
        }
        let (acc, conf) = (
            b["accuracy"].as_f64().unwrap(),
            b["mean_confidence"].as_f64().unwrap(),
        );
        let (lo, hi) = (b["lo"].as_f64().unwrap(), b["hi"].as_f64().unwrap());
        assert!(conf > lo - 1e-12 && conf <= hi + 1e-12, "{b}");
        from_table += k / c.notes as f64 * (acc - conf).abs();
        right += acc * k;
    }
    assert!((ece - from_table).abs() < 1e-9);
    assert!((right - c.notes_ok as f64).abs() < 1e-6);

    // The confusion matrix and per-class figures count the same notes.
    let confusion = e["confusion"].as_array().unwrap();
    let classes = e["classes"].as_array().unwrap();
    assert_eq!(confusion.len(), classes.len());
    let (mut total, mut diagonal) = (0, 0);
    for (i, row) in confusion.iter().enumerate() {
        for (j, v) in row.as_array().unwrap().iter().enumerate() {
            total += v.as_u64().unwrap();
            if i == j {
                diagonal += v.as_u64().unwrap();
            }
        }
    }
    assert_eq!((total as usize, diagonal as usize), (c.notes, c.notes_ok));
    let support: u64 = e["per_class"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["support"].as_u64().unwrap())
        .sum();
    assert_eq!(support as usize, c.notes);
    // Each "Truth->Pred:count" names an off-diagonal cell of the matrix with that count.
    let class_index = |name: &str| classes.iter().position(|c| c == name).unwrap();
    let wrong_notes = c.notes - c.notes_ok;
    let mut listed = 0;
    for t in e["top_confusions"].as_array().unwrap() {
        let t = t.as_str().unwrap();
        let (pair, count) = t.rsplit_once(':').unwrap();
        let (truth, pred) = pair.split_once("->").unwrap();
        let (i, j) = (class_index(truth), class_index(pred));
        assert_ne!(i, j, "{t}");
        assert_eq!(confusion[i][j].as_u64().unwrap().to_string(), count, "{t}");
        listed += count.parse::<usize>().unwrap();
    }
    assert!(listed <= wrong_notes);
}

#[test]
fn bundled_model_on_the_fixtures_agrees_with_classify() {
    let dir = fixtures_dir();
    let c = implied_by_classify(&[s(&dir)]);
    assert_eq!(c.files, 10);
    let e = json(&instclf(&[
        "evaluate",
        "--audio",
        s(&dir),
        "--label-from",
        "name",
        "--json",
    ]));
    assert_agrees(&e, &c);
    assert_eq!(e["models"], serde_json::json!(["bundled"]));
}

#[test]
fn an_ensemble_of_two_members_on_folders_labelled_by_folder_agrees_with_classify() {
    // Two recordings in folders named after their classes, under file names that say nothing.
    let tmp = tempfile::tempdir().unwrap();
    let mut classify_args = Vec::new();
    for (class, f) in [
        ("Flute", "Flute.Vib.pp.E5Gb5.aiff"),
        ("Trumpet", "Trumpet.NoVib.mf.E4Gb4.aiff"),
    ] {
        let d = tmp.path().join(class);
        std::fs::create_dir(&d).unwrap();
        std::fs::copy(fixture(f), d.join("take1.aiff")).unwrap();
        // classify is given the original files, whose names carry the class.
        classify_args.push(fixture(f));
    }
    let members: Vec<PathBuf> = ["m1", "m2"]
        .iter()
        .map(|m| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("src/default_model")
                .join(m)
        })
        .collect();
    let mut args: Vec<&str> = Vec::new();
    for m in &members {
        args.extend(["--model", s(m)]);
    }
    let mut cargs = args.clone();
    cargs.extend(classify_args.iter().map(|p| s(p)));
    let c = implied_by_classify(&cargs);
    let mut eargs = vec![
        "evaluate",
        "--audio",
        s(tmp.path()),
        "--label-from",
        "folder",
    ];
    eargs.extend(&args);
    eargs.push("--json");
    let e = json(&instclf(&eargs));
    assert_agrees(&e, &c);
    let truths: Vec<&str> = e["per_file"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["truth"].as_str().unwrap())
        .collect();
    assert_eq!(truths, ["Flute", "Trumpet"]);
    assert_eq!(e["models"].as_array().unwrap().len(), 2);
}

#[test]
fn a_recording_without_notes_is_a_wrong_file_and_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let oboe = "Oboe.Vib.mf.C5D5.aiff";
    std::fs::copy(fixture(oboe), tmp.path().join(oboe)).unwrap();
    let silent = tmp.path().join("Piano.silence.wav");
    write_wav(&silent, 22050, &vec![0.0; 22050]);
    let c = implied_by_classify(&[s(tmp.path())]);
    assert_eq!(c.files, 2);
    let e = json(&instclf(&["evaluate", "--audio", s(tmp.path()), "--json"]));
    assert_agrees(&e, &c);
    assert_eq!(c.no_notes, [s(&silent)]);
    // The silent file is wrong whatever the Oboe gets: at most one of two files is right.
    assert!(e["file_accuracy"].as_f64().unwrap() <= 0.5);
}

#[test]
fn the_table_names_every_figure() {
    let f = fixture("Cello.Vib.ff.C3D3.aiff");
    let o = instclf(&["evaluate", "--audio", s(&f)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for needle in [
        "note accuracy",
        "file accuracy",
        "expected calibration error",
        "confusion matrix",
        "reliability",
        "macro avg",
        "Cello",
    ] {
        assert!(out.contains(needle), "'{needle}' missing from:\n{out}");
    }
    // 15 reliability rows, one per bin.
    let rows = out
        .lines()
        .filter(|l| l.trim_start().starts_with("0.") || l.trim_start().starts_with("1."))
        .count();
    assert_eq!(rows, 15, "{out}");
}

#[test]
fn a_bad_recording_among_good_ones_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("Violin.Vib.mf.G4A4.aiff"),
        tmp.path().join("Violin.a.aiff"),
    )
    .unwrap();
    let bad = tmp.path().join("Violin.b.wav");
    std::fs::write(&bad, b"not audio at all").unwrap();
    let o = instclf(&["evaluate", "--audio", s(tmp.path())]);
    assert_failed(&o, s(&bad));
}

/// `scripts/crossval.sh` with the test build: two "sources" (the fixtures twice, under other
/// names), one fold each with a frame and a note-level network, a table whose mean and worst
/// follow from the folds, and a rerun that resumes (trains nothing again) with the same result.
#[test]
fn crossval_script_scores_each_held_out_source_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".aiff"))
        .collect();
    let names: Vec<&str> = fixtures.iter().map(String::as_str).collect();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir(&a).unwrap();
    std::fs::create_dir(&b).unwrap();
    let one = common::audio_dir(&a, &names);
    let two = common::audio_dir(&b, &names);
    let out = dir.path().join("cv");
    let recipe = dir.path().join("recipe.toml");
    std::fs::write(
        &recipe,
        "[[member]]\nname = \"frame\"\ntrain = { epochs = 2 }\n\n\
         [[member]]\nname = \"note\"\nfeatures = { pool = {} }\ntrain = { epochs = 2 }\n",
    )
    .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/crossval.sh");
    let run = || {
        std::process::Command::new("bash")
            .arg(&script)
            .args(["-o", s(&out), "--bin", env!("CARGO_BIN_EXE_instclf")])
            .args(["--recipe", s(&recipe)])
            .arg(format!("one={}", s(&one)))
            .arg(format!("two={}", s(&two)))
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stderr(&first).contains("== fold two: train frame sigmoid seed 0"),
        "{}",
        stderr(&first)
    );
    assert!(
        stderr(&first).contains("== fold two: train note sigmoid seed 0"),
        "{}",
        stderr(&first)
    );
    for fold in ["one", "two"] {
        let m = out.join("folds").join(fold).join("note-sigmoid-0");
        assert!(m.join("model.json").is_file(), "{}", m.display());
    }
    let cv: Value =
        serde_json::from_slice(&std::fs::read(out.join("crossval.json")).unwrap()).unwrap();
    assert_eq!(
        cv["networks"],
        serde_json::json!(["frame sigmoid 0", "note sigmoid 0"])
    );
    let folds = cv["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 2);
    let acc: Vec<f64> = folds
        .iter()
        .map(|f| f["note_accuracy"].as_f64().unwrap())
        .collect();
    for (f, held) in folds.iter().zip(["one", "two"]) {
        assert_eq!(f["held_out"], held);
        assert_eq!(f["files"], 20);
        assert!(f["notes"].as_u64().unwrap() > 0);
    }
    let mean = cv["mean_note_accuracy"].as_f64().unwrap();
    assert!((mean - (acc[0] + acc[1]) / 2.0).abs() < 1e-12);
    assert_eq!(
        cv["worst"]["note_accuracy"].as_f64().unwrap(),
        acc[0].min(acc[1])
    );
    let table = std::fs::read_to_string(out.join("crossval.md")).unwrap();
    assert!(
        table.contains("| one |") && table.contains("| two |"),
        "{table}"
    );
    // scripts/combine-folds.py: a run combined with itself (any weights) answers every note as
    // the run does, so its table repeats the folds' note accuracy from `evaluate --audio`.
    let combine = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/combine-folds.py");
    let c = std::process::Command::new("python3")
        .arg(&combine)
        .args([format!("{}:1", s(&out)), format!("{}:3", s(&out))])
        .arg("--json")
        .output()
        .unwrap();
    assert!(c.status.success(), "{}", stderr(&c));
    let combined: Value = serde_json::from_slice(&c.stdout).unwrap();
    for (f, held) in folds.iter().zip(["one", "two"]) {
        let got = combined["ensemble"][held].as_f64().unwrap();
        assert!(
            (got - f["note_accuracy"].as_f64().unwrap()).abs() < 1e-12,
            "{held}: {got}"
        );
    }
    assert!((combined["ensemble"]["mean"].as_f64().unwrap() - mean).abs() < 1e-12);
    // scripts/context-agreement.py: each fold's networks on its held-out source, every note cut
    // out alone; its in-recording accuracy is the fold's, and a cut is found for every note.
    let ctx = dir.path().join("ctx");
    let agreement = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/context-agreement.py");
    let c = std::process::Command::new("python3")
        .arg(&agreement)
        .args(["-o", s(&ctx), "--bin", env!("CARGO_BIN_EXE_instclf")])
        .args(["--run", s(&out), "--json"])
        .arg(format!("one={}", s(&one)))
        .arg(format!("two={}", s(&two)))
        .output()
        .unwrap();
    assert!(c.status.success(), "{}", stderr(&c));
    let ca: Value = serde_json::from_slice(&c.stdout).unwrap();
    let rows = ca["sources"].as_array().unwrap();
    for (row, f) in rows.iter().zip(folds) {
        assert_eq!(row["source"], f["held_out"]);
        assert_eq!(row["notes"], f["notes"]);
        assert_eq!(row["found_alone"], f["notes"], "{row}");
        let got = row["note_accuracy_in_recording"].as_f64().unwrap();
        assert!((got - f["note_accuracy"].as_f64().unwrap()).abs() < 1e-12);
        let agree = row["agreement"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&agree), "{row}");
    }
    let cuts = std::fs::read_dir(ctx.join("one/cuts")).unwrap().count();
    assert_eq!(cuts as u64, folds[0]["notes"].as_u64().unwrap());
    let bad = std::process::Command::new("python3")
        .arg(&agreement)
        .args(["-o", s(&ctx), "--bin", env!("CARGO_BIN_EXE_instclf")])
        .args(["--run", s(&out)])
        .arg(format!("three={}", s(&one)))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("'three'"), "{}", stderr(&bad));
    let again = run();
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        !stderr(&again).contains("=="),
        "a rerun trains nothing: {}",
        stderr(&again)
    );
    let cv2: Value =
        serde_json::from_slice(&std::fs::read(out.join("crossval.json")).unwrap()).unwrap();
    assert_eq!(cv, cv2);
}

/// Bad sources: one clear line naming the source or folder, exit 2, before anything is built.
#[test]
fn crossval_script_refuses_bad_sources() {
    let dir = tempfile::tempdir().unwrap();
    let full = common::audio_dir(
        dir.path(),
        &["Oboe.Vib.mf.C5D5.aiff", "Flute.Vib.pp.E5Gb5.aiff"],
    );
    let oboe = dir.path().join("oboe");
    std::fs::create_dir(&oboe).unwrap();
    std::fs::copy(fixture("Oboe.Vib.mf.C5D5.aiff"), oboe.join("Oboe.a.aiff")).unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = dir.path().join("cv");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/crossval.sh");
    let cases = [
        (
            format!("x={}", s(&full)),
            format!("x={}", s(&full)),
            "source name 'x' given twice",
        ),
        (
            format!("x={}", s(&empty)),
            format!("y={}", s(&full)),
            "no audio files in this folder",
        ),
        (
            format!("x={}", s(&oboe)),
            format!("y={}", s(&full)),
            "has one class only (Oboe)",
        ),
        (
            format!("x={}", s(&full)),
            format!("y={}/nope", s(&full)),
            "no such folder",
        ),
    ];
    for (one, two, needle) in cases {
        let o = std::process::Command::new("bash")
            .arg(&script)
            .args([
                "-o",
                s(&out),
                "--bin",
                env!("CARGO_BIN_EXE_instclf"),
                &one,
                &two,
            ])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{one} {two}: {}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(
            err.starts_with("crossval.sh: error: ") && err.contains(needle),
            "{err}"
        );
        assert!(!out.exists(), "nothing written for {one} {two}");
    }
}

/// Recordings labelled `unknown` are accepted whatever the model's classes: with
/// `--min-confidence 1` every answer is unknown, so the unknown recording is recognised and every
/// instrument note is turned unknown.
#[test]
fn unknown_recordings_and_notes_turned_unknown_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("Flute.Vib.pp.E5Gb5.aiff"),
        dir.path().join("unknown.copy.aiff"),
    )
    .unwrap();
    std::fs::copy(
        fixture("Flute.Vib.pp.E5Gb5.aiff"),
        dir.path().join("Flute.x.aiff"),
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
    let e = json(&instclf(&[
        "evaluate",
        "--audio",
        d,
        "--json",
        "--min-confidence",
        "1",
    ]));
    assert_eq!(e["unknown_files"], 1);
    assert_eq!(e["unknown_recognised"], 1.0);
    assert_eq!(e["notes_turned_unknown"], 1.0);
    assert_eq!(e["file_accuracy"], 0.5);
    let classes: Vec<&str> = e["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        classes.contains(&"unknown") && classes.contains(&"Flute"),
        "{classes:?}"
    );
    // Without the threshold the Flute recording is right and its notes stay instruments.
    let e = json(&instclf(&["evaluate", "--audio", d, "--json"]));
    assert_eq!(e["notes_turned_unknown"], 0.0);
    assert!(e["per_file"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["truth"] == "Flute" && f["label"] == "Flute"));
    let o = instclf(&["evaluate", "--audio", d, "--min-confidence", "2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--min-confidence"), "{}", stderr(&o));
}
