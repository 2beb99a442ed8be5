//! instclf-model's integration tests, one test binary with a module per concern (training
//! through the public API: `fit`).

mod fit;
