//! Arbitrary model files: the input is a 2-byte little-endian length N, then N bytes of
//! `model.json`, then the `model.safetensors` bytes. Loading must return Ok or an error; a
//! model that loads must also predict on one row of zeros without panicking.
#![no_main]

use candle_core::Device;
use instclf_model::Model;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let n = u16::from_le_bytes([data[0], data[1]]) as usize;
    let rest = &data[2..];
    let (json, weights) = rest.split_at(n.min(rest.len()));
    if let Ok(m) = Model::from_bytes(json, weights, &Device::Cpu) {
        if m.n_features() <= 4096 {
            let _ = m.predict_proba(&vec![0f32; m.n_features()]);
        }
    }
});
