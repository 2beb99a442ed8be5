//! recipe (to be written)
