//! Fitting, scoring and persistence.

use crate::config::{AutoencoderConfig, Noise, Scaling, Variant};
use crate::fast::{Batch, FastTrainer};
use crate::network::Network;
use apt_llm_detect::{DetectError, Detector, Fit, Result, Threshold, TrainSet, check_rows};
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use ndarray::{Array1, Array2, ArrayView2};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Per-feature affine scaling fitted on weighted training rows: `(x - shift) * scale`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    pub shift: Vec<f32>,
    pub scale: Vec<f32>,
}

impl Scaler {
    fn fit(kind: Scaling, x: ArrayView2<'_, f32>, w: &[f32]) -> Scaler {
        let d = x.ncols();
        match kind {
            Scaling::None => Scaler {
                shift: vec![0.0; d],
                scale: vec![1.0; d],
            },
            Scaling::MinMax => {
                let mut lo = vec![f32::INFINITY; d];
                let mut hi = vec![f32::NEG_INFINITY; d];
                for (r, row) in x.rows().into_iter().enumerate() {
                    if w[r] <= 0.0 {
                        continue;
                    }
                    for (j, &v) in row.iter().enumerate() {
                        lo[j] = lo[j].min(v);
                        hi[j] = hi[j].max(v);
                    }
                }
                let scale = lo
                    .iter()
                    .zip(&hi)
                    .map(|(l, h)| if h > l { 1.0 / (h - l) } else { 1.0 })
                    .collect();
                Scaler { shift: lo, scale }
            }
            Scaling::Standard => {
                let total: f64 = w.iter().map(|&v| v as f64).sum();
                let mut mean = vec![0f64; d];
                for (r, row) in x.rows().into_iter().enumerate() {
                    for (j, &v) in row.iter().enumerate() {
                        mean[j] += w[r] as f64 * v as f64;
                    }
                }
                mean.iter_mut().for_each(|m| *m /= total);
                let mut var = vec![0f64; d];
                for (r, row) in x.rows().into_iter().enumerate() {
                    for (j, &v) in row.iter().enumerate() {
                        var[j] += w[r] as f64 * (v as f64 - mean[j]).powi(2);
                    }
                }
                Scaler {
                    shift: mean.iter().map(|&m| m as f32).collect(),
                    scale: var
                        .iter()
                        .map(|&v| {
                            let s = (v / total).sqrt();
                            if s > 1e-8 { (1.0 / s) as f32 } else { 1.0 }
                        })
                        .collect(),
                }
            }
        }
    }

    fn apply(&self, x: ArrayView2<'_, f32>) -> Vec<f32> {
        let d = self.shift.len();
        let mut out = Vec::with_capacity(x.len());
        for row in x.rows() {
            for j in 0..d {
                out.push((row[j] - self.shift[j]) * self.scale[j]);
            }
        }
        out
    }
}

/// Parameters of an autoencoder detector (AE, VAE or DAE, each ± attention).
///
/// ```
/// use apt_llm_autoencoders::{Autoencoder, AutoencoderConfig};
/// use apt_llm_detect::{Detector, Fit, TrainSet};
/// use ndarray::Array2;
///
/// // Normal rows live on a line; the outlier does not.
/// let x = Array2::from_shape_fn((300, 8), |(i, j)| ((i % 30) as f32 / 30.0) * (j as f32 / 8.0));
/// let cfg = AutoencoderConfig { epochs: 30, ..AutoencoderConfig::ae() };
/// let model = Autoencoder::new(cfg).fit(&TrainSet::new(x.view()))?;
/// let outlier = Array2::from_shape_fn((1, 8), |(_, j)| if j % 2 == 0 { 1.0 } else { 0.0 });
/// assert!(model.score(outlier.view())?[0] > model.threshold().value);
/// # Ok::<(), apt_llm_detect::DetectError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Autoencoder {
    pub config: AutoencoderConfig,
    /// Where to train and score; CPU (burn flex) when `None`.
    pub device: Option<Device>,
    /// How training runs on the CPU (ignored on another device).
    pub cpu_kernels: CpuKernels,
}

/// How an autoencoder trains on the CPU. Both start from the same weights and draw the
/// same batches, noise and masks; they differ by float rounding only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CpuKernels {
    /// Forward and backward passes written out on `gemm` with buffers allocated once per
    /// fit (several times faster on the autoencoders' small layers).
    #[default]
    Fast,
    /// burn's autodiff on the flex backend: the reference the fast path is tested against.
    Burn,
}

impl Autoencoder {
    /// An autoencoder detector with these hyper-parameters, on the CPU.
    pub fn new(config: AutoencoderConfig) -> Self {
        Autoencoder {
            config,
            device: None,
            cpu_kernels: CpuKernels::default(),
        }
    }
    /// Train and score on another device (e.g. wgpu).
    pub fn on(mut self, device: Device) -> Self {
        self.device = Some(device);
        self
    }
    /// Choose how training runs on the CPU.
    pub fn with_cpu_kernels(mut self, kernels: CpuKernels) -> Self {
        self.cpu_kernels = kernels;
        self
    }
}

/// Training record kept with the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingReport {
    /// (train loss, validation loss) per epoch.
    pub history: Vec<(f32, Option<f32>)>,
    /// Epoch whose weights were kept (best validation loss, or the last).
    pub best_epoch: usize,
    /// Optimiser steps taken.
    pub steps: usize,
    /// Distinct rows and their total weight.
    pub rows: usize,
    pub total_weight: f64,
}

/// A trained autoencoder: scores rows by reconstruction error.
#[derive(Debug, Clone)]
pub struct FittedAutoencoder {
    config: AutoencoderConfig,
    network: Network,
    scaler: Scaler,
    threshold: Threshold,
    report: TrainingReport,
    history: Vec<(f32, Option<f32>)>,
    device: Device,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    kind: String,
    config: AutoencoderConfig,
    input_dim: usize,
    scaler: Scaler,
    threshold: Threshold,
    report: TrainingReport,
}

static BACKEND_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// burn initialises parameters lazily, on first use: touching every one while the seeded
/// generator is held makes the initial weights depend on the seed alone.
struct ForceInit;

impl ModuleVisitor for ForceInit {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

fn tensor2(v: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v, [rows, cols]), device)
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().expect("f32 tensor")
}

/// Per-row loss `[batch]` of a batch (and its reconstruction), training mode.
pub(crate) fn row_losses(
    net: &Network,
    cfg: &AutoencoderConfig,
    input: Tensor<2>,
    target: Tensor<2>,
    eps: Option<Tensor<2>>,
    keep: Option<Tensor<3>>,
    kl_weight: f32,
) -> Tensor<1> {
    let d = target.dims()[1] as f64;
    let enc = net.encode(input, keep);
    let (z, kl) = match (&cfg.variant, enc.log_var, eps) {
        (Variant::Vae { .. }, Some(log_var), Some(eps)) => {
            let z = enc.mean.clone() + (log_var.clone() * 0.5).exp() * eps;
            // KL(N(μ, σ²) ‖ N(0, 1)) summed over latent dims, per row.
            let kl =
                (log_var.clone().exp() + enc.mean.powi_scalar(2) - log_var - 1.0).sum_dim(1) * 0.5;
            (z, Some(kl * (kl_weight as f64 / d)))
        }
        _ => (enc.mean, None),
    };
    let recon = net.decode(z);
    let mse = (recon - target).powi_scalar(2).mean_dim(1);
    let loss = match kl {
        Some(kl) => mse + kl,
        None => mse,
    };
    loss.squeeze_dim::<1>(1)
}

/// What trains the network: burn's autodiff, or the CPU fast path on host buffers.
enum Engine {
    Burn {
        net: Network,
        optim: ModuleOptimizer,
        device: Device,
    },
    Fast {
        trainer: Box<FastTrainer>,
        /// The initialised network, which receives the trained weights at the end.
        net: Network,
    },
}

/// The weights of the best epoch so far.
enum Snapshot {
    Burn(Box<Network>),
    Fast(Vec<f32>),
}

impl Engine {
    /// One optimiser step; the batch loss.
    fn step(&mut self, batch: &Batch<'_>, cfg: &AutoencoderConfig, d: usize) -> f32 {
        match self {
            Engine::Fast { trainer, .. } => trainer.step(batch, cfg.learning_rate),
            Engine::Burn { net, optim, device } => {
                let b = batch.rows;
                let eps = batch
                    .eps
                    .map(|e| tensor2(e.to_vec(), b, cfg.latent, device));
                let keep = batch.keep.map(|k| {
                    let shape = [b, cfg.attention_tokens, cfg.attention_dim];
                    Tensor::<3>::from_data(TensorData::new(k.to_vec(), shape), &*device)
                });
                let weights =
                    Tensor::<1>::from_data(TensorData::new(batch.weights.to_vec(), [b]), &*device);
                let losses = row_losses(
                    net,
                    cfg,
                    tensor2(batch.input.to_vec(), b, d, device),
                    tensor2(batch.target.to_vec(), b, d, device),
                    eps,
                    keep,
                    batch.kl_weight,
                );
                let loss = (losses * weights).sum();
                let value = to_vec(loss.clone().detach())[0];
                let grads = GradientsParams::from_grads(loss.backward(), &*net);
                let stepped = optim.step(cfg.learning_rate, net.clone(), grads);
                *net = stepped;
                value
            }
        }
    }

    /// Reconstruction error per row of scaled `x` (posterior mean for the VAE).
    fn errors(&mut self, x: &[f32], n: usize, d: usize, base: &Device) -> Vec<f32> {
        match self {
            Engine::Fast { trainer, .. } => trainer.reconstruction_errors(x, n),
            Engine::Burn { net, .. } => reconstruction_errors(&net.valid(), x, n, d, base),
        }
    }

    fn snapshot(&self) -> Snapshot {
        match self {
            Engine::Fast { trainer, .. } => Snapshot::Fast(trainer.weights()),
            Engine::Burn { net, .. } => Snapshot::Burn(Box::new(net.clone())),
        }
    }

    /// The network for scoring: the best snapshot's weights, else the last.
    fn finish(self, best: Option<Snapshot>) -> Network {
        match (self, best) {
            (Engine::Burn { .. }, Some(Snapshot::Burn(n))) => (*n).valid(),
            (Engine::Burn { net, .. }, _) => net.valid(),
            (Engine::Fast { trainer, net }, best) => {
                let weights = match best {
                    Some(Snapshot::Fast(w)) => w,
                    _ => trainer.weights(),
                };
                trainer.write_into(&weights, net).valid()
            }
        }
    }
}

impl Fit for Autoencoder {
    type Fitted = FittedAutoencoder;

    fn name(&self) -> String {
        self.config.name()
    }

    fn fit(&self, data: &TrainSet<'_>) -> Result<FittedAutoencoder> {
        let cfg = &self.config;
        cfg.validate()?;
        data.validate()?;
        let base = self.device.clone().unwrap_or_else(Device::flex);
        let device = base.clone().autodiff();
        // The backend generator is seeded only under BACKEND_RNG below: seeding it here,
        // outside the lock, would restart a concurrent fit's draws mid-initialisation.
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let n = data.x.nrows();
        let d = data.x.ncols();
        let w = data.weights_or_ones();
        let w = w.as_slice().expect("contiguous");
        let scaler = Scaler::fit(cfg.scaling, data.x, w);
        let x = scaler.apply(data.x);
        let total_weight: f64 = w.iter().map(|&v| v as f64).sum();
        let rows: Vec<usize> = (0..n).filter(|&i| w[i] > 0.0).collect();
        let validation = data.validation.map(|v| {
            let vw = data
                .validation_weights
                .map(|w| w.to_vec())
                .unwrap_or_else(|| vec![1.0; v.nrows()]);
            (scaler.apply(v), v.nrows(), vw)
        });

        // Initial weights come from the backend's generator, which is global: seed, build and
        // initialise (burn defers it to first use) under one lock so concurrent fits cannot
        // interleave their draws. Nothing else in
        // training draws from it (noise, dropout and sampling use this fit's own ChaCha).
        let net = {
            let _guard = BACKEND_RNG.lock().unwrap_or_else(|p| p.into_inner());
            device.seed(cfg.seed);
            let net = Network::new(d, cfg, &device);
            net.visit(&mut ForceInit);
            net
        };
        let fast = (self.device.is_none() && self.cpu_kernels == CpuKernels::Fast)
            .then(|| FastTrainer::from_network(&net, d, cfg))
            .flatten();
        let mut engine = match fast {
            Some(trainer) => Engine::Fast {
                trainer: Box::new(trainer),
                net,
            },
            None => Engine::Burn {
                net,
                optim: AdamConfig::new().init(),
                device: device.clone(),
            },
        };
        let batch = cfg.batch_size.min(rows.len());
        let passes_per_epoch = rows.len().div_ceil(batch);
        // Small pattern sets: repeat passes inside an epoch to reach `min_steps` in all.
        let repeats = cfg.min_steps.div_ceil(cfg.epochs * passes_per_epoch).max(1);
        let mut history = Vec::with_capacity(cfg.epochs);
        let mut best: Option<(f32, usize, Snapshot)> = None;
        let mut steps = 0;
        let mut stale = 0;
        let mut order = rows.clone();
        let keep_width = cfg.attention_tokens * cfg.attention_dim;
        let (mut clean, mut noisy) = (Vec::new(), Vec::new());
        for epoch in 0..cfg.epochs {
            // KL warm-up: β grows linearly over the first quarter of the epochs, which keeps
            // the VAE's posterior from collapsing before the decoder learns anything.
            let kl_weight = match cfg.variant {
                Variant::Vae { beta } => {
                    let warm = (cfg.epochs / 4).max(1) as f32;
                    beta * ((epoch + 1) as f32 / warm).min(1.0)
                }
                _ => 0.0,
            };
            let mut epoch_loss = 0.0f64;
            let mut epoch_batches = 0usize;
            for _ in 0..repeats {
                order.shuffle(&mut rng);
                for chunk in order.chunks(batch) {
                    let b = chunk.len();
                    clean.clear();
                    for &r in chunk {
                        clean.extend_from_slice(&x[r * d..(r + 1) * d]);
                    }
                    let corrupted = match cfg.variant {
                        Variant::Dae {
                            noise: Noise::Gaussian { std },
                        } => {
                            noisy.clear();
                            noisy.extend(
                                clean
                                    .iter()
                                    .map(|v| v + std * rng.sample::<f32, _>(StandardNormal)),
                            );
                            true
                        }
                        Variant::Dae {
                            noise: Noise::Mask { probability },
                        } => {
                            noisy.clear();
                            noisy.extend(clean.iter().map(|&v| {
                                if rng.random::<f32>() < probability {
                                    0.0
                                } else {
                                    v
                                }
                            }));
                            true
                        }
                        _ => false,
                    };
                    let eps: Option<Vec<f32>> = cfg.variant.is_variational().then(|| {
                        (0..b * cfg.latent)
                            .map(|_| StandardNormal.sample(&mut rng))
                            .collect()
                    });
                    // Weighted mean with a constant normaliser: over a pass, the batch
                    // losses average to Σ wᵢ Lᵢ / Σ wᵢ, the loss over all represented rows.
                    let norm = (total_weight * b as f64 / rows.len() as f64) as f32;
                    let weights: Vec<f32> = chunk.iter().map(|&r| w[r] / norm).collect();
                    let keep: Option<Vec<f32>> = (cfg.attention && cfg.dropout > 0.0).then(|| {
                        let scale = 1.0 / (1.0 - cfg.dropout as f32);
                        (0..b * keep_width)
                            .map(|_| {
                                if rng.random::<f64>() < cfg.dropout {
                                    0.0
                                } else {
                                    scale
                                }
                            })
                            .collect()
                    });
                    let loss = engine.step(
                        &Batch {
                            rows: b,
                            input: if corrupted { &noisy } else { &clean },
                            target: &clean,
                            eps: eps.as_deref(),
                            keep: keep.as_deref(),
                            weights: &weights,
                            kl_weight,
                        },
                        cfg,
                        d,
                    );
                    epoch_loss += loss as f64;
                    epoch_batches += 1;
                    steps += 1;
                }
            }
            let train_loss = (epoch_loss / epoch_batches as f64) as f32;
            let val_loss = validation.as_ref().map(|(vx, vn, vw)| {
                let errs = engine.errors(vx, *vn, d, &base);
                let tw: f64 = vw.iter().map(|&v| v as f64).sum();
                (errs
                    .iter()
                    .zip(vw)
                    .map(|(e, w)| *e as f64 * *w as f64)
                    .sum::<f64>()
                    / tw.max(1e-12)) as f32
            });
            history.push((train_loss, val_loss));
            if !train_loss.is_finite() {
                return Err(DetectError::Backend {
                    library: "burn",
                    message: format!("training diverged at epoch {epoch} (loss {train_loss})"),
                });
            }
            if let Some(v) = val_loss {
                if best.as_ref().is_none_or(|(b, _, _)| v < *b) {
                    best = Some((v, epoch, engine.snapshot()));
                    stale = 0;
                } else {
                    stale += 1;
                    if cfg.patience > 0 && stale >= cfg.patience {
                        break;
                    }
                }
            }
        }
        let (best_epoch, best) = match best {
            Some((_, e, s)) => (e, Some(s)),
            None => (history.len() - 1, None),
        };
        let network = engine.finish(best);
        let mut fitted = FittedAutoencoder {
            config: cfg.clone(),
            network,
            scaler,
            threshold: Threshold {
                percentile: cfg.threshold_percentile,
                value: f32::INFINITY,
            },
            report: TrainingReport {
                history: history.clone(),
                best_epoch,
                steps,
                rows: rows.len(),
                total_weight,
            },
            history,
            device: base,
        };
        // Threshold from normal scores: validation rows if given, else training rows.
        fitted.threshold = match (data.validation, data.validation_weights) {
            (Some(v), vw) => {
                let s = fitted.score(v)?;
                Threshold::from_scores(
                    s.as_slice().expect("contiguous"),
                    vw.as_ref().and_then(|w| w.as_slice()),
                    cfg.threshold_percentile,
                )?
            }
            (None, _) => {
                let s = fitted.score(data.x)?;
                Threshold::from_scores(
                    s.as_slice().expect("contiguous"),
                    Some(w),
                    cfg.threshold_percentile,
                )?
            }
        };
        Ok(fitted)
    }
}

/// Mean squared reconstruction error per row of scaled inputs (posterior mean for VAE).
pub(crate) fn reconstruction_errors(
    net: &Network,
    x: &[f32],
    n: usize,
    d: usize,
    device: &Device,
) -> Vec<f32> {
    per_feature_errors(net, x, n, d, device)
        .chunks_exact(d)
        .map(|r| r.iter().sum::<f32>() / d as f32)
        .collect()
}

fn per_feature_errors(net: &Network, x: &[f32], n: usize, d: usize, device: &Device) -> Vec<f32> {
    let mut out = Vec::with_capacity(n * d);
    let chunk = 4096;
    for start in (0..n).step_by(chunk) {
        let b = chunk.min(n - start);
        let input = tensor2(x[start * d..(start + b) * d].to_vec(), b, d, device);
        let z = net.encode(input.clone(), None).mean;
        let recon = net.decode(z);
        out.extend(to_vec((recon - input).powi_scalar(2)));
    }
    out
}

impl FittedAutoencoder {
    /// The decision threshold (a percentile of normal scores).
    pub fn threshold(&self) -> Threshold {
        self.threshold
    }
    /// Replace the threshold (e.g. with one fitted on other normal rows).
    pub fn set_threshold(&mut self, t: Threshold) {
        self.threshold = t;
    }
    /// The hyper-parameters.
    pub fn config(&self) -> &AutoencoderConfig {
        &self.config
    }
    /// How training went.
    pub fn report(&self) -> &TrainingReport {
        &self.report
    }
    /// Flags: score above the threshold.
    pub fn predict(&self, x: ArrayView2<'_, f32>) -> Result<Vec<bool>> {
        Ok(self
            .threshold
            .predict(self.score(x)?.as_slice().expect("contiguous")))
    }

    /// Squared reconstruction error per row and feature (scaled units), `[rows, features]`:
    /// which part of the input a process failed to reconstruct.
    pub fn feature_errors(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        let d = self.input_dim();
        check_rows(x, d)?;
        let v = per_feature_errors(
            &self.network,
            &self.scaler.apply(x),
            x.nrows(),
            d,
            &self.device,
        );
        Ok(Array2::from_shape_vec((x.nrows(), d), v).expect("shape"))
    }

    /// Load a model written by [`Detector::save`] (a JSON file plus `<path>.bpk` weights).
    pub fn load(path: &Path) -> Result<FittedAutoencoder> {
        Self::load_on(path, Device::flex())
    }

    /// Load onto a given device.
    ///
    /// Nothing in the files is trusted: the JSON is checked (kind, config, input width,
    /// scaler lengths, finite values) before any network is built, the weights file must
    /// be large enough for the configured network, and the loaded tensors must have the
    /// configured shapes and finite values. Every error names the file and the field.
    pub fn load_on(path: &Path, device: Device) -> Result<FittedAutoencoder> {
        let err = |reason: String| DetectError::Persist {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let doc: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| err(format!("not a saved detector: invalid JSON ({e})")))?;
        match doc.get("kind").and_then(|k| k.as_str()) {
            Some("autoencoder") => {}
            Some(other) => {
                return Err(err(format!(
                    "holds a {other:?} model, expected an autoencoder"
                )));
            }
            None => {
                return Err(err(
                    "not a saved detector: no \"kind\" field (expected a model written by \
                     `apt-llm evaluate --save-models` or `hunt --save-models`)"
                        .into(),
                ));
            }
        }
        let saved: Saved = serde_json::from_value(doc)
            .map_err(|e| err(format!("malformed autoencoder model: {e}")))?;
        saved.validate().map_err(err)?;
        saved
            .config
            .validate()
            .map_err(|e| err(format!("field \"config\": {e}")))?;
        let weights = weights_path(path);
        let weights_err = |reason: String| DetectError::Persist {
            path: weights.clone(),
            reason,
        };
        // A config naming huge layers must not allocate them before the weights are seen:
        // the file has to hold at least the dense layers' values at 2 bytes each.
        let size = std::fs::metadata(&weights)
            .map_err(|e| weights_err(e.to_string()))?
            .len();
        let needed = dense_parameters(saved.input_dim, &saved.config);
        if needed.is_none_or(|n| n.saturating_mul(2) > size) {
            return Err(weights_err(format!(
                "{size} bytes cannot hold the {} weights of the network that {} describes \
                 (input_dim {}, config)",
                needed.map_or_else(|| "overflowing".into(), |n| n.to_string()),
                path.display(),
                saved.input_dim
            )));
        }
        // Building the network draws its (discarded) initial weights from the backend's
        // global generator: under the fits' lock, or a concurrent fit's seeded
        // initialisation would interleave with these draws and change.
        let (fresh, expected) = {
            let _guard = BACKEND_RNG.lock().unwrap_or_else(|p| p.into_inner());
            let fresh = Network::new(saved.input_dim, &saved.config, &device);
            let expected = TensorCheck::of(&fresh);
            (fresh, expected)
        };
        let network = fresh
            .try_load_file(&weights)
            .map_err(|e| weights_err(format!("{e:?}")))?
            .valid();
        let found = TensorCheck::of(&network);
        for (i, (e, f)) in expected.shapes.iter().zip(&found.shapes).enumerate() {
            if e != f {
                return Err(weights_err(format!(
                    "tensor {i} has shape {f:?}, the saved config implies {e:?}"
                )));
            }
        }
        if expected.shapes.len() != found.shapes.len() {
            return Err(weights_err(format!(
                "{} tensors, the saved config implies {}",
                found.shapes.len(),
                expected.shapes.len()
            )));
        }
        if let Some((i, j, v)) = found.non_finite {
            return Err(weights_err(format!(
                "tensor {i} (shape {:?}) holds a non-finite value {v} at index {j}",
                found.shapes[i]
            )));
        }
        Ok(FittedAutoencoder {
            history: saved.report.history.clone(),
            config: saved.config,
            network,
            scaler: saved.scaler,
            threshold: saved.threshold,
            report: saved.report,
            device,
        })
    }
}

/// Most posterior draws a loaded VAE may average when scoring.
const MAX_SCORE_SAMPLES: usize = 4096;

impl Saved {
    /// Lengths and values a loaded model relies on; the error names the field.
    fn validate(&self) -> std::result::Result<(), String> {
        let d = self.input_dim;
        if d == 0 {
            return Err("field \"input_dim\" is 0".into());
        }
        for (field, v) in [
            ("scaler.shift", &self.scaler.shift),
            ("scaler.scale", &self.scaler.scale),
        ] {
            if v.len() != d {
                return Err(format!(
                    "field {field:?} has {} values, input_dim is {d}",
                    v.len()
                ));
            }
            if let Some(j) = v.iter().position(|x| !x.is_finite()) {
                return Err(format!(
                    "field {field:?}: value {j} is {} (not finite)",
                    v[j]
                ));
            }
        }
        // Each draw is a full forward pass over every row scored: a hostile count would
        // make scoring run for ever.
        if self.config.score_samples > MAX_SCORE_SAMPLES {
            return Err(format!(
                "field \"config.score_samples\" is {} (at most {MAX_SCORE_SAMPLES})",
                self.config.score_samples
            ));
        }
        if self.threshold.value.is_nan() {
            return Err("field \"threshold.value\" is NaN".into());
        }
        if !(0.0..=100.0).contains(&self.threshold.percentile) {
            return Err(format!(
                "field \"threshold.percentile\" is {} (must be in [0, 100])",
                self.threshold.percentile
            ));
        }
        Ok(())
    }
}

/// A lower bound on a network's parameter count (its dense and attention weight
/// matrices, as [`Network::new`] builds them), `None` on overflow.
fn dense_parameters(input: usize, cfg: &AutoencoderConfig) -> Option<u64> {
    let mul = |a: usize, b: usize| (a as u64).checked_mul(b as u64);
    let mut total = 0u64;
    let mut width = input;
    for &h in &cfg.encoder_widths {
        total = total.checked_add(mul(width, h)?)?;
        width = h;
    }
    if cfg.attention {
        let (tokens, dim) = (cfg.attention_tokens.max(1), cfg.attention_dim);
        // Token embedding, positions, and the four attention projections.
        total = total
            .checked_add(mul(width / tokens, dim)?)?
            .checked_add(mul(tokens, dim)?)?
            .checked_add(mul(dim, dim)?.checked_mul(4)?)?;
        width = tokens.checked_mul(dim)?;
    }
    for &h in &cfg.bottleneck_widths {
        total = total.checked_add(mul(width, h)?)?;
        width = h;
    }
    total = total.checked_add(mul(width, cfg.latent)?)?;
    // The decoder mirrors the encoder back to the input width.
    let mut width = cfg.latent;
    for h in cfg.decoder_widths() {
        total = total.checked_add(mul(width, h)?)?;
        width = h;
    }
    total.checked_add(mul(width, input)?)
}

/// Shapes of a network's tensors in visiting order, and the first non-finite value
/// (tensor, flat index, value).
#[derive(Default)]
struct TensorCheck {
    shapes: Vec<Vec<usize>>,
    non_finite: Option<(usize, usize, f32)>,
}

impl TensorCheck {
    fn of(net: &Network) -> TensorCheck {
        let mut c = TensorCheck::default();
        net.visit(&mut c);
        c
    }
}

impl ModuleVisitor for TensorCheck {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        let i = self.shapes.len();
        self.shapes.push(t.dims().to_vec());
        if self.non_finite.is_none()
            && let Ok(values) = t.into_data().try_to_vec::<f32>()
            && let Some(j) = values.iter().position(|v| !v.is_finite())
        {
            self.non_finite = Some((i, j, values[j]));
        }
    }
}

fn weights_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".bpk");
    PathBuf::from(p)
}

impl Detector for FittedAutoencoder {
    fn name(&self) -> String {
        self.config.name()
    }
    fn input_dim(&self) -> usize {
        self.scaler.shift.len()
    }
    /// Mean squared reconstruction error over features (VAE: of the posterior mean, or
    /// the average over `score_samples` draws).
    fn score(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>> {
        let d = self.input_dim();
        check_rows(x, d)?;
        let scaled = self.scaler.apply(x);
        let n = x.nrows();
        if self.config.variant.is_variational() && self.config.score_samples > 0 {
            let mut rng = ChaCha8Rng::seed_from_u64(self.config.seed ^ 0x5eed);
            let mut acc = vec![0f32; n];
            let k = self.config.latent;
            for _ in 0..self.config.score_samples {
                let input = tensor2(scaled.clone(), n, d, &self.device);
                let enc = self.network.encode(input.clone(), None);
                let eps: Vec<f32> = (0..n * k)
                    .map(|_| StandardNormal.sample(&mut rng))
                    .collect();
                let lv = enc.log_var.expect("VAE has a log-variance head");
                let z = enc.mean + (lv * 0.5).exp() * tensor2(eps, n, k, &self.device);
                let e = to_vec((self.network.decode(z) - input).powi_scalar(2).mean_dim(1));
                acc.iter_mut()
                    .zip(e)
                    .for_each(|(a, v)| *a += v / self.config.score_samples as f32);
            }
            return Ok(Array1::from(acc));
        }
        Ok(Array1::from(reconstruction_errors(
            &self.network,
            &scaled,
            n,
            d,
            &self.device,
        )))
    }
    fn loss_history(&self) -> Option<&[(f32, Option<f32>)]> {
        Some(&self.history)
    }
    fn threshold(&self) -> Option<Threshold> {
        Some(self.threshold)
    }
    fn save(&self, path: &Path) -> Result<()> {
        let err = |p: &Path, reason: String| DetectError::Persist {
            path: p.to_path_buf(),
            reason,
        };
        let saved = Saved {
            kind: "autoencoder".into(),
            config: self.config.clone(),
            input_dim: self.input_dim(),
            scaler: self.scaler.clone(),
            threshold: self.threshold,
            report: self.report.clone(),
        };
        let text = serde_json::to_string_pretty(&saved).map_err(|e| err(path, e.to_string()))?;
        std::fs::write(path, text).map_err(|e| err(path, e.to_string()))?;
        let weights = weights_path(path);
        self.network
            .clone()
            .save_file(&weights)
            .map_err(|e| err(&weights, format!("{e:?}")))
    }
}
