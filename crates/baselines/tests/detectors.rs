//! The baselines on synthetic data with known answers, persistence, weighting, and one
//! real context.

use apt_llm_baselines::{
    Dbscan, DbscanScore, FittedDbscan, FittedIsolationForest, FittedOneClassSvm, IsolationForest,
    OneClassSvm,
};
use apt_llm_detect::{DetectError, Detector, Fit, TrainSet};
use apt_llm_metrics::roc_auc;
use ndarray::{Array1, Array2, Axis, concatenate};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// 400 normal rows around the origin (σ = 0.3) and 20 scattered outliers around (3, 3, ...).
fn blobs(dim: usize, seed: u64) -> (Array2<f32>, Array2<f32>, Vec<bool>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = Normal::new(0.0f32, 0.3).unwrap();
    let train = Array2::from_shape_fn((400, dim), |_| n.sample(&mut rng));
    let normal_test = Array2::from_shape_fn((100, dim), |_| n.sample(&mut rng));
    // Scattered outliers: far from the normals and from each other.
    let wide = Normal::new(0.0f32, 2.0).unwrap();
    let outliers = Array2::from_shape_fn((20, dim), |_| 3.0 + wide.sample(&mut rng));
    let test = concatenate![Axis(0), normal_test, outliers];
    let labels = (0..120).map(|i| i >= 100).collect();
    (train, test, labels)
}

fn auc_of(d: &dyn Detector, x: &Array2<f32>, l: &[bool]) -> f64 {
    roc_auc(d.score(x.view()).unwrap().as_slice().unwrap(), l).unwrap()
}

#[test]
fn every_baseline_separates_planted_outliers() {
    let (train, test, labels) = blobs(8, 1);
    let ts = TrainSet::new(train.view());
    let svm = OneClassSvm::default().fit(&ts).unwrap();
    assert!(auc_of(&svm, &test, &labels) > 0.99);
    let forest = IsolationForest::default().fit(&ts).unwrap();
    assert!(auc_of(&forest, &test, &labels) > 0.99);
    let core = Dbscan {
        eps: 1.0,
        ..Default::default()
    }
    .fit(&ts)
    .unwrap();
    assert!(core.n_core > 100);
    assert!(auc_of(&core, &test, &labels) > 0.99);
    // The authors' transductive DBSCAN gives a binary score.
    let trans = Dbscan {
        eps: 1.0,
        ..Dbscan::transductive()
    }
    .fit(&ts)
    .unwrap();
    let s = trans.score(test.view()).unwrap();
    assert!(s.iter().all(|&v| v == 0.0 || v == 1.0));
    assert!(auc_of(&trans, &test, &labels) > 0.9);
}

#[test]
fn saved_models_score_identically() {
    let (train, test, _) = blobs(5, 2);
    let ts = TrainSet::new(train.view());
    let dir = tempfile_dir();
    let svm = OneClassSvm::default().fit(&ts).unwrap();
    svm.save(&dir.join("svm.json")).unwrap();
    let back = FittedOneClassSvm::load(&dir.join("svm.json")).unwrap();
    assert_eq!(
        svm.score(test.view()).unwrap(),
        back.score(test.view()).unwrap()
    );
    let f = IsolationForest::default().fit(&ts).unwrap();
    f.save(&dir.join("if.json")).unwrap();
    let back = FittedIsolationForest::load(&dir.join("if.json")).unwrap();
    assert_eq!(
        f.score(test.view()).unwrap(),
        back.score(test.view()).unwrap()
    );
    let d = Dbscan::default().fit(&ts).unwrap();
    d.save(&dir.join("db.json")).unwrap();
    let back = FittedDbscan::load(&dir.join("db.json")).unwrap();
    assert_eq!(
        d.score(test.view()).unwrap(),
        back.score(test.view()).unwrap()
    );
    // Loading the wrong kind is an error, not a panic.
    assert!(FittedIsolationForest::load(&dir.join("svm.json")).is_err());
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("apt-llm-baselines-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn weighted_patterns_equal_repeated_rows() {
    // 5 distinct rows with counts; the forest sees exactly the same samples either way.
    let distinct = Array2::from_shape_fn((5, 3), |(i, j)| (i * 3 + j) as f32 * 0.1);
    let counts = Array1::from(vec![50.0f32, 3.0, 1.0, 20.0, 7.0]);
    let mut rep = Vec::new();
    for (i, &c) in counts.iter().enumerate() {
        for _ in 0..c as usize {
            rep.push(distinct.row(i).to_owned());
        }
    }
    let views: Vec<_> = rep.iter().map(|r| r.view().insert_axis(Axis(0))).collect();
    let expanded = concatenate(Axis(0), &views).unwrap();
    let probe = Array2::from_shape_fn((7, 3), |(i, j)| (i + j) as f32 * 0.2);
    let a = IsolationForest {
        sample_size: 32,
        ..Default::default()
    }
    .fit(&TrainSet::new(distinct.view()).with_weights(counts.view()))
    .unwrap();
    let b = IsolationForest {
        sample_size: 32,
        ..Default::default()
    }
    .fit(&TrainSet::new(expanded.view()))
    .unwrap();
    assert_eq!(
        a.score(probe.view()).unwrap(),
        b.score(probe.view()).unwrap()
    );

    let a = Dbscan {
        eps: 0.2,
        min_points: 10,
        score: DbscanScore::CoreDistance,
        ..Default::default()
    }
    .fit(&TrainSet::new(distinct.view()).with_weights(counts.view()))
    .unwrap();
    let b = Dbscan {
        eps: 0.2,
        min_points: 10,
        score: DbscanScore::CoreDistance,
        ..Default::default()
    }
    .fit(&TrainSet::new(expanded.view()))
    .unwrap();
    assert_eq!(
        a.score(probe.view()).unwrap(),
        b.score(probe.view()).unwrap()
    );
}

#[test]
fn seeds_make_forests_repeatable() {
    let (train, test, _) = blobs(4, 3);
    let ts = TrainSet::new(train.view());
    let a = IsolationForest::default()
        .fit(&ts)
        .unwrap()
        .score(test.view())
        .unwrap();
    let b = IsolationForest::default()
        .fit(&ts)
        .unwrap()
        .score(test.view())
        .unwrap();
    let c = IsolationForest {
        seed: 9,
        ..Default::default()
    }
    .fit(&ts)
    .unwrap()
    .score(test.view())
    .unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn svm_caps_its_training_rows() {
    let (train, _, _) = blobs(3, 4);
    let m = OneClassSvm {
        max_train_rows: 100,
        ..Default::default()
    }
    .fit(&TrainSet::new(train.view()))
    .unwrap();
    assert_eq!(m.train_rows, 100);
    assert!(m.subsampled);
    assert!((m.gamma() - 1.0 / 3.0).abs() < 1e-12);
}

#[test]
fn bad_parameters_and_inputs_are_errors_before_work() {
    let (train, _, _) = blobs(3, 5);
    let ts = TrainSet::new(train.view());
    assert!(matches!(
        OneClassSvm {
            nu: 0.0,
            ..Default::default()
        }
        .fit(&ts),
        Err(DetectError::InvalidParameter { name: "nu", .. })
    ));
    assert!(matches!(
        IsolationForest {
            trees: 0,
            ..Default::default()
        }
        .fit(&ts),
        Err(DetectError::InvalidParameter { name: "trees", .. })
    ));
    assert!(matches!(
        Dbscan {
            eps: -1.0,
            ..Default::default()
        }
        .fit(&ts),
        Err(DetectError::InvalidParameter { name: "eps", .. })
    ));
    let f = IsolationForest::default().fit(&ts).unwrap();
    let wrong = Array2::<f32>::zeros((2, 4));
    assert!(matches!(
        f.score(wrong.view()),
        Err(DetectError::DimensionMismatch {
            expected: 3,
            found: 4
        })
    ));
    let mut nan = train.clone();
    nan[[3, 1]] = f32::NAN;
    assert!(matches!(
        IsolationForest::default().fit(&TrainSet::new(nan.view())),
        Err(DetectError::NonFinite {
            row: 3,
            column: 1,
            ..
        })
    ));
}

#[apt_llm_testkit::needs(data)]
#[test]
fn real_context_bovia_cadets_process_event() {
    use apt_llm_provenance::{Catalog, Patterns, SplitConfig};
    let Some(root) = apt_llm_testkit::data_root() else {
        return;
    };
    let c = Catalog::discover(root)
        .unwrap()
        .load(&"bovia/cadets/PE".parse().unwrap())
        .unwrap();
    let dim = c.context.attributes.len();
    let patterns = Patterns::from_context(&c.context);
    let dense = |attrs: &[u32]| {
        let mut v = vec![0f32; dim];
        for &a in attrs {
            v[a as usize] = 1.0;
        }
        v
    };
    let px: Vec<f32> = patterns
        .patterns
        .iter()
        .flat_map(|p| dense(&p.attributes))
        .collect();
    let px = Array2::from_shape_vec((patterns.len(), dim), px).unwrap();
    let split = SplitConfig::default().split(&c.labels.flags).unwrap();
    let train = patterns.weighted(&split.train);
    let tx = px.select(Axis(0), &train.iter().map(|t| t.0).collect::<Vec<_>>());
    let tw = Array1::from(train.iter().map(|t| t.1).collect::<Vec<_>>());
    let test_x = px.select(
        Axis(0),
        &split
            .test
            .iter()
            .map(|&r| patterns.row_pattern[r])
            .collect::<Vec<_>>(),
    );
    let test_l: Vec<bool> = split.test.iter().map(|&r| c.labels.flags[r]).collect();
    let ts = TrainSet::new(tx.view()).with_weights(tw.view());
    let forest = IsolationForest::default().fit(&ts).unwrap();
    let auc = auc_of(&forest, &test_x, &test_l);
    // Attacks in this context use rare event combinations: raw attributes already rank them.
    assert!(
        auc > 0.8,
        "IForest AUC on raw bovia/cadets/PE attributes: {auc}"
    );
    let svm = OneClassSvm::default().fit(&ts).unwrap();
    assert!(svm.train_rows <= 2_000);
    let auc = auc_of(&svm, &test_x, &test_l);
    assert!(auc > 0.5, "OC-SVM AUC {auc}");
}

#[test]
fn weighted_transductive_dbscan_counts_identical_rows() {
    let (_, test, _) = blobs(4, 3);
    let model = Dbscan {
        eps: 0.8,
        ..Dbscan::transductive()
    }
    .fit(&TrainSet::new(test.view()))
    .unwrap();
    // Unit weights: linfa's DBSCAN exactly.
    let ones = Array1::<f32>::ones(test.nrows());
    assert_eq!(
        model
            .score_weighted(test.view(), Some(ones.view()))
            .unwrap(),
        model.score(test.view()).unwrap()
    );
    // Counts equal repetition: repeat some rows, score the repeated set with linfa, and
    // compare each distinct row's label with the weighted run.
    let counts: Vec<usize> = (0..test.nrows()).map(|i| 1 + (i % 4) * (i % 3)).collect();
    let rep_rows: Vec<_> = counts
        .iter()
        .enumerate()
        .flat_map(|(i, &c)| std::iter::repeat_n(test.row(i).insert_axis(Axis(0)), c))
        .collect();
    let rep = concatenate(Axis(0), &rep_rows).unwrap();
    let rep_scores = model.score(rep.view()).unwrap();
    let w = Array1::from_iter(counts.iter().map(|&c| c as f32));
    let weighted = model.score_weighted(test.view(), Some(w.view())).unwrap();
    let mut k = 0;
    for (i, &c) in counts.iter().enumerate() {
        assert_eq!(weighted[i], rep_scores[k], "row {i}");
        k += c;
    }
    // Denser by counting: no more noise than the unweighted run of the distinct rows.
    assert!(weighted.sum() <= model.score(test.view()).unwrap().sum());
}
