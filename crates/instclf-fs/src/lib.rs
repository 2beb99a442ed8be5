//! instclf-fs: how every instclf crate writes a file. [`write_atomic`] writes through a hidden
//! temporary sibling that is synced and renamed into place, so a failed or interrupted write
//! never leaves a partial file; [`csv_field`] quotes a CSV field where it must be. The callers
//! wrap the error into their own error types, naming the path.

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

/// Why [`write_atomic`] failed: creating the temporary file, or writing, syncing or renaming it.
#[derive(Debug)]
pub enum WriteError {
    Create(std::io::Error),
    Write(std::io::Error),
}

impl WriteError {
    /// The I/O error underneath.
    pub fn into_io(self) -> std::io::Error {
        match self {
            WriteError::Create(e) | WriteError::Write(e) => e,
        }
    }
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::Create(e) => write!(f, "cannot create output file: {e}"),
            WriteError::Write(e) => write!(f, "cannot write output file: {e}"),
        }
    }
}

impl std::error::Error for WriteError {}

/// Writes `bytes` to `path` atomically: a hidden temporary sibling (`.NAME.XXXX.tmp`, mode 0644
/// like an ordinary file), synced, then renamed over `path`. The folder must exist.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// [`write_atomic`] for output made as it is written (no copy of it in memory): `write` fills
/// a buffered writer over the temporary file, which may also seek (a WAV header's sizes are
/// written last).
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> std::io::Result<()>,
) -> Result<(), WriteError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(WriteError::Create)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(WriteError::Write)?;
    }
    let mut w = std::io::BufWriter::with_capacity(1 << 16, tmp.as_file());
    write(&mut w)
        .and_then(|_| w.flush())
        .map_err(WriteError::Write)?;
    drop(w);
    tmp.as_file().sync_all().map_err(WriteError::Write)?;
    tmp.persist(path).map_err(|e| WriteError::Write(e.error))?;
    Ok(())
}

/// `s` as one CSV field: quoted, with quotes doubled, when it holds a comma, a quote or a line
/// break; as it is otherwise.
pub fn csv_field(s: &str) -> Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_and_leave_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }
        let missing = dir.path().join("no/such/folder/b.txt");
        let e = write_atomic(&missing, b"x").unwrap_err();
        assert!(
            e.to_string().starts_with("cannot create output file: "),
            "{e}"
        );
        assert!(!missing.exists());
    }

    #[test]
    fn streamed_writes_may_seek_and_a_failed_one_leaves_the_old_file() {
        use std::io::{Seek, SeekFrom};
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.bin");
        write_atomic_with(&p, |w| {
            w.write_all(b"????body")?;
            w.seek(SeekFrom::Start(0))?;
            w.write_all(b"HEAD")
        })
        .unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"HEADbody");
        let e = write_atomic_with(&p, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("encoder failed"))
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "cannot write output file: encoder failed");
        assert_eq!(std::fs::read(&p).unwrap(), b"HEADbody");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn csv_fields_are_quoted_only_where_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }
}
