//! Arbitrary bytes decoded as a .mp3 file: must return Ok or an error, never panic, hang or
//! allocate without bound (panics inside symphonia are caught by decode_bytes and reported).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let _ = instclf_audio::decode::decode_bytes(Path::new("fuzz.mp3"), data.to_vec());
});
