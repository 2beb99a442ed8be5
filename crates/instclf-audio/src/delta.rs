//! delta (to be written)
