//! onset detection (to be written)
