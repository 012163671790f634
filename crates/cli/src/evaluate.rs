//! `apt-llm evaluate` and `apt-llm score`.

use crate::BoxError;
use apt_llm::autoencoders::FittedAutoencoder;
use apt_llm::baselines::{FittedDbscan, FittedIsolationForest, FittedOneClassSvm};
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
    /// Detectors: ae, vae, dae, oc-svm, dbscan, dbscan-core, iforest, rarity, or `all`.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "ae,vae,dae,oc-svm,dbscan,iforest,rarity"
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
    /// Context for the per-context figures (default: the largest scored one).
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

pub fn evaluate(a: EvaluateArgs) -> Result<(), BoxError> {
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
    let report = run(&cfg)?;
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
            "{:<28} {:>7.3} {:>7.3} {:>7.3}  {}",
            s.context, s.tie_ceiling, s.paper_best.1, ha, hc
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
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    println!(
        "mean over {} contexts: tie ceiling {:.3}, paper pick {:.3}, honest pick {:.3}",
        sel.len(),
        mean(&|s| Some(s.tie_ceiling)),
        mean(&|s| Some(s.paper_best.1)),
        mean(&|s| s.honest.as_ref().map(|h| h.1))
    );
    let mut bases: Vec<&String> = sel.iter().flat_map(|s| s.baselines.keys()).collect();
    bases.sort();
    bases.dedup();
    for b in bases {
        println!(
            "  baseline {b}: mean AUC {:.3}",
            mean(&|s| s.baselines.get(b).copied())
        );
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
    /// How many top-scoring processes to print.
    #[arg(long, default_value_t = 20)]
    top: usize,
    /// Explain this many of them.
    #[arg(long, default_value_t = 5)]
    explain: usize,
}

fn load_detector(path: &std::path::Path) -> apt_llm::detect::Result<Box<dyn Detector>> {
    let kind = saved_kind(path).unwrap_or_default();
    Ok(match kind.as_str() {
        "rarity" => Box::new(FittedRarity::load(path)?),
        "frequency-prior" => Box::new(FrequencyPrior::load(path, load_detector)?),
        "ocsvm" => Box::new(FittedOneClassSvm::load(path)?),
        "dbscan" => Box::new(FittedDbscan::load(path)?),
        "iforest" => Box::new(FittedIsolationForest::load(path)?),
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
    let flagged: usize = order
        .iter()
        .filter(|&&p| scores[p] > pipeline.threshold)
        .map(|&p| patterns.patterns[p].count())
        .sum();
    println!(
        "{}: {} processes ({} distinct) scored with {} (fitted on {}); threshold {:.5}; {} processes flagged",
        id,
        ctx.context.len(),
        patterns.len(),
        pipeline.combination,
        pipeline.trained_on,
        pipeline.threshold,
        flagged
    );
    for (rank, &p) in order.iter().take(a.top).enumerate() {
        let pat = &patterns.patterns[p];
        let first = &ctx.context.records[pat.rows[0]].id;
        let flag = if scores[p] > pipeline.threshold {
            "FLAG"
        } else {
            "    "
        };
        println!(
            "{flag} {:>3}. {:.5}  {first} (+{} alike, {} labelled attack)  {}",
            rank + 1,
            scores[p],
            pat.count() - 1,
            attacks[p],
            sentences[p]
        );
        if rank < a.explain && scores[p] > pipeline.threshold {
            let why = leave_one_out(&tx, &pat.attributes, &encoder, &*detector, 64)?;
            let top: Vec<String> = why
                .iter()
                .take(3)
                .map(|(w, d)| format!("\"{w}\" {d:+.5}"))
                .collect();
            println!("            raised most by: {}", top.join(", "));
        }
    }
    Ok(())
}
