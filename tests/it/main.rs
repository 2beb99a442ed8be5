//! The CLI end-to-end tests, one test binary with a module per command or concern (candle and
//! symphonia are linked once, not once per file); `common` holds the helpers and fixtures they
//! share. Run one module with `cargo test --test it classify::`.

mod bad_input;
mod bundle;
mod classify;
mod common;
mod dataset;
mod evaluate;
mod features;
mod help;
mod interrupt;
mod json_schema;
mod note_level;
mod plot;
mod segment;
mod sequence;
mod spectrogram;
mod sweep;
mod train;
