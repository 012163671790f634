//! The transformer encoder: burn (any device) or, on the CPU by default, the `gemm` fast
//! path of [`crate::fast`].

use crate::albert::Albert;
use crate::bert::Bert;
use crate::common::{
    CHECKPOINT_PREFIXES, CpuKernels, EncodeStats, EncoderOptions, ModelFiles, ModelIdentity,
    Precision, SentenceEncoder, encode_batched, unused_layers,
};
use crate::config::{EncoderConfig, ModelKind, Pooling};
use crate::distilbert::DistilBert;
use crate::error::{EmbedError, Result};
use crate::fast::FastNetwork;
use crate::tokenizer::TextTokenizer;
use crate::weights::Checkpoint;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use ndarray::Array2;
use std::path::Path;

enum Network {
    Bert(Box<Bert>),
    DistilBert(Box<DistilBert>),
    Albert(Box<Albert>),
    /// The CPU fast path (the burn network it was built from is dropped).
    Fast(Box<FastNetwork>),
}

/// Tokens per forward pass of the fast path when the caller gave no batch size: large
/// enough that the matmuls run near the kernel's peak, small enough to stay in cache-friendly
/// buffers (~20 MB for MiniLM).
const FAST_BATCH_TOKENS: usize = 4096;

/// BERT, ALBERT, DistilBERT, RoBERTa or MiniLM, run with burn (CPU: flex; GPU: wgpu with
/// the `wgpu` feature), loaded from a Hugging Face model directory.
pub struct TransformerEncoder {
    identity: ModelIdentity,
    config: EncoderConfig,
    network: Network,
    tokenizer: TextTokenizer,
    device: Device,
    batch_size: usize,
    /// Token budget of a batch (fast path without an explicit batch size).
    batch_tokens: Option<usize>,
}

impl std::fmt::Debug for TransformerEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransformerEncoder")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

/// The default CPU device (burn's flex backend).
pub fn cpu_device() -> Device {
    Device::flex()
}

/// A GPU device through wgpu (needs the `wgpu` feature).
#[cfg(feature = "wgpu")]
pub fn gpu_device() -> Device {
    Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)
}

impl TransformerEncoder {
    /// Load a Hugging Face model directory: `config.json`, `model.safetensors`, and a
    /// tokenizer (`tokenizer.json`, `vocab.txt` or `vocab.json` + `merges.txt`).
    ///
    /// ```no_run
    /// use apt_llm_embed::{EncoderOptions, SentenceEncoder, TransformerEncoder};
    /// let enc = TransformerEncoder::from_dir("models/all-MiniLM-L6-v2", EncoderOptions::default())?;
    /// let v = enc.encode(&["The process has event read from a file."])?;
    /// assert_eq!(v.dim(), (1, 384));
    /// # Ok::<(), apt_llm_embed::EmbedError>(())
    /// ```
    pub fn from_dir(dir: impl AsRef<Path>, options: EncoderOptions) -> Result<TransformerEncoder> {
        if options.precision != Precision::F32 {
            return Err(EmbedError::InvalidOption {
                name: "precision",
                reason: format!(
                    "{} runs on the tch backend only; the burn encoder computes in f32",
                    options.precision.name()
                ),
            });
        }
        let files = ModelFiles::open(dir.as_ref(), &options)?;
        let device = options.device.clone().unwrap_or_else(cpu_device);
        let mut ck = Checkpoint::from_safetensors(&files.weights, CHECKPOINT_PREFIXES.to_vec())?;
        let config = files.config;
        unused_layers(&ck, &config)?;
        let mut network = match config.kind {
            ModelKind::Bert | ModelKind::MiniLm | ModelKind::Roberta => {
                Network::Bert(Box::new(Bert::load(&mut ck, &config, &device)?))
            }
            ModelKind::DistilBert => {
                Network::DistilBert(Box::new(DistilBert::load(&mut ck, &config, &device)?))
            }
            ModelKind::Albert => {
                Network::Albert(Box::new(Albert::load(&mut ck, &config, &device)?))
            }
        };
        // The fast path is CPU-only and inference-only: any other device (wgpu, an
        // autodiff device) keeps burn.
        if options.cpu_kernels == CpuKernels::Fast && device == cpu_device() {
            network = Network::Fast(Box::new(match &network {
                Network::Bert(m) => FastNetwork::from_bert(m),
                Network::DistilBert(m) => FastNetwork::from_distilbert(m),
                Network::Albert(m) => FastNetwork::from_albert(m),
                Network::Fast(f) => (**f).clone(),
            }));
        }
        let batch_tokens = match (&network, options.batch_size) {
            (Network::Fast(_), None) => Some(FAST_BATCH_TOKENS),
            _ => None,
        };
        Ok(TransformerEncoder {
            identity: files.identity,
            config,
            network,
            tokenizer: files.tokenizer,
            device,
            // A token budget replaces the sentence count where it applies.
            batch_size: if batch_tokens.is_some() {
                usize::MAX
            } else {
                files.batch_size
            },
            batch_tokens,
        })
    }

    /// The architecture read from `config.json`.
    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// Token ids of sentences (special tokens included, not truncated).
    pub fn tokenize(&self, sentences: &[&str]) -> Result<Vec<Vec<u32>>> {
        self.tokenizer.encode(sentences)
    }

    fn tensors(&self, batch: &[&[u32]]) -> (Tensor<2, Int>, Tensor<4, Bool>, Tensor<3>, usize) {
        let b = batch.len();
        let l = batch.iter().map(|s| s.len()).max().unwrap_or(1);
        let pad = self.config.pad_token_id as i64;
        let mut ids = vec![pad; b * l];
        let mut pad_mask = vec![true; b * l];
        let mut keep = vec![0f32; b * l];
        for (i, s) in batch.iter().enumerate() {
            for (j, &t) in s.iter().enumerate() {
                ids[i * l + j] = t as i64;
                pad_mask[i * l + j] = false;
                keep[i * l + j] = 1.0;
            }
        }
        let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [b, l]), &self.device);
        let mask =
            Tensor::<4, Bool>::from_data(TensorData::new(pad_mask, [b, 1, 1, l]), &self.device);
        let keep = Tensor::<3>::from_data(TensorData::new(keep, [b, l, 1]), &self.device);
        (ids, mask, keep, l)
    }

    /// The burn forward pass; `None` on the fast path.
    fn forward(&self, ids: Tensor<2, Int>, mask: &Tensor<4, Bool>) -> Option<Tensor<3>> {
        match &self.network {
            Network::Bert(m) => Some(m.forward(ids, mask)),
            Network::DistilBert(m) => Some(m.forward(ids, mask)),
            Network::Albert(m) => Some(m.forward(ids, mask)),
            Network::Fast(_) => None,
        }
    }

    /// Does this encoder run the CPU fast path?
    pub fn is_fast_path(&self) -> bool {
        matches!(self.network, Network::Fast(_))
    }

    /// Last hidden states of one tokenised input `[tokens, hidden]`, and the pooler output
    /// where the checkpoint has a pooler (BERT, ALBERT). For parity tests and inspection.
    pub fn hidden_states(&self, ids: &[u32]) -> Result<(Array2<f32>, Option<Vec<f32>>)> {
        // Caller-made ids: an id past the embedding table, or more ids than positions,
        // would panic inside the network.
        let limit = self.config.max_tokens();
        if ids.is_empty() || ids.len() > limit {
            return Err(EmbedError::InvalidOption {
                name: "ids",
                reason: format!("{} token ids; between 1 and {limit} are needed", ids.len()),
            });
        }
        if let Some(&id) = ids
            .iter()
            .find(|&&id| id as usize >= self.config.vocab_size)
        {
            return Err(EmbedError::InvalidOption {
                name: "ids",
                reason: format!(
                    "token id {id} is not below vocab_size {}",
                    self.config.vocab_size
                ),
            });
        }
        let dim = self.config.hidden_size;
        if let Network::Fast(f) = &self.network {
            let (hv, pooled) = f.hidden_states(ids);
            let hidden = Array2::from_shape_vec((ids.len(), dim), hv).expect("shape matches");
            return Ok((hidden, pooled));
        }
        let (t, mask, _, l) = self.tensors(&[ids]);
        let h = self.forward(t, &mask).expect("burn network");
        let cls = h.clone().narrow(1, 0, 1).reshape([1, dim]);
        let pooled = match &self.network {
            Network::Bert(m) => m.pool(cls),
            Network::Albert(m) => m.pool(cls),
            Network::DistilBert(_) | Network::Fast(_) => None,
        };
        let hv = to_vec(h.reshape([l, dim]));
        let hidden = Array2::from_shape_vec((l, dim), hv).expect("shape matches");
        Ok((hidden, pooled.map(to_vec)))
    }

    /// Pooled vectors of already tokenised inputs, each at most `max_tokens` long.
    fn pool_batch(&self, batch: &[&[u32]]) -> Vec<f32> {
        if let Network::Fast(f) = &self.network {
            return f.pool(batch, self.identity.pooling == Pooling::Mean);
        }
        let (ids, mask, keep, _) = self.tensors(batch);
        let b = batch.len();
        let dim = self.config.hidden_size;
        let h = self.forward(ids, &mask).expect("burn network");
        let pooled = match self.identity.pooling {
            Pooling::Cls => h.narrow(1, 0, 1).reshape([b, dim]),
            Pooling::Mean => {
                let sum = (h * keep.clone()).sum_dim(1);
                let count = keep.sum_dim(1);
                (sum / count).reshape([b, dim])
            }
        };
        to_vec(pooled)
    }

    /// Encode with counters. Duplicate sentences are encoded once; inputs are sorted by
    /// length and batched so little padding is computed.
    pub fn encode_with_stats(&self, sentences: &[&str]) -> Result<(Array2<f32>, EncodeStats)> {
        encode_batched(
            &self.identity,
            &self.tokenizer,
            self.batch_size,
            self.batch_tokens,
            sentences,
            |batch| Ok(self.pool_batch(batch)),
        )
    }
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .try_into_vec::<f32>()
        .expect("float tensors hold f32")
}

impl SentenceEncoder for TransformerEncoder {
    fn identity(&self) -> &ModelIdentity {
        &self.identity
    }
    fn encode(&self, sentences: &[&str]) -> Result<Array2<f32>> {
        Ok(TransformerEncoder::encode_with_stats(self, sentences)?.0)
    }
    fn encode_with_stats(&self, sentences: &[&str]) -> Result<(Array2<f32>, EncodeStats)> {
        TransformerEncoder::encode_with_stats(self, sentences)
    }
}
