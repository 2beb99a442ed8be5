//! Small helpers shared by the subcommands: output paths (parents created, one overwrite rule),
//! atomic output files and progress bars.

use anyhow::Context;
use instclf_pipeline::Progress;
use std::path::Path;
use std::sync::atomic::{AtomicI8, Ordering};

/// -1 with the global `--quiet`, 1 with `--verbose`, else 0 (set once, in `main`).
static VERBOSITY: AtomicI8 = AtomicI8::new(0);

/// Records the global `-q/--quiet` and `-v/--verbose` flags.
pub fn set_verbosity(quiet: bool, verbose: bool) {
    VERBOSITY.store(i8::from(verbose) - i8::from(quiet), Ordering::Relaxed);
}

/// Whether `-q/--quiet` was given: no progress bars, per-epoch lines or status lines.
pub fn quiet() -> bool {
    VERBOSITY.load(Ordering::Relaxed) < 0
}

/// Prints a status line on stderr when `-v/--verbose` was given.
pub fn verbose(line: impl std::fmt::Display) {
    if VERBOSITY.load(Ordering::Relaxed) > 0 {
        eprintln!("instclf: {line}");
    }
}

/// The threads a command may use: `--threads N` when given (at least 1), else the
/// environment's RAYON_NUM_THREADS, else every core.
pub fn threads(asked: Option<usize>) -> anyhow::Result<usize> {
    match asked {
        Some(0) => anyhow::bail!("--threads must be at least 1"),
        Some(n) => Ok(n),
        None => Ok(std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))),
    }
}

/// Writes a whole output (`-o -`) to standard output in one piece.
pub fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

/// Prints a command's one-line summary of what it wrote: on standard output, or on standard
/// error (unless `--quiet`) when standard output holds the output itself (`-o -`).
pub fn print_summary(line: &str, to_stdout: bool) {
    if !to_stdout {
        println!("{line}");
    } else if !quiet() {
        eprintln!("{line}");
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, then a rename, so a
/// failed or interrupted write never leaves a partial output file.
/// Missing parent folders are created first.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_atomic_with(path, |w| std::io::Write::write_all(w, bytes))
}

/// [`write_atomic`] for output made as it is written ([`instclf_fs::write_atomic_with`]).
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create output file", path.display()))?;
    instclf_fs::write_atomic_with(path, write).map_err(|e| match input_fault(e) {
        Ok(audio) => audio.into(),
        Err(e) => anyhow::anyhow!("{}: {e}", path.display()),
    })
}

/// An I/O error of writing audio as it is decoded: the input's fault (an
/// [`AudioError`](instclf_audio::decode::AudioError) inside it) as that file's error, else the
/// I/O error itself.
pub fn input_or_io(e: std::io::Error) -> anyhow::Error {
    match input_fault(instclf_fs::WriteError::Write(e)) {
        Ok(audio) => audio.into(),
        Err(instclf_fs::WriteError::Write(io)) => io.into(),
        Err(e) => anyhow::anyhow!("{e}"),
    }
}

/// Where an output is made from audio as it is decoded, a fault of the input (an
/// [`AudioError`](instclf_audio::decode::AudioError) inside the write error) is that file's
/// error, not a write error.
fn input_fault(
    e: instclf_fs::WriteError,
) -> Result<instclf_audio::decode::AudioError, instclf_fs::WriteError> {
    use instclf_audio::decode::AudioError;
    match e {
        instclf_fs::WriteError::Write(io) if io.get_ref().is_some_and(|i| i.is::<AudioError>()) => {
            let kind = io.kind();
            match io.into_inner().map(|b| b.downcast::<AudioError>()) {
                Some(Ok(audio)) => Ok(*audio),
                Some(Err(other)) => Err(instclf_fs::WriteError::Write(std::io::Error::new(
                    kind, other,
                ))),
                None => Err(instclf_fs::WriteError::Write(kind.into())),
            }
        }
        e => Err(e),
    }
}

/// The one overwrite rule for output folders: a missing folder is written (its missing parents
/// are created here); an existing one is replaced only with `--force`. Returns whether a folder
/// is already there (to be replaced). `resume`, where the command can continue the work in an
/// existing folder, is named in the error (e.g. "--resume to continue its training").
pub fn output_dir(path: &Path, force: bool, resume: Option<&str>) -> anyhow::Result<bool> {
    match std::fs::metadata(path) {
        Err(_) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("{}: cannot create output folder", path.display()))?;
            }
            Ok(false)
        }
        Ok(m) if !m.is_dir() => anyhow::bail!("{}: exists and is not a folder", path.display()),
        Ok(_) if force => Ok(true),
        Ok(_) => anyhow::bail!(
            "{}: output folder exists (use --force to replace it{})",
            path.display(),
            resume.map(|r| format!(", or {r}")).unwrap_or_default()
        ),
    }
}

/// A progress bar on stderr, hidden when stderr is not a terminal or with `--quiet`.
pub fn progress_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if quiet() || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} (eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    bar
}

/// A progress bar as the pipeline crate's [`Progress`]: steps advance it, the end clears it.
pub struct Bar(pub indicatif::ProgressBar);

impl Progress for Bar {
    fn set_length(&self, len: u64) {
        self.0.set_length(len);
    }
    fn inc(&self, n: u64) {
        self.0.inc(n);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}
