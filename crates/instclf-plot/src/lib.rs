//! instclf-plot (skeleton)
