//! `hunt`: rank every process of one host by its fused rarity across aspects, without
//! labels. Each aspect's detector is fitted on that aspect's processes (minus a seeded
//! calibration share), the calibration processes turn its scores into tail
//! probabilities, and the probabilities of one process are fused over the host's aspects
//! (an aspect it is absent from counts as ordinary, or is left out: [`Absent`]). Labels,
//! when the data has them, are only counted in the summary.
//!
//! A hunt is two steps with one value between them: [`HuntModels::fit`] fits the
//! per-aspect detectors with their calibration scores, [`HuntModels::rank`] scores the
//! host's processes with them, fuses and explains. [`HuntModels::save`] writes the
//! models to a directory and [`HuntModels::load`] reads them back, checked, so a host can
//! be ranked again without fitting; [`hunt`] fits and ranks in one go.
//!
//! ```no_run
//! use apt_llm_fusion::{Absent, Rule};
//! use apt_llm_provenance::{Aspect, Catalog, HostId};
//! use apt_llm_runner::{DetectorChoice, ExperimentConfig, HuntConfig, HuntModels, registry};
//!
//! let host: HostId = "bovia/trace".parse()?;
//! let contexts = Catalog::discover("data")?.load_folder(&host.context(Aspect::ProcessEvent))?;
//! let cfg = HuntConfig {
//!     experiment: ExperimentConfig {
//!         detectors: vec![DetectorChoice::Oc3], // attribute rows: no encoder needed
//!         ..Default::default()
//!     },
//!     fusion: Rule::Fisher,
//!     absent: Absent::Neutral,
//!     partner: None,
//!     calibration_fraction: 0.1,
//!     explain: 5,
//! };
//! HuntModels::fit(&cfg, &contexts)?.save("models/bovia_trace".as_ref())?;
//! // Later: no fitting, the same ranking.
//! let models = HuntModels::load("models/bovia_trace".as_ref(), &registry())?;
//! let report = models.rank(&contexts, None, 5)?;
//! println!("{} is the rarest process of {}", report.ranked[0].process, report.host);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod models;

pub use models::{
    AspectModel, HUNT_FORMAT, HuntModelError, HuntModels, HuntRequest, HuntSettings, MANIFEST_FILE,
    PARTNERS,
};

use crate::encoders::Loaded;
use crate::experiment::{
    ATTRIBUTES_ENCODER, ExperimentConfig, GridEntry, Inputs, Result, RunnerError, attribute_rows,
    combination_name, embed_patterns, encoders_of, grid_entries,
};
use crate::grid::DetectorChoice;
use crate::hosts::{RankedProcess, ViewStats};
use crate::model_file::{ModelMismatch, encoder_mismatch, schema_mismatch};
use apt_llm_detect::{
    DEFAULT_BLEND, DEFAULT_PERCENTILE, Detector, FittedDetector, FrequencyPrior, Representation,
};
use apt_llm_embed::SentenceEncoder;
use apt_llm_fusion::{Absent, Rule, fuse_processes};
use apt_llm_provenance::{Aspect, HostIndex, LabeledContext, Part, Patterns, SplitConfig};
use apt_llm_textualize::{Template, Textualizer};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// What `hunt` fits and how it fuses.
#[derive(Clone)]
pub struct HuntConfig {
    /// Encoder (the first of `experiment.encoders`), the one detector of
    /// `experiment.detectors` (or `custom_detectors`), its attention and prior settings
    /// (`On` or `Off`), template, seed, epochs, cache.
    pub experiment: ExperimentConfig,
    /// The fusion rule: a built-in one, saved by name in `hunt.json`
    /// (`experiment.fusion` is not read, and `experiment.custom_fusion` is refused).
    pub fusion: Rule,
    /// What an aspect a process is absent from contributes (`Absent::Neutral`: it is
    /// ordinary there).
    pub absent: Absent,
    /// A detector of attribute rows (OC3, AVF: [`PARTNERS`]) fitted beside the detector on
    /// every aspect; per aspect the two p-values are fused by `fusion` before the aspects
    /// are, as the host view's pairs (`MiniLM / DAE+freq & - / OC3`). `None`: one detector.
    pub partner: Option<DetectorChoice>,
    /// Share of each aspect's processes held out to calibrate its scores (default 0.1).
    pub calibration_fraction: f64,
    /// How many top processes to explain.
    pub explain: usize,
}

/// The ranked processes of one host.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HuntReport {
    pub host: String,
    pub combination: String,
    pub fusion: String,
    /// What an aspect a process is absent from contributed (`neutral`, `skip`).
    #[serde(default)]
    pub absent: String,
    /// The aspects fused, and those left out with the reason.
    pub aspects: Vec<String>,
    pub left_out: Vec<(String, String)>,
    pub processes: usize,
    /// Processes present in some aspects only.
    pub partial: usize,
    /// Aspects too small to hold processes out: calibrated on their training processes
    /// (in-sample, so their p-values are optimistic).
    pub in_sample_calibration: Vec<String>,
    /// Every process, most anomalous first; evidence only for the first `explain`.
    pub ranked: Vec<RankedProcess>,
    /// Labelled attack processes in the data (0 when it has no labels).
    pub labelled_attacks: usize,
}

impl HuntReport {
    /// Labelled attacks among the first `n` processes.
    pub fn attacks_in_top(&self, n: usize) -> usize {
        self.ranked
            .iter()
            .take(n)
            .filter(|p| p.attack == Some(true))
            .count()
    }

    /// The ranks (1-based, inclusive) that share the score of rank `n` when they reach
    /// past it: the first `n` then depend on how ties are ordered (by process id), and so
    /// does any count over them. `None` when the cut falls between two scores.
    pub fn tie_at_cut(&self, n: usize) -> Option<(usize, usize)> {
        if n == 0 || n >= self.ranked.len() {
            return None;
        }
        let s = self.ranked[n - 1].score;
        if self.ranked[n].score != s {
            return None;
        }
        let first = self.ranked[..n]
            .iter()
            .rposition(|p| p.score != s)
            .map_or(1, |i| i + 2);
        let last = n + self.ranked[n..].iter().take_while(|p| p.score == s).count();
        Some((first, last))
    }
}

/// Rank the processes of one host. `contexts` are the host's contexts (ProcessAll and
/// placeholder tables are left out and reported).
pub fn hunt(cfg: &HuntConfig, contexts: &[LabeledContext]) -> Result<HuntReport> {
    Ok(HuntModels::fit_and_rank(cfg, contexts)?.1)
}

impl HuntModels {
    /// Fit one detector per aspect of the host in `contexts` (its contexts; ProcessAll and
    /// placeholder tables are left out), each with the held-out normal scores that
    /// calibrate it.
    pub fn fit(cfg: &HuntConfig, contexts: &[LabeledContext]) -> Result<HuntModels> {
        Ok(fit_with_partner(cfg, contexts)?.0)
    }

    /// [`HuntModels::fit`], then [`HuntModels::rank`] on the same contexts, reading each
    /// aspect once: what [`hunt`] returns, with the models to save.
    pub fn fit_and_rank(
        cfg: &HuntConfig,
        contexts: &[LabeledContext],
    ) -> Result<(HuntModels, HuntReport)> {
        let (models, host, views, partner_views, encoder) = fit_with_partner(cfg, contexts)?;
        let aligned: Vec<&AspectModel> = models.aspects.iter().collect();
        let partner_aligned: Vec<&AspectModel> = models
            .partner
            .iter()
            .flat_map(|p| p.aspects.iter())
            .collect();
        let partner = partner_views
            .as_deref()
            .map(|v| (v, partner_aligned.as_slice()));
        let encoder = encoder.as_ref().map(|l| &*l.encoder);
        let report = models.rank_views(&host, &views, &aligned, partner, encoder, cfg.explain)?;
        Ok((models, report))
    }

    /// Score every process of the host in `contexts` with these models, fuse the
    /// aspects' tail probabilities and explain the first `explain` processes: the report
    /// a fit of the same settings on the same data gives. `encoder` is the encoder of
    /// models that read sentence embeddings ([`HuntModels::load_encoder`]); `None` for
    /// detectors of attribute rows.
    ///
    /// Refused before any scoring, naming the model and both values: another host,
    /// aspects other than those fitted, an attribute schema other than an aspect's model
    /// was fitted on, or an encoder of another identity.
    pub fn rank(
        &self,
        contexts: &[LabeledContext],
        encoder: Option<&dyn SentenceEncoder>,
        explain: usize,
    ) -> Result<HuntReport> {
        let host = Host::join(contexts)?;
        let aligned = self.align(&host)?;
        let reader = self.reader(encoder)?;
        for (ctx, model) in host.contexts.iter().zip(&aligned) {
            self.check_aspect(model, ctx, encoder)?;
        }
        let split = self.split()?;
        let views = host
            .contexts
            .iter()
            .map(|c| AspectView::new(c, &split, &reader))
            .collect::<Result<Vec<_>>>()?;
        let Some(partner) = &self.partner else {
            return self.rank_views(&host, &views, &aligned, None, encoder, explain);
        };
        // The partner reads the same aspects' attribute rows, split as these models were.
        let partner_aligned = partner.align(&host)?;
        let partner_reader = partner.reader(encoder)?;
        for (ctx, model) in host.contexts.iter().zip(&partner_aligned) {
            partner.check_aspect(model, ctx, encoder)?;
        }
        let partner_views = host
            .contexts
            .iter()
            .map(|c| AspectView::new(c, &split, &partner_reader))
            .collect::<Result<Vec<_>>>()?;
        self.rank_views(
            &host,
            &views,
            &aligned,
            Some((&partner_views, &partner_aligned)),
            encoder,
            explain,
        )
    }

    /// The calibration split these models were fitted with.
    fn split(&self) -> Result<SplitConfig> {
        check_fraction(self.settings.calibration_fraction)?;
        Ok(calibration_split(
            self.settings.calibration_fraction,
            self.settings.seed,
        ))
    }

    /// The model of each aspect of `host`, in the host's order; the host and its aspects
    /// must be those the models were fitted on.
    fn align(&self, host: &Host<'_>) -> Result<Vec<&AspectModel>, HuntModelError> {
        if host.index.host != self.host {
            return Err(HuntModelError::Host {
                origin: self.origin(),
                saved: self.host.to_string(),
                asked: host.index.host.to_string(),
            });
        }
        let saved: Vec<String> = self
            .aspects
            .iter()
            .map(|m| m.context.aspect.short().to_string())
            .collect();
        let data: Vec<String> = host
            .index
            .aspects
            .iter()
            .map(|a| a.short().to_string())
            .collect();
        let mut sorted = (saved.clone(), data.clone());
        sorted.0.sort();
        sorted.1.sort();
        if sorted.0 != sorted.1 {
            return Err(HuntModelError::Aspects {
                origin: self.origin(),
                host: self.host.to_string(),
                saved,
                data,
            });
        }
        Ok(host
            .index
            .aspects
            .iter()
            .filter_map(|a| self.aspects.iter().find(|m| m.context.aspect == *a))
            .collect())
    }

    /// What the models read, with `encoder` for embeddings.
    fn reader<'e>(
        &'e self,
        encoder: Option<&'e dyn SentenceEncoder>,
    ) -> Result<Reader<'e>, HuntModelError> {
        match (self.representation, encoder) {
            (Representation::Attributes, _) => Ok(Reader::Attributes),
            (Representation::Embedding, Some(encoder)) => Ok(Reader::Embedding {
                encoder,
                template: &self.settings.template,
            }),
            (Representation::Embedding, None) => Err(HuntModelError::NoEncoder {
                origin: self.origin(),
                spec: self.settings.encoder.clone().unwrap_or_default(),
            }),
        }
    }

    /// Refuse an aspect whose schema or encoder differs from what its model was fitted
    /// with.
    fn check_aspect(
        &self,
        model: &AspectModel,
        ctx: &LabeledContext,
        encoder: Option<&dyn SentenceEncoder>,
    ) -> Result<(), HuntModelError> {
        let mismatch = |m| HuntModelError::Mismatch {
            origin: model.origin(),
            source: Box::new(m),
        };
        let fitted_on = model.context.to_string();
        if let Some(m) = schema_mismatch(
            &fitted_on,
            &model.attributes,
            &ctx.id,
            &ctx.context.attributes,
        ) {
            return Err(mismatch(m));
        }
        if let (Representation::Embedding, Some(found)) = (self.representation, encoder) {
            let fitted = self
                .encoder_identity
                .as_ref()
                .ok_or_else(|| mismatch(ModelMismatch::NoEncoderIdentity))?;
            if let Some(m) = encoder_mismatch(fitted, Some("the encoder given"), found.identity()) {
                return Err(mismatch(m));
            }
        }
        Ok(())
    }

    /// Score, calibrate and fuse the read aspects (`views`, each with its model in
    /// `aligned`), most anomalous process first.
    fn rank_views(
        &self,
        host: &Host<'_>,
        views: &[AspectView<'_>],
        aligned: &[&AspectModel],
        partner: Option<(&[AspectView<'_>], &[&AspectModel])>,
        encoder: Option<&dyn SentenceEncoder>,
        explain: usize,
    ) -> Result<HuntReport> {
        let index = &host.index;
        let mut p_views: Vec<Vec<Option<f64>>> = Vec::with_capacity(views.len());
        let mut stats = Vec::with_capacity(views.len());
        for (v, (view, model)) in views.iter().zip(aligned).enumerate() {
            let p_pattern = model
                .p_values(view.x.view())
                .map_err(|e| in_context(view.context, e))?;
            p_views.push(
                index.rows[v]
                    .iter()
                    .map(|row| row.map(|r| p_pattern[view.patterns.row_pattern[r]]))
                    .collect(),
            );
            stats.push(ViewStats::new(view.context, |r| {
                view.part[r] == Part::Train
            }));
        }
        let rule = self.settings.fusion.rule();
        if let Some((partner_views, partner_aligned)) = partner {
            // Both detectors' p-values of an aspect fused by the rule, as in the host view.
            for (v, (view, model)) in partner_views.iter().zip(partner_aligned).enumerate() {
                let p_pattern = model
                    .p_values(view.x.view())
                    .map_err(|e| in_context(view.context, e))?;
                for (i, row) in index.rows[v].iter().enumerate() {
                    let other = row.map(|r| p_pattern[view.patterns.row_pattern[r]]);
                    p_views[v][i] = match (p_views[v][i], other) {
                        (Some(a), Some(b)) => Some(rule.fuse(&[a, b])),
                        (a, b) => a.or(b),
                    };
                }
            }
        }
        let fused = fuse_processes(&*rule, &p_views, self.settings.absent);
        let mut order: Vec<usize> = (0..index.len()).collect();
        order.sort_by(|&a, &b| {
            fused[b]
                .0
                .total_cmp(&fused[a].0)
                .then_with(|| index.processes[a].cmp(&index.processes[b]))
        });
        let labelled_attacks = index.attacks();
        // Sentences of explained processes are re-embedded without each phrase: bind the
        // template to each aspect once.
        let texts: Vec<Option<Textualizer>> = views
            .iter()
            .map(|view| {
                (explain > 0
                    && encoder.is_some()
                    && self.representation == Representation::Embedding)
                    .then(|| {
                        Textualizer::new(self.settings.template.clone(), &view.context.context)
                    })
            })
            .collect();
        // Processes of one pattern share their reasons: each pattern is explained once.
        let mut explained: HashMap<(usize, usize), Vec<(String, f32)>> = HashMap::new();
        let mut ranked = Vec::with_capacity(order.len());
        for (rank, &i) in order.iter().enumerate() {
            let mut evidence = Vec::new();
            for v in (0..views.len()).filter(|_| rank < explain) {
                let (Some(row), Some(p)) = (index.rows[v][i], p_views[v][i]) else {
                    continue;
                };
                let mut e = stats[v].evidence(row, p, 3);
                let pattern = views[v].patterns.row_pattern[row];
                e.raised_by = match explained.get(&(v, pattern)) {
                    Some(r) => r.clone(),
                    None => {
                        let ctx = &views[v].context.context;
                        let r = crate::explain::reasons(
                            &**aligned[v].model.detector(),
                            &ctx.records[row].attributes,
                            &ctx.attributes,
                            texts[v].as_ref().zip(encoder),
                        )
                        .map_err(|e| in_context(views[v].context, e))?;
                        explained.insert((v, pattern), r.clone());
                        r
                    }
                };
                evidence.push(e);
            }
            ranked.push(RankedProcess {
                process: index.processes[i].clone(),
                score: fused[i].0,
                attack: (labelled_attacks > 0).then(|| index.attack[i]),
                evidence,
            });
        }
        Ok(HuntReport {
            host: index.host.to_string(),
            combination: self.combination_with_partner(),
            fusion: self.settings.fusion.name().into(),
            absent: self.settings.absent.name().into(),
            aspects: index
                .aspects
                .iter()
                .map(|a| a.short().to_string())
                .collect(),
            left_out: host.left_out.clone(),
            processes: index.len(),
            partial: index.partial(),
            in_sample_calibration: aligned
                .iter()
                .filter(|m| m.in_sample_calibration)
                .map(|m| m.context.aspect.short().to_string())
                .collect(),
            ranked,
            labelled_attacks,
        })
    }
}

impl AspectModel {
    /// Tail probability of each row of `x` (one per pattern) among the held-out normal
    /// scores; a non-finite score is an error naming the model.
    fn p_values(&self, x: ndarray::ArrayView2<'_, f32>) -> Result<Vec<f64>> {
        let scores = self.model.score(x)?.to_vec();
        if let Some((pattern, &value)) = scores.iter().enumerate().find(|(_, s)| !s.is_finite()) {
            return Err(HuntModelError::NonFiniteScore {
                origin: self.origin(),
                pattern,
                value,
            }
            .into());
        }
        Ok(self.calibrator()?.p_values(&scores))
    }
}

/// A [`HuntConfig`], checked: its one detector setting.
struct Plan {
    entry: GridEntry,
    prior: bool,
    /// The built-in detector, `None` for a custom one.
    detector: Option<DetectorChoice>,
    /// The share of each aspect's processes held out to calibrate.
    calibration_fraction: f64,
}

impl Plan {
    fn new(cfg: &HuntConfig) -> Result<Plan> {
        let exp = &cfg.experiment;
        let mut entries = grid_entries(exp);
        if entries.len() != 1 {
            return Err(RunnerError::HuntSettings(entries.len()));
        }
        let entry = entries.remove(0);
        let [prior] = entry.priors else {
            return Err(RunnerError::HuntPriorBoth);
        };
        check_fraction(cfg.calibration_fraction)?;
        if !exp.custom_fusion.is_empty() {
            return Err(RunnerError::HuntCustomFusion);
        }
        let detector = match (exp.detectors.as_slice(), exp.custom_detectors.is_empty()) {
            ([d], true) => Some(*d),
            _ => None,
        };
        Ok(Plan {
            prior: *prior,
            entry,
            detector,
            calibration_fraction: cfg.calibration_fraction,
        })
    }
}

fn check_fraction(fraction: f64) -> Result<()> {
    if fraction > 0.0 && fraction < 1.0 {
        Ok(())
    } else {
        Err(RunnerError::CalibrationFraction(fraction))
    }
}

/// The calibration share: a seeded hash of the process id, labels unused.
fn calibration_split(fraction: f64, seed: u64) -> SplitConfig {
    SplitConfig {
        test_fraction: 0.0,
        validation_fraction: fraction,
        seed,
    }
}

fn in_context(ctx: &LabeledContext, e: RunnerError) -> RunnerError {
    RunnerError::Context {
        context: ctx.id.to_string(),
        source: Box::new(e),
    }
}

/// The aspects of a host that a hunt fuses, joined by process id, and the contexts it
/// leaves out with the reason.
struct Host<'a> {
    contexts: Vec<&'a LabeledContext>,
    index: HostIndex,
    left_out: Vec<(String, String)>,
}

impl<'a> Host<'a> {
    fn join(contexts: &'a [LabeledContext]) -> Result<Host<'a>> {
        let mut views = Vec::new();
        let mut left_out = Vec::new();
        for c in contexts {
            if c.id.aspect == Aspect::ProcessAll {
                left_out.push((
                    c.id.to_string(),
                    "ProcessAll joins the other aspects".into(),
                ));
            } else if c.context.is_placeholder() {
                left_out.push((c.id.to_string(), "placeholder table, no data".into()));
            } else {
                views.push(c);
            }
        }
        Ok(Host {
            index: HostIndex::new(&views)?,
            contexts: views,
            left_out,
        })
    }
}

/// What a detector reads from an aspect: sentence embeddings or attribute rows.
enum Reader<'e> {
    Embedding {
        encoder: &'e dyn SentenceEncoder,
        template: &'e Template,
    },
    Attributes,
}

impl Reader<'_> {
    /// One row per pattern of `ctx`.
    fn rows(&self, ctx: &LabeledContext, patterns: &Patterns) -> Result<Array2<f32>> {
        match self {
            Reader::Embedding { encoder, template } => {
                embed_patterns(template, &ctx.context, patterns, *encoder)
            }
            Reader::Attributes => Ok(attribute_rows(patterns, ctx.context.attributes.len())),
        }
    }
}

/// One aspect as the hunt reads it: its patterns, each process's part (training or
/// calibration) and the detector's input, one row per pattern.
struct AspectView<'a> {
    context: &'a LabeledContext,
    patterns: Patterns,
    part: Vec<Part>,
    x: Array2<f32>,
}

impl<'a> AspectView<'a> {
    fn new(
        context: &'a LabeledContext,
        split: &SplitConfig,
        reader: &Reader<'_>,
    ) -> Result<AspectView<'a>> {
        let patterns = Patterns::from_context(&context.context);
        let part = context
            .context
            .records
            .iter()
            .map(|r| split.part_of(&r.id, false))
            .collect();
        let x = reader
            .rows(context, &patterns)
            .map_err(|e| in_context(context, e))?;
        Ok(AspectView {
            context,
            patterns,
            part,
            x,
        })
    }

    /// The patterns of the processes in `want`, weighted by how many they stand for.
    fn weighted(&self, want: Part) -> Vec<(usize, f32)> {
        let rows: Vec<usize> = (0..self.part.len())
            .filter(|&r| self.part[r] == want)
            .collect();
        self.patterns.weighted(&rows)
    }
}

/// Fit every aspect of the host: the models, the joined host and the aspects as read.
#[allow(clippy::type_complexity)]
fn fit_host<'a>(
    cfg: &HuntConfig,
    contexts: &'a [LabeledContext],
) -> Result<(HuntModels, Host<'a>, Vec<AspectView<'a>>, Option<Loaded>)> {
    let plan = Plan::new(cfg)?;
    let exp = &cfg.experiment;
    let host = Host::join(contexts)?;
    let representation = plan.entry.spec.representation();
    let encoder = match representation {
        Representation::Embedding => Some(first_encoder(exp)?),
        Representation::Attributes => None,
    };
    let reader = match &encoder {
        Some(loaded) => Reader::Embedding {
            encoder: &*loaded.encoder,
            template: &exp.template,
        },
        None => Reader::Attributes,
    };
    let encoder_name = encoder
        .as_ref()
        .map_or_else(|| ATTRIBUTES_ENCODER.to_string(), |l| l.label.clone());
    let split = calibration_split(cfg.calibration_fraction, exp.seed);
    let mut views = Vec::with_capacity(host.contexts.len());
    let mut aspects = Vec::with_capacity(host.contexts.len());
    for ctx in &host.contexts {
        let view = AspectView::new(ctx, &split, &reader)?;
        aspects.push(fit_aspect(&plan, &view, &encoder_name).map_err(|e| in_context(ctx, e))?);
        views.push(view);
    }
    let models = HuntModels {
        host: host.index.host.clone(),
        combination: combination_name(
            &encoder_name,
            &plan.entry.detector,
            plan.entry.attention,
            plan.prior,
        ),
        representation,
        settings: HuntSettings {
            detector: plan.detector,
            detector_name: plan.entry.detector.clone(),
            attention: plan.entry.attention,
            prior: plan.prior,
            fusion: cfg.fusion,
            absent: cfg.absent,
            calibration_fraction: cfg.calibration_fraction,
            seed: exp.seed,
            epochs: exp.epochs,
            scaling: exp.scaling,
            template: exp.template.clone(),
            encoder: encoder.as_ref().map(|l| l.spec.clone()),
        },
        encoder_identity: encoder.as_ref().map(|l| l.encoder.identity().clone()),
        aspects,
        left_out: host.left_out.clone(),
        manifest: None,
        partner: None,
    };
    Ok((models, host, views, encoder))
}

/// The models, host and aspect views of the configuration's detector, with its partner
/// fitted beside it (same host, seed and calibration split), the partner's views, and the
/// detector's encoder (for detectors of embeddings).
#[allow(clippy::type_complexity)]
fn fit_with_partner<'a>(
    cfg: &HuntConfig,
    contexts: &'a [LabeledContext],
) -> Result<(
    HuntModels,
    Host<'a>,
    Vec<AspectView<'a>>,
    Option<Vec<AspectView<'a>>>,
    Option<Loaded>,
)> {
    let partner_cfg = cfg.partner.map(|d| partner_config(cfg, d)).transpose()?;
    let (mut models, host, views, encoder) = fit_host(cfg, contexts)?;
    let Some(pcfg) = partner_cfg else {
        return Ok((models, host, views, None, encoder));
    };
    let (partner, _, partner_views, _) = fit_host(&pcfg, contexts)?;
    models.partner = Some(Box::new(partner));
    Ok((models, host, views, Some(partner_views), encoder))
}

/// The configuration that fits partner `d`: the same data, seed, calibration share and
/// encoder, the one detector `d` without attention or prior.
fn partner_config(cfg: &HuntConfig, d: DetectorChoice) -> Result<HuntConfig> {
    if !PARTNERS.contains(&d) {
        return Err(RunnerError::HuntPartner(d.name().to_string()));
    }
    if cfg.experiment.detectors == [d] && cfg.experiment.custom_detectors.is_empty() {
        return Err(RunnerError::HuntPartnerItself(d.name().to_string()));
    }
    let mut p = cfg.clone();
    p.partner = None;
    p.experiment.detectors = vec![d];
    p.experiment.custom_detectors = Vec::new();
    p.experiment.attention = crate::Switch::Off;
    p.experiment.prior = crate::Switch::Off;
    Ok(p)
}

/// The encoder a hunt reads with: the first of the configuration's that loads.
fn first_encoder(exp: &ExperimentConfig) -> Result<Loaded> {
    let (loaded, unavailable) = encoders_of(exp)?;
    loaded
        .into_iter()
        .next()
        .ok_or(RunnerError::NoEncoder { unavailable })
}

/// Fit one aspect's detector on its training processes (with the prior in front when
/// asked), calibrated on its held-out ones (on the training ones when none is held out).
fn fit_aspect(plan: &Plan, view: &AspectView<'_>, encoder_name: &str) -> Result<AspectModel> {
    let ctx = view.context;
    let train = view.weighted(Part::Train);
    let calibration = view.weighted(Part::Validation);
    if train.is_empty() && !calibration.is_empty() && ctx.context.len() > 1 {
        return Err(RunnerError::NoTrainingProcesses {
            processes: ctx.context.len(),
            fraction: plan.calibration_fraction,
        });
    }
    if train.is_empty() {
        return Err(RunnerError::TooFewProcesses {
            processes: ctx.context.len(),
        });
    }
    let inputs = Inputs::from_parts(
        &view.x,
        &train,
        &calibration,
        &[],
        None,
        encoder_name.to_string(),
    );
    let ts = inputs.train_set();
    let fitted: Arc<dyn Detector> = Arc::from(plan.entry.spec.fit_boxed(&ts)?);
    if fitted.transductive() {
        return Err(RunnerError::HuntTransductive(fitted.name()));
    }
    let detector: Arc<dyn Detector> = if plan.prior {
        Arc::new(FrequencyPrior::new(fitted, &ts, DEFAULT_BLEND)?)
    } else {
        fitted
    };
    // The calibration processes are the held-out normals of the training set.
    let model = FittedDetector::new(detector, &ts, DEFAULT_PERCENTILE)?;
    Ok(AspectModel {
        context: ctx.id.clone(),
        attributes: ctx.context.attributes.clone(),
        model,
        in_sample_calibration: calibration.is_empty(),
        file: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(scores: &[f64]) -> HuntReport {
        HuntReport {
            host: "bovia/trace".into(),
            combination: "- / OC3".into(),
            fusion: "fisher".into(),
            absent: "neutral".into(),
            aspects: vec!["PE".into()],
            left_out: Vec::new(),
            processes: scores.len(),
            partial: 0,
            in_sample_calibration: Vec::new(),
            ranked: scores
                .iter()
                .enumerate()
                .map(|(i, &score)| RankedProcess {
                    process: format!("p{i}"),
                    score,
                    attack: Some(i % 2 == 0),
                    evidence: Vec::new(),
                })
                .collect(),
            labelled_attacks: scores.len().div_ceil(2),
        }
    }

    #[test]
    fn a_tie_across_the_cut_is_reported_with_its_ranks() {
        let r = report(&[9.0, 7.0, 5.0, 5.0, 5.0, 1.0]);
        assert_eq!(r.tie_at_cut(2), None, "7 then 5: a clean cut");
        assert_eq!(r.tie_at_cut(3), Some((3, 5)));
        assert_eq!(r.tie_at_cut(4), Some((3, 5)));
        assert_eq!(r.tie_at_cut(5), None, "5 then 1");
        assert_eq!(r.tie_at_cut(6), None, "nothing below the last");
        assert_eq!(r.tie_at_cut(0), None);
        assert_eq!(report(&[2.0, 2.0, 2.0]).tie_at_cut(1), Some((1, 3)));
        assert_eq!(r.attacks_in_top(3), 2);
    }
}
