//! `instclf sweep`: trains one fresh model per learning rate and batch size (a grid when both are
//! lists), for a fixed number of epochs or until a target validation accuracy, and records time,
//! energy, epochs and test accuracy of each trial in `OUT/results.csv` and `OUT/results.json`
//! (appended after every trial; `--resume` finishes an interrupted sweep, `--shard i/n` runs
//! every n-th trial). At the end it prints a table and draws `OUT/loss.png` (training loss of
//! every trial, log scale) and `OUT/bars.png` (see `instclf plot sweep`).
//! `instclf sweep merge DIR... -o OUT` combines shard folders.

use crate::cmd::{ActivationArg, DEVICE_HELP};
use crate::pictures::sweep_pictures;
use anyhow::{bail, Context};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use instclf_energy::{Gpus, Monitor};
use instclf_model::sweep::{
    check_split, merge, missing, prepare, shuffle_rows, split_warning, Shard, Sweep, SweepConfig,
    SweepObserver, TrialResult, TrialSpec, RESULTS_CSV, RESULTS_JSON,
};
use instclf_model::train::Validation;
use instclf_model::{device_from_arg, device_name, Dataset, Device, EpochRecord};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
#[command(after_help = "Examples:
  instclf sweep --data sources --lr 0.1,0.01,0.001 --epochs 3 --shuffle -o sweeps/lr
  instclf sweep --data sources --batch-size 32,128 --target-accuracy 0.9 --shuffle \\
      --shard 1/2 -o sweeps/bs-1
  instclf sweep merge sweeps/bs-1 sweeps/bs-2 -o sweeps/bs
  instclf plot sweep sweeps/bs -o bars.png")]
pub struct Args {
    #[command(subcommand)]
    pub sub: Option<Sub>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(clap::Subcommand)]
pub enum Sub {
    /// Combine the folders of a sharded sweep (`--shard i/n`) into one.
    Merge(MergeArgs),
}

#[derive(clap::Args)]
#[command(after_help = "Examples:
  instclf sweep merge sweeps/bs-1 sweeps/bs-2 -o sweeps/bs")]
pub struct MergeArgs {
    /// Sweep folders (each with sweep.json and results.json).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Output folder (new, empty, or one of the inputs; missing parent folders are created).
    #[arg(short = 'o', long = "output", alias = "out")]
    pub out: PathBuf,
    /// Replace an existing output folder that is not one of the inputs.
    #[arg(long)]
    pub force: bool,
}

fn parse_lr(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number"))?;
    if v > 0.0 && v.is_finite() {
        Ok(v)
    } else {
        Err(format!("a learning rate must be > 0, got {s}"))
    }
}

fn parse_batch(s: &str) -> Result<usize, String> {
    let v: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a whole number"))?;
    if v == 0 {
        Err("a batch size must be at least 1".into())
    } else {
        Ok(v)
    }
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// Dataset folder (uiowa_{train,test}_{data,labels}.npy).
    #[arg(long, required = true)]
    pub data: Option<PathBuf>,
    /// Output folder: sweep.json, results.csv, results.json, trials/*/history.*, loss.png,
    /// bars.png (missing parent folders are created).
    #[arg(short = 'o', long = "output", alias = "out", required = true)]
    pub out: Option<PathBuf>,
    /// Replace an existing output folder (its old contents are deleted when the sweep starts).
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    /// Learning rates, comma separated [default: 0.001].
    #[arg(long, value_delimiter = ',', value_parser = parse_lr)]
    pub lr: Vec<f64>,
    /// Batch sizes, comma separated [default: 128].
    #[arg(long, value_delimiter = ',', value_parser = parse_batch)]
    pub batch_size: Vec<usize>,
    /// Train every trial for this many epochs [default: 10 without --target-accuracy].
    #[arg(long, conflicts_with = "target_accuracy")]
    pub epochs: Option<usize>,
    /// Train every trial until validation accuracy is above this for --patience epochs.
    #[arg(long)]
    pub target_accuracy: Option<f64>,
    /// Epochs in a row above --target-accuracy before a trial stops.
    #[arg(long, default_value_t = 1)]
    pub patience: usize,
    /// Epoch limit of a trial with --target-accuracy.
    #[arg(long, default_value_t = 500)]
    pub max_epochs: usize,
    /// Validation rows: `split:F` (the last fraction F of the training rows, like Keras
    /// validation_split), `none`, or `test` (only without --target-accuracy: the test rows
    /// measure the test accuracy and are never used for stopping).
    #[arg(long, default_value = "split:0.2")]
    pub validation: Validation,
    /// Hidden layer sizes, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "256")]
    pub hidden: Vec<usize>,
    /// Hidden-layer activation.
    #[arg(long, value_enum, default_value_t = ActivationArg::Sigmoid)]
    pub activation: ActivationArg,
    /// Seed for initialisation and shuffling (the same for every trial).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Shuffle the training rows once (with --seed) before the validation split, so that
    /// split:F holds out a random fraction rather than the last rows in file order (which, in
    /// a dataset built by `instclf dataset build`, are the last classes).
    #[arg(long)]
    pub shuffle: bool,
    #[arg(long, default_value = "auto", value_name = "DEVICE", help = DEVICE_HELP)]
    pub device: String,
    /// CPU threads for the tensor library (sets RAYON_NUM_THREADS).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Run only shard i of n (1 <= i <= n): trials i, i+n, i+2n, ... of the grid.
    #[arg(long)]
    pub shard: Option<Shard>,
    /// Finish the sweep already in --output: run only the trials missing from results.json.
    #[arg(long)]
    pub resume: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.sub {
        Some(Sub::Merge(m)) => run_merge(m),
        None => run_sweep(args.run),
    }
}

/// The NVML index of CUDA device `ordinal`, through CUDA_VISIBLE_DEVICES where it lists indices.
fn nvml_index(ordinal: usize) -> u32 {
    std::env::var("CUDA_VISIBLE_DEVICES")
        .ok()
        .and_then(|v| {
            v.split(',')
                .nth(ordinal)
                .and_then(|s| s.trim().parse().ok())
        })
        .unwrap_or(ordinal as u32)
}

fn monitor_for(device: &Device) -> Monitor {
    // Only the GPU that trains is measured; on the CPU, no GPU.
    let gpus = match device_name(device)
        .strip_prefix("cuda:")
        .and_then(|n| n.parse::<usize>().ok())
    {
        Some(ordinal) => Gpus::Indices(vec![nvml_index(ordinal)]),
        None => Gpus::None,
    };
    let dev = device.clone();
    Monitor::system(&gpus).with_sync(Box::new(move || {
        dev.synchronize().map_err(|e| e.to_string())
    }))
}

fn run_sweep(a: RunArgs) -> anyhow::Result<()> {
    let (Some(data_dir), Some(out)) = (a.data.clone(), a.out.clone()) else {
        bail!("--data and -o/--output are required");
    };
    // --resume finishes the sweep in the folder; anything else replaces it only with --force.
    let replace = !a.resume
        && crate::util::output_dir(&out, a.force, Some("--resume to finish the sweep in it"))?;
    if let Some(t) = a.threads {
        if t == 0 {
            bail!("--threads must be at least 1");
        }
        // Read by candle and rayon before their first use, below.
        std::env::set_var("RAYON_NUM_THREADS", t.to_string());
    }
    let device = device_from_arg(&a.device)?;
    let dataset_abs = std::fs::canonicalize(&data_dir)
        .with_context(|| format!("{}: cannot open the dataset folder", data_dir.display()))?;
    let config = SweepConfig {
        dataset: dataset_abs.display().to_string(),
        learning_rates: if a.lr.is_empty() {
            vec![0.001]
        } else {
            a.lr.clone()
        },
        batch_sizes: if a.batch_size.is_empty() {
            vec![128]
        } else {
            a.batch_size.clone()
        },
        epochs: match (a.epochs, a.target_accuracy) {
            (Some(e), _) => Some(e),
            (None, None) => Some(10),
            (None, Some(_)) => None,
        },
        target_accuracy: a.target_accuracy,
        patience: a.patience,
        max_epochs: a.max_epochs,
        validation: a.validation.to_string(),
        hidden: a.hidden.clone(),
        activation: instclf_model::Activation::from(a.activation).to_string(),
        seed: a.seed,
        shuffle: a.shuffle,
        shard: a.shard.map(|s| s.to_string()),
        device: device_name(&device),
    };
    config.validate()?;
    crate::util::verbose(format_args!("sweep: {}", serde_json::to_string(&config)?));
    let mut data = Dataset::load(&data_dir)?;
    if a.shuffle {
        shuffle_rows(&mut data, a.seed);
    }
    check_split(&config, &data)?;
    if let Some(w) = split_warning(&config, &data) {
        eprintln!("instclf: warning: {w}");
    }
    if replace {
        std::fs::remove_dir_all(&out)
            .with_context(|| format!("{}: cannot replace the output folder", out.display()))?;
    }
    let done = prepare(&out, &config, a.resume)?;
    let todo = missing(&config, a.shard, &done);
    let monitor = monitor_for(&device);

    // -q/--quiet: no progress bars and no per-trial lines (the table is still printed).
    let quiet = crate::util::quiet();
    let visible = !quiet && std::io::stderr().is_terminal();
    let mut progress = Progress::new(visible, quiet, todo.len());
    if !quiet {
        let skipped = done.len();
        let energy = match monitor.source_names().as_slice() {
            [] => "energy unavailable".to_string(),
            s => format!("energy from {}", s.join("+")),
        };
        progress.line(format!(
            "sweep: {} trial(s) to run{} on {}, {energy}{}",
            todo.len(),
            if skipped > 0 {
                format!(" ({skipped} already done)")
            } else {
                String::new()
            },
            device_name(&device),
            if monitor.unavailable().is_empty() {
                String::new()
            } else {
                format!(" ({})", monitor.unavailable().join("; "))
            }
        ));
    }
    let sweep = Sweep {
        config: &config,
        data: &data,
        dir: &out,
        monitor: &monitor,
        device: &device,
    };
    let results = sweep.run(done, &todo, &mut progress)?;
    progress.finish();

    println!("{}", table(&results, &config));
    if let Some(reason) = results.iter().find_map(|r| {
        r.energy_j
            .is_none()
            .then(|| r.energy_unavailable.clone())
            .flatten()
    }) {
        println!("energy: {reason}");
    }
    // Pictures of whatever this folder holds.
    let (bars, loss) = (out.join("bars.png"), out.join("loss.png"));
    sweep_pictures(&out, &bars, Some(&loss), 1200, 800)?;
    println!(
        "results: {}, {}; pictures: {}, {}",
        out.join(RESULTS_CSV).display(),
        out.join(RESULTS_JSON).display(),
        loss.display(),
        bars.display()
    );
    Ok(())
}

fn run_merge(m: MergeArgs) -> anyhow::Result<()> {
    let rep = merge(&m.dirs, &m.out, m.force)?;
    println!(
        "merged {} trial(s) from {} folder(s) into {}",
        rep.results.len(),
        m.dirs.len(),
        m.out.display()
    );
    if !rep.missing.is_empty() {
        let list: Vec<String> = rep
            .missing
            .iter()
            .map(|t| format!("batch {} / lr {}", t.batch_size, t.learning_rate))
            .collect();
        println!("missing {} trial(s): {}", list.len(), list.join(", "));
    }
    if let Some(cfg) = instclf_model::sweep::read_config(&m.out)? {
        println!("{}", table(&rep.results, &cfg));
    }
    let (bars, loss) = (m.out.join("bars.png"), m.out.join("loss.png"));
    if !rep.results.is_empty() {
        sweep_pictures(&m.out, &bars, Some(&loss), 1200, 800)?;
    }
    Ok(())
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map(|v| format!("{v:.digits$}"))
        .unwrap_or_else(|| "-".into())
}

/// The closing table: one row per trial, with per-epoch time and energy.
fn table(results: &[TrialResult], config: &SweepConfig) -> String {
    let target = config.target_accuracy.is_some();
    let mut head = vec![
        "trial", "batch", "lr", "epochs", "time s", "s/epoch", "energy J", "J/epoch", "test acc",
    ];
    if target {
        head.push("target");
    }
    head.push("diverged");
    let mut rows: Vec<Vec<String>> = vec![head.iter().map(|s| s.to_string()).collect()];
    for r in results {
        let approx = if r.energy_approximate { "~" } else { "" };
        let mut row = vec![
            r.trial.to_string(),
            r.batch_size.to_string(),
            r.learning_rate.to_string(),
            r.epochs.to_string(),
            format!("{:.2}", r.train_time_s),
            format!("{:.3}", r.time_per_epoch_s),
            format!("{approx}{}", fmt_opt(r.energy_j, 1)),
            format!("{approx}{}", fmt_opt(r.energy_per_epoch_j, 2)),
            fmt_opt(r.test_accuracy, 4),
        ];
        if target {
            row.push(if r.reached_target == Some(true) {
                "reached".into()
            } else {
                "missed".into()
            });
        }
        row.push(if r.diverged { "yes" } else { "no" }.into());
        rows.push(row);
    }
    let n = rows[0].len();
    let widths: Vec<usize> = (0..n)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut s = String::new();
    for (i, r) in rows.iter().enumerate() {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:>w$}"))
            .collect();
        s.push_str(cells.join("  ").trim_end());
        if i + 1 < rows.len() {
            s.push('\n');
        }
    }
    if results.iter().any(|r| r.energy_approximate) {
        s.push_str("\n~ energy partly estimated as power x time (a counter did not move)");
    }
    s
}

/// Two progress bars on stderr (the sweep, the running trial) and a line per finished trial.
struct Progress {
    multi: MultiProgress,
    sweep: ProgressBar,
    trial: ProgressBar,
    visible: bool,
    quiet: bool,
    position: usize,
    count: usize,
}

impl Progress {
    fn new(visible: bool, quiet: bool, count: usize) -> Progress {
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let multi = MultiProgress::with_draw_target(target);
        let sweep = multi.add(ProgressBar::new(count as u64));
        let trial = multi.add(ProgressBar::new(0));
        if let Ok(st) = ProgressStyle::with_template(
            "sweep  [{elapsed_precise}] [{bar:30}] {pos}/{len} trials {msg}",
        ) {
            sweep.set_style(st.progress_chars("=> "));
        }
        if let Ok(st) =
            ProgressStyle::with_template("trial  {prefix} [{bar:30}] epoch {pos}/{len} {msg}")
        {
            trial.set_style(st.progress_chars("=> "));
        }
        Progress {
            multi,
            sweep,
            trial,
            visible,
            quiet,
            position: 0,
            count,
        }
    }

    fn line(&self, s: String) {
        if self.quiet {
            return;
        }
        if self.visible {
            let _ = self.multi.println(s);
        } else {
            eprintln!("{s}");
        }
    }

    fn finish(&self) {
        self.trial.finish_and_clear();
        self.sweep.finish_and_clear();
    }
}

impl SweepObserver for Progress {
    fn trial_start(&mut self, t: &TrialSpec, position: usize, count: usize, max_epochs: usize) {
        self.position = position;
        self.count = count;
        self.sweep
            .set_message(format!("(batch {}, lr {})", t.batch_size, t.learning_rate));
        self.trial.reset();
        self.trial.set_length(max_epochs as u64);
        self.trial.set_position(0);
        self.trial
            .set_prefix(format!("batch {} lr {}", t.batch_size, t.learning_rate));
        self.trial.set_message("");
    }

    fn epoch_end(&mut self, r: &EpochRecord, _energy_j: Option<f64>) {
        self.trial.set_position(r.epoch as u64);
        let mut msg = format!("loss {:.4}", r.loss);
        if let Some(v) = r.val_accuracy {
            msg.push_str(&format!(" val_accuracy {v:.4}"));
        }
        self.trial.set_message(msg);
    }

    fn trial_end(&mut self, r: &TrialResult) {
        self.sweep.inc(1);
        let energy = match r.energy_j {
            Some(e) => format!(", {}{e:.1} J", if r.energy_approximate { "~" } else { "" }),
            None => String::new(),
        };
        let outcome = if r.diverged {
            "diverged".to_string()
        } else {
            let mut s = format!("test accuracy {}", fmt_opt(r.test_accuracy, 4));
            match r.reached_target {
                Some(true) => s.push_str(", target reached"),
                Some(false) => s.push_str(", target missed"),
                None => {}
            }
            s
        };
        self.line(format!(
            "[{}/{}] batch {}, lr {}: {} epochs, {:.2} s{energy}, {outcome}",
            self.position, self.count, r.batch_size, r.learning_rate, r.epochs, r.train_time_s
        ));
    }
}
