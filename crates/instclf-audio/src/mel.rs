//! mel (to be written)
