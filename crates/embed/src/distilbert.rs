//! DistilBERT (Sanh et al. 2019): BERT without token types and pooler, six blocks with
//! their own names (`q_lin`, `sa_layer_norm`, `ffn.lin1`, ...), following `transformers`'
//! `modeling_distilbert.py`.

use crate::config::EncoderConfig;
use crate::error::Result;
use crate::layers::{Block, BlockNames};
use crate::weights::{Checkpoint, Norm};
use burn::tensor::module::embedding;
use burn::tensor::{Bool, Device, Int, Tensor};

const NAMES: BlockNames<'static> = BlockNames {
    query: "attention.q_lin",
    key: "attention.k_lin",
    value: "attention.v_lin",
    attn_out: "attention.out_lin",
    attn_norm: "sa_layer_norm",
    ffn_in: "ffn.lin1",
    ffn_out: "ffn.lin2",
    out_norm: "output_layer_norm",
};

/// A DistilBERT encoder.
#[derive(Debug, Clone)]
pub struct DistilBert {
    pub(crate) word: Tensor<2>,
    pub(crate) position: Tensor<2>,
    pub(crate) norm: Norm,
    pub(crate) blocks: Vec<Block>,
}

impl DistilBert {
    /// Load from a checkpoint.
    pub fn load(ck: &mut Checkpoint, cfg: &EncoderConfig, device: &Device) -> Result<DistilBert> {
        let h = cfg.hidden_size;
        Ok(DistilBert {
            word: ck.matrix(
                "embeddings.word_embeddings.weight",
                cfg.vocab_size,
                h,
                device,
            )?,
            // Sinusoidal checkpoints store their (fixed) table here too.
            position: ck.matrix(
                "embeddings.position_embeddings.weight",
                cfg.max_positions,
                h,
                device,
            )?,
            norm: Norm::load(ck, "embeddings.LayerNorm", h, cfg.layer_norm_eps, device)?,
            blocks: (0..cfg.layers)
                .map(|i| Block::load(ck, &format!("transformer.layer.{i}."), &NAMES, cfg, device))
                .collect::<Result<Vec<_>>>()?,
        })
    }

    /// Last hidden state `[batch, seq, hidden]`.
    pub fn forward(&self, ids: Tensor<2, Int>, pad_mask: &Tensor<4, Bool>) -> Tensor<3> {
        let [_, l] = ids.dims();
        let h = self.word.dims()[1];
        let pos = self.position.clone().narrow(0, 0, l).reshape([1, l, h]);
        let mut x = self.norm.forward(embedding(self.word.clone(), ids) + pos);
        for b in &self.blocks {
            x = b.forward(x, pad_mask);
        }
        x
    }
}
