//! The paper's full grid: every encoder × {AE, VAE, DAE} × attention on/off, plus
//! OC-SVM, DBSCAN and Isolation Forest, over every context; writes the report and figures.
//!
//! ```text
//! cargo run --release --example reproduce_paper -- DATA_ROOT OUT_DIR [ENCODER ...]
//! ```
//! Encoders default to all five families; those not found (no directory, not in a cache)
//! are reported and skipped. Without DATA_ROOT it runs on the bundled synthetic contexts.

use apt_llm::runner::{
    DataSource, DetectorChoice, EncoderSpec, ExperimentConfig, PriorMode, run, selections,
    write_outputs,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let data = match args.first() {
        Some(root) if root != "-" => DataSource::Root(root.into()),
        _ => DataSource::bundled(),
    };
    let out = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "paper-results".into());
    let encoders: Vec<EncoderSpec> = if args.len() > 2 {
        args[2..].iter().cloned().map(EncoderSpec::Named).collect()
    } else {
        ["minilm", "bert", "albert", "distilbert", "roberta"]
            .into_iter()
            .map(EncoderSpec::named)
            .collect()
    };
    let epochs = std::env::var("APT_LLM_EPOCHS")
        .ok()
        .and_then(|e| e.parse().ok())
        .unwrap_or(50);
    let cfg = ExperimentConfig {
        data,
        encoders,
        detectors: DetectorChoice::PAPER.to_vec(),
        // The paper's autoencoders score reconstruction error alone.
        prior: PriorMode::Off,
        epochs,
        ..Default::default()
    };
    let report = run(&cfg)?;
    write_outputs(
        &report,
        out.as_ref(),
        "cargo run --example reproduce_paper",
        None,
    )?;
    for (name, why) in &report.unavailable_encoders {
        println!("skipped {name}: {why}");
    }
    for s in selections(&report) {
        println!(
            "{:<28} paper {:.3}  honest {:.3}  ceiling {:.3}",
            s.context,
            s.paper_best.1,
            s.honest.map_or(f64::NAN, |h| h.1),
            s.tie_ceiling
        );
    }
    println!("report: {out}/report.md ({:.1} s)", report.seconds);
    Ok(())
}
