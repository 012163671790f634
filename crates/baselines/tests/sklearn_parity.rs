//! Isolation Forest scores against scikit-learn 1.9 on the same data (see
//! `data/make_sklearn_iforest.py`): equal within the sampling noise between seeds.

use apt_llm_baselines::IsolationForest;
use apt_llm_detect::{Detector, Fit, TrainSet};
use ndarray::Array2;

fn data(rows: usize, dim: usize) -> Array2<f32> {
    Array2::from_shape_fn((rows, dim), |(i, j)| {
        let v = (i as f64 * 12.9898 + j as f64 * 78.233).sin() * 43758.5453;
        (v - v.floor()) as f32
    })
}

#[test]
fn isolation_forest_matches_scikit_learn() {
    let reference: serde_json::Value =
        serde_json::from_str(include_str!("data/sklearn_iforest.json")).unwrap();
    let expected: Vec<f64> = reference["scores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let seed_std = reference["seed_std"].as_f64().unwrap();
    let x = data(1200, 6);
    let train = x.slice(ndarray::s![..1000, ..]).to_owned();
    let mut test = x.slice(ndarray::s![1000.., ..]).to_owned();
    test.slice_mut(ndarray::s![180.., ..])
        .mapv_inplace(|v| v + 1.5);
    let mut ours = vec![0f64; 200];
    for seed in 0..5 {
        let f = IsolationForest {
            seed,
            ..Default::default()
        }
        .fit(&TrainSet::new(train.view()))
        .unwrap();
        for (o, s) in ours.iter_mut().zip(f.score(test.view()).unwrap()) {
            *o += s as f64 / 5.0;
        }
    }
    let diffs: Vec<f64> = ours
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs())
        .collect();
    let mean = diffs.iter().sum::<f64>() / diffs.len() as f64;
    let max = diffs.iter().cloned().fold(0.0, f64::max);
    // Averages of 5 seeds: noise ~ seed_std / sqrt(5) per side.
    assert!(
        mean < 2.0 * seed_std,
        "mean |ours - sklearn| = {mean}, seed std {seed_std}"
    );
    assert!(max < 0.05, "max |ours - sklearn| = {max}");
    let labels: Vec<bool> = (0..200).map(|i| i >= 180).collect();
    let ours32: Vec<f32> = ours.iter().map(|&v| v as f32).collect();
    let exp32: Vec<f32> = expected.iter().map(|&v| v as f32).collect();
    let a = apt_llm_metrics::roc_auc(&ours32, &labels).unwrap();
    let b = apt_llm_metrics::roc_auc(&exp32, &labels).unwrap();
    assert!((a - b).abs() < 0.01, "AUC ours {a}, sklearn {b}");
}
