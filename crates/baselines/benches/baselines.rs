//! Isolation Forest fit+score on 30,000 x 384, OC-SVM fit on 5,000 x 384.
use apt_llm_baselines::{IsolationForest, OneClassSvm};
use apt_llm_detect::{Detector, Fit, TrainSet};
use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

fn data(n: usize, d: usize) -> Array2<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let dist = Normal::new(0.0f32, 1.0).unwrap();
    Array2::from_shape_fn((n, d), |_| dist.sample(&mut rng))
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("baselines");
    g.sample_size(10);
    let x = data(30_000, 384);
    g.bench_function("iforest_fit_score_30000x384", |b| {
        b.iter(|| {
            let f = IsolationForest::default()
                .fit(&TrainSet::new(x.view()))
                .unwrap();
            f.score(x.view()).unwrap()
        })
    });
    let x = data(5_000, 384);
    g.bench_function("ocsvm_fit_5000x384", |b| {
        b.iter(|| {
            // The full 5,000 rows (the default cap is 2,000).
            OneClassSvm {
                max_train_rows: 5_000,
                ..Default::default()
            }
            .fit(&TrainSet::new(x.view()))
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
