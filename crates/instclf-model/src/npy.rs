//! NumPy `.npy` input and output: reading feature matrices and label vectors exactly as
//! `numpy.save` wrote them (via npyz for the header; float32/float64 data, int32/int64/uint8
//! labels, C or Fortran order, either endianness), and writing float32 matrices and int64
//! vectors byte-identical to `numpy.save` (format v1.0), atomically.

use crate::error::ModelError;
use npyz::{DType, Endianness, NpyHeader, Order, TypeChar};
use std::path::Path;

/// The largest header length accepted (numpy itself refuses headers above 10 000 bytes by
/// default); guards against allocating gigabytes for a corrupt length field.
const MAX_HEADER_LEN: usize = 1 << 20;

/// The deepest bracket nesting accepted in a header. numpy writes a flat dict holding a shape
/// tuple (depth 2; a structured dtype's list of field tuples, refused later anyway, reaches 4).
/// The header parser behind npyz (py_literal) backtracks exponentially in the nesting depth:
/// 14 `{` inside the dict took 104 s and a fuzzed 118-byte header over 10 s
/// (`fuzz/fuzz_targets/npy.rs`), so deeper headers are refused before parsing.
const MAX_HEADER_DEPTH: usize = 6;

/// The bracket nesting depth of a header. Brackets inside quoted strings count too: a simple
/// scan cannot know where the parser thinks a string with backslash escapes ends (fuzzing found
/// a header whose 59 `[` sat "inside a string" for a quote-aware scan but not for the parser),
/// and the headers numpy writes have no brackets in their strings.
fn header_depth(header: &[u8]) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for &b in header {
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// A 2-D float matrix read from a `.npy` file, converted to row-major `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    /// Row-major values, `rows * cols` long.
    pub data: Vec<f32>,
}

fn npy_err(path: &Path, msg: impl Into<String>) -> ModelError {
    ModelError::Npy {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

/// Parsed header and the raw data bytes of one `.npy` file.
struct Raw<'a> {
    type_char: TypeChar,
    size: u64,
    endian: Endianness,
    descr: String,
    shape: Vec<u64>,
    order: Order,
    data: &'a [u8],
}

fn shape_str(shape: &[u64]) -> String {
    match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn parse<'a>(path: &Path, bytes: &'a [u8]) -> Result<Raw<'a>, ModelError> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(npy_err(path, "not a .npy file (magic string missing)"));
    }
    let (prefix, hlen) = match bytes[6] {
        1 => (10usize, u16::from_le_bytes([bytes[8], bytes[9]]) as usize),
        2 | 3 if bytes.len() >= 12 => (
            12usize,
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
        ),
        v => {
            return Err(npy_err(
                path,
                format!("unsupported .npy format version {v}.{}", bytes[7]),
            ))
        }
    };
    if hlen > MAX_HEADER_LEN || prefix + hlen > bytes.len() {
        return Err(npy_err(
            path,
            format!(
                "header length {hlen} is larger than the file ({} bytes) allows",
                bytes.len()
            ),
        ));
    }
    let depth = header_depth(&bytes[prefix..prefix + hlen]);
    if depth > MAX_HEADER_DEPTH {
        return Err(npy_err(
            path,
            format!("cannot parse the .npy header: brackets nested {depth} deep (at most {MAX_HEADER_DEPTH})"),
        ));
    }
    let mut reader: &[u8] = bytes;
    let header = NpyHeader::from_reader(&mut reader)
        .map_err(|e| npy_err(path, format!("cannot parse the .npy header: {e}")))?;
    let data = reader;
    let shape = header.shape().to_vec();
    let (type_char, size, endian, descr) = match header.dtype() {
        DType::Plain(ts) => (
            ts.type_char(),
            ts.size_field(),
            ts.endianness(),
            ts.to_string(),
        ),
        other => {
            return Err(npy_err(
                path,
                format!(
                    "unsupported dtype {} with shape {} (structured arrays are not supported)",
                    other.descr(),
                    shape_str(&shape)
                ),
            ))
        }
    };
    let count = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .and_then(|n| n.checked_mul(size));
    match count {
        Some(n) if n == data.len() as u64 => {}
        _ => {
            return Err(npy_err(
                path,
                format!(
                    "dtype {descr} with shape {} does not match the {} data bytes in the file",
                    shape_str(&shape),
                    data.len()
                ),
            ))
        }
    }
    Ok(Raw {
        type_char,
        size,
        endian,
        descr,
        shape,
        order: header.order(),
        data,
    })
}

fn read_file(path: &Path) -> Result<Vec<u8>, ModelError> {
    std::fs::read(path).map_err(|e| ModelError::Io {
        path: path.to_path_buf(),
        source: e,
    })
}

fn decode<const N: usize, T>(
    data: &[u8],
    big: bool,
    le: fn([u8; N]) -> T,
    be: fn([u8; N]) -> T,
) -> Vec<T> {
    data.chunks_exact(N)
        .map(|c| {
            let mut b = [0u8; N];
            b.copy_from_slice(c);
            if big {
                be(b)
            } else {
                le(b)
            }
        })
        .collect()
}

/// Reads a 2-D float32 or float64 `.npy` file into a row-major `f32` matrix.
pub fn read_f32_2d(path: &Path) -> Result<Matrix, ModelError> {
    let bytes = read_file(path)?;
    read_f32_2d_bytes(path, &bytes)
}

/// Like [`read_f32_2d`] for bytes already in memory; `path` only names them in errors.
pub fn read_f32_2d_bytes(path: &Path, bytes: &[u8]) -> Result<Matrix, ModelError> {
    let raw = parse(path, bytes)?;
    if raw.shape.len() != 2 {
        return Err(npy_err(
            path,
            format!(
                "expected a 2-D feature matrix, found dtype {} with shape {}",
                raw.descr,
                shape_str(&raw.shape)
            ),
        ));
    }
    let big = raw.endian == Endianness::Big;
    let flat: Vec<f32> = match (raw.type_char, raw.size) {
        (TypeChar::Float, 4) => decode(raw.data, big, f32::from_le_bytes, f32::from_be_bytes),
        (TypeChar::Float, 8) => decode(raw.data, big, f64::from_le_bytes, f64::from_be_bytes)
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        _ => {
            return Err(npy_err(
                path,
                format!(
                    "unsupported feature dtype {} with shape {} (expected float32 or float64)",
                    raw.descr,
                    shape_str(&raw.shape)
                ),
            ))
        }
    };
    let (rows, cols) = (raw.shape[0] as usize, raw.shape[1] as usize);
    let data = match raw.order {
        Order::C => flat,
        Order::Fortran => {
            // Column-major in the file: element (r, c) is at c * rows + r.
            let mut out = vec![0f32; flat.len()];
            for c in 0..cols {
                for r in 0..rows {
                    out[r * cols + c] = flat[c * rows + r];
                }
            }
            out
        }
    };
    Ok(Matrix { rows, cols, data })
}

/// Reads a 1-D integer label `.npy` file (int32, int64 or uint8, either endianness) as `i64`.
pub fn read_labels(path: &Path) -> Result<Vec<i64>, ModelError> {
    let bytes = read_file(path)?;
    read_labels_bytes(path, &bytes)
}

/// Like [`read_labels`] for bytes already in memory; `path` only names them in errors.
pub fn read_labels_bytes(path: &Path, bytes: &[u8]) -> Result<Vec<i64>, ModelError> {
    let raw = parse(path, bytes)?;
    if raw.shape.len() != 1 {
        return Err(npy_err(
            path,
            format!(
                "expected a 1-D label vector, found dtype {} with shape {}",
                raw.descr,
                shape_str(&raw.shape)
            ),
        ));
    }
    let big = raw.endian == Endianness::Big;
    let out = match (raw.type_char, raw.size) {
        (TypeChar::Int, 8) => decode(raw.data, big, i64::from_le_bytes, i64::from_be_bytes),
        (TypeChar::Int, 4) => decode(raw.data, big, i32::from_le_bytes, i32::from_be_bytes)
            .into_iter()
            .map(i64::from)
            .collect(),
        (TypeChar::Uint, 1) => raw.data.iter().map(|&b| i64::from(b)).collect(),
        _ => {
            return Err(npy_err(
                path,
                format!(
                    "unsupported label dtype {} with shape {} (expected int32, int64 or uint8)",
                    raw.descr,
                    shape_str(&raw.shape)
                ),
            ))
        }
    };
    Ok(out)
}

/// The bytes `numpy.save` writes for a C-order array with dtype `descr` and `shape`, header
/// only (format v1.0, padded with spaces to a multiple of 64 bytes, ending in `\n`).
pub fn header_bytes(descr: &str, shape: &[u64]) -> Vec<u8> {
    // numpy: "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }" followed by spare
    // room for growing the first axis (GROWTH_AXIS_MAX_DIGITS = 21 minus its digits).
    let mut dict = format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': {}, }}",
        shape_str(shape)
    );
    if let Some(first) = shape.first() {
        let digits = first.to_string().len();
        dict.extend(std::iter::repeat_n(' ', 21usize.saturating_sub(digits)));
    }
    let hlen = dict.len() + 1;
    let padlen = 64 - ((6 + 2 + 2 + hlen) % 64);
    let mut out = Vec::with_capacity(10 + hlen + padlen);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&((hlen + padlen) as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend(std::iter::repeat_n(b' ', padlen));
    out.push(b'\n');
    out
}

/// The bytes of a `.npy` file holding a `rows x cols` float32 matrix (`data` row-major), exactly
/// as `numpy.save(path, np.asarray(data, dtype=np.float32).reshape(rows, cols))` writes them.
pub fn f32_2d_bytes(rows: usize, cols: usize, data: &[f32]) -> Result<Vec<u8>, ModelError> {
    if rows.checked_mul(cols) != Some(data.len()) {
        return Err(ModelError::Invalid(format!(
            "cannot write a {rows} x {cols} matrix from {} values",
            data.len()
        )));
    }
    let mut out = header_bytes("<f4", &[rows as u64, cols as u64]);
    out.reserve(data.len() * 4);
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    Ok(out)
}

/// The bytes of a `.npy` file holding an int64 vector, as `numpy.save` writes them.
pub fn i64_1d_bytes(data: &[i64]) -> Vec<u8> {
    let mut out = header_bytes("<i8", &[data.len() as u64]);
    out.reserve(data.len() * 8);
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Writes `bytes` to `path` atomically ([`instclf_fs::write_atomic`]), so a failed or
/// interrupted write leaves no partial file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    instclf_fs::write_atomic(path, bytes).map_err(|e| ModelError::Io {
        path: path.to_path_buf(),
        source: e.into_io(),
    })
}

/// Writes a `rows x cols` float32 matrix (row-major `data`) as `numpy.save` would, atomically.
pub fn write_f32_2d(path: &Path, rows: usize, cols: usize, data: &[f32]) -> Result<(), ModelError> {
    let bytes = f32_2d_bytes(rows, cols, data)?;
    write_atomic(path, &bytes)
}

/// Writes an int64 vector as `numpy.save` would, atomically.
pub fn write_i64_1d(path: &Path, data: &[i64]) -> Result<(), ModelError> {
    write_atomic(path, &i64_1d_bytes(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a v1.0 .npy file by hand from a header dict and raw data bytes.
    fn hand_npy(dict: &str, data: &[u8]) -> Vec<u8> {
        let mut h = dict.to_string();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(h.len() as u16).to_le_bytes());
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn writer_header_matches_numpy_for_3x2_f4() {
        let bytes = f32_2d_bytes(3, 2, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        // numpy 2.x: np.save(f, np.arange(1, 7, dtype='<f4').reshape(3, 2))
        let mut expected = b"\x93NUMPY\x01\x00\x76\x00".to_vec();
        let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }";
        expected.extend_from_slice(dict.as_bytes());
        expected.extend(std::iter::repeat_n(b' ', 128 - 10 - dict.len() - 1));
        expected.push(b'\n');
        assert_eq!(expected.len(), 128);
        assert_eq!(&bytes[..128], &expected[..]);
        assert_eq!(&bytes[128..132], &1.0f32.to_le_bytes());
        assert_eq!(bytes.len(), 128 + 6 * 4);
    }

    #[test]
    fn writer_header_for_marl_shapes() {
        let h = header_bytes("<f4", &[66247, 120]);
        assert_eq!(h.len(), 128);
        let text = std::str::from_utf8(&h[10..]).unwrap();
        assert!(
            text.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (66247, 120), }")
        );
        assert!(text.ends_with(" \n"));
        let h1 = header_bytes("<i8", &[66247]);
        let text1 = std::str::from_utf8(&h1[10..]).unwrap();
        assert!(text1.starts_with("{'descr': '<i8', 'fortran_order': False, 'shape': (66247,), }"));
        assert_eq!(h1.len() % 64, 0);
    }

    #[test]
    fn roundtrip_written_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.npy");
        write_f32_2d(&p, 2, 3, &[0.5, -1.0, 2.0, 3.0, 4.0, 1e-3]).unwrap();
        let m = read_f32_2d(&p).unwrap();
        assert_eq!((m.rows, m.cols), (2, 3));
        assert_eq!(m.data, vec![0.5, -1.0, 2.0, 3.0, 4.0, 1e-3]);
        let q = dir.path().join("y.npy");
        write_i64_1d(&q, &[3, 0, 7]).unwrap();
        assert_eq!(read_labels(&q).unwrap(), vec![3, 0, 7]);
    }

    #[test]
    fn reads_float64_fortran_and_big_endian() {
        let p = Path::new("t.npy");
        // float64, C order, 2x2
        let data: Vec<u8> = [1.5f64, 2.0, -3.0, 4.25]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let f = hand_npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
            &data,
        );
        assert_eq!(
            read_f32_2d_bytes(p, &f).unwrap().data,
            vec![1.5, 2.0, -3.0, 4.25]
        );
        // float32, Fortran order, 2x3: columns stored first
        let cols: Vec<u8> = [1f32, 4.0, 2.0, 5.0, 3.0, 6.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let f = hand_npy(
            "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
            &cols,
        );
        let m = read_f32_2d_bytes(p, &f).unwrap();
        assert_eq!((m.rows, m.cols), (2, 3));
        assert_eq!(m.data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        // big-endian float32
        let be: Vec<u8> = [7f32, -8.0].iter().flat_map(|v| v.to_be_bytes()).collect();
        let f = hand_npy(
            "{'descr': '>f4', 'fortran_order': False, 'shape': (1, 2), }",
            &be,
        );
        assert_eq!(read_f32_2d_bytes(p, &f).unwrap().data, vec![7.0, -8.0]);
    }

    #[test]
    fn reads_int32_uint8_and_big_endian_labels() {
        let p = Path::new("l.npy");
        let d: Vec<u8> = [3i32, -1, 9].iter().flat_map(|v| v.to_le_bytes()).collect();
        let f = hand_npy(
            "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }",
            &d,
        );
        assert_eq!(read_labels_bytes(p, &f).unwrap(), vec![3, -1, 9]);
        let f = hand_npy(
            "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }",
            &[0, 5, 255],
        );
        assert_eq!(read_labels_bytes(p, &f).unwrap(), vec![0, 5, 255]);
        let d: Vec<u8> = [2i64, 1].iter().flat_map(|v| v.to_be_bytes()).collect();
        let f = hand_npy(
            "{'descr': '>i8', 'fortran_order': False, 'shape': (2,), }",
            &d,
        );
        assert_eq!(read_labels_bytes(p, &f).unwrap(), vec![2, 1]);
    }

    #[test]
    fn rejects_bad_files_with_clear_errors() {
        let p = Path::new("bad.npy");
        let f = hand_npy(
            "{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }",
            &[0, 0, 0, 0],
        );
        let e = read_labels_bytes(p, &f).unwrap_err().to_string();
        assert!(
            e.contains("bad.npy") && e.contains("<i2") && e.contains("(2,)"),
            "{e}"
        );
        // shape does not match the byte count
        let f = hand_npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }",
            &[0; 8],
        );
        let e = read_f32_2d_bytes(p, &f).unwrap_err().to_string();
        assert!(e.contains("does not match"), "{e}");
        // huge header length in a v2 file
        let mut f = b"\x93NUMPY\x02\x00".to_vec();
        f.extend_from_slice(&u32::MAX.to_le_bytes());
        let e = read_f32_2d_bytes(p, &f).unwrap_err().to_string();
        assert!(e.contains("header length"), "{e}");
        // not npy at all
        assert!(read_f32_2d_bytes(p, b"hello world").is_err());
        // 1-D where 2-D is needed
        let f = hand_npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
            &[0; 8],
        );
        let e = read_f32_2d_bytes(p, &f).unwrap_err().to_string();
        assert!(e.contains("2-D"), "{e}");
    }

    #[test]
    fn deeply_nested_headers_are_refused_quickly() {
        // Regression (fuzzing): nested `{` made the header parser backtrack for >10 s.
        let p = Path::new("deep.npy");
        let nested = format!(
            "{{'descr': '<f4', {}'fortran_order': False, 'shape': (2, 2), }}",
            "{".repeat(100)
        );
        let t0 = std::time::Instant::now();
        let e = read_f32_2d_bytes(p, &hand_npy(&nested, &[0; 16]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("deep.npy") && e.contains("nested 102 deep"),
            "{e}"
        );
        // At the limit (depth 16) the parser is still quick (and fails on the broken dict).
        let at_limit = format!(
            "{{'descr': '<f4', {}'fortran_order': False, 'shape': (2, 2), }}",
            "{".repeat(MAX_HEADER_DEPTH - 2)
        );
        assert!(read_f32_2d_bytes(p, &hand_npy(&at_limit, &[0; 16])).is_err());
        assert!(t0.elapsed().as_secs_f64() < 2.0, "{:?}", t0.elapsed());
        // Brackets inside quoted strings count: the fuzzed header below hides 59 `[` behind
        // backslash escapes and took the parser more than 12 s.
        assert_eq!(header_depth(b"{'a((((': 1, 'shape': (2, 3)}"), 6);
        let fuzzed = include_bytes!(
            "../../../fixtures/bad/data/nested_in_string_header/uiowa_train_data.npy"
        );
        let t0 = std::time::Instant::now();
        let e = read_f32_2d_bytes(p, fuzzed).unwrap_err().to_string();
        assert!(e.contains("brackets nested"), "{e}");
        assert!(t0.elapsed().as_secs_f64() < 2.0, "{:?}", t0.elapsed());
    }
}
