//! What every backend shares (#13): the [`SentenceEncoder`] seam, model identities and
//! options, reading a model directory, and the backend-independent batching. The burn
//! encoder ([`crate::encoder`]) and the libtorch one (`tch_backend`) both import this
//! module and neither imports the other.

use crate::config::{EncoderConfig, ModelKind, Pooling};
use crate::error::{EmbedError, Result};
use crate::tokenizer::TextTokenizer;
use crate::weights::Checkpoint;
use burn::tensor::Device;
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What a model is, precisely enough to key a cache and label a result.
///
/// Open to encoders outside this crate: the family is a free name (`MiniLM`, `BERT`, ...
/// for the transformers here, yours for your own), and the fingerprint tells two
/// checkpoints of one family apart. Build one for your encoder with
/// [`ModelIdentity::new`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ModelIdentity {
    /// Human name (directory or Hub id).
    pub name: String,
    /// The family, as tables show it (`MiniLM`, `BERT`, ..., or any name of yours).
    pub family: String,
    /// Output dimension.
    pub dim: usize,
    pub pooling: Pooling,
    /// L2-normalised outputs.
    pub normalize: bool,
    /// Longest input in tokens.
    pub max_tokens: usize,
    /// How over-long inputs are handled.
    pub long_input: LongInput,
    /// Hash of the configuration and weights (FNV-1a of config.json and the checkpoint's
    /// size, head and tail), so a changed checkpoint never reuses cached embeddings.
    pub fingerprint: String,
    /// Which implementation computes the vectors.
    #[serde(default)]
    pub backend: Backend,
    /// The arithmetic the network runs in.
    #[serde(default)]
    pub precision: Precision,
}

impl ModelIdentity {
    /// The identity of an encoder outside this crate: its family, name, output dimension
    /// and a fingerprint that changes whenever its vectors would (a version, a hash of
    /// its parameters). The transformer-specific fields take neutral values (mean pooling,
    /// no normalisation, no token limit).
    pub fn new(
        family: impl Into<String>,
        name: impl Into<String>,
        dim: usize,
        fingerprint: impl Into<String>,
    ) -> ModelIdentity {
        ModelIdentity {
            name: name.into(),
            family: family.into(),
            dim,
            pooling: Pooling::Mean,
            normalize: false,
            max_tokens: 0,
            long_input: LongInput::Truncate,
            fingerprint: fingerprint.into(),
            backend: Backend::Burn,
            precision: Precision::F32,
        }
    }

    /// A file-name-safe key for caches.
    pub fn key(&self) -> String {
        let backend = match self.backend {
            Backend::Burn => "",
            Backend::Tch => "tch-",
        };
        let precision = match self.precision {
            Precision::F32 => "",
            Precision::Bf16 => "bf16-",
        };
        format!(
            "{backend}{precision}{}-{:?}-{}-{}-{:?}-{}",
            self.family.to_ascii_lowercase(),
            self.pooling,
            if self.normalize { "l2" } else { "raw" },
            self.max_tokens,
            self.long_input,
            self.fingerprint
        )
        .to_ascii_lowercase()
    }
}

/// The arithmetic of an encoder's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit floats: the default, and what the parity suite holds to 1e-4 against
    /// transformers.
    #[default]
    F32,
    /// bfloat16 weights and activations (pooling and normalisation in f32), on the tch
    /// backend only: faster where the CPU has bf16 instructions, at a small accuracy cost
    /// measured in docs/benchmarks.md. The burn encoder refuses it.
    Bf16,
}

impl Precision {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        }
    }
}

/// Which implementation runs the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// burn (CPU: flex; GPU: wgpu with the `wgpu` feature). Always available.
    #[default]
    Burn,
    /// rust-bert on libtorch; needs the `tch` feature and libtorch 2.4.0.
    Tch,
}

impl Backend {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Burn => "burn",
            Backend::Tch => "tch",
        }
    }

    /// Is this backend compiled into this build?
    pub fn available(self) -> bool {
        match self {
            Backend::Burn => true,
            Backend::Tch => cfg!(feature = "tch"),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Backend {
    type Err = EmbedError;
    fn from_str(s: &str) -> Result<Backend> {
        match s.to_ascii_lowercase().as_str() {
            "burn" => Ok(Backend::Burn),
            "tch" | "libtorch" | "rust-bert" => Ok(Backend::Tch),
            _ => Err(EmbedError::InvalidOption {
                name: "backend",
                reason: format!("{s:?} is not a backend (burn, tch)"),
            }),
        }
    }
}

/// Encodes sentences into dense vectors. Any implementation composes with any detector.
pub trait SentenceEncoder: Send + Sync {
    /// What model this is.
    fn identity(&self) -> &ModelIdentity;
    /// Output dimension.
    fn dim(&self) -> usize {
        self.identity().dim
    }
    /// One row per sentence, in input order.
    fn encode(&self, sentences: &[&str]) -> Result<Array2<f32>>;
    /// [`encode`](SentenceEncoder::encode) with counters. The default counts sentences
    /// only; the transformer backends fill every field.
    fn encode_with_stats(&self, sentences: &[&str]) -> Result<(Array2<f32>, EncodeStats)> {
        let m = self.encode(sentences)?;
        let stats = EncodeStats {
            sentences: sentences.len(),
            ..Default::default()
        };
        Ok((m, stats))
    }
}

/// What to do with sentences longer than the model's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LongInput {
    /// Keep the first tokens (the paper's behaviour); the cut is counted.
    #[default]
    Truncate,
    /// Split into consecutive windows of the model's length, encode each, and average
    /// them weighted by their token counts, so a process with thousands of netflow
    /// attributes is judged by all of them.
    Windows,
}

/// Options of a [`TransformerEncoder`]. `None` fields take the model directory's
/// sentence-transformers settings, else the family default.
#[derive(Debug, Clone, Default)]
pub struct EncoderOptions {
    pub pooling: Option<Pooling>,
    pub normalize: Option<bool>,
    /// Cap on tokens per input (at most the model's positions).
    pub max_tokens: Option<usize>,
    pub long_input: LongInput,
    /// Largest number of sentences in one forward pass (default 64; unset means batches
    /// of about 4,096 real tokens on the burn encoder's CPU fast path, and 16 sentences
    /// on the tch backend's CPU workers).
    pub batch_size: Option<usize>,
    /// Relabel the family (e.g. MiniLM for a `bert` checkpoint); guessed from the name.
    pub kind: Option<ModelKind>,
    /// Device; CPU when `None`.
    pub device: Option<Device>,
    /// How the burn encoder computes on the CPU (ignored by other devices and backends).
    pub cpu_kernels: CpuKernels,
    /// The network's arithmetic (default f32; bf16 on the tch backend only).
    pub precision: Precision,
}

/// Which code computes a burn encoder on the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CpuKernels {
    /// Direct `gemm` calls on packed (unpadded) batches, weights laid out once at load:
    /// f32 inference at about 2x burn's generic path (see docs/benchmarks.md).
    #[default]
    Fast,
    /// burn's generic tensor operations on its `flex` backend — the same code the GPU
    /// runs; kept to cross-check the fast path.
    Burn,
}

/// Counters of one encode call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct EncodeStats {
    /// Sentences asked for.
    pub sentences: usize,
    /// Distinct sentences actually encoded.
    pub distinct: usize,
    /// Real tokens fed to the model (specials included, padding excluded).
    pub tokens: usize,
    /// Padding tokens computed alongside.
    pub padding: usize,
    /// Sentences longer than the limit.
    pub truncated: usize,
    /// Tokens dropped by truncation.
    pub tokens_cut: usize,
}

impl<T: SentenceEncoder + ?Sized> SentenceEncoder for Box<T> {
    fn identity(&self) -> &ModelIdentity {
        (**self).identity()
    }
    fn encode(&self, sentences: &[&str]) -> Result<Array2<f32>> {
        (**self).encode(sentences)
    }
    fn encode_with_stats(&self, sentences: &[&str]) -> Result<(Array2<f32>, EncodeStats)> {
        (**self).encode_with_stats(sentences)
    }
}

impl<T: SentenceEncoder + ?Sized> SentenceEncoder for std::sync::Arc<T> {
    fn identity(&self) -> &ModelIdentity {
        (**self).identity()
    }
    fn encode(&self, sentences: &[&str]) -> Result<Array2<f32>> {
        (**self).encode(sentences)
    }
    fn encode_with_stats(&self, sentences: &[&str]) -> Result<(Array2<f32>, EncodeStats)> {
        (**self).encode_with_stats(sentences)
    }
}

fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

fn fingerprint(config: &Path, weights: &Path) -> Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    h = fnv1a(
        h,
        &std::fs::read(config).map_err(|e| EmbedError::io(config, e))?,
    );
    let mut f = std::fs::File::open(weights).map_err(|e| EmbedError::io(weights, e))?;
    let len = f.metadata().map_err(|e| EmbedError::io(weights, e))?.len();
    h = fnv1a(h, &len.to_le_bytes());
    let mut buf = vec![0u8; 1 << 16];
    let n = f.read(&mut buf).map_err(|e| EmbedError::io(weights, e))?;
    h = fnv1a(h, &buf[..n]);
    if len > buf.len() as u64 {
        f.seek(SeekFrom::End(-(buf.len() as i64)))
            .map_err(|e| EmbedError::io(weights, e))?;
        let n = f.read(&mut buf).map_err(|e| EmbedError::io(weights, e))?;
        h = fnv1a(h, &buf[..n]);
    }
    Ok(format!("{h:016x}"))
}

/// Settings a sentence-transformers directory declares (pooling, normalisation, length).
fn sentence_transformers_settings(dir: &Path) -> (Option<Pooling>, Option<bool>, Option<usize>) {
    let read = |p: PathBuf| -> Option<serde_json::Value> {
        serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()
    };
    let pooling = read(dir.join("1_Pooling/config.json")).and_then(|v| {
        if v.get("pooling_mode_cls_token").and_then(|b| b.as_bool()) == Some(true) {
            Some(Pooling::Cls)
        } else if v.get("pooling_mode_mean_tokens").and_then(|b| b.as_bool()) == Some(true) {
            Some(Pooling::Mean)
        } else {
            None
        }
    });
    let normalize = read(dir.join("modules.json")).map(|v| {
        v.as_array().is_some_and(|mods| {
            mods.iter().any(|m| {
                m.get("type")
                    .and_then(|t| t.as_str())
                    .is_some_and(|t| t.ends_with("Normalize"))
            })
        })
    });
    let max_len = read(dir.join("sentence_bert_config.json"))
        .and_then(|v| v.get("max_seq_length").and_then(|m| m.as_u64()))
        .map(|m| m as usize);
    (pooling, normalize, max_len)
}

/// Refuse a checkpoint that holds more layers than `config.json` declares: the extra
/// weights would be ignored and the model would silently differ from the one trained.
/// (Heads for other tasks, such as `cls.predictions.*`, are not layers and are fine.)
pub(crate) fn unused_layers(ck: &Checkpoint, config: &EncoderConfig) -> Result<()> {
    // (key segment, how many the config declares) per family's layer naming.
    let limits: [(&str, usize); 3] = [
        ("layer", config.layers),
        ("albert_layer_groups", config.hidden_groups),
        ("albert_layers", config.inner_group_num),
    ];
    let mut extra: Vec<String> = ck
        .remaining()
        .filter(|key| {
            let parts: Vec<&str> = key.split('.').collect();
            parts.windows(2).any(|w| {
                limits.iter().any(|(name, limit)| {
                    w[0] == *name && w[1].parse::<usize>().is_ok_and(|i| i >= *limit)
                })
            })
        })
        .map(str::to_string)
        .collect();
    if extra.is_empty() {
        return Ok(());
    }
    extra.sort();
    Err(EmbedError::UnusedWeights {
        path: ck.path().to_path_buf(),
        layers: config.layers,
        count: extra.len(),
        examples: extra.into_iter().take(3).collect(),
    })
}

/// Key prefixes a Hugging Face checkpoint may put before the base model's weights.
pub(crate) const CHECKPOINT_PREFIXES: [&str; 6] = [
    "bert.",
    "roberta.",
    "albert.",
    "distilbert.",
    "model.",
    "transformer.",
];

/// What every backend reads from a model directory before building its network.
pub(crate) struct ModelFiles {
    /// The architecture (`kind` relabelled MiniLM where the name says so).
    pub config: EncoderConfig,
    pub weights: PathBuf,
    pub tokenizer: TextTokenizer,
    pub identity: ModelIdentity,
    pub batch_size: usize,
}

impl ModelFiles {
    /// Check the directory, read `config.json`, the tokenizer and the sentence-transformers
    /// settings, and settle the options.
    pub fn open(dir: &Path, options: &EncoderOptions) -> Result<ModelFiles> {
        if !dir.is_dir() {
            return Err(EmbedError::ModelNotFound {
                name: dir.display().to_string(),
                reason: "not a directory".into(),
            });
        }
        let config_path = dir.join("config.json");
        if !config_path.is_file() {
            return Err(EmbedError::MissingFile {
                dir: dir.to_path_buf(),
                what: "config.json".into(),
            });
        }
        let mut config = EncoderConfig::from_file(&config_path)?;
        let weights = dir.join("model.safetensors");
        if !weights.is_file() {
            let what = if dir.join("pytorch_model.bin").is_file() {
                "model.safetensors (only pytorch_model.bin is present: convert it with \
                 `python -c \"import torch, safetensors.torch as st; \
                 st.save_file(torch.load('pytorch_model.bin'), 'model.safetensors')\"`)"
            } else {
                "model.safetensors"
            };
            return Err(EmbedError::MissingFile {
                dir: dir.to_path_buf(),
                what: what.into(),
            });
        }
        // A Hub cache snapshot is named after its repository, not its commit hash.
        let name = crate::resolve::model_name(dir);
        let kind = options.kind.unwrap_or_else(|| {
            if config.kind == ModelKind::Bert && name.to_ascii_lowercase().contains("minilm") {
                ModelKind::MiniLm
            } else {
                config.kind
            }
        });
        let tokenizer = TextTokenizer::from_dir(dir, config.kind)?;
        // An id past the embedding table would panic inside the gather: refuse the pair
        // here, naming both files (a tokenizer from another family is the usual cause).
        if let Some((id, token)) = tokenizer.max_id()
            && id as usize >= config.vocab_size
        {
            return Err(EmbedError::TokenIdOutOfRange {
                path: config_path.clone(),
                what: format!(
                    "the largest token id of the tokenizer in {} (token {token:?})",
                    dir.display()
                ),
                id: id as u64,
                vocab_size: config.vocab_size,
            });
        }
        let (st_pool, st_norm, st_len) = sentence_transformers_settings(dir);
        let max_tokens = options
            .max_tokens
            .or(st_len)
            .unwrap_or(config.max_tokens())
            .min(config.max_tokens());
        if max_tokens < 3 {
            return Err(EmbedError::InvalidOption {
                name: "max_tokens",
                reason: format!("{max_tokens} leaves no room for content between special tokens"),
            });
        }
        let identity = ModelIdentity {
            name,
            family: kind.name().to_string(),
            dim: config.hidden_size,
            pooling: options
                .pooling
                .or(st_pool)
                .unwrap_or(kind.default_pooling()),
            normalize: options.normalize.or(st_norm).unwrap_or(false),
            max_tokens,
            long_input: options.long_input,
            fingerprint: fingerprint(&config_path, &weights)?,
            backend: Backend::Burn,
            precision: options.precision,
        };
        if config.kind == ModelKind::Bert {
            config.kind = kind;
        }
        let batch_size = options.batch_size.unwrap_or(64);
        if batch_size == 0 {
            return Err(EmbedError::InvalidOption {
                name: "batch_size",
                reason: "must be positive".into(),
            });
        }
        Ok(ModelFiles {
            config,
            weights,
            tokenizer,
            identity,
            batch_size,
        })
    }
}

/// The backend-independent part of encoding: duplicates once, truncation or windows
/// (counted), longest-first batches of similar length, window averaging, L2
/// normalisation. A batch holds at most `batch_size` pieces and, with `batch_tokens`,
/// at most that many real tokens (at least one piece). `pool` maps a batch of token-id sequences (each at most `max_tokens`
/// long) to their pooled vectors, row-major `[batch, dim]`.
pub(crate) fn encode_batched(
    identity: &ModelIdentity,
    tokenizer: &TextTokenizer,
    batch_size: usize,
    batch_tokens: Option<usize>,
    sentences: &[&str],
    mut pool: impl FnMut(&[&[u32]]) -> Result<Vec<f32>>,
) -> Result<(Array2<f32>, EncodeStats)> {
    encode_batches(
        identity,
        tokenizer,
        batch_size,
        batch_tokens,
        sentences,
        |batches| batches.iter().map(|b| pool(b)).collect(),
    )
}

/// [`encode_batched`] with the batches handed to `run` all at once, which returns one
/// pooled output per batch, in order (e.g. computed by several workers).
pub(crate) fn encode_batches(
    identity: &ModelIdentity,
    tokenizer: &TextTokenizer,
    batch_size: usize,
    batch_tokens: Option<usize>,
    sentences: &[&str],
    run: impl FnOnce(&[Vec<&[u32]>]) -> Result<Vec<Vec<f32>>>,
) -> Result<(Array2<f32>, EncodeStats)> {
    let dim = identity.dim;
    let mut stats = EncodeStats {
        sentences: sentences.len(),
        ..Default::default()
    };
    if let Some(index) = sentences.iter().position(|s| s.trim().is_empty()) {
        return Err(EmbedError::EmptySentence { index });
    }
    // Distinct sentences.
    let mut slot: HashMap<&str, usize> = HashMap::new();
    let mut distinct: Vec<&str> = Vec::new();
    let row_of: Vec<usize> = sentences
        .iter()
        .map(|s| {
            *slot.entry(s).or_insert_with(|| {
                distinct.push(s);
                distinct.len() - 1
            })
        })
        .collect();
    stats.distinct = distinct.len();
    let tokenized = tokenizer.encode(&distinct)?;
    // Pieces: (sentence, window weight, ids).
    let max = identity.max_tokens;
    let mut pieces: Vec<(usize, f32, Vec<u32>)> = Vec::new();
    for (i, ids) in tokenized.into_iter().enumerate() {
        if ids.len() <= max {
            pieces.push((i, ids.len() as f32, ids));
            continue;
        }
        stats.truncated += 1;
        let (first, last) = (ids[0], *ids.last().expect("non-empty"));
        let content = &ids[1..ids.len() - 1];
        match identity.long_input {
            LongInput::Truncate => {
                stats.tokens_cut += ids.len() - max;
                let mut cut = Vec::with_capacity(max);
                cut.push(first);
                cut.extend_from_slice(&content[..max - 2]);
                cut.push(last);
                pieces.push((i, max as f32, cut));
            }
            LongInput::Windows => {
                for chunk in content.chunks(max - 2) {
                    let mut w = Vec::with_capacity(chunk.len() + 2);
                    w.push(first);
                    w.extend_from_slice(chunk);
                    w.push(last);
                    pieces.push((i, w.len() as f32, w));
                }
            }
        }
    }
    // Longest first, batches of similar length.
    let mut order: Vec<usize> = (0..pieces.len()).collect();
    order.sort_by_key(|&p| std::cmp::Reverse(pieces[p].2.len()));
    let mut acc = vec![0f32; distinct.len() * dim];
    let mut weight = vec![0f32; distinct.len()];
    let mut chunks: Vec<&[usize]> = Vec::new();
    let mut rest = order.as_slice();
    while !rest.is_empty() {
        let mut n = 0;
        let mut tokens = 0;
        while n < rest.len() && n < batch_size {
            let len = pieces[rest[n]].2.len();
            if n > 0 && batch_tokens.is_some_and(|budget| tokens + len > budget) {
                break;
            }
            tokens += len;
            n += 1;
        }
        let (chunk, tail) = rest.split_at(n);
        chunks.push(chunk);
        rest = tail;
    }
    let batches: Vec<Vec<&[u32]>> = chunks
        .iter()
        .map(|chunk| chunk.iter().map(|&p| pieces[p].2.as_slice()).collect())
        .collect();
    for batch in &batches {
        let longest = batch.iter().map(|b| b.len()).max().unwrap_or(0);
        for b in batch {
            stats.tokens += b.len();
            stats.padding += longest - b.len();
        }
    }
    let outputs = run(&batches)?;
    debug_assert_eq!(outputs.len(), chunks.len());
    for (chunk, out) in chunks.iter().zip(&outputs) {
        debug_assert_eq!(out.len(), chunk.len() * dim);
        for (k, &p) in chunk.iter().enumerate() {
            let (s, w, _) = &pieces[p];
            let w = match identity.pooling {
                Pooling::Mean => *w,
                Pooling::Cls => 1.0,
            };
            weight[*s] += w;
            for d in 0..dim {
                acc[s * dim + d] += w * out[k * dim + d];
            }
        }
    }
    for (s, w) in weight.iter().enumerate() {
        let row = &mut acc[s * dim..(s + 1) * dim];
        row.iter_mut().for_each(|v| *v /= w);
        if identity.normalize {
            let n = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            row.iter_mut().for_each(|v| *v /= n);
        }
    }
    let mut out = Array2::<f32>::zeros((sentences.len(), dim));
    for (r, &d) in row_of.iter().enumerate() {
        out.row_mut(r)
            .as_slice_mut()
            .expect("contiguous")
            .copy_from_slice(&acc[d * dim..(d + 1) * dim]);
    }
    Ok((out, stats))
}
