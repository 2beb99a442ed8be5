//! End-to-end tests of `instclf train` and `instclf evaluate` on small synthetic datasets,
//! including bad input (exit code 2, one clear error line, no model written).

use crate::common::{instclf, stderr};
use instclf_model::{npy, Dataset};
use std::path::Path;

fn write_dataset(dir: &Path, n_train: usize, n_features: usize) -> Dataset {
    let d = Dataset::synthetic(n_train, 300, n_features, 5, 1.0, 11);
    d.save(dir).expect("write dataset");
    d
}

#[test]
fn train_then_evaluate() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_dataset(&data, 1000, 40);
    let model = tmp.path().join("model");
    let (d, m) = (data.to_str().unwrap(), model.to_str().unwrap());
    let o = instclf(&[
        "train", "--data", d, "-o", m, "--epochs", "4", "--json", "--quiet", "--seed", "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["epochs"], 4);
    assert_eq!(v["diverged"], false);
    assert_eq!(v["device"], "cpu");
    assert_eq!(v["history"].as_array().unwrap().len(), 4);
    let acc = v["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.9, "{v}");
    crate::common::assert_train_json_schema(&v);
    for f in [
        "model.json",
        "model.safetensors",
        "history.csv",
        "history.json",
    ] {
        assert!(model.join(f).is_file(), "{f}");
    }
    let csv = std::fs::read_to_string(model.join("history.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5);
    assert!(csv.starts_with("epoch,loss,accuracy,val_loss,val_accuracy,time_s"));

    let o = instclf(&["evaluate", "--model", m, "--data", d, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!((e["accuracy"].as_f64().unwrap() - acc).abs() < 1e-12);
    assert_eq!(e["confusion"].as_array().unwrap().len(), 5);

    // The global -q/--quiet and -v/--verbose, before or after the subcommand.
    let again = |args: &[&str]| {
        let o = instclf(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        o
    };
    let o = again(&[
        "-q", "train", "--data", d, "-o", m, "--epochs", "1", "--force",
    ]);
    assert!(o.stdout.is_empty() && o.stderr.is_empty(), "-q: {o:?}");
    let o = again(&[
        "train", "--data", d, "-o", m, "--epochs", "1", "--force", "--json", "-v",
    ]);
    let err = stderr(&o);
    assert!(
        err.contains("training an MLP") && err.contains("Epoch 1/1"),
        "-v: {err}"
    );
    let o = instclf(&["-q", "-v", "train", "--data", d, "-o", m]);
    assert_eq!(o.status.code(), Some(2), "-q with -v: {}", stderr(&o));

    let o = instclf(&["evaluate", "--model", m, "--data", d]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("macro avg") && text.contains("confusion matrix"),
        "{text}"
    );

    // text mode: a Keras-like line per epoch; target accuracy stops early
    let model2 = tmp.path().join("model2");
    let o = instclf(&[
        "train",
        "--data",
        d,
        "-o",
        model2.to_str().unwrap(),
        "--target-accuracy",
        "0.5",
        "--patience",
        "1",
        "--validation",
        "split:0.2",
        "--hidden",
        "32,16",
        "--activation",
        "relu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("Epoch 1/500 - ") && first.contains(" - val_accuracy: "),
        "{text}"
    );
    assert!(text.lines().filter(|l| l.starts_with("Epoch ")).count() < 500);
}

#[test]
fn bad_input_exits_2_with_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ds = write_dataset(&data, 200, 8);
    let d = data.to_str().unwrap();
    let model = tmp.path().join("model");
    let m = model.to_str().unwrap();
    let check = |args: &[&str], needle: &str| {
        let o = instclf(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(needle),
            "{args:?}: expected '{needle}' in: {err}"
        );
        assert!(!model.exists(), "{args:?} wrote a model");
    };
    check(
        &[
            "train",
            "--data",
            d,
            "-o",
            m,
            "--batch-size",
            "0",
            "--quiet",
        ],
        "batch size",
    );
    check(
        &["train", "--data", d, "-o", m, "--lr", "0", "--quiet"],
        "learning rate",
    );
    // Closed sets are checked as the command line is read, listing the choices.
    check(
        &["train", "--data", d, "-o", m, "--arch", "lstm"],
        "[possible values: mlp, dense, rnn, gru]",
    );
    check(
        &["train", "--data", d, "-o", m, "--activation", "tanh"],
        "[possible values: sigmoid, relu]",
    );
    check(
        &[
            "train", "--data", d, "-o", m, "--device", "cuda:0", "--quiet",
        ],
        "CUDA",
    );
    let missing = tmp.path().join("nope");
    check(
        &[
            "train",
            "--data",
            missing.to_str().unwrap(),
            "-o",
            m,
            "--quiet",
        ],
        "not found",
    );

    // labels outside the class range
    let labels = data.join("uiowa_train_labels.npy");
    let mut y: Vec<i64> = ds.train.y.iter().map(|&v| i64::from(v)).collect();
    y[3] = 9;
    npy::write_i64_1d(&labels, &y).unwrap();
    check(
        &["train", "--data", d, "-o", m, "--quiet"],
        "uiowa_train_labels.npy",
    );
    y[3] = -1;
    npy::write_i64_1d(&labels, &y).unwrap();
    check(&["train", "--data", d, "-o", m, "--quiet"], "label -1");
    // mismatched row counts
    npy::write_i64_1d(&labels, &y[..100]).unwrap();
    check(&["train", "--data", d, "-o", m, "--quiet"], "100 labels");
    y[3] = 0;
    npy::write_i64_1d(&labels, &y).unwrap();
    // NaN features
    let xs = data.join("uiowa_test_data.npy");
    let mut x = ds.test.x.clone();
    x[10] = f32::INFINITY;
    npy::write_f32_2d(&xs, 300, 8, &x).unwrap();
    check(
        &["train", "--data", d, "-o", m, "--quiet"],
        "uiowa_test_data.npy",
    );
    npy::write_f32_2d(&xs, 300, 8, &ds.test.x).unwrap();

    // a model whose input size differs from the data's
    let other = tmp.path().join("other");
    write_dataset(&other, 200, 6);
    let o = instclf(&[
        "train",
        "--data",
        other.to_str().unwrap(),
        "-o",
        m,
        "--epochs",
        "1",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = instclf(&["evaluate", "--model", m, "--data", d]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("expects 6 features"), "{}", stderr(&o));
    // an invalid model.json
    std::fs::write(model.join("model.json"), b"{").unwrap();
    let o = instclf(&["evaluate", "--model", m, "--data", d]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("model.json"), "{}", stderr(&o));
}
