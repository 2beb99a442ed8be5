//! `instclf features`: computes a mel power spectrogram, a dB mel spectrogram (`ref=max`) or
//! MFCCs (optionally with deltas) of one recording with librosa's parameters and writes them
//! as float32 `bins x frames`, to `.npy` (byte-identical to `numpy.save`) or `.csv`, or to standard
//! output (`-o -`). The recording is decoded and resampled on one thread while the STFT runs on
//! another (`--threads 1`: one thread; the numbers are the same).

use anyhow::Context;
use instclf_audio::decode::Stream;
use instclf_audio::delta::delta;
use instclf_audio::mel::{power_to_db, DbRef};
use instclf_audio::recipe::{Recipe, DELTA_WIDTH};
use instclf_audio::stream_mel::{mel_frames_of_stream, mfcc_of_stream};
use instclf_audio::Matrix;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Mel power spectrogram.
    Mel,
    /// Mel spectrogram in dB relative to its maximum (top_db 80).
    Db,
    /// MFCCs (DCT of the dB mel spectrogram with ref=1.0).
    Mfcc,
}

#[derive(clap::Args)]
#[command(after_help = "Examples:
  instclf features fixtures/audio/Cello.Vib.ff.C3D3.aiff --kind mfcc --deltas -o cello.npy
  instclf features fixtures/audio/Cello.Vib.ff.C3D3.aiff --kind db --n-mels 64 -o cello-db.csv
  instclf features fixtures/audio/Oboe.Vib.mf.C5D5.aiff --kind mel --sr 16000 -o oboe-mel.npy
  instclf features fixtures/audio/Oboe.Vib.mf.C5D5.aiff --kind mfcc -o - --format csv | head -1")]
pub struct Args {
    /// Input audio file.
    pub input: PathBuf,
    /// What to compute.
    #[arg(long, value_enum)]
    pub kind: Kind,
    /// Sample rate the audio is resampled to, in Hz.
    #[arg(long, default_value_t = 22050)]
    pub sr: u32,
    #[arg(long, default_value_t = 2048)]
    pub n_fft: usize,
    #[arg(long, default_value_t = 512)]
    pub hop: usize,
    #[arg(long, default_value_t = 128)]
    pub n_mels: usize,
    #[arg(long, default_value_t = 0.0)]
    pub fmin: f32,
    /// Upper mel edge in Hz (default: sr / 2).
    #[arg(long)]
    pub fmax: Option<f32>,
    #[arg(long, default_value_t = 40)]
    pub n_mfcc: usize,
    /// With --kind mfcc: append deltas and delta-deltas (rows [mfcc; delta; delta2]).
    #[arg(long)]
    pub deltas: bool,
    /// Output file, .npy or .csv; `-` for standard output.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Output format (default: the output's extension; npy for `-o -`).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Threads: 1 decodes and computes on one; 2 or more decode and resample on one while the
    /// STFT runs on another (default: the environment's RAYON_NUM_THREADS, else every core).
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// float32 array, as numpy.save writes it.
    Npy,
    /// One line per row, comma-separated.
    Csv,
}

fn output_format(path: &Path, asked: Option<Format>) -> anyhow::Result<Format> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match (ext.as_deref(), asked) {
        (_, Some(f)) if path.as_os_str() == "-" => Ok(f),
        (None, None) if path.as_os_str() == "-" => Ok(Format::Npy),
        (Some("npy"), None | Some(Format::Npy)) => Ok(Format::Npy),
        (Some("csv"), None | Some(Format::Csv)) => Ok(Format::Csv),
        (Some("npy" | "csv"), Some(f)) => anyhow::bail!(
            "{}: --format {} does not match the output's extension",
            path.display(),
            if f == Format::Npy { "npy" } else { "csv" }
        ),
        _ => anyhow::bail!("{}: output must end in .npy or .csv", path.display()),
    }
}

/// CSV text: one line per row, values in Rust's shortest round-trip notation.
pub fn csv_bytes(m: &Matrix) -> Vec<u8> {
    let mut s = String::with_capacity(m.data.len() * 12);
    for r in 0..m.rows {
        for (c, v) in m.row(r).iter().enumerate() {
            if c > 0 {
                s.push(',');
            }
            let _ = write!(s, "{v}");
        }
        s.push('\n');
    }
    s.into_bytes()
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let format = output_format(&args.output, args.format)?;
    let threads = crate::util::threads(args.threads)?;
    let recipe = Recipe {
        sr: args.sr,
        n_fft: args.n_fft,
        hop: args.hop,
        n_mels: args.n_mels,
        fmin: args.fmin,
        fmax: args.fmax,
        // Only MFCCs care about n_mfcc <= n_mels.
        n_mfcc: if args.kind == Kind::Mfcc {
            args.n_mfcc
        } else {
            args.n_mels.min(args.n_mfcc).max(1)
        },
        deltas: args.deltas,
        cmn: false,
        ..Recipe::default()
    };
    recipe
        .validate()
        .map_err(|e| anyhow::anyhow!("invalid feature parameters: {e}"))?;
    if args.deltas && args.kind != Kind::Mfcc {
        anyhow::bail!("--deltas only applies to --kind mfcc");
    }
    let stream = Stream::open(&args.input, Some(args.sr))?;
    let p = recipe.mel_params();
    let out = match args.kind {
        Kind::Mel => mel_frames_of_stream(stream, &p, threads)?
            .frames
            .transpose(),
        Kind::Db => {
            let mel = mel_frames_of_stream(stream, &p, threads)?.frames;
            power_to_db(&mel.transpose(), DbRef::Max, 1e-10, Some(80.0))
        }
        Kind::Mfcc => {
            let m = mfcc_of_stream(stream, &p, args.n_mfcc, threads)?;
            if args.deltas {
                let d1 = delta(&m, DELTA_WIDTH, 1);
                let d2 = delta(&m, DELTA_WIDTH, 2);
                Matrix::vstack(&[&m, &d1, &d2]).context("stacking deltas")?
            } else {
                m
            }
        }
    };
    let bytes = match format {
        Format::Npy => instclf_model::npy::f32_2d_bytes(out.rows, out.cols, &out.data)?,
        Format::Csv => csv_bytes(&out),
    };
    let summary = format!(
        "{}: {} x {} (bins x frames)",
        args.output.display(),
        out.rows,
        out.cols
    );
    let to_stdout = args.output.as_os_str() == "-";
    if to_stdout {
        crate::util::write_stdout(&bytes)?;
    } else {
        crate::util::write_atomic(&args.output, &bytes)?;
    }
    crate::util::print_summary(&summary, to_stdout);
    Ok(())
}
