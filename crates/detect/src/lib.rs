//! # apt-llm-detect
//!
//! The one seam between embeddings and anomaly detectors. Every detector of apt-llm (the
//! autoencoders, One-Class SVM, DBSCAN, Isolation Forest) and any detector of yours
//! implements it, so the experiment runner can try every encoder with every detector.
//!
//! The interface is PyOD's (fit on mostly-normal rows, a continuous score where higher
//! means more anomalous, a threshold learned from a percentile of normal scores, `predict`)
//! in linfa's idiom: a parameter struct ([`Fit`]) is checked before any work and builds a
//! fitted model of its own type ([`Detector`]); [`FittedDetector`] carries its threshold.
//! Saved detectors are read back through a [`Registry`] of loaders keyed by their kind.
//!
//! ```
//! use apt_llm_detect::{DEFAULT_PERCENTILE, Detector, DetectError, Fit, FittedDetector, TrainSet};
//! use ndarray::{array, Array1, ArrayView2};
//! use std::sync::Arc;
//!
//! /// Distance to the (weighted) training mean: a complete detector in 30 lines.
//! struct MeanDistance;
//! struct FittedMean(Array1<f32>);
//!
//! impl Fit for MeanDistance {
//!     type Fitted = FittedMean;
//!     fn name(&self) -> String { "mean-distance".into() }
//!     // Called through `fit_checked`: the rows and weights are already validated.
//!     fn fit(&self, data: &TrainSet<'_>) -> Result<FittedMean, DetectError> {
//!         let w = data.weights_or_ones();
//!         let mean = data.x.t().dot(&w) / w.sum();
//!         Ok(FittedMean(mean))
//!     }
//! }
//! impl Detector for FittedMean {
//!     fn name(&self) -> String { "mean-distance".into() }
//!     fn input_dim(&self) -> usize { self.0.len() }
//!     fn score(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>, DetectError> {
//!         apt_llm_detect::check_rows(x, self.input_dim())?;
//!         Ok(x.rows().into_iter().map(|r| (&r - &self.0).mapv(|v| v * v).sum()).collect())
//!     }
//! }
//!
//! let train = array![[0.0f32, 0.0], [0.1, 0.0], [0.0, 0.1]];
//! let data = TrainSet::new(train.view());
//! let model = MeanDistance.fit_checked(&data)?;
//! let scores = model.score(array![[0.0f32, 0.05], [3.0, 3.0]].view())?;
//! assert!(scores[1] > scores[0]);
//! // The threshold: the 95th percentile of the normal (here: training) scores.
//! let fitted = FittedDetector::new(Arc::new(model), &data, DEFAULT_PERCENTILE)?;
//! assert_eq!(fitted.predict(array![[0.0f32, 0.05], [3.0, 3.0]].view())?, [false, true]);
//! # Ok::<(), DetectError>(())
//! ```

mod decision;
mod frequency;
mod persist;
mod registry;

pub use decision::{DEFAULT_PERCENTILE, FittedDetector};

pub use frequency::{
    DEFAULT_BLEND, FittedRarity, FrequencyPrior, PatternMemory, Rarity, SAME_PATTERN_TOLERANCE,
    WithFrequencyPrior,
};
pub use persist::{is_plain_file_name, load_json, save_json, saved_kind};
pub use registry::{Loader, Registry};

use ndarray::{Array1, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Errors of fitting, scoring and persisting detectors.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// No training rows (or all weights zero).
    #[error("no training rows")]
    Empty,
    /// A NaN or infinite input.
    #[error("row {row}, column {column}: non-finite value {value}")]
    NonFinite {
        row: usize,
        column: usize,
        value: f32,
    },
    /// Input width differs from what the model was fitted on.
    #[error("dimension mismatch: model expects {expected} columns, got {found}")]
    DimensionMismatch { expected: usize, found: usize },
    /// Weights that do not match the rows.
    #[error("{weights} weights for {rows} rows")]
    WeightMismatch { weights: usize, rows: usize },
    /// A negative or non-finite weight.
    #[error("weight {value} at row {row} is negative or not finite")]
    BadWeight { row: usize, value: f32 },
    /// An invalid hyper-parameter.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter { name: &'static str, reason: String },
    /// Saving or loading a model failed.
    #[error("{}: {reason}", path.display())]
    Persist { path: PathBuf, reason: String },
    /// A saved detector of a kind the [`Registry`] has no loader for.
    #[error(
        "{}: a saved {kind:?} detector, and no loader is registered for that kind (known: {})",
        path.display(),
        known.join(", ")
    )]
    UnknownKind {
        path: PathBuf,
        kind: String,
        known: Vec<String>,
    },
    /// The underlying library failed.
    #[error("{library}: {message}")]
    Backend {
        library: &'static str,
        message: String,
    },
}

/// Result alias.
pub type Result<T, E = DetectError> = std::result::Result<T, E>;

/// Training rows, optional per-row weights (a weight of k counts the row k times: pass
/// distinct provenance patterns with their counts), and an optional validation set for
/// early stopping and thresholds.
#[derive(Debug, Clone, Copy)]
pub struct TrainSet<'a> {
    pub x: ArrayView2<'a, f32>,
    pub weights: Option<ArrayView1<'a, f32>>,
    pub validation: Option<ArrayView2<'a, f32>>,
    pub validation_weights: Option<ArrayView1<'a, f32>>,
}

impl<'a> TrainSet<'a> {
    /// Unweighted rows, no validation set.
    pub fn new(x: ArrayView2<'a, f32>) -> Self {
        TrainSet {
            x,
            weights: None,
            validation: None,
            validation_weights: None,
        }
    }
    /// Attach per-row weights.
    pub fn with_weights(mut self, w: ArrayView1<'a, f32>) -> Self {
        self.weights = Some(w);
        self
    }
    /// Attach a validation set (with optional weights).
    pub fn with_validation(
        mut self,
        x: ArrayView2<'a, f32>,
        w: Option<ArrayView1<'a, f32>>,
    ) -> Self {
        self.validation = Some(x);
        self.validation_weights = w;
        self
    }
    /// Total weight (row count when unweighted).
    pub fn total_weight(&self) -> f64 {
        self.weights
            .map_or(self.x.nrows() as f64, |w| w.iter().map(|&v| v as f64).sum())
    }
    /// The weights, or ones.
    pub fn weights_or_ones(&self) -> Array1<f32> {
        self.weights
            .map_or_else(|| Array1::ones(self.x.nrows()), |w| w.to_owned())
    }
    /// Check shapes, finiteness and weights. Every `fit` calls this before any work.
    pub fn validate(&self) -> Result<()> {
        if self.x.nrows() == 0 || self.x.ncols() == 0 {
            return Err(DetectError::Empty);
        }
        check_finite(self.x)?;
        check_weights(self.weights, self.x.nrows())?;
        if self.total_weight() <= 0.0 {
            return Err(DetectError::Empty);
        }
        if let Some(v) = self.validation {
            check_rows(v, self.x.ncols())?;
            check_weights(self.validation_weights, v.nrows())?;
        }
        Ok(())
    }
}

fn check_weights(w: Option<ArrayView1<'_, f32>>, rows: usize) -> Result<()> {
    if let Some(w) = w {
        if w.len() != rows {
            return Err(DetectError::WeightMismatch {
                weights: w.len(),
                rows,
            });
        }
        if let Some((row, &value)) = w
            .iter()
            .enumerate()
            .find(|(_, v)| !v.is_finite() || **v < 0.0)
        {
            return Err(DetectError::BadWeight { row, value });
        }
    }
    Ok(())
}

fn check_finite(x: ArrayView2<'_, f32>) -> Result<()> {
    for ((row, column), &value) in x.indexed_iter() {
        if !value.is_finite() {
            return Err(DetectError::NonFinite { row, column, value });
        }
    }
    Ok(())
}

/// Check rows to score: the expected width, and finite values.
pub fn check_rows(x: ArrayView2<'_, f32>, expected: usize) -> Result<()> {
    if x.ncols() != expected {
        return Err(DetectError::DimensionMismatch {
            expected,
            found: x.ncols(),
        });
    }
    check_finite(x)
}

/// What a detector reads: the rows it is fitted on and scores.
///
/// The runner hands each detector the representation it declares, so a detector of
/// binary attribute rows (AVF, OC3) sits in the same grid as the embedding detectors
/// without the runner knowing its name.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Representation {
    /// Sentence embeddings from an encoder (one row per process or distinct pattern).
    #[default]
    Embedding,
    /// The context's binary attribute rows: a dense 0/1 `f32` matrix whose columns are
    /// the context's attributes in their stored order (1 = the process has it).
    Attributes,
}

/// A fitted detector: scores rows, higher = more anomalous.
pub trait Detector: Send + Sync {
    /// Short name used in tables (`AE`, `VAE+attn`, `OC-SVM`, ...).
    fn name(&self) -> String;
    /// The rows this detector reads (embeddings unless it says otherwise).
    fn representation(&self) -> Representation {
        Representation::Embedding
    }
    /// Number of input columns.
    fn input_dim(&self) -> usize;
    /// Continuous anomaly score per row.
    fn score(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>>;
    /// Scores of rows that each stand for `weights` processes (distinct patterns with
    /// their counts). Inductive detectors ignore the weights: a row's score does not
    /// depend on the other rows scored. Transductive ones (DBSCAN as the authors ran it,
    /// transductive OC3) cluster or compress the rows they score, and take the weights as
    /// those rows' counts. Default: [`Detector::score`].
    fn score_weighted(
        &self,
        x: ArrayView2<'_, f32>,
        weights: Option<ArrayView1<'_, f32>>,
    ) -> Result<Array1<f32>> {
        let _ = weights;
        self.score(x)
    }
    /// Whether a row's score depends on the other rows scored with it (DBSCAN as the
    /// authors ran it, transductive OC3). Such scores have no fixed scale, so held-out
    /// normal scores cannot calibrate them: the host view and `hunt` leave these
    /// detectors out. Default: `false`; a wrapper answers for what it wraps.
    fn transductive(&self) -> bool {
        false
    }
    /// Per-epoch (train, validation) losses, for detectors trained by gradient descent.
    fn loss_history(&self) -> Option<&[(f32, Option<f32>)]> {
        None
    }
    /// The threshold this detector learnt itself while fitting, if it did (the
    /// autoencoders do). Most detectors leave thresholds to [`FittedDetector`], which sets
    /// one from held-out normal scores for every detector alike.
    fn threshold(&self) -> Option<Threshold> {
        None
    }
    /// Save to a file whose JSON starts with a `kind` tag that a [`Registry`] loader
    /// reads back (see [`save_json`]; the format of the rest is the detector's).
    fn save(&self, path: &std::path::Path) -> Result<()> {
        Err(DetectError::Persist {
            path: path.to_path_buf(),
            reason: format!("{} does not support saving", self.name()),
        })
    }
}

/// Hyper-parameters that fit a [`Detector`].
///
/// Validation comes before any work by construction, as linfa's checked parameters:
/// [`Fit::fit_checked`] (and with it [`DetectorSpec::fit_boxed`], which is how the runner
/// fits every detector) runs [`Fit::check`] on the parameters and
/// [`TrainSet::validate`] on the data before it calls [`Fit::fit`], so a `fit` may assume
/// both.
pub trait Fit {
    /// The fitted model.
    type Fitted: Detector + 'static;
    /// Name used in tables.
    fn name(&self) -> String;
    /// The rows this detector is fitted on (embeddings unless it says otherwise).
    fn representation(&self) -> Representation {
        Representation::Embedding
    }
    /// Check the hyper-parameters (an error names the parameter). Default: any are fine.
    fn check(&self) -> Result<()> {
        Ok(())
    }
    /// Fit on (mostly normal) rows.
    fn fit(&self, data: &TrainSet<'_>) -> Result<Self::Fitted>;
    /// [`Fit::check`], [`TrainSet::validate`], then [`Fit::fit`].
    fn fit_checked(&self, data: &TrainSet<'_>) -> Result<Self::Fitted> {
        self.check()?;
        data.validate()?;
        self.fit(data)
    }
}

/// Object-safe form of [`Fit`], so a grid can hold detectors of different types.
pub trait DetectorSpec: Send + Sync {
    /// Name used in tables.
    fn name(&self) -> String;
    /// The rows this detector is fitted on.
    fn representation(&self) -> Representation {
        Representation::Embedding
    }
    /// Check the parameters and the data, fit, and box.
    fn fit_boxed(&self, data: &TrainSet<'_>) -> Result<Box<dyn Detector>>;
}

impl<T: Fit + Send + Sync> DetectorSpec for T {
    fn name(&self) -> String {
        Fit::name(self)
    }
    fn representation(&self) -> Representation {
        Fit::representation(self)
    }
    fn fit_boxed(&self, data: &TrainSet<'_>) -> Result<Box<dyn Detector>> {
        Ok(Box::new(self.fit_checked(data)?))
    }
}

/// A decision threshold: the `percentile` of normal scores. `predict` flags scores above it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    pub percentile: f64,
    pub value: f32,
}

impl Threshold {
    /// The weighted `percentile` (0-100) of `scores` (lower interpolation-free: the
    /// smallest score whose cumulative weight reaches the percentile).
    pub fn from_scores(
        scores: &[f32],
        weights: Option<&[f32]>,
        percentile: f64,
    ) -> Result<Threshold> {
        if !(0.0..=100.0).contains(&percentile) {
            return Err(DetectError::InvalidParameter {
                name: "percentile",
                reason: format!("{percentile} is not within 0..=100"),
            });
        }
        if scores.is_empty() {
            return Err(DetectError::Empty);
        }
        if let Some(w) = weights
            && w.len() != scores.len()
        {
            return Err(DetectError::WeightMismatch {
                weights: w.len(),
                rows: scores.len(),
            });
        }
        let mut idx: Vec<usize> = (0..scores.len()).collect();
        idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
        let w = |i: usize| weights.map_or(1.0, |w| w[i] as f64);
        let total: f64 = (0..scores.len()).map(w).sum();
        if total <= 0.0 {
            return Err(DetectError::Empty);
        }
        let target = total * percentile / 100.0;
        let mut acc = 0.0;
        for &i in &idx {
            acc += w(i);
            if acc >= target - 1e-9 {
                return Ok(Threshold {
                    percentile,
                    value: scores[i],
                });
            }
        }
        Ok(Threshold {
            percentile,
            value: scores[*idx.last().expect("non-empty")],
        })
    }

    /// Flag scores strictly above the threshold.
    pub fn predict(&self, scores: &[f32]) -> Vec<bool> {
        scores.iter().map(|&s| s > self.value).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn weighted_percentile_equals_repetition() {
        let s = [1.0, 2.0, 3.0, 4.0];
        let w = [1.0, 1.0, 6.0, 2.0];
        let rep = [1.0, 2.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 4.0, 4.0];
        for p in [0.0, 10.0, 50.0, 79.0, 80.0, 95.0, 100.0] {
            assert_eq!(
                Threshold::from_scores(&s, Some(&w), p).unwrap().value,
                Threshold::from_scores(&rep, None, p).unwrap().value,
                "p={p}"
            );
        }
    }

    #[test]
    fn validation_catches_bad_input() {
        let x = array![[1.0f32, f32::NAN]];
        assert!(matches!(
            TrainSet::new(x.view()).validate(),
            Err(DetectError::NonFinite {
                row: 0,
                column: 1,
                ..
            })
        ));
        let x = array![[1.0f32, 2.0]];
        let w = array![1.0f32, 2.0];
        assert!(matches!(
            TrainSet::new(x.view()).with_weights(w.view()).validate(),
            Err(DetectError::WeightMismatch {
                weights: 2,
                rows: 1
            })
        ));
        let w = array![-1.0f32];
        assert!(matches!(
            TrainSet::new(x.view()).with_weights(w.view()).validate(),
            Err(DetectError::BadWeight { .. })
        ));
        let empty = ndarray::Array2::<f32>::zeros((0, 3));
        assert!(matches!(
            TrainSet::new(empty.view()).validate(),
            Err(DetectError::Empty)
        ));
        assert!(matches!(
            check_rows(x.view(), 3),
            Err(DetectError::DimensionMismatch {
                expected: 3,
                found: 2
            })
        ));
        assert!(Threshold::from_scores(&[1.0], None, 101.0).is_err());
    }
}
