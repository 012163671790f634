//! BERT (Devlin et al. 2019), and the checkpoints that share its architecture: MiniLM
//! (`model_type: bert`) and RoBERTa (Liu et al. 2019; positions start after the padding
//! id, one token type). Keys follow `transformers`' `modeling_bert.py` /
//! `modeling_roberta.py`: `embeddings.*`, `encoder.layer.{i}.*`, `pooler.dense`.

use crate::config::{EncoderConfig, ModelKind};
use crate::error::Result;
use crate::layers::{Block, BlockNames};
use crate::weights::{Checkpoint, Dense, Norm};
use burn::tensor::module::embedding;
use burn::tensor::{Bool, Device, Int, Tensor};

const NAMES: BlockNames<'static> = BlockNames {
    query: "attention.self.query",
    key: "attention.self.key",
    value: "attention.self.value",
    attn_out: "attention.output.dense",
    attn_norm: "attention.output.LayerNorm",
    ffn_in: "intermediate.dense",
    ffn_out: "output.dense",
    out_norm: "output.LayerNorm",
};

/// A BERT-architecture encoder.
#[derive(Debug, Clone)]
pub struct Bert {
    word: Tensor<2>,
    position: Tensor<2>,
    token_type: Tensor<2>,
    norm: Norm,
    blocks: Vec<Block>,
    pooler: Option<Dense>,
    /// First position id (0 for BERT, `pad + 1` for RoBERTa).
    position_offset: usize,
}

impl Bert {
    /// Load from a checkpoint.
    pub fn load(ck: &mut Checkpoint, cfg: &EncoderConfig, device: &Device) -> Result<Bert> {
        let h = cfg.hidden_size;
        let word = ck.matrix(
            "embeddings.word_embeddings.weight",
            cfg.vocab_size,
            h,
            device,
        )?;
        let position = ck.matrix(
            "embeddings.position_embeddings.weight",
            cfg.max_positions,
            h,
            device,
        )?;
        let token_type = ck.matrix(
            "embeddings.token_type_embeddings.weight",
            cfg.type_vocab_size.max(1),
            h,
            device,
        )?;
        let norm = Norm::load(ck, "embeddings.LayerNorm", h, cfg.layer_norm_eps, device)?;
        let blocks = (0..cfg.layers)
            .map(|i| Block::load(ck, &format!("encoder.layer.{i}."), &NAMES, cfg, device))
            .collect::<Result<Vec<_>>>()?;
        let pooler = if ck.contains("pooler.dense.weight") {
            Some(Dense::load(ck, "pooler.dense", h, h, device)?)
        } else {
            None
        };
        let position_offset = match cfg.kind {
            ModelKind::Roberta => cfg.pad_token_id as usize + 1,
            _ => 0,
        };
        Ok(Bert {
            word,
            position,
            token_type,
            norm,
            blocks,
            pooler,
            position_offset,
        })
    }

    /// `ids`: `[batch, seq]`, right-padded; `pad_mask`: `[batch, 1, 1, seq]`.
    /// Returns the last hidden state `[batch, seq, hidden]`.
    pub fn forward(&self, ids: Tensor<2, Int>, pad_mask: &Tensor<4, Bool>) -> Tensor<3> {
        let [_, l] = ids.dims();
        let h = self.word.dims()[1];
        // Padding positions get ordinary position ids: their outputs are masked out of
        // attention and pooling, so real tokens see exactly what transformers computes.
        let pos = self
            .position
            .clone()
            .narrow(0, self.position_offset, l)
            .reshape([1, l, h]);
        let typ = self.token_type.clone().narrow(0, 0, 1).reshape([1, 1, h]);
        let mut x = self
            .norm
            .forward(embedding(self.word.clone(), ids) + pos + typ);
        for b in &self.blocks {
            x = b.forward(x, pad_mask);
        }
        x
    }

    /// BERT's pooler: `tanh(W h_CLS + b)`, when the checkpoint has one.
    pub fn pool(&self, cls: Tensor<2>) -> Option<Tensor<2>> {
        self.pooler.as_ref().map(|p| p.forward(cls).tanh())
    }
}
