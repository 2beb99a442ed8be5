//! note segmentation (to be written)
