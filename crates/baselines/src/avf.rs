//! Attribute Value Frequency (Koufakou et al. 2007), as the ADAPT `edi` baseline
//! (Berrada et al., FGCS 2020) scores binary provenance contexts.

use crate::{load_json, save_json};
use apt_llm_detect::{DetectError, Detector, Fit, Representation, Result, TrainSet, check_rows};
use ndarray::{Array1, ArrayView2};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// AVF parameters (there are none to tune; the struct keeps the seam uniform).
///
/// Fitted on attribute rows ([`Representation::Attributes`]): `p_j` is the weighted share
/// of training rows that have attribute `j`. A row's AVF value is the mean over **all**
/// attributes (present and absent alike) of the training frequency of the row's value,
/// `x_j p_j + (1 − x_j)(1 − p_j)`; the score is its negation, so rare value combinations
/// score high. The reference (`edi/simple/model.py`, `AVFModel`) sums over every
/// attribute of the context with `p = count / n` and no smoothing; the mean is that sum
/// divided by the (fixed) width, so the ranking is the reference's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Avf;

/// A fitted AVF model: the training frequency of each attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedAvf {
    /// Weighted share of training rows with each attribute, in `[0, 1]`.
    pub frequencies: Vec<f64>,
}

impl Fit for Avf {
    type Fitted = FittedAvf;
    fn name(&self) -> String {
        "AVF".into()
    }
    fn representation(&self) -> Representation {
        Representation::Attributes
    }
    fn fit(&self, data: &TrainSet<'_>) -> Result<FittedAvf> {
        data.validate()?;
        let w = data.weights_or_ones();
        let total = data.total_weight();
        let mut frequencies = vec![0.0f64; data.x.ncols()];
        for (row, &wi) in data.x.rows().into_iter().zip(w.iter()) {
            for (f, &v) in frequencies.iter_mut().zip(row.iter()) {
                if v > 0.5 {
                    *f += wi as f64;
                }
            }
        }
        for f in &mut frequencies {
            *f /= total;
        }
        Ok(FittedAvf { frequencies })
    }
}

impl FittedAvf {
    /// Load a model written by [`Detector::save`]; a file of another kind, or with a
    /// frequency outside `[0, 1]`, is an error.
    pub fn load(path: &Path) -> Result<Self> {
        let m: FittedAvf = load_json(path, "avf")?;
        if m.frequencies.is_empty() {
            return Err(DetectError::Persist {
                path: path.to_path_buf(),
                reason: "no attributes".into(),
            });
        }
        if let Some((j, f)) = m
            .frequencies
            .iter()
            .enumerate()
            .find(|(_, f)| !(0.0..=1.0).contains(*f))
        {
            return Err(DetectError::Persist {
                path: path.to_path_buf(),
                reason: format!("frequency {f} of attribute {j} is not within [0, 1]"),
            });
        }
        Ok(m)
    }
}

impl Detector for FittedAvf {
    fn name(&self) -> String {
        "AVF".into()
    }
    fn representation(&self) -> Representation {
        Representation::Attributes
    }
    fn input_dim(&self) -> usize {
        self.frequencies.len()
    }
    /// Minus the mean attribute-value frequency: higher = rarer values = more anomalous.
    fn score(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>> {
        check_rows(x, self.input_dim())?;
        let d = self.frequencies.len() as f64;
        Ok(x.rows()
            .into_iter()
            .map(|r| {
                let sum: f64 = r
                    .iter()
                    .zip(&self.frequencies)
                    .map(|(&v, &p)| if v > 0.5 { p } else { 1.0 - p })
                    .sum();
                (-sum / d) as f32
            })
            .collect())
    }
    fn save(&self, path: &Path) -> Result<()> {
        save_json(path, "avf", self)
    }
}
