//! The experiment: contexts → distinct sentences → embeddings → split → fit → score →
//! metrics. One way, no step repeated.

use crate::encoders::{EncoderSpec, Loaded, LoadedEncoders, load_encoders};
pub(crate) use crate::error::{Result, RunnerError};
use crate::grid::{AttentionMode, DetectorChoice, PriorMode};
use crate::model_file::{SaveRequest, save_model};
pub(crate) use crate::results::{
    ATTRIBUTES_ENCODER, ContextOutcome, ExperimentReport, Explanation, ResultRow,
    ScoredCombination, combination_name, detector_label,
};
use apt_llm_detect::{
    DEFAULT_BLEND, DEFAULT_PERCENTILE, Detector, DetectorSpec, FittedDetector, FrequencyPrior,
    Representation, TrainSet,
};
use apt_llm_embed::{Backend, Device, Precision, SentenceEncoder};
use apt_llm_fusion::{Absent, Calibrator, FusionRule, Rule};
use apt_llm_metrics::{summarize, tie_ceiling};
use apt_llm_provenance::{
    Catalog, Context, ContextId, LabeledContext, Patterns, SplitConfig, SyntheticConfig,
};
use apt_llm_textualize::{Template, Textualizer};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{Array1, Array2, Axis};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

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

/// The host view's fusion rules: the built-in ones asked for, then the custom ones; a
/// name given twice is refused (rows of `hosts.csv` are told apart by it).
fn fusion_rules(cfg: &ExperimentConfig) -> Result<Vec<Arc<dyn FusionRule>>> {
    let rules: Vec<Arc<dyn FusionRule>> = cfg
        .fusion
        .iter()
        .map(|r| Arc::from(r.rule()))
        .chain(cfg.custom_fusion.iter().cloned())
        .collect();
    let mut seen = std::collections::HashSet::new();
    for r in &rules {
        if !seen.insert(r.name()) {
            return Err(RunnerError::DuplicateFusion(r.name()));
        }
    }
    // A built-in rule's name is reserved even when that rule is not asked for.
    for r in &cfg.custom_fusion {
        if Rule::ALL.iter().any(|b| b.name() == r.name()) {
            return Err(RunnerError::DuplicateFusion(r.name()));
        }
    }
    Ok(rules)
}

/// Everything an experiment needs.
#[derive(Clone)]
pub struct ExperimentConfig {
    pub data: DataSource,
    /// Contexts to run (`None`: every stored context).
    pub contexts: Option<Vec<ContextId>>,
    /// Encoders to try: transformers by name ([`EncoderSpec::named`]) and encoders of
    /// your own ([`EncoderSpec::custom`]), each compared with every detector.
    pub encoders: Vec<EncoderSpec>,
    /// Which implementation runs the named encoders (burn unless the `tch` feature is
    /// asked for).
    pub backend: Backend,
    /// The named encoders' arithmetic: f32 (default), or bf16 on the tch backend.
    pub precision: Precision,
    /// Where the burn encoders and the autoencoders run (`None`: the CPU). A GPU, with
    /// the `wgpu` feature: `Some(apt_llm_embed::DeviceChoice::Gpu.device()?)`.
    pub device: Option<Device>,
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
    /// Save each context's best APT-LLM combination here as a model file
    /// ([`crate::ModelFile`]), for `apt-llm score`.
    pub save_models: Option<PathBuf>,
    /// How the host view fuses per-aspect p-values (each rule is a row of `hosts.csv`).
    pub fusion: Vec<Rule>,
    /// Fusion rules of your own ([`apt_llm_fusion::FusionRule`]), tried beside `fusion`
    /// in the host view like any built-in rule (rows of `hosts.csv`, candidates of the
    /// honest selection). Names must differ from each other and from every built-in
    /// rule's (`fisher`, `sidak`, `cauchy`). `hunt` does not take them.
    pub custom_fusion: Vec<Arc<dyn FusionRule>>,
    /// What an aspect a process is absent from contributes to its fused p-value (each
    /// policy is a row of `hosts.csv`; the honest selection chooses).
    pub absent: Vec<Absent>,
    /// Also calibrate small aspects against out-of-fold scores of their training normals
    /// (`Calibration::Crossfit` rows in the host view; see `crossfit`). Off by default:
    /// it refits every detector five times on those aspects.
    pub cross_fit: bool,
    /// Also write every host's calibrated per-aspect p-values here (CSV, see
    /// [`crate::hosts::write_host_p_values`]): what the host view fuses, for other rules.
    pub host_p_values: Option<PathBuf>,
}

impl std::fmt::Debug for ExperimentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let custom: Vec<String> = self.custom_detectors.iter().map(|d| d.name()).collect();
        f.debug_struct("ExperimentConfig")
            .field("data", &self.data)
            .field("contexts", &self.contexts)
            .field("encoders", &self.encoders)
            .field("backend", &self.backend)
            .field("precision", &self.precision)
            .field("device", &self.device)
            .field("detectors", &self.detectors)
            .field("custom_detectors", &custom)
            .field("attention", &self.attention)
            .field("prior", &self.prior)
            .field("split", &self.split)
            .field("seed", &self.seed)
            .field("epochs", &self.epochs)
            .field("fusion", &self.fusion)
            .field(
                "custom_fusion",
                &self
                    .custom_fusion
                    .iter()
                    .map(|r| r.name())
                    .collect::<Vec<_>>(),
            )
            .field("absent", &self.absent)
            .field("cross_fit", &self.cross_fit)
            .finish_non_exhaustive()
    }
}

impl Default for ExperimentConfig {
    fn default() -> Self {
        ExperimentConfig {
            data: DataSource::bundled(),
            contexts: None,
            encoders: vec![EncoderSpec::minilm()],
            backend: Backend::Burn,
            precision: Precision::F32,
            device: None,
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
            custom_fusion: Vec::new(),
            absent: Absent::ALL.to_vec(),
            cross_fit: false,
            host_p_values: None,
        }
    }
}

/// Load the configuration's encoders; none at all is an error with every reason.
pub(crate) fn encoders_of(cfg: &ExperimentConfig) -> Result<LoadedEncoders> {
    let (loaded, unavailable) = load_encoders(
        &cfg.encoders,
        cfg.backend,
        cfg.precision,
        cfg.device.as_ref(),
        cfg.cache.as_deref(),
    )?;
    if loaded.is_empty() {
        return Err(RunnerError::NoEncoder { unavailable });
    }
    Ok((loaded, unavailable))
}

/// One sentence per distinct pattern of `context` (in pattern order), encoded: the
/// embedding rows every embedding detector reads, here, in `hunt` and in `apt-llm score`.
pub fn embed_patterns(
    template: &Template,
    context: &Context,
    patterns: &Patterns,
    encoder: &dyn SentenceEncoder,
) -> Result<Array2<f32>> {
    let text = Textualizer::new(template.clone(), context);
    let sentences: Vec<String> = patterns
        .patterns
        .iter()
        .map(|p| text.sentence_of(&p.attributes, None))
        .collect();
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    Ok(encoder.encode(&refs)?)
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
                spec: Arc::from(det.spec_on(
                    attention,
                    cfg.seed,
                    cfg.epochs,
                    cfg.scaling,
                    cfg.device.as_ref(),
                )),
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
        return Err(RunnerError::NoDetector);
    }
    let rules = fusion_rules(cfg)?;
    let entries = grid_entries(cfg);
    // Rows, keys and saved models are told apart by the detector's name.
    let mut names = std::collections::HashSet::new();
    for e in &entries {
        if !names.insert((&e.detector, e.attention)) {
            return Err(RunnerError::DuplicateDetector(e.detector.clone()));
        }
    }
    let start = Instant::now();
    let (encoders, unavailable) = encoders_of(cfg)?;
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
    let mut report = ExperimentReport {
        rows: vec![],
        contexts: vec![],
        hosts: vec![],
        host_rows: vec![],
        unavailable_encoders: unavailable,
        data: data_name,
        seconds: 0.0,
    };
    // Hosts of two aspects or more, whose top processes the host view may explain: their
    // contexts keep their fitted detectors until then.
    let mut aspects_of: std::collections::HashMap<String, usize> = Default::default();
    for c in contexts
        .iter()
        .filter(|c| c.id.aspect != apt_llm_provenance::Aspect::ProcessAll)
    {
        *aspects_of.entry(c.id.host().to_string()).or_default() += 1;
    }
    let fused_hosts: std::collections::HashSet<String> = aspects_of
        .into_iter()
        .filter(|(_, n)| *n >= crate::hosts::MIN_VIEWS)
        .map(|(h, _)| h)
        .collect();
    let progress = bar(cfg.quiet, contexts.len() as u64, "contexts");
    // Fits per context (each embedding entry once per encoder, each attribute entry once)
    // and in all, for the progress lines; a context that fits less (skipped, or an
    // encoder missing) is counted as done in full when it finishes.
    let per_context: usize = entries
        .iter()
        .map(|e| match e.spec.representation() {
            Representation::Embedding => encoders.len(),
            Representation::Attributes => 1,
        })
        .sum();
    let fits_total = per_context * contexts.len();
    // All fits so far, fits of finished contexts, and finished contexts' share in full.
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    let (fits, fits_finished, settled) = (
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    );
    // Contexts run in parallel: a detector fit on a few hundred distinct rows is made of
    // many small tensor operations that do not fill the cores by themselves. Results keep
    // the context order, and every random draw is seeded per fit, so the output does not
    // depend on scheduling.
    let results: Vec<Result<(ContextOutcome, Vec<ResultRow>)>> = contexts
        .par_iter()
        .map(|ctx| {
            let t0 = Instant::now();
            let mine = AtomicUsize::new(0);
            let on_fit = || {
                mine.fetch_add(1, Relaxed);
                fits.fetch_add(1, Relaxed);
            };
            let keep_fitted = cfg.explain > 0
                && ctx.id.aspect != apt_llm_provenance::Aspect::ProcessAll
                && fused_hosts.contains(&ctx.id.host().to_string());
            let out = run_context(cfg, ctx, &encoders, &entries, &on_fit, keep_fitted).map_err(|e| match e {
                e @ RunnerError::Context { .. } => e,
                e => RunnerError::Context {
                    context: ctx.id.to_string(),
                    source: Box::new(e),
                },
            })?;
            fits_finished.fetch_add(mine.load(Relaxed), Relaxed);
            settled.fetch_add(per_context, Relaxed);
            progress.inc(1);
            progress.set_message(ctx.id.to_string());
            if !cfg.quiet && !std::io::stderr().is_terminal() {
                // Not a terminal (CI, a log file): one line per finished context instead
                // of a bar that would print nothing.
                let done = progress.position();
                let elapsed = start.elapsed().as_secs_f64();
                let eta = elapsed / done as f64 * (contexts.len() as u64 - done) as f64;
                let what = match &out.0.skipped {
                    Some(why) => format!("not scored ({why})"),
                    None => format!("{} combinations scored", out.0.scored.len()),
                };
                // Finished contexts count in full, running ones by their fits so far.
                let running = fits.load(Relaxed).saturating_sub(fits_finished.load(Relaxed));
                let fits_done = (settled.load(Relaxed) + running).min(fits_total);
                eprintln!(
                    "[{done}/{} contexts, {fits_done}/{fits_total} fits] {}: {what} in {:.1} s; elapsed {elapsed:.0} s, about {eta:.0} s to go",
                    contexts.len(),
                    ctx.id,
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
    if !cfg.quiet && !std::io::stderr().is_terminal() {
        eprintln!(
            "host view: fusing the aspects of each host; elapsed {:.0} s",
            start.elapsed().as_secs_f64()
        );
    }
    let calibrations = if cfg.cross_fit {
        &crate::hosts::Calibration::BOTH[..]
    } else {
        &crate::hosts::Calibration::BOTH[..1]
    };
    let (hosts, host_rows) = crate::hosts::host_view(
        &report,
        &contexts,
        &cfg.split,
        &rules,
        calibrations,
        &cfg.absent,
        cfg.min_test_normals,
        cfg.explain,
    );
    if let Some(path) = &cfg.host_p_values {
        crate::hosts::write_host_p_values(path, &report, &contexts, &cfg.split, calibrations)
            .map_err(|source| RunnerError::Io {
                path: path.clone(),
                source,
            })?;
    }
    report.hosts = hosts;
    report.host_rows = host_rows;
    if cfg.explain > 0 {
        explain_host_tops(cfg, &contexts, &encoders, &mut report);
    }
    // The fitted detectors were kept for those explanations only.
    for c in &mut report.contexts {
        c.fitted = Default::default();
    }
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
}

/// The best APT-LLM combination of a context so far: the one saved and explained.
struct Best {
    auc: f64,
    /// Index into `ContextOutcome::scored`.
    scored: usize,
    model: FittedDetector,
    /// Index into the loaded encoders.
    encoder: usize,
    /// No validation process: the threshold came from the training processes' scores.
    in_sample: bool,
}

/// The outcome of a context before anything is fitted: its counts and test processes.
fn outcome_of(ctx: &LabeledContext, prep: &Prepared) -> ContextOutcome {
    let id = &ctx.id;
    ContextOutcome {
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
        fitted: Default::default(),
    }
}

/// The inputs each detector reads: one embedding per encoder, and the binary attribute
/// rows once (they do not depend on the encoder); each only when some entry reads it.
fn representations(
    cfg: &ExperimentConfig,
    ctx: &LabeledContext,
    prep: &Prepared,
    encoders: &[Loaded],
    entries: &[GridEntry],
) -> Result<Vec<(Representation, Inputs)>> {
    let wants = |r: Representation| entries.iter().any(|e| e.spec.representation() == r);
    let mut inputs = Vec::new();
    if wants(Representation::Embedding) {
        for (ei, enc) in encoders.iter().enumerate() {
            let x = embed_patterns(&cfg.template, &ctx.context, &prep.patterns, &*enc.encoder)
                .map_err(|e| RunnerError::Context {
                    context: format!("{} / {}", ctx.id, enc.label),
                    source: Box::new(e),
                })?;
            inputs.push((
                Representation::Embedding,
                Inputs::new(prep, &x, Some(ei), enc.label.clone()),
            ));
        }
    }
    if wants(Representation::Attributes) {
        let x = attribute_rows(&prep.patterns, ctx.context.attributes.len());
        inputs.push((
            Representation::Attributes,
            Inputs::new(prep, &x, None, ATTRIBUTES_ENCODER.into()),
        ));
    }
    Ok(inputs)
}

/// Score one fitted model (with or without the prior) on a context's test groups, with
/// its threshold and the p-values of the host view.
fn score_model(
    model: &FittedDetector,
    input: &Inputs,
    groups: &TestGroups,
    entry: &GridEntry,
    prior: bool,
    out_of_fold: Option<&(Vec<f32>, Vec<f32>)>,
) -> Result<ScoredCombination> {
    let test_w = Array1::from(groups.weight.clone());
    // Transductive detectors take the test rows' process counts.
    let scores = model
        .score_weighted(input.test_x.view(), Some(test_w.view()))?
        .to_vec();
    let (normal_scores, normal_weights) = model.normal_scores();
    // Scores that cannot be calibrated (a detector giving NaN on normal rows, or a
    // transductive one, whose scale depends on the rows scored together) leave the
    // combination out of the host view: an empty list says so to `hosts`.
    let transductive = model.detector().transductive();
    let calibrate = |all: &[f32], w: &[f32]| match Calibrator::new(all, Some(w)) {
        Ok(c) if !transductive => c.p_values(&scores),
        _ => Vec::new(),
    };
    let p_values = calibrate(normal_scores, normal_weights);
    // Cross-fitted: the held-out normals plus the out-of-fold training normals.
    let p_values_crossfit = match out_of_fold {
        Some((oof, oof_w)) => {
            let mut all = oof.clone();
            all.extend_from_slice(normal_scores);
            let mut w = oof_w.clone();
            w.extend_from_slice(normal_weights);
            calibrate(&all, &w)
        }
        None => p_values.clone(),
    };
    Ok(ScoredCombination {
        combination: combination_name(&input.encoder_name, &entry.detector, entry.attention, prior),
        encoder: input.encoder_name.clone(),
        detector: entry.detector.clone(),
        attention: entry.attention,
        prior,
        apt_llm: entry.apt_llm,
        scores,
        p_values,
        p_values_crossfit,
        labels: groups.label.clone(),
        weights: groups.weight.clone(),
        threshold: Some(model.threshold().value),
        loss_history: model.detector().loss_history().map(<[_]>::to_vec),
        normal_scores: (normal_scores.to_vec(), normal_weights.to_vec()),
    })
}

fn run_context(
    cfg: &ExperimentConfig,
    ctx: &LabeledContext,
    encoders: &[Loaded],
    entries: &[GridEntry],
    on_fit: &(dyn Fn() + Sync),
    keep_fitted: bool,
) -> Result<(ContextOutcome, Vec<ResultRow>)> {
    let id: &ContextId = &ctx.id;
    let prep = prepare(cfg, ctx)?;
    let mut rows = Vec::new();
    let mut outcome = outcome_of(ctx, &prep);
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
    let inputs = representations(cfg, ctx, &prep, encoders, entries)?;
    if let Some((_, first)) = inputs.iter().find(|(r, _)| *r == Representation::Embedding) {
        outcome.embedding_sample = Some((
            first.test_x.clone(),
            groups.label.iter().map(|&l| l as u8 as f32).collect(),
        ));
    }
    let mut best: Option<Best> = None;
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
            // Small aspects: out-of-fold training scores for a finer calibration.
            // (Not for transductive detectors: they get no p-values at all.)
            let out_of_fold = if cfg.cross_fit
                && !fitted.transductive()
                && ctx.id.aspect != apt_llm_provenance::Aspect::ProcessAll
                && input.vw.sum() < crate::crossfit::CROSS_FIT_BELOW
            {
                let validation = (input.vx.nrows() > 0).then(|| (input.vx.view(), input.vw.view()));
                Some(crate::crossfit::out_of_fold(
                    &*entry.spec,
                    entry.priors,
                    input.tx.view(),
                    input.tw.view(),
                    validation,
                    cfg.split.seed,
                )?)
            } else {
                None
            };
            let fit_seconds = t0.elapsed().as_secs_f64();
            on_fit();
            for (pi, &prior) in entry.priors.iter().enumerate() {
                let t1 = Instant::now();
                let detector: Arc<dyn Detector> = if prior {
                    Arc::new(FrequencyPrior::new(fitted.clone(), &ts, DEFAULT_BLEND)?)
                } else {
                    fitted.clone()
                };
                if keep_fitted {
                    let name = combination_name(
                        &input.encoder_name,
                        &entry.detector,
                        entry.attention,
                        prior,
                    );
                    outcome.fitted.0.push((name, detector.clone()));
                }
                let model = FittedDetector::new(detector, &ts, DEFAULT_PERCENTILE)?;
                let sc = score_model(
                    &model,
                    input,
                    groups,
                    entry,
                    prior,
                    out_of_fold.as_ref().map(|o| &o[pi]),
                )?;
                let seconds = fit_seconds + t1.elapsed().as_secs_f64();
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
                        best = Some(Best {
                            auc: summary.auc,
                            scored: outcome.scored.len(),
                            model: model.clone(),
                            encoder: ei,
                            in_sample: input.vx.nrows() == 0,
                        });
                    }
                }
                outcome.scored.push(sc);
            }
        }
    }
    let Some(best) = best else {
        return Ok((outcome, rows));
    };
    if let Some(dir) = &cfg.save_models {
        let enc = &encoders[best.encoder];
        save_model(
            &SaveRequest {
                dir,
                context: id,
                attributes: &ctx.context.attributes,
                template: &cfg.template,
                combination: &outcome.scored[best.scored].combination,
                representation: Representation::Embedding,
                encoder: Some((&enc.spec, enc.encoder.identity())),
                auc: Some(best.auc),
                calibrated_in_sample: best.in_sample,
            },
            &best.model,
        )?;
    }
    if cfg.explain > 0 {
        let explanations = explain_best(
            cfg,
            ctx,
            &prep,
            &outcome.scored[best.scored],
            &best,
            encoders,
        )?;
        outcome.explanations = explanations;
    }
    Ok((outcome, rows))
}

/// The detector's own reasons in the host view's explanations
/// ([`crate::AspectEvidence::raised_by`]): per host, the honest pick's detector (the
/// APT-LLM member of a pair) as the grid fitted it on each aspect
/// ([`ContextOutcome::fitted`]), and each explained process's attributes left out one at a
/// time (rows re-scored, sentences re-embedded without each phrase).
fn explain_host_tops(
    cfg: &ExperimentConfig,
    contexts: &[LabeledContext],
    encoders: &[Loaded],
    report: &mut ExperimentReport,
) {
    // One job per host and aspect: the model, its encoder (for embeddings), the context,
    // and per explained process (host, place in `top`, evidence there, row).
    type Job = (
        Arc<dyn Detector>,
        Option<usize>,
        usize,
        Vec<(usize, usize, usize, usize)>,
    );
    // (host, place in `top`, evidence, reasons).
    type Reasons = Vec<(usize, usize, usize, Vec<(String, f32)>)>;
    let mut jobs: Vec<Job> = Vec::new();
    for (hi, h) in report.hosts.iter().enumerate() {
        let Some((key, _)) = h.honest.as_ref().filter(|_| !h.top.is_empty()) else {
            continue;
        };
        let Some(row) = report
            .host_rows
            .iter()
            .find(|r| r.host == h.host && r.key() == *key)
        else {
            continue;
        };
        let name = combination_name(&row.encoder, &row.detector, row.attention, row.prior);
        let encoder = encoders.iter().position(|l| l.label == row.encoder);
        for (ci, (ctx, outcome)) in contexts.iter().zip(&report.contexts).enumerate() {
            if outcome.host != h.host {
                continue;
            }
            let Some((_, model)) = outcome.fitted.0.iter().find(|(n, _)| *n == name) else {
                continue;
            };
            let aspect = ctx.id.aspect.short();
            let mut wanted = Vec::new();
            for (t, p) in h.top.iter().enumerate() {
                let Some(e) = p.evidence.iter().position(|e| e.aspect == aspect) else {
                    continue;
                };
                // Ids match case-insensitively across aspects, as in `HostIndex`.
                if let Some(r) = ctx
                    .context
                    .records
                    .iter()
                    .position(|r| r.id.eq_ignore_ascii_case(&p.process))
                {
                    wanted.push((hi, t, e, r));
                }
            }
            if !wanted.is_empty() {
                jobs.push((model.clone(), encoder, ci, wanted));
            }
        }
    }
    // In parallel, as the grid's contexts are: re-embedding dominates. The reasons are
    // extra output: one that fails is said and left out, the run stands.
    let reasons: Vec<Reasons> = jobs
        .par_iter()
        .map(|(model, encoder, ci, wanted)| {
            let ctx = &contexts[*ci];
            let text = Textualizer::new(cfg.template.clone(), &ctx.context);
            let sentences = encoder.map(|ei| (&text, &*encoders[ei].encoder));
            // Processes of one pattern share their reasons: each pattern is explained once.
            let mut explained: std::collections::HashMap<&[u32], Vec<(String, f32)>> =
                Default::default();
            let mut out = Vec::new();
            for &(hi, t, e, r) in wanted {
                let attributes = ctx.context.records[r].attributes.as_slice();
                if let Some(drops) = explained.get(attributes) {
                    out.push((hi, t, e, drops.clone()));
                    continue;
                }
                match crate::explain::reasons(
                    &**model,
                    attributes,
                    &ctx.context.attributes,
                    sentences,
                ) {
                    Ok(drops) => {
                        explained.insert(attributes, drops.clone());
                        out.push((hi, t, e, drops));
                    }
                    Err(err) => eprintln!(
                        "warning: {} {}: no reasons for the host view's explanation: {err}",
                        ctx.id,
                        model.name()
                    ),
                }
            }
            out
        })
        .collect();
    for (hi, t, e, drops) in reasons.into_iter().flatten() {
        report.hosts[hi].top[t].evidence[e].raised_by = drops;
    }
}

/// Explain the top flagged test groups of the best combination: which attributes raise
/// each one's score.
fn explain_best(
    cfg: &ExperimentConfig,
    ctx: &LabeledContext,
    prep: &Prepared,
    sc: &ScoredCombination,
    best: &Best,
    encoders: &[Loaded],
) -> Result<Vec<Explanation>> {
    let groups = &prep.groups;
    let text = Textualizer::new(cfg.template.clone(), &ctx.context);
    let threshold = best.model.threshold().value;
    let mut order: Vec<usize> = (0..sc.scores.len())
        .filter(|&g| sc.scores[g] > threshold)
        .collect();
    order.sort_by(|&a, &b| sc.scores[b].total_cmp(&sc.scores[a]));
    let mut out = Vec::new();
    for &g in order.iter().take(cfg.explain) {
        let p = &prep.patterns.patterns[groups.pattern[g]];
        let contributions = crate::explain::leave_one_out(
            &text,
            &p.attributes,
            &*encoders[best.encoder].encoder,
            &**best.model.detector(),
            64,
        )?;
        out.push(Explanation {
            process: ctx.context.records[groups.members[g][0]].id.clone(),
            attack: groups.label[g],
            score: sc.scores[g],
            threshold,
            contributions,
        });
    }
    Ok(out)
}
