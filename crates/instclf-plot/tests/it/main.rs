//! instclf-plot's integration tests, one test binary with a module per concern (rendering
//! images: `render`).

mod render;
