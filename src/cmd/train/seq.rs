//! `instclf train --arch dense|rnn|gru`: the sequence-model path of `train` (clip datasets from
//! `dataset build --clips`). Parses nothing itself: it takes `train`'s arguments, trains with
//! `instclf_model::sequence::fit_sequence` and prints a Keras-like line per epoch, then
//! accuracy, precision, recall and F1 on the training part and the validation rows.

use super::{Args, StatesArg};
use instclf_model::metrics::Evaluation;
use instclf_model::sequence::{fit_sequence, is_sequence_dataset, SeqFitOptions, SequenceData};
use instclf_model::{Callback, Control, EpochRecord};

struct Lines {
    max_epochs: usize,
    to_stderr: bool,
    quiet: bool,
}

impl Callback for Lines {
    fn on_epoch_end(&mut self, r: &EpochRecord) -> Control {
        if !self.quiet {
            let mut line = format!(
                "Epoch {}/{} - {:.2}s - loss: {:.4} - accuracy: {:.4}",
                r.epoch, self.max_epochs, r.time_s, r.loss, r.accuracy
            );
            if let (Some(vl), Some(va)) = (r.val_loss, r.val_accuracy) {
                line.push_str(&format!(" - val_loss: {vl:.4} - val_accuracy: {va:.4}"));
            }
            if self.to_stderr {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        }
        Control::Continue
    }
}

fn metrics_line(what: &str, e: &Evaluation) -> String {
    let per: Vec<String> = e
        .per_class
        .iter()
        .map(|c| {
            format!(
                "{} P {:.4} R {:.4} F1 {:.4} (n={})",
                c.name, c.precision, c.recall, c.f1, c.support
            )
        })
        .collect();
    format!(
        "{what}: accuracy {:.4}, macro precision {:.4}, recall {:.4}, F1 {:.4}; {}",
        e.accuracy,
        e.macro_precision,
        e.macro_recall,
        e.macro_f1,
        per.join("; ")
    )
}

/// Trains a sequence model (`--arch dense|rnn|gru`, or `mlp` on a clip dataset, which is refused).
pub fn run(args: &Args) -> anyhow::Result<()> {
    let Some(arch) = args.arch.sequence() else {
        anyhow::bail!(
            "{}: is a clip (sequence) dataset; the frame MLP takes frame rows: use --arch dense (Flatten-Dense), rnn or gru",
            args.data[0].display()
        );
    };
    if args.device.starts_with("cuda") {
        anyhow::bail!("--arch {arch} trains on the CPU only (--device cpu or auto)");
    }
    if !is_sequence_dataset(&args.data[0]) && !args.data[0].is_dir() {
        anyhow::bail!("{}: dataset folder not found", args.data[0].display());
    }
    if let Some(t) = args.threads {
        if t == 0 {
            anyhow::bail!("--threads must be at least 1");
        }
        std::env::set_var("RAYON_NUM_THREADS", t.to_string());
    }
    let data = SequenceData::load(&args.data[0])?;
    crate::util::verbose(format_args!(
        "training {arch} ({} units) on the CPU: {} train and {} test clips of {} steps x {} inputs, {} classes",
        args.units,
        data.data.train.rows(),
        data.data.test.rows(),
        data.spec.steps,
        data.spec.input_dim(),
        data.data.n_classes()
    ));
    let epochs = args.epochs.unwrap_or(10);
    crate::interrupt::install(args.output.clone(), epochs, false, false)?;
    let opts = SeqFitOptions {
        arch,
        units: args.units,
        all_states: args.states == StatesArg::All,
        head: args.head.clone(),
        dropout: args.dropout,
        epochs,
        batch_size: args.batch_size,
        lr: args.lr,
        beta1: args.beta1,
        beta2: args.beta2,
        eps: args.eps,
        validation: args.validation,
        seed: args.seed,
        checkpoint: Some(args.output.clone()),
    };
    let mut lines = Lines {
        max_epochs: epochs,
        to_stderr: args.json,
        quiet: crate::util::quiet(),
    };
    let mut checkpoints = crate::interrupt::Checkpoints::default();
    let mut cbs: Vec<&mut dyn Callback> = vec![&mut lines, &mut checkpoints];
    let r = fit_sequence(&data, &opts, &mut cbs)?;
    // Release the hold on SIGINT taken at the last epoch's end before saving again below.
    checkpoints.finished(r.history.len() - usize::from(r.diverged));
    if r.diverged {
        eprintln!(
            "instclf: warning: training diverged at epoch {} (loss is not finite)",
            r.history.len()
        );
    } else {
        crate::interrupt::while_writing(|| r.model.save(&args.output))?;
    }
    let n = r.history.len();
    let mean_epoch = r.train_time_s / n.max(1) as f64;
    let params = r.model.net.cfg.n_params();
    // The dataset's test split, scored as `train` scores dense models (one schema for both).
    let test = if r.diverged {
        None
    } else {
        Some(r.model.evaluate(&data.data.test.x, &data.data.test.y)?)
    };
    if args.json {
        let out = serde_json::json!({
            "model": args.output.display().to_string(),
            "model_saved": !r.diverged,
            "test_accuracy": test.as_ref().map(|e| e.accuracy),
            "test_loss": test.as_ref().map(|e| e.loss),
            "test": test,
            "arch": arch.to_string(),
            "units": args.units,
            "parameters": params,
            "steps": data.spec.steps,
            "input_dim": data.spec.input_dim(),
            "epochs": n,
            "train_time_s": r.train_time_s,
            "mean_epoch_time_s": mean_epoch,
            "diverged": r.diverged,
            "train": r.train_eval,
            "validation": r.val_eval,
            "history": r.history,
        });
        println!("{}", serde_json::to_string(&out)?);
    } else if !crate::util::quiet() {
        println!(
            "{arch} ({params} parameters) on {} steps x {} inputs: {n} epochs in {:.2}s ({:.3}s/epoch); model written to {}",
            data.spec.steps,
            data.spec.input_dim(),
            r.train_time_s,
            mean_epoch,
            args.output.display()
        );
        println!("{}", metrics_line("train", &r.train_eval));
        if let Some(v) = &r.val_eval {
            println!("{}", metrics_line("validation", v));
            for note in &v.notes {
                println!("note: {note}");
            }
        }
    }
    Ok(())
}
