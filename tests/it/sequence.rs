//! Sequence models end to end: `dataset build --clips` (digitised waveform and mel frames),
//! `train --arch dense|rnn|gru`, `predict`, and the bad inputs (0 bits, clips longer than the
//! audio, frame data given to a recurrent model and clips to an MLP, clips of another length).
//! Sequences are kept tiny (50-200 steps) so the tests stay quick.

use crate::common::{assert_failed, audio_dir, dataset_build as build, instclf, stderr, stdout};
use instclf_model::dataset::{Dataset, Split};
use instclf_model::sequence::{
    fit_sequence, SeqArch, SeqFitOptions, SequenceData, SequenceModel, SequenceSpec, SEQUENCE_JSON,
};
use instclf_model::train::Validation;
use std::path::PathBuf;

/// Two classes, two 4.8 s recordings each.
const CLASSES: [&str; 2] = ["Cello.Vib.ff.C3D3.aiff", "Flute.Vib.pp.E5Gb5.aiff"];

#[test]
fn waveform_clips_train_gru_and_predict() {
    let tmp = tempfile::tempdir().unwrap();
    let audio = audio_dir(tmp.path(), &CLASSES);
    let ds = tmp.path().join("wave");
    // 0.25 s clips at 200 Hz: 50 steps of 3-bit levels; 19 clips per 4.8 s recording.
    let o = build(
        &audio,
        &ds,
        &["--clips", "0.25", "--rate", "200", "--bits", "3"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("50 steps x 1 values"), "{}", stdout(&o));
    let spec: SequenceSpec =
        serde_json::from_slice(&std::fs::read(ds.join(SEQUENCE_JSON)).unwrap()).unwrap();
    assert_eq!((spec.steps, spec.step_values, spec.bits), (50, 1, Some(3)));
    let d = SequenceData::load(&ds).unwrap();
    assert_eq!(d.data.n_features, 50);
    assert_eq!(d.data.train.rows(), 38);
    assert_eq!(d.data.test.rows(), 38);
    assert!(d
        .data
        .train
        .x
        .iter()
        .all(|&v| (0.0..8.0).contains(&v) && v.fract() == 0.0));
    // Both extremes of the per-file normalisation occur.
    assert!(d.data.train.x.contains(&0.0) && d.data.train.x.contains(&7.0));

    let model = tmp.path().join("gru");
    let o = instclf(&[
        "train",
        "--data",
        ds.to_str().unwrap(),
        "-o",
        model.to_str().unwrap(),
        "--arch",
        "gru",
        "--units",
        "2",
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--json",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    // GRU(2) on 8 one-hot levels: 3*2*(8+2+2) = 72, then Dense(50*2 -> 2) = 202.
    assert_eq!(v["parameters"], 72 + 202);
    assert_eq!(v["epochs"], 2);
    for part in ["train", "validation"] {
        let e = &v[part];
        let acc = e["accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc), "{part}: {e}");
        assert_eq!(e["per_class"].as_array().unwrap().len(), 2);
        assert!(e["macro_precision"].as_f64().unwrap().is_finite());
        assert!(e["macro_recall"].as_f64().unwrap().is_finite());
    }
    assert_eq!(v["validation"]["rows"], 38);
    // The fields `train --json` shares with dense models (tests/it/train.rs).
    crate::common::assert_train_json_schema(&v);
    assert_eq!(v["test"]["rows"], 38);
    let m = SequenceModel::load(&model).unwrap();
    assert_eq!(m.history.len(), 2);
    assert_eq!(m.spec, spec);

    // predict: on the dataset's test rows and on a recording (cut into the same clips).
    let o = instclf(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--data",
        ds.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let preds = v["predictions"].as_array().unwrap();
    assert_eq!(preds.len(), 38);
    for p in preds {
        let probs = p["probabilities"].as_object().unwrap();
        let s: f64 = probs.values().map(|x| x.as_f64().unwrap()).sum();
        assert!((s - 1.0).abs() < 1e-4, "{p}");
        assert!(probs.contains_key(p["predicted"].as_str().unwrap()));
    }
    let file = audio.join("Cello.a.aiff");
    let o = instclf(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--data",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("id"), "{out}");
    assert!(
        out.contains("p(Cello)") && out.contains("p(Flute)"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 1 + 19, "{out}");
    assert!(out.contains("Cello.a.aiff@4.500s"), "{out}");

    // A frame model command refuses the sequence model; a dataset of other clips is refused.
    let o = instclf(&[
        "evaluate",
        "--model",
        model.to_str().unwrap(),
        "--data",
        ds.to_str().unwrap(),
    ]);
    assert_failed(&o, "is a sequence model");
    let other = tmp.path().join("wave-other");
    let o = build(
        &audio,
        &other,
        &["--clips", "0.5", "--rate", "200", "--bits", "3"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = instclf(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--data",
        other.to_str().unwrap(),
    ]);
    assert_failed(&o, "100 steps x 1 values");
}

#[test]
fn mel_clips_and_dense_baseline() {
    let tmp = tempfile::tempdir().unwrap();
    let audio = audio_dir(tmp.path(), &CLASSES);
    let ds = tmp.path().join("mel");
    // 0.5 s at 22050 Hz, hop 512: 22 frames of 13 MFCCs (no deltas).
    let o = build(
        &audio,
        &ds,
        &[
            "--clips",
            "0.5",
            "--input",
            "mel",
            "--n-mfcc",
            "13",
            "--no-deltas",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let d = SequenceData::load(&ds).unwrap();
    assert_eq!(
        (d.spec.steps, d.spec.step_values, d.spec.bits),
        (22, 13, None)
    );
    assert!(d.data.recipe.is_some());
    for arch in ["dense", "rnn"] {
        let model = tmp.path().join(arch);
        let o = instclf(&[
            "train",
            "--data",
            ds.to_str().unwrap(),
            "-o",
            model.to_str().unwrap(),
            "--arch",
            arch,
            "--units",
            "4",
            "--states",
            "last",
            "--head",
            "8",
            "--dropout",
            "0.2",
            "--epochs",
            "3",
            "--batch-size",
            "4",
        ]);
        assert!(o.status.success(), "{arch}: {}", stderr(&o));
        let out = stdout(&o);
        assert!(out.contains("Epoch 3/3"), "{out}");
        assert!(out.contains("validation: accuracy"), "{out}");
        assert!(out.contains("macro precision"), "{out}");
        let o = instclf(&[
            "predict",
            "--model",
            model.to_str().unwrap(),
            "--data",
            audio.join("Flute.b.aiff").to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stdout(&o).lines().count(), 1 + 9);
    }
}

#[test]
fn bad_inputs_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let audio = audio_dir(tmp.path(), &CLASSES);
    let a = audio.to_str().unwrap();
    let _ = a;
    let o = build(
        &audio,
        &tmp.path().join("x"),
        &["--clips", "1", "--bits", "0"],
    );
    assert_failed(&o, "--bits must be between 1 and 16, got 0");
    let o = build(&audio, &tmp.path().join("x"), &["--clips", "10"]);
    assert_failed(&o, "shorter than one 10 s clip");
    assert!(!tmp.path().join("x").exists());
    let o = build(&audio, &tmp.path().join("x"), &["--clips", "0"]);
    assert_failed(&o, "--clips must be a positive number");

    // A frame dataset given to a recurrent model, and a clip dataset given to the MLP.
    let frames = tmp.path().join("frames");
    let o = build(&audio, &frames, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = tmp.path().join("m");
    let o = instclf(&[
        "train",
        "--data",
        frames.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--arch",
        "gru",
    ]);
    assert_failed(&o, "is a frame dataset (no sequence.json)");
    let clips = tmp.path().join("clips");
    let o = build(&audio, &clips, &["--clips", "0.5", "--rate", "100"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = instclf(&[
        "train",
        "--data",
        clips.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_failed(&o, "use --arch dense (Flatten-Dense), rnn or gru");
    assert!(!out.exists());
    // Rows whose length disagrees with sequence.json.
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(clips.join(SEQUENCE_JSON)).unwrap()).unwrap();
    spec["steps"] = 40.into();
    std::fs::write(clips.join(SEQUENCE_JSON), spec.to_string()).unwrap();
    let o = instclf(&[
        "train",
        "--data",
        clips.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--arch",
        "rnn",
    ]);
    assert_failed(&o, "sequences of different lengths");
}

/// A GRU learns a task only the order of the steps tells apart: both classes hold the same
/// levels (0s and 3s in the same proportions), rising for class 0 and falling for class 1, and
/// end with the same 5 steps, so neither a bag of steps nor the last input separates them; the
/// network sees only the last state. Trained through the library on 40 steps.
#[test]
fn gru_learns_the_order_of_steps() {
    let steps = 40;
    let make = |rows: usize, seed: usize| {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for r in 0..rows {
            let c = (r % 2) as u32;
            let cut = 8 + (r * 7 + seed) % 20;
            for t in 0..steps {
                let low = t < cut;
                x.push(if t >= steps - 5 {
                    1.0 // a common tail: the last steps say nothing
                } else if low == (c == 0) {
                    0.0
                } else {
                    3.0
                });
            }
            y.push(c);
        }
        Split { x, y }
    };
    let data = SequenceData {
        data: Dataset {
            train: make(64, 0),
            test: make(32, 3),
            n_features: steps,
            classes: vec!["rising".into(), "falling".into()],
            recipe: None,
            dir: PathBuf::new(),
        },
        spec: SequenceSpec {
            input: "waveform".into(),
            clip_s: 1.0,
            rate: steps as u32,
            bits: Some(2),
            steps,
            step_values: 1,
        },
    };
    let opts = SeqFitOptions {
        arch: SeqArch::Gru,
        units: 4,
        all_states: false,
        head: vec![],
        dropout: 0.0,
        epochs: 60,
        batch_size: 16,
        lr: 0.02,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-7,
        validation: Validation::Test,
        seed: 1,
        checkpoint: None,
    };
    let r = fit_sequence(&data, &opts, &mut []).unwrap();
    let v = r.val_eval.unwrap();
    assert!(v.accuracy >= 0.95, "validation accuracy {}", v.accuracy);
    assert!(v.macro_recall >= 0.95 && v.macro_precision >= 0.95, "{v:?}");
    // The last state only: the network must carry the order through the recurrence.
    assert_eq!(r.model.net.cfg.feature_dim(), 4);
}
