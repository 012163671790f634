//! `config.json` of the five encoder families, read into one description.

use crate::error::{EmbedError, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// The encoder families of APT-LLM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Bert,
    Albert,
    DistilBert,
    Roberta,
    /// MiniLM checkpoints are BERT-architecture (`model_type: bert`) with few, narrow layers.
    MiniLm,
}

impl ModelKind {
    /// All five, in the paper's order.
    pub const ALL: [ModelKind; 5] = [
        ModelKind::Bert,
        ModelKind::Albert,
        ModelKind::DistilBert,
        ModelKind::Roberta,
        ModelKind::MiniLm,
    ];
    /// Display name (`BERT`, `ALBERT`, `DistilBERT`, `RoBERTa`, `MiniLM`).
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Bert => "BERT",
            ModelKind::Albert => "ALBERT",
            ModelKind::DistilBert => "DistilBERT",
            ModelKind::Roberta => "RoBERTa",
            ModelKind::MiniLm => "MiniLM",
        }
    }
    /// The Hugging Face Hub id of the checkpoint the paper used.
    pub fn default_hub_id(self) -> &'static str {
        match self {
            ModelKind::Bert => "bert-base-uncased",
            ModelKind::Albert => "albert-base-v2",
            ModelKind::DistilBert => "distilbert-base-uncased",
            ModelKind::Roberta => "roberta-base",
            ModelKind::MiniLm => "sentence-transformers/all-MiniLM-L6-v2",
        }
    }
    /// Pooling the family is usually used with for sentence embeddings.
    pub fn default_pooling(self) -> Pooling {
        Pooling::Mean
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelKind {
    type Err = EmbedError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "bert" => Ok(ModelKind::Bert),
            "albert" => Ok(ModelKind::Albert),
            "distilbert" => Ok(ModelKind::DistilBert),
            "roberta" => Ok(ModelKind::Roberta),
            "minilm" => Ok(ModelKind::MiniLm),
            _ => Err(EmbedError::InvalidOption {
                name: "model kind",
                reason: format!("{s:?} is not one of bert, albert, distilbert, roberta, minilm"),
            }),
        }
    }
}

/// How token vectors become one sentence vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// Mean over real (non-padding) tokens, as sentence-transformers.
    Mean,
    /// The first token's vector (`[CLS]` / `<s>`).
    Cls,
}

impl FromStr for Pooling {
    type Err = EmbedError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "mean" => Ok(Pooling::Mean),
            "cls" => Ok(Pooling::Cls),
            _ => Err(EmbedError::InvalidOption {
                name: "pooling",
                reason: format!("{s:?} is not mean or cls"),
            }),
        }
    }
}

/// Feed-forward activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    /// Exact GELU (erf).
    Gelu,
    /// Tanh approximation (`gelu_new`, `gelu_pytorch_tanh`, `gelu_fast`).
    GeluTanh,
    Relu,
    Silu,
}

/// Architecture, as far as the forward pass needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncoderConfig {
    /// Family of the architecture (`Bert` for MiniLM checkpoints: the caller may relabel).
    pub kind: ModelKind,
    pub hidden_size: usize,
    pub layers: usize,
    pub heads: usize,
    pub intermediate_size: usize,
    pub vocab_size: usize,
    pub max_positions: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
    pub activation: Activation,
    /// ALBERT's factorised embedding width (= hidden_size elsewhere).
    pub embedding_size: usize,
    /// ALBERT parameter groups.
    pub hidden_groups: usize,
    /// ALBERT layers inside a group.
    pub inner_group_num: usize,
    /// Padding token id (RoBERTa positions start after it).
    pub pad_token_id: u32,
}

fn get_usize(v: &Value, keys: &[&str], path: &Path) -> Result<usize> {
    for k in keys {
        if let Some(x) = v.get(*k).and_then(Value::as_u64) {
            return Ok(x as usize);
        }
    }
    Err(EmbedError::Config {
        path: path.to_path_buf(),
        reason: format!("missing integer field {}", keys.join(" / ")),
    })
}

fn activation(name: &str, path: &Path) -> Result<Activation> {
    match name {
        "gelu" => Ok(Activation::Gelu),
        "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Ok(Activation::GeluTanh),
        "relu" => Ok(Activation::Relu),
        "silu" | "swish" => Ok(Activation::Silu),
        other => Err(EmbedError::Config {
            path: path.to_path_buf(),
            reason: format!("unsupported activation {other:?}"),
        }),
    }
}

impl EncoderConfig {
    /// Read `config.json`.
    pub fn from_file(path: &Path) -> Result<EncoderConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| EmbedError::io(path, e))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| EmbedError::Config {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Self::from_json(&v, path)
    }

    /// Interpret a parsed `config.json`; `path` is for messages.
    pub fn from_json(v: &Value, path: &Path) -> Result<EncoderConfig> {
        let model_type = v.get("model_type").and_then(Value::as_str).unwrap_or("");
        let kind = match model_type {
            "bert" => ModelKind::Bert,
            "roberta" | "xlm-roberta" => ModelKind::Roberta,
            "distilbert" => ModelKind::DistilBert,
            "albert" => ModelKind::Albert,
            other => {
                return Err(EmbedError::UnknownModelType {
                    path: path.to_path_buf(),
                    model_type: other.to_string(),
                });
            }
        };
        let pad = v
            .get("pad_token_id")
            .and_then(Value::as_u64)
            .unwrap_or(match kind {
                ModelKind::Roberta => 1,
                _ => 0,
            });
        let pad = u32::try_from(pad).map_err(|_| EmbedError::TokenIdOutOfRange {
            path: path.to_path_buf(),
            what: "pad_token_id".into(),
            id: pad,
            vocab_size: get_usize(v, &["vocab_size"], path).unwrap_or(0),
        })?;
        let cfg = if kind == ModelKind::DistilBert {
            let hidden = get_usize(v, &["dim"], path)?;
            let act = v
                .get("activation")
                .and_then(Value::as_str)
                .unwrap_or("gelu");
            EncoderConfig {
                kind,
                hidden_size: hidden,
                layers: get_usize(v, &["n_layers"], path)?,
                heads: get_usize(v, &["n_heads"], path)?,
                intermediate_size: get_usize(v, &["hidden_dim"], path)?,
                vocab_size: get_usize(v, &["vocab_size"], path)?,
                max_positions: get_usize(v, &["max_position_embeddings"], path)?,
                type_vocab_size: 0,
                layer_norm_eps: 1e-12,
                activation: activation(act, path)?,
                embedding_size: hidden,
                hidden_groups: 1,
                inner_group_num: 1,
                pad_token_id: pad,
            }
        } else {
            let hidden = get_usize(v, &["hidden_size"], path)?;
            let act = v
                .get("hidden_act")
                .and_then(Value::as_str)
                .unwrap_or("gelu");
            EncoderConfig {
                kind,
                hidden_size: hidden,
                layers: get_usize(v, &["num_hidden_layers"], path)?,
                heads: get_usize(v, &["num_attention_heads"], path)?,
                intermediate_size: get_usize(v, &["intermediate_size"], path)?,
                vocab_size: get_usize(v, &["vocab_size"], path)?,
                max_positions: get_usize(v, &["max_position_embeddings"], path)?,
                type_vocab_size: get_usize(v, &["type_vocab_size"], path).unwrap_or(2),
                layer_norm_eps: v
                    .get("layer_norm_eps")
                    .and_then(Value::as_f64)
                    .unwrap_or(1e-12),
                activation: activation(act, path)?,
                embedding_size: if kind == ModelKind::Albert {
                    get_usize(v, &["embedding_size"], path)?
                } else {
                    hidden
                },
                hidden_groups: get_usize(v, &["num_hidden_groups"], path).unwrap_or(1),
                inner_group_num: get_usize(v, &["inner_group_num"], path).unwrap_or(1),
                pad_token_id: pad,
            }
        };
        cfg.validate(path)?;
        Ok(cfg)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let bad = |reason: String| {
            Err(EmbedError::Config {
                path: path.to_path_buf(),
                reason,
            })
        };
        if self.heads == 0 || !self.hidden_size.is_multiple_of(self.heads) {
            return bad(format!(
                "hidden size {} is not a multiple of {} heads",
                self.hidden_size, self.heads
            ));
        }
        if self.layers == 0
            || self.hidden_groups == 0
            || !self.layers.is_multiple_of(self.hidden_groups)
        {
            return bad(format!(
                "{} layers cannot be split into {} groups",
                self.layers, self.hidden_groups
            ));
        }
        if self.max_positions == 0 || self.vocab_size == 0 {
            return bad("max_position_embeddings and vocab_size must be positive".into());
        }
        if self.pad_token_id as usize >= self.vocab_size {
            return Err(EmbedError::TokenIdOutOfRange {
                path: path.to_path_buf(),
                what: "pad_token_id".into(),
                id: self.pad_token_id as u64,
                vocab_size: self.vocab_size,
            });
        }
        if self.kind == ModelKind::Roberta && self.pad_token_id as usize + 4 > self.max_positions {
            return bad(format!(
                "RoBERTa positions start after pad_token_id {}: max_position_embeddings {} \
                 leaves no room for a sentence",
                self.pad_token_id, self.max_positions
            ));
        }
        if self.kind != ModelKind::DistilBert && self.type_vocab_size == 0 {
            return bad("type_vocab_size must be positive".into());
        }
        Ok(())
    }

    /// Longest input in tokens, specials included (RoBERTa reserves `pad + 1` positions).
    pub fn max_tokens(&self) -> usize {
        match self.kind {
            ModelKind::Roberta => self
                .max_positions
                .saturating_sub(self.pad_token_id as usize + 1),
            _ => self.max_positions,
        }
    }

    /// Width of each attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.heads
    }
}
