//! Dataset folders in the MARL layout: `uiowa_train_data.npy`, `uiowa_train_labels.npy`,
//! `uiowa_test_data.npy`, `uiowa_test_labels.npy`, optional `classes.json` (JSON array of class
//! names) and optional `recipe.json` (the feature recipe, kept as opaque JSON). Loading checks
//! the content (row counts, label range, finite values, every class present in training) and
//! names the offending file.

use crate::error::ModelError;
use crate::npy;
use std::path::{Path, PathBuf};

/// File names of a dataset folder.
pub const TRAIN_DATA: &str = "uiowa_train_data.npy";
pub const TRAIN_LABELS: &str = "uiowa_train_labels.npy";
pub const TEST_DATA: &str = "uiowa_test_data.npy";
pub const TEST_LABELS: &str = "uiowa_test_labels.npy";
pub const CLASSES: &str = "classes.json";
pub const RECIPE: &str = "recipe.json";

/// One split (train or test) of a dataset: row-major features and class indices.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Split {
    /// Row-major features, `rows() * n_features` values.
    pub x: Vec<f32>,
    /// Class index of each row.
    pub y: Vec<u32>,
}

impl Split {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.y.len()
    }
}

/// A loaded dataset folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub train: Split,
    pub test: Split,
    pub n_features: usize,
    /// Class names; index = label value.
    pub classes: Vec<String>,
    /// The feature recipe from `recipe.json`, if present (opaque to this crate).
    pub recipe: Option<serde_json::Value>,
    /// The folder it was loaded from.
    pub dir: PathBuf,
}

fn data_err(path: &Path, msg: impl Into<String>) -> ModelError {
    ModelError::Data {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

fn read_json(path: &Path) -> Result<Option<serde_json::Value>, ModelError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ModelError::Json {
                path: path.to_path_buf(),
                msg: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ModelError::Io {
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

fn check_features(path: &Path, m: &npy::Matrix) -> Result<(), ModelError> {
    if m.rows == 0 {
        return Err(data_err(path, "the feature matrix has 0 rows"));
    }
    if m.cols == 0 {
        return Err(data_err(path, "the feature matrix has 0 columns"));
    }
    if let Some(i) = m.data.iter().position(|v| !v.is_finite()) {
        return Err(data_err(
            path,
            format!(
                "row {} column {} is {} (features must be finite)",
                i / m.cols,
                i % m.cols,
                m.data[i]
            ),
        ));
    }
    Ok(())
}

impl Dataset {
    /// Loads a dataset folder (see the module documentation for the layout).
    pub fn load(dir: &Path) -> Result<Dataset, ModelError> {
        if !dir.is_dir() {
            return Err(data_err(dir, "dataset folder not found"));
        }
        let p = |name: &str| dir.join(name);
        let train_x = npy::read_f32_2d(&p(TRAIN_DATA))?;
        let train_y = npy::read_labels(&p(TRAIN_LABELS))?;
        let test_x = npy::read_f32_2d(&p(TEST_DATA))?;
        let test_y = npy::read_labels(&p(TEST_LABELS))?;
        check_features(&p(TRAIN_DATA), &train_x)?;
        check_features(&p(TEST_DATA), &test_x)?;
        if test_x.cols != train_x.cols {
            return Err(data_err(
                &p(TEST_DATA),
                format!(
                    "has {} feature columns but {} has {}",
                    test_x.cols, TRAIN_DATA, train_x.cols
                ),
            ));
        }
        for (xp, x, yp, y) in [
            (TRAIN_DATA, &train_x, TRAIN_LABELS, &train_y),
            (TEST_DATA, &test_x, TEST_LABELS, &test_y),
        ] {
            if x.rows != y.len() {
                return Err(data_err(
                    &p(yp),
                    format!("has {} labels but {} has {} rows", y.len(), xp, x.rows),
                ));
            }
        }
        let classes_path = p(CLASSES);
        let classes: Option<Vec<String>> = match read_json(&classes_path)? {
            None => None,
            Some(v) => Some(serde_json::from_value(v).map_err(|e| ModelError::Json {
                path: classes_path.clone(),
                msg: format!("expected a JSON array of class names: {e}"),
            })?),
        };
        if let Some(c) = &classes {
            if c.is_empty() {
                return Err(data_err(&classes_path, "the class list is empty"));
            }
        }
        let recipe = read_json(&p(RECIPE))?;
        let max_label = train_y.iter().chain(&test_y).copied().max().unwrap_or(0);
        if classes.is_none() && max_label >= train_y.len() as i64 {
            // Without classes.json the labels name 0..=max classes, each needing a training
            // row: a label this large is corrupt (and must not size an allocation).
            let (name, i, l) = [(TRAIN_LABELS, &train_y), (TEST_LABELS, &test_y)]
                .into_iter()
                .find_map(|(name, y)| {
                    y.iter()
                        .position(|&l| l == max_label)
                        .map(|i| (name, i, max_label))
                })
                .unwrap_or((TRAIN_LABELS, 0, max_label));
            return Err(data_err(
                &p(name),
                format!(
                    "label {l} at row {i} implies {} classes, more than the {} training rows \
                     (every class needs one); labels must be 0..N-1",
                    i128::from(l) + 1,
                    train_y.len()
                ),
            ));
        }
        let n_classes = match &classes {
            Some(c) => c.len(),
            None => (max_label.max(0) as usize) + 1,
        };
        let to_u32 = |name: &str, labels: &[i64]| -> Result<Vec<u32>, ModelError> {
            labels
                .iter()
                .enumerate()
                .map(|(i, &l)| {
                    if l < 0 || l as u64 >= n_classes as u64 {
                        Err(data_err(
                            &p(name),
                            format!(
                                "label {l} at row {i} is outside 0..{} ({} classes{})",
                                n_classes - 1,
                                n_classes,
                                if classes.is_some() {
                                    " in classes.json"
                                } else {
                                    ""
                                }
                            ),
                        ))
                    } else {
                        Ok(l as u32)
                    }
                })
                .collect()
        };
        let train_y = to_u32(TRAIN_LABELS, &train_y)?;
        let test_y = to_u32(TEST_LABELS, &test_y)?;
        let mut seen = vec![false; n_classes];
        for &l in &train_y {
            seen[l as usize] = true;
        }
        let names: Vec<String> =
            classes.unwrap_or_else(|| (0..n_classes).map(|i| i.to_string()).collect());
        if let Some(missing) = seen.iter().position(|s| !s) {
            return Err(data_err(
                &p(TRAIN_LABELS),
                format!("class {missing} ({}) has no training rows", names[missing]),
            ));
        }
        Ok(Dataset {
            n_features: train_x.cols,
            train: Split {
                x: train_x.data,
                y: train_y,
            },
            test: Split {
                x: test_x.data,
                y: test_y,
            },
            classes: names,
            recipe,
            dir: dir.to_path_buf(),
        })
    }

    /// Loads several dataset folders as one: their train rows one after another, and their test
    /// rows likewise (for training on several sources built apart). The folders must agree on
    /// the number of features and the feature recipe. Their classes merge by name: the first
    /// folder's in its order, then each class that a later folder adds (a folder of `unknown`
    /// recordings beside the instrument folders, say), labels renumbered to match. The first
    /// folder is the dataset's `dir`.
    pub fn load_many(dirs: &[PathBuf]) -> Result<Dataset, ModelError> {
        let Some((first, rest)) = dirs.split_first() else {
            return Err(ModelError::Invalid("no dataset folder given".into()));
        };
        let mut all = Dataset::load(first)?;
        for dir in rest {
            let d = Dataset::load(dir)?;
            let differs = |what: &str| {
                data_err(
                    dir,
                    format!("its {what} differ from those of {}", first.display()),
                )
            };
            if d.n_features != all.n_features {
                return Err(differs("feature columns"));
            }
            if !same_recipe(&d.recipe, &all.recipe) {
                return Err(differs("feature recipe settings (recipe.json)"));
            }
            let to: Vec<u32> = d
                .classes
                .iter()
                .map(|c| match all.classes.iter().position(|a| a == c) {
                    Some(i) => i as u32,
                    None => {
                        all.classes.push(c.clone());
                        all.classes.len() as u32 - 1
                    }
                })
                .collect();
            all.train.x.extend_from_slice(&d.train.x);
            all.train
                .y
                .extend(d.train.y.iter().map(|&l| to[l as usize]));
            all.test.x.extend_from_slice(&d.test.x);
            all.test.y.extend(d.test.y.iter().map(|&l| to[l as usize]));
        }
        Ok(all)
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.classes.len()
    }

    /// Writes this dataset as a folder in the MARL layout (npy files as `numpy.save` writes
    /// them, labels as int64; `classes.json` always; `recipe.json` when present). Files are
    /// written atomically one by one.
    pub fn save(&self, dir: &Path) -> Result<(), ModelError> {
        std::fs::create_dir_all(dir).map_err(|e| ModelError::Io {
            path: dir.to_path_buf(),
            source: e,
        })?;
        let nf = self.n_features;
        npy::write_f32_2d(&dir.join(TRAIN_DATA), self.train.rows(), nf, &self.train.x)?;
        let yl: Vec<i64> = self.train.y.iter().map(|&v| i64::from(v)).collect();
        npy::write_i64_1d(&dir.join(TRAIN_LABELS), &yl)?;
        npy::write_f32_2d(&dir.join(TEST_DATA), self.test.rows(), nf, &self.test.x)?;
        let yl: Vec<i64> = self.test.y.iter().map(|&v| i64::from(v)).collect();
        npy::write_i64_1d(&dir.join(TEST_LABELS), &yl)?;
        let to_json = |v: &serde_json::Value| serde_json::to_vec_pretty(v).unwrap_or_default();
        npy::write_atomic(
            &dir.join(CLASSES),
            &to_json(&serde_json::json!(self.classes)),
        )?;
        if let Some(r) = &self.recipe {
            npy::write_atomic(&dir.join(RECIPE), &to_json(r))?;
        }
        Ok(())
    }

    /// A synthetic dataset of separable Gaussian clusters (one centre per class), for tests and
    /// benchmarks. Deterministic for a given `seed`. `spread` is the within-class standard
    /// deviation relative to unit-variance class centres.
    pub fn synthetic(
        n_train: usize,
        n_test: usize,
        n_features: usize,
        n_classes: usize,
        spread: f32,
        seed: u64,
    ) -> Dataset {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut normal = move || -> f32 {
            // Box-Muller
            let u1: f32 = rng.random::<f32>().max(1e-7);
            let u2: f32 = rng.random::<f32>();
            (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
        };
        let centres: Vec<f32> = (0..n_classes * n_features).map(|_| normal()).collect();
        let mut make = |rows: usize| {
            let mut x = Vec::with_capacity(rows * n_features);
            let mut y = Vec::with_capacity(rows);
            for r in 0..rows {
                let c = r % n_classes.max(1);
                y.push(c as u32);
                for f in 0..n_features {
                    // offset and scale features so that standardisation matters
                    let v = centres[c * n_features + f] + spread * normal();
                    x.push(v * (1.0 + f as f32 * 0.5) + f as f32);
                }
            }
            Split { x, y }
        };
        let train = make(n_train);
        let test = make(n_test);
        Dataset {
            train,
            test,
            n_features,
            classes: (0..n_classes).map(|i| format!("class{i}")).collect(),
            recipe: None,
            dir: PathBuf::new(),
        }
    }
}

/// Whether two recipes are the same settings: equal once `null` fields are dropped (a field
/// added to the recipe later is written as `null` where it is off, and older datasets lack it).
fn same_recipe(a: &Option<serde_json::Value>, b: &Option<serde_json::Value>) -> bool {
    fn strip(v: &Option<serde_json::Value>) -> Option<serde_json::Value> {
        match v {
            Some(serde_json::Value::Object(o)) => Some(serde_json::Value::Object(
                o.iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )),
            other => other.clone(),
        }
    }
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_many_stacks_rows_and_merges_classes_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            dir.path().join("a"),
            dir.path().join("b"),
            dir.path().join("c"),
        );
        let da = Dataset::synthetic(30, 10, 4, 3, 0.5, 1);
        let db = Dataset::synthetic(20, 6, 4, 3, 0.5, 2);
        da.save(&a).unwrap();
        db.save(&b).unwrap();
        let both = Dataset::load_many(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(both.train.rows(), 50);
        assert_eq!(both.test.rows(), 16);
        assert_eq!(&both.train.x[..30 * 4], &da.train.x[..]);
        assert_eq!(&both.train.x[30 * 4..], &db.train.x[..]);
        assert_eq!(&both.test.y[10..], &db.test.y[..]);
        // A folder naming one known class and one new one: the new one is appended and the
        // labels renumbered to the merged list.
        let mut dc = Dataset::synthetic(20, 6, 4, 2, 0.5, 3);
        dc.classes = vec!["unknown".into(), "class1".into()];
        dc.save(&c).unwrap();
        let merged = Dataset::load_many(&[a.clone(), c]).unwrap();
        assert_eq!(merged.classes, ["class0", "class1", "class2", "unknown"]);
        let renumbered: Vec<u32> = dc.train.y.iter().map(|&l| [3, 1][l as usize]).collect();
        assert_eq!(&merged.train.y[30..], &renumbered[..]);
        assert!(dc.train.y.contains(&0) && dc.train.y.contains(&1));
        let d = dir.path().join("d");
        let mut dd = Dataset::synthetic(20, 6, 5, 3, 0.5, 4);
        dd.classes = da.classes.clone();
        dd.save(&d).unwrap();
        let err = Dataset::load_many(&[a, d]).unwrap_err().to_string();
        assert!(err.contains("feature columns"), "{err}");
        assert!(Dataset::load_many(&[]).is_err());
        let r = |s: &str| Some(serde_json::from_str::<serde_json::Value>(s).unwrap());
        assert!(same_recipe(
            &r(r#"{"sr":22050,"pool":null}"#),
            &r(r#"{"sr":22050}"#)
        ));
        assert!(!same_recipe(
            &r(r#"{"sr":22050,"pool":{"attack":4}}"#),
            &r(r#"{"sr":22050}"#)
        ));
        assert!(!same_recipe(&r(r#"{"sr":22050}"#), &None));
    }

    #[test]
    fn save_load_roundtrip_and_default_class_names() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = Dataset::synthetic(50, 20, 4, 3, 0.5, 1);
        d.recipe = Some(serde_json::json!({"kind": "mfcc", "n": 4}));
        d.save(dir.path()).unwrap();
        let l = Dataset::load(dir.path()).unwrap();
        assert_eq!(l.train, d.train);
        assert_eq!(l.test, d.test);
        assert_eq!(l.classes, d.classes);
        assert_eq!(l.recipe, d.recipe);
        std::fs::remove_file(dir.path().join(CLASSES)).unwrap();
        let l = Dataset::load(dir.path()).unwrap();
        assert_eq!(l.classes, vec!["0", "1", "2"]);
    }

    #[test]
    fn bad_datasets_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = Dataset::synthetic(30, 10, 3, 3, 0.5, 2);
        d.save(dir.path()).unwrap();
        // label out of range
        npy::write_i64_1d(&dir.path().join(TEST_LABELS), &[5; 10]).unwrap();
        let e = Dataset::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains(TEST_LABELS) && e.contains("label 5"), "{e}");
        // mismatched rows
        npy::write_i64_1d(&dir.path().join(TEST_LABELS), &[0; 9]).unwrap();
        let e = Dataset::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains(TEST_LABELS) && e.contains("9 labels"), "{e}");
        npy::write_i64_1d(&dir.path().join(TEST_LABELS), &[0; 10]).unwrap();
        // NaN feature
        let mut x = d.train.x.clone();
        x[4] = f32::NAN;
        npy::write_f32_2d(&dir.path().join(TRAIN_DATA), 30, 3, &x).unwrap();
        let e = Dataset::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains(TRAIN_DATA) && e.contains("NaN"), "{e}");
        npy::write_f32_2d(&dir.path().join(TRAIN_DATA), 30, 3, &d.train.x).unwrap();
        // a class missing from training
        let y: Vec<i64> = (0..30).map(|i| i % 2).collect();
        npy::write_i64_1d(&dir.path().join(TRAIN_LABELS), &y).unwrap();
        let e = Dataset::load(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("class 2") && e.contains("no training rows"),
            "{e}"
        );
        // zero rows
        npy::write_f32_2d(&dir.path().join(TRAIN_DATA), 0, 3, &[]).unwrap();
        npy::write_i64_1d(&dir.path().join(TRAIN_LABELS), &[]).unwrap();
        let e = Dataset::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("0 rows"), "{e}");
        d.save(dir.path()).unwrap();
        // invalid classes.json
        std::fs::write(dir.path().join(CLASSES), b"{not json").unwrap();
        let e = Dataset::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains(CLASSES), "{e}");
    }

    #[test]
    fn a_huge_label_without_classes_json_is_refused_before_allocating() {
        // Regression (issue 8 catalogue, data/label_huge): a label of 10^18 without
        // classes.json used to size a 10^18-entry class table and abort.
        let dir = tempfile::tempdir().unwrap();
        let d = Dataset::synthetic(30, 10, 3, 3, 0.5, 2);
        d.save(dir.path()).unwrap();
        std::fs::remove_file(dir.path().join(CLASSES)).unwrap();
        let mut y: Vec<i64> = d.test.y.iter().map(|&v| i64::from(v)).collect();
        y[4] = i64::MAX;
        npy::write_i64_1d(&dir.path().join(TEST_LABELS), &y).unwrap();
        let e = Dataset::load(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains(TEST_LABELS) && e.contains(&format!("label {} at row 4", i64::MAX)),
            "{e}"
        );
    }
}
