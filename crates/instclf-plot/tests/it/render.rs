//! Renders every picture kind into temporary folders and checks the files: PNG decodes at the
//! requested size with the expected colours, SVG is well formed, bad data and bad paths fail
//! cleanly without leaving a file.

use instclf_plot::history::{draw_history, History};
use instclf_plot::spectrogram::{
    draw_spectrogram, hz_to_mel, magma, render_spectrogram, SpecImage,
};
use instclf_plot::sweep::{draw_loss_curves, draw_sweep_bars, SweepBar};
use instclf_plot::{ImageFormat, PlotError};
use std::path::Path;

/// Decodes a PNG file into (width, height, RGB bytes).
fn decode(path: &Path) -> (u32, u32, Vec<u8>) {
    let file = std::fs::File::open(path).expect("open png");
    let mut reader = png::Decoder::new(file).read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("png frame");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

fn pixel(img: &(u32, u32, Vec<u8>), x: u32, y: u32) -> [u8; 3] {
    let i = ((y * img.0 + x) * 3) as usize;
    [img.2[i], img.2[i + 1], img.2[i + 2]]
}

/// A dB ramp: -80 dB in the lowest band rising to 0 dB in the highest.
fn ramp(n_mels: usize, n_frames: usize) -> Vec<f32> {
    (0..n_mels * n_frames)
        .map(|i| -80.0 + 80.0 * (i / n_frames) as f32 / (n_mels - 1) as f32)
        .collect()
}

fn spec(db: &[f32], n_mels: usize) -> SpecImage<'_> {
    SpecImage {
        db,
        n_mels,
        n_frames: db.len() / n_mels,
        sr: 22050,
        hop: 512,
        fmin: 0.0,
        fmax: 8000.0,
        title: "Mel spectrogram".into(),
    }
}

#[test]
fn slaney_mel_scale() {
    assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-9);
    assert!((hz_to_mel(500.0) - 7.5).abs() < 1e-9);
    assert!((hz_to_mel(6400.0) - 42.0).abs() < 1e-9);
}

#[test]
fn spectrogram_png_uses_magma_in_the_plot_area() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spec.png");
    let db = ramp(64, 100);
    draw_spectrogram(&spec(&db, 64), &path, 600, 300).unwrap();
    let img = decode(&path);
    assert_eq!((img.0, img.1), (600, 300));
    let lut: Vec<[u8; 3]> = (0..=255).map(|i| magma(i as f64 / 255.0)).collect();
    // The middle of the picture lies inside the plot: every pixel there is a magma colour, and
    // since the ramp rises upwards, colours get brighter towards the top.
    let mut distinct = std::collections::HashSet::new();
    for y in (110..200).step_by(3) {
        for x in (200..400).step_by(7) {
            let p = pixel(&img, x, y);
            let near = lut.iter().any(|c| {
                c.iter()
                    .zip(p.iter())
                    .all(|(a, b)| (*a as i32 - *b as i32).abs() <= 2)
            });
            assert!(near, "pixel {x},{y} = {p:?} is not a magma colour");
            distinct.insert(p);
        }
    }
    assert!(distinct.len() > 10, "only {} colours", distinct.len());
    let bright = |p: [u8; 3]| p.iter().map(|&c| c as u32).sum::<u32>();
    assert!(bright(pixel(&img, 300, 110)) > bright(pixel(&img, 300, 200)));
    // The title is drawn with the embedded font: dark pixels in the top strip.
    let dark = (0..600)
        .flat_map(|x| (0..25).map(move |y| (x, y)))
        .filter(|&(x, y)| bright(pixel(&img, x, y)) < 200)
        .count();
    assert!(dark > 20, "no title text ({dark} dark pixels)");
}

#[test]
fn spectrogram_svg_embeds_one_image() {
    let db = ramp(32, 50);
    let bytes = render_spectrogram(&spec(&db, 32), ImageFormat::Svg, 500, 250).unwrap();
    let svg = String::from_utf8(bytes).unwrap();
    assert!(svg.starts_with("<svg"));
    assert!(svg.contains("width=\"500\""));
    assert!(svg.contains("Mel spectrogram"));
    assert!(svg.contains("+0 dB") && svg.contains("-80 dB"));
    // Cells and colorbar are two embedded bitmaps, not thousands of rectangles.
    assert_eq!(svg.matches("<image").count(), 2);
    // Embedded as image/png, the media type viewers check.
    assert_eq!(svg.matches("\"data:image/png;base64,").count(), 2);
    assert!(!svg.contains("\"data:png"));
    assert!(svg.matches("<rect").count() < 50);
}

#[test]
fn bad_data_and_paths_fail_without_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = ramp(8, 10);
    let mut s = spec(&db, 8);
    s.n_frames = 11;
    let path = dir.path().join("bad.png");
    let err = draw_spectrogram(&s, &path, 400, 300).unwrap_err();
    assert!(err.to_string().contains("bad.png"), "{err}");
    assert!(!path.exists());

    let ok = spec(&db, 8);
    let err = draw_spectrogram(&ok, &dir.path().join("x.jpg"), 400, 300).unwrap_err();
    assert!(matches!(err, PlotError::UnsupportedFormat { .. }));

    let missing = dir.path().join("no/such/dir/out.png");
    let err = draw_spectrogram(&ok, &missing, 400, 300).unwrap_err();
    assert!(err.to_string().contains("out.png"), "{err}");
    assert!(!missing.exists());

    let err = render_spectrogram(&ok, ImageFormat::Png, 10, 10).unwrap_err();
    assert!(matches!(err, PlotError::InvalidSize { .. }));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn history_png_has_both_curves() {
    let dir = tempfile::tempdir().unwrap();
    let n = 12;
    let h = History {
        epochs: (1..=n).collect(),
        loss: (0..n).map(|i| 2.0 / (i as f64 + 1.0)).collect(),
        accuracy: (0..n).map(|i| 0.3 + 0.05 * i as f64).collect(),
        val_loss: (0..n).map(|i| 2.5 / (i as f64 + 1.0)).collect(),
        val_accuracy: (0..n).map(|i| 0.25 + 0.05 * i as f64).collect(),
    };
    let path = dir.path().join("h.png");
    draw_history(&h, &path, 800, 300).unwrap();
    let img = decode(&path);
    assert_eq!((img.0, img.1), (800, 300));
    let count = |c: [u8; 3]| img.2.chunks(3).filter(|p| p == &c).count();
    // matplotlib's blue (train) and orange (validation).
    assert!(count([0x1f, 0x77, 0xb4]) > 100);
    assert!(count([0xff, 0x7f, 0x0e]) > 100);

    // Without validation data there is no orange line.
    let train_only = History {
        val_loss: vec![],
        val_accuracy: vec![],
        ..h.clone()
    };
    draw_history(&train_only, &path, 800, 300).unwrap();
    let img = decode(&path);
    assert_eq!(
        img.2.chunks(3).filter(|p| p == &[0xff, 0x7f, 0x0e]).count(),
        0
    );

    let broken = History {
        loss: vec![1.0],
        ..h
    };
    assert!(draw_history(&broken, &dir.path().join("b.svg"), 800, 300).is_err());
}

#[test]
fn sweep_bars_and_loss_curves() {
    let dir = tempfile::tempdir().unwrap();
    let bars: Vec<SweepBar> = ["16", "64", "256"]
        .iter()
        .enumerate()
        .map(|(i, l)| SweepBar {
            label: l.to_string(),
            time_s: 10.0 * (i + 1) as f64,
            energy_j: None,
            test_accuracy: 0.7 + 0.1 * i as f64,
            epochs: 5 + i,
            reached_target: true,
            diverged: false,
        })
        .collect();
    let svg = dir.path().join("bars.svg");
    draw_sweep_bars(&bars, "batch size", &svg, 900, 600).unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    for needle in [
        "Time to accuracy",
        "Energy to accuracy",
        "unavailable",
        "Test accuracy",
        "Epochs",
        "batch size",
        "256",
    ] {
        assert!(text.contains(needle), "missing {needle}");
    }
    let png_path = dir.path().join("bars.png");
    draw_sweep_bars(&bars, "batch size", &png_path, 900, 600).unwrap();
    let img = decode(&png_path);
    assert_eq!((img.0, img.1), (900, 600));
    assert!(img.2.chunks(3).filter(|p| p == &[0x1f, 0x77, 0xb4]).count() > 1000);

    let series = vec![
        ("lr=0.1".to_string(), vec![1.0, 0.5, 0.2, 0.1]),
        ("lr=0.01".to_string(), vec![1.0, 0.9, 0.8, 0.7]),
    ];
    let loss = dir.path().join("loss.svg");
    draw_loss_curves(&series, &loss, 700, 400).unwrap();
    let text = std::fs::read_to_string(&loss).unwrap();
    assert!(text.contains("lr=0.1") && text.contains("lr=0.01") && text.contains("Training loss"));
    assert!(draw_sweep_bars(&[], "x", &dir.path().join("e.png"), 900, 600).is_err());
}
