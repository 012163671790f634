//! Fit AE / VAE / DAE (± attention) on 384-d and 768-d rows, batch 256, on the CPU: 200
//! weighted patterns (50 epochs), and the AE on 30,000 unweighted rows (5 epochs) with
//! both CPU kernels (the fast path and burn's autodiff). The PyTorch comparison is
//! `scripts/bench_autoencoder.py` beside the `bench_fit` example (docs/benchmarks.md).

use apt_llm_autoencoders::{Autoencoder, AutoencoderConfig, CpuKernels};
use apt_llm_detect::{Fit, TrainSet};
use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn patterns(dim: usize) -> (Array2<f32>, Array1<f32>, Array2<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let distinct = Array2::from_shape_fn((200, dim), |_| rng.random::<f32>());
    // Zipf-like counts summing to 30,000, as provenance patterns repeat.
    let raw: Vec<f64> = (1..=200).map(|r| 1.0 / r as f64).collect();
    let s: f64 = raw.iter().sum();
    let mut counts: Vec<usize> = raw
        .iter()
        .map(|w| ((w / s) * 30_000.0).floor().max(1.0) as usize)
        .collect();
    let short = 30_000 - counts.iter().sum::<usize>();
    counts[0] += short;
    let mut full = Array2::zeros((30_000, dim));
    let mut r = 0;
    for (i, &c) in counts.iter().enumerate() {
        for _ in 0..c {
            full.row_mut(r).assign(&distinct.row(i));
            r += 1;
        }
    }
    (distinct, counts.iter().map(|&c| c as f32).collect(), full)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("autoencoders");
    g.sample_size(10);
    for dim in [384usize, 768] {
        let (distinct, counts, full) = patterns(dim);
        for (name, cfg) in [
            ("ae", AutoencoderConfig::ae()),
            ("vae", AutoencoderConfig::vae()),
            ("dae", AutoencoderConfig::dae()),
        ] {
            for attention in [false, true] {
                let cfg = AutoencoderConfig {
                    epochs: 50,
                    batch_size: 256,
                    patience: 0,
                    ..cfg.clone().with_attention(attention)
                };
                let tag = format!("{name}{}_{dim}", if attention { "_attn" } else { "" });
                g.bench_function(format!("{tag}_200_weighted_patterns"), |b| {
                    b.iter(|| {
                        Autoencoder::new(cfg.clone())
                            .fit(&TrainSet::new(distinct.view()).with_weights(counts.view()))
                            .unwrap()
                    })
                });
                if name == "ae" {
                    for kernels in [CpuKernels::Fast, CpuKernels::Burn] {
                        let cfg = AutoencoderConfig {
                            epochs: 5,
                            min_steps: 0,
                            ..cfg.clone()
                        };
                        let k = format!("{kernels:?}").to_lowercase();
                        g.bench_function(format!("{tag}_30000_rows_5_epochs_{k}"), |b| {
                            b.iter(|| {
                                Autoencoder::new(cfg.clone())
                                    .with_cpu_kernels(kernels)
                                    .fit(&TrainSet::new(full.view()))
                                    .unwrap()
                            })
                        });
                    }
                }
            }
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
