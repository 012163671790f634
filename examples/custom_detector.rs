//! Implement the detector trait and drop your detectors into the grid next to the built-in
//! ones: the runner fits and scores them on every context, writes their rows into
//! `results.csv`, fuses them in the host view (`hosts.csv`) and ranks them in
//! `report.md`, like any other.
//!
//! - `1-NN` reads sentence embeddings: the squared distance to the nearest training row.
//! - `Jaccard-NN` reads the binary attribute rows ([`Representation::Attributes`]): one
//!   minus the best Jaccard similarity to a training pattern, so it needs no encoder.
//!
//! ```text
//! cargo run --release --example custom_detector [OUT_DIR]
//! ```

use apt_llm::detect::{DetectError, Detector, Fit, Representation, TrainSet, check_rows};
use apt_llm::runner::{
    AttentionMode, DataSource, DetectorChoice, ExperimentConfig, PriorMode, run, write_outputs,
};
use ndarray::{Array1, Array2, ArrayView2};
use std::sync::Arc;

/// Parameters: nothing to tune.
struct NearestNeighbour;

/// Fitted: the distinct training rows.
struct FittedNearestNeighbour(Array2<f32>);

impl Fit for NearestNeighbour {
    type Fitted = FittedNearestNeighbour;
    fn name(&self) -> String {
        "1-NN".into()
    }
    fn fit(&self, data: &TrainSet<'_>) -> Result<FittedNearestNeighbour, DetectError> {
        data.validate()?;
        Ok(FittedNearestNeighbour(data.x.to_owned()))
    }
}

impl Detector for FittedNearestNeighbour {
    fn name(&self) -> String {
        "1-NN".into()
    }
    fn input_dim(&self) -> usize {
        self.0.ncols()
    }
    fn score(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>, DetectError> {
        check_rows(x, self.input_dim())?;
        Ok(x.rows()
            .into_iter()
            .map(|r| {
                self.0
                    .rows()
                    .into_iter()
                    .map(|t| (&t - &r).mapv(|v| v * v).sum())
                    .fold(f32::INFINITY, f32::min)
            })
            .collect())
    }
}

/// Jaccard distance to the nearest training pattern, on attribute rows.
struct JaccardNearest;
struct FittedJaccard(Vec<Vec<usize>>, usize);

fn items(row: ndarray::ArrayView1<'_, f32>) -> Vec<usize> {
    row.iter()
        .enumerate()
        .filter(|(_, v)| **v > 0.5)
        .map(|(i, _)| i)
        .collect()
}

impl Fit for JaccardNearest {
    type Fitted = FittedJaccard;
    fn name(&self) -> String {
        "Jaccard-NN".into()
    }
    fn representation(&self) -> Representation {
        Representation::Attributes
    }
    fn fit(&self, data: &TrainSet<'_>) -> Result<FittedJaccard, DetectError> {
        data.validate()?;
        Ok(FittedJaccard(
            data.x.rows().into_iter().map(items).collect(),
            data.x.ncols(),
        ))
    }
}

impl Detector for FittedJaccard {
    fn name(&self) -> String {
        "Jaccard-NN".into()
    }
    fn representation(&self) -> Representation {
        Representation::Attributes
    }
    fn input_dim(&self) -> usize {
        self.1
    }
    fn score(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>, DetectError> {
        check_rows(x, self.input_dim())?;
        Ok(x.rows()
            .into_iter()
            .map(|r| {
                let a = items(r);
                let best = self
                    .0
                    .iter()
                    .map(|b| {
                        let common = a.iter().filter(|i| b.binary_search(i).is_ok()).count();
                        let union = a.len() + b.len() - common;
                        if union == 0 {
                            1.0
                        } else {
                            common as f32 / union as f32
                        }
                    })
                    .fold(0.0f32, f32::max);
                1.0 - best
            })
            .collect())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/custom-detector".into());
    let cfg = ExperimentConfig {
        // The bundled synthetic host (three aspects); `DataSource::Root(dir)` for ADAPT data.
        data: DataSource::bundled(),
        // Built-in detectors by name, yours as trait objects.
        detectors: vec![
            DetectorChoice::Ae,
            DetectorChoice::Rarity,
            DetectorChoice::Oc3,
        ],
        custom_detectors: vec![Arc::new(NearestNeighbour), Arc::new(JaccardNearest)],
        attention: AttentionMode::Off,
        prior: PriorMode::Off,
        epochs: 20,
        ..Default::default()
    };
    let report = run(&cfg)?;
    write_outputs(
        &report,
        out.as_ref(),
        "cargo run --example custom_detector",
        None,
    )?;
    for r in &report.rows {
        println!(
            "{:<34} {:<12} ROC-AUC {:.3}",
            r.context,
            r.combination(),
            r.auc
        );
    }
    for h in &report.host_rows {
        println!("host {:<26} {} ROC-AUC {:.3}", h.host, h.key(), h.auc);
    }
    println!("results.csv, hosts.csv and report.md in {out}");
    Ok(())
}
