//! Embeds the bundled default model: every `src/default_model/m<N>/` folder (its `model.json` and
//! `model.safetensors`), in the order of N, becomes one member of the ensemble that
//! `src/default_model.rs` loads, so retraining with another number of networks needs no code
//! change.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let dir = root.join("src").join("default_model");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut members: Vec<(u32, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let n = name.strip_prefix('m')?.parse::<u32>().ok()?;
            e.path().is_dir().then(|| (n, e.path()))
        })
        .collect();
    members.sort();
    assert!(
        !members.is_empty(),
        "{}: no m<N>/ model folders to embed",
        dir.display()
    );
    let mut code = format!(
        "/// `(model.json, model.safetensors)` of every member, m1 first.\n\
         const MEMBERS: [(&[u8], &[u8]); {}] = [\n",
        members.len()
    );
    for (_, path) in &members {
        for file in ["model.json", "model.safetensors"] {
            assert!(
                path.join(file).is_file(),
                "{}: missing",
                path.join(file).display()
            );
        }
        let lit = |f: &str| format!("{:?}", path.join(f).display().to_string());
        writeln!(
            code,
            "    (include_bytes!({}), include_bytes!({})),",
            lit("model.json"),
            lit("model.safetensors")
        )
        .expect("write to a String");
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("default_members.rs");
    std::fs::write(&out, code).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
}
