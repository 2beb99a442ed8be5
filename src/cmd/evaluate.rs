//! `instclf evaluate`: evaluates a model folder on a dataset's test rows and prints loss,
//! accuracy, per-class precision/recall/F1, macro averages and the confusion matrix, as a table
//! or as JSON.

use instclf_model::{device_from_arg, evaluate, Dataset, Model};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Model folder written by `instclf train`.
    #[arg(long)]
    pub model: PathBuf,
    /// Dataset folder; its test split is evaluated.
    #[arg(long)]
    pub data: PathBuf,
    /// Compute device: auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Print the evaluation as one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let device = device_from_arg(&args.device)?;
    let model = Model::load(&args.model, &device)?;
    let data = Dataset::load(&args.data)?;
    if data.n_features != model.n_features() {
        anyhow::bail!(
            "{}: the model expects {} features per row but the dataset {} has {}",
            args.model.display(),
            model.n_features(),
            args.data.display(),
            data.n_features
        );
    }
    if data.n_classes() != model.n_classes() {
        anyhow::bail!(
            "{}: the model has {} classes but the dataset {} has {}",
            args.model.display(),
            model.n_classes(),
            args.data.display(),
            data.n_classes()
        );
    }
    let e = evaluate(&model, &data.test.x, &data.test.y)?;
    if args.json {
        let mut v = serde_json::to_value(&e)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("model".into(), args.model.display().to_string().into());
            o.insert("data".into(), args.data.display().to_string().into());
        }
        println!("{}", serde_json::to_string(&v)?);
        return Ok(());
    }
    println!(
        "{} on {} (test split, {} rows)",
        args.model.display(),
        args.data.display(),
        e.rows
    );
    println!("loss {:.4}  accuracy {:.4}\n", e.loss, e.accuracy);
    let w = e
        .per_class
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(5)
        .max(9);
    println!(
        "{:<w$}  {:>9}  {:>9}  {:>9}  {:>7}",
        "class", "precision", "recall", "f1", "support"
    );
    for c in &e.per_class {
        println!(
            "{:<w$}  {:>9.4}  {:>9.4}  {:>9.4}  {:>7}",
            c.name, c.precision, c.recall, c.f1, c.support
        );
    }
    println!(
        "{:<w$}  {:>9.4}  {:>9.4}  {:>9.4}  {:>7}",
        "macro avg", e.macro_precision, e.macro_recall, e.macro_f1, e.rows
    );
    println!("\nconfusion matrix (rows: true class, columns: predicted class)");
    let cw = e
        .confusion
        .iter()
        .flatten()
        .map(|v| v.to_string().len())
        .max()
        .unwrap_or(1)
        .max(3);
    let lw = w + 4;
    print!("{:<lw$}", "");
    for i in 0..e.per_class.len() {
        print!(" {i:>cw$}");
    }
    println!();
    for (i, row) in e.confusion.iter().enumerate() {
        print!("{:<lw$}", format!("{i} {}", e.per_class[i].name));
        for v in row {
            print!(" {v:>cw$}");
        }
        println!();
    }
    for n in &e.notes {
        println!("note: {n}");
    }
    Ok(())
}
