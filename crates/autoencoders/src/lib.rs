//! # apt-llm-autoencoders
//!
//! The detectors of APT-LLM: autoencoders trained on embeddings of normal processes; a
//! process's anomaly score is its reconstruction error, and a percentile of normal scores
//! is the threshold that flags APTs.
//!
//! - [`Variant::Ae`]: dense encoder, latent, mirrored decoder, MSE.
//! - [`Variant::Vae`]: mean and log-variance heads, reparameterisation, MSE + β·KL;
//!   scored by reconstructing the posterior mean (or averaging samples).
//! - [`Variant::Dae`]: Gaussian noise or masking on inputs in training, clean targets.
//!
//! Each can put multi-head self-attention in its encoder
//! ([`AutoencoderConfig::attention`]; see `network::FeatureAttention` for how one
//! vector becomes a sequence). Training takes row weights: fit on distinct provenance
//! patterns weighted by their counts and the objective equals the one over all rows.
//! Written on burn: CPU through the flex backend, GPU through wgpu (feature `wgpu`). On
//! the CPU, training runs by default on a fast path ([`CpuKernels::Fast`]): the same
//! network, initial weights and draws, with the forward and backward passes written out
//! on `gemm`; the trained weights go back into the burn network, which scores and saves.

mod config;
mod fast;
mod model;
mod network;

pub use config::{AutoencoderConfig, Noise, OutputActivation, Scaling, Variant};
pub use model::{Autoencoder, CpuKernels, FittedAutoencoder, Scaler, TrainingReport};
pub use network::{FeatureAttention, Network};
