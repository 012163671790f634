//! Each autoencoder learns, weighting is exact, models persist, seeds repeat.

use apt_llm_autoencoders::{
    Autoencoder, AutoencoderConfig, CpuKernels, FittedAutoencoder, Noise, Variant,
};
use apt_llm_detect::{DetectError, Detector, Fit, TrainSet};
use apt_llm_metrics::roc_auc;
use ndarray::{Array1, Array2, Axis, concatenate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Normal rows: mixtures of 3 prototypes in 16-d; outliers: random directions.
fn data(seed: u64) -> (Array2<f32>, Array2<f32>, Vec<bool>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let protos: Vec<Vec<f32>> = (0..3)
        .map(|_| (0..16).map(|_| rng.random::<f32>()).collect())
        .collect();
    let normal = |n: usize, rng: &mut ChaCha8Rng| {
        Array2::from_shape_fn((n, 16), |(i, j)| {
            protos[i % 3][j] + 0.03 * (rng.random::<f32>() - 0.5)
        })
    };
    let train = normal(600, &mut rng);
    let test_normal = normal(60, &mut rng);
    let outliers = Array2::from_shape_fn((12, 16), |_| rng.random::<f32>());
    let test = concatenate![Axis(0), test_normal, outliers];
    let labels = (0..72).map(|i| i >= 60).collect();
    (train, test, labels)
}

fn small(cfg: AutoencoderConfig) -> AutoencoderConfig {
    AutoencoderConfig {
        encoder_widths: vec![32, 16],
        bottleneck_widths: vec![8],
        latent: 4,
        attention_tokens: 4,
        attention_dim: 8,
        epochs: 40,
        batch_size: 64,
        min_steps: 300,
        ..cfg
    }
}

fn check_learns(cfg: AutoencoderConfig) {
    let (train, test, labels) = data(1);
    let name = cfg.name();
    let m = Autoencoder::new(small(cfg))
        .fit(&TrainSet::new(train.view()))
        .unwrap();
    let h = m.loss_history().unwrap();
    assert!(
        h.last().unwrap().0 < 0.5 * h[0].0,
        "{name}: loss {:?} -> {:?}",
        h[0],
        h.last()
    );
    let s = m.score(test.view()).unwrap();
    let auc = roc_auc(s.as_slice().unwrap(), &labels).unwrap();
    assert!(auc > 0.95, "{name}: AUC {auc}");
    let flagged = m.predict(test.view()).unwrap();
    assert!(
        flagged[60..].iter().filter(|&&f| f).count() >= 10,
        "{name}: threshold flags outliers"
    );
}

#[test]
fn ae_learns() {
    check_learns(AutoencoderConfig::ae());
}
/// The KL term is divided by the input width: on 16-d toy rows it weighs 24 times more
/// than on 384-d embeddings, and β = 1 collapses the posterior here (the decoder then
/// learns the mean, loss 0.17 → 0.16, still AUC 1). β = 0.1 gives the toy the balance
/// real embeddings get at β = 1.
fn toy_vae() -> AutoencoderConfig {
    AutoencoderConfig {
        variant: Variant::Vae { beta: 0.1 },
        ..AutoencoderConfig::default()
    }
}

#[test]
fn vae_learns() {
    check_learns(toy_vae());
}
#[test]
fn dae_learns() {
    check_learns(AutoencoderConfig::dae());
    check_learns(AutoencoderConfig {
        variant: Variant::Dae {
            noise: Noise::Mask { probability: 0.2 },
        },
        ..AutoencoderConfig::default()
    });
}
#[test]
fn attention_variants_learn() {
    check_learns(AutoencoderConfig::ae().with_attention(true));
    check_learns(toy_vae().with_attention(true));
    check_learns(AutoencoderConfig::dae().with_attention(true));
}

#[test]
fn weighted_patterns_optimise_the_same_objective_as_all_rows() {
    // 12 distinct rows with counts summing to 100; one batch holds everything, no dropout:
    // each step sees exactly the same loss and gradient.
    let (train, test, _) = data(2);
    let distinct = train.slice(ndarray::s![..12, ..]).to_owned();
    let counts: Vec<f32> = (0..12).map(|i| [1.0, 3.0, 20.0, 5.0][i % 4]).collect();
    let total: f32 = counts.iter().sum();
    let mut expanded = Vec::new();
    for (i, &c) in counts.iter().enumerate() {
        for _ in 0..c as usize {
            expanded.push(distinct.row(i).insert_axis(Axis(0)));
        }
    }
    let expanded = concatenate(Axis(0), &expanded).unwrap();
    let cfg = AutoencoderConfig {
        dropout: 0.0,
        batch_size: 256,
        epochs: 20,
        min_steps: 100,
        ..small(AutoencoderConfig::ae())
    };
    assert!(total as usize <= cfg.batch_size);
    let w = Array1::from(counts);
    let a = Autoencoder::new(cfg.clone())
        .fit(&TrainSet::new(distinct.view()).with_weights(w.view()))
        .unwrap();
    let b = Autoencoder::new(cfg)
        .fit(&TrainSet::new(expanded.view()))
        .unwrap();
    let (sa, sb) = (a.score(test.view()).unwrap(), b.score(test.view()).unwrap());
    for (x, y) in sa.iter().zip(sb.iter()) {
        assert!((x - y).abs() <= 1e-4 * y.abs().max(1e-3), "{x} vs {y}");
    }
    let (ha, hb) = (a.loss_history().unwrap(), b.loss_history().unwrap());
    assert!(
        (ha[0].0 - hb[0].0).abs() < 1e-5,
        "{:?} vs {:?}",
        ha[0],
        hb[0]
    );
    assert_eq!(a.report().steps, b.report().steps);
}

#[test]
fn save_load_score_is_identical() {
    let (train, test, _) = data(3);
    for cfg in [
        AutoencoderConfig::ae(),
        AutoencoderConfig::vae().with_attention(true),
    ] {
        let m = Autoencoder::new(AutoencoderConfig {
            epochs: 5,
            min_steps: 20,
            ..small(cfg)
        })
        .fit(&TrainSet::new(train.view()))
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.json");
        m.save(&path).unwrap();
        let back = FittedAutoencoder::load(&path).unwrap();
        assert_eq!(
            m.score(test.view()).unwrap(),
            back.score(test.view()).unwrap()
        );
        assert_eq!(m.threshold(), back.threshold());
        assert_eq!(m.loss_history(), back.loss_history());
    }
}

#[test]
fn seeds_make_runs_repeatable() {
    let (train, test, _) = data(4);
    let fit = |seed| {
        Autoencoder::new(AutoencoderConfig {
            epochs: 5,
            min_steps: 20,
            ..small(AutoencoderConfig::dae().with_seed(seed))
        })
        .fit(&TrainSet::new(train.view()))
        .unwrap()
        .score(test.view())
        .unwrap()
    };
    assert_eq!(fit(7), fit(7));
    assert_ne!(fit(7), fit(8));
}

/// The experiment runner fits many models at once: a fit's result must not depend on what
/// other threads are fitting (the backend's generator is global).
#[test]
fn concurrent_fits_repeat_the_sequential_result() {
    let (train, test, _) = data(5);
    let fit = |seed: u64| {
        Autoencoder::new(AutoencoderConfig {
            epochs: 3,
            min_steps: 10,
            ..small(AutoencoderConfig::ae().with_seed(seed))
        })
        .fit(&TrainSet::new(train.view()))
        .unwrap()
        .score(test.view())
        .unwrap()
    };
    let alone = fit(11);
    for _ in 0..3 {
        let together: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..6u64)
                .map(|i| s.spawn(move || (i, fit(if i % 2 == 0 { 11 } else { 100 + i }))))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (i, scores) in together {
            if i % 2 == 0 {
                assert_eq!(scores, alone, "thread {i} drifted from the sequential fit");
            }
        }
    }
}

/// The CPU fast path and burn's autodiff start from the same weights and draw the same
/// batches, noise and masks: whole fits (early stopping included) end at the same model up
/// to float rounding, for every variant.
#[test]
fn fast_and_burn_kernels_train_the_same_model() {
    let (train, test, _) = data(6);
    let val = train.slice(ndarray::s![..100, ..]).to_owned();
    for cfg in [
        AutoencoderConfig::ae(),
        AutoencoderConfig::vae(),
        AutoencoderConfig::dae(),
        AutoencoderConfig::ae().with_attention(true),
        AutoencoderConfig::vae().with_attention(true),
    ] {
        let cfg = AutoencoderConfig {
            epochs: 8,
            min_steps: 60,
            ..small(cfg)
        };
        let fit = |k: CpuKernels| {
            Autoencoder::new(cfg.clone())
                .with_cpu_kernels(k)
                .fit(&TrainSet::new(train.view()).with_validation(val.view(), None))
                .unwrap()
        };
        let (fast, burn) = (fit(CpuKernels::Fast), fit(CpuKernels::Burn));
        assert_eq!(fast.report().steps, burn.report().steps);
        assert_eq!(
            fast.report().best_epoch,
            burn.report().best_epoch,
            "{}",
            cfg.name()
        );
        let (a, b) = (
            fast.score(test.view()).unwrap(),
            burn.score(test.view()).unwrap(),
        );
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!(
                (x - y).abs() <= 1e-3 * scale,
                "{}: row {i} scores {x} (fast) vs {y} (burn)",
                cfg.name()
            );
        }
        for ((f, _), (b, _)) in fast.report().history.iter().zip(&burn.report().history) {
            assert!(
                (f - b).abs() <= 1e-3 * b.abs(),
                "{}: train loss {f} vs {b}",
                cfg.name()
            );
        }
    }
}

/// Loading a model builds a network, whose discarded initial weights come from the
/// backend's global generator: that must not shift the seeded initialisation of a fit
/// running at the same time (it did, until loading took the fits' lock).
#[test]
fn loading_models_does_not_disturb_concurrent_fits() {
    let (train, test, _) = data(7);
    let cfg = AutoencoderConfig {
        epochs: 2,
        min_steps: 4,
        ..small(AutoencoderConfig::ae().with_attention(true))
    };
    let fit = || {
        Autoencoder::new(cfg.clone())
            .fit(&TrainSet::new(train.view()))
            .unwrap()
            .score(test.view())
            .unwrap()
    };
    let alone = fit();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    Autoencoder::new(cfg.clone())
        .fit(&TrainSet::new(train.view()))
        .unwrap()
        .save(&path)
        .unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let drifted = std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                FittedAutoencoder::load(&path).unwrap();
            }
        });
        let drifted = (0..20).find(|_| fit() != alone);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        drifted
    });
    assert_eq!(drifted, None, "a fit beside a loading thread drifted");
}

#[test]
fn early_stopping_keeps_the_best_epoch() {
    let (train, _, _) = data(5);
    let val = train.slice(ndarray::s![..100, ..]).to_owned();
    let m = Autoencoder::new(AutoencoderConfig {
        epochs: 60,
        patience: 3,
        ..small(AutoencoderConfig::ae())
    })
    .fit(&TrainSet::new(train.view()).with_validation(val.view(), None))
    .unwrap();
    let h = m.loss_history().unwrap();
    assert!(h.iter().all(|(_, v)| v.is_some()));
    let best = m.report().best_epoch;
    let vbest = h[best].1.unwrap();
    assert!(h.iter().all(|(_, v)| v.unwrap() >= vbest));
}

#[test]
fn per_feature_errors_point_at_the_broken_feature() {
    let (train, _, _) = data(6);
    let m = Autoencoder::new(small(AutoencoderConfig::ae()))
        .fit(&TrainSet::new(train.view()))
        .unwrap();
    let mut probe = train.slice(ndarray::s![..1, ..]).to_owned();
    probe[[0, 5]] += 3.0;
    let e = m.feature_errors(probe.view()).unwrap();
    let worst = e
        .row(0)
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    assert_eq!(worst, 5);
}

#[test]
fn bad_inputs_are_typed_errors_before_training() {
    let (train, _, _) = data(7);
    let ae = Autoencoder::new(small(AutoencoderConfig::ae()));
    let mut nan = train.clone();
    nan[[2, 3]] = f32::INFINITY;
    assert!(matches!(
        ae.fit(&TrainSet::new(nan.view())),
        Err(DetectError::NonFinite {
            row: 2,
            column: 3,
            ..
        })
    ));
    let empty = Array2::<f32>::zeros((0, 16));
    assert!(matches!(
        ae.fit(&TrainSet::new(empty.view())),
        Err(DetectError::Empty)
    ));
    let w = Array1::<f32>::ones(3);
    assert!(matches!(
        ae.fit(&TrainSet::new(train.view()).with_weights(w.view())),
        Err(DetectError::WeightMismatch { .. })
    ));
    for bad in [
        AutoencoderConfig {
            epochs: 0,
            ..AutoencoderConfig::ae()
        },
        AutoencoderConfig {
            learning_rate: -1.0,
            ..AutoencoderConfig::ae()
        },
        AutoencoderConfig {
            dropout: 1.0,
            ..AutoencoderConfig::ae()
        },
        AutoencoderConfig {
            attention_tokens: 7,
            ..AutoencoderConfig::ae().with_attention(true)
        },
        AutoencoderConfig {
            variant: Variant::Vae { beta: f32::NAN },
            ..AutoencoderConfig::ae()
        },
    ] {
        assert!(matches!(
            Autoencoder::new(bad).fit(&TrainSet::new(train.view())),
            Err(DetectError::InvalidParameter { .. })
        ));
    }
    let m = Autoencoder::new(AutoencoderConfig {
        epochs: 1,
        min_steps: 1,
        ..small(AutoencoderConfig::ae())
    })
    .fit(&TrainSet::new(train.view()))
    .unwrap();
    let wrong = Array2::<f32>::zeros((2, 15));
    assert!(matches!(
        m.score(wrong.view()),
        Err(DetectError::DimensionMismatch {
            expected: 16,
            found: 15
        })
    ));
    assert!(FittedAutoencoder::load(std::path::Path::new("/nonexistent/model.json")).is_err());
}
