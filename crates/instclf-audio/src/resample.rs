//! resample (to be written)
