//! OC3 (Berrada et al., FGCS 2020): a row's anomaly score is its encoded length under a
//! Krimp code table of the normal rows.

pub use crate::krimp::{CodeTableEntry, MiningReport};
use crate::krimp::{KrimpConfig, krimp};
use crate::{load_json, save_json};
use apt_llm_detect::{DetectError, Detector, Fit, Representation, Result, TrainSet, check_rows};
use ndarray::{Array1, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// OC3 parameters.
///
/// Fitted on attribute rows ([`Representation::Attributes`], value > 0.5 = present),
/// weighted by pattern counts. The code table is Krimp's (see the crate docs for the
/// steps); a row is scored by covering it greedily with the table in cover order and
/// summing the code lengths of the elements used, `−log₂((usage + 1) / Σ (usage + 1))`:
/// Laplace-smoothed over every element of the table, every column's singleton included,
/// as the reference turns a code table into costs (`edi/krimp.py`, `getCodeTable`). So a
/// column never seen in training is a singleton of usage 0 and costs
/// `−log₂(1 / Σ (usage + 1))`, the longest code there is, and an element used in training
/// costs a little more than its unsmoothed length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Oc3 {
    /// Minimum weighted support of a candidate itemset (the reference mines every closed
    /// itemset of support ≥ 1).
    pub min_support: f64,
    /// At most this many candidates, the most supported (top-k mining); what was cut is
    /// in [`FittedOc3::mining`].
    pub max_candidates: usize,
    /// Fit on the rows being scored instead (the FGCS paper's setting): `fit` keeps only
    /// the width, `score` builds the code table of the rows it is given (each row once;
    /// [`FittedOc3::score_weighted`] takes their counts).
    pub transductive: bool,
    /// Append one row holding every column to the training rows, as the reference
    /// wrapper (`edi/krimp.py`) does before it calls Krimp.
    pub all_items_row: bool,
}

impl Default for Oc3 {
    fn default() -> Self {
        Oc3 {
            min_support: 1.0,
            max_candidates: 20_000,
            transductive: false,
            all_items_row: false,
        }
    }
}

impl Oc3 {
    /// The FGCS paper's transductive setting: the code table of the scored rows.
    pub fn transductive() -> Self {
        Oc3 {
            transductive: true,
            ..Default::default()
        }
    }
    fn validate(&self) -> Result<()> {
        if !(self.min_support.is_finite() && self.min_support > 0.0) {
            return Err(DetectError::InvalidParameter {
                name: "min_support",
                reason: format!("{} is not a positive number", self.min_support),
            });
        }
        Ok(())
    }
    fn config(&self) -> KrimpConfig {
        KrimpConfig {
            min_support: self.min_support,
            max_candidates: self.max_candidates,
        }
    }
    fn build(&self, x: ArrayView2<'_, f32>, w: &[f64]) -> FittedOc3 {
        let dim = x.ncols();
        let mut rows: Vec<Vec<u32>> = x.rows().into_iter().map(present).collect();
        let mut w = w.to_vec();
        if self.all_items_row {
            rows.push((0..dim as u32).collect());
            w.push(1.0);
        }
        let k = krimp(&rows, &w, dim, &self.config());
        FittedOc3 {
            params: self.clone(),
            dim,
            sets: k.sets,
            singleton_usage: k.singleton_usage,
            singleton_support: k.singleton_support,
            report: Some(k.report),
        }
    }
}

fn present(r: ArrayView1<'_, f32>) -> Vec<u32> {
    r.iter()
        .enumerate()
        .filter(|(_, v)| **v > 0.5)
        .map(|(j, _)| j as u32)
        .collect()
}

/// A fitted OC3 model: a Krimp code table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedOc3 {
    params: Oc3,
    dim: usize,
    /// Code table elements of two or more columns, in cover order (length desc, support
    /// desc, then Krimp's item order). Empty for a transductive model.
    pub sets: Vec<CodeTableEntry>,
    /// Usage of each column's singleton code (0 for columns never seen).
    pub singleton_usage: Vec<f64>,
    /// Weighted support of each column in training.
    pub singleton_support: Vec<f64>,
    /// What candidate mining did (`None` for a transductive model).
    pub report: Option<MiningReport>,
}

impl Fit for Oc3 {
    type Fitted = FittedOc3;
    fn name(&self) -> String {
        if self.transductive {
            "OC3-transductive".into()
        } else {
            "OC3".into()
        }
    }
    fn representation(&self) -> Representation {
        Representation::Attributes
    }
    fn fit(&self, data: &TrainSet<'_>) -> Result<FittedOc3> {
        self.validate()?;
        data.validate()?;
        let dim = data.x.ncols();
        if self.transductive {
            return Ok(FittedOc3 {
                params: self.clone(),
                dim,
                sets: Vec::new(),
                singleton_usage: vec![0.0; dim],
                singleton_support: vec![0.0; dim],
                report: None,
            });
        }
        let w: Vec<f64> = data.weights_or_ones().iter().map(|&v| v as f64).collect();
        Ok(self.build(data.x, &w))
    }
}

impl FittedOc3 {
    /// Load a model written by [`Detector::save`]. A file of another kind, lengths that
    /// disagree with the width, columns out of range or negative usage are errors.
    pub fn load(path: &Path) -> Result<Self> {
        let m: FittedOc3 = load_json(path, "oc3")?;
        m.check().map_err(|reason| DetectError::Persist {
            path: path.to_path_buf(),
            reason,
        })?;
        Ok(m)
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.dim == 0 {
            return Err("width 0".into());
        }
        if self.singleton_usage.len() != self.dim || self.singleton_support.len() != self.dim {
            return Err(format!(
                "{} singleton usages and {} supports for {} columns",
                self.singleton_usage.len(),
                self.singleton_support.len(),
                self.dim
            ));
        }
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        if let Some(v) = self
            .singleton_usage
            .iter()
            .chain(&self.singleton_support)
            .find(|v| !ok(**v))
        {
            return Err(format!("singleton usage or support {v} is not a count"));
        }
        for (k, s) in self.sets.iter().enumerate() {
            if !ok(s.usage) || !ok(s.support) {
                return Err(format!(
                    "code table element {k}: usage {} support {}",
                    s.usage, s.support
                ));
            }
            if s.items.len() < 2
                || s.items.windows(2).any(|p| p[0] >= p[1])
                || s.items.iter().any(|&c| c as usize >= self.dim)
            {
                return Err(format!(
                    "code table element {k}: items {:?} are not ascending columns of {} with two or more",
                    s.items, self.dim
                ));
            }
        }
        Ok(())
    }

    /// The whole code table in cover order: the sets, then the singletons of the columns
    /// seen in training (support desc, then higher column first), as the reference writes
    /// it.
    pub fn code_table(&self) -> Vec<CodeTableEntry> {
        let mut single: Vec<u32> = (0..self.dim as u32)
            .filter(|&c| self.singleton_support[c as usize] > 0.0)
            .collect();
        single.sort_by(|&a, &b| {
            self.singleton_support[b as usize]
                .total_cmp(&self.singleton_support[a as usize])
                .then(b.cmp(&a))
        });
        self.sets
            .iter()
            .cloned()
            .chain(single.into_iter().map(|c| CodeTableEntry {
                items: vec![c],
                usage: self.singleton_usage[c as usize],
                support: self.singleton_support[c as usize],
            }))
            .collect()
    }

    /// What candidate mining did (`None` for a transductive model).
    pub fn mining(&self) -> Option<&MiningReport> {
        self.report.as_ref()
    }

    /// Greedy cover of `items` (columns, any order): indices into [`Self::sets`], then the
    /// columns left to singletons.
    pub fn cover(&self, items: &[u32]) -> (Vec<usize>, Vec<u32>) {
        let mut mark = vec![false; self.dim];
        for &c in items {
            if (c as usize) < self.dim {
                mark[c as usize] = true;
            }
        }
        let mut left = mark.iter().filter(|m| **m).count();
        let mut used = Vec::new();
        for (k, s) in self.sets.iter().enumerate() {
            if left == 0 {
                break;
            }
            if s.items.len() <= left && s.items.iter().all(|&c| mark[c as usize]) {
                for &c in &s.items {
                    mark[c as usize] = false;
                }
                left -= s.items.len();
                used.push(k);
            }
        }
        let rest = (0..self.dim as u32).filter(|&c| mark[c as usize]).collect();
        (used, rest)
    }

    /// Encoded length in bits of a row given by its columns: Laplace-smoothed code lengths
    /// (the score) when `laplace`, else Krimp's own `−log₂(usage / Σ usage)` (infinite for
    /// an element of usage 0, as a row outside the training data may need).
    pub fn encoded_length(&self, items: &[u32], laplace: bool) -> f64 {
        let (sets, rest) = self.cover(items);
        let costs = Costs::new(self, laplace);
        sets.iter().map(|&k| costs.set[k]).sum::<f64>()
            + rest.iter().map(|&c| costs.single[c as usize]).sum::<f64>()
    }

    /// Scores, and for a transductive model the weights (counts) of the rows it builds its
    /// code table from; an inductive model ignores `weights`.
    pub fn score_weighted(
        &self,
        x: ArrayView2<'_, f32>,
        weights: Option<ArrayView1<'_, f32>>,
    ) -> Result<Array1<f32>> {
        // One lifetime for both views (they feed one `TrainSet`).
        let (x, weights) = (x.view(), weights.as_ref().map(|w| w.view()));
        check_rows(x, self.dim)?;
        if self.params.transductive {
            if x.nrows() == 0 {
                return Ok(Array1::zeros(0));
            }
            let ts = TrainSet {
                weights,
                ..TrainSet::new(x)
            };
            ts.validate()?;
            let w: Vec<f64> = ts.weights_or_ones().iter().map(|&v| v as f64).collect();
            let model = Oc3 {
                transductive: false,
                ..self.params.clone()
            }
            .build(x, &w);
            return model.score_weighted(x, None);
        }
        let costs = Costs::new(self, true);
        Ok(x.rows()
            .into_iter()
            .map(|r| {
                let (sets, rest) = self.cover(&present(r));
                (sets.iter().map(|&k| costs.set[k]).sum::<f64>()
                    + rest.iter().map(|&c| costs.single[c as usize]).sum::<f64>())
                    as f32
            })
            .collect())
    }
}

struct Costs {
    set: Vec<f64>,
    single: Vec<f64>,
}

impl Costs {
    fn new(m: &FittedOc3, laplace: bool) -> Costs {
        let a = if laplace { 1.0 } else { 0.0 };
        let total: f64 = m.sets.iter().map(|s| s.usage + a).sum::<f64>()
            + m.singleton_usage.iter().map(|u| u + a).sum::<f64>();
        let len = |u: f64| -((u + a) / total).log2();
        Costs {
            set: m.sets.iter().map(|s| len(s.usage)).collect(),
            single: m.singleton_usage.iter().map(|&u| len(u)).collect(),
        }
    }
}

impl Detector for FittedOc3 {
    fn score_weighted(
        &self,
        x: ArrayView2<'_, f32>,
        weights: Option<ArrayView1<'_, f32>>,
    ) -> Result<Array1<f32>> {
        FittedOc3::score_weighted(self, x, weights)
    }
    fn name(&self) -> String {
        Fit::name(&self.params)
    }
    fn representation(&self) -> Representation {
        Representation::Attributes
    }
    fn transductive(&self) -> bool {
        self.params.transductive
    }
    fn input_dim(&self) -> usize {
        self.dim
    }
    /// Encoded length in bits under the code table: higher = less like the training rows.
    fn score(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>> {
        self.score_weighted(x, None)
    }
    fn save(&self, path: &Path) -> Result<()> {
        save_json(path, "oc3", self)
    }
}
