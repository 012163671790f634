//! One-Class SVM (Schölkopf et al.) through linfa-svm.

use crate::{expand_weighted, load_json, save_json};
use apt_llm_detect::{DetectError, Detector, Fit, Result, TrainSet, check_rows};
use linfa::ParamGuard;
use linfa::prelude::{Dataset, Pr};
use linfa::traits::Fit as LinfaFit;
use linfa_svm::Svm;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// ν-One-Class SVM with an RBF kernel `exp(-γ‖x−y‖²)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OneClassSvm {
    /// Upper bound on the share of training outliers, lower bound on the share of support
    /// vectors (default 0.1, the authors').
    pub nu: f64,
    /// Kernel width; `None` = 1/n_features (the authors' choice).
    pub gamma: Option<f64>,
    /// At most this many training rows (default 2,000); above it, weighted rows are expanded
    /// proportionally to this budget (the kernel matrix is dense: n² × 8 bytes).
    pub max_train_rows: usize,
}

impl Default for OneClassSvm {
    fn default() -> Self {
        OneClassSvm {
            nu: 0.1,
            gamma: None,
            max_train_rows: 2_000,
        }
    }
}

/// A fitted One-Class SVM.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FittedOneClassSvm {
    svm: Svm<f64, bool>,
    gamma: f64,
    dim: usize,
    /// Rows the SVM was trained on (after expansion and capping).
    pub train_rows: usize,
    /// True when the training set was larger than `max_train_rows` and was reduced.
    pub subsampled: bool,
}

impl OneClassSvm {
    fn validate(&self) -> Result<()> {
        if !(self.nu > 0.0 && self.nu <= 1.0) {
            return Err(DetectError::InvalidParameter {
                name: "nu",
                reason: format!("{} is not in (0, 1]", self.nu),
            });
        }
        if let Some(g) = self.gamma
            && !(g.is_finite() && g > 0.0)
        {
            return Err(DetectError::InvalidParameter {
                name: "gamma",
                reason: format!("{g} is not a positive number"),
            });
        }
        if self.max_train_rows < 2 {
            return Err(DetectError::InvalidParameter {
                name: "max_train_rows",
                reason: "needs at least 2 rows".into(),
            });
        }
        Ok(())
    }
}

impl Fit for OneClassSvm {
    type Fitted = FittedOneClassSvm;
    fn name(&self) -> String {
        "OC-SVM".into()
    }
    fn fit(&self, data: &TrainSet<'_>) -> Result<FittedOneClassSvm> {
        self.validate()?;
        data.validate()?;
        let weights = data.weights_or_ones();
        let rows = expand_weighted(weights.as_slice().expect("contiguous"), self.max_train_rows);
        let subsampled = data.total_weight() > self.max_train_rows as f64 + 0.5;
        let x: Array2<f64> = data.x.select(Axis(0), &rows).mapv(f64::from);
        let dim = x.ncols();
        let gamma = self.gamma.unwrap_or(1.0 / dim as f64);
        let ds = Dataset::from(x);
        let params = Svm::<f64, Pr>::params()
            .nu_weight(self.nu)
            .gaussian_kernel(1.0 / gamma)
            .check()
            .map_err(|e| DetectError::InvalidParameter {
                name: "svm",
                reason: e.to_string(),
            })?;
        let svm = LinfaFit::fit(&params, &ds).map_err(|e| DetectError::Backend {
            library: "linfa-svm",
            message: e.to_string(),
        })?;
        Ok(FittedOneClassSvm {
            svm,
            gamma,
            dim,
            train_rows: rows.len(),
            subsampled,
        })
    }
}

impl FittedOneClassSvm {
    /// Load a model written by [`Detector::save`].
    pub fn load(path: &Path) -> Result<Self> {
        load_json(path, "ocsvm")
    }
    /// The kernel width used.
    pub fn gamma(&self) -> f64 {
        self.gamma
    }
}

impl Detector for FittedOneClassSvm {
    fn name(&self) -> String {
        "OC-SVM".into()
    }
    fn input_dim(&self) -> usize {
        self.dim
    }
    fn score(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>> {
        check_rows(x, self.dim)?;
        let scores: Vec<f32> = (0..x.nrows())
            .into_par_iter()
            .map(|i| {
                let r = x.row(i).mapv(f64::from);
                // Decision value is positive inside the support; flip it.
                (-(self.svm.weighted_sum(&r) - self.svm.rho)) as f32
            })
            .collect();
        Ok(Array1::from(scores))
    }
    fn save(&self, path: &Path) -> Result<()> {
        save_json(path, "ocsvm", self)
    }
}
