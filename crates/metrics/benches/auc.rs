//! AUC on 10⁶ scores.
use apt_llm_metrics::{average_precision, roc_auc};
use criterion::{Criterion, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn bench(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let n = 1_000_000;
    let labels: Vec<bool> = (0..n).map(|_| rng.random::<f64>() < 0.01).collect();
    let scores: Vec<f32> = labels
        .iter()
        .map(|&l| rng.random::<f32>() + if l { 0.5 } else { 0.0 })
        .collect();
    let mut g = c.benchmark_group("metrics");
    g.sample_size(10);
    g.bench_function("roc_auc_1e6", |b| {
        b.iter(|| roc_auc(&scores, &labels).unwrap())
    });
    g.bench_function("average_precision_1e6", |b| {
        b.iter(|| average_precision(&scores, &labels, None).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
