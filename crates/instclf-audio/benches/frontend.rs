//! Single-threaded timing of the audio front end on one file, for `scripts/bench/features.sh`.
//! Usage: `cargo bench -p instclf-audio --bench frontend -- FILE.wav [--write-signal SECONDS]`.
//! With `--write-signal`, first writes a deterministic test recording (harmonic tone with
//! vibrato plus a little noise, 44.1 kHz 16-bit) to FILE.wav (and stops there if
//! `--write-only` is given too; `scripts/bench/load.sh` uses it). Prints `stage seconds` lines
//! (best wall-clock time of several runs; 20 for the feature stages) and `stage_cpu seconds`
//! (best thread CPU time, which leaves out waits for a core on a shared machine).

use instclf_audio::decode::{decode, encode_wav16};
use instclf_audio::mel::{melspectrogram, MelParams};
use instclf_audio::mfcc::mfcc;
use instclf_audio::recipe::Recipe;
use instclf_audio::resample::resample;
use instclf_fft::Complex;
use std::time::Instant;

/// Timed runs of each feature stage (best kept): the stages take milliseconds, so on a shared
/// machine many tries are needed for one undisturbed run. The librosa peer uses the same count.
const RUNS: usize = 20;

/// CPU time of the calling thread in seconds (time it was scheduled, so waits for a busy core
/// do not count); wall-clock time where that clock is unavailable.
fn thread_cpu_seconds(wall: Instant) -> f64 {
    #[cfg(target_os = "linux")]
    {
        #[repr(C)]
        struct Timespec {
            tv_sec: i64,
            tv_nsec: i64,
        }
        extern "C" {
            fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
        }
        const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
        let mut ts = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec (two 64-bit fields on 64-bit Linux).
        if unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0 {
            return ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9;
        }
    }
    wall.elapsed().as_secs_f64()
}

/// Best wall-clock and best thread-CPU seconds over `runs` calls, and the last result.
fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> ((f64, f64), T) {
    let epoch = Instant::now();
    let (mut best, mut best_cpu) = (f64::INFINITY, f64::INFINITY);
    let mut last = None;
    for _ in 0..runs {
        let c = thread_cpu_seconds(epoch);
        let t = Instant::now();
        let out = f();
        best = best.min(t.elapsed().as_secs_f64());
        best_cpu = best_cpu.min(thread_cpu_seconds(epoch) - c);
        last = Some(out);
    }
    ((best, best_cpu), last.expect("runs >= 1"))
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
        if args.iter().any(|a| a == "--write-only") {
            return;
        }
    }
    let (t_decode, audio) = best_of(3, || decode(path).expect("decode"));
    let (t_resample, y) = best_of(3, || {
        resample(&audio.samples, audio.sample_rate, 22050).expect("resample")
    });
    let p = MelParams::default();
    let (t_mel, mel) = best_of(RUNS, || melspectrogram(&y, &p));
    let (t_mfcc, m) = best_of(RUNS, || mfcc(&y, &p, 40));
    let recipe = Recipe::default();
    let (t_recipe, f) = best_of(RUNS, || recipe.frames(&y));
    // The floor under mel and MFCC: rustfft's 1024-point complex FFT (what the STFT runs for
    // n_fft 2048, the frame's even and odd samples as real and imaginary parts) for every
    // frame, on the frame's raw samples (no padding, window or power spectrum).
    let t_fft = {
        let fft = instclf_fft::forward(p.n_fft / 2);
        let mut scratch = vec![Complex::new(0.0, 0.0); fft.get_inplace_scratch_len()];
        let pairs: Vec<Complex<f32>> = y
            .chunks_exact(2)
            .map(|c| Complex::new(c[0], c[1]))
            .collect();
        let half = p.n_fft / 2;
        let mut buf = vec![Complex::new(0.0, 0.0); half];
        let frames = mel.cols;
        best_of(RUNS, || {
            for t in 0..frames {
                let start = (t * p.hop / 2).min(pairs.len().saturating_sub(half));
                buf.copy_from_slice(&pairs[start..start + half]);
                fft.process_with_scratch(&mut buf, &mut scratch);
            }
            buf[1].re
        })
        .0
    };
    assert_eq!(mel.cols, m.cols);
    assert_eq!(f.rows, m.cols);
    println!(
        "duration {}",
        audio.samples.len() as f64 / audio.sample_rate as f64
    );
    println!("mel_frames {}", mel.cols);
    for (name, (wall, cpu)) in [
        ("decode", t_decode),
        ("resample", t_resample),
        ("mel", t_mel),
        ("mfcc", t_mfcc),
        ("mfcc_deltas", t_recipe),
        ("fft_only", t_fft),
    ] {
        println!("{name} {wall}");
        println!("{name}_cpu {cpu}");
    }
}
