//! Validated hyper-parameters.

use apt_llm_detect::{DetectError, Result};
use serde::{Deserialize, Serialize};

/// Input corruption of the denoising autoencoder (training only; targets stay clean).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Noise {
    /// Add N(0, σ²) to every (scaled) input.
    Gaussian { std: f32 },
    /// Zero each input with probability p.
    Mask { probability: f32 },
}

/// Which autoencoder.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// Plain autoencoder, MSE reconstruction loss.
    Ae,
    /// Variational: loss = reconstruction + β·KL(q(z|x) ‖ N(0, I)) / input width.
    Vae { beta: f32 },
    /// Denoising: corrupted inputs, clean targets.
    Dae { noise: Noise },
}

impl Variant {
    /// True for the VAE.
    pub fn is_variational(&self) -> bool {
        matches!(self, Variant::Vae { .. })
    }
    /// Short name (`AE`, `VAE`, `DAE`).
    pub fn name(&self) -> &'static str {
        match self {
            Variant::Ae => "AE",
            Variant::Vae { .. } => "VAE",
            Variant::Dae { .. } => "DAE",
        }
    }
}

/// How inputs are scaled before the network (fitted on weighted training rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scaling {
    /// Each feature to [0, 1] (pairs with a sigmoid output, as the authors').
    MinMax,
    /// Each feature to zero mean, unit variance (pairs with a linear output).
    Standard,
    /// As given.
    None,
}

/// Output layer activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputActivation {
    Sigmoid,
    Linear,
}

/// Autoencoder hyper-parameters. The defaults are the authors' Keras model: Dense 128 →
/// Dense 64 → [2-head self-attention, residual, LayerNorm, dropout 0.1] → Dense 32 →
/// Dense 16 (latent), mirrored decoder with a sigmoid output, Adam 1e-3, batch 256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoencoderConfig {
    pub variant: Variant,
    /// Multi-head self-attention in the encoder.
    pub attention: bool,
    /// Dense widths before the attention block.
    pub encoder_widths: Vec<usize>,
    /// Dense widths after it, before the latent layer.
    pub bottleneck_widths: Vec<usize>,
    /// Latent width.
    pub latent: usize,
    /// Feature tokens the attention sees (the last encoder width must divide by it).
    pub attention_tokens: usize,
    /// Width of each attention token (`heads` × head width).
    pub attention_dim: usize,
    pub attention_heads: usize,
    pub dropout: f64,
    pub output: OutputActivation,
    pub scaling: Scaling,
    pub learning_rate: f64,
    pub batch_size: usize,
    pub epochs: usize,
    /// Epochs without validation improvement before stopping (0 = never stop early).
    pub patience: usize,
    /// At least this many optimiser steps in all (small pattern sets repeat passes
    /// within an epoch), so a context of 40 distinct rows still trains.
    pub min_steps: usize,
    /// Percentile of normal (validation, else training) scores used as threshold.
    pub threshold_percentile: f64,
    /// VAE scoring: 0 = reconstruct the posterior mean; n > 0 = average n samples.
    pub score_samples: usize,
    pub seed: u64,
}

impl Default for AutoencoderConfig {
    fn default() -> Self {
        AutoencoderConfig {
            variant: Variant::Ae,
            attention: false,
            encoder_widths: vec![128, 64],
            bottleneck_widths: vec![32],
            latent: 16,
            attention_tokens: 8,
            attention_dim: 64,
            attention_heads: 2,
            dropout: 0.1,
            output: OutputActivation::Sigmoid,
            scaling: Scaling::MinMax,
            learning_rate: 1e-3,
            batch_size: 256,
            epochs: 50,
            patience: 10,
            min_steps: 400,
            threshold_percentile: 95.0,
            score_samples: 0,
            seed: 42,
        }
    }
}

impl AutoencoderConfig {
    /// The plain autoencoder.
    pub fn ae() -> Self {
        Self::default()
    }
    /// The variational autoencoder (β = 1).
    pub fn vae() -> Self {
        AutoencoderConfig {
            variant: Variant::Vae { beta: 1.0 },
            ..Self::default()
        }
    }
    /// The denoising autoencoder (Gaussian noise σ = 0.1 on scaled inputs).
    pub fn dae() -> Self {
        AutoencoderConfig {
            variant: Variant::Dae {
                noise: Noise::Gaussian { std: 0.1 },
            },
            ..Self::default()
        }
    }
    /// Switch the attention block on or off.
    pub fn with_attention(mut self, on: bool) -> Self {
        self.attention = on;
        self
    }
    /// Set the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Set the epochs.
    pub fn with_epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }
    /// The decoder's hidden widths, from the latent side: the bottleneck's and then the
    /// encoder's, reversed (the mirror of the encoder).
    pub fn decoder_widths(&self) -> impl Iterator<Item = usize> + '_ {
        self.bottleneck_widths
            .iter()
            .rev()
            .chain(self.encoder_widths.iter().rev())
            .copied()
    }
    /// Name used in tables: `AE`, `VAE+attn`, ...
    pub fn name(&self) -> String {
        format!(
            "{}{}",
            self.variant.name(),
            if self.attention { "+attn" } else { "" }
        )
    }

    /// Check every field; called by `fit` before any work.
    pub fn validate(&self) -> Result<()> {
        let bad = |name: &'static str, reason: String| {
            Err(DetectError::InvalidParameter { name, reason })
        };
        if self.latent == 0
            || self.encoder_widths.contains(&0)
            || self.bottleneck_widths.contains(&0)
        {
            return bad("widths", "every layer width must be positive".into());
        }
        if self.attention {
            let w = self.encoder_widths.last().copied().unwrap_or(0);
            if w == 0 || self.attention_tokens == 0 || w % self.attention_tokens != 0 {
                return bad(
                    "attention_tokens",
                    format!(
                        "the last encoder width ({w}) must be a positive multiple of {} tokens",
                        self.attention_tokens
                    ),
                );
            }
            if self.attention_heads == 0 || !self.attention_dim.is_multiple_of(self.attention_heads)
            {
                return bad(
                    "attention_heads",
                    format!(
                        "{} does not divide attention_dim {}",
                        self.attention_heads, self.attention_dim
                    ),
                );
            }
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad("dropout", format!("{} is not in [0, 1)", self.dropout));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(
                "learning_rate",
                format!("{} is not a positive number", self.learning_rate),
            );
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be positive".into());
        }
        if self.epochs == 0 {
            return bad("epochs", "must be positive".into());
        }
        if !(0.0..=100.0).contains(&self.threshold_percentile) {
            return bad(
                "threshold_percentile",
                format!("{} is not in 0..=100", self.threshold_percentile),
            );
        }
        match self.variant {
            Variant::Vae { beta } if !(beta.is_finite() && beta >= 0.0) => {
                bad("beta", format!("{beta} is not a non-negative number"))
            }
            Variant::Dae {
                noise: Noise::Gaussian { std },
            } if !(std.is_finite() && std >= 0.0) => bad("noise", format!("σ = {std}")),
            Variant::Dae {
                noise: Noise::Mask { probability },
            } if !(0.0..1.0).contains(&probability) => bad(
                "noise",
                format!("mask probability {probability} is not in [0, 1)"),
            ),
            _ => Ok(()),
        }
    }
}
