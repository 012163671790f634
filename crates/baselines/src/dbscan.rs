//! DBSCAN (Ester et al. 1996) as an anomaly scorer, two ways.

use crate::{load_json, save_json};
use apt_llm_detect::{DetectError, Detector, Fit, Result, TrainSet, check_rows};
use linfa::ParamGuard;
use linfa::traits::Transformer;
use linfa_clustering::Dbscan as LinfaDbscan;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// How DBSCAN turns into a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DbscanScore {
    /// The authors': cluster the rows being scored themselves (transductive, linfa's
    /// DBSCAN); noise = 1, clustered = 0. Ties everywhere, so ROC-AUC is coarse.
    Transductive,
    /// Fitted on training rows: a row's score is its Euclidean distance to the nearest core
    /// point (a training row with ≥ `min_points` weighted neighbours within `eps`).
    CoreDistance,
}

/// DBSCAN parameters (defaults: scikit-learn's eps = 0.5, min_samples = 5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dbscan {
    pub eps: f32,
    pub min_points: usize,
    pub score: DbscanScore,
    /// Core-point search is O(n²) over distinct training rows; above this many, the
    /// heaviest rows are kept.
    pub max_train_rows: usize,
}

impl Default for Dbscan {
    fn default() -> Self {
        Dbscan {
            eps: 0.5,
            min_points: 5,
            score: DbscanScore::CoreDistance,
            max_train_rows: 20_000,
        }
    }
}

impl Dbscan {
    /// The authors' transductive variant.
    pub fn transductive() -> Self {
        Dbscan {
            score: DbscanScore::Transductive,
            ..Default::default()
        }
    }
    fn validate(&self) -> Result<()> {
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(DetectError::InvalidParameter {
                name: "eps",
                reason: format!("{} is not a positive number", self.eps),
            });
        }
        if self.min_points < 2 {
            return Err(DetectError::InvalidParameter {
                name: "min_points",
                reason: "must be at least 2".into(),
            });
        }
        Ok(())
    }
}

/// A fitted DBSCAN scorer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FittedDbscan {
    params: Dbscan,
    dim: usize,
    /// Core points (CoreDistance only), row-major `[n_core, dim]`.
    core: Vec<f32>,
    /// Number of core points.
    pub n_core: usize,
}

fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

impl Fit for Dbscan {
    type Fitted = FittedDbscan;
    fn name(&self) -> String {
        match self.score {
            DbscanScore::Transductive => "DBSCAN".into(),
            DbscanScore::CoreDistance => "DBSCAN-core".into(),
        }
    }
    fn fit(&self, data: &TrainSet<'_>) -> Result<FittedDbscan> {
        self.validate()?;
        data.validate()?;
        let dim = data.x.ncols();
        if self.score == DbscanScore::Transductive {
            return Ok(FittedDbscan {
                params: self.clone(),
                dim,
                core: Vec::new(),
                n_core: 0,
            });
        }
        let w = data.weights_or_ones();
        let mut rows: Vec<usize> = (0..data.x.nrows()).filter(|&i| w[i] > 0.0).collect();
        if rows.len() > self.max_train_rows {
            rows.sort_by(|&a, &b| w[b].total_cmp(&w[a]).then(a.cmp(&b)));
            rows.truncate(self.max_train_rows);
        }
        let x: Vec<Vec<f32>> = rows.iter().map(|&i| data.x.row(i).to_vec()).collect();
        let eps2 = self.eps * self.eps;
        // A row's weighted neighbourhood includes itself (scikit-learn's convention).
        let is_core: Vec<bool> = (0..x.len())
            .into_par_iter()
            .map(|i| {
                let mut n = 0.0f64;
                for (j, xj) in x.iter().enumerate() {
                    if sq_dist(&x[i], xj) <= eps2 {
                        n += w[rows[j]] as f64;
                        if n >= self.min_points as f64 {
                            return true;
                        }
                    }
                }
                false
            })
            .collect();
        let mut core = Vec::new();
        for (i, c) in is_core.iter().enumerate() {
            if *c {
                core.extend_from_slice(&x[i]);
            }
        }
        let n_core = core.len() / dim;
        Ok(FittedDbscan {
            params: self.clone(),
            dim,
            core,
            n_core,
        })
    }
}

impl FittedDbscan {
    /// Load a model written by [`Detector::save`].
    pub fn load(path: &Path) -> Result<Self> {
        load_json(path, "dbscan")
    }

    /// Scores where each row stands for `weights[i]` identical rows (distinct patterns
    /// with their counts). For the transductive score this is what the authors' DBSCAN
    /// over every process sees: a row is a core point when the weights within `eps`
    /// (its own included) reach `min_points`, and noise (1) when no core point lies within
    /// `eps`. Clustering distinct rows unweighted instead makes dense regions look sparse.
    /// With unit weights it equals [`Detector::score`]. `CoreDistance` ignores the weights
    /// (its density comes from training).
    pub fn score_weighted(
        &self,
        x: ArrayView2<'_, f32>,
        weights: Option<ArrayView1<'_, f32>>,
    ) -> Result<Array1<f32>> {
        // One lifetime for both views (they feed one `TrainSet`).
        let (x, weights) = (x.view(), weights.as_ref().map(|w| w.view()));
        let (DbscanScore::Transductive, Some(w)) = (self.params.score, weights) else {
            return self.score(x);
        };
        check_rows(x, self.dim)?;
        TrainSet::new(x).with_weights(w).validate()?;
        let rows: Vec<Vec<f32>> = x.rows().into_iter().map(|r| r.to_vec()).collect();
        let eps2 = self.params.eps * self.params.eps;
        let min = self.params.min_points as f64;
        let is_core: Vec<bool> = (0..rows.len())
            .into_par_iter()
            .map(|i| {
                let mut n = 0.0f64;
                for (j, r) in rows.iter().enumerate() {
                    if sq_dist(&rows[i], r) <= eps2 {
                        n += w[j] as f64;
                        if n >= min {
                            return true;
                        }
                    }
                }
                false
            })
            .collect();
        Ok((0..rows.len())
            .into_par_iter()
            .map(|i| {
                let reached = rows
                    .iter()
                    .enumerate()
                    .any(|(j, r)| is_core[j] && sq_dist(&rows[i], r) <= eps2);
                if reached { 0.0 } else { 1.0 }
            })
            .collect::<Vec<f32>>()
            .into())
    }
}

impl Detector for FittedDbscan {
    fn score_weighted(
        &self,
        x: ArrayView2<'_, f32>,
        weights: Option<ArrayView1<'_, f32>>,
    ) -> Result<Array1<f32>> {
        FittedDbscan::score_weighted(self, x, weights)
    }
    fn name(&self) -> String {
        Fit::name(&self.params)
    }
    fn input_dim(&self) -> usize {
        self.dim
    }
    fn transductive(&self) -> bool {
        self.params.score == DbscanScore::Transductive
    }
    fn score(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>> {
        check_rows(x, self.dim)?;
        match self.params.score {
            DbscanScore::Transductive => {
                let xs: Array2<f64> = x.mapv(f64::from);
                let labels = LinfaDbscan::params(self.params.min_points)
                    .tolerance(self.params.eps as f64)
                    .check()
                    .map_err(|e| DetectError::InvalidParameter {
                        name: "dbscan",
                        reason: e.to_string(),
                    })?
                    .transform(&xs);
                Ok(labels.mapv(|c| if c.is_none() { 1.0 } else { 0.0 }))
            }
            DbscanScore::CoreDistance => {
                if self.n_core == 0 {
                    // No dense region in training: every row is equally far.
                    return Ok(Array1::from_elem(x.nrows(), f32::MAX.sqrt()));
                }
                let scores: Vec<f32> = (0..x.nrows())
                    .into_par_iter()
                    .map(|i| {
                        let r = x.row(i);
                        let r = r
                            .as_slice()
                            .map(<[f32]>::to_vec)
                            .unwrap_or_else(|| r.to_vec());
                        self.core
                            .chunks_exact(self.dim)
                            .map(|c| sq_dist(&r, c))
                            .fold(f32::INFINITY, f32::min)
                            .sqrt()
                    })
                    .collect();
                Ok(Array1::from(scores))
            }
        }
    }
    fn save(&self, path: &Path) -> Result<()> {
        save_json(path, "dbscan", self)
    }
}
