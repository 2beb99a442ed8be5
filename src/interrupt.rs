//! SIGINT (Ctrl-C) during `instclf train`: the program ends with exit code 130 and one line on
//! stderr that says what was kept (the model folder as of its last complete epoch, or nothing)
//! and how to continue (`--resume`). A signal that arrives while a checkpoint is being written
//! waits for the write to finish, so the folder is never left half-replaced.

use instclf_model::{Callback, Control, EpochRecord};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// What the training run has kept so far.
struct Run {
    dir: PathBuf,
    /// Epochs asked for in all.
    total: usize,
    /// Epochs in the folder's last checkpoint written by this run (0: none yet).
    saved: usize,
    /// `--resume` can continue it (frame models).
    resumable: bool,
    /// Continuing an existing folder (`--resume`).
    resuming: bool,
    /// Training is over (what follows is evaluation and printing).
    finished: bool,
}

static RUN: Mutex<Option<Run>> = Mutex::new(None);
/// Held from the end of an epoch (when the checkpoint is written) to the start of the next.
static WRITING: Mutex<()> = Mutex::new(());

fn lock<T>(m: &'static Mutex<T>) -> MutexGuard<'static, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Installs the SIGINT handler for a training run into the model folder `dir`.
pub fn install(dir: PathBuf, total: usize, resumable: bool, resuming: bool) -> anyhow::Result<()> {
    *lock(&RUN) = Some(Run {
        dir,
        total,
        saved: 0,
        resumable,
        resuming,
        finished: false,
    });
    ctrlc::set_handler(|| {
        let _writing = lock(&WRITING);
        if let Some(run) = lock(&RUN).as_ref() {
            eprintln!("{}", message(run));
        }
        std::process::exit(130);
    })
    .map_err(|e| anyhow::anyhow!("cannot handle SIGINT: {e}"))
}

fn message(r: &Run) -> String {
    let dir = r.dir.display();
    let how = if r.resumable {
        "run the same command with --resume to continue it".to_string()
    } else {
        "sequence models cannot resume: run the command again to start over".to_string()
    };
    if r.finished && r.saved > 0 {
        return format!(
            "instclf: interrupted after training: {dir} holds the trained model ({} epochs)",
            r.saved
        );
    }
    match (r.saved, r.resuming) {
        (0, true) => {
            format!("instclf: interrupted before an epoch ended: {dir} is as it was; {how}")
        }
        (0, false) => format!(
            "instclf: interrupted before the first epoch ended: nothing was written to {dir}"
        ),
        (n, _) => format!(
            "instclf: interrupted: {dir} keeps the model after epoch {n} of {}; {how}",
            r.total
        ),
    }
}

fn set_saved(epochs: usize) {
    if let Some(run) = lock(&RUN).as_mut() {
        run.saved = epochs;
    }
}

/// A training callback that tells the handler which epoch the folder holds, and holds off a
/// SIGINT while `fit` writes a checkpoint (between one epoch's end and the next one's start).
#[derive(Default)]
pub struct Checkpoints {
    writing: Option<MutexGuard<'static, ()>>,
    last: usize,
}

impl Checkpoints {
    /// Training is over and the folder holds `saved` epochs: a SIGINT from now on says so.
    pub fn finished(&mut self, saved: usize) {
        if let Some(run) = lock(&RUN).as_mut() {
            run.saved = saved;
            run.finished = true;
        }
        self.writing = None;
    }

    fn written(&mut self) {
        if let Some(writing) = self.writing.take() {
            set_saved(self.last);
            drop(writing);
        }
    }
}

impl Callback for Checkpoints {
    fn on_epoch_end(&mut self, r: &EpochRecord) -> Control {
        self.writing = Some(lock(&WRITING));
        self.last = r.epoch;
        Control::Continue
    }

    fn on_epoch_begin(&mut self, _epoch: usize) {
        self.written();
    }

    fn on_batch_end(&mut self, _: usize, _: usize, _: usize, _: Option<(f64, f64)>) {
        self.written();
    }
}

/// Runs `write` (a model folder being saved) with SIGINT held off until it is done.
pub fn while_writing<T>(write: impl FnOnce() -> T) -> T {
    let _writing = lock(&WRITING);
    write()
}
