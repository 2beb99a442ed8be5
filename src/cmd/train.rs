//! `instclf train`: trains a classifier on a dataset folder and writes a model folder (a
//! checkpoint after every epoch; `--resume` continues from it), printing a Keras-like line per
//! epoch, an optional progress bar, and optionally one JSON summary at the end.

mod seq;

use super::{ActivationArg, DEVICE_HELP};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use instclf_model::sequence::SeqArch;
use instclf_model::train::Validation;
use instclf_model::{
    device_from_arg, device_name, evaluate, fit, Callback, Control, Dataset, EpochRecord,
    FitOptions, TargetAccuracy,
};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  instclf dataset build --audio fixtures/audio --audio fixtures/freepats --label-from folder -o sources
  instclf train --data sources -o models/sources --epochs 20
  instclf train --data notes -o models/note-relu-1 --recipe recipes/default.toml --member note \\
      --activation relu --seed 1
  instclf train --data sources -o models/sources --epochs 40 --resume
  instclf train --data sources -o models/relu --hidden 256,128 --activation relu --json > relu.json
  instclf train --data clips -o models/gru --arch gru --units 8 --states last --lr 0.01")]
pub struct Args {
    /// Dataset folder (uiowa_{train,test}_{data,labels}.npy, optional classes.json, recipe.json).
    /// Give it several times to train on the rows of several frame datasets built with the same
    /// recipe (e.g. one per sound source).
    #[arg(long, required = true)]
    pub data: Vec<PathBuf>,
    /// Output model folder (model.safetensors, model.json, history.csv, history.json); rewritten
    /// atomically after every epoch; missing parent folders are created.
    #[arg(short = 'o', long = "output", alias = "out")]
    pub output: PathBuf,
    /// Replace an existing model folder (it stays as it was until the first epoch ends).
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    /// Number of epochs [default: 10, or --max-epochs with --target-accuracy].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Rows per batch.
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 0.001)]
    pub lr: f64,
    /// Adam beta1.
    #[arg(long, default_value_t = 0.9)]
    pub beta1: f64,
    /// Adam beta2.
    #[arg(long, default_value_t = 0.999)]
    pub beta2: f64,
    /// Adam epsilon.
    #[arg(long, default_value_t = 1e-7)]
    pub eps: f64,
    /// Hidden layer sizes, comma separated (e.g. 256,128).
    #[arg(long, value_delimiter = ',', default_value = "256")]
    pub hidden: Vec<usize>,
    /// Hidden-layer activation.
    /// [default: sigmoid, or the first of the --recipe member's activations]
    #[arg(long, value_enum)]
    pub activation: Option<ActivationArg>,
    /// Validation rows: `test` (the dataset's test split), `none`, or `split:F` (like Keras
    /// validation_split: the LAST fraction F of the training rows in file order, taken before
    /// shuffling).
    #[arg(long, default_value = "test")]
    pub validation: Validation,
    /// Stop once validation accuracy is above this for --patience epochs in a row.
    #[arg(long)]
    pub target_accuracy: Option<f64>,
    /// Epochs in a row above --target-accuracy before stopping.
    #[arg(long, default_value_t = 1)]
    pub patience: usize,
    /// Epoch limit with --target-accuracy when --epochs is not given.
    #[arg(long, default_value_t = 500)]
    pub max_epochs: usize,
    /// Seed for initialisation and shuffling (same seed + same device = identical model).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Frame models: fraction of input features zeroed at random in every training batch
    /// (input dropout; 0: off).
    #[arg(long, default_value_t = 0.0)]
    pub input_dropout: f64,
    /// Frame models: label smoothing, the fraction of each target spread evenly over all
    /// classes (0: off).
    #[arg(long, default_value_t = 0.0)]
    pub label_smoothing: f64,
    /// Frame models: mixup alpha; every training row is blended with another row of its batch
    /// (inputs and targets) by a weight from Beta(alpha, alpha) folded to >= 0.5 (0: off).
    #[arg(long, default_value_t = 0.0)]
    pub mixup: f64,
    /// Frame models: weight averaging; from epoch N on, the model validated and saved is the
    /// mean of the weights at the end of each epoch (stochastic weight averaging).
    #[arg(long, value_name = "N")]
    pub average_from: Option<usize>,
    #[arg(long, default_value = "auto", value_name = "DEVICE", help = DEVICE_HELP)]
    pub device: String,
    /// CPU threads for the tensor library (sets RAYON_NUM_THREADS; default: the environment's
    /// RAYON_NUM_THREADS, else all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print one JSON object at the end (epoch lines go to stderr unless -q/--quiet).
    #[arg(long)]
    pub json: bool,
    /// Continue an interrupted run from the checkpoint in the output folder (weights, history,
    /// epochs done and the Adam moments) up to --epochs in all; give the same options as the
    /// interrupted run.
    #[arg(long)]
    pub resume: bool,
    /// The training settings of a recipe file's member (recipes/*.toml; docs/recipes.md:
    /// epochs, batch size, learning rate, hidden layers, dropout, smoothing, mixup) instead of
    /// those options. --activation and --seed pick one of its networks.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["arch", "epochs", "batch_size", "lr", "hidden", "input_dropout", "label_smoothing", "mixup", "average_from"])]
    pub recipe: Option<PathBuf>,
    /// The member of --recipe whose settings train this network (needed when it has more than one).
    #[arg(long, value_name = "NAME", requires = "recipe")]
    pub member: Option<String>,
    /// Network: mlp on frame rows, or dense, rnn or gru on a clip dataset (`dataset build
    /// --clips`).
    #[arg(long, value_enum, default_value_t = ArchArg::Mlp)]
    pub arch: ArchArg,
    /// Recurrent units of --arch rnn|gru.
    #[arg(long, default_value_t = 1)]
    pub units: usize,
    /// Recurrent states fed to the head of --arch rnn|gru.
    #[arg(long, value_enum, default_value_t = StatesArg::All)]
    pub states: StatesArg,
    /// Hidden Dense (ReLU) layers after the flatten of --arch dense|rnn|gru, comma separated
    /// (default: none, straight to the softmax layer).
    #[arg(long, value_delimiter = ',')]
    pub head: Vec<usize>,
    /// Dropout rate before each head layer of --arch dense|rnn|gru.
    #[arg(long, default_value_t = 0.0)]
    pub dropout: f64,
}

/// The network `train` builds (`--arch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ArchArg {
    /// A multi-layer perceptron on frame rows.
    Mlp,
    /// Flatten-Dense on clips.
    Dense,
    /// A simple recurrent layer on clips.
    Rnn,
    /// A GRU layer on clips.
    Gru,
}

impl ArchArg {
    /// The option value (`mlp`, `dense`, `rnn`, `gru`).
    pub fn name(self) -> String {
        use clap::ValueEnum;
        self.to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }

    /// The sequence network of a clip model; `None` for the frame MLP.
    pub fn sequence(self) -> Option<SeqArch> {
        match self {
            ArchArg::Mlp => None,
            ArchArg::Dense => Some(SeqArch::Dense),
            ArchArg::Rnn => Some(SeqArch::Rnn),
            ArchArg::Gru => Some(SeqArch::Gru),
        }
    }
}

/// Which recurrent states reach the head (`--states`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatesArg {
    /// Every step's state, flattened (like EpyNN's sequences=True).
    All,
    /// The last step's state only.
    Last,
}

/// Prints the per-epoch line and drives the progress bar.
struct Reporter {
    bar: Option<ProgressBar>,
    max_epochs: usize,
    to_stderr: bool,
    quiet: bool,
}

impl Callback for Reporter {
    fn running_metrics_every(&self) -> Option<usize> {
        self.bar.as_ref().map(|_| 20)
    }

    fn on_batch_end(
        &mut self,
        epoch: usize,
        done: usize,
        total: usize,
        running: Option<(f64, f64)>,
    ) {
        if let Some(bar) = &self.bar {
            if done == 1 {
                bar.reset();
                bar.set_length(total as u64);
                bar.set_prefix(format!("Epoch {epoch}/{}", self.max_epochs));
            }
            bar.set_position(done as u64);
            if let Some((l, a)) = running {
                bar.set_message(format!("loss: {l:.4} - accuracy: {a:.4}"));
            }
        }
    }

    fn on_epoch_end(&mut self, r: &EpochRecord) -> Control {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
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

pub fn run(args: Args) -> anyhow::Result<()> {
    // --resume continues into the existing folder; anything else replaces it only with --force.
    if !args.resume {
        crate::util::output_dir(
            &args.output,
            args.force,
            Some("--resume to continue its training"),
        )?;
    }
    if args.arch != ArchArg::Mlp || instclf_model::sequence::is_sequence_dataset(&args.data[0]) {
        if args.data.len() > 1 {
            anyhow::bail!(
                "--data given {} times: --arch {} and clip datasets take one folder",
                args.data.len(),
                args.arch.name()
            );
        }
        if args.resume {
            anyhow::bail!("--resume is available for --arch mlp on frame datasets only");
        }
        if args.average_from.is_some() {
            anyhow::bail!("--average-from is available for --arch mlp on frame datasets only");
        }
        return seq::run(&args);
    }
    if let Some(t) = args.threads {
        if t == 0 {
            anyhow::bail!("--threads must be at least 1");
        }
        // Read by candle (matrix products) and rayon before their first use, below.
        std::env::set_var("RAYON_NUM_THREADS", t.to_string());
    }
    if let Some(t) = args.target_accuracy {
        if !(0.0..=1.0).contains(&t) {
            anyhow::bail!("--target-accuracy must be between 0 and 1, got {t}");
        }
        if args.validation == Validation::None {
            anyhow::bail!("--target-accuracy needs validation rows (--validation test or split:F)");
        }
    }
    let epochs = match (args.epochs, args.target_accuracy) {
        (Some(e), _) => e,
        (None, Some(_)) => args.max_epochs,
        (None, None) => 10,
    };
    let opts = match &args.recipe {
        Some(path) => {
            let file = instclf_pipeline::RecipeFile::load(path)?;
            let member = file.member(args.member.as_deref())?;
            let activation = args
                .activation
                .map_or(member.train.activations[0], Into::into);
            FitOptions {
                beta1: args.beta1,
                beta2: args.beta2,
                eps: args.eps,
                validation: args.validation,
                ..member.fit_options(activation, args.seed, Some(args.output.clone()))
            }
        }
        None => FitOptions {
            epochs,
            batch_size: args.batch_size,
            lr: args.lr,
            beta1: args.beta1,
            beta2: args.beta2,
            eps: args.eps,
            hidden: args.hidden.clone(),
            activation: args.activation.unwrap_or(ActivationArg::Sigmoid).into(),
            validation: args.validation,
            seed: args.seed,
            checkpoint: Some(args.output.clone()),
            input_dropout: args.input_dropout,
            label_smoothing: args.label_smoothing,
            mixup: args.mixup,
            balance_classes: false,
            average_from: args.average_from,
            conv: None,
            gru: None,
        },
    };
    let epochs = opts.epochs;
    opts.validate()?;
    crate::interrupt::install(args.output.clone(), epochs, true, args.resume)?;
    let device = device_from_arg(&args.device)?;
    let data = Dataset::load_many(&args.data)?;
    crate::util::verbose(format_args!(
        "training an MLP (hidden {:?}, {}) on {}: {} train and {} test rows of {} features, {} classes; {epochs} epochs of batch {}",
        opts.hidden,
        opts.activation,
        device_name(&device),
        data.train.rows(),
        data.test.rows(),
        data.n_features,
        data.n_classes(),
        opts.batch_size
    ));

    let show_bar = !crate::util::quiet() && std::io::stdout().is_terminal();
    let bar = show_bar.then(|| {
        let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stdout());
        if let Ok(style) = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}") {
            b.set_style(style.progress_chars("=> "));
        }
        b
    });
    let mut reporter = Reporter {
        bar,
        max_epochs: epochs,
        to_stderr: args.json,
        quiet: crate::util::quiet(),
    };
    let mut target = args
        .target_accuracy
        .map(|t| TargetAccuracy::new(t, args.patience));
    let mut checkpoints = crate::interrupt::Checkpoints::default();
    let mut callbacks: Vec<&mut dyn Callback> = vec![&mut reporter, &mut checkpoints];
    if let Some(t) = target.as_mut() {
        callbacks.push(t);
    }
    let result = if args.resume {
        instclf_model::train::fit_resume(&data, &opts, &args.output, &mut callbacks, &device)?
    } else {
        fit(&data, &opts, &mut callbacks, &device)?
    };
    // The last checkpoint holds every epoch but a diverged one.
    checkpoints.finished(result.history.len() - usize::from(result.diverged));
    let saved = if result.diverged {
        eprintln!(
            "instclf: warning: training diverged at epoch {} (loss is not finite); {}",
            result.history.len(),
            if result.history.len() > 1 {
                format!(
                    "{} keeps epoch {}",
                    args.output.display(),
                    result.history.len() - 1
                )
            } else {
                "no model was written".to_string()
            }
        );
        result.history.len() > 1
    } else {
        // fit() already wrote this model as its last checkpoint, with the Adam moments
        // (optimizer.safetensors) that let `--resume --epochs N` extend it exactly.
        true
    };
    let eval = if result.diverged {
        None
    } else {
        Some(evaluate(&result.model, &data.test.x, &data.test.y)?)
    };
    let epochs_run = result.history.len();
    let mean_epoch = if epochs_run > 0 {
        result.train_time_s / epochs_run as f64
    } else {
        0.0
    };
    if args.json {
        let out = serde_json::json!({
            "model": args.output.display().to_string(),
            "model_saved": saved,
            "epochs": epochs_run,
            "test_accuracy": eval.as_ref().map(|e| e.accuracy),
            "test_loss": eval.as_ref().map(|e| e.loss),
            "test": eval,
            "train_time_s": result.train_time_s,
            "mean_epoch_time_s": mean_epoch,
            "diverged": result.diverged,
            "stopped_early": result.stopped_early,
            "device": device_name(&device),
            "threads": crate::util::threads(None).unwrap_or(1),
            "train_rows": result.model.training.as_ref().map(|t| t.train_rows),
            "history": result.history,
        });
        println!("{}", serde_json::to_string(&out)?);
    } else if !crate::util::quiet() {
        if let Some(e) = &eval {
            println!(
                "{} epochs in {:.2}s ({:.3}s/epoch) on {}; test loss {:.4}, test accuracy {:.4}; model written to {}",
                epochs_run,
                result.train_time_s,
                mean_epoch,
                device_name(&device),
                e.loss,
                e.accuracy,
                args.output.display()
            );
        }
    }
    Ok(())
}
