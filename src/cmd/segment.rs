//! `instclf segment`: finds the notes of a recording (onsets and ends, see
//! `instclf_audio::segment`) and prints them as a table or as JSON.

use instclf_audio::decode;
use instclf_audio::segment::{segment, SegmentParams};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Audio file (WAV, AIFF, FLAC, MP3, Ogg Vorbis).
    pub file: PathBuf,
    /// Print JSON: {"file", "sample_rate", "notes": [{"start", "end"}, ...]}.
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
struct Report<'a> {
    file: &'a str,
    sample_rate: u32,
    notes: &'a [instclf_audio::segment::Note],
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let file = args.file.display().to_string();
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
    let audio = decode::load(&args.file, None)?;
    let params = SegmentParams {
        silence_db: args.silence_db,
        min_note_s: args.min_note,
        ..SegmentParams::default()
    };
    let notes = segment(&audio.samples, audio.sample_rate, &params);
    if args.json {
        let report = Report {
            file: &file,
            sample_rate: audio.sample_rate,
            notes: &notes,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "{file}: {} Hz, {:.3} s, {} note{}",
        audio.sample_rate,
        audio.samples.len() as f64 / f64::from(audio.sample_rate),
        notes.len(),
        if notes.len() == 1 { "" } else { "s" }
    );
    println!(
        "{:>4}  {:>9}  {:>9}  {:>9}",
        "note", "start_s", "end_s", "dur_s"
    );
    for (i, n) in notes.iter().enumerate() {
        println!(
            "{:>4}  {:>9.3}  {:>9.3}  {:>9.3}",
            i + 1,
            n.start,
            n.end,
            n.duration()
        );
    }
    Ok(())
}
