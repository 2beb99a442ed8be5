//! Note-level models end to end: `dataset build --note-stats` writes one row per note, `train`
//! trains on it, `classify` answers once per note, a note's answer does not depend on the other
//! notes of its recording, and frame and note-level models form one ensemble.

use crate::common::{audio_dir, dataset_build, fixture, instclf, mono_22050, s, stderr, write_wav};
use serde_json::Value;
use std::path::{Path, PathBuf};

const CLASSES: [&str; 3] = [
    "Cello.Vib.ff.C3D3.aiff",
    "Flute.Vib.pp.E5Gb5.aiff",
    "Trumpet.NoVib.mf.E4Gb4.aiff",
];

fn train(ds: &Path, out: &Path) {
    let o = instclf(&[
        "train",
        "--data",
        s(ds),
        "-o",
        s(out),
        "--epochs",
        "40",
        "--quiet",
        "--seed",
        "3",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

fn classify(models: &[&PathBuf], file: &Path) -> Value {
    let mut args = vec!["classify", "--json", "--top", "3"];
    for m in models {
        args.extend(["--model", s(m)]);
    }
    args.push(s(file));
    let o = instclf(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v[0].clone()
}

#[test]
fn a_note_level_dataset_has_one_row_per_note_and_its_model_classifies() {
    let tmp = tempfile::tempdir().unwrap();
    let audio = audio_dir(tmp.path(), &CLASSES);
    let ds = tmp.path().join("notes");
    let o = dataset_build(&audio, &ds, &["--note-stats"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let info = instclf(&["dataset", "info", "--json", s(&ds)]);
    let v: Value = serde_json::from_slice(&info.stdout).unwrap();
    // 40 MFCCs + deltas = 120 per frame; mean, std and attack: 360 per note.
    assert_eq!(v["features"], 360);
    let notes = std::fs::read_to_string(ds.join("notes.csv")).unwrap();
    let train_notes = notes.lines().filter(|l| l.starts_with("train,")).count();
    assert_eq!(v["train_rows"].as_u64().unwrap() as usize, train_notes);
    let recipe: Value =
        serde_json::from_slice(&std::fs::read(ds.join("recipe.json")).unwrap()).unwrap();
    assert_eq!(recipe["pool"]["attack_frames"], 4);

    let model = tmp.path().join("note-model");
    train(&ds, &model);
    for f in CLASSES {
        let r = classify(&[&model], &fixture(f));
        let class = f.split('.').next().unwrap();
        assert_eq!(r["label"], class, "{f}");
        assert_eq!(r["notes"].as_array().unwrap().len(), 3);
    }

    // A frame model and the note-level model together: one ensemble, one answer per note.
    let frames = tmp.path().join("frames");
    let o = dataset_build(&audio, &frames, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let frame_model = tmp.path().join("frame-model");
    train(&frames, &frame_model);
    let flute = fixture("Flute.Vib.pp.E5Gb5.aiff");
    let both = classify(&[&frame_model, &model], &flute);
    assert_eq!(both["label"], "Flute");
    // The ensemble's note score is the mean of its members' log-probabilities.
    let alone = [
        classify(&[&frame_model], &flute),
        classify(&[&model], &flute),
    ];
    let p = |r: &Value, n: usize, c: &str| {
        r["notes"][n]["top"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["label"] == c)
            .map_or(0.0, |t| t["p"].as_f64().unwrap())
    };
    for n in 0..3 {
        let (a, b) = (p(&alone[0], n, "Flute"), p(&alone[1], n, "Flute"));
        if a > 0.99 && b > 0.99 {
            assert!(p(&both, n, "Flute") > 0.99);
        }
    }
}

/// The example: a note cut out of its recording, or played inside another run of
/// notes, is read the same by a note-level model (its vector holds only its own frames).
#[test]
fn a_notes_answer_does_not_depend_on_the_other_notes() {
    let tmp = tempfile::tempdir().unwrap();
    let audio = audio_dir(tmp.path(), &CLASSES);
    let ds = tmp.path().join("notes");
    assert!(dataset_build(&audio, &ds, &["--note-stats"])
        .status
        .success());
    let model = tmp.path().join("note-model");
    train(&ds, &model);
    let trumpet = fixture("Trumpet.NoVib.mf.E4Gb4.aiff");
    let whole = classify(&[&model], &trumpet);
    let y = mono_22050(&trumpet, tmp.path());
    let n0 = &whole["notes"][1];
    // Cut the second note out with 1 s of silence on either side, at a whole number of hops
    // (512 samples) so the frames line up with the original's.
    let (start, end) = (n0["start"].as_f64().unwrap(), n0["end"].as_f64().unwrap());
    let hop = 512usize;
    let a = ((start - 0.3) * 22050.0) as usize / hop * hop;
    let b = (((end + 0.3) * 22050.0) as usize).min(y.len());
    let mut cut = vec![0f32; 22050 / hop * hop];
    cut.extend(&y[a..b]);
    cut.extend(vec![0f32; 22050]);
    // ... and the same note after a cello note instead of its own neighbours.
    let cello = mono_22050(&fixture("Cello.Vib.ff.C3D3.aiff"), tmp.path());
    let mut mixed = cello[..(cello.len() / hop) * hop].to_vec();
    mixed.extend(&y[a..b]);
    for (name, y) in [("alone.wav", cut), ("after-cello.wav", mixed)] {
        let p = tmp.path().join(name);
        write_wav(&p, 22050, &y);
        let r = classify(&[&model], &p);
        let notes = r["notes"].as_array().unwrap();
        let same = notes
            .iter()
            .find(|n| n["label"] == n0["label"] && n["confidence"].as_f64().is_some())
            .unwrap_or_else(|| panic!("{name}: no note read as {}: {r}", n0["label"]));
        let (c0, c1) = (
            n0["confidence"].as_f64().unwrap(),
            same["confidence"].as_f64().unwrap(),
        );
        assert!((c0 - c1).abs() < 0.05, "{name}: {c0} vs {c1}");
    }
}
