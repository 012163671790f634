//! The GPU path: burn's wgpu backend (feature `wgpu`) runs the same encoders and
//! autoencoders as the CPU and must agree with it. Compiled only with `--features wgpu`
//! and run where a GPU is (CI has none):
//!
//! ```text
//! cargo test --release --features wgpu --test gpu -- --nocapture            # parity
//! cargo test --release --features wgpu --test gpu -- --ignored --nocapture  # timings
//! ```
#![cfg(feature = "wgpu")]

use apt_llm::autoencoders::{Autoencoder, AutoencoderConfig};
use apt_llm::detect::{Detector, Fit, TrainSet};
use apt_llm::embed::{EncoderOptions, SentenceEncoder, TransformerEncoder, gpu_device};
use apt_llm::metrics::roc_auc;
use ndarray::{Array2, Axis, concatenate};
use std::time::Instant;

fn fixtures() -> std::path::PathBuf {
    apt_llm_testkit::model_fixtures()
        .expect("the GPU check needs the tiny model fixtures (APT_LLM_FIXTURES)")
}

fn texts(dir: &std::path::Path) -> Vec<String> {
    let g: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("golden.json")).unwrap()).unwrap();
    g["single"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap().to_string())
        .chain(std::iter::once(
            "The process has event open a file and event write to the file and event send network data and event receive network data.".to_string(),
        ))
        .collect()
}

#[test]
fn tiny_encoders_on_the_gpu_agree_with_the_cpu() {
    let root = fixtures();
    for name in [
        "tiny-bert",
        "tiny-distilbert",
        "tiny-roberta",
        "tiny-albert",
    ] {
        let dir = root.join(name);
        let t = texts(&dir);
        let refs: Vec<&str> = t.iter().map(String::as_str).collect();
        let cpu = TransformerEncoder::from_dir(&dir, EncoderOptions::default()).unwrap();
        let gpu = TransformerEncoder::from_dir(
            &dir,
            EncoderOptions {
                device: Some(gpu_device()),
                ..Default::default()
            },
        )
        .unwrap();
        let a = cpu.encode(&refs).unwrap();
        let b = gpu.encode(&refs).unwrap();
        assert_eq!(a.dim(), b.dim());
        let diff = (&a - &b).mapv(f32::abs).fold(0f32, |m, &v| m.max(v));
        println!(
            "{name}: {} sentences, max |cpu - gpu| = {diff:e}",
            refs.len()
        );
        assert!(diff < 1e-4, "{name}: GPU differs from CPU by {diff}");
    }
}

/// 384-d rows near three prototypes (normal) and random rows (outliers).
fn data(n_train: usize) -> (Array2<f32>, Array2<f32>, Vec<bool>) {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    let protos: Vec<Vec<f32>> = (0..3).map(|_| (0..384).map(|_| next()).collect()).collect();
    let mut normal = |n: usize| {
        Array2::from_shape_fn((n, 384), |(i, j)| protos[i % 3][j] + 0.05 * (next() - 0.5))
    };
    let train = normal(n_train);
    let test_normal = normal(90);
    // Outliers: halfway between two prototypes, off every normal cluster.
    let outliers = Array2::from_shape_fn((10, 384), |(i, j)| {
        0.5 * (protos[i % 3][j] + protos[(i + 1) % 3][j]) + 0.05 * (next() - 0.5)
    });
    let test = concatenate![Axis(0), test_normal, outliers];
    let labels = (0..100).map(|i| i >= 90).collect();
    (train, test, labels)
}

fn fit_both(cfg: AutoencoderConfig, n_train: usize) -> [(f64, f64); 2] {
    let (train, test, labels) = data(n_train);
    let set = TrainSet::new(train.view());
    let mut out = [(0.0, 0.0); 2];
    for (k, model) in [
        Autoencoder::new(cfg.clone()),
        Autoencoder::new(cfg.clone()).on(gpu_device()),
    ]
    .into_iter()
    .enumerate()
    {
        let t = Instant::now();
        let m = model.fit(&set).unwrap();
        let secs = t.elapsed().as_secs_f64();
        let h = m.loss_history().unwrap();
        assert!(
            h.last().unwrap().0 < 0.5 * h[0].0,
            "{} on {}: loss {:?} -> {:?}",
            cfg.name(),
            ["CPU", "GPU"][k],
            h[0],
            h.last()
        );
        let s = m.score(test.view()).unwrap();
        assert!(s.iter().all(|v| v.is_finite()));
        out[k] = (roc_auc(s.as_slice().unwrap(), &labels).unwrap(), secs);
    }
    println!(
        "{}: {n_train} rows, {} epochs: CPU AUC {:.3} in {:.2} s, GPU AUC {:.3} in {:.2} s",
        cfg.name(),
        cfg.epochs,
        out[0].0,
        out[0].1,
        out[1].0,
        out[1].1
    );
    out
}

#[test]
fn autoencoders_train_on_the_gpu_and_rank_like_the_cpu() {
    for cfg in [
        AutoencoderConfig::ae(),
        AutoencoderConfig::vae(),
        AutoencoderConfig::dae(),
        AutoencoderConfig::ae().with_attention(true),
    ] {
        let [(cpu, _), (gpu, _)] = fit_both(cfg.with_epochs(10).with_seed(7), 600);
        assert!(cpu > 0.9 && gpu > 0.9, "CPU AUC {cpu}, GPU AUC {gpu}");
    }
}

/// The autoencoder bench's unweighted case: 30,000 rows of 384, 50 epochs.
#[test]
#[ignore = "timing: run with --ignored on a GPU machine"]
fn time_a_384_wide_autoencoder_on_30000_rows() {
    for cfg in [
        AutoencoderConfig::ae(),
        AutoencoderConfig::ae().with_attention(true),
    ] {
        fit_both(cfg.with_epochs(50).with_seed(7), 30_000);
    }
}
