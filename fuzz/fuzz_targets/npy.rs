//! Arbitrary bytes read as a .npy feature matrix and as a .npy label vector.
#![no_main]

use instclf_model::npy;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let p = Path::new("fuzz.npy");
    if let Ok(m) = npy::read_f32_2d_bytes(p, data) {
        assert_eq!(m.rows * m.cols, m.data.len());
    }
    let _ = npy::read_labels_bytes(p, data);
});
