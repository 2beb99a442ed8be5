//! `instclf spectrogram`: decodes a recording, computes its mel power spectrogram in dB
//! (`librosa.power_to_db(melspectrogram(y, sr, n_mels, fmax), ref=np.max)`, top 80 dB) and draws
//! it as a PNG or SVG picture, like the notebook's `librosa.display.specshow` figure.

use crate::util::write_atomic;
use anyhow::{bail, Context};
use instclf_audio::mel::{melspectrogram, power_to_db, DbRef, MelParams};
use instclf_audio::recipe::{MAX_N_FFT, MAX_N_MELS};
use instclf_plot::spectrogram::{render_spectrogram, SpecImage, DEFAULT_TITLE};
use instclf_plot::ImageFormat;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  instclf spectrogram fixtures/audio/SopSax.Vib.pp.C6Eb6.aiff -o sax.png
  instclf spectrogram fixtures/audio/SopSax.Vib.pp.C6Eb6.aiff --fmax 8000 --title 'Soprano sax' -o sax.svg
  instclf spectrogram fixtures/audio/Trombone.NoVib.pp.F3G3.aiff --sr 8000 -o trombone.png")]
pub struct Args {
    /// Audio file to draw (WAV, AIFF, FLAC, MP3, Ogg Vorbis).
    pub input: PathBuf,
    /// Output picture; the format follows the extension: .png or .svg.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Highest frequency of the mel bands, Hz (at most half of --sr) [default: half of --sr;
    /// the MARL notebook's figure used 8000].
    #[arg(long)]
    pub fmax: Option<f32>,
    /// Number of mel bands.
    #[arg(long, default_value_t = 128)]
    pub n_mels: usize,
    /// Picture width in pixels.
    #[arg(long, default_value_t = 1000)]
    pub width: u32,
    /// Picture height in pixels.
    #[arg(long, default_value_t = 400)]
    pub height: u32,
    /// Title drawn above the spectrogram.
    #[arg(long, default_value = DEFAULT_TITLE)]
    pub title: String,
    /// Sample rate the recording is resampled to before analysis, Hz.
    #[arg(long, default_value_t = 22050)]
    pub sr: u32,
    /// FFT size, samples.
    #[arg(long, default_value_t = 2048)]
    pub n_fft: usize,
    /// Hop between frames, samples.
    #[arg(long, default_value_t = 512)]
    pub hop: usize,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    // Check everything that does not need the audio first, so a bad option fails fast.
    let format = ImageFormat::from_path(&args.output)?;
    if args.sr == 0 {
        bail!("--sr must be positive");
    }
    if args.n_mels == 0 || args.n_mels > MAX_N_MELS {
        bail!(
            "--n-mels must be between 1 and {MAX_N_MELS}, got {}",
            args.n_mels
        );
    }
    if args.hop == 0 || args.hop > MAX_N_FFT || args.n_fft < 2 || args.n_fft > MAX_N_FFT {
        bail!("--hop must be between 1 and {MAX_N_FFT} and --n-fft between 2 and {MAX_N_FFT}");
    }
    let nyquist = args.sr as f32 / 2.0;
    let fmax = args.fmax.unwrap_or(nyquist);
    if !(fmax > 0.0 && fmax <= nyquist) {
        bail!("--fmax {fmax} Hz must be above 0 and at most half the sample rate ({nyquist} Hz)");
    }

    let audio = instclf_audio::decode::load(&args.input, Some(args.sr)).map_err(|e| {
        // Decoding errors name the file already; resampling errors do not.
        let (msg, name) = (e.to_string(), args.input.display().to_string());
        if msg.contains(&name) {
            anyhow::anyhow!(msg)
        } else {
            anyhow::anyhow!("{name}: {msg}")
        }
    })?;
    if audio.samples.is_empty() {
        bail!("{}: the recording has no samples", args.input.display());
    }
    let params = MelParams {
        sr: args.sr,
        n_fft: args.n_fft,
        hop: args.hop,
        n_mels: args.n_mels,
        fmin: 0.0,
        fmax: Some(fmax),
        htk: false,
    };
    let power = melspectrogram(&audio.samples, &params);
    let db = power_to_db(&power, DbRef::Max, 1e-10, Some(80.0));
    let spec = SpecImage {
        db: &db.data,
        n_mels: db.rows,
        n_frames: db.cols,
        sr: args.sr,
        hop: args.hop,
        fmin: 0.0,
        fmax,
        title: args.title,
    };
    let bytes = render_spectrogram(&spec, format, args.width, args.height)
        .with_context(|| format!("{}: cannot draw the spectrogram", args.output.display()))?;
    write_atomic(&args.output, &bytes)
}
