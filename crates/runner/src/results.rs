//! What an experiment produces: one row per scored combination (`results.csv`), the
//! scores kept for figures and the host view, explanations, and the whole report.

use crate::hosts::{HostOutcome, HostRow};
use apt_llm_metrics::RocCurve;
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// One scored combination on one context: a row of `results.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    pub context: String,
    pub scenario: String,
    pub os: String,
    pub aspect: String,
    pub encoder: String,
    pub detector: String,
    pub attention: bool,
    /// Scored with the training-frequency prior in front.
    #[serde(default)]
    pub prior: bool,
    /// An APT-LLM combination (an autoencoder on embeddings), as opposed to a baseline.
    #[serde(default)]
    pub apt_llm: bool,
    pub auc: f64,
    pub pr_auc: f64,
    pub ndcg: f64,
    pub tie_ceiling: f64,
    pub train_rows: usize,
    pub test_rows: usize,
    pub attacks: usize,
    pub seconds: f64,
}

impl ResultRow {
    /// `detector[+attn][+freq]`.
    pub fn detector_label(&self) -> String {
        detector_label(&self.detector, self.attention, self.prior)
    }
    /// `encoder / detector[+attn][+freq]`.
    pub fn combination(&self) -> String {
        combination_name(&self.encoder, &self.detector, self.attention, self.prior)
    }
    /// True for APT-LLM combinations (an autoencoder detector).
    pub fn is_apt_llm(&self) -> bool {
        self.apt_llm
    }
}

/// The encoder column of detectors that read attribute rows instead of embeddings.
pub const ATTRIBUTES_ENCODER: &str = "-";

/// `detector[+attn][+freq]`.
pub fn detector_label(detector: &str, attention: bool, prior: bool) -> String {
    format!(
        "{detector}{}{}",
        if attention { "+attn" } else { "" },
        if prior { "+freq" } else { "" }
    )
}

/// `encoder / detector[+attn][+freq]`.
pub fn combination_name(encoder: &str, detector: &str, attention: bool, prior: bool) -> String {
    format!("{encoder} / {}", detector_label(detector, attention, prior))
}

/// Scores kept for figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScoredCombination {
    pub combination: String,
    pub encoder: String,
    pub detector: String,
    pub attention: bool,
    pub prior: bool,
    pub apt_llm: bool,
    /// Per distinct test group: score, label, weight (processes).
    pub scores: Vec<f32>,
    /// Per distinct test group: the score's tail probability among held-out normal scores
    /// of this context (empty when they could not be calibrated).
    pub p_values: Vec<f64>,
    /// The same against the held-out normals plus out-of-fold scores of the training
    /// normals, where the held-out ones are few (`crossfit`); else equal to `p_values`.
    pub p_values_crossfit: Vec<f64>,
    pub labels: Vec<bool>,
    pub weights: Vec<f32>,
    pub threshold: Option<f32>,
    pub loss_history: Option<Vec<(f32, Option<f32>)>>,
    /// Held-out normal scores and their weights (what the threshold and p-values were
    /// computed from); saved with a pipeline so `score` can move the threshold.
    #[serde(skip)]
    pub normal_scores: (Vec<f32>, Vec<f32>),
}

/// Why a flagged process scored high.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Explanation {
    pub process: String,
    pub attack: bool,
    pub score: f32,
    pub threshold: f32,
    /// Attribute phrase and how much the score falls without it, largest first.
    pub contributions: Vec<(String, f32)>,
}

/// Everything learnt about one context.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContextOutcome {
    pub context: String,
    /// The host (`scenario/performer`) and aspect (`PE`, ...) of the context.
    pub host: String,
    pub aspect: String,
    pub processes: usize,
    pub patterns: usize,
    pub attacks: usize,
    pub test_normals: usize,
    /// Why it was not scored, if it was not.
    pub skipped: Option<String>,
    /// Labelled attack ids of the context's folder that match no process of the folder.
    #[serde(default)]
    pub unmatched_attacks: usize,
    pub tie_ceiling: Option<f64>,
    /// Test attack processes whose exact attribute pattern also occurs among the normal
    /// training processes: to any detector trained on normal data they look like seen
    /// normal behaviour (they can still rank high if that pattern is rare).
    #[serde(default)]
    pub attacks_seen_in_training: Option<usize>,
    pub scored: Vec<ScoredCombination>,
    pub explanations: Vec<Explanation>,
    /// Test processes: (process id, index of its test group in `scored[..].scores`).
    #[serde(skip)]
    pub test_processes: Vec<(String, usize)>,
    /// Embeddings of test groups (first encoder) for the t-SNE figure.
    #[serde(skip)]
    pub embedding_sample: Option<(Array2<f32>, Vec<f32>)>,
    /// Every fitted detector of the context by combination name (with the prior in front
    /// where the name says `+freq`), kept while [`crate::run`] explains the host view's
    /// top processes and emptied before it returns.
    #[serde(skip)]
    pub fitted: FittedModels,
}

/// Fitted detectors by combination name ([`ContextOutcome::fitted`]).
#[derive(Clone, Default)]
pub struct FittedModels(pub Vec<(String, Arc<dyn apt_llm_detect::Detector>)>);

impl std::fmt::Debug for FittedModels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(n, _)| n))
            .finish()
    }
}

/// The whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExperimentReport {
    pub rows: Vec<ResultRow>,
    pub contexts: Vec<ContextOutcome>,
    /// The host view: every host whose aspects were scored, fused.
    #[serde(default)]
    pub hosts: Vec<HostOutcome>,
    /// One row per host × combination × fusion rule (`hosts.csv`).
    #[serde(default)]
    pub host_rows: Vec<HostRow>,
    /// Encoders that could not be loaded, with the reason.
    pub unavailable_encoders: Vec<(String, String)>,
    pub data: String,
    pub seconds: f64,
}

/// ROC curve of a scored combination.
pub fn roc_of(sc: &ScoredCombination) -> Option<RocCurve> {
    RocCurve::new(&sc.scores, &sc.labels, Some(&sc.weights)).ok()
}
