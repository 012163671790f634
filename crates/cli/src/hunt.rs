//! `apt-llm hunt`: one ranked list of a host's processes, fused across its aspects.

use crate::BoxError;
use crate::choices::{BackendArg, DetectorArg, FusionArg, OnOff};
use apt_llm::embed::cache_dir;
use apt_llm::provenance::{Aspect, Catalog, HostId, default_data_root};
use apt_llm::runner::{
    DetectorChoice, EncoderSpec, ExperimentConfig, HuntConfig, RankedProcess, hunt,
};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct HuntArgs {
    /// ADAPT data root (default: $APT_LLM_DATA).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The host: scenario/performer, e.g. bovia/trace.
    #[arg(long)]
    host: String,
    /// Encoder for embedding detectors: a name (minilm, bert, ...) or a model directory.
    #[arg(long, default_value = "minilm")]
    encoder: String,
    /// Encoder implementation: burn, or tch (needs a build with `--features tch`).
    #[arg(long, value_enum, default_value_t = BackendArg::Burn)]
    backend: BackendArg,
    /// Where the encoder and an autoencoder run: cpu, or gpu (burn's wgpu backend; needs a
    /// build with `--features wgpu`).
    #[arg(long, value_enum, default_value_t = crate::models::DeviceArg::Cpu)]
    device: crate::models::DeviceArg,
    /// Detector fitted on each aspect (avf and oc3 read the attribute rows and need no
    /// encoder; dbscan is transductive and refused, use dbscan-core).
    #[arg(long, value_enum, ignore_case = true, default_value_t = DetectorArg::Dae)]
    detector: DetectorArg,
    /// Self-attention in the autoencoder.
    #[arg(long, value_enum, default_value_t = OnOff::Off)]
    attention: OnOff,
    /// The training-frequency prior in front of an autoencoder.
    #[arg(long, value_enum, default_value_t = OnOff::On)]
    prior: OnOff,
    /// How per-aspect tail probabilities are fused.
    #[arg(long, value_enum, default_value_t = FusionArg::Fisher)]
    fusion: FusionArg,
    /// Share of each aspect's processes held out (by a seeded hash of the id) to calibrate
    /// its scores.
    #[arg(long, default_value_t = 0.1)]
    calibration: f64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Autoencoder epochs.
    #[arg(long, default_value_t = 50)]
    epochs: usize,
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
}

pub fn run(a: HuntArgs) -> Result<(), BoxError> {
    let host: HostId = a.host.parse()?;
    let [detector] = a.detector.choices()[..] else {
        return Err("--detector takes one detector, not all".into());
    };
    if detector == DetectorChoice::Dbscan {
        return Err(
            "--detector dbscan is transductive (it clusters the rows it scores); use dbscan-core"
                .into(),
        );
    }
    let fusion = a.fusion.into();
    let root = a
        .data
        .or_else(default_data_root)
        .ok_or("no data root: pass --data DIR or set APT_LLM_DATA to an ADAPT directory")?;
    let contexts = Catalog::discover(&root)?.load_folder(&host.context(Aspect::ProcessEvent))?;
    a.device.check_backend(a.backend.into())?;
    let device = a.device.device()?;
    // Only a detector that reads embeddings needs the encoder (fetched if not cached).
    let embeds = detector
        .spec(false, a.seed, 1, apt_llm::autoencoders::Scaling::MinMax)
        .representation()
        == apt_llm::detect::Representation::Embedding;
    if embeds {
        crate::models::prefetch(std::slice::from_ref(&a.encoder));
    }
    let cfg = HuntConfig {
        experiment: ExperimentConfig {
            encoders: vec![EncoderSpec::named(a.encoder.clone())],
            backend: a.backend.into(),
            device,
            detectors: vec![detector],
            attention: a.attention.into(),
            prior: a.prior.into(),
            seed: a.seed,
            epochs: a.epochs,
            cache: (!a.no_cache).then(|| cache_dir().join("embeddings")),
            ..Default::default()
        },
        fusion,
        calibration_fraction: a.calibration,
        explain: a.explain.min(a.top),
    };
    let report = hunt(&cfg, &contexts)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "{}: {} processes over {} ({} in some aspects only); {} ⊕ {}; each aspect calibrated on {:.0} % of its processes",
        report.host,
        report.processes,
        report.aspects.join("+"),
        report.partial,
        report.combination,
        report.fusion,
        a.calibration * 100.0
    );
    for (c, why) in &report.left_out {
        println!("  {c} left out: {why}");
    }
    if !report.in_sample_calibration.is_empty() {
        println!(
            "  too few processes to hold any out in {}: calibrated on the training processes",
            report.in_sample_calibration.join(", ")
        );
    }
    for (rank, p) in report.ranked.iter().take(a.top).enumerate() {
        print_process(rank, p);
    }
    if report.labelled_attacks > 0 {
        let n = report.labelled_attacks;
        println!(
            "labelled attacks: {} of {n} in the top {}, {} in the top {}, {} in the top {}",
            report.attacks_in_top(a.top),
            a.top,
            report.attacks_in_top(n),
            n,
            report.attacks_in_top(2 * n),
            2 * n
        );
    }
    Ok(())
}

fn print_process(rank: usize, p: &RankedProcess) {
    let label = match p.attack {
        Some(true) => " [labelled attack]",
        _ => "",
    };
    println!("{:>4}. {:>7.2}  {}{label}", rank + 1, p.score, p.process);
    for e in &p.evidence {
        let attrs: Vec<String> = e
            .rarest
            .iter()
            .map(|(a, c)| format!("`{a}` in {c}"))
            .collect();
        println!(
            "          {} p={:.4}: {} identical of {} training processes; rarest: {}",
            e.aspect,
            e.p_value,
            e.identical_in_training,
            e.training_processes,
            attrs.join(", ")
        );
    }
}
