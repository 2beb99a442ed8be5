//! instclf-model (skeleton)
