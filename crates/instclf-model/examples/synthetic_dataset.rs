//! Writes a synthetic dataset folder in the MARL layout (Gaussian clusters, numpy-identical
//! .npy files), for benchmarks: `synthetic_dataset OUT_DIR [N_TRAIN N_TEST N_FEATURES N_CLASSES SEED]`.

use instclf_model::Dataset;
use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(out) = args.first().map(PathBuf::from) else {
        eprintln!("usage: synthetic_dataset OUT_DIR [N_TRAIN N_TEST N_FEATURES N_CLASSES SEED]");
        std::process::exit(2);
    };
    let num = |i: usize, default: usize| -> usize {
        args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default)
    };
    let d = Dataset::synthetic(
        num(1, 66247),
        num(2, 14904),
        num(3, 120),
        num(4, 10),
        1.5,
        num(5, 7) as u64,
    );
    if let Err(e) = d.save(&out) {
        eprintln!("synthetic_dataset: error: {e}");
        std::process::exit(2);
    }
    println!(
        "{}: {} train rows, {} test rows, {} features, {} classes",
        out.display(),
        d.train.rows(),
        d.test.rows(),
        d.n_features,
        d.n_classes()
    );
}
