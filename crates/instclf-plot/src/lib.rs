//! instclf-plot: the pictures instclf draws — mel spectrogram images ([`spectrogram`]), training
//! curves ([`history`]) and hyper-parameter sweep charts ([`sweep`]) — as PNG or SVG files.
//!
//! This crate takes plain numbers (slices, vectors, small structs); it knows nothing about audio
//! decoding or models. Text is drawn with the embedded DejaVu Sans font, so no system font
//! library is needed. Every `draw_*` function renders the whole picture in memory first and then
//! writes it atomically (temporary file + rename), so a failure never leaves a partial file; the
//! matching `render_*` functions return the encoded bytes for callers that write files themselves.

pub mod history;
pub mod spectrogram;
pub mod sweep;

mod axes;
mod render;

pub use render::ImageFormat;

use std::path::PathBuf;

/// Everything that can go wrong while drawing a picture.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The output file name does not end in `.png` or `.svg`.
    #[error("{}: unsupported image format (the file name must end in .png or .svg)", path.display())]
    UnsupportedFormat { path: PathBuf },
    /// The data handed to a drawing function cannot be drawn (wrong sizes, empty, not finite...).
    #[error("invalid plot data: {0}")]
    InvalidData(String),
    /// The requested picture size is unusable.
    #[error("invalid image size {width}x{height}: {reason}")]
    InvalidSize {
        width: u32,
        height: u32,
        reason: &'static str,
    },
    /// plotters failed while drawing (should not happen with valid data).
    #[error("drawing failed: {0}")]
    Draw(String),
    /// The PNG encoder failed.
    #[error("PNG encoding failed: {0}")]
    Encode(String),
    /// The picture could not be drawn or written to this file.
    #[error("{}: {reason}", path.display())]
    Output { path: PathBuf, reason: String },
}
