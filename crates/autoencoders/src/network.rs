//! The networks: a dense encoder, optional self-attention over feature tokens, a latent
//! layer (one head for AE / DAE, mean and log-variance for VAE), a mirrored decoder.

use burn::module::{Module, Param};
use burn::nn::attention::{MhaInput, MultiHeadAttention, MultiHeadAttentionConfig};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor, activation};

use crate::config::{AutoencoderConfig, OutputActivation};

/// Self-attention over the encoder's features, seen as a short sequence.
///
/// A single embedding is one vector, and attention over a sequence of length one is a
/// plain linear map (softmax of one score is 1). To give attention something to attend
/// over, the width-`w` hidden vector is cut into `tokens` chunks of `w / tokens`
/// features; each chunk is projected to `d_model` with a shared linear map plus a learned
/// position vector, and multi-head self-attention lets feature groups weigh each other
/// (residual, LayerNorm, dropout, as in the authors' Keras model). The tokens are then
/// flattened for the next dense layer.
#[derive(Module, Debug)]
pub struct FeatureAttention {
    embed: Linear,
    position: Param<Tensor<2>>,
    mha: MultiHeadAttention,
    norm: LayerNorm,
    tokens: usize,
    d_model: usize,
}

impl FeatureAttention {
    fn new(width: usize, cfg: &AutoencoderConfig, device: &Device) -> Self {
        let chunk = width / cfg.attention_tokens;
        FeatureAttention {
            embed: LinearConfig::new(chunk, cfg.attention_dim).init(device),
            position: Initializer::Normal {
                mean: 0.0,
                std: 0.02,
            }
            .init([cfg.attention_tokens, cfg.attention_dim], device),
            // Dropout is applied by the caller with masks drawn from the fit's own seeded
            // generator, so training never touches the backend's global RNG.
            mha: MultiHeadAttentionConfig::new(cfg.attention_dim, cfg.attention_heads)
                .with_dropout(0.0)
                .init(device),
            norm: LayerNormConfig::new(cfg.attention_dim).init(device),
            tokens: cfg.attention_tokens,
            d_model: cfg.attention_dim,
        }
    }

    /// `[batch, width]` → `[batch, tokens * d_model]`; `keep`: dropout mask
    /// `[batch, tokens, d_model]` (0 or 1/(1-p)) in training, `None` when scoring.
    fn forward(&self, x: Tensor<2>, keep: Option<Tensor<3>>) -> Tensor<2> {
        let [b, w] = x.dims();
        let chunk = w / self.tokens;
        let t = self.embed.forward(x.reshape([b, self.tokens, chunk]));
        let t = t + self.position.val().unsqueeze::<3>();
        let attended = self.mha.forward(MhaInput::self_attn(t.clone())).context;
        let attended = match keep {
            Some(k) => attended * k,
            None => attended,
        };
        let t = self.norm.forward(t + attended);
        t.reshape([b, self.tokens * self.d_model])
    }
}

/// The autoencoder network shared by AE, VAE and DAE.
#[derive(Module, Debug)]
pub struct Network {
    encoder: Vec<Linear>,
    attention: Option<FeatureAttention>,
    bottleneck: Vec<Linear>,
    mean: Linear,
    log_var: Option<Linear>,
    decoder: Vec<Linear>,
    output: Linear,
    sigmoid: bool,
}

/// What the encoder produces.
pub struct Encoded {
    /// `[batch, latent]`
    pub mean: Tensor<2>,
    /// `[batch, latent]`, VAE only.
    pub log_var: Option<Tensor<2>>,
}

impl Network {
    /// Build for `input` columns.
    pub fn new(input: usize, cfg: &AutoencoderConfig, device: &Device) -> Self {
        let dense = |a: usize, b: usize| LinearConfig::new(a, b).init(device);
        let mut encoder = Vec::new();
        let mut width = input;
        for &h in &cfg.encoder_widths {
            encoder.push(dense(width, h));
            width = h;
        }
        let attention = cfg
            .attention
            .then(|| FeatureAttention::new(width, cfg, device));
        if cfg.attention {
            width = cfg.attention_tokens * cfg.attention_dim;
        }
        let mut bottleneck = Vec::new();
        for &h in &cfg.bottleneck_widths {
            bottleneck.push(dense(width, h));
            width = h;
        }
        let mean = dense(width, cfg.latent);
        let log_var = cfg
            .variant
            .is_variational()
            .then(|| dense(width, cfg.latent));
        // Mirror: latent → bottleneck widths reversed → encoder widths reversed → input.
        let mut decoder = Vec::new();
        let mut width = cfg.latent;
        for h in cfg.decoder_widths() {
            decoder.push(dense(width, h));
            width = h;
        }
        Network {
            encoder,
            attention,
            bottleneck,
            mean,
            log_var,
            decoder,
            output: dense(width, input),
            sigmoid: cfg.output == OutputActivation::Sigmoid,
        }
    }

    /// Shape of the attention dropout mask for a batch, if the network has attention.
    pub fn dropout_shape(&self, batch: usize) -> Option<[usize; 3]> {
        self.attention
            .as_ref()
            .map(|a| [batch, a.tokens, a.d_model])
    }

    /// Encode `[batch, input]`; `keep` is the attention dropout mask (training only).
    pub fn encode(&self, x: Tensor<2>, keep: Option<Tensor<3>>) -> Encoded {
        let mut h = x;
        for l in &self.encoder {
            h = activation::relu(l.forward(h));
        }
        if let Some(a) = &self.attention {
            h = a.forward(h, keep);
        }
        for l in &self.bottleneck {
            h = activation::relu(l.forward(h));
        }
        Encoded {
            mean: self.mean.forward(h.clone()),
            log_var: self.log_var.as_ref().map(|l| l.forward(h)),
        }
    }

    /// Decode `[batch, latent]` to `[batch, input]`.
    pub fn decode(&self, z: Tensor<2>) -> Tensor<2> {
        let mut h = z;
        for l in &self.decoder {
            h = activation::relu(l.forward(h));
        }
        let out = self.output.forward(h);
        if self.sigmoid {
            activation::sigmoid(out)
        } else {
            out
        }
    }
}
