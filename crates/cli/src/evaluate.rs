//! `apt-llm evaluate` and `apt-llm score`.

use crate::BoxError;
use apt_llm::autoencoders::FittedAutoencoder;
use apt_llm::baselines::{
    FittedAvf, FittedDbscan, FittedIsolationForest, FittedOc3, FittedOneClassSvm,
};
use apt_llm::detect::{Detector, FittedRarity, FrequencyPrior, saved_kind};
use apt_llm::embed::{
    EncoderOptions, SentenceEncoder, TransformerEncoder, cache_dir, resolve_model,
};
use apt_llm::provenance::{Catalog, ContextId, Patterns, default_data_root};
use apt_llm::runner::{
    AttentionMode, DataSource, DetectorChoice, EncoderSpec, ExperimentConfig, Pipeline, PriorMode,
    leave_one_out, run, selections, write_outputs,
};
use apt_llm::textualize::{Template, Textualizer};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct EvaluateArgs {
    /// ADAPT data root (default: $APT_LLM_DATA, else the bundled synthetic contexts).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Use the bundled synthetic contexts even if APT_LLM_DATA is set.
    #[arg(long, conflicts_with = "data")]
    synthetic: bool,
    /// Output directory.
    #[arg(long, default_value = "apt-llm-results")]
    out: PathBuf,
    /// Contexts, comma-separated (e.g. bovia/cadets/PE,pandex/trace/PN); default: all.
    #[arg(long, value_delimiter = ',')]
    contexts: Option<Vec<String>>,
    /// Encoders: names (minilm, bert, albert, distilbert, roberta) or model directories.
    #[arg(long, value_delimiter = ',', default_value = "minilm")]
    encoders: Vec<String>,
    /// Encoder implementation: burn, or tch (rust-bert on libtorch; needs a build with
    /// `--features tch`).
    #[arg(long, default_value = "burn")]
    backend: String,
    /// Detectors: ae, vae, dae, oc-svm, dbscan, dbscan-core, iforest, rarity, avf, oc3,
    /// oc3-transductive, or `all`.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "ae,vae,dae,oc-svm,dbscan,iforest,rarity,avf,oc3"
    )]
    detectors: Vec<String>,
    /// Self-attention in the autoencoders: on, off or both.
    #[arg(long, default_value = "both")]
    attention: String,
    /// The training-frequency prior in front of the autoencoders: on, off or both (both
    /// reuses each fitted autoencoder).
    #[arg(long, default_value = "both")]
    prior: String,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Autoencoder epochs.
    #[arg(long, default_value_t = 50)]
    epochs: usize,
    /// Autoencoder input scaling: minmax (with the authors' sigmoid output), standard or
    /// none (with a linear output).
    #[arg(long, default_value = "minmax")]
    scaling: String,
    /// Sentence template: paper or compact.
    #[arg(long, default_value = "paper")]
    template: String,
    /// Contexts with fewer normal test processes are reported, not scored.
    #[arg(long, default_value_t = 10)]
    min_test_normals: usize,
    /// Context for the per-context figures (default: the scored one whose combinations
    /// disagree most, i.e. the widest spread of AUCs).
    #[arg(long)]
    figure_context: Option<String>,
    /// Do not cache embeddings on disk.
    #[arg(long)]
    no_cache: bool,
    /// Save each context's best autoencoder for `apt-llm score` (into OUT/models).
    #[arg(long)]
    save_models: bool,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

/// Check that `out` can hold the results before any work starts: an existing file, an
/// unwritable place or `OUT/models` being a file would otherwise fail after the whole run.
fn check_output_dir(out: &std::path::Path, models: bool) -> Result<(), BoxError> {
    if out.exists() && !out.is_dir() {
        return Err(format!("--out {}: exists and is not a directory", out.display()).into());
    }
    std::fs::create_dir_all(out)
        .map_err(|e| format!("--out {}: cannot create it: {e}", out.display()))?;
    let probe = out.join(".apt-llm-write-test");
    std::fs::write(&probe, b"")
        .map_err(|e| format!("--out {}: not writable: {e}", out.display()))?;
    let _ = std::fs::remove_file(&probe);
    if models {
        let m = out.join("models");
        if m.exists() && !m.is_dir() {
            return Err(format!("{}: exists and is not a directory", m.display()).into());
        }
    }
    Ok(())
}

pub fn evaluate(a: EvaluateArgs) -> Result<(), BoxError> {
    check_output_dir(&a.out, a.save_models)?;
    let env_root = std::env::var_os(apt_llm::provenance::DATA_ENV).map(PathBuf::from);
    let data = match (a.synthetic, a.data.or(env_root)) {
        (false, Some(root)) => {
            eprintln!("data: {}", root.display());
            DataSource::Root(root)
        }
        _ => {
            eprintln!(
                "data: the bundled synthetic contexts (pass --data DIR or set APT_LLM_DATA for real ADAPT data)"
            );
            DataSource::bundled()
        }
    };
    let detectors: Vec<DetectorChoice> = if a.detectors.iter().any(|d| d == "all") {
        DetectorChoice::ALL.to_vec()
    } else {
        a.detectors
            .iter()
            .map(|d| d.parse())
            .collect::<Result<_, _>>()?
    };
    let contexts = a
        .contexts
        .map(|v| {
            v.iter()
                .map(|c| c.parse::<ContextId>())
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let cfg = ExperimentConfig {
        data,
        contexts,
        encoders: a.encoders.iter().cloned().map(EncoderSpec).collect(),
        backend: a.backend.parse::<apt_llm::embed::Backend>()?,
        detectors,
        attention: a
            .attention
            .parse::<AttentionMode>()
            .map_err(|e| format!("--attention: {e}"))?,
        prior: a
            .prior
            .parse::<PriorMode>()
            .map_err(|e| format!("--prior: {e}"))?,
        template: Template::named(&a.template)
            .ok_or_else(|| format!("unknown template {:?}", a.template))?,
        seed: a.seed,
        epochs: a.epochs,
        scaling: match a.scaling.as_str() {
            "minmax" => apt_llm::autoencoders::Scaling::MinMax,
            "standard" => apt_llm::autoencoders::Scaling::Standard,
            "none" => apt_llm::autoencoders::Scaling::None,
            other => {
                return Err(
                    format!("--scaling takes minmax, standard or none, not {other:?}").into(),
                );
            }
        },
        min_test_normals: a.min_test_normals,
        cache: (!a.no_cache).then(|| cache_dir().join("embeddings")),
        quiet: a.quiet,
        save_models: a.save_models.then(|| a.out.join("models")),
        ..Default::default()
    };
    if let Some(f) = &a.figure_context {
        let id: ContextId = f
            .parse()
            .map_err(|e| format!("--figure-context {f:?}: {e}"))?;
        if let Some(list) = &cfg.contexts
            && !list.contains(&id)
        {
            return Err(format!("--figure-context {f} is not among --contexts").into());
        }
    }
    let report = run(&cfg)?;
    if let Some(f) = &a.figure_context
        && !report
            .contexts
            .iter()
            .any(|c| &c.context == f && c.skipped.is_none())
    {
        return Err(format!(
            "--figure-context {f}: no such scored context in this run (see report.md for the scored ones)"
        )
        .into());
    }
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let figures = write_outputs(&report, &a.out, &command, a.figure_context.as_deref())?;
    for (name, why) in &report.unavailable_encoders {
        eprintln!("encoder {name} skipped: {why}");
    }
    let sel = selections(&report);
    println!(
        "{:<28} {:>7} {:>7} {:>7}  honest pick",
        "context", "ceiling", "paper", "honest"
    );
    for s in &sel {
        let (hc, ha) = s.honest.clone().unwrap_or(("-".into(), f64::NAN));
        println!(
            "{:<28} {:>7} {:>7} {:>7}  {}",
            s.context,
            num(s.tie_ceiling),
            num(s.paper_best.1),
            num(ha),
            hc
        );
    }
    for c in report.contexts.iter().filter(|c| c.skipped.is_some()) {
        println!(
            "{:<28} not scored: {}",
            c.context,
            c.skipped.as_deref().unwrap_or("")
        );
    }
    let mean = |f: &dyn Fn(&apt_llm::runner::Selection) -> Option<f64>| {
        let v: Vec<f64> = sel.iter().filter_map(f).filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            f64::NAN
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    println!(
        "mean over {} contexts: tie ceiling {}, paper pick {}, honest pick {}",
        sel.len(),
        num(mean(&|s| Some(s.tie_ceiling))),
        num(mean(&|s| Some(s.paper_best.1))),
        num(mean(&|s| s.honest.as_ref().map(|h| h.1)))
    );
    let mut bases: Vec<&String> = sel.iter().flat_map(|s| s.baselines.keys()).collect();
    bases.sort();
    bases.dedup();
    for b in bases {
        println!(
            "  baseline {b}: mean AUC {}",
            num(mean(&|s| s.baselines.get(b).copied()))
        );
    }
    let counted: Vec<_> = report
        .hosts
        .iter()
        .filter(|h| h.not_counted.is_none())
        .collect();
    if !counted.is_empty() {
        println!(
            "{:<24} {:>7} {:>7} {:>7}  honest fused pick",
            "host", "aspect", "fused", "APT-LLM"
        );
        for h in &counted {
            let best = h.best_single_aspect().map_or(f64::NAN, |b| b.1);
            let (k, v) = h.honest.clone().unwrap_or(("-".into(), f64::NAN));
            let apt = h.honest_apt_llm.as_ref().map_or(f64::NAN, |x| x.1);
            println!(
                "{:<24} {:>7} {:>7} {:>7}  {k}",
                h.host,
                num(best),
                num(v),
                num(apt)
            );
        }
        if let Some((m, n)) = apt_llm::runner::honest_host_mean(&report.hosts) {
            println!("host view: honest fused mean AUC {m:.3} over {n} hosts (hosts.csv)");
        }
    }
    println!(
        "{} results, {} figures, report in {} ({:.1} s)",
        report.rows.len(),
        figures.len(),
        a.out.join("report.md").display(),
        report.seconds
    );
    Ok(())
}

#[derive(Args)]
pub struct ScoreArgs {
    /// A pipeline file written by `evaluate --save-models` (OUT/models/<context>.pipeline.json).
    #[arg(long)]
    model: PathBuf,
    #[arg(long)]
    data: Option<PathBuf>,
    /// Context to score, e.g. bovia/cadets/PE.
    #[arg(long)]
    context: String,
    /// How many top-scoring distinct patterns to print (each stands for every process
    /// that shares it).
    #[arg(long, default_value_t = 20)]
    top: usize,
    /// Explain this many of them.
    #[arg(long, default_value_t = 5)]
    explain: usize,
    /// Flag scores above this percentile of the held-out normal scores saved with the
    /// model (default: the saved threshold, the 95th percentile).
    #[arg(long, conflicts_with = "alert_budget")]
    percentile: Option<f64>,
    /// Flag (about) the N most anomalous processes instead: the threshold is set at the
    /// N-th highest process score (ties flag together).
    #[arg(long)]
    alert_budget: Option<usize>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn load_detector(path: &std::path::Path) -> apt_llm::detect::Result<Box<dyn Detector>> {
    let kind = saved_kind(path).unwrap_or_default();
    Ok(match kind.as_str() {
        "rarity" => Box::new(FittedRarity::load(path)?),
        "frequency-prior" => Box::new(FrequencyPrior::load(path, load_detector)?),
        "ocsvm" => Box::new(FittedOneClassSvm::load(path)?),
        "dbscan" => Box::new(FittedDbscan::load(path)?),
        "iforest" => Box::new(FittedIsolationForest::load(path)?),
        "avf" => Box::new(FittedAvf::load(path)?),
        "oc3" => Box::new(FittedOc3::load(path)?),
        _ => Box::new(FittedAutoencoder::load(path)?),
    })
}

pub fn score(a: ScoreArgs) -> Result<(), BoxError> {
    let text =
        std::fs::read_to_string(&a.model).map_err(|e| format!("{}: {e}", a.model.display()))?;
    let pipeline: Pipeline = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a pipeline file: {e}", a.model.display()))?;
    let base = a.model.parent().unwrap_or(std::path::Path::new("."));
    let detector = load_detector(&base.join(&pipeline.detector))?;
    let encoder =
        TransformerEncoder::from_dir(resolve_model(&pipeline.encoder)?, EncoderOptions::default())?;
    let root = a
        .data
        .or_else(default_data_root)
        .ok_or("no data root: pass --data or set APT_LLM_DATA")?;
    let id: ContextId = a.context.parse()?;
    let ctx = Catalog::discover(&root)?.load(&id)?;
    let warnings = pipeline
        .check(&id, &ctx.context.attributes, encoder.identity())
        .map_err(|e| format!("{}: {e}", a.model.display()))?;
    for w in warnings {
        eprintln!("warning: {}: {w}", a.model.display());
    }
    let tx = Textualizer::new(pipeline.template.clone(), &ctx.context);
    let patterns = Patterns::from_context(&ctx.context);
    let sentences: Vec<String> = patterns
        .patterns
        .iter()
        .map(|p| tx.sentence_of(&p.attributes, None))
        .collect();
    let x = encoder.encode(&sentences.iter().map(String::as_str).collect::<Vec<_>>())?;
    let scores = detector.score(x.view())?;
    let attacks = patterns.attack_counts(&ctx.labels.flags);
    let mut order: Vec<usize> = (0..patterns.len()).collect();
    order.sort_by(|&p, &q| scores[q].total_cmp(&scores[p]));
    let (threshold, rule) = match (a.percentile, a.alert_budget) {
        (Some(p), _) => {
            if pipeline.normal_scores.is_empty() {
                return Err(format!(
                    "{}: saved without its normal scores (an older file); --percentile needs them, --alert-budget does not",
                    a.model.display()
                )
                .into());
            }
            let w = (pipeline.normal_weights.len() == pipeline.normal_scores.len())
                .then_some(pipeline.normal_weights.as_slice());
            let t = apt_llm::detect::Threshold::from_scores(&pipeline.normal_scores, w, p)?;
            (
                t.value,
                format!("{p}th percentile of held-out normal scores"),
            )
        }
        (None, Some(n)) => {
            if n == 0 {
                return Err("--alert-budget must be at least 1".into());
            }
            // The score of the n-th process: flag everything strictly above the next one.
            let mut seen = 0;
            let mut t = f32::NEG_INFINITY;
            for &p in &order {
                seen += patterns.patterns[p].count();
                if seen >= n {
                    t = scores[p];
                    break;
                }
            }
            (
                next_below(t),
                format!("alert budget of {n} processes (ties at the cut flag together)"),
            )
        }
        (None, None) => (
            pipeline.threshold,
            "95th percentile of held-out normal scores (saved with the model)".to_string(),
        ),
    };
    let flagged: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&p| scores[p] > threshold)
        .collect();
    let flagged_processes: usize = flagged.iter().map(|&p| patterns.patterns[p].count()).sum();
    let labelled: usize = ctx.attacks();
    let flagged_attacks: usize = flagged.iter().map(|&p| attacks[p]).sum();
    let mut listed = Vec::new();
    for (rank, &p) in order.iter().take(a.top).enumerate() {
        let pat = &patterns.patterns[p];
        let why = if rank < a.explain && scores[p] > threshold {
            // Only attributes whose removal lowers the score raise it.
            leave_one_out(&tx, &pat.attributes, &encoder, &*detector, 64)?
                .into_iter()
                .filter(|(_, d)| *d > 0.0)
                .take(3)
                .collect()
        } else {
            Vec::new()
        };
        listed.push(serde_json::json!({
            "rank": rank + 1,
            "score": scores[p],
            "flagged": scores[p] > threshold,
            "process": ctx.context.records[pat.rows[0]].id,
            "processes": pat.count(),
            "labelled_attacks": attacks[p],
            "sentence": sentences[p],
            "raised_by": why.iter().map(|(w, d)| serde_json::json!({"attribute": w, "drop": d})).collect::<Vec<_>>(),
        }));
    }
    if a.json {
        let doc = serde_json::json!({
            "context": id.to_string(),
            "processes": ctx.context.len(),
            "patterns": patterns.len(),
            "model": pipeline.combination,
            "trained_on": pipeline.trained_on,
            "threshold": threshold,
            "threshold_rule": rule,
            "flagged_processes": flagged_processes,
            "flagged_patterns": flagged.len(),
            "labelled_attacks": labelled,
            "labelled_attacks_flagged": flagged_attacks,
            "top": listed,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    println!(
        "{}: {} processes ({} distinct patterns) scored with {} (fitted on {})",
        id,
        ctx.context.len(),
        patterns.len(),
        pipeline.combination,
        pipeline.trained_on,
    );
    println!(
        "threshold {threshold:.5} ({rule}): {flagged_processes} processes flagged ({} distinct patterns)",
        flagged.len()
    );
    if labelled > 0 {
        println!("labelled attacks: {flagged_attacks} of {labelled} flagged");
    }
    println!(
        "top {} distinct patterns (one line stands for every process that shares it):",
        listed.len()
    );
    for item in &listed {
        let flag = if item["flagged"] == true {
            "FLAG"
        } else {
            "    "
        };
        println!(
            "{flag} {:>3}. {:.5}  {} ({} processes, {} labelled attack)  {}",
            item["rank"],
            item["score"].as_f64().unwrap_or(f64::NAN),
            item["process"].as_str().unwrap_or(""),
            item["processes"],
            item["labelled_attacks"],
            item["sentence"].as_str().unwrap_or("")
        );
        if let Some(why) = item["raised_by"].as_array()
            && item["flagged"] == true
            && (item["rank"].as_u64().unwrap_or(0) as usize) <= a.explain
        {
            if why.is_empty() {
                println!(
                    "            no single attribute raises it: the combination is what is unusual"
                );
            } else {
                let top: Vec<String> = why
                    .iter()
                    .map(|w| {
                        format!(
                            "\"{}\" {:+.5}",
                            w["attribute"].as_str().unwrap_or(""),
                            w["drop"].as_f64().unwrap_or(0.0)
                        )
                    })
                    .collect();
                println!("            raised most by: {}", top.join(", "));
            }
        }
    }
    Ok(())
}

/// The largest f32 below `x` (so that `score > threshold` flags `x` itself).
fn next_below(x: f32) -> f32 {
    if x.is_finite() {
        let b = x.to_bits();
        let y = if x > 0.0 {
            b - 1
        } else if x == 0.0 {
            0x8000_0001
        } else {
            b + 1
        };
        f32::from_bits(y)
    } else {
        x
    }
}

/// `0.123`, or `-` for a number that does not exist (NaN); never `-0.000`.
fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{:.3}", x + 0.0)
    } else {
        "-".into()
    }
}
