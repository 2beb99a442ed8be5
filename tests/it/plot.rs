//! End-to-end tests of `instclf plot history` and `instclf plot sweep`: pictures from a model
//! folder's history.json and a sweep folder's results.json, and bad input failing with exit
//! code 2, a one-line error naming the file, and no output file.

use crate::common::{assert_failed, instclf, png_size, s};

const HISTORY: &str = r#"[
  {"epoch": 1, "loss": 2.1, "accuracy": 0.31, "val_loss": 2.3, "val_accuracy": 0.28, "time_s": 1.5},
  {"epoch": 2, "loss": 1.2, "accuracy": 0.55, "val_loss": 1.4, "val_accuracy": 0.5, "time_s": 1.4},
  {"epoch": 3, "loss": 0.6, "accuracy": 0.78, "val_loss": null, "val_accuracy": null, "time_s": 1.4},
  {"epoch": 4, "loss": 0.3, "accuracy": 0.9, "val_loss": 0.5, "val_accuracy": 0.84, "time_s": 1.3}
]"#;

#[test]
fn history_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("history.json"), HISTORY).unwrap();
    let png = dir.path().join("curves.png");
    let out = instclf(&["plot", "history", s(dir.path()), "-o", s(&png)]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(png_size(&png), (1200, 450));

    let svg = dir.path().join("curves.svg");
    let out = instclf(&[
        "plot",
        "history",
        s(dir.path()),
        "-o",
        s(&svg),
        "--width",
        "900",
        "--height",
        "350",
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&svg).unwrap();
    for needle in [
        "Model accuracy",
        "Model loss",
        "Epoch",
        "Accuracy",
        "Loss",
        "Train",
        "Validation",
    ] {
        assert!(text.contains(needle), "missing {needle}");
    }

    // Training without validation: no validation line.
    let train_only = r#"[{"epoch": 1, "loss": 1.0, "accuracy": 0.5, "time_s": 1.0},
                         {"epoch": 2, "loss": 0.5, "accuracy": 0.7, "time_s": 1.0}]"#;
    std::fs::write(dir.path().join("history.json"), train_only).unwrap();
    let out = instclf(&["plot", "history", s(dir.path()), "-o", s(&svg)]);
    assert!(out.status.success(), "{out:?}");
    assert!(!std::fs::read_to_string(&svg)
        .unwrap()
        .contains("Validation"));
}

#[test]
fn history_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("curves.png");
    let out = instclf(&["plot", "history", s(dir.path()), "-o", s(&png)]);
    assert_failed(&out, "history.json");

    std::fs::write(dir.path().join("history.json"), "{not json").unwrap();
    let out = instclf(&["plot", "history", s(dir.path()), "-o", s(&png)]);
    assert_failed(&out, "history.json");

    std::fs::write(dir.path().join("history.json"), "[]").unwrap();
    let out = instclf(&["plot", "history", s(dir.path()), "-o", s(&png)]);
    assert_failed(&out, "history.json");

    std::fs::write(dir.path().join("history.json"), HISTORY).unwrap();
    // Missing parent folders are created, but not under a plain file.
    let out = instclf(&[
        "plot",
        "history",
        s(dir.path()),
        "-o",
        s(&dir.path().join("history.json/dir/c.png")),
    ]);
    assert_failed(&out, "c.png");
    assert!(!png.exists());
}

fn trial(bs: usize, lr: f64, energy: &str, reached: bool, loss: &[f64]) -> String {
    format!(
        r#"{{"batch_size": {bs}, "learning_rate": {lr}, "epochs": {}, "test_accuracy": 0.9,
            "train_time_s": {}, "energy_j": {energy}, "reached_target": {reached},
            "diverged": false, "loss": {loss:?}}}"#,
        loss.len(),
        bs as f64 / 10.0
    )
}

#[test]
fn sweep_bars_and_loss_curves() {
    let dir = tempfile::tempdir().unwrap();
    let trials = [
        trial(64, 0.001, "null", true, &[2.0, 1.0, 0.5]),
        trial(16, 0.001, "null", true, &[2.0, 0.8, 0.3, 0.2]),
        trial(256, 0.001, "null", false, &[2.0, 1.5]),
    ];
    std::fs::write(
        dir.path().join("results.json"),
        format!("[{}]", trials.join(",")),
    )
    .unwrap();
    let bars = dir.path().join("bars.svg");
    let loss = dir.path().join("loss.png");
    let out = instclf(&[
        "plot",
        "sweep",
        s(dir.path()),
        "-o",
        s(&bars),
        "--loss-curves",
        s(&loss),
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&bars).unwrap();
    for needle in [
        "Time to accuracy",
        "Energy to accuracy",
        "unavailable",
        "Test accuracy",
        "batch size",
    ] {
        assert!(text.contains(needle), "missing {needle}");
    }
    // Bars are sorted by the swept value.
    let (a, b, c) = (
        text.find("\n16\n</text>"),
        text.find("\n64\n</text>"),
        text.find("\n256\n</text>"),
    );
    assert!(
        a.is_some() && b.is_some() && c.is_some(),
        "bar labels missing"
    );
    assert!(a < b && b < c, "bars not in batch-size order");
    assert_eq!(png_size(&loss), (1000, 500));

    let png = dir.path().join("bars.png");
    let out = instclf(&[
        "plot",
        "sweep",
        s(dir.path()),
        "-o",
        s(&png),
        "--width",
        "800",
        "--height",
        "600",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(png_size(&png), (800, 600));
}

#[test]
fn sweep_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let bars = dir.path().join("bars.png");
    let out = instclf(&["plot", "sweep", s(dir.path()), "-o", s(&bars)]);
    assert_failed(&out, "results.json");

    // A trial without its required fields.
    std::fs::write(dir.path().join("results.json"), r#"[{"batch_size": 32}]"#).unwrap();
    let out = instclf(&["plot", "sweep", s(dir.path()), "-o", s(&bars)]);
    assert_failed(&out, "results.json");

    // Loss curves asked for but not recorded: nothing is written, not even the bar chart.
    let no_loss = r#"[{"batch_size": 32, "learning_rate": 0.01, "epochs": 3, "test_accuracy": 0.8,
                       "train_time_s": 2.0, "energy_j": 12.5, "reached_target": true, "diverged": false}]"#;
    std::fs::write(dir.path().join("results.json"), no_loss).unwrap();
    let loss = dir.path().join("loss.png");
    let out = instclf(&[
        "plot",
        "sweep",
        s(dir.path()),
        "-o",
        s(&bars),
        "--loss-curves",
        s(&loss),
    ]);
    assert_failed(&out, "results.json");
    assert!(!bars.exists() && !loss.exists());

    let out = instclf(&["plot", "sweep", s(dir.path()), "-o", s(&bars)]);
    assert!(out.status.success(), "{out:?}");
    assert!(bars.exists());
}
