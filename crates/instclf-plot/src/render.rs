//! Rendering plumbing shared by every picture: the embedded font, choosing PNG or SVG from a file
//! name, drawing a [`Figure`] onto an in-memory backend, PNG encoding and atomic file writes.

use crate::PlotError;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

/// The embedded DejaVu Sans font (see `assets/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");

/// Family name every picture uses for its text.
pub(crate) const FONT_FAMILY: &str = "sans-serif";

/// Smallest and largest picture side accepted, in pixels.
const MIN_SIDE: u32 = 100;
const MAX_SIDE: u32 = 16_384;

/// Output file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Svg,
}

impl ImageFormat {
    /// The format named by `path`'s extension (`.png` or `.svg`, any case).
    pub fn from_path(path: &Path) -> Result<Self, PlotError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        match ext.as_deref() {
            Some("png") => Ok(ImageFormat::Png),
            Some("svg") => Ok(ImageFormat::Svg),
            _ => Err(PlotError::UnsupportedFormat {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// Registers the embedded font with plotters (once per process).
fn register_font() -> Result<(), PlotError> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, FONT)
            .map_err(|_| "the embedded font cannot be loaded".to_string())
    })
    .clone()
    .map_err(PlotError::Draw)
}

/// A picture that can be drawn onto any plotters backend.
pub(crate) trait Figure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Turns any displayable drawing error into the `String` that [`Figure::draw`] returns.
pub(crate) trait DrawResult<T> {
    fn de(self) -> Result<T, String>;
}

impl<T, E: std::fmt::Display> DrawResult<T> for Result<T, E> {
    fn de(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}

fn check_size(width: u32, height: u32) -> Result<(), PlotError> {
    if width < MIN_SIDE || height < MIN_SIDE {
        return Err(PlotError::InvalidSize {
            width,
            height,
            reason: "each side must be at least 100 pixels",
        });
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(PlotError::InvalidSize {
            width,
            height,
            reason: "each side must be at most 16384 pixels",
        });
    }
    Ok(())
}

/// Draws `fig` on a white `width` x `height` canvas and returns the encoded file contents.
pub(crate) fn render<F: Figure>(
    fig: &F,
    format: ImageFormat,
    width: u32,
    height: u32,
) -> Result<Vec<u8>, PlotError> {
    check_size(width, height)?;
    register_font()?;
    match format {
        ImageFormat::Png => {
            let mut buf = vec![255u8; width as usize * height as usize * 3];
            {
                let root =
                    BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
                root.fill(&WHITE).de().map_err(PlotError::Draw)?;
                fig.draw(&root).map_err(PlotError::Draw)?;
                root.present().de().map_err(PlotError::Draw)?;
            }
            encode_png(&buf, width, height)
        }
        ImageFormat::Svg => {
            let mut s = String::new();
            {
                let root = SVGBackend::with_string(&mut s, (width, height)).into_drawing_area();
                root.fill(&WHITE).de().map_err(PlotError::Draw)?;
                fig.draw(&root).map_err(PlotError::Draw)?;
                root.present().de().map_err(PlotError::Draw)?;
            }
            // plotters-svg embeds rasters (the spectrogram) as `data:png;base64,`; the media
            // type is `image/png`, and viewers that check it refuse the other.
            Ok(s.replace("\"data:png;base64,", "\"data:image/png;base64,")
                .into_bytes())
        }
    }
}

/// Encodes an RGB8 buffer as PNG.
pub(crate) fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, PlotError> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Default);
        let mut writer = enc
            .write_header()
            .map_err(|e| PlotError::Encode(e.to_string()))?;
        writer
            .write_image_data(rgb)
            .map_err(|e| PlotError::Encode(e.to_string()))?;
        writer
            .finish()
            .map_err(|e| PlotError::Encode(e.to_string()))?;
    }
    Ok(out)
}

/// Renders `fig` in the format named by `path` and writes it there atomically. Every error names
/// `path`.
pub(crate) fn draw_to_file<F: Figure>(
    fig: &F,
    path: &Path,
    width: u32,
    height: u32,
) -> Result<(), PlotError> {
    let format = ImageFormat::from_path(path)?;
    let bytes = render(fig, format, width, height).map_err(|e| PlotError::Output {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    write_atomic(path, &bytes)
}

/// Writes `bytes` to `path` atomically ([`instclf_fs::write_atomic`]).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PlotError> {
    instclf_fs::write_atomic(path, bytes).map_err(|e| PlotError::Output {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}
