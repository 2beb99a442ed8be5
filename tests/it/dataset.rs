//! End-to-end tests of `instclf dataset build|info`, and of a model trained on a built dataset
//! classifying audio with the dataset's recipe.

use crate::common::{audio_dir, dataset_build, fixture, instclf, s, stderr};
use std::path::Path;

/// Three classes, two recordings each.
const CLASSES: [&str; 3] = [
    "Cello.Vib.ff.C3D3.aiff",
    "Flute.Vib.pp.E5Gb5.aiff",
    "Trumpet.NoVib.mf.E4Gb4.aiff",
];

#[test]
fn build_info_train_and_classify_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let audio = audio_dir(tmp.path(), &CLASSES);
    std::fs::write(audio.join("Cello.broken.aiff"), b"FORM garbage").unwrap();
    // Missing parent folders of the output are created.
    let ds = tmp.path().join("a/b/ds");
    let o = dataset_build(&audio, &ds, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("Cello.broken.aiff"),
        "the broken file is reported"
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 files skipped"));
    for f in [
        "uiowa_train_data.npy",
        "uiowa_train_labels.npy",
        "uiowa_test_data.npy",
        "uiowa_test_labels.npy",
        "classes.json",
        "recipe.json",
        "notes.csv",
    ] {
        assert!(ds.join(f).is_file(), "{f}");
    }
    // Split by recording: each class has one recording in each split.
    let notes = std::fs::read_to_string(ds.join("notes.csv")).unwrap();
    for class in ["Cello", "Flute", "Trumpet"] {
        for split in ["train", "test"] {
            let files: std::collections::BTreeSet<&str> = notes
                .lines()
                .filter(|l| l.starts_with(split) && l.contains(&format!(",{class},")))
                .map(|l| l.split(',').nth(1).unwrap())
                .collect();
            assert_eq!(files.len(), 1, "{class} {split}: {files:?}");
        }
    }
    let o = instclf(&["dataset", "info", "--json", ds.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["features"], 120);
    assert_eq!(
        v["classes"],
        serde_json::json!(["Cello", "Flute", "Trumpet"])
    );
    let train_rows = v["train_rows"].as_u64().unwrap();
    // Three notes of about 1 s at 43 frames/s per recording.
    assert!(
        (3 * 3 * 35..3 * 3 * 70).contains(&train_rows),
        "{train_rows}"
    );

    let model = tmp.path().join("model");
    let o = instclf(&[
        "train",
        "--data",
        ds.to_str().unwrap(),
        "-o",
        model.to_str().unwrap(),
        "--epochs",
        "5",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // An existing model folder is replaced only with --force (--resume continues it).
    let again = |extra: &[&str]| {
        let mut a = vec!["train", "--data", s(&ds), "-o", s(&model), "--epochs", "5"];
        a.extend_from_slice(extra);
        instclf(&a)
    };
    let o = again(&["--quiet"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--force") && stderr(&o).contains(s(&model)),
        "{}",
        stderr(&o)
    );
    let o = again(&["--quiet", "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let f = fixture("Flute.Vib.pp.E5Gb5.aiff");
    let o = instclf(&[
        "classify",
        "--json",
        "--model",
        model.to_str().unwrap(),
        f.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["label"], "Flute");
}

#[test]
fn augmented_build_adds_training_rows_only_and_is_reproducible() {
    let tmp = tempfile::tempdir().unwrap();
    let audio = audio_dir(tmp.path(), &CLASSES);
    let build = |out: &Path, aug: &str| {
        let o = dataset_build(&audio, out, &["--augment", aug]);
        assert!(o.status.success(), "{}", stderr(&o));
    };
    let (plain, aug1, aug2) = (
        tmp.path().join("p"),
        tmp.path().join("a1"),
        tmp.path().join("a2"),
    );
    build(&plain, "0");
    build(&aug1, "1");
    build(&aug2, "1");
    let read = |d: &Path, f: &str| std::fs::read(d.join(f)).unwrap();
    assert_eq!(
        read(&plain, "uiowa_test_data.npy"),
        read(&aug1, "uiowa_test_data.npy")
    );
    assert!(
        read(&aug1, "uiowa_train_data.npy").len()
            > read(&plain, "uiowa_train_data.npy").len() * 3 / 2
    );
    assert_eq!(
        read(&aug1, "uiowa_train_data.npy"),
        read(&aug2, "uiowa_train_data.npy")
    );
}

/// The feature flags and a recipe file's `[member.features]` give the same recipe; the recipe
/// file also reaches the settings that have no flag (stacked context frames here).
#[test]
fn the_mel_band_edges_pitch_context_and_harmonics_go_into_the_recipe() {
    let tmp = tempfile::tempdir().unwrap();
    let audio = audio_dir(tmp.path(), &CLASSES[..2]);
    let recipe_of = |ds: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(ds.join("recipe.json")).unwrap()).unwrap()
    };
    let flags = tmp.path().join("flags");
    let o = dataset_build(
        &audio,
        &flags,
        &[
            "--fmin",
            "50",
            "--fmax",
            "8000",
            "--pitch",
            "--harmonics",
            "4",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let file = tmp.path().join("r.toml");
    std::fs::write(
        &file,
        "[[member]]\nname = \"edges\"\n\n[member.features]\nfmin = 50\nfmax = 8000\n\
         pitch = true\nharmonics = 4\ncontext = 1\n",
    )
    .unwrap();
    let from_file = tmp.path().join("file");
    let o = dataset_build(&audio, &from_file, &["--recipe", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (a, mut b) = (recipe_of(&flags), recipe_of(&from_file));
    assert_eq!(a["fmin"], 50.0);
    assert_eq!(a["fmax"], 8000.0);
    assert_eq!(a["pitch"], true);
    assert_eq!(a["harmonics"], 4);
    assert_eq!(b["context"], 1);
    b["context"] = 0.into();
    assert_eq!(a, b, "the same settings by flags and by file");
    // 120 + pitch + 2 x 40 context statics + 4 partials.
    let info = instclf(&["dataset", "info", from_file.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&info.stdout).contains("205"),
        "{info:?}"
    );
}

#[test]
fn bad_builds_are_clear_errors_and_leave_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let audio = tmp.path().join("one");
    std::fs::create_dir(&audio).unwrap();
    std::fs::copy(fixture("Oboe.Vib.mf.C5D5.aiff"), audio.join("Oboe.x.aiff")).unwrap();
    std::fs::copy(
        fixture("Cello.Vib.ff.C3D3.aiff"),
        audio.join("Cello.x.aiff"),
    )
    .unwrap();
    std::fs::copy(
        fixture("Cello.Vib.ff.C3D3.aiff"),
        audio.join("Cello.y.aiff"),
    )
    .unwrap();
    let out = tmp.path().join("ds");
    let o = instclf(&[
        "dataset",
        "build",
        "--audio",
        audio.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("class Oboe"), "{}", stderr(&o));
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        1,
        "no temporary folder left"
    );

    std::fs::create_dir(&out).unwrap();
    let o = instclf(&[
        "dataset",
        "build",
        "--audio",
        audio.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));

    let o = instclf(&[
        "dataset",
        "info",
        tmp.path().join("nothing").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nothing"), "{}", stderr(&o));
}
