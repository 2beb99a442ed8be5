//! Single-threaded timing of the audio front end on one file, for `scripts/bench/features.sh`.
//! Usage: `cargo bench -p instclf-audio --bench frontend -- FILE.wav [--write-signal SECONDS]`.
//! With `--write-signal`, first writes a deterministic test recording (harmonic tone with
//! vibrato plus a little noise, 44.1 kHz 16-bit) to FILE.wav. Prints `stage seconds` lines
//! (best of several runs).

use instclf_audio::decode::{decode, encode_wav16};
use instclf_audio::mel::{melspectrogram, MelParams};
use instclf_audio::mfcc::mfcc;
use instclf_audio::recipe::Recipe;
use instclf_audio::resample::resample;
use std::time::Instant;

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let out = f();
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(out);
    }
    (best, last.expect("runs >= 1"))
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let Some(path) = args.first() else {
        eprintln!("usage: frontend FILE.wav [--write-signal SECONDS]");
        std::process::exit(2);
    };
    let path = std::path::Path::new(path);
    if let Some(i) = args.iter().position(|a| a == "--write-signal") {
        let secs: f64 = args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(60.0);
        let sr = 44100.0;
        let mut state = 12345u64;
        let y: Vec<f32> = (0..(secs * sr) as usize)
            .map(|i| {
                let t = i as f64 / sr;
                let ph = 2.0 * std::f64::consts::PI * (220.0 * t + 0.5 * (2.0 * t).sin());
                let tone: f64 = (1..8).map(|k| (k as f64 * ph).sin() / k as f64).sum();
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let noise = ((state >> 33) as f64 / (1u64 << 31) as f64) - 0.5;
                (0.2 * tone + 0.02 * noise) as f32
            })
            .collect();
        let bytes = encode_wav16(&y, 44100).expect("encode");
        std::fs::write(path, bytes).expect("write signal");
    }
    let (t_decode, audio) = best_of(3, || decode(path).expect("decode"));
    let (t_resample, y) = best_of(3, || {
        resample(&audio.samples, audio.sample_rate, 22050).expect("resample")
    });
    let p = MelParams::default();
    let (t_mel, mel) = best_of(5, || melspectrogram(&y, &p));
    let (t_mfcc, m) = best_of(5, || mfcc(&y, &p, 40));
    let recipe = Recipe::default();
    let (t_recipe, f) = best_of(5, || recipe.frames(&y));
    assert_eq!(mel.cols, m.cols);
    assert_eq!(f.rows, m.cols);
    println!(
        "duration {}",
        audio.samples.len() as f64 / audio.sample_rate as f64
    );
    println!("decode {t_decode}");
    println!("resample {t_resample}");
    println!("mel {t_mel}");
    println!("mfcc {t_mfcc}");
    println!("mfcc_deltas {t_recipe}");
}
