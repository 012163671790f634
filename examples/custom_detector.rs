//! Bring your own encoder, detectors and fusion rule: the runner compares them with MiniLM
//! and the built-in detectors on every context, writes their rows into `results.csv`,
//! fuses them in the host view (`hosts.csv`) and ranks them in `report.md`, like any
//! other.
//!
//! - `Hashed` is an encoder of its own: a bag of attribute phrases (the sentence cut at
//!   the template's separator), each hashed into one of 64 buckets, L2-normalised. It
//!   needs no model files, so the example runs where MiniLM has not been fetched (MiniLM
//!   is then reported as unavailable and skipped).
//! - `kNN` reads sentence embeddings: the mean squared distance to the k nearest distinct
//!   training rows. It saves itself under a kind of its own (`"knn"`), which the example
//!   registers in the loader registry and loads back.
//! - `Jaccard-NN` reads the binary attribute rows ([`Representation::Attributes`]): one
//!   minus the best Jaccard similarity to a training pattern, so it needs no encoder.
//! - `Bonferroni` is a fusion rule of its own ([`FusionRule`]): the smallest per-aspect
//!   p-value times the number of aspects. The host view tries it beside Fisher, Šidák and
//!   Cauchy, and the honest selection may pick it.
//!
//! ```text
//! cargo run --release --example custom_detector [OUT_DIR]
//! ```

use apt_llm::detect::{
    DetectError, Detector, Fit, Representation, TrainSet, check_rows, load_json, save_json,
};
use apt_llm::embed::{EmbedError, ModelIdentity, SentenceEncoder};
use apt_llm::fusion::FusionRule;
use apt_llm::runner::{
    AttentionMode, DataSource, DetectorChoice, EncoderSpec, ExperimentConfig, PriorMode, registry,
    run, write_outputs,
};
use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

/// A bag of attribute phrases hashed into `dim` buckets.
struct Hashed {
    identity: ModelIdentity,
    separator: String,
}

impl Hashed {
    fn new(dim: usize, separator: &str) -> Hashed {
        Hashed {
            // The fingerprint changes whenever the vectors would: here, with the dimension
            // and the hash below (version 1).
            identity: ModelIdentity::new(
                "Hashed",
                "bag-of-attributes",
                dim,
                format!("fnv1a-v1-{dim}"),
            ),
            separator: separator.to_string(),
        }
    }
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl SentenceEncoder for Hashed {
    fn identity(&self) -> &ModelIdentity {
        &self.identity
    }
    fn encode(&self, sentences: &[&str]) -> Result<Array2<f32>, EmbedError> {
        let dim = self.identity.dim;
        let mut x = Array2::<f32>::zeros((sentences.len(), dim));
        for (i, s) in sentences.iter().enumerate() {
            for phrase in s.trim_end_matches('.').split(self.separator.as_str()) {
                x[[i, (fnv1a(phrase.trim()) % dim as u64) as usize]] += 1.0;
            }
            let norm = x.row(i).mapv(|v| v * v).sum().sqrt();
            if norm > 0.0 {
                x.row_mut(i).mapv_inplace(|v| v / norm);
            }
        }
        Ok(x)
    }
}

/// Parameters: how many neighbours.
struct Knn {
    k: usize,
}

/// Fitted: the distinct training rows.
#[derive(Serialize, Deserialize)]
struct FittedKnn {
    k: usize,
    dim: usize,
    rows: Vec<f32>,
}

impl Fit for Knn {
    type Fitted = FittedKnn;
    fn name(&self) -> String {
        format!("{}-NN", self.k)
    }
    // Checked before any work (the runner fits through `fit_checked`).
    fn check(&self) -> Result<(), DetectError> {
        if self.k == 0 {
            return Err(DetectError::InvalidParameter {
                name: "k",
                reason: "must be at least 1".into(),
            });
        }
        Ok(())
    }
    fn fit(&self, data: &TrainSet<'_>) -> Result<FittedKnn, DetectError> {
        Ok(FittedKnn {
            k: self.k,
            dim: data.x.ncols(),
            rows: data.x.iter().copied().collect(),
        })
    }
}

impl Detector for FittedKnn {
    fn name(&self) -> String {
        format!("{}-NN", self.k)
    }
    fn input_dim(&self) -> usize {
        self.dim
    }
    fn score(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>, DetectError> {
        check_rows(x, self.dim)?;
        Ok(x.rows()
            .into_iter()
            .map(|r| {
                let mut d: Vec<f32> = self
                    .rows
                    .chunks_exact(self.dim)
                    .map(|t| t.iter().zip(r.iter()).map(|(a, b)| (a - b) * (a - b)).sum())
                    .collect();
                d.sort_by(f32::total_cmp);
                let k = self.k.min(d.len());
                d[..k].iter().sum::<f32>() / k as f32
            })
            .collect())
    }
    fn save(&self, path: &Path) -> Result<(), DetectError> {
        save_json(path, "knn", self)
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

/// The Bonferroni-corrected minimum: `min(1, k · min pᵢ)` over `k` aspects.
struct Bonferroni;

impl FusionRule for Bonferroni {
    fn name(&self) -> String {
        "bonferroni".into()
    }
    fn fuse(&self, p: &[f64]) -> f64 {
        let min = p.iter().copied().fold(1.0, f64::min);
        (p.len().max(1) as f64 * min).min(1.0)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/custom-detector".into());
    let cfg = ExperimentConfig {
        // The bundled synthetic host (three aspects); `DataSource::Root(dir)` for ADAPT data.
        data: DataSource::bundled(),
        // MiniLM by name (skipped with a note when it has not been fetched), yours as an
        // encoder object.
        encoders: vec![
            EncoderSpec::minilm(),
            EncoderSpec::custom(Hashed::new(64, " and ")),
        ],
        // Built-in detectors by name, yours as trait objects.
        detectors: vec![
            DetectorChoice::Ae,
            DetectorChoice::Rarity,
            DetectorChoice::Oc3,
        ],
        custom_detectors: vec![Arc::new(Knn { k: 5 }), Arc::new(JaccardNearest)],
        // Fusion rules of your own, beside the built-in ones.
        custom_fusion: vec![Arc::new(Bonferroni)],
        attention: AttentionMode::Off,
        prior: PriorMode::Off,
        epochs: 20,
        ..Default::default()
    };
    let report = run(&cfg)?;
    for (name, why) in &report.unavailable_encoders {
        println!("encoder {name} skipped: {why}");
    }
    write_outputs(
        &report,
        out.as_ref(),
        "cargo run --example custom_detector",
        None,
    )?;
    for r in &report.rows {
        println!(
            "{:<34} {:<24} ROC-AUC {:.3}",
            r.context,
            r.combination(),
            r.auc
        );
    }
    for h in &report.host_rows {
        println!("host {:<26} {} ROC-AUC {:.3}", h.host, h.key(), h.auc);
    }
    assert!(report.host_rows.iter().any(|h| h.fusion == "bonferroni"));

    // Saved models are loaded by kind: register yours beside the built-in ones.
    let x = Hashed::new(64, " and ").encode(&["The process has event open and event read."])?;
    let model = Knn { k: 1 }.fit_checked(&TrainSet::new(x.view()))?;
    let path = Path::new(&out).join("knn.json");
    model.save(&path)?;
    let mut loaders = registry();
    loaders.register("knn", |p, _| {
        Ok(Box::new(load_json::<FittedKnn>(p, "knn")?))
    });
    let loaded = loaders.load(&path)?;
    assert_eq!(loaded.score(x.view())?, model.score(x.view())?);
    println!(
        "results.csv, hosts.csv and report.md in {out}; kNN saved and loaded back as kind \"knn\""
    );
    Ok(())
}
