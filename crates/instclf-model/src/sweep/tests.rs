//! Tests of the sweep: the grid and its checks, shuffling, stopping at a target, and a whole
//! sweep with a fake energy counter (results, resume, shards, merge).

use super::run::reached;
use super::*;
use crate::callback::EpochRecord;
use crate::dataset::Dataset;
use candle_core::Device;
use instclf_energy::{Channel, Domain, EnergySource, Monitor};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

fn config(lrs: &[f64], bss: &[usize]) -> SweepConfig {
    SweepConfig {
        dataset: "/data".into(),
        learning_rates: lrs.to_vec(),
        batch_sizes: bss.to_vec(),
        epochs: Some(3),
        target_accuracy: None,
        patience: 1,
        max_epochs: 50,
        validation: "split:0.2".into(),
        hidden: vec![16],
        activation: "relu".into(),
        seed: 0,
        shuffle: false,
        shard: None,
        device: "cpu".into(),
    }
}

#[test]
fn merge_and_resume_keep_every_float_bit() {
    // Both rewrite results.json from what they read; serde_json's default float parser can
    // be one ulp off (0.9639735921223959 came back as 0.963973592122396), so merged shards
    // differed from an unsharded run. Values seen in a real 4-shard sweep.
    let x = [
        0.9639735921223959,
        0.38141080220540363,
        0.39090744018554685,
        0.36154561360677084,
    ];
    let tmp = tempfile::tempdir().unwrap();
    let (dir, out) = (tmp.path().join("shard"), tmp.path().join("merged"));
    let c = config(&[0.01], &[32]);
    prepare(&dir, &c, false).unwrap();
    let r = TrialResult {
        trial: 1,
        batch_size: 32,
        learning_rate: 0.01,
        epochs: 1,
        test_accuracy: Some(x[0]),
        test_loss: Some(x[1]),
        train_time_s: x[2],
        time_per_epoch_s: x[2],
        energy_j: None,
        energy_per_epoch_j: None,
        energy_source: None,
        energy_approximate: false,
        energy_unavailable: None,
        gpu_energy_j: None,
        cpu_energy_j: None,
        dram_energy_j: None,
        reached_target: None,
        diverged: false,
        device: "cpu".into(),
        history: vec![TrialEpoch {
            epoch: 1,
            loss: Some(x[0]),
            accuracy: x[1],
            val_loss: Some(x[2]),
            val_accuracy: Some(x[3]),
            time_s: x[3],
            energy_j: None,
        }],
    };
    let one = std::slice::from_ref(&r);
    write_results(&dir, one).unwrap();
    assert_eq!(prepare(&dir, &c, true).unwrap(), one, "resume");
    let rep = merge(std::slice::from_ref(&dir), &out, false).unwrap();
    assert_eq!(rep.results, one);
    assert_eq!(read_results(&out).unwrap(), one);
    let text = std::fs::read_to_string(out.join(RESULTS_JSON)).unwrap();
    for v in x {
        assert!(text.contains(&v.to_string()), "{v} not in {text}");
    }
}

#[test]
fn grid_shards_and_validation() {
    let c = config(&[0.1, 0.01], &[32, 64, 128]);
    let t = c.trials();
    assert_eq!(t.len(), 6);
    assert_eq!((t[0].batch_size, t[0].learning_rate), (32, 0.1));
    assert_eq!((t[1].batch_size, t[1].learning_rate), (32, 0.01));
    assert_eq!((t[5].batch_size, t[5].trial), (128, 6));
    assert_eq!(t[1].name(), "bs32_lr0.01");
    let s: Shard = "2/4".parse().unwrap();
    let mine: Vec<usize> = t
        .iter()
        .filter(|x| s.contains(x))
        .map(|x| x.trial)
        .collect();
    assert_eq!(mine, [2, 6]);
    // Every trial is in exactly one shard.
    for x in &t {
        let n = (1..=4)
            .filter(|i| {
                Shard {
                    index: *i,
                    count: 4,
                }
                .contains(x)
            })
            .count();
        assert_eq!(n, 1);
    }
    for bad in ["3/2", "0/2", "1/0", "a/2", "2", "1/2/3"] {
        assert!(bad.parse::<Shard>().is_err(), "{bad}");
    }
    assert!(c.validate().is_ok());
    for (f, msg) in [
        (
            Box::new(|c: &mut SweepConfig| c.learning_rates = vec![0.1, 0.1])
                as Box<dyn Fn(&mut SweepConfig)>,
            "listed twice",
        ),
        (Box::new(|c| c.batch_sizes = vec![0]), "at least 1"),
        (Box::new(|c| c.learning_rates = vec![-1.0]), "> 0"),
        (Box::new(|c| c.target_accuracy = Some(0.9)), "not both"),
        (
            Box::new(|c| {
                c.epochs = None;
                c.target_accuracy = Some(0.9);
                c.validation = "test".into();
            }),
            "must not be the test",
        ),
    ] {
        let mut c = config(&[0.1], &[32]);
        f(&mut c);
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains(msg), "{e}");
    }
    let mut d = c.clone();
    d.device = "cuda:0".into();
    d.shard = Some("1/2".into());
    assert_eq!(c.incompatibility(&d), None);
    d.seed = 5;
    assert!(c.incompatibility(&d).unwrap().contains("seed"));
}

#[test]
fn shuffled_rows_keep_their_labels_and_fix_a_class_ordered_split() {
    let mut d = Dataset::synthetic(40, 10, 3, 5, 0.5, 2);
    // Class order, as `dataset build` writes it.
    let mut rows: Vec<(u32, Vec<f32>)> = (0..40)
        .map(|i| (d.train.y[i], d.train.x[i * 3..i * 3 + 3].to_vec()))
        .collect();
    rows.sort_by_key(|r| r.0);
    d.train.y = rows.iter().map(|r| r.0).collect();
    d.train.x = rows.iter().flat_map(|r| r.1.clone()).collect();
    let c = config(&[0.1], &[8]);
    let e = check_split(&c, &d).unwrap_err().to_string();
    assert!(
        e.contains("class 4 (class4)") && e.contains("--shuffle"),
        "{e}"
    );
    let before = rows.clone();
    shuffle_rows(&mut d, 0);
    assert_ne!(d.train.y, before.iter().map(|r| r.0).collect::<Vec<_>>());
    let mut after: Vec<(u32, Vec<f32>)> = (0..40)
        .map(|i| (d.train.y[i], d.train.x[i * 3..i * 3 + 3].to_vec()))
        .collect();
    after.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mut sorted = before;
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(after, sorted);
    check_split(&c, &d).unwrap();
}

#[test]
fn a_lopsided_validation_split_is_warned_about() {
    let mut d = Dataset::synthetic(60, 10, 3, 5, 0.5, 2);
    let c = config(&[0.1], &[8]);
    // Interleaved classes: every class loses about the split's share.
    d.train.y = (0..60).map(|i| i % 5).collect();
    assert_eq!(split_warning(&c, &d), None);
    // Class order with a large last class: no class loses all its rows, but most of class 4 is
    // held out.
    d.train.y = (0..60).map(|i| if i < 40 { i / 10 } else { 4 }).collect();
    check_split(&c, &d).unwrap();
    let w = split_warning(&c, &d).expect("a warning");
    assert!(
        w.contains("class 4 (class4)") && w.contains("--shuffle"),
        "{w}"
    );
}

#[test]
fn reached_needs_patience_epochs_above_target() {
    let rec = |a: f64| EpochRecord {
        epoch: 1,
        loss: 1.0,
        accuracy: 0.0,
        val_loss: Some(1.0),
        val_accuracy: Some(a),
        time_s: 0.0,
    };
    let h = [rec(0.5), rec(0.95), rec(0.96)];
    assert!(reached(&h, 0.9, 2));
    assert!(!reached(&h, 0.9, 3));
    assert!(!reached(&h[..1], 0.9, 2));
}

/// A counter that gains 1 J (in microjoules) each time it is read.
struct Ticking(Vec<Channel>, Arc<AtomicU64>);
impl EnergySource for Ticking {
    fn name(&self) -> &str {
        "fake"
    }
    fn channels(&self) -> &[Channel] {
        &self.0
    }
    fn read(&mut self) -> Result<Vec<u64>, String> {
        Ok(vec![self.1.fetch_add(1_000_000, Ordering::SeqCst)])
    }
}

#[test]
fn sweep_with_fake_energy_writes_results_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sweep");
    let data = Dataset::synthetic(300, 100, 6, 3, 0.5, 4);
    let ticks = Arc::new(AtomicU64::new(0));
    let monitor = Monitor::new(
        vec![Box::new(Ticking(
            vec![Channel {
                name: "package-0".into(),
                domain: Domain::CpuPackage,
                joules_per_unit: 1e-6,
                wrap: None,
            }],
            ticks,
        ))],
        vec!["GPU: unavailable because none".into()],
    );
    let c = config(&[0.01, 1e30], &[32]);
    let done = prepare(&dir, &c, false).unwrap();
    let todo = missing(&c, None, &done);
    assert_eq!(todo.len(), 2);
    // Only the first trial now, as if interrupted.
    let first = Sweep {
        config: &c,
        data: &data,
        dir: &dir,
        monitor: &monitor,
        device: &Device::Cpu,
    }
    .run(done, &todo[..1], &mut Silent)
    .unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        prepare(&dir, &c, false).is_err(),
        "a started sweep needs --resume"
    );
    let mut other = c.clone();
    other.seed = 9;
    assert!(prepare(&dir, &other, true)
        .unwrap_err()
        .to_string()
        .contains("seed"));
    let done = prepare(&dir, &c, true).unwrap();
    let todo = missing(&c, None, &done);
    assert_eq!(todo.len(), 1);
    assert_eq!(todo[0].learning_rate, 1e30);
    let all = Sweep {
        config: &c,
        data: &data,
        dir: &dir,
        monitor: &monitor,
        device: &Device::Cpu,
    }
    .run(done, &todo, &mut Silent)
    .unwrap();
    assert_eq!(all.len(), 2);

    let ok = &all[0];
    assert_eq!(ok.epochs, 3);
    assert!(!ok.diverged);
    assert!(ok.test_accuracy.unwrap() > 0.5);
    assert_eq!(ok.reached_target, None);
    assert_eq!(ok.energy_source.as_deref(), Some("fake"));
    // Every epoch window spans whole reads of a counter that ticks 1 J per read.
    assert!(ok.history.iter().all(|e| e.energy_j.unwrap() >= 1.0));
    assert!(ok.energy_j.unwrap() >= ok.history.iter().map(|e| e.energy_j.unwrap()).sum::<f64>());
    assert_eq!(ok.cpu_energy_j, ok.energy_j);
    assert_eq!(ok.gpu_energy_j, None);
    assert!(ok.energy_unavailable.as_deref().unwrap().contains("GPU"));
    let bad = &all[1];
    assert!(bad.diverged, "{bad:?}");
    assert_eq!(bad.test_accuracy, None);
    assert!(bad.history.last().unwrap().loss.is_none());

    let csv = std::fs::read_to_string(dir.join(RESULTS_CSV)).unwrap();
    assert_eq!(csv.lines().count(), 3);
    assert!(csv.starts_with(CSV_HEADER));
    assert_eq!(read_results(&dir).unwrap(), all);
    let h = std::fs::read_to_string(dir.join("trials/bs32_lr0.01/history.csv")).unwrap();
    assert_eq!(h.lines().count(), 4);

    // Merge two shards run separately equals the whole.
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let mut shards = Vec::new();
    for (d, s) in [(&a, "1/2"), (&b, "2/2")] {
        let mut cs = c.clone();
        cs.shard = Some(s.into());
        let done = prepare(d, &cs, false).unwrap();
        let todo = missing(&cs, Some(s.parse().unwrap()), &done);
        assert_eq!(todo.len(), 1);
        let sw = Sweep {
            config: &cs,
            data: &data,
            dir: d,
            monitor: &monitor,
            device: &Device::Cpu,
        };
        shards.push(sw.run(done, &todo, &mut Silent).unwrap());
    }
    let merged = tmp.path().join("merged");
    let rep = merge(&[b.clone(), a.clone()], &merged, false).unwrap();
    assert!(rep.missing.is_empty());
    let strip = |v: &[TrialResult]| -> Vec<(usize, usize, usize, Option<f64>, bool)> {
        v.iter()
            .map(|r| (r.trial, r.batch_size, r.epochs, r.test_accuracy, r.diverged))
            .collect()
    };
    assert_eq!(strip(&rep.results), strip(&all));
    assert!(merged.join("trials/bs32_lr0.01/history.json").is_file());
    assert!(read_config(&merged).unwrap().unwrap().shard.is_none());
    // A trial in two inputs is refused; so is a folder holding another sweep.
    assert!(
        merge(&[a.clone(), a.clone()], &tmp.path().join("m2"), false)
            .unwrap_err()
            .to_string()
            .contains("also in")
    );
    assert!(merge(std::slice::from_ref(&a), &dir, false)
        .unwrap_err()
        .to_string()
        .contains("already holds"));
}
