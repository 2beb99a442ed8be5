//! Tests of the feature recipe: dimensions, validation, CMN, per-note features and their
//! serialisation.

use super::*;

#[test]
fn cmn_over_a_mask_zeroes_the_masked_mean_only() {
    let r = Recipe {
        cmn: true,
        ..Recipe::default()
    };
    let y: Vec<f32> = (0..22050)
        .map(|i| {
            if i < 11025 {
                (i as f32 * 0.07).sin() * 0.5
            } else {
                0.0
            }
        })
        .collect();
    let n = crate::stft::n_frames(y.len(), r.n_fft, r.hop);
    let mask: Vec<bool> = (0..n).map(|t| t < n / 3).collect();
    let f = r.frames_cmn_over(&y, Some(&mask));
    for c in 0..f.cols {
        let masked: f64 = (0..n / 3).map(|t| f.get(t, c) as f64).sum::<f64>() / (n / 3) as f64;
        assert!(masked.abs() < 1e-3, "column {c}: mean {masked}");
    }
    let all = r.frames(&y);
    assert_ne!(all, f, "the mask changes the mean");
}

#[test]
fn a_note_local_note_reads_as_it_does_alone() {
    // A loud A3, then straight after it (legato, no gap) a soft E4 60 dB below, each 43 hops
    // long: frame j of the soft note alone is frame 43 + j of the whole. With `note_local`
    // (and, with CMN, `cmn_per_note`) the soft note's rows are those it has alone.
    let sr = 22050.0;
    let hop = Recipe::default().hop;
    let n = 43 * hop;
    let tone = |f: f32, a: f32| {
        (0..n).map(move |i| a * (2.0 * std::f32::consts::PI * f * i as f32 / sr).sin())
    };
    let soft: Vec<f32> = tone(329.6, 1e-3).collect();
    let y: Vec<f32> = tone(220.0, 1.0).chain(soft.iter().copied()).collect();
    let t = crate::stft::n_frames(y.len(), 2048, hop);
    let alone_t = crate::stft::n_frames(soft.len(), 2048, hop);
    for (local, cmn) in [(true, false), (true, true), (false, false), (false, true)] {
        let r = Recipe {
            pitch: true,
            harmonics: 10,
            note_local: local,
            cmn,
            cmn_weight: 0.5,
            cmn_per_note: local,
            ..Recipe::default()
        };
        let whole = r.frames_of_notes(&y, &[0..43, 43..t]);
        let alone = r.frames_of_notes(&soft, std::slice::from_ref(&(0..alone_t)));
        // Interior frames of the soft note: clear of the join's window and delta width.
        let worst = (8..alone_t - 8)
            .flat_map(|j| (0..r.dim()).map(move |c| (j, c)))
            .map(|(j, c)| (whole.get(43 + j, c) - alone.get(j, c)).abs())
            .fold(0.0, f32::max);
        if local {
            assert!(worst < 1e-3, "note_local (cmn {cmn}): {worst}");
        } else {
            assert!(
                worst > 1.0,
                "one floor, pitch and mean for the run: {worst}"
            );
        }
    }
}

#[test]
fn pitch_is_one_value_per_note() {
    let r = Recipe {
        pitch: true,
        ..Recipe::default()
    };
    assert_eq!(r.dim(), 121);
    let sr = r.sr as usize;
    // 0.5 s of A3 (220 Hz), 0.25 s of silence, 0.5 s of A4 (440 Hz).
    let tone = |f: f32, n: usize| -> Vec<f32> {
        (0..n)
            .map(|i| (2.0 * std::f32::consts::PI * f * i as f32 / sr as f32).sin() * 0.5)
            .collect()
    };
    let mut y = tone(220.0, sr / 2);
    y.extend(vec![0.0; sr / 4]);
    y.extend(tone(440.0, sr / 2));
    let n = crate::stft::n_frames(y.len(), r.n_fft, r.hop);
    let frame_of = |sample: usize| sample / r.hop;
    let mask: Vec<bool> = (0..n)
        .map(|t| t < frame_of(sr / 2) || t > frame_of(3 * sr / 4))
        .collect();
    let f = r.frames_cmn_over(&y, Some(&mask));
    assert_eq!(f.cols, 121);
    let p = |t: usize| f.get(t, 120);
    assert!(
        (p(2) - (-1.0)).abs() < 0.01,
        "A3 is an octave below A4: {}",
        p(2)
    );
    assert!(p(n - 3).abs() < 0.01, "A4: {}", p(n - 3));
    assert_eq!(p(0), p(frame_of(sr / 2) - 1), "one value per note");
    // Without a mask: the pitch of the middle of the recording, on every frame.
    let g = r.frames(&y);
    assert!((0..n).all(|t| g.get(t, 120) == g.get(0, 120)));
}

#[test]
fn context_stacks_the_neighbouring_frames() {
    let base = Recipe::default();
    let r = Recipe {
        context: 2,
        ..Recipe::default()
    };
    assert_eq!(r.dim(), 120 + 4 * 40);
    let y: Vec<f32> = (0..22050)
        .map(|i| ((i as f32 * 0.05).sin() + (i as f32 * 0.013).sin()) * (i as f32 / 22050.0))
        .collect();
    let (a, f) = (base.frames(&y), r.frames(&y));
    assert_eq!((f.rows, f.cols), (a.rows, r.dim()));
    let last = f.rows - 1;
    for t in [0, 7, last] {
        // The row starts with the plain features, then offsets -2, -1, +1, +2 of the statics.
        assert_eq!(&f.row(t)[..120], a.row(t));
        for (j, o) in [-2isize, -1, 1, 2].into_iter().enumerate() {
            let src = (t as isize + o).clamp(0, last as isize) as usize;
            assert_eq!(&f.row(t)[120 + 40 * j..160 + 40 * j], &a.row(src)[..40]);
        }
    }
}

#[test]
fn harmonics_follow_the_partials() {
    let r = Recipe {
        harmonics: 6,
        ..Recipe::default()
    };
    assert_eq!(r.dim(), 126);
    let sr = r.sr as f32;
    // A "clarinet": 220 Hz with odd partials at 1/k and even partials 30 dB lower.
    let y: Vec<f32> = (0..r.sr as usize)
        .map(|i| {
            (1..=6)
                .map(|k| {
                    let a = if k % 2 == 1 {
                        1.0 / k as f32
                    } else {
                        0.0316 / k as f32
                    };
                    a * (2.0 * std::f32::consts::PI * 220.0 * k as f32 * i as f32 / sr).sin()
                })
                .sum::<f32>()
                * 0.3
        })
        .collect();
    let f = r.frames(&y);
    let row = &f.row(f.rows / 2)[120..];
    let expect = [0.0, -36.0, -9.5, -42.0, -14.0, -45.6];
    for (k, (&got, &want)) in row.iter().zip(&expect).enumerate() {
        assert!(
            (got - want).abs() < 1.5,
            "partial {}: {got} dB, not {want}",
            k + 1
        );
    }
    // A recipe that asks for partials above Nyquist gets the floor there.
    let high = Recipe {
        harmonics: 64,
        ..Recipe::default()
    };
    let g = high.frames(&y);
    assert_eq!(g.get(g.rows / 2, 120 + 63), -HARMONIC_FLOOR_DB);
    // Silence: every partial at the floor, no NaN.
    let s = r.frames(&vec![0.0; 4096]);
    assert!((0..s.rows).all(|t| s.row(t)[120..].iter().all(|&v| v == -HARMONIC_FLOOR_DB)));
}

/// One second of a clean 220 Hz tone at `sr` with 8 partials at 1/k.
fn tone_220(sr: u32) -> Vec<f32> {
    (0..sr as usize)
        .map(|i| {
            (1..=8)
                .map(|k| {
                    let w = 2.0 * std::f32::consts::PI * 220.0 * k as f32;
                    (w * i as f32 / sr as f32).sin() / k as f32
                })
                .sum::<f32>()
                * 0.3
        })
        .collect()
}

#[test]
fn harmonicity_groups_follow_the_partial_levels() {
    let r = Recipe {
        harmonics: 4,
        harmonicity: 3,
        ..Recipe::default()
    };
    assert_eq!(r.dim(), 127);
    assert!(r.validate().is_ok());
    let too_many = Recipe {
        harmonicity: MAX_HARMONICITY + 1,
        ..Recipe::default()
    };
    assert!(too_many.validate().unwrap_err().contains("harmonicity"));
    // A clean 220 Hz tone with 8 partials: every group stands far above the gaps.
    let y = tone_220(r.sr);
    let f = r.frames(&y);
    let row = &f.row(f.rows / 2)[124..];
    assert!(row.iter().all(|&g| g > 30.0), "{row:?}");
    // The row before the groups is the fourth partial level (a 1/k series: -12 dB).
    assert!((f.get(f.rows / 2, 123) + 12.0).abs() < 1.5);
}

#[test]
fn envelope_bands_come_last_and_follow_the_partials() {
    let r = Recipe {
        harmonics: 2,
        harmonicity: 1,
        envelope: 4,
        ..Recipe::default()
    };
    assert_eq!(r.dim(), 127);
    assert!(r.validate().is_ok());
    let too_many = Recipe {
        envelope: MAX_ENVELOPE + 1,
        ..Recipe::default()
    };
    assert!(too_many.validate().unwrap_err().contains("envelope"));
    // 220 Hz with 8 partials at 1/k: the bands (150 Hz, 566 Hz, 2.1 kHz, 8 kHz) read the first
    // partial, between partials 2 and 3 (-8 dB), and past the 8th partial (1.76 kHz) nothing.
    let y = tone_220(r.sr);
    let f = r.frames(&y);
    let row = &f.row(f.rows / 2)[123..];
    assert!(row[0].abs() < 1.5, "{row:?}");
    assert!((row[1] + 8.0).abs() < 1.5, "{row:?}");
    assert!(row[2] < -40.0 && row[3] < -40.0, "{row:?}");
}

#[test]
fn default_is_120_dims() {
    let r = Recipe::default();
    assert_eq!(r.dim(), 120);
    assert!(r.validate().is_ok());
}

#[test]
fn validate_rejects_nonsense() {
    let bad = [
        Recipe {
            n_fft: 0,
            ..Recipe::default()
        },
        Recipe {
            hop: 0,
            ..Recipe::default()
        },
        Recipe {
            sr: 0,
            ..Recipe::default()
        },
        Recipe {
            n_mfcc: 200,
            ..Recipe::default()
        },
        Recipe {
            fmax: Some(20000.0),
            ..Recipe::default()
        },
        Recipe {
            n_mels: MAX_N_MELS + 1,
            ..Recipe::default()
        },
        Recipe {
            n_fft: MAX_N_FFT + 1,
            ..Recipe::default()
        },
        Recipe {
            hop: usize::MAX,
            ..Recipe::default()
        },
        Recipe {
            context: MAX_CONTEXT + 1,
            ..Recipe::default()
        },
        Recipe {
            harmonics: MAX_HARMONICS + 1,
            ..Recipe::default()
        },
    ];
    for r in bad {
        assert!(r.validate().is_err(), "{r:?}");
    }
}

#[test]
fn frames_shape_and_cmn() {
    let y: Vec<f32> = (0..5000).map(|i| (i as f32 * 0.05).sin()).collect();
    let r = Recipe {
        cmn: true,
        ..Recipe::default()
    };
    let f = r.frames(&y);
    assert_eq!((f.rows, f.cols), (1 + 5000 / 512, 120));
    for c in 0..f.cols {
        let mean: f32 = (0..f.rows).map(|t| f.get(t, c)).sum::<f32>() / f.rows as f32;
        assert!(mean.abs() < 1e-3);
    }
}

#[test]
fn skip_coeffs_and_note_mean_change_the_row() {
    let y: Vec<f32> = (0..22050)
        .map(|i| {
            if (4000..9000).contains(&i) || (12000..20000).contains(&i) {
                (i as f32 * if i < 10000 { 0.07 } else { 0.13 }).sin() * 0.5
            } else {
                0.0
            }
        })
        .collect();
    let base = Recipe::default();
    let r = Recipe {
        skip_coeffs: 2,
        note_mean: true,
        ..Recipe::default()
    };
    assert_eq!(r.dim(), 38 + 80 + 38);
    let n = crate::stft::n_frames(y.len(), r.n_fft, r.hop);
    let mask: Vec<bool> = (0..n)
        .map(|t| (9..16).contains(&t) || (25..37).contains(&t))
        .collect();
    let f = r.frames_cmn_over(&y, Some(&mask));
    let b = base.frames_cmn_over(&y, Some(&mask));
    assert_eq!((f.rows, f.cols), (n, r.dim()));
    for t in 0..n {
        // The rows without c0 and c1 are the default rows shifted by two.
        assert_eq!(&f.row(t)[..118], &b.row(t)[2..]);
    }
    // The appended block holds each note's mean of c2.. and is constant within a note.
    for run in [9..16, 25..37] {
        for c in 0..38 {
            let mean: f32 = run.clone().map(|t| b.get(t, c + 2)).sum::<f32>() / run.len() as f32;
            for t in run.clone() {
                assert!((f.get(t, 118 + c) - mean).abs() < 1e-3 * (1.0 + mean.abs()));
            }
        }
    }
    assert_ne!(f.get(10, 118), f.get(30, 118), "two notes, two means");
}

#[test]
fn partial_cmn_touches_only_the_chosen_coefficients() {
    let y: Vec<f32> = (0..8000).map(|i| (i as f32 * 0.05).sin()).collect();
    let r = Recipe {
        cmn: true,
        cmn_coeffs: 2,
        cmn_weight: 0.5,
        ..Recipe::default()
    };
    let f = r.frames(&y);
    let b = Recipe::default().frames(&y);
    let mean = |m: &Matrix, c: usize| (0..m.rows).map(|t| m.get(t, c)).sum::<f32>() / m.rows as f32;
    for c in [0, 1, 40, 41, 80, 81] {
        assert!((mean(&f, c) - 0.5 * mean(&b, c)).abs() < 1e-3 * (1.0 + mean(&b, c).abs()));
    }
    for c in [2, 39, 42, 100] {
        assert_eq!(mean(&f, c), mean(&b, c));
    }
    assert!(Recipe {
        cmn_weight: 1.5,
        ..Recipe::default()
    }
    .validate()
    .is_err());
    assert!(Recipe {
        skip_coeffs: 40,
        ..Recipe::default()
    }
    .validate()
    .is_err());
}

#[test]
fn recipes_saved_before_the_new_fields_still_load() {
    let old = r#"{"sr":22050,"n_fft":2048,"hop":512,"n_mels":128,"fmin":0.0,"fmax":null,"n_mfcc":40,"deltas":true,"cmn":false}"#;
    let r: Recipe = serde_json::from_str(old).unwrap();
    assert_eq!(r, Recipe::default());
    assert_eq!(r.dim(), 120);
}

#[test]
fn serde_round_trip() {
    let r = Recipe {
        fmax: Some(8000.0),
        ..Recipe::default()
    };
    let s = serde_json::to_string(&r).unwrap();
    assert_eq!(serde_json::from_str::<Recipe>(&s).unwrap(), r);
}
