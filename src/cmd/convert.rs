//! `instclf convert`: decodes any supported audio file (mono mix, like `librosa.load`),
//! optionally resamples it, and writes a 16-bit PCM WAV file atomically, as it decodes. An output
//! name that asks for another format (`out.mp3`) is refused rather than filled with WAV bytes.
//! `-o -` writes the WAV file to standard output instead (for a pipe), once decoding has ended: a
//! WAV header holds the length, and a pipe cannot be rewound to write it last. With two threads
//! the resampling is shared between them, and one of them also converts and writes
//! (`--threads 1`: one thread; the bytes are the same).

use instclf_audio::decode::Stream;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  instclf convert fixtures/audio/Flute.Vib.pp.E5Gb5.aiff -o flute.wav
  instclf convert fixtures/freepats/Piano.NoVib.mf.C4D4.aiff -o wav/piano-22k.wav --sr 22050
  instclf convert fixtures/audio/Flute.Vib.pp.E5Gb5.aiff -o - --sr 16000 | sox -t wav - flute.flac")]
pub struct Args {
    /// Input audio file (WAV, AIFF/AIFC, FLAC, MP3, Ogg Vorbis).
    pub input: PathBuf,
    /// Output WAV file (16-bit PCM, mono; missing parent folders are created); `-` for standard
    /// output.
    #[arg(
        short = 'o',
        long = "output",
        required_unless_present = "output_positional",
        conflicts_with = "output_positional"
    )]
    pub output: Option<PathBuf>,
    /// The output as a second positional argument: the old spelling, kept for scripts.
    #[arg(hide = true, value_name = "OUTPUT")]
    pub output_positional: Option<PathBuf>,
    /// Resample to this rate in Hz (default: keep the file's rate).
    #[arg(long)]
    pub sr: Option<u32>,
    /// Threads: 1 does everything on one; 2 or more share the resampling between two, one of
    /// which also decodes and the other converts and writes (default: the environment's
    /// RAYON_NUM_THREADS, else every core).
    #[arg(long)]
    pub threads: Option<usize>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let Some(output) = args.output.or(args.output_positional) else {
        anyhow::bail!("-o/--output is required");
    };
    if let Some(sr) = args.sr {
        if sr == 0 || sr > instclf_audio::decode::MAX_SAMPLE_RATE {
            anyhow::bail!("--sr {sr}: sample rate must be between 1 and 1000000 Hz");
        }
    }
    let to_stdout = output.as_os_str() == "-";
    let ext = output
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    if !to_stdout && ext.as_deref() != Some("wav") {
        anyhow::bail!(
            "{}: convert writes WAV only; give the output a .wav name",
            output.display()
        );
    }
    let threads = crate::util::threads(args.threads)?;
    let mut input = Stream::open(&args.input, args.sr)?;
    let rate = input.sample_rate();
    let written = if to_stdout {
        wav_to_stdout(&mut input, threads)?
    } else {
        let mut written = 0;
        crate::util::write_atomic_with(&output, |w| {
            written = input.write_wav16(w, threads)?;
            Ok(())
        })?;
        written
    };
    let summary = format!(
        "{}: {written} samples at {rate} Hz ({:.2} s)",
        output.display(),
        written as f64 / rate as f64
    );
    crate::util::print_summary(&summary, to_stdout);
    Ok(())
}

/// `-o -`: the WAV file made in memory, then written to standard output in one piece, so that a
/// decoding error leaves nothing there. Returns the samples written.
fn wav_to_stdout(stream: &mut Stream, threads: usize) -> anyhow::Result<usize> {
    // Room for what the header announces (at most 64 Mi samples: a header can lie), so that the
    // buffer is not copied as it grows.
    let room = 44 + 2 * stream.expected_len().min(1 << 26);
    let mut wav = std::io::Cursor::new(Vec::with_capacity(room));
    let written = stream
        .write_wav16(&mut wav, threads)
        .map_err(crate::util::input_or_io)?;
    crate::util::write_stdout(wav.get_ref())?;
    Ok(written)
}
