//! `apt-llm evaluate` and `apt-llm score`.

use crate::BoxError;
use crate::choices::{
    BackendArg, DetectorArg, PrecisionArg, ScalingArg, SwitchArg, TemplateArg, detectors,
};
use apt_llm::detect::Representation;
use apt_llm::embed::{EncoderOptions, SentenceEncoder, cache_dir, load_encoder, resolve_model};
use apt_llm::provenance::{Catalog, ContextId, Patterns, default_data_root};
use apt_llm::runner::{
    DataSource, DetectorChoice, EncoderSpec, ExperimentConfig, ModelFile, ModelFileError,
    attribute_rows, embed_patterns, reasons, registry, run, selections, write_outputs,
};
use apt_llm::textualize::Textualizer;
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
    #[arg(long, value_enum, default_value_t = BackendArg::Burn)]
    backend: BackendArg,
    /// The encoders' arithmetic: f32, or bf16 (the tch backend only).
    #[arg(long, value_enum, default_value_t = PrecisionArg::F32)]
    precision: PrecisionArg,
    /// Where the encoders and autoencoders run: cpu, or gpu (burn's wgpu backend; needs a
    /// build with `--features wgpu`). The other detectors run on the CPU.
    #[arg(long, value_enum, default_value_t = crate::models::DeviceArg::Cpu)]
    device: crate::models::DeviceArg,
    /// Detectors, comma-separated, or `all`.
    #[arg(
        long,
        value_enum,
        ignore_case = true,
        value_delimiter = ',',
        default_value = "ae,vae,dae,oc-svm,dbscan,iforest,rarity,avf,oc3"
    )]
    detectors: Vec<DetectorArg>,
    /// Self-attention in the autoencoders.
    #[arg(long, value_enum, default_value_t = SwitchArg::Both)]
    attention: SwitchArg,
    /// The training-frequency prior in front of the autoencoders (both reuses each fitted
    /// autoencoder).
    #[arg(long, value_enum, default_value_t = SwitchArg::Both)]
    prior: SwitchArg,
    /// Seed of the split (a hash of each process id with the seed) and of every detector.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Autoencoder epochs.
    #[arg(long, default_value_t = 50)]
    epochs: usize,
    /// Autoencoder input scaling.
    #[arg(long, value_enum, default_value_t = ScalingArg::Minmax)]
    scaling: ScalingArg,
    /// Sentence template.
    #[arg(long, value_enum, default_value_t = TemplateArg::Paper)]
    template: TemplateArg,
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
    /// Host view: also calibrate small aspects (fewer than 100 held-out normal processes)
    /// against out-of-fold scores of their training normals (five refits per detector on
    /// those aspects; adds "cross-fitted" keys to hosts.csv).
    #[arg(long)]
    cross_fit: bool,
    /// Also write OUT/host_pvalues.csv: every host test process's calibrated p-value per
    /// aspect and combination, the numbers the host view fuses (to try other rules).
    #[arg(long)]
    host_p_values: bool,
    /// Save each context's best APT-LLM combination (encoder + autoencoder: the paper
    /// pick, best by test AUC on that same context) for `apt-llm score` (into OUT/models).
    #[arg(long)]
    save_models: bool,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

/// Check that `out` can hold the results before any work starts: an existing file, an
/// unwritable place or `OUT/models` being a file would otherwise fail after the whole run.
fn check_output_dir(
    out: &std::path::Path,
    models: bool,
    host_p_values: bool,
) -> Result<(), BoxError> {
    if out.exists() && !out.is_dir() {
        return Err(format!("--out {}: exists and is not a directory", out.display()).into());
    }
    std::fs::create_dir_all(out)
        .map_err(|e| format!("--out {}: cannot create it: {e}", out.display()))?;
    if out.join("hunt.json").exists() {
        return Err(format!(
            "--out {}: holds the models of `apt-llm hunt` (hunt.json); choose another directory",
            out.display()
        )
        .into());
    }
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
    if host_p_values {
        // Written inside the run: a path that cannot be created would lose the whole run.
        let p = out.join("host_pvalues.csv");
        std::fs::File::create(&p).map_err(|e| format!("{}: cannot write it: {e}", p.display()))?;
    }
    Ok(())
}

/// The list of the files a run of `evaluate` wrote into its `--out`, one relative path a
/// line: the next run into the same directory removes them first.
const OUTPUTS_FILE: &str = ".apt-llm-outputs";

/// A path of the outputs list that the next run may remove: a plain file name, or one
/// inside `models/` (the list is read back from disk: untrusted).
fn is_output_path(line: &str) -> bool {
    let plain = |n: &str| apt_llm::detect::is_plain_file_name(n) && n != OUTPUTS_FILE;
    match line.split_once('/') {
        None => plain(line),
        Some(("models", rest)) => plain(rest),
        Some(_) => false,
    }
}

/// The outputs list of `out`, refused unless it is a regular file (or absent): a link
/// there would redirect the write that replaces it.
fn outputs_list(out: &std::path::Path) -> Result<PathBuf, BoxError> {
    let list = out.join(OUTPUTS_FILE);
    match list.symlink_metadata() {
        Ok(m) if !m.is_file() => Err(format!(
            "{}: not a regular file (the list of an earlier run's outputs); remove it",
            list.display()
        )
        .into()),
        _ => Ok(list),
    }
}

/// Remove the files an earlier run listed in `out/.apt-llm-outputs`, so that no figure,
/// table or model of another run sits beside this run's report; other files are left
/// alone, and so is `out/models` when it is not a directory of its own (a link). Says
/// how many.
fn remove_earlier_outputs(out: &std::path::Path) -> Result<(), BoxError> {
    let list = outputs_list(out)?;
    let Ok(text) = std::fs::read_to_string(&list) else {
        return Ok(());
    };
    let models_is_dir = out
        .join("models")
        .symlink_metadata()
        .is_ok_and(|m| m.is_dir());
    let mut removed = 0;
    for line in text.lines().filter(|l| is_output_path(l)) {
        if line.starts_with("models/") && !models_is_dir {
            continue;
        }
        let p = out.join(line);
        if p.symlink_metadata().is_ok_and(|m| m.is_file()) {
            std::fs::remove_file(&p).map_err(|e| {
                format!(
                    "{}: cannot remove this output of an earlier run: {e}",
                    p.display()
                )
            })?;
            removed += 1;
        }
    }
    std::fs::remove_file(&list).map_err(|e| format!("{}: {e}", list.display()))?;
    if removed > 0 {
        eprintln!(
            "removed {removed} files an earlier run wrote into {}",
            out.display()
        );
    }
    Ok(())
}

/// List what this run wrote into `out` (see [`remove_earlier_outputs`]): its tables and
/// figures, and in `models/` the files of its contexts' saved models written since
/// `started`.
fn record_outputs(
    out: &std::path::Path,
    figures: &[String],
    models: Option<(&std::path::Path, &[String])>,
    started: std::time::SystemTime,
) -> Result<(), BoxError> {
    let mut lines: Vec<String> = [
        "results.csv",
        "results.json",
        "report.md",
        "hosts.csv",
        "host_pvalues.csv",
    ]
    .iter()
    .filter(|t| out.join(t).is_file())
    .map(|t| t.to_string())
    .collect();
    for f in figures {
        lines.push(f.clone());
        let svg = std::path::Path::new(f).with_extension("svg");
        if let Some(svg) = svg.to_str().filter(|s| out.join(s).is_file()) {
            lines.push(svg.to_string());
        }
    }
    if let Some((dir, stems)) = models
        && let Ok(entries) = std::fs::read_dir(dir)
    {
        for e in entries.flatten() {
            let fresh = e
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= started);
            if let Some(n) = e.file_name().to_str()
                && fresh
                && stems.iter().any(|s| n.starts_with(&format!("{s}.")))
            {
                lines.push(format!("models/{n}"));
            }
        }
    }
    lines.retain(|l| is_output_path(l));
    lines.sort();
    lines.dedup();
    // Through a temporary file: a reader never sees half a list.
    let list = outputs_list(out)?;
    let tmp = out.join(format!("{OUTPUTS_FILE}.tmp"));
    std::fs::write(&tmp, lines.join("\n") + "\n")
        .and_then(|()| std::fs::rename(&tmp, &list))
        .map_err(|e| format!("{}: {e}", list.display()).into())
}

pub fn evaluate(a: EvaluateArgs) -> Result<(), BoxError> {
    check_output_dir(&a.out, a.save_models, a.host_p_values)?;
    a.device.check_backend(a.backend.into())?;
    let device = a.device.device()?;
    crate::models::prefetch(&a.encoders);
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
    let detectors: Vec<DetectorChoice> = detectors(&a.detectors);
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
        encoders: a.encoders.iter().cloned().map(EncoderSpec::Named).collect(),
        backend: a.backend.into(),
        precision: a.precision.into(),
        device,
        detectors,
        attention: a.attention.into(),
        prior: a.prior.into(),
        template: a.template.into(),
        seed: a.seed,
        epochs: a.epochs,
        scaling: a.scaling.into(),
        min_test_normals: a.min_test_normals,
        cache: (!a.no_cache).then(|| cache_dir().join("embeddings")),
        quiet: a.quiet,
        save_models: a.save_models.then(|| a.out.join("models")),
        cross_fit: a.cross_fit,
        host_p_values: a.host_p_values.then(|| a.out.join("host_pvalues.csv")),
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
    // Every argument is checked by now: an earlier run's outputs go only when this one
    // starts.
    remove_earlier_outputs(&a.out)?;
    // Two seconds of slack for file systems that keep coarse modification times.
    let started = std::time::SystemTime::now() - std::time::Duration::from_secs(2);
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
    // Saved model files are named after their context (`save_model`).
    let stems: Vec<String> = report
        .contexts
        .iter()
        .map(|c| c.context.replace('/', "_"))
        .collect();
    record_outputs(
        &a.out,
        &figures,
        cfg.save_models.as_deref().map(|d| (d, stems.as_slice())),
        started,
    )?;
    if let Some(dir) = &cfg.save_models {
        let saved = stems
            .iter()
            .filter(|s| {
                std::fs::metadata(dir.join(format!("{s}.pipeline.json")))
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t >= started)
            })
            .count();
        if saved == 0 {
            eprintln!(
                "warning: --save-models saved nothing: it saves the best APT-LLM combination (encoder + autoencoder) of each scored context, and this run has none"
            );
        }
    }
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
    /// A model file written by `evaluate --save-models` or `hunt --save-models`
    /// (`<scenario>_<performer>_<aspect>.pipeline.json`, e.g.
    /// OUT/models/bovia_cadets_PE.pipeline.json).
    #[arg(long)]
    model: PathBuf,
    /// ADAPT data root (default: $APT_LLM_DATA).
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
    /// Flag scores above this percentile of the calibration scores saved with the model
    /// (`evaluate`: held-out normal processes; `hunt`: its calibration share) (default:
    /// the threshold saved with it, the 95th percentile).
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

pub fn score(a: ScoreArgs) -> Result<(), BoxError> {
    // The model file and its detector first (any kind the registry knows), then the
    // context, then the encoder it names: each is refused with both sides named.
    let (file, mut model) = ModelFile::open(&a.model, &registry())?;
    let root = a
        .data
        .or_else(default_data_root)
        .ok_or("no data root: pass --data or set APT_LLM_DATA")?;
    let id: ContextId = a.context.parse()?;
    let ctx = Catalog::discover(&root)?.load(&id)?;
    let mismatch = |source| ModelFileError::Mismatch {
        path: a.model.clone(),
        source: Box::new(source),
    };
    file.check(&id, &ctx.context.attributes, None)
        .map_err(mismatch)?;
    let encoder: Option<Box<dyn SentenceEncoder>> = match file.representation {
        Representation::Embedding => {
            let (Some(spec), Some(identity)) = (&file.encoder, &file.encoder_identity) else {
                return Err(mismatch(apt_llm::runner::ModelMismatch::NoEncoderIdentity).into());
            };
            let enc = load_encoder(
                resolve_model(spec)?,
                EncoderOptions {
                    precision: identity.precision,
                    ..Default::default()
                },
                identity.backend,
            )?;
            file.check(&id, &ctx.context.attributes, Some(enc.identity()))
                .map_err(mismatch)?;
            Some(enc)
        }
        Representation::Attributes => None,
    };
    if model.detector().transductive() {
        return Err(format!(
            "{}: a transductive detector ({}): its score of a row depends on the rows scored with it, so the saved calibration scores cannot set its threshold",
            a.model.display(),
            model.detector().name()
        )
        .into());
    }
    for w in file.warnings() {
        eprintln!("warning: {}: {w}", a.model.display());
    }
    let tx = Textualizer::new(file.template.clone(), &ctx.context);
    let patterns = Patterns::from_context(&ctx.context);
    let sentences: Vec<String> = patterns
        .patterns
        .iter()
        .map(|p| tx.sentence_of(&p.attributes, None))
        .collect();
    let x = match &encoder {
        Some(enc) => embed_patterns(&file.template, &ctx.context, &patterns, &**enc)?,
        None => attribute_rows(&patterns, ctx.context.attributes.len()),
    };
    let scores = model.score(x.view())?;
    let attacks = patterns.attack_counts(&ctx.labels.flags);
    let mut order: Vec<usize> = (0..patterns.len()).collect();
    order.sort_by(|&p, &q| scores[q].total_cmp(&scores[p]));
    let (threshold, rule) = match (a.percentile, a.alert_budget) {
        (Some(p), _) => {
            model
                .set_percentile(p)
                .map_err(|e| format!("{}: --percentile {p}: {e}", a.model.display()))?;
            (
                model.threshold().value,
                format!("{p}th percentile of the calibration scores saved with the model"),
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
            model.threshold().value,
            format!(
                "{}th percentile of the calibration scores saved with the model",
                model.threshold().percentile
            ),
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
        let why: Vec<(String, f32)> = if rank < a.explain && scores[p] > threshold {
            // Sentences re-embedded without each phrase, or attribute rows re-scored
            // without each attribute; only attributes whose removal lowers the score.
            reasons(
                &**model.detector(),
                &pat.attributes,
                &ctx.context.attributes,
                encoder.as_deref().map(|enc| (&tx, enc)),
            )?
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
            "model": file.combination,
            "trained_on": file.trained_on,
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
        file.combination,
        file.trained_on,
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
