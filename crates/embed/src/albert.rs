//! ALBERT (Lan et al. 2020): factorised embeddings (`embedding_size` projected to
//! `hidden_size` by `encoder.embedding_hidden_mapping_in`) and cross-layer sharing (layer
//! `i` runs group `i / (layers / groups)`, each group `inner_group_num` blocks), following
//! `transformers`' `modeling_albert.py`.

use crate::config::EncoderConfig;
use crate::error::Result;
use crate::layers::{Block, BlockNames, Embeddings};
use crate::weights::{Checkpoint, Dense};
use burn::tensor::{Bool, Device, Int, Tensor};

const NAMES: BlockNames<'static> = BlockNames {
    query: "attention.query",
    key: "attention.key",
    value: "attention.value",
    attn_out: "attention.dense",
    attn_norm: "attention.LayerNorm",
    ffn_in: "ffn",
    ffn_out: "ffn_output",
    out_norm: "full_layer_layer_norm",
};

/// An ALBERT encoder.
#[derive(Debug, Clone)]
pub struct Albert {
    pub(crate) embeddings: Embeddings,
    pub(crate) mapping: Dense,
    /// `groups[g][j]`: block j of group g.
    pub(crate) groups: Vec<Vec<Block>>,
    pub(crate) layers: usize,
    pub(crate) pooler: Option<Dense>,
}

impl Albert {
    /// Load from a checkpoint.
    pub fn load(ck: &mut Checkpoint, cfg: &EncoderConfig, device: &Device) -> Result<Albert> {
        let e = cfg.embedding_size;
        let h = cfg.hidden_size;
        let embeddings = Embeddings::load(ck, cfg, e, 0, device)?;
        let mapping = Dense::load(ck, "encoder.embedding_hidden_mapping_in", e, h, device)?;
        let mut groups = Vec::new();
        for g in 0..cfg.hidden_groups {
            let mut blocks = Vec::new();
            for j in 0..cfg.inner_group_num {
                let prefix = format!("encoder.albert_layer_groups.{g}.albert_layers.{j}.");
                blocks.push(Block::load(ck, &prefix, &NAMES, cfg, device)?);
            }
            groups.push(blocks);
        }
        let pooler = if ck.contains("pooler.weight") {
            Some(Dense::load(ck, "pooler", h, h, device)?)
        } else {
            None
        };
        Ok(Albert {
            embeddings,
            mapping,
            groups,
            layers: cfg.layers,
            pooler,
        })
    }

    /// Last hidden state `[batch, seq, hidden]`.
    pub fn forward(&self, ids: Tensor<2, Int>, pad_mask: &Tensor<4, Bool>) -> Tensor<3> {
        let [b, l] = ids.dims();
        let x = self.embeddings.forward(ids);
        let e = x.dims()[2];
        let h = self.mapping.weight.dims()[1];
        let mut x = self
            .mapping
            .forward(x.reshape([b * l, e]))
            .reshape([b, l, h]);
        let per_group = self.layers / self.groups.len();
        for i in 0..self.layers {
            for block in &self.groups[i / per_group] {
                x = block.forward(x, pad_mask);
            }
        }
        x
    }

    /// ALBERT's pooler: `tanh(W h_CLS + b)`, when the checkpoint has one.
    pub fn pool(&self, cls: Tensor<2>) -> Option<Tensor<2>> {
        self.pooler.as_ref().map(|p| p.forward(cls).tanh())
    }
}
