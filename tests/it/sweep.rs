//! End-to-end tests of `instclf sweep` and `instclf sweep merge` on small synthetic datasets:
//! fixed-epoch and to-target sweeps with their files and pictures, a diverging learning rate
//! recorded as diverged while the sweep goes on, a sweep killed after its second trial and
//! resumed giving the same results as an uninterrupted one (timings aside), shards merged, and
//! bad input failing with exit code 2 and one clear error line.

use crate::common::{instclf, s, stderr};
use instclf_model::Dataset;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn write_dataset(dir: &Path, n_train: usize, n_features: usize) {
    Dataset::synthetic(n_train, 200, n_features, 4, 0.8, 3)
        .save(dir)
        .expect("write dataset");
}

fn results(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("results.json")).unwrap();
    serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// A result with everything that depends on the clock (times, energy) removed.
fn without_timings(v: &Value) -> Value {
    let mut v = v.clone();
    let m = v.as_object_mut().unwrap();
    for k in [
        "train_time_s",
        "time_per_epoch_s",
        "energy_j",
        "energy_per_epoch_j",
        "energy_source",
        "energy_approximate",
        "energy_unavailable",
        "gpu_energy_j",
        "cpu_energy_j",
        "dram_energy_j",
    ] {
        assert!(m.remove(k).is_some() || k.ends_with("_j"), "missing {k}");
    }
    for e in m["history"].as_array_mut().unwrap() {
        let e = e.as_object_mut().unwrap();
        e.remove("time_s").unwrap();
        e.remove("energy_j").unwrap();
    }
    v
}

fn csv_rows(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("results.csv"))
        .map(|t| t.lines().count().saturating_sub(1))
        .unwrap_or(0)
}

#[test]
fn lr_sweep_fixed_epochs_with_a_diverging_trial() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_dataset(&data, 400, 8);
    let out = tmp.path().join("lr");
    // relu + lr 1e30: the weights overflow float32 and the loss becomes NaN.
    let o = instclf(&[
        "sweep",
        "--data",
        s(&data),
        "--lr",
        "0.01,1e30,0.001",
        "--epochs",
        "4",
        "--hidden",
        "16",
        "--activation",
        "relu",
        "-o",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = results(&out);
    assert_eq!(r.len(), 3);
    let lrs: Vec<f64> = r
        .iter()
        .map(|t| t["learning_rate"].as_f64().unwrap())
        .collect();
    assert_eq!(lrs, [0.01, 1e30, 0.001]);
    for t in &r {
        assert_eq!(t["batch_size"], 128, "lr sweep uses batch 128");
        assert_eq!(t["reached_target"], Value::Null);
        // Energy: a figure with its source, or null with the reason.
        if t["energy_j"].is_null() {
            assert!(t["energy_unavailable"]
                .as_str()
                .unwrap()
                .contains("unavailable because"));
        } else {
            assert!(t["energy_source"].is_string());
        }
        assert!(t["train_time_s"].as_f64().unwrap() > 0.0);
    }
    let (good, bad) = (&r[0], &r[1]);
    assert_eq!(good["epochs"], 4);
    assert_eq!(good["diverged"], false);
    assert!(good["test_accuracy"].as_f64().unwrap() > 0.8, "{good}");
    assert_eq!(good["history"].as_array().unwrap().len(), 4);
    assert_eq!(bad["diverged"], true, "{bad}");
    assert_eq!(bad["test_accuracy"], Value::Null);
    // The sweep went on after the diverged trial.
    assert_eq!(r[2]["diverged"], false);
    assert_eq!(r[2]["epochs"], 4);

    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    for col in [
        "batch_size",
        "learning_rate",
        "epochs",
        "test_accuracy",
        "train_time_s",
        "time_per_epoch_s",
        "energy_j",
        "energy_per_epoch_j",
        "energy_source",
        "reached_target",
        "diverged",
    ] {
        assert!(header.split(',').any(|c| c == col), "{col} not in {header}");
    }
    assert_eq!(csv.lines().count(), 4);
    let h = std::fs::read_to_string(out.join("trials/bs128_lr0.01/history.csv")).unwrap();
    assert!(h.starts_with("epoch,loss,accuracy,val_loss,val_accuracy,time_s,energy_j"));
    assert_eq!(h.lines().count(), 5);
    for pic in ["loss.png", "bars.png"] {
        let b = std::fs::read(out.join(pic)).unwrap();
        assert!(b.starts_with(b"\x89PNG"), "{pic}");
    }
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("s/epoch") && stdout.contains("J/epoch") && stdout.contains("diverged"),
        "{stdout}"
    );
    // Per-trial lines go to stderr when it is not a terminal (no bars).
    assert!(
        stderr(&o).contains("[3/3] batch 128, lr 0.001"),
        "{}",
        stderr(&o)
    );

    // `plot sweep` reads what the sweep wrote; without a target the chart says so.
    let svg = tmp.path().join("bars.svg");
    let loss = tmp.path().join("loss.svg");
    let o = instclf(&[
        "plot",
        "sweep",
        s(&out),
        "-o",
        s(&svg),
        "--loss-curves",
        s(&loss),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("Training time") && text.contains("learning rate"));
    let text = std::fs::read_to_string(&loss).unwrap();
    assert!(text.contains("learning rate 0.01") && text.contains("Training loss"));

    // Running again into the same folder without --resume is refused.
    let o = instclf(&["sweep", "--data", s(&data), "--lr", "0.01", "-o", s(&out)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--resume"), "{}", stderr(&o));
}

#[test]
fn batch_sweep_to_a_target() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_dataset(&data, 600, 8);
    let out = tmp.path().join("bs");
    let o = instclf(&[
        "sweep",
        "--data",
        s(&data),
        "--batch-size",
        "16,64",
        "--target-accuracy",
        "0.9",
        "--patience",
        "2",
        "--max-epochs",
        "40",
        "--validation",
        "split:0.2",
        "--hidden",
        "16",
        "-o",
        s(&out),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "--quiet: {}", stderr(&o));
    let r = results(&out);
    assert_eq!(r.len(), 2);
    for t in &r {
        assert_eq!(t["learning_rate"], 0.001, "batch sweep uses lr 0.001");
        assert_eq!(t["reached_target"], true, "{t}");
        let epochs = t["epochs"].as_u64().unwrap();
        assert!((2..40).contains(&epochs), "{t}");
        // Stopped on the validation split: the last two epochs are above the target.
        let h = t["history"].as_array().unwrap();
        assert!(h[h.len() - 2..]
            .iter()
            .all(|e| e["val_accuracy"].as_f64().unwrap() > 0.9));
        assert!(t["test_accuracy"].as_f64().unwrap() > 0.8);
    }
    // Smaller batches take more steps per epoch: fewer epochs to the target.
    assert!(r[0]["epochs"].as_u64() <= r[1]["epochs"].as_u64(), "{r:?}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("reached"), "{stdout}");
    let svg = tmp.path().join("bars.svg");
    let o = instclf(&["plot", "sweep", s(&out), "-o", s(&svg)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("Time to accuracy") && text.contains("batch size"));
}

#[test]
fn killed_sweep_resumes_to_the_same_results_and_shards_merge() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_dataset(&data, 3000, 16);
    let args = |out: &Path| -> Vec<String> {
        [
            "sweep",
            "--data",
            s(&data),
            "--lr",
            "0.003,0.001,0.0003,0.0001,0.00003",
            "--batch-size",
            "16",
            "--epochs",
            "4",
            "--hidden",
            "32",
            "--threads",
            "1",
            "-o",
            s(out),
        ]
        .iter()
        .map(|x| x.to_string())
        .collect()
    };

    // Uninterrupted.
    let full = tmp.path().join("full");
    let o = Command::new(env!("CARGO_BIN_EXE_instclf"))
        .args(args(&full))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let expected: Vec<Value> = results(&full).iter().map(without_timings).collect();
    assert_eq!(expected.len(), 5);

    // Killed once results.csv holds two trials.
    let cut = tmp.path().join("cut");
    let mut child = Command::new(env!("CARGO_BIN_EXE_instclf"))
        .args(args(&cut))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while csv_rows(&cut) < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "no progress in the sweep"
        );
        if let Some(st) = child.try_wait().unwrap() {
            panic!("sweep ended before it was killed: {st}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let kept = results(&cut).len();
    assert!(
        (2..5).contains(&kept),
        "the sweep was not interrupted ({kept} trials)"
    );
    // Every finished trial is kept, in both files.
    assert_eq!(csv_rows(&cut), kept);

    let mut resume = args(&cut);
    resume.push("--resume".into());
    let o = Command::new(env!("CARGO_BIN_EXE_instclf"))
        .args(&resume)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "{} trial(s) to run ({kept} already done)",
            5 - kept
        )),
        "{err}"
    );
    let resumed: Vec<Value> = results(&cut).iter().map(without_timings).collect();
    assert_eq!(resumed, expected);
    assert_eq!(csv_rows(&cut), 5);

    // Resuming with other settings is refused.
    let mut other = args(&cut);
    other.extend(["--resume".into(), "--seed".into(), "7".into()]);
    let o = Command::new(env!("CARGO_BIN_EXE_instclf"))
        .args(&other)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("seed"), "{}", stderr(&o));

    // Two shards merged give the same results.
    let mut dirs = Vec::new();
    for shard in ["1/2", "2/2"] {
        let d = tmp.path().join(format!("shard{}", &shard[..1]));
        let mut a = args(&d);
        a.extend(["--shard".into(), shard.into()]);
        let o = Command::new(env!("CARGO_BIN_EXE_instclf"))
            .args(&a)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        dirs.push(d);
    }
    assert_eq!(results(&dirs[0]).len(), 3);
    assert_eq!(results(&dirs[1]).len(), 2);
    let merged = tmp.path().join("merged");
    let o = instclf(&["sweep", "merge", s(&dirs[1]), s(&dirs[0]), "-o", s(&merged)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got: Vec<Value> = results(&merged).iter().map(without_timings).collect();
    assert_eq!(got, expected);
    assert!(merged.join("trials/bs16_lr0.0001/history.csv").is_file());
    assert!(merged.join("bars.png").is_file());

    // Merging a shard with itself: the trials would appear twice.
    let o = instclf(&[
        "sweep",
        "merge",
        s(&dirs[0]),
        s(&dirs[0]),
        "-o",
        s(&tmp.path().join("m2")),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("also in"), "{}", stderr(&o));
}

#[test]
fn bad_input_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_dataset(&data, 100, 4);
    let out = tmp.path().join("out");
    let d = s(&data);
    let o_ = s(&out);
    for (args, needle) in [
        (vec!["--lr", "abc"], "abc"),
        (vec!["--lr", "0.1,-1"], "> 0"),
        (vec!["--batch-size", "0"], "at least 1"),
        (vec!["--batch-size", "64,x"], "'x'"),
        (vec!["--shard", "3/2"], "shard"),
        (vec!["--lr", "0.1,0.1"], "listed twice"),
        (
            vec!["--target-accuracy", "0.9", "--validation", "test"],
            "must not be the test",
        ),
        (
            vec!["--target-accuracy", "0.9", "--epochs", "3"],
            "--epochs",
        ),
        (vec!["--target-accuracy", "1.5"], "target accuracy"),
    ] {
        let mut a = vec!["sweep", "--data", d, "-o", o_];
        a.extend(args.iter());
        let o = instclf(&a);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?} created the output folder");
    }
    // Rows in class order (as `dataset build` writes them): the Keras-style split would
    // leave the last class without training rows; --shuffle splits off a random fraction.
    let sorted = tmp.path().join("sorted");
    let mut ds = Dataset::synthetic(200, 40, 4, 5, 0.8, 3);
    let mut order: Vec<usize> = (0..200).collect();
    order.sort_by_key(|&i| ds.train.y[i]);
    ds.train.x = order
        .iter()
        .flat_map(|&i| ds.train.x[i * 4..i * 4 + 4].to_vec())
        .collect();
    ds.train.y = order.iter().map(|&i| ds.train.y[i]).collect();
    ds.save(&sorted).unwrap();
    let o = instclf(&["sweep", "--data", s(&sorted), "--epochs", "1", "-o", o_]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--shuffle"), "{}", stderr(&o));
    assert!(!out.exists());
    let o = instclf(&[
        "sweep",
        "--data",
        s(&sorted),
        "--epochs",
        "1",
        "--hidden",
        "8",
        "--shuffle",
        "-o",
        o_,
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(results(&out).len(), 1);

    let missing = tmp.path().join("nope");
    let out2 = tmp.path().join("out2");
    let o = instclf(&["sweep", "--data", s(&missing), "-o", s(&out2)]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.starts_with("instclf: error:") && err.contains("nope") && err.lines().count() == 1,
        "{err}"
    );
    let o = instclf(&["sweep", "merge", s(&missing), "-o", s(&out2)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("sweep.json"), "{}", stderr(&o));
    // --data and -o are needed without `merge`.
    let o = instclf(&["sweep", "--lr", "0.1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--data"), "{}", stderr(&o));
}
