//! `apt-llm hunt`: one ranked list of a host's processes, fused across its aspects; the
//! per-aspect models fitted (and saved with `--save-models`) or read with `--model`.

use crate::BoxError;
use crate::choices::{
    AbsentArg, BackendArg, DetectorArg, FusionArg, OnOff, PartnerArg, PrecisionArg,
};
use apt_llm::detect::Representation;
use apt_llm::embed::cache_dir;
use apt_llm::provenance::{Aspect, Catalog, HostId, LabeledContext, default_data_root};
use apt_llm::runner::{
    DetectorChoice, EncoderSpec, ExperimentConfig, HuntConfig, HuntModels, HuntReport, HuntRequest,
    MANIFEST_FILE, RankedProcess, hunt, registry,
};
use clap::Args;
use std::path::{Path, PathBuf};

/// The settings of a fit when the command line leaves them out.
const DEFAULT_ENCODER: &str = "minilm";
const DEFAULT_DETECTOR: DetectorArg = DetectorArg::Dae;
const DEFAULT_CALIBRATION: f64 = 0.1;
const DEFAULT_SEED: u64 = 42;
const DEFAULT_EPOCHS: usize = 50;

#[derive(Args)]
pub struct HuntArgs {
    /// ADAPT data root (default: $APT_LLM_DATA).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The host: scenario/performer, e.g. bovia/trace (with --model: the saved host).
    #[arg(long, required_unless_present = "model")]
    host: Option<String>,
    /// Encoder for embedding detectors: a name (minilm, bert, ...) or a model directory
    /// (default: minilm; with --model, the one the models were fitted with, which another
    /// spelling must resolve to). Refused for detectors of attribute rows.
    #[arg(long)]
    encoder: Option<String>,
    /// Encoder implementation: burn, or tch (needs a build with `--features tch`)
    /// (default: burn; with --model, the saved encoder's, and another is refused).
    #[arg(long, value_enum)]
    backend: Option<BackendArg>,
    /// The encoder's arithmetic: f32, or bf16 (the tch backend only) (default: f32; with
    /// --model, the saved encoder's, and another is refused).
    #[arg(long, value_enum)]
    precision: Option<PrecisionArg>,
    /// Where the encoder and an autoencoder run: cpu, or gpu (burn's wgpu backend; needs a
    /// build with `--features wgpu`).
    #[arg(long, value_enum, default_value_t = crate::models::DeviceArg::Cpu)]
    device: crate::models::DeviceArg,
    /// Detector fitted on each aspect (avf and oc3 read the attribute rows and need no
    /// encoder; dbscan and oc3-transductive score rows by the rows scored with them, which
    /// no held-out normal can calibrate: refused, use dbscan-core or oc3) (default: dae).
    #[arg(long, value_enum, ignore_case = true)]
    detector: Option<DetectorArg>,
    /// A detector of attribute rows fitted beside --detector on every aspect; per aspect
    /// the two p-values are fused by --fusion before the aspects are, as the host view's
    /// pairs (`MiniLM / DAE & - / OC3`). Not the detector itself (default: none).
    #[arg(long, value_enum, ignore_case = true)]
    partner: Option<PartnerArg>,
    /// Self-attention in the autoencoder (default: off; refused for other detectors).
    #[arg(long, value_enum)]
    attention: Option<OnOff>,
    /// The training-frequency prior in front of an autoencoder (default: on; refused for
    /// other detectors).
    #[arg(long, value_enum)]
    prior: Option<OnOff>,
    /// How per-aspect tail probabilities are fused (default: fisher).
    #[arg(long, value_enum)]
    fusion: Option<FusionArg>,
    /// What an aspect a process is absent from contributes (default: neutral, i.e. the
    /// process is ordinary there; skip fuses only the aspects it appears in).
    #[arg(long, value_enum)]
    absent: Option<AbsentArg>,
    /// Share of each aspect's processes held out (by a seeded hash of the id) to calibrate
    /// its scores (default: 0.1).
    #[arg(long)]
    calibration: Option<f64>,
    /// Seed of the calibration split and the detectors (default: 42).
    #[arg(long)]
    seed: Option<u64>,
    /// Autoencoder epochs (default: 50; refused for other detectors).
    #[arg(long)]
    epochs: Option<usize>,
    /// How many processes to print.
    #[arg(long, default_value_t = 20)]
    top: usize,
    /// Explain this many of them across aspects.
    #[arg(long, default_value_t = 5)]
    explain: usize,
    /// Print the whole ranking as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Do not cache embeddings on disk.
    #[arg(long)]
    no_cache: bool,
    /// After fitting, save the per-aspect models (with their calibration scores) and a
    /// manifest, hunt.json, into DIR.
    #[arg(long, value_name = "DIR", conflicts_with = "model")]
    save_models: Option<PathBuf>,
    /// Rank with the models saved in DIR by --save-models (or named by its hunt.json)
    /// instead of fitting. The host, detector and settings are the saved ones; an option
    /// that differs is an error.
    #[arg(long, value_name = "DIR")]
    model: Option<PathBuf>,
}

pub fn run(a: HuntArgs) -> Result<(), BoxError> {
    let root = a
        .data
        .clone()
        .or_else(default_data_root)
        .ok_or("no data root: pass --data DIR or set APT_LLM_DATA to an ADAPT directory")?;
    let (report, calibration) = match &a.model {
        Some(dir) => rank_saved(&a, dir, &root)?,
        None => fit(&a, &root)?,
    };
    print_report(&a, &report, calibration)
}

/// The one detector of `--detector` (or the default), refusing what `hunt` cannot fit.
fn detector_of(arg: DetectorArg) -> Result<DetectorChoice, BoxError> {
    let [detector] = arg.choices()[..] else {
        return Err("--detector takes one detector, not all".into());
    };
    // The library refuses transductive detectors too; the flag's own words are clearer.
    match detector {
        DetectorChoice::Dbscan => Err(
            "--detector dbscan is transductive (it clusters the rows it scores): held-out normals cannot calibrate it; use dbscan-core".into(),
        ),
        DetectorChoice::Oc3Transductive => Err(
            "--detector oc3-transductive is transductive (it mines the rows it scores): held-out normals cannot calibrate it; use oc3".into(),
        ),
        _ => Ok(detector),
    }
}

/// The host's contexts under the data root.
fn host_contexts(root: &Path, host: &HostId) -> Result<Vec<LabeledContext>, BoxError> {
    Ok(Catalog::discover(root)?.load_folder(&host.context(Aspect::ProcessEvent))?)
}

fn cache(a: &HuntArgs) -> Option<PathBuf> {
    (!a.no_cache).then(|| cache_dir().join("embeddings"))
}

/// Fit the models (saving them with `--save-models`) and rank.
fn fit(a: &HuntArgs, root: &Path) -> Result<(HuntReport, f64), BoxError> {
    let host: HostId = a.host.as_deref().ok_or("--host is required")?.parse()?;
    let detector = detector_of(a.detector.unwrap_or(DEFAULT_DETECTOR))?;
    let backend = a.backend.unwrap_or(BackendArg::Burn).into();
    a.device.check_backend(backend)?;
    let device = a.device.device()?;
    let seed = a.seed.unwrap_or(DEFAULT_SEED);
    let encoder = a.encoder.as_deref().unwrap_or(DEFAULT_ENCODER).to_string();
    // Only a detector that reads embeddings needs the encoder (fetched if not cached).
    let embeds = detector
        .spec(false, seed, 1, apt_llm::autoencoders::Scaling::MinMax)
        .representation()
        == Representation::Embedding;
    if let Some((setting, applies_to)) =
        request_of(a)?.moot_setting(detector.is_autoencoder(), embeds)
    {
        return Err(format!(
            "--{setting} applies to {applies_to} only, not to {}",
            detector.name()
        )
        .into());
    }
    let contexts = host_contexts(root, &host)?;
    if embeds {
        crate::models::prefetch(std::slice::from_ref(&encoder));
    }
    let calibration = a.calibration.unwrap_or(DEFAULT_CALIBRATION);
    let cfg = HuntConfig {
        experiment: ExperimentConfig {
            encoders: vec![EncoderSpec::named(encoder)],
            backend,
            precision: a.precision.unwrap_or(PrecisionArg::F32).into(),
            device,
            detectors: vec![detector],
            attention: a.attention.unwrap_or(OnOff::Off).into(),
            prior: a.prior.unwrap_or(OnOff::On).into(),
            seed,
            epochs: a.epochs.unwrap_or(DEFAULT_EPOCHS),
            cache: cache(a),
            ..Default::default()
        },
        fusion: a.fusion.unwrap_or(FusionArg::Fisher).into(),
        absent: a.absent.unwrap_or(AbsentArg::Neutral).into(),
        partner: a.partner.map(Into::into),
        calibration_fraction: calibration,
        explain: a.explain.min(a.top),
    };
    let Some(dir) = &a.save_models else {
        return Ok((hunt(&cfg, &contexts)?, calibration));
    };
    let (models, report) = HuntModels::fit_and_rank(&cfg, &contexts)?;
    let manifest = models.save(dir)?;
    eprintln!(
        "saved {} aspect models of {} with {}",
        models.aspects.len(),
        models.host,
        manifest.display()
    );
    Ok((report, calibration))
}

/// What the command line asks of saved models: only the options given.
fn request_of(a: &HuntArgs) -> Result<HuntRequest, BoxError> {
    Ok(HuntRequest {
        host: a.host.as_deref().map(str::parse).transpose()?,
        detector: a.detector.map(detector_of).transpose()?,
        attention: a.attention.map(|s| s == OnOff::On),
        prior: a.prior.map(|s| s == OnOff::On),
        epochs: a.epochs,
        fusion: a.fusion.map(Into::into),
        absent: a.absent.map(Into::into),
        partner: a.partner.map(Into::into),
        calibration_fraction: a.calibration,
        seed: a.seed,
        precision: a.precision.map(Into::into),
        backend: a.backend.map(Into::into),
        encoder: a.encoder.clone(),
    })
}

/// Rank with the models saved in `dir`, checked against the options and the data.
fn rank_saved(a: &HuntArgs, dir: &Path, root: &Path) -> Result<(HuntReport, f64), BoxError> {
    // The manifest's own path names its directory too.
    let dir = match dir.parent() {
        Some(parent) if dir.is_file() && dir.file_name() == Some(MANIFEST_FILE.as_ref()) => parent,
        _ => dir,
    };
    let models = HuntModels::load(dir, &registry())?;
    models.check_request(&request_of(a)?)?;
    let contexts = host_contexts(root, &models.host)?;
    let backend = a.backend.map(Into::into);
    if let Some(b) = backend {
        a.device.check_backend(b)?;
    }
    let device = a.device.device()?;
    if models.representation == Representation::Embedding {
        let spec = a
            .encoder
            .clone()
            .or_else(|| models.settings.encoder.clone());
        crate::models::prefetch(spec.as_slice());
    }
    let encoder = models.load_encoder(
        a.encoder.as_deref(),
        backend,
        device.as_ref(),
        cache(a).as_deref(),
    )?;
    let report = models.rank(&contexts, encoder.as_deref(), a.explain.min(a.top))?;
    if let Some(manifest) = &models.manifest {
        eprintln!("ranked with the models of {}", manifest.display());
    }
    Ok((report, models.settings.calibration_fraction))
}

fn print_report(a: &HuntArgs, report: &HuntReport, calibration: f64) -> Result<(), BoxError> {
    if a.json {
        println!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    println!(
        "{}: {} processes over {} ({} in some aspects only); {} ⊕ {} (absent aspects: {}); each aspect calibrated on {:.0} % of its processes",
        report.host,
        report.processes,
        report.aspects.join("+"),
        report.partial,
        report.combination,
        report.fusion,
        report.absent,
        calibration * 100.0
    );
    for (c, why) in &report.left_out {
        println!("  {c} left out: {why}");
    }
    if !report.in_sample_calibration.is_empty() {
        println!(
            "  the calibration share holds no process of {}: calibrated on the training processes",
            report.in_sample_calibration.join(", ")
        );
    }
    if report.combination.contains(" & ") {
        println!(
            "  p: both detectors' p-values fused per aspect; \"raised most by\": the first detector's reasons"
        );
    }
    println!("rank  score = -ln(fused p)  process");
    for (rank, p) in report.ranked.iter().take(a.top).enumerate() {
        print_process(rank, p);
    }
    if report.labelled_attacks > 0 {
        let n = report.labelled_attacks;
        let top = |k: usize| {
            let tie = report.tie_at_cut(k).map_or(String::new(), |(f, l)| {
                format!(" (ranks {f}-{l} tie: the count depends on how ties are ordered)")
            });
            format!("{} in the top {k}{tie}", report.attacks_in_top(k))
        };
        println!(
            "labelled attacks: {n} in all; {}, {}, {}",
            top(a.top),
            top(n),
            top(2 * n)
        );
    }
    Ok(())
}

fn print_process(rank: usize, p: &RankedProcess) {
    let label = match p.attack {
        Some(true) => " [labelled attack]",
        _ => "",
    };
    // -ln 1 prints as 0.00, not -0.00.
    println!(
        "{:>4}. {:>7.2}  {}{label}",
        rank + 1,
        p.score.max(0.0),
        p.process
    );
    for e in &p.evidence {
        let attrs: Vec<String> = e
            .rarest
            .iter()
            .map(|(a, c)| format!("`{a}` in {c}"))
            .collect();
        let raised: Vec<String> = e
            .raised_by
            .iter()
            .map(|(a, d)| format!("`{a}` (+{})", apt_llm::runner::drop_text(*d)))
            .collect();
        println!(
            "          {} p={:.4}: {} identical of {} training processes; rarest: {}{}",
            e.aspect,
            e.p_value,
            e.identical_in_training,
            e.training_processes,
            attrs.join(", "),
            if raised.is_empty() {
                String::new()
            } else {
                format!("; raised most by {}", raised.join(", "))
            }
        );
    }
}
