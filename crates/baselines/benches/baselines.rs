//! Isolation Forest fit+score on 30,000 x 384, OC-SVM fit on 5,000 x 384, and AVF / OC3
//! fit+score on attribute rows the size of the largest real contexts: 1,500 weighted
//! distinct patterns over 30 attributes (a ProcessEvent context) and 60 rows over 6,000
//! sparse attributes (a netflow context).
use apt_llm_baselines::{Avf, IsolationForest, Oc3, OneClassSvm};
use apt_llm_detect::{Detector, Fit, TrainSet};
use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

fn data(n: usize, d: usize) -> Array2<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let dist = Normal::new(0.0f32, 1.0).unwrap();
    Array2::from_shape_fn((n, d), |_| dist.sample(&mut rng))
}

/// Distinct 0/1 patterns: each starts from one of a few templates, with some attributes
/// flipped; weights are heavy-tailed counts, as process counts are.
fn attribute_rows(n: usize, d: usize, templates: usize, flip: f64) -> (Array2<f32>, Array1<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let t: Vec<Vec<bool>> = (0..templates)
        .map(|_| (0..d).map(|_| rng.random_bool(0.3)).collect())
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut rows = Vec::new();
    while rows.len() < n {
        let base = &t[rng.random_range(0..templates)];
        let r: Vec<bool> = base.iter().map(|&b| b ^ rng.random_bool(flip)).collect();
        if seen.insert(r.clone()) {
            rows.push(r);
        }
    }
    let x = Array2::from_shape_fn((n, d), |(i, j)| if rows[i][j] { 1.0 } else { 0.0 });
    let w = Array1::from_shape_fn(n, |i| (1 + 1000 / (i + 1)) as f32);
    (x, w)
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
    for (name, n, d, templates, flip) in [
        ("1500x30", 1500, 30, 12, 0.08),
        ("60x6000", 60, 6000, 4, 0.002),
    ] {
        let (x, w) = attribute_rows(n, d, templates, flip);
        g.bench_function(format!("avf_fit_score_{name}"), |b| {
            b.iter(|| {
                let m = Avf
                    .fit(&TrainSet::new(x.view()).with_weights(w.view()))
                    .unwrap();
                m.score(x.view()).unwrap()
            })
        });
        g.bench_function(format!("oc3_fit_score_{name}"), |b| {
            b.iter(|| {
                let m = Oc3::default()
                    .fit(&TrainSet::new(x.view()).with_weights(w.view()))
                    .unwrap();
                m.score(x.view()).unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
