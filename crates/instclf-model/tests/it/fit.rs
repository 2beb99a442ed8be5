//! End-to-end tests of the model crate: training on a synthetic dataset, determinism,
//! save/load, callbacks, divergence.

use instclf_model::{
    evaluate, fit, fit_resume, Callback, Control, Dataset, Device, EpochRecord, FitOptions, Model,
    TargetAccuracy, Validation,
};

fn data() -> Dataset {
    Dataset::synthetic(2000, 500, 120, 10, 1.5, 42)
}

fn opts(epochs: usize) -> FitOptions {
    FitOptions {
        epochs,
        seed: 3,
        ..FitOptions::default()
    }
}

fn weights(m: &Model) -> Vec<f32> {
    let (_, st) = m.to_bytes().unwrap();
    st.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[test]
fn trains_to_high_accuracy_and_evaluates() {
    let d = data();
    let r = fit(&d, &opts(5), &mut [], &Device::Cpu).unwrap();
    assert_eq!(r.history.len(), 5);
    assert!(!r.diverged);
    let last = r.history.last().unwrap();
    assert!(last.val_accuracy.unwrap() > 0.95, "{last:?}");
    assert!(r.history[0].loss > last.loss);
    let e = evaluate(&r.model, &d.test.x, &d.test.y).unwrap();
    assert!((e.accuracy - last.val_accuracy.unwrap()).abs() < 1e-9);
    assert!(
        (e.loss - last.val_loss.unwrap()).abs() < 1e-4,
        "{} vs {:?}",
        e.loss,
        last.val_loss
    );
    assert_eq!(e.confusion.iter().flatten().sum::<u64>(), 500);
    assert!(e.macro_f1 > 0.95);
}

#[test]
fn same_seed_is_bit_identical_and_other_seed_differs() {
    let d = Dataset::synthetic(600, 100, 20, 4, 1.0, 1);
    let o = FitOptions {
        epochs: 2,
        hidden: vec![16, 8],
        ..opts(2)
    };
    let a = fit(&d, &o, &mut [], &Device::Cpu).unwrap();
    let b = fit(&d, &o, &mut [], &Device::Cpu).unwrap();
    assert_eq!(weights(&a.model), weights(&b.model));
    assert_eq!(
        a.history
            .iter()
            .map(|r| r.loss.to_bits())
            .collect::<Vec<_>>(),
        b.history
            .iter()
            .map(|r| r.loss.to_bits())
            .collect::<Vec<_>>()
    );
    let c = fit(&d, &FitOptions { seed: 4, ..o }, &mut [], &Device::Cpu).unwrap();
    assert_ne!(weights(&a.model), weights(&c.model));
}

#[test]
fn input_dropout_is_seeded_and_still_learns() {
    let d = Dataset::synthetic(600, 200, 20, 4, 1.0, 1);
    let o = FitOptions {
        epochs: 4,
        input_dropout: 0.3,
        ..opts(4)
    };
    let a = fit(&d, &o, &mut [], &Device::Cpu).unwrap();
    let b = fit(&d, &o, &mut [], &Device::Cpu).unwrap();
    assert_eq!(
        weights(&a.model),
        weights(&b.model),
        "same seed, same masks"
    );
    let plain = fit(
        &d,
        &FitOptions {
            input_dropout: 0.0,
            ..o.clone()
        },
        &mut [],
        &Device::Cpu,
    )
    .unwrap();
    assert_ne!(
        weights(&a.model),
        weights(&plain.model),
        "the masks change training"
    );
    let acc = a.history.last().unwrap().val_accuracy.unwrap();
    assert!(acc > 0.8, "validation accuracy {acc}");
}

#[test]
fn label_smoothing_softens_the_targets_and_still_learns() {
    let d = Dataset::synthetic(600, 200, 20, 4, 1.0, 1);
    let e = 0.2;
    let o = FitOptions {
        label_smoothing: e,
        ..opts(6)
    };
    let a = fit(&d, &o, &mut [], &Device::Cpu).unwrap();
    let plain = fit(&d, &opts(6), &mut [], &Device::Cpu).unwrap();
    // The training loss cannot fall under the entropy of the smoothed targets.
    let (on, off) = (1.0 - e + e / 4.0, e / 4.0);
    let floor = -(on * f64::ln(on) + 3.0 * off * f64::ln(off));
    let last = a.history.last().unwrap();
    assert!(last.loss >= floor - 1e-3, "loss {} < {floor}", last.loss);
    let plain_loss = plain.history.last().unwrap().loss;
    assert!(
        plain_loss < last.loss,
        "one-hot targets are easier to fit: {plain_loss} vs {}",
        last.loss
    );
    assert_ne!(weights(&a.model), weights(&plain.model));
    let acc = last.val_accuracy.unwrap();
    assert!(acc > 0.8, "validation accuracy {acc}");
}

#[test]
fn mixup_blends_rows_repeatably_and_still_learns() {
    let d = Dataset::synthetic(600, 200, 20, 4, 1.0, 1);
    let o = FitOptions {
        mixup: 0.4,
        ..opts(6)
    };
    let a = fit(&d, &o, &mut [], &Device::Cpu).unwrap();
    let again = fit(&d, &o, &mut [], &Device::Cpu).unwrap();
    assert_eq!(weights(&a.model), weights(&again.model), "seeded blends");
    let plain = fit(&d, &opts(6), &mut [], &Device::Cpu).unwrap();
    assert_ne!(
        weights(&a.model),
        weights(&plain.model),
        "the blends change training"
    );
    // Blended targets are never one-hot, so the training loss stays above the plain one.
    let (mixed, unmixed) = (a.history.last().unwrap(), plain.history.last().unwrap());
    assert!(
        unmixed.loss < mixed.loss,
        "one-hot targets are easier to fit: {} vs {}",
        unmixed.loss,
        mixed.loss
    );
    let acc = mixed.val_accuracy.unwrap();
    assert!(acc > 0.8, "validation accuracy {acc}");
}

#[test]
fn saved_and_loaded_models_predict_bit_identically() {
    let d = Dataset::synthetic(600, 100, 20, 4, 1.0, 5);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    let o = FitOptions {
        epochs: 2,
        checkpoint: Some(path.clone()),
        ..opts(2)
    };
    let r = fit(&d, &o, &mut [], &Device::Cpu).unwrap();
    for f in [
        "model.json",
        "model.safetensors",
        "history.csv",
        "history.json",
    ] {
        assert!(path.join(f).is_file(), "{f}");
    }
    r.model.save(&path).unwrap(); // overwrite an existing folder
    let l = Model::load(&path, &Device::Cpu).unwrap();
    let p1 = r.model.predict_proba(&d.test.x).unwrap();
    let p2 = l.predict_proba(&d.test.x).unwrap();
    assert_eq!(
        p1.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        p2.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    assert_eq!(l.history, r.history);
    let (j, s) = r.model.to_bytes().unwrap();
    let m = Model::from_bytes(&j, &s, &Device::Cpu).unwrap();
    assert_eq!(m.predict_proba(&d.test.x[..20]).unwrap(), p1[..4]);
    // broken files name the file
    let e = Model::from_bytes(b"{", &s, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(e.contains("model.json"), "{e}");
    let e = Model::from_bytes(&j, b"garbage", &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(e.contains("model.safetensors"), "{e}");
    let other = fit(
        &Dataset::synthetic(100, 10, 21, 4, 1.0, 5),
        &opts(1),
        &mut [],
        &Device::Cpu,
    )
    .unwrap();
    let (_, s2) = other.model.to_bytes().unwrap();
    let e = Model::from_bytes(&j, &s2, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(e.contains("shape"), "{e}");
    std::fs::remove_file(path.join("model.safetensors")).unwrap();
    let e = Model::load(&path, &Device::Cpu).unwrap_err().to_string();
    assert!(e.contains("model.safetensors"), "{e}");
}

#[test]
fn target_accuracy_callback_stops_training() {
    let d = Dataset::synthetic(600, 200, 20, 4, 0.5, 9);
    let mut cb = TargetAccuracy::new(0.9, 2);
    let r = fit(&d, &opts(50), &mut [&mut cb], &Device::Cpu).unwrap();
    assert!(r.stopped_early);
    assert!(r.history.len() >= 2 && r.history.len() < 50);
    let tail = &r.history[r.history.len() - 2..];
    assert!(tail.iter().all(|h| h.val_accuracy.unwrap() > 0.9));
}

struct StopAt(usize);
impl Callback for StopAt {
    fn on_epoch_end(&mut self, r: &EpochRecord) -> Control {
        if r.epoch >= self.0 {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

#[test]
fn custom_callback_and_validation_split() {
    let d = Dataset::synthetic(500, 50, 10, 5, 1.0, 2);
    let o = FitOptions {
        validation: Validation::Split(0.2),
        ..opts(10)
    };
    let r = fit(&d, &o, &mut [&mut StopAt(3)], &Device::Cpu).unwrap();
    assert_eq!(r.history.len(), 3);
    assert_eq!(r.model.training.as_ref().unwrap().train_rows, 400);
    // the held-out rows are the last 100 in file order
    let (vx, vy) = (&d.train.x[400 * 10..], &d.train.y[400..]);
    let e = evaluate(&r.model, vx, vy).unwrap();
    assert!((e.accuracy - r.history[2].val_accuracy.unwrap()).abs() < 1e-9);
}

#[test]
fn huge_learning_rate_diverges_without_crashing() {
    let d = Dataset::synthetic(300, 50, 10, 3, 1.0, 2);
    let o = FitOptions {
        lr: 1e30,
        activation: instclf_model::Activation::Relu,
        ..opts(20)
    };
    let r = fit(&d, &o, &mut [], &Device::Cpu).unwrap();
    assert!(r.diverged, "{:?}", r.history);
    assert!(r.history.len() < 20);
    assert!(!r.history.last().unwrap().loss.is_finite());
}

#[test]
fn bad_options_are_rejected() {
    let d = Dataset::synthetic(100, 10, 5, 2, 1.0, 2);
    for o in [
        FitOptions {
            batch_size: 0,
            ..opts(1)
        },
        FitOptions { lr: 0.0, ..opts(1) },
        FitOptions {
            lr: -1.0,
            ..opts(1)
        },
        FitOptions {
            validation: Validation::Split(0.999),
            ..opts(1)
        },
        FitOptions {
            input_dropout: 1.0,
            ..opts(1)
        },
        FitOptions {
            label_smoothing: 1.0,
            ..opts(1)
        },
        FitOptions {
            mixup: -0.5,
            ..opts(1)
        },
        FitOptions {
            mixup: f64::NAN,
            ..opts(1)
        },
        FitOptions {
            average_from: Some(0),
            ..opts(2)
        },
    ] {
        assert!(fit(&d, &o, &mut [], &Device::Cpu).is_err(), "{o:?}");
    }
    assert!("split:1.5".parse::<Validation>().is_err());
    assert_eq!(
        "split:0.2".parse::<Validation>().unwrap(),
        Validation::Split(0.2)
    );
}

/// The MARL-sized dataset written and read back (slow; `cargo test -- --ignored`).
#[test]
#[ignore]
fn marl_sized_dataset_roundtrip() {
    let d = Dataset::synthetic(66247, 14904, 120, 10, 1.5, 7);
    let dir = tempfile::tempdir().unwrap();
    d.save(dir.path()).unwrap();
    let l = Dataset::load(dir.path()).unwrap();
    assert_eq!(l.train.rows(), 66247);
    assert_eq!(l.train, d.train);
}

/// A network with a front over its last 96 inputs (`o`) reaches 90% on the synthetic rows, and
/// its bytes load back bit for bit; the same description over a plain network's weights names
/// the front's first missing tensor (`missing`) or a shape.
fn a_front_learns_saves_and_loads(o: &FitOptions, missing: &str) -> Model {
    let d = Dataset::synthetic(1200, 300, 120, 5, 1.0, 11);
    let r = fit(&d, o, &mut [], &Device::Cpu).unwrap();
    let acc = r.history.last().unwrap().val_accuracy.unwrap();
    assert!(acc > 0.9, "validation accuracy {acc}");
    let (j, s) = r.model.to_bytes().unwrap();
    let m = Model::from_bytes(&j, &s, &Device::Cpu).unwrap();
    let bits = |p: Vec<f32>| p.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(m.predict_proba(&d.test.x).unwrap()),
        bits(r.model.predict_proba(&d.test.x).unwrap())
    );
    let plain = fit(&d, &opts(1), &mut [], &Device::Cpu).unwrap();
    let (_, s2) = plain.model.to_bytes().unwrap();
    let e = Model::from_bytes(&j, &s2, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(e.contains(missing) || e.contains("shape"), "{e}");
    m
}

#[test]
fn a_network_with_a_convolution_learns_saves_and_loads() {
    // 120 features: the last 96 read as 8 steps of 12 channels by a kernel of 3.
    let conv = instclf_model::Conv {
        steps: 8,
        channels: 12,
        kernel: 3,
        filters: 16,
    };
    let o = FitOptions {
        conv: Some(conv),
        ..opts(8)
    };
    let m = a_front_learns_saves_and_loads(&o, "conv.kernel");
    assert_eq!(m.arch().conv, Some(conv));
}

#[test]
fn a_network_with_a_gru_learns_saves_and_loads() {
    // 120 features: the last 96 read as 8 steps of 12 channels by a GRU of 12 units.
    let gru = instclf_model::Gru {
        steps: 8,
        channels: 12,
        units: 12,
    };
    let o = FitOptions {
        gru: Some(gru),
        ..opts(8)
    };
    let m = a_front_learns_saves_and_loads(&o, "gru.input_kernel");
    assert_eq!(m.arch().gru, Some(gru));
}

/// Weight averaging from epoch 3 of 5 returns the mean of the weights that plain runs of 3, 4 and
/// 5 epochs end with (the same trajectory), and its history's last validation is the mean's.
#[test]
fn weight_averaging_returns_the_mean_of_the_last_epochs_weights() {
    let d = Dataset::synthetic(600, 100, 20, 4, 1.0, 5);
    let plain: Vec<Vec<f32>> = (3..=5)
        .map(|e| weights(&fit(&d, &opts(e), &mut [], &Device::Cpu).unwrap().model))
        .collect();
    let o = FitOptions {
        average_from: Some(3),
        ..opts(5)
    };
    let r = fit(&d, &o, &mut [], &Device::Cpu).unwrap();
    let got = weights(&r.model);
    assert_eq!(got.len(), plain[0].len());
    let mut off = 0f32;
    for (i, &g) in got.iter().enumerate() {
        let mean = plain.iter().map(|w| f64::from(w[i])).sum::<f64>() / 3.0;
        off = off.max((g - mean as f32).abs());
    }
    assert!(off < 1e-5, "largest difference from the mean {off}");
    assert_ne!(got, plain[2], "the mean is not the last epoch's weights");
    let last = r.history.last().unwrap();
    let e = evaluate(&r.model, &d.test.x, &d.test.y).unwrap();
    assert!(
        (last.val_accuracy.unwrap() - e.accuracy).abs() < 1e-9,
        "{} vs {}",
        last.val_accuracy.unwrap(),
        e.accuracy
    );
    assert_eq!(r.model.training.as_ref().unwrap().average_from, Some(3));
}

/// A run with weight averaging resumed from a checkpoint taken before averaging began or
/// during it ends with the uninterrupted run's weights and history, bit for bit; resuming
/// with other averaging is refused, naming it.
#[test]
fn a_resumed_averaging_run_equals_an_uninterrupted_one() {
    let d = Dataset::synthetic(600, 100, 20, 4, 1.0, 5);
    let dir = tempfile::tempdir().unwrap();
    let with = |epochs: usize, name: &str| FitOptions {
        average_from: Some(3),
        checkpoint: Some(dir.path().join(name)),
        ..opts(epochs)
    };
    let whole = fit(&d, &with(5, "whole"), &mut [], &Device::Cpu).unwrap();
    let saved = Model::load(&dir.path().join("whole"), &Device::Cpu).unwrap();
    assert_eq!(weights(&saved), weights(&whole.model));
    let strip = |h: &[EpochRecord]| {
        h.iter()
            .map(|r| (r.epoch, r.loss.to_bits(), r.val_loss.map(f64::to_bits)))
            .collect::<Vec<_>>()
    };
    for cut in [2, 4] {
        let name = format!("cut{cut}");
        fit(&d, &with(cut, &name), &mut [], &Device::Cpu).unwrap();
        let r = fit_resume(
            &d,
            &with(5, &name),
            &dir.path().join(&name),
            &mut [],
            &Device::Cpu,
        )
        .unwrap();
        assert_eq!(weights(&r.model), weights(&whole.model), "cut at {cut}");
        assert_eq!(strip(&r.history), strip(&whole.history), "cut at {cut}");
    }
    let other = FitOptions {
        average_from: Some(4),
        ..with(5, "cut4")
    };
    let e = fit_resume(&d, &other, &dir.path().join("cut4"), &mut [], &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(e.contains("weights averaged from epoch 3"), "{e}");
}
