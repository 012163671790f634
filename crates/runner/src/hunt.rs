//! `hunt`: rank every process of one host by its fused rarity across aspects, without
//! labels. Each aspect's detector is fitted on that aspect's processes (minus a seeded
//! calibration share), the calibration processes turn its scores into tail
//! probabilities, and the probabilities of one process are fused over the aspects it
//! appears in. Labels, when the data has them, are only counted in the summary.

use crate::experiment::{
    ATTRIBUTES_ENCODER, ExperimentConfig, Inputs, Result, RunnerError, attribute_rows,
    combination_name, embed_patterns, encoders_of, grid_entries,
};
use crate::hosts::{RankedProcess, ViewStats};
use apt_llm_detect::{
    DEFAULT_BLEND, DEFAULT_PERCENTILE, Detector, FittedDetector, FrequencyPrior, Representation,
};
use apt_llm_fusion::{Calibrator, Rule, fuse_processes};
use apt_llm_provenance::{Aspect, HostIndex, LabeledContext, Part, Patterns, SplitConfig};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What `hunt` fits and how it fuses.
#[derive(Clone)]
pub struct HuntConfig {
    /// Encoder (the first of `experiment.encoders`), the one detector of
    /// `experiment.detectors` (or `custom_detectors`), its attention and prior settings
    /// (`On` or `Off`), template, seed, epochs, cache.
    pub experiment: ExperimentConfig,
    pub fusion: Rule,
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
}

/// Rank the processes of one host. `contexts` are the host's contexts (ProcessAll and
/// placeholder tables are left out and reported).
pub fn hunt(cfg: &HuntConfig, contexts: &[LabeledContext]) -> Result<HuntReport> {
    let exp = &cfg.experiment;
    let entries = grid_entries(exp);
    let [entry] = entries.as_slice() else {
        return Err(RunnerError::HuntSettings(entries.len()));
    };
    let [prior] = entry.priors else {
        return Err(RunnerError::HuntPriorBoth);
    };
    if !(cfg.calibration_fraction > 0.0 && cfg.calibration_fraction < 1.0) {
        return Err(RunnerError::CalibrationFraction(cfg.calibration_fraction));
    }
    let mut views: Vec<&LabeledContext> = Vec::new();
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
    let index = HostIndex::new(&views)?;
    let embedding = entry.spec.representation() == Representation::Embedding;
    let encoders = if embedding {
        encoders_of(exp)?.0
    } else {
        Vec::new()
    };
    // Calibration share by a seeded hash of the id, labels unused.
    let split = SplitConfig {
        test_fraction: 0.0,
        validation_fraction: cfg.calibration_fraction,
        seed: exp.seed,
    };
    let mut p_views: Vec<Vec<Option<f64>>> = Vec::with_capacity(views.len());
    let mut stats = Vec::with_capacity(views.len());
    let mut combination = String::new();
    let mut in_sample = Vec::new();
    for (v, ctx) in views.iter().enumerate() {
        let patterns = Patterns::from_context(&ctx.context);
        let part: Vec<Part> = ctx
            .context
            .records
            .iter()
            .map(|r| split.part_of(&r.id, false))
            .collect();
        let rows_of =
            |want: Part| -> Vec<usize> { (0..part.len()).filter(|&r| part[r] == want).collect() };
        let train = patterns.weighted(&rows_of(Part::Train));
        let calibration = patterns.weighted(&rows_of(Part::Validation));
        let all: Vec<usize> = (0..patterns.len()).collect();
        let step = |e: RunnerError| RunnerError::Context {
            context: ctx.id.to_string(),
            source: Box::new(e),
        };
        if train.is_empty() {
            return Err(step(RunnerError::TooFewProcesses {
                processes: ctx.context.len(),
            }));
        }
        if calibration.is_empty() {
            in_sample.push(ctx.id.aspect.short().to_string());
        }
        let inputs = if embedding {
            let enc = &encoders[0];
            let x = embed_patterns(&exp.template, &ctx.context, &patterns, &*enc.encoder)
                .map_err(step)?;
            Inputs::from_parts(&x, &train, &calibration, &all, Some(0), enc.label.clone())
        } else {
            let x = attribute_rows(&patterns, ctx.context.attributes.len());
            Inputs::from_parts(
                &x,
                &train,
                &calibration,
                &all,
                None,
                ATTRIBUTES_ENCODER.into(),
            )
        };
        let ts = inputs.train_set();
        let fitted: Arc<dyn Detector> = Arc::from(
            entry
                .spec
                .fit_boxed(&ts)
                .map_err(|e| step(RunnerError::Detect(e)))?,
        );
        let detector: Arc<dyn Detector> = if *prior {
            Arc::new(FrequencyPrior::new(fitted, &ts, DEFAULT_BLEND).map_err(|e| step(e.into()))?)
        } else {
            fitted
        };
        // The calibration processes are the held-out normals of the training set.
        let model =
            FittedDetector::new(detector, &ts, DEFAULT_PERCENTILE).map_err(|e| step(e.into()))?;
        combination = combination_name(
            &inputs.encoder_name,
            &entry.detector,
            entry.attention,
            *prior,
        );
        let scores = model
            .score(inputs.test_x.view())
            .map_err(|e| step(e.into()))?
            .to_vec();
        let (normal, nw) = model.normal_scores();
        let calibrator = Calibrator::new(normal, Some(nw)).map_err(|e| step(e.into()))?;
        let p_pattern = calibrator.p_values(&scores);
        p_views.push(
            index.rows[v]
                .iter()
                .map(|row| row.map(|r| p_pattern[patterns.row_pattern[r]]))
                .collect(),
        );
        stats.push(ViewStats::new(ctx, |r| part[r] == Part::Train));
    }
    let fused = fuse_processes(&*cfg.fusion.rule(), &p_views);
    let mut order: Vec<usize> = (0..index.len()).collect();
    order.sort_by(|&a, &b| {
        fused[b]
            .0
            .total_cmp(&fused[a].0)
            .then_with(|| index.processes[a].cmp(&index.processes[b]))
    });
    let labelled_attacks = index.attacks();
    let ranked = order
        .iter()
        .enumerate()
        .map(|(rank, &i)| RankedProcess {
            process: index.processes[i].clone(),
            score: fused[i].0,
            attack: (labelled_attacks > 0).then(|| index.attack[i]),
            evidence: if rank < cfg.explain {
                (0..views.len())
                    .filter_map(|v| {
                        let row = index.rows[v][i]?;
                        Some(stats[v].evidence(row, p_views[v][i]?, 3))
                    })
                    .collect()
            } else {
                Vec::new()
            },
        })
        .collect();
    Ok(HuntReport {
        host: index.host.to_string(),
        combination,
        fusion: cfg.fusion.name().into(),
        aspects: index
            .aspects
            .iter()
            .map(|a| a.short().to_string())
            .collect(),
        left_out,
        processes: index.len(),
        partial: index.partial(),
        in_sample_calibration: in_sample,
        ranked,
        labelled_attacks,
    })
}
