//! A fitted detector with its decision, shaped like PyOD's fitted estimator: continuous
//! scores (`decision_function`), a threshold learnt at fit (`threshold_`) and `predict`.
//!
//! The threshold is a weighted percentile of held-out normal scores (the validation rows
//! when the training set has them, else the training rows, each counted with its
//! weight), 95 by default. The normal scores are kept, so the percentile can move later
//! without the training data (`apt-llm score --percentile`), and so the runner can
//! calibrate p-values against the same scores the threshold came from.
//!
//! ```
//! use apt_llm_detect::{DEFAULT_PERCENTILE, DetectorSpec, FittedDetector, Rarity, TrainSet};
//! use ndarray::array;
//! use std::sync::Arc;
//!
//! let train = array![[0.0f32, 1.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]];
//! let data = TrainSet::new(train.view());
//! let model = Rarity.fit_boxed(&data)?;
//! let fitted = FittedDetector::new(Arc::from(model), &data, DEFAULT_PERCENTILE)?;
//! let flags = fitted.predict(array![[0.0f32, 1.0], [5.0, 5.0]].view())?;
//! assert_eq!(flags, [false, true]);
//! # Ok::<(), apt_llm_detect::DetectError>(())
//! ```

use crate::{Detector, Result, Threshold, TrainSet};
use ndarray::{Array1, ArrayView1, ArrayView2};
use std::sync::Arc;

/// The percentile of normal scores a threshold is set at unless asked otherwise.
pub const DEFAULT_PERCENTILE: f64 = 95.0;

/// A fitted detector, its threshold and the normal scores the threshold came from.
#[derive(Clone)]
pub struct FittedDetector {
    detector: Arc<dyn Detector>,
    threshold: Threshold,
    normal_scores: Vec<f32>,
    normal_weights: Vec<f32>,
}

impl std::fmt::Debug for FittedDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FittedDetector")
            .field("detector", &self.detector.name())
            .field("threshold", &self.threshold)
            .field("normal_scores", &self.normal_scores.len())
            .finish()
    }
}

impl FittedDetector {
    /// Score the held-out normal rows of `data` (validation rows if it has any, else its
    /// training rows) and set the threshold at their weighted `percentile`. A detector
    /// that learnt its own threshold at that percentile ([`Detector::threshold`], e.g. the
    /// autoencoders) keeps it.
    pub fn new(
        detector: Arc<dyn Detector>,
        data: &TrainSet<'_>,
        percentile: f64,
    ) -> Result<FittedDetector> {
        let (x, w) = match data.validation {
            Some(v) if v.nrows() > 0 => (v, data.validation_weights),
            _ => (data.x, data.weights),
        };
        let normal_scores = detector.score(x)?.to_vec();
        let normal_weights = w.map_or_else(|| vec![1.0; x.nrows()], |w| w.to_vec());
        FittedDetector::from_normal_scores(detector, normal_scores, normal_weights, percentile)
    }

    /// A detector with normal scores computed elsewhere (a saved model's).
    pub fn from_normal_scores(
        detector: Arc<dyn Detector>,
        normal_scores: Vec<f32>,
        normal_weights: Vec<f32>,
        percentile: f64,
    ) -> Result<FittedDetector> {
        let threshold = match detector.threshold() {
            Some(t) if t.percentile == percentile => t,
            _ => Threshold::from_scores(&normal_scores, Some(&normal_weights), percentile)?,
        };
        Ok(FittedDetector {
            detector,
            threshold,
            normal_scores,
            normal_weights,
        })
    }

    /// A detector with a threshold given outright (no normal scores to move it with).
    pub fn with_threshold(detector: Arc<dyn Detector>, threshold: Threshold) -> FittedDetector {
        FittedDetector {
            detector,
            threshold,
            normal_scores: Vec::new(),
            normal_weights: Vec::new(),
        }
    }

    /// The detector.
    pub fn detector(&self) -> &Arc<dyn Detector> {
        &self.detector
    }
    /// The detector's name.
    pub fn name(&self) -> String {
        self.detector.name()
    }
    /// Continuous anomaly scores, higher = more anomalous (PyOD's `decision_function`).
    pub fn score(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>> {
        self.detector.score(x)
    }
    /// Scores of rows standing for `weights` processes ([`Detector::score_weighted`]).
    pub fn score_weighted(
        &self,
        x: ArrayView2<'_, f32>,
        weights: Option<ArrayView1<'_, f32>>,
    ) -> Result<Array1<f32>> {
        self.detector.score_weighted(x, weights)
    }
    /// The decision threshold.
    pub fn threshold(&self) -> Threshold {
        self.threshold
    }
    /// Flag rows scoring strictly above the threshold.
    pub fn predict(&self, x: ArrayView2<'_, f32>) -> Result<Vec<bool>> {
        Ok(self.threshold.predict(&self.score(x)?.to_vec()))
    }
    /// Move the threshold to another percentile of the normal scores it came from.
    /// Fails when there are none (a detector built [`with_threshold`](Self::with_threshold)).
    pub fn set_percentile(&mut self, percentile: f64) -> Result<()> {
        self.threshold =
            Threshold::from_scores(&self.normal_scores, Some(&self.normal_weights), percentile)?;
        Ok(())
    }
    /// Replace the threshold.
    pub fn set_threshold(&mut self, threshold: Threshold) {
        self.threshold = threshold;
    }
    /// The held-out normal scores and their weights.
    pub fn normal_scores(&self) -> (&[f32], &[f32]) {
        (&self.normal_scores, &self.normal_weights)
    }
}
