//! Nothing lost (issue 8): `instclf train` killed with SIGINT leaves its last complete
//! checkpoint loadable, says so on stderr (exit code 130), and `--resume` finishes the run from it with the same history and
//! weights as a run that was never interrupted (the Adam moments are part of the checkpoint).
//! `instclf dataset build` killed at any moment leaves either no dataset folder or a complete
//! one. Unix only (signals are sent with `kill -INT`).
#![cfg(unix)]

use crate::common::instclf;
use instclf_model::Dataset;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts instclf with SIGINT at its default action: a test run started in the background by a
/// shell without job control inherits SIGINT ignored, and a program keeps that across `exec`
/// (as `nohup` relies on), which would leave `dataset build` (no handler of its own) unstoppable.
fn spawn(args: &[&str]) -> Child {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_instclf"));
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::piped());
    // SAFETY: runs in the child between fork and exec, where only async-signal-safe calls are
    // allowed; signal(2) is one, and nothing is allocated.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    cmd.spawn().expect("start instclf")
}

fn sigint(child: &Child) {
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill")
        .success();
    assert!(ok, "kill -INT failed");
}

fn history(model: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(model.join("history.json")).expect("history.json");
    serde_json::from_str::<Vec<serde_json::Value>>(&text).expect("history.json parses")
}

/// The loss and accuracy columns of a history (times differ between runs).
fn metrics(h: &[serde_json::Value]) -> Vec<(u64, String, String, String)> {
    h.iter()
        .map(|r| {
            (
                r["epoch"].as_u64().unwrap(),
                r["loss"].to_string(),
                r["accuracy"].to_string(),
                r["val_loss"].to_string(),
            )
        })
        .collect()
}

#[test]
fn sigint_keeps_a_loadable_checkpoint_and_resume_finishes_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    Dataset::synthetic(12000, 500, 40, 5, 1.5, 21)
        .save(&data)
        .unwrap();
    let model = tmp.path().join("model");
    let (d, m) = (data.to_str().unwrap(), model.to_str().unwrap());
    let epochs = "12";
    let common = [
        "train",
        "--data",
        d,
        "--epochs",
        epochs,
        "--batch-size",
        "16",
        "--hidden",
        "128",
        "--seed",
        "5",
        "--threads",
        "1",
        "--quiet",
    ];
    let mut args = common.to_vec();
    args.extend(["-o", m]);
    let mut child = spawn(&args);
    let t0 = Instant::now();
    while !model.join("history.json").exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("training ended ({status}) before its first checkpoint");
        }
        assert!(t0.elapsed() < Duration::from_secs(300), "no checkpoint");
        std::thread::sleep(Duration::from_millis(20));
    }
    sigint(&child);
    let out = child.wait_with_output().unwrap();
    let killed_after = history(&model).len();
    assert!(
        !out.status.success(),
        "the run finished all {epochs} epochs before SIGINT arrived; make epochs longer"
    );
    assert!((1..12).contains(&killed_after), "{killed_after}");
    eprintln!("SIGINT after {killed_after} of {epochs} epochs");
    // Exit code 130, and one line saying what was kept and how to continue.
    assert_eq!(out.status.code(), Some(130), "{:?}", out.status);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{m} keeps the model after epoch {killed_after} of {epochs}"
        )) && err.contains("--resume"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let before = metrics(&history(&model));
    // The checkpoint is a complete model folder.
    let o = instclf(&["evaluate", "--model", m, "--data", d, "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(model.join("optimizer.safetensors").is_file());

    // Resuming with other options is refused, naming the difference.
    let mut wrong = args.clone();
    wrong.extend(["--resume", "--lr", "0.01"]);
    let o = instclf(&wrong);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cannot resume") && err.contains("learning rate"),
        "{err}"
    );

    let mut resume = args.clone();
    resume.extend(["--resume", "--json"]);
    let o = instclf(&resume);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["epochs"], 12);
    let resumed = metrics(&history(&model));
    assert_eq!(resumed.len(), 12);
    assert_eq!(
        &resumed[..killed_after],
        &before[..],
        "history continues the killed run"
    );
    for (i, r) in resumed.iter().enumerate() {
        assert_eq!(r.0, i as u64 + 1);
    }
    // The finished folder keeps its optimizer state; resuming it again has nothing to do.
    assert!(model.join("optimizer.safetensors").is_file());
    let o = instclf(&resume);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("already holds 12 of the 12 epochs"), "{err}");

    // The same run never interrupted: identical losses and weights.
    let whole = tmp.path().join("whole");
    let mut args = common.to_vec();
    args.extend(["-o", whole.to_str().unwrap()]);
    let o = instclf(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(metrics(&history(&whole)), resumed);
    assert_eq!(
        std::fs::read(whole.join("model.safetensors")).unwrap(),
        std::fs::read(model.join("model.safetensors")).unwrap(),
        "resumed weights differ from the uninterrupted run's"
    );
}

#[test]
fn resume_without_a_checkpoint_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    Dataset::synthetic(200, 50, 8, 3, 1.0, 2)
        .save(&data)
        .unwrap();
    let model = tmp.path().join("none");
    let o = instclf(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "-o",
        model.to_str().unwrap(),
        "--resume",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(model.to_str().unwrap()) && err.contains("not found"),
        "{err}"
    );
    assert!(!model.exists());
}

#[test]
fn dataset_build_killed_leaves_no_half_written_folder() {
    // Two copies of every committed recording, so each class can be split by recording.
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/audio");
    let audio_dir = tempfile::tempdir().unwrap();
    let audio = audio_dir.path();
    for e in std::fs::read_dir(&src).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".aiff") {
            std::fs::copy(e.path(), audio.join(&name)).unwrap();
            std::fs::copy(e.path(), audio.join(format!("{stem}.copy.aiff"))).unwrap();
        }
    }
    let mut outcomes = Vec::new();
    for delay_ms in [30u64, 150, 300, 500, 700, 5000] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("ds");
        let mut child = spawn(&[
            "dataset",
            "build",
            "--audio",
            audio.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        std::thread::sleep(Duration::from_millis(delay_ms));
        sigint(&child);
        let status = child.wait().unwrap();
        outcomes.push((delay_ms, status.success(), out.exists()));
        if out.exists() {
            // Either the build finished before the signal or the rename happened: complete.
            Dataset::load(&out).unwrap_or_else(|e| {
                panic!(
                    "after SIGINT at {delay_ms} ms ({status}), {}: {e}",
                    out.display()
                )
            });
        }
        // No .npy anywhere but inside a complete dataset folder.
        for e in std::fs::read_dir(tmp.path()).unwrap().flatten() {
            let p = e.path();
            assert!(
                p == out || p.file_name().unwrap().to_string_lossy().starts_with('.'),
                "stray output {}",
                p.display()
            );
        }
    }
    eprintln!("(delay ms, finished, folder exists): {outcomes:?}");
    // The longest delay lets the build finish: the test itself is not vacuous.
    assert!(
        outcomes.last().unwrap().2,
        "the build never completed: {outcomes:?}"
    );
    assert!(
        outcomes.iter().any(|o| !o.2),
        "no build was interrupted: {outcomes:?}"
    );
}
