//! `instclf segment`: finds the notes of recordings (onsets and ends, see
//! `instclf_audio::segment`) and prints them as a table per file or as one JSON array.

use instclf_audio::decode;
use instclf_audio::segment::{segment, Note, SegmentParams};
use instclf_pipeline::inputs;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
#[command(after_help = "Examples:
  instclf segment fixtures/audio/SopSax.Vib.pp.C6Eb6.aiff
  instclf segment --json fixtures/audio/ | jq '.[] | {file, notes: (.notes | length)}'
  instclf segment --silence-db -40 --min-note 0.1 fixtures/freepats")]
pub struct Args {
    /// Audio files (WAV, AIFF, FLAC, MP3, Ogg Vorbis) or folders (searched recursively).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Print JSON: one array with an object per file,
    /// {"file", "sample_rate", "notes": [{"start", "end"}, ...]}.
    #[arg(long)]
    pub json: bool,
    /// Frames this many dB below the loudest frame count as silence.
    #[arg(long, default_value_t = SegmentParams::default().silence_db, allow_negative_numbers = true)]
    pub silence_db: f32,
    /// Shortest note kept, in seconds.
    #[arg(long, default_value_t = SegmentParams::default().min_note_s)]
    pub min_note: f64,
}

#[derive(serde::Serialize)]
struct Report {
    file: String,
    sample_rate: u32,
    /// Length of the recording in seconds.
    #[serde(skip)]
    duration: f64,
    notes: Vec<Note>,
}

fn segment_file(path: &Path, params: &SegmentParams) -> anyhow::Result<Report> {
    let audio = decode::load(path, None)?;
    Ok(Report {
        file: path.display().to_string(),
        sample_rate: audio.sample_rate,
        duration: audio.samples.len() as f64 / f64::from(audio.sample_rate),
        notes: segment(&audio.samples, audio.sample_rate, params),
    })
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !args.silence_db.is_finite() || args.silence_db >= 0.0 {
        anyhow::bail!(
            "--silence-db must be a negative number of dB, got {}",
            args.silence_db
        );
    }
    if !args.min_note.is_finite() || args.min_note < 0.0 {
        anyhow::bail!(
            "--min-note must be a non-negative number of seconds, got {}",
            args.min_note
        );
    }
    let params = SegmentParams {
        silence_db: args.silence_db,
        min_note_s: args.min_note,
        ..SegmentParams::default()
    };
    let files = inputs::expand_inputs(&args.inputs)?;
    if let [one] = files.as_slice() {
        // One file: its error is the command's error.
        let report = segment_file(one, &params)?;
        return print(&[report], args.json);
    }
    // Several: a file that fails is reported and skipped; the others are still printed.
    let mut reports = Vec::with_capacity(files.len());
    let mut failed = 0usize;
    for f in &files {
        match segment_file(f, &params) {
            Ok(r) => {
                if !args.json {
                    if !reports.is_empty() {
                        println!();
                    }
                    print_table(&r);
                }
                reports.push(r);
            }
            Err(e) => {
                failed += 1;
                eprintln!("instclf: error: {e:#}");
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} files could not be segmented", files.len());
    }
    Ok(())
}

fn print(reports: &[Report], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(reports)?);
    } else {
        reports.iter().for_each(print_table);
    }
    Ok(())
}

fn print_table(r: &Report) {
    let n = r.notes.len();
    println!(
        "{}: {} Hz, {:.3} s, {n} note{}",
        r.file,
        r.sample_rate,
        r.duration,
        if n == 1 { "" } else { "s" }
    );
    println!(
        "{:>4}  {:>9}  {:>9}  {:>9}",
        "note", "start_s", "end_s", "dur_s"
    );
    for (i, n) in r.notes.iter().enumerate() {
        println!(
            "{:>4}  {:>9.3}  {:>9.3}  {:>9.3}",
            i + 1,
            n.start,
            n.end,
            n.duration()
        );
    }
}
