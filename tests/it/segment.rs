//! End-to-end tests of `instclf segment` on the committed fixture recordings (FluidR3 renders in
//! `fixtures/audio`, FreePats renders through TiMidity++ in `fixtures/freepats`).

use crate::common::{fixture, fixture_dir, instclf, manifest_onsets, s};
use std::collections::BTreeSet;

#[test]
fn sopsax_run_has_four_notes_in_json() {
    let path = fixture("SopSax.Vib.pp.C6Eb6.aiff");
    let out = instclf(&["segment", path.to_str().unwrap(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    // --json prints one array, even for one file.
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{all}");
    let v = &all[0];
    assert_eq!(v["sample_rate"], 44100);
    assert_eq!(v["file"], path.to_str().unwrap());
    let notes = v["notes"].as_array().expect("notes array");
    assert_eq!(notes.len(), 4, "{v}");
    // MIDI note-ons at 0.3, 1.8, 3.3, 4.8 s, each held 1 s (fixtures/audio/manifest.csv).
    for (i, n) in notes.iter().enumerate() {
        let start = n["start"].as_f64().unwrap();
        let end = n["end"].as_f64().unwrap();
        let want = 0.3 + 1.5 * i as f64;
        assert!(
            (start - want).abs() <= 0.03,
            "note {i}: start {start}, want {want}"
        );
        assert!(end > start + 0.8 && end < want + 1.5, "note {i}: end {end}");
    }
}

#[test]
fn table_lists_piano_notes() {
    let path = fixture("Piano.NoVib.mf.C3D3.aiff");
    let out = instclf(&["segment", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("44100 Hz") && text.contains("3 notes"),
        "{text}"
    );
    let rows: Vec<&str> = text.lines().skip(2).collect();
    assert_eq!(rows.len(), 3, "{text}");
    let first: Vec<f64> = rows[0]
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(first[0], 1.0);
    assert!((first[1] - 0.3).abs() <= 0.03, "{text}");
    assert!((first[3] - (first[2] - first[1])).abs() < 0.002, "{text}");
}

#[test]
fn several_files_and_folders_print_each_files_notes() {
    let sax = fixture("SopSax.Vib.pp.C6Eb6.aiff");
    let piano = fixture("Piano.NoVib.mf.C3D3.aiff");
    let freepats = fixture_dir("freepats");
    let in_folder = manifest_onsets(&freepats).len();
    let out = instclf(&["segment", s(&sax), s(&piano), s(&freepats), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    let files = v.as_array().expect("one array");
    assert_eq!(files.len(), 2 + in_folder, "{v}");
    assert_eq!(files[0]["file"], s(&sax));
    assert_eq!(files[0]["notes"].as_array().unwrap().len(), 4);
    assert_eq!(files[1]["file"], s(&piano));
    assert_eq!(files[1]["notes"].as_array().unwrap().len(), 3);
    for f in &files[2..] {
        assert!(f["file"].as_str().unwrap().starts_with(s(&freepats)), "{f}");
        assert!(!f["notes"].as_array().unwrap().is_empty(), "{f}");
    }
    // As tables: one per file, in the order given.
    let out = instclf(&["segment", s(&sax), s(&piano)]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let heads: Vec<&str> = text.lines().filter(|l| l.contains(" Hz, ")).collect();
    assert_eq!(heads.len(), 2, "{text}");
    assert!(
        heads[0].starts_with(s(&sax)) && heads[0].ends_with("4 notes"),
        "{text}"
    );
    assert!(
        heads[1].starts_with(s(&piano)) && heads[1].ends_with("3 notes"),
        "{text}"
    );
    // A bad file among several is reported and the others are still printed; exit code 2.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("noise.wav");
    std::fs::write(&bad, b"this is not audio").unwrap();
    let out = instclf(&["segment", s(&sax), s(&bad), "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    assert_eq!(v.as_array().unwrap().len(), 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(s(&bad)) && err.contains("1 of 2 files could not be segmented"),
        "{err}"
    );
}

#[test]
fn missing_and_bad_files_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("noise.wav");
    std::fs::write(&bad, b"this is not audio").unwrap();
    for path in [dir.path().join("missing.aiff"), bad] {
        let out = instclf(&["segment", path.to_str().unwrap(), "--json"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("instclf: error: ") && err.contains(path.to_str().unwrap()),
            "{err}"
        );
    }
}

#[test]
fn freepats_renders_have_every_manifest_onset_within_30_ms() {
    // `scripts/render.py --soundfont freepats --subset mini`: three classes, three notes each.
    let dir = fixture_dir("freepats");
    let manifest = manifest_onsets(&dir);
    let classes: BTreeSet<&str> = manifest
        .keys()
        .map(|f| f.split('.').next().unwrap())
        .collect();
    assert_eq!(classes.len(), 3, "{classes:?}");
    for (file, want) in &manifest {
        let path = dir.join(file);
        let out = instclf(&["segment", s(&path), "--json"]);
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
        let starts: Vec<f64> = v[0]["notes"]
            .as_array()
            .expect("notes array")
            .iter()
            .map(|n| n["start"].as_f64().unwrap())
            .collect();
        assert_eq!(
            starts.len(),
            want.len(),
            "{file}: {starts:?}, want {want:?}"
        );
        for (start, onset) in starts.iter().zip(want) {
            assert!(
                (start - onset).abs() <= 0.03,
                "{file}: start {start}, manifest onset {onset} (all: {starts:?})"
            );
        }
    }
}
