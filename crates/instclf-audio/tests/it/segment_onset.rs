//! Checks the onset detector against librosa 0.11 references written by
//! `scripts/segment_reference.py` into `fixtures/onset/`: the onset strength envelope must be
//! close and the onset frame indices (plain and backtracked) equal.

use instclf_audio::onset;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/onset")
}

fn read<T: npyz::Deserialize>(name: &str) -> Vec<T> {
    let path = dir().join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    npyz::NpyFile::new(&bytes[..])
        .and_then(|f| f.into_vec::<T>())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn check(name: &str, sr: u32) {
    let pcm: Vec<i16> = read(&format!("{name}.signal.npy"));
    let y: Vec<f32> = pcm.iter().map(|&v| f32::from(v) / 32768.0).collect();
    let want_env: Vec<f32> = read(&format!("{name}.env.npy"));
    let env = onset::onset_strength(&y, sr, 512, 2048, 128);
    assert_eq!(env.len(), want_env.len(), "{name}: envelope length");
    let peak = want_env.iter().copied().fold(0.0f32, f32::max);
    for (t, (a, b)) in env.iter().zip(&want_env).enumerate() {
        assert!(
            (a - b).abs() <= 1e-3 * peak.max(1.0),
            "{name}: frame {t}: onset strength {a} vs librosa {b}"
        );
    }
    let to_usize = |v: Vec<i64>| v.into_iter().map(|x| x as usize).collect::<Vec<_>>();
    let want: Vec<usize> = to_usize(read(&format!("{name}.onsets.npy")));
    assert!(!want.is_empty(), "{name}: reference has no onsets");
    assert_eq!(
        onset::onset_detect_env(&env, sr, 512, false),
        want,
        "{name}: onsets"
    );
    let want_back: Vec<usize> = to_usize(read(&format!("{name}.backtrack.npy")));
    assert_eq!(
        onset::onset_detect(&y, sr, 512, 2048, 128, true),
        want_back,
        "{name}: backtracked onsets"
    );
}

#[test]
fn tone_bursts_match_librosa() {
    check("bursts", 22050);
}

#[test]
fn piano_matches_librosa() {
    check("piano", 44100);
}

#[test]
fn flute_vibrato_matches_librosa() {
    check("flute", 44100);
}
