//! Scores the note segmenter against the MIDI timing in a render folder's `manifest.csv`
//! (written by `scripts/render.py`): a note is found when a detected start lies within 30 ms of
//! its MIDI note-on. The committed fixtures are checked on every run; the full renders under
//! `data/render/<source>/` with `cargo test -p instclf-audio --release --test it segment_quality::
//! -- --ignored --nocapture` (or `INSTCLF_RENDER_DIRS=/abs/dir1:/abs/dir2`; tests run in the crate folder).

use instclf_audio::decode;
use instclf_audio::segment::{segment, OnsetScore, SegmentParams};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const TOL_S: f64 = 0.030;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// file name -> reference onsets (seconds), from `manifest.csv`.
fn manifest(dir: &Path) -> BTreeMap<String, Vec<f64>> {
    let path = dir.join("manifest.csv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for line in text.lines().skip(1).filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 6, "{}: bad row {line}", path.display());
        let onset: f64 = f[4].parse().unwrap_or_else(|e| panic!("{line}: {e}"));
        out.entry(f[0].to_string()).or_default().push(onset);
    }
    out
}

fn score_dir(dir: &Path, verbose: bool) -> (OnsetScore, usize) {
    let params = SegmentParams::default();
    let mut total = OnsetScore::default();
    let mut files = 0;
    for (file, onsets) in manifest(dir) {
        let path = dir.join(&file);
        let audio = decode::load(&path, None).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let notes = segment(&audio.samples, audio.sample_rate, &params);
        let s = OnsetScore::new(&notes, &onsets, TOL_S);
        if verbose && (s.matched != s.reference || s.detected != s.matched) {
            let starts: Vec<String> = notes.iter().map(|n| format!("{:.3}", n.start)).collect();
            println!(
                "{file}: {}/{} found, {} detected: [{}] want {onsets:?}",
                s.matched,
                s.reference,
                s.detected,
                starts.join(" ")
            );
        }
        total.add(&s);
        files += 1;
    }
    (total, files)
}

fn report(dir: &Path, s: &OnsetScore, files: usize) {
    println!(
        "{}: {files} files, {} notes, {} detected, found {:.2}% (<= 30 ms), spurious {:.2}%, mean onset error {:.1} ms",
        dir.display(),
        s.reference,
        s.detected,
        100.0 * s.recall(),
        100.0 * s.spurious(),
        1000.0 * s.mean_abs_error_s()
    );
}

#[test]
fn fixtures_are_segmented_into_their_notes() {
    let dir = root().join("fixtures/audio");
    let (s, files) = score_dir(&dir, true);
    report(&dir, &s, files);
    assert_eq!(files, 10);
    assert!(s.recall() >= 0.98, "{s:?}");
    assert!(s.spurious() <= 0.02, "{s:?}");
}

/// The lead-in rule (`SegmentParams::lead_in_s`) is for recordings that begin in the tail of an
/// earlier note: a sine sweep that simply begins with the recording, and whose onset detector
/// fires later in the sweep, keeps its note from the first frame.
#[test]
fn a_sweep_from_the_first_sample_keeps_its_start() {
    let path = root().join("fixtures/unknown/unknown.sweep-fixture.aiff");
    let audio =
        decode::load(&path, Some(22050)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let notes = segment(&audio.samples, audio.sample_rate, &SegmentParams::default());
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].start < 0.05, "{notes:?}");
    // Without the rule's level test (any onset of the lead-in starts the note) it would not.
    let eager = SegmentParams {
        rise_db: f32::NEG_INFINITY,
        ..SegmentParams::default()
    };
    let notes = segment(&audio.samples, audio.sample_rate, &eager);
    assert!(notes[0].start > 0.1, "{notes:?}");
}

#[test]
#[ignore = "needs the full renders in data/render (scripts/render-all.sh); slow"]
fn full_renders_meet_the_quality_bar() {
    let dirs: Vec<PathBuf> = match std::env::var("INSTCLF_RENDER_DIRS") {
        Ok(v) => v.split(':').map(PathBuf::from).collect(),
        Err(_) => ["fluidr3", "csound"]
            .iter()
            .map(|s| root().join("data/render").join(s))
            .collect(),
    };
    for dir in dirs {
        let (s, files) = score_dir(&dir, true);
        report(&dir, &s, files);
        assert!(s.recall() >= 0.98, "{}: {s:?}", dir.display());
        assert!(s.spurious() <= 0.02, "{}: {s:?}", dir.display());
    }
}
