//! `instclf bundle`: a model made from a recipe file in one step, its report, its calibration,
//! and a rerun that resumes from the work folder.

use crate::common::{audio_dir, instclf, s, stderr, stdout};
use serde_json::Value;

/// Three classes, two recordings each: one of each lands in the test split.
const CLASSES: [&str; 3] = [
    "Cello.Vib.ff.C3D3.aiff",
    "Flute.Vib.pp.E5Gb5.aiff",
    "Trumpet.NoVib.mf.E4Gb4.aiff",
];

const RECIPE: &str = "# a test recipe\n\
[calibration]\ntemperature = 1.5\nunknown_bias = 0.5\n\n\
[[member]]\nname = \"frame\"\ntrain = { epochs = 2 }\n\n\
[[member]]\nname = \"note\"\nfeatures = { pool = {} }\naugment = { copies = 1 }\n\
train = { epochs = 3, activations = [\"sigmoid\", \"relu\"] }\n";

#[test]
fn bundle_trains_every_network_of_the_recipe_reports_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let audio = audio_dir(tmp.path(), &CLASSES);
    let recipe = tmp.path().join("r.toml");
    std::fs::write(&recipe, RECIPE).unwrap();
    let out = tmp.path().join("a/model");
    let args = [
        "bundle",
        "--recipe",
        s(&recipe),
        "--audio",
        s(&audio),
        "--eval",
        s(&audio),
        "-o",
        s(&out),
        "--json",
    ];
    let o = instclf(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: Value = serde_json::from_str(&stdout(&o)).unwrap();
    // One network per member activation and seed, in recipe order.
    let nets: Vec<(String, String, String)> = report["networks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap().to_string(),
                n["member"].as_str().unwrap().to_string(),
                n["activation"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("m1", "frame", "sigmoid"),
        ("m2", "note", "sigmoid"),
        ("m3", "note", "relu"),
    ];
    assert_eq!(nets.len(), want.len());
    for ((name, member, act), (wn, wm, wa)) in nets.iter().zip(want) {
        assert_eq!((name.as_str(), member.as_str(), act.as_str()), (wn, wm, wa));
        let model: Value =
            serde_json::from_slice(&std::fs::read(out.join(name).join("model.json")).unwrap())
                .unwrap();
        assert_eq!(model["calibration"]["temperature"], 1.5, "{name}");
        assert_eq!(model["calibration"]["unknown_bias"], 0.5, "{name}");
        assert!(out.join(name).join("model.safetensors").is_file());
        let pooled = !model["recipe"]["pool"].is_null();
        assert_eq!(pooled, member == "note", "{name}");
    }
    assert_eq!(report["networks"][1]["epochs"], 3);
    // Both datasets split the same recordings: three held out, one per class.
    let ds = report["datasets"].as_array().unwrap();
    assert_eq!(ds[0]["test_recordings"], ds[1]["test_recordings"]);
    assert_eq!(ds[0]["test_files"], 3);
    assert_eq!(ds[1]["kind"], "note-level");
    // Scored on the held-out recordings, then on the whole --eval folder.
    let evals = report["evaluations"].as_array().unwrap();
    assert_eq!(evals.len(), 2);
    assert_eq!(
        (
            evals[0]["held_out"].clone(),
            evals[0]["evaluation"]["files"].clone()
        ),
        (true.into(), 3.into())
    );
    assert_eq!(
        (
            evals[1]["held_out"].clone(),
            evals[1]["evaluation"]["files"].clone()
        ),
        (false.into(), 6.into())
    );
    // The folder keeps the recipe as written and the report in both forms.
    assert_eq!(
        std::fs::read_to_string(out.join("recipe.toml")).unwrap(),
        RECIPE
    );
    let md = std::fs::read_to_string(out.join("REPORT.md")).unwrap();
    assert!(md.contains("| m3 | note | relu | 0 | 3 |"), "{md}");
    assert!(md.contains("temperature 1.500, unknown bias 0.5"), "{md}");
    let on_disk: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(on_disk, report);
    // The networks classify as an ensemble.
    let c = instclf(&[
        "classify",
        "--model",
        s(&out.join("m1")),
        "--model",
        s(&out.join("m2")),
        "--model",
        s(&out.join("m3")),
        s(&audio.join("Cello.a.aiff")),
    ]);
    assert!(c.status.success(), "{}", stderr(&c));

    // The output is replaced only with --force; a rerun trains nothing again.
    let again = instclf(&args);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("output folder exists"),
        "{}",
        stderr(&again)
    );
    let mut forced = args.to_vec();
    forced.push("--force");
    let again = instclf(&forced);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(!stderr(&again).contains("training"), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("m3 (note relu seed 0): kept"),
        "{}",
        stderr(&again)
    );
    let second: Value = serde_json::from_str(&stdout(&again)).unwrap();
    assert_eq!(second, report);
}

/// A work folder made with another recipe is not mixed into a new run: an error without
/// --force, started over with it.
#[test]
fn a_work_folder_of_other_settings_needs_force() {
    let tmp = tempfile::tempdir().unwrap();
    let audio = audio_dir(tmp.path(), &CLASSES);
    let recipe = tmp.path().join("r.toml");
    std::fs::write(
        &recipe,
        "[[member]]\nname = \"frame\"\ntrain = { epochs = 1 }\n",
    )
    .unwrap();
    let (out, work) = (tmp.path().join("m"), tmp.path().join("w"));
    let run = |extra: &[&str]| {
        let mut a = vec![
            "bundle",
            "--recipe",
            s(&recipe),
            "--audio",
            s(&audio),
            "-o",
            s(&out),
            "--work",
            s(&work),
            "-q",
        ];
        a.extend_from_slice(extra);
        instclf(&a)
    };
    assert!(run(&[]).status.success());
    std::fs::write(
        &recipe,
        "[[member]]\nname = \"frame\"\ntrain = { epochs = 2 }\n",
    )
    .unwrap();
    let o = run(&["--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::write(
        &recipe,
        "[[member]]\nname = \"frame\"\ntrain = { epochs = 3 }\n",
    )
    .unwrap();
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("made with other settings") && stderr(&o).contains(s(&work)),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
}
