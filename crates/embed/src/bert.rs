//! BERT (Devlin et al. 2019), and the checkpoints that share its architecture: MiniLM
//! (`model_type: bert`) and RoBERTa (Liu et al. 2019; positions start after the padding
//! id, one token type). Keys follow `transformers`' `modeling_bert.py` /
//! `modeling_roberta.py`: `embeddings.*`, `encoder.layer.{i}.*`, `pooler.dense`.

use crate::config::{EncoderConfig, ModelKind};
use crate::error::Result;
use crate::layers::{Block, BlockNames, Embeddings};
use crate::weights::{Checkpoint, Dense};
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
    pub(crate) embeddings: Embeddings,
    pub(crate) blocks: Vec<Block>,
    pub(crate) pooler: Option<Dense>,
}

impl Bert {
    /// Load from a checkpoint.
    pub fn load(ck: &mut Checkpoint, cfg: &EncoderConfig, device: &Device) -> Result<Bert> {
        let h = cfg.hidden_size;
        // RoBERTa numbers positions from the padding id + 1.
        let position_offset = match cfg.kind {
            ModelKind::Roberta => cfg.pad_token_id as usize + 1,
            _ => 0,
        };
        let embeddings = Embeddings::load(ck, cfg, h, position_offset, device)?;
        let blocks = (0..cfg.layers)
            .map(|i| Block::load(ck, &format!("encoder.layer.{i}."), &NAMES, cfg, device))
            .collect::<Result<Vec<_>>>()?;
        let pooler = if ck.contains("pooler.dense.weight") {
            Some(Dense::load(ck, "pooler.dense", h, h, device)?)
        } else {
            None
        };
        Ok(Bert {
            embeddings,
            blocks,
            pooler,
        })
    }

    /// `ids`: `[batch, seq]`, right-padded; `pad_mask`: `[batch, 1, 1, seq]`.
    /// Returns the last hidden state `[batch, seq, hidden]`.
    pub fn forward(&self, ids: Tensor<2, Int>, pad_mask: &Tensor<4, Bool>) -> Tensor<3> {
        let mut x = self.embeddings.forward(ids);
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
