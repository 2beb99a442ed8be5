//! Recipe files (`recipes/*.toml`): the feature, augmentation and training settings of a model, in
//! one file a user can read, diff and keep. A recipe holds one or more *members*, each a dataset
//! kind and the networks trained on it (the bundled model has a frame member and a note-level
//! one); an optional `[calibration]` holds the temperature and unknown bias chosen for the whole
//! ensemble. This module owns parsing and checking a recipe (every error names the file, the line
//! where there is one, and the setting) and turning a member into [`BuildOptions`] parts and
//! [`FitOptions`]. `dataset build --recipe`, `train --recipe` and `bundle` read it.
//!
//! ```toml
//! [calibration]            # optional: written into every network `bundle` makes
//! temperature = 1.29
//! unknown_bias = 3.0
//! weights = { frame = 0.5 }  # per network of a member in the ensemble's mean (default 1)
//!
//! [[member]]
//! name = "frame"
//! features = { cmn = true, cmn_weight = 0.5, harmonics = 20 }   # instclf_audio::recipe::Recipe
//! augment = { copies = 2 }                                      # AugmentSpec
//! train = { epochs = 10, activations = ["sigmoid", "relu"] }    # TrainSpec
//! ```

use crate::error::PipelineError;
use instclf_audio::augment::AugmentParams;
use instclf_audio::recipe::Recipe;
use instclf_model::model::Calibration;
use instclf_model::train::FitOptions;
use instclf_model::{Activation, Conv, Gru};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A parsed, checked recipe file.
#[derive(Debug, Clone, PartialEq)]
pub struct RecipeFile {
    /// Where it was read from (for messages).
    pub path: PathBuf,
    /// The file's text, kept so a model folder can store it as it was written.
    pub text: String,
    pub calibration: Option<Calibration>,
    pub members: Vec<Member>,
}

/// One dataset kind and the networks trained on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Member {
    pub name: String,
    /// The feature recipe of its dataset (`[member.features]`, librosa names; a `pool` table
    /// makes it note-level: one row per note).
    pub features: Recipe,
    pub augment: AugmentSpec,
    pub train: TrainSpec,
    /// Each of its networks' weight in the ensemble's mean of log-probabilities (the recipe's
    /// `calibration.weights`; 1 where it names none). Not part of what its dataset and networks
    /// are made from.
    #[serde(skip)]
    pub weight: f64,
}

/// `[member.augment]`: augmented copies of every training recording and the ranges they are
/// drawn from (see [`AugmentParams`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugmentSpec {
    /// Augmented copies of every training recording (0: none).
    pub copies: usize,
    /// Multiplies the spectral-tilt and pitch-shift ranges.
    pub strength: f64,
    /// A random smooth equaliser of up to this many dB (0: none).
    pub eq_db: f64,
    /// Probability that a copy is also low-pass filtered (cutoff 2-8 kHz).
    pub lowpass: f64,
    /// On half of the copies, pitch and formants shifted together by up to this many semitones.
    pub stretch: f64,
    /// Probability that a copy is first cleaned to its spectral peaks (the noise between the
    /// partials removed, as in sample sets made of short loops). Left out when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub clean: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

impl Default for AugmentSpec {
    fn default() -> Self {
        AugmentSpec {
            copies: 0,
            strength: 1.0,
            eq_db: 0.0,
            lowpass: 0.0,
            stretch: 0.0,
            clean: 0.0,
        }
    }
}

impl AugmentSpec {
    /// The ranges the copies are drawn from.
    pub fn params(&self) -> AugmentParams {
        AugmentParams::scaled(self.strength, self.eq_db)
            .with_lowpass(self.lowpass)
            .with_stretch(self.stretch)
            .with_clean(self.clean)
    }

    fn check(&self) -> Result<(), String> {
        if !(self.strength.is_finite() && self.strength >= 0.0) {
            return Err(format!(
                "augment.strength must be >= 0, got {}",
                self.strength
            ));
        }
        if !(self.eq_db.is_finite() && (0.0..=24.0).contains(&self.eq_db)) {
            return Err(format!(
                "augment.eq_db must be between 0 and 24, got {}",
                self.eq_db
            ));
        }
        if !(0.0..=1.0).contains(&self.lowpass) {
            return Err(format!(
                "augment.lowpass must be a probability in [0, 1], got {}",
                self.lowpass
            ));
        }
        if !(0.0..=1.0).contains(&self.clean) {
            return Err(format!(
                "augment.clean must be a probability in [0, 1], got {}",
                self.clean
            ));
        }
        if !(0.0..=12.0).contains(&self.stretch) {
            return Err(format!(
                "augment.stretch must be between 0 and 12 semitones, got {}",
                self.stretch
            ));
        }
        Ok(())
    }
}

/// `[member.train]`: how each of the member's networks is trained, and which networks: one per
/// activation and seed (`0..seeds`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainSpec {
    pub epochs: usize,
    pub batch_size: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Hidden layer sizes.
    pub hidden: Vec<usize>,
    pub activations: Vec<Activation>,
    /// Networks per activation, with seeds 0, 1, ...
    pub seeds: u64,
    pub input_dropout: f64,
    pub label_smoothing: f64,
    pub mixup: f64,
    /// Class-balanced loss: each class weighs the same whatever its number of rows. Left out
    /// when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub balance: bool,
    /// Weight averaging: from this epoch on, the network saved is the mean of its weights at
    /// the end of each epoch (stochastic weight averaging). Left out when off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average_from: Option<usize>,
    /// A 1-D convolution over the note's time profile (`pool.profile_blocks`) beside the dense
    /// layers (note-level members only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conv: Option<ConvSpec>,
    /// A GRU over the note's time profile (`pool.profile_blocks`) beside the dense layers
    /// (note-level members only; not with `conv`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gru: Option<GruSpec>,
}

/// `train.gru`: the GRU's number of units; it reads the member's time profile, one block per step
/// ([`Member::fit_options`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GruSpec {
    pub units: usize,
}

/// `train.conv`: the convolution's kernel (in profile blocks) and its number of filters; the
/// window it slides over is the member's time profile ([`Member::fit_options`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvSpec {
    pub kernel: usize,
    pub filters: usize,
}

impl Default for TrainSpec {
    fn default() -> Self {
        let d = FitOptions::default();
        TrainSpec {
            epochs: d.epochs,
            batch_size: d.batch_size,
            lr: d.lr,
            hidden: d.hidden,
            activations: vec![d.activation],
            seeds: 1,
            input_dropout: 0.0,
            label_smoothing: 0.0,
            mixup: 0.0,
            balance: false,
            average_from: None,
            conv: None,
            gru: None,
        }
    }
}

impl TrainSpec {
    /// The options of one network (`activation`, `seed`), checkpointed into `checkpoint`,
    /// without the convolution's placement: callers use [`Member::fit_options`].
    fn fit_options(
        &self,
        activation: Activation,
        seed: u64,
        checkpoint: Option<PathBuf>,
    ) -> FitOptions {
        FitOptions {
            epochs: self.epochs,
            batch_size: self.batch_size,
            lr: self.lr,
            hidden: self.hidden.clone(),
            activation,
            seed,
            checkpoint,
            input_dropout: self.input_dropout,
            label_smoothing: self.label_smoothing,
            mixup: self.mixup,
            balance_classes: self.balance,
            average_from: self.average_from,
            ..FitOptions::default()
        }
    }

    /// The member's networks in training order: each activation, and within it each seed.
    pub fn networks(&self) -> Vec<(Activation, u64)> {
        self.activations
            .iter()
            .flat_map(|&a| (0..self.seeds).map(move |s| (a, s)))
            .collect()
    }

    fn check(&self) -> Result<(), String> {
        if self.activations.is_empty() {
            return Err("train.activations is empty: name at least one (sigmoid, relu)".into());
        }
        if self.seeds == 0 {
            return Err("train.seeds must be at least 1".into());
        }
        self.fit_options(self.activations[0], 0, None)
            .validate()
            .map_err(|e| format!("train: {e}"))
    }
}

impl Member {
    /// The options of one of its networks ([`TrainSpec::fit_options`]), with the convolution or
    /// the GRU placed over the features' time profile when `train.conv` or `train.gru` asks.
    pub fn fit_options(
        &self,
        activation: Activation,
        seed: u64,
        checkpoint: Option<PathBuf>,
    ) -> FitOptions {
        let steps = self.features.pool.as_ref().map_or(0, |p| p.profile_blocks);
        FitOptions {
            conv: self.train.conv.map(|c| Conv {
                steps,
                channels: self.features.dim(),
                kernel: c.kernel,
                filters: c.filters,
            }),
            gru: self.train.gru.map(|g| Gru {
                steps,
                channels: self.features.dim(),
                units: g.units,
            }),
            ..self.train.fit_options(activation, seed, checkpoint)
        }
    }

    /// `train.conv` needs a time profile at least as long as its kernel, `train.gru` one of at
    /// least one block; not both.
    fn check_front(&self) -> Result<(), String> {
        let steps = self.features.pool.as_ref().map_or(0, |p| p.profile_blocks);
        if let Some(g) = self.train.gru {
            if self.train.conv.is_some() {
                return Err("train.gru and train.conv: name one of them, not both".into());
            }
            if g.units == 0 {
                return Err("train.gru: units must be at least 1, got 0".into());
            }
            if steps == 0 {
                return Err("train.gru reads the note's time profile: \
                     features.pool.profile_blocks must be at least 1"
                    .into());
            }
        }
        let Some(c) = self.train.conv else {
            return Ok(());
        };
        if c.kernel == 0 || c.filters == 0 {
            return Err(format!(
                "train.conv: kernel and filters must be at least 1, got {} and {}",
                c.kernel, c.filters
            ));
        }
        if steps < c.kernel {
            return Err(format!(
                "train.conv slides over the note's time profile: features.pool.profile_blocks \
                 ({steps}) must be at least the kernel ({})",
                c.kernel
            ));
        }
        Ok(())
    }

    /// `frame` or `note-level`: what one row of its dataset holds.
    pub fn kind(&self) -> &'static str {
        if self.features.pool.is_some() {
            "note-level"
        } else {
            "frame"
        }
    }
}

/// What a member looks like in the file, before its features become a [`Recipe`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberToml {
    name: String,
    #[serde(default)]
    features: toml::Table,
    #[serde(default)]
    augment: AugmentSpec,
    #[serde(default)]
    train: TrainSpec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalibrationToml {
    temperature: f64,
    #[serde(default)]
    unknown_bias: Option<f64>,
    #[serde(default)]
    fitted_on: Option<String>,
    #[serde(default)]
    weights: std::collections::BTreeMap<String, f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    #[serde(default)]
    calibration: Option<CalibrationToml>,
    #[serde(default, rename = "member")]
    members: Vec<MemberToml>,
}

impl RecipeFile {
    /// Reads and checks a recipe file.
    pub fn load(path: &Path) -> Result<RecipeFile, PipelineError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| PipelineError::io(path, "cannot read the recipe", e))?;
        RecipeFile::parse(&text, path)
    }

    /// Parses and checks recipe `text`; `path` names it in messages.
    pub fn parse(text: &str, path: &Path) -> Result<RecipeFile, PipelineError> {
        let bad = |msg: String| PipelineError::Input {
            path: path.to_path_buf(),
            msg,
        };
        let file: FileToml = toml::from_str(text).map_err(|e| bad(toml_message(text, &e)))?;
        if file.members.is_empty() {
            return Err(bad(
                "no [[member]]: a recipe names at least one dataset kind and its networks".into(),
            ));
        }
        let mut members: Vec<Member> = Vec::with_capacity(file.members.len());
        for m in file.members {
            let name = m.name;
            let valid = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
            if name.is_empty() || !name.chars().all(valid) {
                return Err(bad(format!(
                    "member name '{name}' must be letters, digits, - or _"
                )));
            }
            if members.iter().any(|o| o.name == name) {
                return Err(bad(format!("member '{name}' is given twice")));
            }
            let in_member = |msg: String| bad(format!("member '{name}': {msg}"));
            let features = features_of(m.features).map_err(in_member)?;
            features
                .validate()
                .map_err(|e| in_member(format!("features: {e}")))?;
            m.augment.check().map_err(in_member)?;
            m.train.check().map_err(in_member)?;
            let member = Member {
                name: name.clone(),
                features,
                augment: m.augment,
                train: m.train,
                weight: 1.0,
            };
            member.check_front().map_err(in_member)?;
            members.push(member);
        }
        let calibration = match file.calibration {
            None => None,
            Some(c) => {
                if !(c.temperature.is_finite() && c.temperature > 0.0) {
                    return Err(bad(format!(
                        "calibration.temperature must be a positive number, got {}",
                        c.temperature
                    )));
                }
                if let Some(b) = c.unknown_bias {
                    if !b.is_finite() {
                        return Err(bad(format!(
                            "calibration.unknown_bias must be a finite number, got {b}"
                        )));
                    }
                }
                for (name, &w) in &c.weights {
                    let Some(m) = members.iter_mut().find(|m| &m.name == name) else {
                        return Err(bad(format!(
                            "calibration.weights: no member named '{name}' (it has: {})",
                            members
                                .iter()
                                .map(|m| m.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )));
                    };
                    if !(w > 0.0 && w.is_finite()) {
                        return Err(bad(format!(
                            "calibration.weights.{name} must be a positive number, got {w}"
                        )));
                    }
                    m.weight = w;
                }
                Some(Calibration {
                    temperature: c.temperature,
                    unknown_bias: c.unknown_bias,
                    fitted_on: c.fitted_on,
                    weight: None,
                })
            }
        };
        Ok(RecipeFile {
            path: path.to_path_buf(),
            text: text.to_string(),
            calibration,
            members,
        })
    }

    /// The member called `name`, or the only member when `name` is `None`.
    pub fn member(&self, name: Option<&str>) -> Result<&Member, PipelineError> {
        let names = || {
            self.members
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let found = match name {
            Some(n) => self.members.iter().find(|m| m.name == n),
            None if self.members.len() == 1 => self.members.first(),
            None => {
                return Err(PipelineError::Input {
                    path: self.path.clone(),
                    msg: format!(
                        "the recipe has {} members ({}): choose one with --member",
                        self.members.len(),
                        names()
                    ),
                })
            }
        };
        found.ok_or_else(|| PipelineError::Input {
            path: self.path.clone(),
            msg: format!(
                "no member named '{}' (it has: {})",
                name.unwrap_or_default(),
                names()
            ),
        })
    }
}

/// The feature recipe of a `[member.features]` table: every key must be a [`Recipe`] field
/// (a misspelt one would silently fall back to its default).
fn features_of(table: toml::Table) -> Result<Recipe, String> {
    // Settings left out of a written recipe at their defaults are switched on here so that
    // they are listed.
    let every = Recipe {
        note_local: true,
        cmn_per_note: true,
        harmonicity: 1,
        envelope: 1,
        ..Recipe::default()
    };
    let known = match serde_json::to_value(every) {
        Ok(serde_json::Value::Object(o)) => o,
        _ => return Err("cannot list the feature settings".into()),
    };
    if let Some(k) = table.keys().find(|k| !known.contains_key(k.as_str())) {
        let names: Vec<&str> = known.keys().map(String::as_str).collect();
        return Err(format!(
            "features: unknown setting '{k}' (known: {})",
            names.join(", ")
        ));
    }
    toml::Value::Table(table)
        .try_into::<Recipe>()
        .map_err(|e| format!("features: {}", e.message()))
}

/// A TOML error as one line: its line number and message.
fn toml_message(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())]
                .bytes()
                .filter(|&b| b == b'\n')
                .count()
                + 1;
            format!("line {line}: {}", e.message().trim())
        }
        None => e.message().trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RecipeFile, String> {
        RecipeFile::parse(text, Path::new("r.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn members_settings_and_networks() {
        let r = parse(
            "[calibration]\ntemperature = 1.5\nunknown_bias = 3\nweights = { frame = 0.25 }\n\n\
             [[member]]\nname = \"frame\"\nfeatures = { cmn = true, cmn_weight = 0.5 }\n\
             augment = { copies = 2, eq_db = 6 }\n\
             train = { epochs = 3, activations = [\"sigmoid\", \"relu\"], seeds = 2 }\n\n\
             [[member]]\nname = \"note\"\n[member.features]\npool = { attack_frames = 2 }\n",
        )
        .unwrap();
        assert_eq!(r.members.len(), 2);
        let f = r.member(Some("frame")).unwrap();
        assert!(f.features.cmn && f.features.cmn_weight == 0.5);
        assert_eq!(f.features.n_mfcc, 40, "unset features keep their defaults");
        assert_eq!(f.augment.copies, 2);
        assert_eq!(f.augment.params().eq_db, 6.0);
        assert_eq!(f.kind(), "frame");
        assert_eq!(
            f.train.networks(),
            vec![
                (Activation::Sigmoid, 0),
                (Activation::Sigmoid, 1),
                (Activation::Relu, 0),
                (Activation::Relu, 1)
            ]
        );
        let o = f.train.fit_options(Activation::Relu, 1, None);
        assert_eq!((o.epochs, o.seed, o.batch_size), (3, 1, 128));
        let n = r.member(Some("note")).unwrap();
        assert_eq!(n.kind(), "note-level");
        assert_eq!(n.features.pool.as_ref().unwrap().attack_frames, 2);
        assert!(n.features.pool.as_ref().unwrap().std, "pool defaults apply");
        assert_eq!(n.train, TrainSpec::default());
        let c = r.calibration.as_ref().unwrap();
        assert_eq!((c.temperature, c.unknown_bias), (1.5, Some(3.0)));
        // Weights are the members', 1 where none is named; the shared calibration has none.
        assert_eq!((f.weight, n.weight, c.weight), (0.25, 1.0, None));
        assert!(r.member(None).unwrap_err().to_string().contains("--member"));
        assert!(r
            .member(Some("x"))
            .unwrap_err()
            .to_string()
            .contains("no member named 'x' (it has: frame, note)"));
    }

    #[test]
    fn a_convolution_slides_over_the_time_profile() {
        let r = parse(
            "[[member]]\nname = \"cnn\"\n\
             features = { harmonics = 20, pool = { profile_blocks = 16, profile_frames = 2 } }\n\
             train = { conv = { kernel = 3, filters = 64 } }\n",
        )
        .unwrap();
        let m = r.member(None).unwrap();
        let c = m.fit_options(Activation::Relu, 0, None).conv.unwrap();
        // 40 MFCCs + 80 deltas + 20 partials a frame, 16 blocks of them at the vector's end.
        assert_eq!((c.steps, c.channels, c.kernel, c.filters), (16, 140, 3, 64));
        assert_eq!(m.features.input_dim(), (3 + 16) * 140);
        assert!(m
            .train
            .fit_options(Activation::Relu, 0, None)
            .conv
            .is_none());
    }

    #[test]
    fn every_recipe_in_the_repository_loads() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../recipes");
        let mut n = 0;
        for dir in [root.clone(), root.join("experiments")] {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "toml") {
                    let r = RecipeFile::load(&p).unwrap_or_else(|e| panic!("{e}"));
                    assert!(r.member(r.members.first().map(|m| m.name.as_str())).is_ok());
                    n += 1;
                }
            }
        }
        assert!(n >= 3, "{n} recipes under {}", root.display());
    }

    #[test]
    fn a_gru_reads_the_time_profile() {
        let r = parse(
            "[[member]]\nname = \"gru\"\n\
             features = { harmonics = 20, pool = { profile_blocks = 16, profile_frames = 2 } }\n\
             train = { gru = { units = 32 } }\n",
        )
        .unwrap();
        let m = r.member(None).unwrap();
        let o = m.fit_options(Activation::Relu, 0, None);
        let g = o.gru.unwrap();
        assert_eq!((g.steps, g.channels, g.units), (16, 140, 32));
        assert!(o.conv.is_none());
        assert!(o.validate().is_ok());
    }

    #[test]
    fn settings_left_out_at_their_defaults_are_read() {
        let r = parse(
            "[[member]]\nname = \"f\"\n\
             features = { cmn = true, cmn_per_note = true, note_local = true }\n",
        )
        .unwrap();
        let f = &r.member(None).unwrap().features;
        assert!(f.note_local && f.cmn_per_note && f.cmn);
    }

    #[test]
    fn mistakes_name_the_file_line_and_setting() {
        let cases = [
            (
                "[[member]]\nname = \"a\"\nfeatures = { cmn_wieght = 1 }\n",
                "unknown setting 'cmn_wieght'",
            ),
            (
                "[[member]]\nname = \"a\"\n\n[member.train]\nepocs = 3\n",
                "line 5: unknown field `epocs`",
            ),
            (
                "[[member]]\nname = \"a\"\ntrain = { activations = [\"tanh\"] }\n",
                "unknown variant `tanh`",
            ),
            (
                "[[member]]\nname = \"a\"\naugment = { lowpass = 2 }\n",
                "augment.lowpass must be a probability",
            ),
            (
                "[[member]]\nname = \"a\"\naugment = { clean = -0.5 }\n",
                "augment.clean must be a probability",
            ),
            (
                "[[member]]\nname = \"a\"\nfeatures = { context = 1000000 }\n",
                "member 'a': features: context must be at most",
            ),
            (
                "[[member]]\nname = \"a\"\n[[member]]\nname = \"a\"\n",
                "member 'a' is given twice",
            ),
            ("[calibration]\ntemperature = 1\n", "no [[member]]"),
            ("[[member]]\nname = \"a b\"\n", "must be letters, digits"),
            (
                "[[member]]\nname = \"a\"\ntrain = { seeds = 0 }\n",
                "train.seeds must be at least 1",
            ),
            (
                "[[member]]\nname = \"a\"\n[calibration]\ntemperature = -1\n",
                "calibration.temperature must be a positive",
            ),
            (
                "[[member]]\nname = \"a\"\n[calibration]\ntemperature = 1\nweights = { b = 2 }\n",
                "calibration.weights: no member named 'b' (it has: a)",
            ),
            (
                "[[member]]\nname = \"a\"\n[calibration]\ntemperature = 1\nweights = { a = 0 }\n",
                "calibration.weights.a must be a positive number, got 0",
            ),
            ("[[member]\n", "line 1:"),
            (
                "[[member]]\nname = \"a\"\ntrain = { conv = { kernel = 3, filters = 8 } }\n",
                "member 'a': train.conv slides over the note's time profile: \
                 features.pool.profile_blocks (0) must be at least the kernel (3)",
            ),
            (
                "[[member]]\nname = \"a\"\nfeatures = { pool = { profile_blocks = 4 } }\n\
                 train = { conv = { kernel = 0, filters = 8 } }\n",
                "train.conv: kernel and filters must be at least 1",
            ),
            (
                "[[member]]\nname = \"a\"\ntrain = { gru = { units = 8 } }\n",
                "member 'a': train.gru reads the note's time profile",
            ),
            (
                "[[member]]\nname = \"a\"\nfeatures = { pool = { profile_blocks = 4 } }\n\
                 train = { gru = { units = 8 }, conv = { kernel = 2, filters = 8 } }\n",
                "train.gru and train.conv: name one of them, not both",
            ),
            (
                "[[member]]\nname = \"a\"\nfeatures = { pool = { profile_blocks = 4 } }\n\
                 train = { gru = { units = 0 } }\n",
                "train.gru: units must be at least 1",
            ),
        ];
        for (text, want) in cases {
            let e = parse(text).unwrap_err();
            assert!(e.starts_with("r.toml: "), "{e}");
            assert!(e.contains(want), "{text:?}: {e}");
            assert!(!e.contains('\n'), "one line: {e:?}");
        }
    }
}
