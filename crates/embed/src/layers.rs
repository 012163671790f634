//! The post-LayerNorm transformer block shared by BERT, RoBERTa, MiniLM, DistilBERT and
//! ALBERT (they differ in names, embeddings and weight sharing, not in the block), and the
//! word + position + token-type embeddings of all but DistilBERT.

use crate::config::{Activation, EncoderConfig};
use crate::error::Result;
use crate::weights::{Checkpoint, Dense, Norm};
use burn::tensor::module::{attention, embedding};
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Device, Int, Tensor, activation};

/// Checkpoint names of one block, per family.
pub struct BlockNames<'a> {
    pub query: &'a str,
    pub key: &'a str,
    pub value: &'a str,
    pub attn_out: &'a str,
    pub attn_norm: &'a str,
    pub ffn_in: &'a str,
    pub ffn_out: &'a str,
    pub out_norm: &'a str,
}

/// One encoder block: self-attention, residual, LayerNorm, feed-forward, residual,
/// LayerNorm.
#[derive(Debug, Clone)]
pub struct Block {
    pub(crate) query: Dense,
    pub(crate) key: Dense,
    pub(crate) value: Dense,
    pub(crate) attn_out: Dense,
    pub(crate) attn_norm: Norm,
    pub(crate) ffn_in: Dense,
    pub(crate) ffn_out: Dense,
    pub(crate) out_norm: Norm,
    pub(crate) heads: usize,
    pub(crate) activation: Activation,
}

impl Block {
    /// Load a block whose tensors sit under `prefix` with the given names.
    pub fn load(
        ck: &mut Checkpoint,
        prefix: &str,
        n: &BlockNames<'_>,
        cfg: &EncoderConfig,
        device: &Device,
    ) -> Result<Block> {
        let h = cfg.hidden_size;
        let i = cfg.intermediate_size;
        let p = |s: &str| format!("{prefix}{s}");
        Ok(Block {
            query: Dense::load(ck, &p(n.query), h, h, device)?,
            key: Dense::load(ck, &p(n.key), h, h, device)?,
            value: Dense::load(ck, &p(n.value), h, h, device)?,
            attn_out: Dense::load(ck, &p(n.attn_out), h, h, device)?,
            attn_norm: Norm::load(ck, &p(n.attn_norm), h, cfg.layer_norm_eps, device)?,
            ffn_in: Dense::load(ck, &p(n.ffn_in), h, i, device)?,
            ffn_out: Dense::load(ck, &p(n.ffn_out), i, h, device)?,
            out_norm: Norm::load(ck, &p(n.out_norm), h, cfg.layer_norm_eps, device)?,
            heads: cfg.heads,
            activation: cfg.activation,
        })
    }

    /// `x`: `[batch, seq, hidden]`; `pad_mask`: `[batch, 1, 1, seq]`, true on padding.
    pub fn forward(&self, x: Tensor<3>, pad_mask: &Tensor<4, Bool>) -> Tensor<3> {
        let [b, l, h] = x.dims();
        let dh = h / self.heads;
        let flat = x.reshape([b * l, h]);
        let split = |t: Tensor<2>| t.reshape([b, l, self.heads, dh]).swap_dims(1, 2);
        let q = split(self.query.forward(flat.clone()));
        let k = split(self.key.forward(flat.clone()));
        let v = split(self.value.forward(flat.clone()));
        let ctx = attention(
            q,
            k,
            v,
            Some(pad_mask.clone()),
            None,
            AttentionModuleOptions::default(),
        );
        let ctx = ctx.swap_dims(1, 2).reshape([b * l, h]);
        let attn = self.attn_norm.forward(self.attn_out.forward(ctx) + flat);
        let inner = self.ffn_in.forward(attn.clone());
        let inner = match self.activation {
            Activation::Gelu => activation::gelu(inner),
            Activation::GeluTanh => activation::gelu_approximate(inner),
            Activation::Relu => activation::relu(inner),
            Activation::Silu => activation::silu(inner),
        };
        let out = self.out_norm.forward(self.ffn_out.forward(inner) + attn);
        out.reshape([b, l, h])
    }
}

/// BERT-style input embeddings: word + position + token type 0, then LayerNorm.
#[derive(Debug, Clone)]
pub struct Embeddings {
    pub(crate) word: Tensor<2>,
    pub(crate) position: Tensor<2>,
    pub(crate) token_type: Tensor<2>,
    pub(crate) norm: Norm,
    /// First position id (0 for BERT and ALBERT, `pad + 1` for RoBERTa).
    pub(crate) position_offset: usize,
}

impl Embeddings {
    /// Load `embeddings.*` tables `width` wide (`hidden_size`, or ALBERT's
    /// `embedding_size`).
    pub fn load(
        ck: &mut Checkpoint,
        cfg: &EncoderConfig,
        width: usize,
        position_offset: usize,
        device: &Device,
    ) -> Result<Embeddings> {
        let mut table = |name: &str, rows: usize| ck.matrix(name, rows, width, device);
        let word = table("embeddings.word_embeddings.weight", cfg.vocab_size)?;
        let position = table("embeddings.position_embeddings.weight", cfg.max_positions)?;
        let token_type = table(
            "embeddings.token_type_embeddings.weight",
            cfg.type_vocab_size.max(1),
        )?;
        let norm = Norm::load(
            ck,
            "embeddings.LayerNorm",
            width,
            cfg.layer_norm_eps,
            device,
        )?;
        Ok(Embeddings {
            word,
            position,
            token_type,
            norm,
            position_offset,
        })
    }

    /// `ids` `[batch, seq]` → `[batch, seq, width]`. Padding positions get ordinary
    /// position ids: their outputs are masked out of attention and pooling, so real tokens
    /// see exactly what transformers computes.
    pub fn forward(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        let [_, l] = ids.dims();
        let w = self.word.dims()[1];
        let pos = self
            .position
            .clone()
            .narrow(0, self.position_offset, l)
            .reshape([1, l, w]);
        let typ = self.token_type.clone().narrow(0, 0, 1).reshape([1, 1, w]);
        self.norm
            .forward(embedding(self.word.clone(), ids) + pos + typ)
    }
}
