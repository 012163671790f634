//! The experiment: contexts → distinct sentences → embeddings → split → fit → score →
//! metrics. One way, no step repeated.

use crate::grid::{AttentionMode, DetectorChoice, PriorMode};
use crate::hosts::{HostOutcome, HostRow};
use apt_llm_detect::{
    DEFAULT_BLEND, Detector, DetectorSpec, FrequencyPrior, Representation, Threshold, TrainSet,
};
use apt_llm_embed::{
    Backend, CachedEncoder, EncoderOptions, SentenceEncoder, load_encoder, resolve_model,
};
use apt_llm_fusion::{Calibrator, Rule};
use apt_llm_metrics::{RocCurve, summarize, tie_ceiling};
use apt_llm_provenance::{
    Catalog, ContextId, LabeledContext, Patterns, SplitConfig, SyntheticConfig,
};
use apt_llm_textualize::{Template, Textualizer};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{Array1, Array2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::IsTerminal;
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
    #[error(transparent)]
    Metrics(#[from] apt_llm_metrics::MetricsError),
    /// A step failed on one context (or one combination of it): which, and why.
    #[error("{context}: {source}")]
    Context {
        context: String,
        #[source]
        source: Box<RunnerError>,
    },
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
    /// Generated contexts, each its own host (`synthetic1`, `synthetic2`, ...).
    Synthetic(Vec<SyntheticConfig>),
    /// One generated host: one context per config, sharing processes and attacks
    /// ([`SyntheticConfig::generate_host`]).
    SyntheticHost(Vec<SyntheticConfig>),
}

impl DataSource {
    /// The bundled synthetic default (no download needed): one host seen through three
    /// aspects of different shapes, each hiding a different share of the attacks.
    pub fn bundled() -> DataSource {
        use apt_llm_provenance::Aspect;
        let base = SyntheticConfig {
            processes: 4_000,
            attack_rate: 0.01,
            seed: 1,
            camouflaged_attacks: 0.3,
            ..Default::default()
        };
        DataSource::SyntheticHost(vec![
            base.clone(),
            SyntheticConfig {
                attributes: 60,
                normal_profiles: 60,
                aspect: Aspect::ProcessExec,
                seed: 2,
                camouflaged_attacks: 0.5,
                ..base.clone()
            },
            SyntheticConfig {
                attributes: 40,
                mean_active: 4,
                aspect: Aspect::ProcessNetflow,
                seed: 3,
                camouflaged_attacks: 0.5,
                ..base
            },
        ])
    }
}

/// An encoder to try: a name or directory, resolved when the experiment starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncoderSpec(pub String);

/// Everything an experiment needs.
#[derive(Clone)]
pub struct ExperimentConfig {
    pub data: DataSource,
    /// Contexts to run (`None`: every stored context).
    pub contexts: Option<Vec<ContextId>>,
    pub encoders: Vec<EncoderSpec>,
    /// Which implementation runs the encoders (burn unless the `tch` feature is asked for).
    pub backend: Backend,
    pub detectors: Vec<DetectorChoice>,
    /// Detectors of your own, fitted and scored beside the built-in ones on every context
    /// (each reads the representation it declares: embeddings or attribute rows).
    pub custom_detectors: Vec<Arc<dyn DetectorSpec>>,
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
    /// How the host view fuses per-aspect p-values (each rule is a row of `hosts.csv`).
    pub fusion: Vec<Rule>,
}

impl std::fmt::Debug for ExperimentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let custom: Vec<String> = self.custom_detectors.iter().map(|d| d.name()).collect();
        f.debug_struct("ExperimentConfig")
            .field("data", &self.data)
            .field("contexts", &self.contexts)
            .field("encoders", &self.encoders)
            .field("backend", &self.backend)
            .field("detectors", &self.detectors)
            .field("custom_detectors", &custom)
            .field("attention", &self.attention)
            .field("prior", &self.prior)
            .field("split", &self.split)
            .field("seed", &self.seed)
            .field("epochs", &self.epochs)
            .field("fusion", &self.fusion)
            .finish_non_exhaustive()
    }
}

impl Default for ExperimentConfig {
    fn default() -> Self {
        ExperimentConfig {
            data: DataSource::bundled(),
            contexts: None,
            encoders: vec![EncoderSpec("minilm".into())],
            backend: Backend::Burn,
            detectors: DetectorChoice::DEFAULT.to_vec(),
            custom_detectors: Vec::new(),
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
            fusion: Rule::ALL.to_vec(),
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
    /// The same against every normal training and validation score: finer (the floor is
    /// 1 / (all normals + 1)) but in-sample for the training rows.
    pub p_values_all: Vec<f64>,
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

pub(crate) struct Loaded {
    pub name: String,
    spec: String,
    pub encoder: Box<dyn SentenceEncoder>,
}

/// The error when no encoder of a configuration could be loaded, with every reason.
pub(crate) fn no_encoder(unavailable: &[(String, String)]) -> RunnerError {
    RunnerError::NoEncoder(
        unavailable
            .iter()
            .map(|(n, e)| format!("{n}: {e}"))
            .collect::<Vec<_>>()
            .join("; "),
    )
}

pub(crate) fn load_encoders(cfg: &ExperimentConfig) -> (Vec<Loaded>, Vec<(String, String)>) {
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
    if quiet || !std::io::stderr().is_terminal() {
        let b = ProgressBar::hidden();
        b.set_length(len);
        return b;
    }
    let b = ProgressBar::new(len);
    b.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} contexts, {elapsed} (ETA {eta}) last: {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    b.set_prefix(what.to_string());
    b
}

/// Distinct test groups: (pattern, label) with their processes.
struct TestGroups {
    pattern: Vec<usize>,
    label: Vec<bool>,
    weight: Vec<f32>,
    /// The test rows of each group, ascending.
    members: Vec<Vec<usize>>,
}

fn test_groups(patterns: &Patterns, labels: &[bool], test: &[usize]) -> TestGroups {
    let mut map: BTreeMap<(usize, bool), Vec<usize>> = BTreeMap::new();
    for &r in test {
        map.entry((patterns.row_pattern[r], labels[r]))
            .or_default()
            .push(r);
    }
    let mut g = TestGroups {
        pattern: vec![],
        label: vec![],
        weight: vec![],
        members: vec![],
    };
    for ((p, l), rows) in map {
        g.pattern.push(p);
        g.label.push(l);
        g.weight.push(rows.len() as f32);
        g.members.push(rows);
    }
    g
}

/// One detector of the grid, configured: what it is (typed, not by its display name),
/// how to fit it, and the settings it is scored with.
pub(crate) struct GridEntry {
    pub spec: Arc<dyn DetectorSpec>,
    /// Name in tables (`AE`, `OC3`, your detector's `name()`).
    pub detector: String,
    pub attention: bool,
    /// An APT-LLM detector (an autoencoder on embeddings).
    pub apt_llm: bool,
    /// Prior settings to score with (`[false]` for detectors that do not take it).
    pub priors: &'static [bool],
}

pub(crate) fn grid_entries(cfg: &ExperimentConfig) -> Vec<GridEntry> {
    let mut out = Vec::new();
    for &det in &cfg.detectors {
        for &attention in cfg.attention.settings_for(det) {
            out.push(GridEntry {
                spec: Arc::from(det.spec(attention, cfg.seed, cfg.epochs, cfg.scaling)),
                detector: det.name().to_string(),
                attention,
                apt_llm: det.is_autoencoder(),
                priors: cfg.prior.settings_for(det),
            });
        }
    }
    for spec in &cfg.custom_detectors {
        out.push(GridEntry {
            detector: spec.name(),
            spec: spec.clone(),
            attention: false,
            apt_llm: false,
            priors: &[false],
        });
    }
    out
}

/// Run the experiment.
pub fn run(cfg: &ExperimentConfig) -> Result<ExperimentReport> {
    if cfg.detectors.is_empty() && cfg.custom_detectors.is_empty() {
        return Err(RunnerError::Invalid("no detector selected".into()));
    }
    let start = Instant::now();
    let (encoders, unavailable) = load_encoders(cfg);
    if encoders.is_empty() {
        return Err(no_encoder(&unavailable));
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
        DataSource::SyntheticHost(cfgs) => {
            let list = SyntheticConfig::generate_host(cfgs)?;
            (list, "a bundled synthetic host".into())
        }
    };
    let entries = grid_entries(cfg);
    let mut report = ExperimentReport {
        rows: vec![],
        contexts: vec![],
        hosts: vec![],
        host_rows: vec![],
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
            let t0 = Instant::now();
            let out = run_context(cfg, ctx, &encoders, &entries).map_err(|e| match e {
                e @ RunnerError::Context { .. } => e,
                e => RunnerError::Context {
                    context: ctx.id.to_string(),
                    source: Box::new(e),
                },
            })?;
            progress.inc(1);
            progress.set_message(ctx.id.to_string());
            if !cfg.quiet && !std::io::stderr().is_terminal() {
                // Not a terminal (CI, a log file): one line per finished context instead
                // of a bar that would print nothing.
                let done = progress.position();
                let elapsed = start.elapsed().as_secs_f64();
                let eta = elapsed / done as f64 * (contexts.len() as u64 - done) as f64;
                eprintln!(
                    "[{done}/{}] {}: {} combinations scored in {:.1} s; elapsed {elapsed:.0} s, about {eta:.0} s to go",
                    contexts.len(),
                    ctx.id,
                    out.0.scored.len(),
                    t0.elapsed().as_secs_f64(),
                );
            }
            Ok(out)
        })
        .collect();
    for r in results {
        let (outcome, rows) = r?;
        report.contexts.push(outcome);
        report.rows.extend(rows);
    }
    progress.finish_and_clear();
    let (hosts, host_rows) = crate::hosts::host_view(
        &report,
        &contexts,
        &cfg.split,
        &cfg.fusion,
        cfg.min_test_normals,
        cfg.explain,
    );
    report.hosts = hosts;
    report.host_rows = host_rows;
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

/// The dense 0/1 attribute rows of a context's distinct patterns
/// ([`Representation::Attributes`]).
pub fn attribute_rows(patterns: &Patterns, attributes: usize) -> Array2<f32> {
    let mut x = Array2::zeros((patterns.len(), attributes));
    for (i, p) in patterns.patterns.iter().enumerate() {
        for &a in &p.attributes {
            x[[i, a as usize]] = 1.0;
        }
    }
    x
}

/// Everything about a context that does not depend on the encoder or detector: its
/// patterns, the host-consistent split, the distinct test groups, the sentences.
struct Prepared {
    patterns: Patterns,
    train: Vec<(usize, f32)>,
    validation: Vec<(usize, f32)>,
    groups: TestGroups,
    test_rows: usize,
    test_attacks: usize,
    /// Why metrics cannot be computed on this context (it is still fitted and scored
    /// for the host view when it has training rows).
    no_metrics: Option<String>,
}

fn prepare(cfg: &ExperimentConfig, ctx: &LabeledContext) -> Result<Prepared> {
    let labels = &ctx.labels.flags;
    let patterns = Patterns::from_context(&ctx.context);
    let ids: Vec<&str> = ctx.context.records.iter().map(|r| r.id.as_str()).collect();
    let split = cfg.split.split_by_id(&ids, labels)?;
    let test_attacks = split.test.iter().filter(|&&r| labels[r]).count();
    let test_normals = split.test.len() - test_attacks;
    let no_metrics = if let Err(e) = split.require_two_classes(labels, &ctx.id.to_string()) {
        Some(e.to_string())
    } else if test_normals < cfg.min_test_normals {
        Some(format!(
            "{test_normals} normal processes in test, fewer than the {} required",
            cfg.min_test_normals
        ))
    } else {
        None
    };
    Ok(Prepared {
        train: patterns.weighted(&split.train),
        validation: patterns.weighted(&split.validation),
        groups: test_groups(&patterns, labels, &split.test),
        patterns,
        test_rows: split.test.len(),
        test_attacks,
        no_metrics,
    })
}

/// One input representation of a context's patterns, split into train / validation /
/// test rows.
pub(crate) struct Inputs {
    encoder: Option<usize>,
    pub encoder_name: String,
    tx: Array2<f32>,
    tw: Array1<f32>,
    vx: Array2<f32>,
    vw: Array1<f32>,
    pub test_x: Array2<f32>,
}

impl Inputs {
    fn new(
        prep: &Prepared,
        x: &Array2<f32>,
        encoder: Option<usize>,
        encoder_name: String,
    ) -> Inputs {
        Inputs::from_parts(
            x,
            &prep.train,
            &prep.validation,
            &prep.groups.pattern,
            encoder,
            encoder_name,
        )
    }
    /// `x` holds one row per pattern; `train` and `validation` are (pattern, weight)
    /// pairs, `test` pattern indices.
    pub(crate) fn from_parts(
        x: &Array2<f32>,
        train: &[(usize, f32)],
        validation: &[(usize, f32)],
        test: &[usize],
        encoder: Option<usize>,
        encoder_name: String,
    ) -> Inputs {
        let take = |idx: &[(usize, f32)]| -> (Array2<f32>, Array1<f32>) {
            let rows: Vec<usize> = idx.iter().map(|t| t.0).collect();
            (x.select(Axis(0), &rows), idx.iter().map(|t| t.1).collect())
        };
        let (tx, tw) = take(train);
        let (vx, vw) = take(validation);
        Inputs {
            encoder,
            encoder_name,
            tx,
            tw,
            vx,
            vw,
            test_x: x.select(Axis(0), test),
        }
    }
    pub(crate) fn train_set(&self) -> TrainSet<'_> {
        let ts = TrainSet::new(self.tx.view()).with_weights(self.tw.view());
        if self.vx.nrows() > 0 {
            ts.with_validation(self.vx.view(), Some(self.vw.view()))
        } else {
            ts
        }
    }
    /// Held-out normal rows for thresholds and calibration: the validation rows, or the
    /// training rows when the context is too small to hold any out.
    pub(crate) fn normal_rows(&self) -> (&Array2<f32>, &Array1<f32>) {
        if self.vx.nrows() > 0 {
            (&self.vx, &self.vw)
        } else {
            (&self.tx, &self.tw)
        }
    }
}

/// The best APT-LLM combination of a context so far.
struct BestAutoencoder {
    auc: f64,
    scored: usize,
    model: Arc<dyn Detector>,
    encoder: usize,
}

fn run_context(
    cfg: &ExperimentConfig,
    ctx: &LabeledContext,
    encoders: &[Loaded],
    entries: &[GridEntry],
) -> Result<(ContextOutcome, Vec<ResultRow>)> {
    let id: &ContextId = &ctx.id;
    let prep = prepare(cfg, ctx)?;
    let mut rows = Vec::new();
    let mut outcome = ContextOutcome {
        context: id.to_string(),
        host: id.host().to_string(),
        aspect: id.aspect.short().to_string(),
        processes: ctx.context.len(),
        patterns: prep.patterns.len(),
        attacks: ctx.attacks(),
        test_normals: prep.test_rows - prep.test_attacks,
        skipped: prep.no_metrics.clone(),
        unmatched_attacks: ctx.unmatched_attack_ids.len(),
        tie_ceiling: None,
        attacks_seen_in_training: None,
        scored: vec![],
        explanations: vec![],
        test_processes: prep
            .groups
            .members
            .iter()
            .enumerate()
            .flat_map(|(g, rows)| {
                rows.iter()
                    .map(move |&r| (ctx.context.records[r].id.clone(), g))
            })
            .collect(),
        embedding_sample: None,
    };
    if ctx.context.is_placeholder() {
        outcome.skipped = Some("placeholder table (dummy columns), no data".into());
        outcome.test_processes.clear();
        return Ok((outcome, rows));
    }
    if prep.train.is_empty() {
        outcome
            .skipped
            .get_or_insert_with(|| "no normal training process".into());
        outcome.test_processes.clear();
        return Ok((outcome, rows));
    }
    let groups = &prep.groups;
    if prep.no_metrics.is_none() {
        let ceiling = tie_ceiling(&groups.pattern, &groups.label, Some(&groups.weight))?;
        outcome.tie_ceiling = Some(ceiling);
        let in_training: std::collections::HashSet<usize> =
            prep.train.iter().map(|t| t.0).collect();
        outcome.attacks_seen_in_training = Some(
            (0..groups.pattern.len())
                .filter(|&g| groups.label[g] && in_training.contains(&groups.pattern[g]))
                .map(|g| groups.weight[g] as usize)
                .sum(),
        );
    }
    let text = Textualizer::new(cfg.template.clone(), &ctx.context);
    let wants = |r: Representation| entries.iter().any(|e| e.spec.representation() == r);
    // The inputs each detector reads: one embedding per encoder, and the binary attribute
    // rows once (they do not depend on the encoder).
    let mut inputs: Vec<(Representation, Inputs)> = Vec::new();
    if wants(Representation::Embedding) {
        let sentences: Vec<String> = prep
            .patterns
            .patterns
            .iter()
            .map(|p| text.sentence_of(&p.attributes, None))
            .collect();
        let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
        for (ei, enc) in encoders.iter().enumerate() {
            let x = enc
                .encoder
                .encode(&refs)
                .map_err(|e| RunnerError::Context {
                    context: id.to_string(),
                    source: Box::new(e.into()),
                })?;
            inputs.push((
                Representation::Embedding,
                Inputs::new(&prep, &x, Some(ei), enc.name.clone()),
            ));
        }
    }
    if wants(Representation::Attributes) {
        let x = attribute_rows(&prep.patterns, ctx.context.attributes.len());
        inputs.push((
            Representation::Attributes,
            Inputs::new(&prep, &x, None, ATTRIBUTES_ENCODER.into()),
        ));
    }
    if let Some((_, first)) = inputs.iter().find(|(r, _)| *r == Representation::Embedding) {
        outcome.embedding_sample = Some((
            first.test_x.clone(),
            groups.label.iter().map(|&l| l as u8 as f32).collect(),
        ));
    }
    let mut best: Option<BestAutoencoder> = None;
    let test_w = Array1::from(groups.weight.clone());
    for (representation, input) in &inputs {
        let ts = input.train_set();
        for entry in entries
            .iter()
            .filter(|e| e.spec.representation() == *representation)
        {
            let t0 = Instant::now();
            let fitted: Arc<dyn Detector> =
                Arc::from(
                    entry
                        .spec
                        .fit_boxed(&ts)
                        .map_err(|e| RunnerError::Context {
                            context: format!("{id} {} / {}", input.encoder_name, entry.detector),
                            source: Box::new(e.into()),
                        })?,
                );
            let fit_seconds = t0.elapsed().as_secs_f64();
            for &prior in entry.priors {
                let t1 = Instant::now();
                let model: Arc<dyn Detector> = if prior {
                    Arc::new(FrequencyPrior::new(fitted.clone(), &ts, DEFAULT_BLEND)?)
                } else {
                    fitted.clone()
                };
                // Transductive detectors take the test rows' process counts.
                let scores = model
                    .score_weighted(input.test_x.view(), Some(test_w.view()))?
                    .to_vec();
                let (nx, nw) = input.normal_rows();
                let normal_scores = model.score(nx.view())?.to_vec();
                let threshold = Threshold::from_scores(&normal_scores, nw.as_slice(), 95.0)
                    .ok()
                    .map(|t| t.value);
                // Scores that cannot be calibrated (a detector giving NaN on normal rows)
                // leave the combination out of the host view.
                let p_values = Calibrator::new(&normal_scores, nw.as_slice())
                    .map(|c| c.p_values(&scores))
                    .unwrap_or_default();
                let p_values_all = if input.vx.nrows() > 0 {
                    let mut all = model.score(input.tx.view())?.to_vec();
                    all.extend_from_slice(&normal_scores);
                    let mut w = input.tw.to_vec();
                    w.extend(input.vw.iter());
                    Calibrator::new(&all, Some(&w))
                        .map(|c| c.p_values(&scores))
                        .unwrap_or_default()
                } else {
                    p_values.clone()
                };
                let seconds = fit_seconds + t1.elapsed().as_secs_f64();
                let sc = ScoredCombination {
                    combination: combination_name(
                        &input.encoder_name,
                        &entry.detector,
                        entry.attention,
                        prior,
                    ),
                    encoder: input.encoder_name.clone(),
                    detector: entry.detector.clone(),
                    attention: entry.attention,
                    prior,
                    apt_llm: entry.apt_llm,
                    scores,
                    p_values,
                    p_values_all,
                    labels: groups.label.clone(),
                    weights: groups.weight.clone(),
                    threshold,
                    loss_history: model.loss_history().map(<[_]>::to_vec),
                    normal_scores: (normal_scores.clone(), nw.to_vec()),
                };
                if prep.no_metrics.is_none() {
                    let summary = summarize(&sc.scores, &groups.label, Some(&groups.weight))?;
                    rows.push(ResultRow {
                        context: id.to_string(),
                        scenario: id.scenario.name().into(),
                        os: id.os().name().into(),
                        aspect: id.aspect.short().into(),
                        encoder: input.encoder_name.clone(),
                        detector: entry.detector.clone(),
                        attention: entry.attention,
                        prior,
                        apt_llm: entry.apt_llm,
                        auc: summary.auc,
                        pr_auc: summary.pr_auc,
                        ndcg: summary.ndcg,
                        tie_ceiling: outcome.tie_ceiling.unwrap_or(f64::NAN),
                        train_rows: prep.train.iter().map(|t| t.1 as usize).sum(),
                        test_rows: prep.test_rows,
                        attacks: prep.test_attacks,
                        seconds,
                    });
                    if entry.apt_llm
                        && let Some(ei) = input.encoder
                        && best.as_ref().is_none_or(|b| summary.auc > b.auc)
                    {
                        best = Some(BestAutoencoder {
                            auc: summary.auc,
                            scored: outcome.scored.len(),
                            model: model.clone(),
                            encoder: ei,
                        });
                    }
                }
                outcome.scored.push(sc);
            }
        }
    }
    if let (Some(b), Some(dir)) = (&best, &cfg.save_models) {
        save_pipeline(
            cfg,
            id,
            dir,
            b,
            &outcome.scored[b.scored],
            encoders,
            &ctx.context.attributes,
        )?;
    }
    // Explain the top flagged processes of the best autoencoder.
    if let Some(b) = best
        && cfg.explain > 0
    {
        let sc = &outcome.scored[b.scored];
        let threshold = sc.threshold.unwrap_or(f32::INFINITY);
        let mut order: Vec<usize> = (0..sc.scores.len())
            .filter(|&g| sc.scores[g] > threshold)
            .collect();
        order.sort_by(|&a, &b| sc.scores[b].total_cmp(&sc.scores[a]));
        for &g in order.iter().take(cfg.explain) {
            let p = &prep.patterns.patterns[groups.pattern[g]];
            let contributions = crate::explain::leave_one_out(
                &text,
                &p.attributes,
                &*encoders[b.encoder].encoder,
                &*b.model,
                64,
            )?;
            outcome.explanations.push(Explanation {
                process: ctx.context.records[groups.members[g][0]].id.clone(),
                attack: groups.label[g],
                score: sc.scores[g],
                threshold,
                contributions,
            });
        }
    }
    Ok((outcome, rows))
}

fn save_pipeline(
    cfg: &ExperimentConfig,
    id: &ContextId,
    dir: &std::path::Path,
    best: &BestAutoencoder,
    scored: &ScoredCombination,
    encoders: &[Loaded],
    attributes: &[String],
) -> Result<()> {
    let stem = id.to_string().replace('/', "_");
    let model_path = dir.join(format!("{stem}.model.json"));
    std::fs::create_dir_all(dir).map_err(|e| RunnerError::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    best.model.save(&model_path)?;
    let pipeline = Pipeline {
        encoder: encoders[best.encoder].spec.clone(),
        template: cfg.template.clone(),
        detector: format!("{stem}.model.json"),
        combination: scored.combination.clone(),
        threshold: scored.threshold.unwrap_or(f32::INFINITY),
        trained_on: id.to_string(),
        normal_scores: scored.normal_scores.0.clone(),
        normal_weights: scored.normal_scores.1.clone(),
        format: PIPELINE_FORMAT,
        aspect: Some(id.aspect.short().to_string()),
        attributes: attributes.to_vec(),
        encoder_identity: Some(encoders[best.encoder].encoder.identity().clone()),
        auc: Some(best.auc),
    };
    let p = dir.join(format!("{stem}.pipeline.json"));
    let text = serde_json::to_string_pretty(&pipeline).map_err(|e| RunnerError::Io {
        path: p.clone(),
        source: e.into(),
    })?;
    std::fs::write(&p, text).map_err(|e| RunnerError::Io {
        path: p.clone(),
        source: e,
    })
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
    /// The 95th percentile of held-out normal scores.
    pub threshold: f32,
    /// Context it was fitted on.
    pub trained_on: String,
    /// Held-out normal scores and weights, so a caller can set another percentile.
    #[serde(default)]
    pub normal_scores: Vec<f32>,
    #[serde(default)]
    pub normal_weights: Vec<f32>,
    /// Layout version of this file ([`PIPELINE_FORMAT`]; files without one are 1).
    #[serde(default = "format_one")]
    pub format: u32,
    /// The aspect (`PE`, ...) and attribute schema (names, in column order) it was fitted
    /// on: scoring another aspect or another schema is refused.
    #[serde(default)]
    pub aspect: Option<String>,
    #[serde(default)]
    pub attributes: Vec<String>,
    /// The encoder exactly (family, backend, weight fingerprint, pooling, ...).
    #[serde(default)]
    pub encoder_identity: Option<apt_llm_embed::ModelIdentity>,
    /// Test ROC-AUC of this combination when it was fitted.
    #[serde(default)]
    pub auc: Option<f64>,
}

/// The pipeline layout this build writes and reads.
pub const PIPELINE_FORMAT: u32 = 2;

fn format_one() -> u32 {
    1
}

impl Pipeline {
    /// Check that this pipeline may score `context` with `encoder`: same format, aspect,
    /// attribute schema and encoder. Returns warnings (a model that ranked worse than
    /// chance when it was fitted); a mismatch is an error naming both sides.
    pub fn check(
        &self,
        context: &ContextId,
        attributes: &[String],
        encoder: &apt_llm_embed::ModelIdentity,
    ) -> std::result::Result<Vec<String>, String> {
        if self.format != PIPELINE_FORMAT {
            return Err(format!(
                "pipeline format {} (this build reads {PIPELINE_FORMAT}): {}; fit it again with `apt-llm evaluate --save-models`",
                self.format,
                if self.format < PIPELINE_FORMAT {
                    "written by an older apt-llm, it records neither the aspect nor the attribute schema nor the encoder it was fitted with"
                } else {
                    "written by a newer apt-llm"
                }
            ));
        }
        let aspect = context.aspect.short();
        if self.aspect.as_deref() != Some(aspect) {
            return Err(format!(
                "fitted on {} ({}), asked to score {context} ({aspect}): another aspect has other attributes",
                self.trained_on,
                self.aspect.as_deref().unwrap_or("?")
            ));
        }
        if self.attributes != attributes {
            let first = self
                .attributes
                .iter()
                .zip(attributes)
                .position(|(a, b)| a != b)
                .unwrap_or(self.attributes.len().min(attributes.len()));
            return Err(format!(
                "attribute schema differs: fitted on {} attributes ({}), {context} has {}; first difference at column {}: {:?} vs {:?}",
                self.attributes.len(),
                self.trained_on,
                attributes.len(),
                first + 1,
                self.attributes
                    .get(first)
                    .map(String::as_str)
                    .unwrap_or("(none)"),
                attributes
                    .get(first)
                    .map(String::as_str)
                    .unwrap_or("(none)")
            ));
        }
        match &self.encoder_identity {
            Some(e) if e.fingerprint != encoder.fingerprint || e.backend != encoder.backend => {
                return Err(format!(
                    "encoder differs: fitted with {} ({:?}, weights {}), {} resolves to {} ({:?}, weights {})",
                    e.name,
                    e.backend,
                    e.fingerprint,
                    self.encoder,
                    encoder.name,
                    encoder.backend,
                    encoder.fingerprint
                ));
            }
            Some(_) => {}
            None => return Err("the pipeline records no encoder identity".into()),
        }
        let mut warnings = Vec::new();
        if let Some(auc) = self.auc
            && auc < 0.5
        {
            warnings.push(format!(
                "this model ranked worse than chance when it was fitted (ROC-AUC {auc:.3} on {})",
                self.trained_on
            ));
        }
        Ok(warnings)
    }
}

/// ROC curve of a scored combination.
pub fn roc_of(sc: &ScoredCombination) -> Option<RocCurve> {
    RocCurve::new(&sc.scores, &sc.labels, Some(&sc.weights)).ok()
}
