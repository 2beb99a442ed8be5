//! instclf-audio (skeleton)
