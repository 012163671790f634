//! End-to-end grid on one synthetic context: sentences → tiny-BERT embeddings → AE, VAE,
//! DAE (± attention), OC-SVM, DBSCAN, IForest → metrics.

use apt_llm::provenance::SyntheticConfig;
use apt_llm::runner::{
    AttentionMode, DataSource, DetectorChoice, EncoderSpec, ExperimentConfig, PriorMode, run,
};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let Some(models) = apt_llm_testkit::model_fixtures() else {
        return;
    };
    let encoder = std::env::var("APT_LLM_BENCH_ENCODER")
        .unwrap_or_else(|_| models.join("tiny-bert").display().to_string());
    let cfg = ExperimentConfig {
        data: DataSource::Synthetic(vec![SyntheticConfig {
            processes: 20_000,
            seed: 5,
            ..Default::default()
        }]),
        encoders: vec![EncoderSpec::Named(encoder)],
        detectors: DetectorChoice::PAPER.to_vec(),
        attention: AttentionMode::Both,
        prior: PriorMode::Off,
        explain: 0,
        ..Default::default()
    };
    let mut g = c.benchmark_group("grid");
    g.sample_size(10);
    g.bench_function("paper_grid_synthetic_20000", |b| {
        b.iter(|| run(&cfg).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
