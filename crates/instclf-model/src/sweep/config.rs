//! A sweep's settings ([`SweepConfig`], saved as `sweep.json`) and what follows from them: the
//! trial grid ([`TrialSpec`]), shards of it ([`Shard`]), each trial's training options, and the
//! checks and shuffling of the dataset before any trial runs.

use crate::dataset::Dataset;
use crate::error::ModelError;
use crate::net::Activation;
use crate::train::{FitOptions, Validation};
use serde::{Deserialize, Serialize};

/// The sweep's settings, saved as `DIR/sweep.json`; resuming and merging need equal settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepConfig {
    /// The dataset folder (absolute).
    pub dataset: String,
    pub learning_rates: Vec<f64>,
    pub batch_sizes: Vec<usize>,
    /// Fixed number of epochs per trial (no target accuracy).
    pub epochs: Option<usize>,
    /// Train each trial until validation accuracy is above this for `patience` epochs.
    pub target_accuracy: Option<f64>,
    pub patience: usize,
    /// Epoch limit with a target accuracy.
    pub max_epochs: usize,
    /// Validation rows (`split:F`, `test` or `none`; `test` only without a target).
    pub validation: String,
    pub hidden: Vec<usize>,
    pub activation: String,
    pub seed: u64,
    /// The training rows were shuffled once (with `seed`) before the validation split, so that
    /// `split:F` takes a random fraction instead of the last rows in file order.
    #[serde(default)]
    pub shuffle: bool,
    /// The shard this folder holds (`i/n`), if any; not compared when resuming or merging.
    #[serde(default)]
    pub shard: Option<String>,
    /// The compute device; not compared when resuming or merging.
    #[serde(default)]
    pub device: String,
}

/// One trial of the grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrialSpec {
    /// 1-based position in the whole grid.
    pub trial: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
}

impl TrialSpec {
    /// The folder name of the trial's history: `bs128_lr0.001`.
    pub fn name(&self) -> String {
        format!("bs{}_lr{}", self.batch_size, self.learning_rate)
    }
}

pub(super) fn invalid(msg: impl Into<String>) -> ModelError {
    ModelError::Invalid(msg.into())
}

impl SweepConfig {
    /// Checks the lists (non-empty, positive, finite, no duplicates) and the mode's settings.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.learning_rates.is_empty() || self.batch_sizes.is_empty() {
            return Err(invalid(
                "the sweep needs at least one learning rate and batch size",
            ));
        }
        for (i, &lr) in self.learning_rates.iter().enumerate() {
            if !(lr > 0.0 && lr.is_finite()) {
                return Err(invalid(format!("learning rate must be > 0, got {lr}")));
            }
            if self.learning_rates[..i].contains(&lr) {
                return Err(invalid(format!("learning rate {lr} is listed twice")));
            }
        }
        for (i, &b) in self.batch_sizes.iter().enumerate() {
            if b == 0 {
                return Err(invalid("batch size must be at least 1"));
            }
            if self.batch_sizes[..i].contains(&b) {
                return Err(invalid(format!("batch size {b} is listed twice")));
            }
        }
        let validation: Validation = self.validation.parse()?;
        self.activation.parse::<Activation>()?;
        match (self.epochs, self.target_accuracy) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "give either a fixed number of epochs or a target accuracy, not both",
                ))
            }
            (Some(0), None) => return Err(invalid("epochs must be at least 1")),
            (None, None) => return Err(invalid("give a number of epochs or a target accuracy")),
            (None, Some(t)) => {
                if !(t > 0.0 && t <= 1.0) {
                    return Err(invalid(format!(
                        "target accuracy must be in (0, 1], got {t}"
                    )));
                }
                if self.max_epochs == 0 {
                    return Err(invalid("max epochs must be at least 1"));
                }
                if self.patience == 0 {
                    return Err(invalid("patience must be at least 1"));
                }
                match validation {
                    Validation::Split(_) => {}
                    Validation::Test => {
                        return Err(invalid(
                            "with a target accuracy the validation rows must not be the test \
                             data (test accuracy is measured on it): use --validation split:F",
                        ))
                    }
                    Validation::None => {
                        return Err(invalid(
                            "a target accuracy needs validation rows: use --validation split:F",
                        ))
                    }
                }
            }
            (Some(_), None) => {}
        }
        Ok(())
    }

    /// Every trial: for each batch size, each learning rate.
    pub fn trials(&self) -> Vec<TrialSpec> {
        let mut out = Vec::new();
        for &batch_size in &self.batch_sizes {
            for &learning_rate in &self.learning_rates {
                out.push(TrialSpec {
                    trial: out.len() + 1,
                    batch_size,
                    learning_rate,
                });
            }
        }
        out
    }

    /// The epoch limit of a trial.
    pub fn max_epochs(&self) -> usize {
        self.epochs.unwrap_or(self.max_epochs)
    }

    /// The training options of one trial.
    pub fn fit_options(&self, t: &TrialSpec) -> Result<FitOptions, ModelError> {
        Ok(FitOptions {
            epochs: self.max_epochs(),
            batch_size: t.batch_size,
            lr: t.learning_rate,
            hidden: self.hidden.clone(),
            activation: self.activation.parse()?,
            validation: self.validation.parse()?,
            seed: self.seed,
            checkpoint: None,
            ..FitOptions::default()
        })
    }

    /// Why `other` cannot continue or be merged with this sweep (the first differing setting),
    /// ignoring `shard` and `device`.
    pub fn incompatibility(&self, other: &SweepConfig) -> Option<String> {
        let strip = |c: &SweepConfig| {
            let mut v = serde_json::to_value(c).unwrap_or_default();
            if let Some(m) = v.as_object_mut() {
                m.remove("shard");
                m.remove("device");
            }
            v
        };
        let (a, b) = (strip(self), strip(other));
        let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
            return Some("settings cannot be compared".into());
        };
        a.iter().find(|(k, v)| b.get(*k) != Some(v)).map(|(k, v)| {
            format!(
                "{k} differs ({} vs {})",
                v,
                b.get(k).cloned().unwrap_or_default()
            )
        })
    }
}

/// Every n-th trial: shard `i/n` (1 <= i <= n) holds trials i, i+n, i+2n, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Shard, ModelError> {
        let bad = || {
            invalid(format!(
                "invalid shard '{s}' (expected i/n with 1 <= i <= n)"
            ))
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether the trial belongs to this shard.
    pub fn contains(&self, t: &TrialSpec) -> bool {
        (t.trial - 1) % self.count == self.index - 1
    }
}

/// Shuffles the training rows once, seeded (see [`SweepConfig::shuffle`]).
pub fn shuffle_rows(data: &mut Dataset, seed: u64) {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let n = data.train.rows();
    let nf = data.n_features;
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(
        seed ^ 0x5357_4545_5021,
    ));
    let mut x = Vec::with_capacity(data.train.x.len());
    let mut y = Vec::with_capacity(n);
    for &i in &order {
        x.extend_from_slice(&data.train.x[i * nf..(i + 1) * nf]);
        y.push(data.train.y[i]);
    }
    data.train.x = x;
    data.train.y = y;
}

/// A warning when the validation split (the last rows in file order) is lopsided: some class
/// has more than twice the split's fraction of its rows held out, as happens on a dataset in class
/// order. `None` for other validations and balanced splits.
pub fn split_warning(config: &SweepConfig, data: &Dataset) -> Option<String> {
    let Ok(Validation::Split(f)) = config.validation.parse() else {
        return None;
    };
    let n = data.train.rows();
    let split_at = ((n as f64 * (1.0 - f)).floor() as usize).min(n);
    let k = data.n_classes();
    let (mut all, mut held) = (vec![0usize; k], vec![0usize; k]);
    for (i, &c) in data.train.y.iter().enumerate() {
        if let Some(a) = all.get_mut(c as usize) {
            *a += 1;
            held[c as usize] += usize::from(i >= split_at);
        }
    }
    let (worst, share) = (0..k)
        .filter(|&c| all[c] > 0)
        .map(|c| (c, held[c] as f64 / all[c] as f64))
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    (share > 2.0 * f).then(|| {
        format!(
            "validation split:{f} holds out the last rows in file order: {:.0}% of class {} \
             ({}) and an uneven share of the others; add --shuffle for a random split",
            100.0 * share,
            worst,
            data.classes.get(worst).map(String::as_str).unwrap_or("?")
        )
    })
}

/// Checks before any trial runs that the validation split leaves every class some training
/// rows (datasets built by `instclf dataset build` are in class order, so the last rows are
/// one or two classes only).
pub fn check_split(config: &SweepConfig, data: &Dataset) -> Result<(), ModelError> {
    let Validation::Split(f) = config.validation.parse()? else {
        return Ok(());
    };
    let n = data.train.rows();
    let split_at = (n as f64 * (1.0 - f)).floor() as usize;
    let mut seen = vec![false; data.n_classes()];
    for &c in &data.train.y[..split_at.min(n)] {
        if let Some(s) = seen.get_mut(c as usize) {
            *s = true;
        }
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(ModelError::Data {
            path: data.dir.clone(),
            msg: format!(
                "validation split:{f} (the last rows in file order, like Keras) leaves class \
                 {missing} ({}) without training rows; add --shuffle to split off a random \
                 fraction instead",
                data.classes.get(missing).map(String::as_str).unwrap_or("?")
            ),
        });
    }
    Ok(())
}
