//! `classify --json` and `--jsonl` against their documentation (docs/json.md): the same fields,
//! one shape whatever the number of files, and the segments of a recording in which the
//! instrument changes.

use crate::common::{fixture, instclf, mono_22050, s, stderr, write_wav};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Per `### name` section of docs/json.md, the backticked names in its table's first column.
fn documented_fields() -> BTreeMap<String, BTreeSet<String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut section = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("### ") {
            section = Some(name.trim().to_string());
            out.insert(name.trim().to_string(), BTreeSet::new());
        } else if let (Some(sec), Some(cell)) = (&section, line.strip_prefix("| `")) {
            let field = cell.split('`').next().unwrap();
            out.get_mut(sec).unwrap().insert(field.to_string());
        }
    }
    out
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().expect("an object").keys().cloned().collect()
}

fn json_array(o: &std::process::Output) -> Vec<Value> {
    assert!(o.status.success(), "{}", stderr(o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v.as_array()
        .expect("classify --json prints an array")
        .clone()
}

#[test]
fn every_documented_field_is_in_the_output_and_nothing_else() {
    let doc = documented_fields();
    let names: BTreeSet<&str> = doc.keys().map(String::as_str).collect();
    assert_eq!(names, BTreeSet::from(["file", "note", "segment", "ranked"]));
    let dir = tempfile::tempdir().unwrap();
    let quiet = dir.path().join("quiet.wav");
    write_wav(&quiet, 22050, &vec![0.0; 22050]);
    let sax = fixture("SopSax.Vib.pp.C6Eb6.aiff");
    let files = json_array(&instclf(&[
        "classify",
        "--json",
        "--top",
        "2",
        s(&sax),
        s(&quiet),
    ]));
    assert_eq!(files.len(), 2);
    for f in &files {
        assert_eq!(keys(f), doc["file"]);
    }
    let f = &files[0];
    assert!(!f["notes"].as_array().unwrap().is_empty());
    for n in f["notes"].as_array().unwrap() {
        assert_eq!(keys(n), doc["note"]);
        for r in n["top"].as_array().unwrap() {
            assert_eq!(keys(r), doc["ranked"]);
        }
    }
    for seg in f["segments"].as_array().unwrap() {
        assert_eq!(keys(seg), doc["segment"]);
    }
    for r in f["top"].as_array().unwrap() {
        assert_eq!(keys(r), doc["ranked"]);
    }
    // The silent file: answered unknown without a confidence, empty lists, same fields.
    assert!(files[1]["label"] == "unknown" && files[1]["confidence"].is_null());
    assert!(files[1]["segments"].as_array().unwrap().is_empty());
}

#[test]
fn jsonl_prints_the_same_objects_one_per_line() {
    let a = fixture("SopSax.Vib.pp.C6Eb6.aiff");
    let b = fixture("Cello.Vib.ff.C3D3.aiff");
    let array = json_array(&instclf(&["classify", "--json", s(&a), s(&b)]));
    let o = instclf(&["classify", "--jsonl", s(&a), s(&b)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, array);
    // One file is still an array of one with --json.
    assert_eq!(
        json_array(&instclf(&["classify", "--json", s(&a)])).len(),
        1
    );
}

/// Two fixtures of different classes played one after the other: two segments, each with its
/// class, the boundary at the second recording's first onset; each alone is one segment.
#[test]
fn two_instruments_one_after_the_other_are_two_segments() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        fixture("Cello.Vib.ff.C3D3.aiff"),
        fixture("SopSax.Vib.pp.C6Eb6.aiff"),
    );
    let mut y = mono_22050(&a, dir.path());
    let first_len = y.len() as f64 / 22050.0;
    y.extend(mono_22050(&b, dir.path()));
    let both = dir.path().join("both.wav");
    write_wav(&both, 22050, &y);
    let files = json_array(&instclf(&["classify", "--json", s(&a), s(&b), s(&both)]));
    for f in &files[..2] {
        assert_eq!(f["segments"].as_array().unwrap().len(), 1, "{}", f["file"]);
    }
    let segs = files[2]["segments"].as_array().unwrap();
    let got: Vec<&str> = segs.iter().map(|s| s["label"].as_str().unwrap()).collect();
    assert_eq!(got, ["Cello", "SopSax"]);
    let t = |v: &Value| v.as_f64().unwrap();
    // The fixtures' first onsets are at 0.3 s (fixtures/audio/manifest.csv).
    assert!((t(&segs[0]["start"]) - 0.3).abs() < 0.05, "{segs:?}");
    assert!(
        (t(&segs[1]["start"]) - (first_len + 0.3)).abs() < 0.05,
        "{segs:?}"
    );
    assert!(t(&segs[0]["end"]) <= t(&segs[1]["start"]) + 1e-9);
    let notes = files[2]["notes"].as_array().unwrap().len() as u64;
    let counted: u64 = segs.iter().map(|s| s["notes"].as_u64().unwrap()).sum();
    assert_eq!(counted, notes);
    // The table lists the segments when there are several.
    let o = instclf(&["classify", s(&both)]);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("segments:"), "{table}");
}
