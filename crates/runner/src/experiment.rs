//! The experiment: contexts → distinct sentences → embeddings → split → fit → score →
//! metrics. One way, no step repeated.

use crate::grid::{AttentionMode, DetectorChoice, PriorMode};
use apt_llm_detect::{DEFAULT_BLEND, Detector, FrequencyPrior, TrainSet};
use apt_llm_embed::{
    Backend, CachedEncoder, EncoderOptions, SentenceEncoder, load_encoder, resolve_model,
};
use apt_llm_metrics::{MetricsError, RocCurve, summarize, tie_ceiling};
use apt_llm_provenance::{
    Catalog, ContextId, LabeledContext, Patterns, SplitConfig, SyntheticConfig,
};
use apt_llm_textualize::{Template, Textualizer};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{Array1, Array2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Errors that stop an experiment (per-context and per-model problems are recorded in
/// the report instead).
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(transparent)]
    Provenance(#[from] apt_llm_provenance::ProvenanceError),
    #[error(transparent)]
    Embed(#[from] apt_llm_embed::EmbedError),
    #[error(transparent)]
    Detect(#[from] apt_llm_detect::DetectError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("figure {name}: {reason}")]
    Figure { name: String, reason: String },
    #[error("no encoder could be loaded: {0}")]
    NoEncoder(String),
    #[error("invalid experiment: {0}")]
    Invalid(String),
}

/// Result alias.
pub type Result<T, E = RunnerError> = std::result::Result<T, E>;

/// Where contexts come from.
#[derive(Debug, Clone)]
pub enum DataSource {
    /// An ADAPT data root.
    Root(PathBuf),
    /// Generated contexts (the bundled default: no download needed).
    Synthetic(Vec<SyntheticConfig>),
}

impl DataSource {
    /// The bundled synthetic default: three ADAPT-like contexts of different shapes.
    pub fn bundled() -> DataSource {
        use apt_llm_provenance::Aspect;
        DataSource::Synthetic(vec![
            SyntheticConfig {
                processes: 4_000,
                attack_rate: 0.005,
                seed: 1,
                ..Default::default()
            },
            SyntheticConfig {
                processes: 3_000,
                attributes: 60,
                normal_profiles: 60,
                attack_rate: 0.01,
                aspect: Aspect::ProcessExec,
                seed: 2,
                ..Default::default()
            },
            SyntheticConfig {
                processes: 2_000,
                attributes: 40,
                mean_active: 4,
                attack_rate: 0.01,
                aspect: Aspect::ProcessNetflow,
                seed: 3,
                ..Default::default()
            },
        ])
    }
}

/// An encoder to try: a name or directory, resolved when the experiment starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncoderSpec(pub String);

/// Everything an experiment needs.
#[derive(Debug, Clone)]
pub struct ExperimentConfig {
    pub data: DataSource,
    /// Contexts to run (`None`: every stored context).
    pub contexts: Option<Vec<ContextId>>,
    pub encoders: Vec<EncoderSpec>,
    /// Which implementation runs the encoders (burn unless the `tch` feature is asked for).
    pub backend: Backend,
    pub detectors: Vec<DetectorChoice>,
    pub attention: AttentionMode,
    /// The autoencoders with and/or without the training-frequency prior.
    pub prior: PriorMode,
    pub template: Template,
    pub split: SplitConfig,
    /// Seed of every model.
    pub seed: u64,
    /// Autoencoder epochs.
    pub epochs: usize,
    /// Autoencoder input scaling (and with it the output activation).
    pub scaling: apt_llm_autoencoders::Scaling,
    /// Contexts with fewer normal test processes are reported, not scored.
    pub min_test_normals: usize,
    /// Embedding cache directory (`None`: no disk cache).
    pub cache: Option<PathBuf>,
    /// Hide progress bars.
    pub quiet: bool,
    /// How many flagged processes per context to explain.
    pub explain: usize,
    /// Save each context's best autoencoder (with its pipeline) here, for `apt-llm score`.
    pub save_models: Option<PathBuf>,
}

impl Default for ExperimentConfig {
    fn default() -> Self {
        ExperimentConfig {
            data: DataSource::bundled(),
            contexts: None,
            encoders: vec![EncoderSpec("minilm".into())],
            backend: Backend::Burn,
            detectors: DetectorChoice::DEFAULT.to_vec(),
            attention: AttentionMode::Both,
            prior: PriorMode::Both,
            template: Template::paper(),
            split: SplitConfig::default(),
            seed: 42,
            epochs: 50,
            scaling: apt_llm_autoencoders::Scaling::MinMax,
            min_test_normals: 10,
            cache: None,
            quiet: true,
            explain: 3,
            save_models: None,
        }
    }
}

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
        format!(
            "{}{}{}",
            self.detector,
            if self.attention { "+attn" } else { "" },
            if self.prior { "+freq" } else { "" }
        )
    }
    /// `encoder / detector[+attn][+freq]`.
    pub fn combination(&self) -> String {
        format!("{} / {}", self.encoder, self.detector_label())
    }
    /// True for APT-LLM combinations (an autoencoder detector).
    pub fn is_apt_llm(&self) -> bool {
        matches!(self.detector.as_str(), "AE" | "VAE" | "DAE")
    }
}

/// Scores kept for figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScoredCombination {
    pub combination: String,
    /// Per distinct test group: score, label, weight (processes).
    pub scores: Vec<f32>,
    pub labels: Vec<bool>,
    pub weights: Vec<f32>,
    pub threshold: Option<f32>,
    pub loss_history: Option<Vec<(f32, Option<f32>)>>,
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
    pub processes: usize,
    pub patterns: usize,
    pub attacks: usize,
    pub test_normals: usize,
    /// Why it was not scored, if it was not.
    pub skipped: Option<String>,
    pub tie_ceiling: Option<f64>,
    /// Test attack processes whose exact attribute pattern also occurs among the normal
    /// training processes: to any detector trained on normal data they look like seen
    /// normal behaviour (they can still rank high if that pattern is rare).
    #[serde(default)]
    pub attacks_seen_in_training: Option<usize>,
    pub scored: Vec<ScoredCombination>,
    pub explanations: Vec<Explanation>,
    /// Embeddings of test groups (first encoder) for the t-SNE figure.
    #[serde(skip)]
    pub embedding_sample: Option<(Array2<f32>, Vec<f32>)>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExperimentReport {
    pub rows: Vec<ResultRow>,
    pub contexts: Vec<ContextOutcome>,
    /// Encoders that could not be loaded, with the reason.
    pub unavailable_encoders: Vec<(String, String)>,
    pub data: String,
    pub seconds: f64,
}

struct Loaded {
    name: String,
    spec: String,
    encoder: Box<dyn SentenceEncoder>,
}

fn load_encoders(cfg: &ExperimentConfig) -> (Vec<Loaded>, Vec<(String, String)>) {
    let mut ok = Vec::new();
    let mut missing = Vec::new();
    for spec in &cfg.encoders {
        let attempt = resolve_model(&spec.0)
            .and_then(|dir| load_encoder(dir, EncoderOptions::default(), cfg.backend));
        match attempt {
            Ok(enc) => {
                let name = enc.identity().kind.name().to_string();
                let boxed: Box<dyn SentenceEncoder> = match &cfg.cache {
                    Some(dir) => match CachedEncoder::new(enc, dir) {
                        Ok(c) => Box::new(c),
                        Err(e) => {
                            missing.push((spec.0.clone(), e.to_string()));
                            continue;
                        }
                    },
                    None => Box::new(enc),
                };
                ok.push(Loaded {
                    name,
                    spec: spec.0.clone(),
                    encoder: boxed,
                });
            }
            Err(e) => missing.push((spec.0.clone(), e.to_string())),
        }
    }
    (ok, missing)
}

fn bar(quiet: bool, len: u64, what: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(len);
    b.set_style(
        ProgressStyle::with_template("{msg:>28} [{bar:30}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    b.set_message(what.to_string());
    b
}

/// Distinct test groups: (pattern, label) with their process counts.
struct TestGroups {
    pattern: Vec<usize>,
    label: Vec<bool>,
    weight: Vec<f32>,
    first_row: Vec<usize>,
}

fn test_groups(patterns: &Patterns, labels: &[bool], test: &[usize]) -> TestGroups {
    let mut map: BTreeMap<(usize, bool), (f32, usize)> = BTreeMap::new();
    for &r in test {
        let e = map
            .entry((patterns.row_pattern[r], labels[r]))
            .or_insert((0.0, r));
        e.0 += 1.0;
    }
    let mut g = TestGroups {
        pattern: vec![],
        label: vec![],
        weight: vec![],
        first_row: vec![],
    };
    for ((p, l), (w, r)) in map {
        g.pattern.push(p);
        g.label.push(l);
        g.weight.push(w);
        g.first_row.push(r);
    }
    g
}

/// Run the experiment.
pub fn run(cfg: &ExperimentConfig) -> Result<ExperimentReport> {
    if cfg.detectors.is_empty() {
        return Err(RunnerError::Invalid("no detector selected".into()));
    }
    let start = Instant::now();
    let (encoders, unavailable) = load_encoders(cfg);
    if encoders.is_empty() {
        return Err(RunnerError::NoEncoder(
            unavailable
                .iter()
                .map(|(n, e)| format!("{n}: {e}"))
                .collect::<Vec<_>>()
                .join("; "),
        ));
    }
    let (contexts, data_name): (Vec<LabeledContext>, String) = match &cfg.data {
        DataSource::Root(root) => {
            let catalog = Catalog::discover(root)?;
            let list = match &cfg.contexts {
                Some(ids) => ids
                    .iter()
                    .map(|id| catalog.load(id))
                    .collect::<Result<Vec<_>, _>>()?,
                None => catalog.load_all()?,
            };
            (list, root.display().to_string())
        }
        DataSource::Synthetic(cfgs) => {
            let mut list = Vec::new();
            for (i, c) in cfgs.iter().enumerate() {
                let mut ctx = c.generate()?;
                ctx.id.variant = Some(format!("synthetic{}", i + 1));
                list.push(ctx);
            }
            (list, "bundled synthetic contexts".into())
        }
    };
    let mut report = ExperimentReport {
        rows: vec![],
        contexts: vec![],
        unavailable_encoders: unavailable,
        data: data_name,
        seconds: 0.0,
    };
    let progress = bar(cfg.quiet, contexts.len() as u64, "contexts");
    // Contexts run in parallel: a detector fit on a few hundred distinct rows is made of
    // many small tensor operations that do not fill the cores by themselves. Results keep
    // the context order, and every random draw is seeded per fit, so the output does not
    // depend on scheduling.
    let results: Vec<Result<(ContextOutcome, Vec<ResultRow>)>> = contexts
        .par_iter()
        .map(|ctx| {
            let mut rows = Vec::new();
            let outcome = run_context(cfg, ctx, &encoders, &mut rows)?;
            progress.inc(1);
            Ok((outcome, rows))
        })
        .collect();
    for r in results {
        let (outcome, rows) = r?;
        report.contexts.push(outcome);
        report.rows.extend(rows);
    }
    progress.finish_and_clear();
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

fn run_context(
    cfg: &ExperimentConfig,
    ctx: &LabeledContext,
    encoders: &[Loaded],
    rows: &mut Vec<ResultRow>,
) -> Result<ContextOutcome> {
    let id: &ContextId = &ctx.id;
    let labels = &ctx.labels.flags;
    let patterns = Patterns::from_context(&ctx.context);
    let mut outcome = ContextOutcome {
        context: id.to_string(),
        processes: ctx.context.len(),
        patterns: patterns.len(),
        attacks: ctx.attacks(),
        test_normals: 0,
        skipped: None,
        tie_ceiling: None,
        attacks_seen_in_training: None,
        scored: vec![],
        explanations: vec![],
        embedding_sample: None,
    };
    let split = cfg.split.split(labels)?;
    let test_attacks = split.test.iter().filter(|&&r| labels[r]).count();
    outcome.test_normals = split.test.len() - test_attacks;
    if let Err(e) = split.require_two_classes(labels, &id.to_string()) {
        outcome.skipped = Some(e.to_string());
        return Ok(outcome);
    }
    if outcome.test_normals < cfg.min_test_normals {
        outcome.skipped = Some(format!(
            "{} normal processes in test, fewer than the {} required",
            outcome.test_normals, cfg.min_test_normals
        ));
        return Ok(outcome);
    }
    let text = Textualizer::new(cfg.template.clone(), &ctx.context);
    let sentences: Vec<String> = patterns
        .patterns
        .iter()
        .map(|p| text.sentence_of(&p.attributes, None))
        .collect();
    let sentence_refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let train = patterns.weighted(&split.train);
    let validation = patterns.weighted(&split.validation);
    let groups = test_groups(&patterns, labels, &split.test);
    let ceiling = tie_ceiling(&groups.pattern, &groups.label, Some(&groups.weight))
        .map_err(|e| RunnerError::Invalid(e.to_string()))?;
    outcome.tie_ceiling = Some(ceiling);
    let in_training: std::collections::HashSet<usize> = train.iter().map(|t| t.0).collect();
    outcome.attacks_seen_in_training = Some(
        (0..groups.pattern.len())
            .filter(|&g| groups.label[g] && in_training.contains(&groups.pattern[g]))
            .map(|g| groups.weight[g] as usize)
            .sum(),
    );
    let train_rows = split.train.len();
    let test_rows = split.test.len();
    let mut best_ae: Option<(f64, usize, Arc<dyn Detector>, usize)> = None; // (auc, scored idx, model, encoder idx)
    for (ei, enc) in encoders.iter().enumerate() {
        let x = enc.encoder.encode(&sentence_refs)?;
        let take = |idx: &[(usize, f32)]| -> (Array2<f32>, Array1<f32>) {
            let rows: Vec<usize> = idx.iter().map(|t| t.0).collect();
            (x.select(Axis(0), &rows), idx.iter().map(|t| t.1).collect())
        };
        let (tx, tw) = take(&train);
        let (vx, vw) = take(&validation);
        let test_x = x.select(Axis(0), &groups.pattern);
        if ei == 0 {
            outcome.embedding_sample = Some((
                test_x.clone(),
                groups.label.iter().map(|&l| l as u8 as f32).collect(),
            ));
        }
        let mut ts = TrainSet::new(tx.view()).with_weights(tw.view());
        if vx.nrows() > 0 {
            ts = ts.with_validation(vx.view(), Some(vw.view()));
        }
        for &det in &cfg.detectors {
            for &attention in cfg.attention.settings_for(det) {
                let t0 = Instant::now();
                let spec = det.spec(attention, cfg.seed, cfg.epochs, cfg.scaling);
                let fitted: Arc<dyn Detector> = Arc::from(spec.fit_boxed(&ts)?);
                let fit_seconds = t0.elapsed().as_secs_f64();
                for &prior in cfg.prior.settings_for(det) {
                    let t1 = Instant::now();
                    let model: Arc<dyn Detector> = if prior {
                        Arc::new(FrequencyPrior::new(fitted.clone(), &ts, DEFAULT_BLEND)?)
                    } else {
                        fitted.clone()
                    };
                    let scores = model.score(test_x.view())?.to_vec();
                    let seconds = fit_seconds + t1.elapsed().as_secs_f64();
                    let summary = match summarize(&scores, &groups.label, Some(&groups.weight)) {
                        Ok(s) => s,
                        Err(MetricsError::SingleClass { .. }) => {
                            unreachable!("checked two classes above")
                        }
                        Err(e) => return Err(RunnerError::Invalid(format!("{id}: {e}"))),
                    };
                    let row = ResultRow {
                        context: id.to_string(),
                        scenario: id.scenario.name().into(),
                        os: id.os().name().into(),
                        aspect: id.aspect.short().into(),
                        encoder: enc.name.clone(),
                        detector: det.name().into(),
                        attention,
                        prior,
                        auc: summary.auc,
                        pr_auc: summary.pr_auc,
                        ndcg: summary.ndcg,
                        tie_ceiling: ceiling,
                        train_rows,
                        test_rows,
                        attacks: test_attacks,
                        seconds,
                    };
                    let threshold = if det.is_autoencoder() {
                        let (rows_x, rows_w) = if vx.nrows() > 0 {
                            (&vx, &vw)
                        } else {
                            (&tx, &tw)
                        };
                        let normal_scores = model.score(rows_x.view())?.to_vec();
                        apt_llm_detect::Threshold::from_scores(
                            &normal_scores,
                            rows_w.as_slice(),
                            95.0,
                        )
                        .ok()
                        .map(|t| t.value)
                    } else {
                        None
                    };
                    outcome.scored.push(ScoredCombination {
                        combination: row.combination(),
                        scores,
                        labels: groups.label.clone(),
                        weights: groups.weight.clone(),
                        threshold,
                        loss_history: model.loss_history().map(<[_]>::to_vec),
                    });
                    if det.is_autoencoder() && best_ae.as_ref().is_none_or(|b| summary.auc > b.0) {
                        best_ae = Some((summary.auc, outcome.scored.len() - 1, model, ei));
                    }
                    rows.push(row);
                }
            }
        }
    }
    if let (Some((_, idx, model, ei)), Some(dir)) = (&best_ae, &cfg.save_models) {
        let stem = id.to_string().replace('/', "_");
        let model_path = dir.join(format!("{stem}.model.json"));
        std::fs::create_dir_all(dir).map_err(|e| RunnerError::Io {
            path: dir.clone(),
            source: e,
        })?;
        model.save(&model_path)?;
        let pipeline = Pipeline {
            encoder: encoders[*ei].spec.clone(),
            template: cfg.template.clone(),
            detector: model_path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            combination: outcome.scored[*idx].combination.clone(),
            threshold: outcome.scored[*idx].threshold.unwrap_or(f32::INFINITY),
            trained_on: id.to_string(),
        };
        let p = dir.join(format!("{stem}.pipeline.json"));
        std::fs::write(
            &p,
            serde_json::to_string_pretty(&pipeline).unwrap_or_default(),
        )
        .map_err(|e| RunnerError::Io {
            path: p.clone(),
            source: e,
        })?;
    }
    // Explain the top flagged processes of the best autoencoder.
    if let Some((_, idx, model, ei)) = best_ae
        && cfg.explain > 0
    {
        let sc = &outcome.scored[idx];
        let threshold = sc.threshold.unwrap_or(f32::INFINITY);
        let mut order: Vec<usize> = (0..sc.scores.len())
            .filter(|&g| sc.scores[g] > threshold)
            .collect();
        order.sort_by(|&a, &b| sc.scores[b].total_cmp(&sc.scores[a]));
        for &g in order.iter().take(cfg.explain) {
            let p = &patterns.patterns[groups.pattern[g]];
            let contributions = crate::explain::leave_one_out(
                &text,
                &p.attributes,
                &*encoders[ei].encoder,
                &*model,
                64,
            )?;
            outcome.explanations.push(Explanation {
                process: ctx.context.records[groups.first_row[g]].id.clone(),
                attack: groups.label[g],
                score: sc.scores[g],
                threshold,
                contributions,
            });
        }
    }
    Ok(outcome)
}

/// A saved detector with what it needs to score new processes: the encoder, the sentence
/// template and the threshold. Written by `save_models`, read by `apt-llm score`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pipeline {
    /// Encoder spec (name or directory).
    pub encoder: String,
    pub template: Template,
    /// Detector file, relative to the pipeline file.
    pub detector: String,
    pub combination: String,
    pub threshold: f32,
    /// Context it was fitted on.
    pub trained_on: String,
}

/// ROC curve of a scored combination.
pub fn roc_of(sc: &ScoredCombination) -> Option<RocCurve> {
    RocCurve::new(&sc.scores, &sc.labels, Some(&sc.weights)).ok()
}
