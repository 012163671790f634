//! The second implementation of [`SentenceEncoder`]: transformer models on libtorch
//! (tch), behind the `tch` feature. DistilBERT and ALBERT are rust-bert's models. BERT,
//! MiniLM and RoBERTa use rust-bert's embeddings, and their layers run on libtorch's
//! fused kernels ([`FusedLayers`]: one Q/K/V projection, `scaled_dot_product_attention`,
//! the one-pass GELU), which measured about 1.2x rust-bert's `BertEncoder` on MiniLM,
//! with the same weights and results.
//!
//! It reads the same Hugging Face directories as [`TransformerEncoder`](crate::TransformerEncoder)
//! and shares its tokenizer, batching, truncation and pooling, so the two differ only in
//! the network's arithmetic. rust-bert's own loaders expect converted `rust_model.ot`
//! files with fixed key names; here the network is built from `config.json` (rust-bert's
//! config structs are filled from the parsed config, including the fields rust-bert
//! requires and Hugging Face omits, such as DistilBERT's `tie_weights_`) and every
//! variable is copied from `model.safetensors` by name, trying the usual prefixes
//! (`distilbert.` and friends) and `gamma`/`beta` spellings, with shapes checked, so a
//! missing or misshapen weight is an error, never a panic inside libtorch.
//!
//! rust-bert hard-codes LayerNorm's epsilon to 1e-12 in BERT's and RoBERTa's embeddings.
//! Checkpoints trained with another epsilon (RoBERTa's is 1e-5) are made exact there by
//! scaling the three embedding tables by `sqrt(1e-12 / eps)`: LayerNorm(c·x, 1e-12) =
//! LayerNorm(x, 1e-12 / c²). The fused layers use the checkpoint's epsilon.
//!
//! Linking: set `LIBTORCH` to a libtorch 2.4.0 directory (`scripts/setup_libtorch.py`
//! builds the CPU one from PyPI) and `LIBTORCH_CXX11_ABI=0` for that PyPI build. This
//! crate's tests, benches and examples get an rpath to `$LIBTORCH/lib`; other binaries
//! need their own rpath or `LD_LIBRARY_PATH`.

use crate::common::{
    Backend, CHECKPOINT_PREFIXES, EncodeStats, EncoderOptions, ModelFiles, ModelIdentity,
    Precision, SentenceEncoder, encode_batches,
};
use crate::config::{Activation, EncoderConfig, ModelKind, Pooling};
use crate::error::{EmbedError, Result};
use crate::tokenizer::TextTokenizer;
use crate::weights::Checkpoint;
use ndarray::Array2;
use rust_bert::RustBertError;
use rust_bert::albert::{AlbertConfig, AlbertModel};
use rust_bert::bert::{BertConfig, BertEmbedding, BertEmbeddings};
use rust_bert::distilbert::{DistilBertConfig, DistilBertModel};
use rust_bert::roberta::RobertaEmbeddings;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use tch::{Device, Kind, Tensor, nn};

/// Sentences per forward pass on the CPU when the options leave it unset.
const CPU_BATCH: usize = 16;

/// The epsilon rust-bert's BERT, RoBERTa and DistilBERT LayerNorms use.
const RUST_BERT_EPS: f64 = 1e-12;

enum Network {
    /// BERT and MiniLM: rust-bert's embeddings, then [`FusedLayers`].
    Bert(BertEmbeddings, FusedLayers),
    /// RoBERTa: rust-bert's RoBERTa embeddings (positions from the padding id), then
    /// [`FusedLayers`].
    Roberta(RobertaEmbeddings, FusedLayers),
    DistilBert(DistilBertModel),
    Albert(AlbertModel),
}

/// The transformer layers (and pooler) of BERT, MiniLM and RoBERTa on libtorch's fused
/// kernels: one Q/K/V projection, `scaled_dot_product_attention`, the one-pass GELU, and
/// LayerNorm with the checkpoint's epsilon. Same variables, names and shapes as
/// rust-bert's `BertEncoder` and `BertPooler`, which compute the same function with an
/// explicit softmax, a five-pass GELU and a fixed epsilon (about 10 % slower here).
struct FusedLayers {
    layers: Vec<FusedLayer>,
    /// `pooler.dense` (weight, bias), where the checkpoint has one.
    pooler: Option<(Tensor, Tensor)>,
    heads: i64,
    hidden: i64,
    eps: f64,
    activation: Activation,
}

struct FusedLayer {
    q: (Tensor, Tensor),
    k: (Tensor, Tensor),
    v: (Tensor, Tensor),
    /// Q, K and V stacked `[3·hidden, hidden]` (and `[3·hidden]`), made once by
    /// [`FusedLayers::fuse`] after loading; `q`, `k` and `v` are then views into it.
    qkv: Option<(Tensor, Tensor)>,
    attention_out: (Tensor, Tensor),
    attention_norm: (Tensor, Tensor),
    intermediate: (Tensor, Tensor),
    out: (Tensor, Tensor),
    out_norm: (Tensor, Tensor),
}

impl FusedLayers {
    fn new(p: &nn::Path<'_>, c: &EncoderConfig, has_pooler: bool) -> FusedLayers {
        let (h, i) = (c.hidden_size as i64, c.intermediate_size as i64);
        // Values come from the checkpoint; zeros until then.
        let dense = |p: nn::Path<'_>, din: i64, dout: i64| {
            (
                p.var("weight", &[dout, din], nn::Init::Const(0.0)),
                p.var("bias", &[dout], nn::Init::Const(0.0)),
            )
        };
        let norm = |p: nn::Path<'_>| {
            (
                p.var("weight", &[h], nn::Init::Const(1.0)),
                p.var("bias", &[h], nn::Init::Const(0.0)),
            )
        };
        let layers = (0..c.layers)
            .map(|n| {
                let l = p / "encoder" / "layer" / n;
                let s = &l / "attention" / "self";
                FusedLayer {
                    q: dense(&s / "query", h, h),
                    k: dense(&s / "key", h, h),
                    v: dense(&s / "value", h, h),
                    qkv: None,
                    attention_out: dense(&l / "attention" / "output" / "dense", h, h),
                    attention_norm: norm(&l / "attention" / "output" / "LayerNorm"),
                    intermediate: dense(&l / "intermediate" / "dense", h, i),
                    out: dense(&l / "output" / "dense", i, h),
                    out_norm: norm(&l / "output" / "LayerNorm"),
                }
            })
            .collect();
        FusedLayers {
            layers,
            pooler: has_pooler.then(|| dense(p / "pooler" / "dense", h, h)),
            heads: c.heads as i64,
            hidden: h,
            eps: c.layer_norm_eps,
            activation: c.activation,
        }
    }

    /// Stack each layer's loaded Q, K and V projections into one, and point the three
    /// variables at its rows (so the weights are held once, and whoever shares these
    /// variables shares the stack's storage).
    fn fuse(&mut self) {
        let h = self.hidden;
        for layer in &mut self.layers {
            let w = Tensor::cat(&[&layer.q.0, &layer.k.0, &layer.v.0], 0);
            let b = Tensor::cat(&[&layer.q.1, &layer.k.1, &layer.v.1], 0);
            tch::no_grad(|| {
                for (i, part) in [&mut layer.q, &mut layer.k, &mut layer.v]
                    .into_iter()
                    .enumerate()
                {
                    part.0.set_data(&w.narrow(0, i as i64 * h, h));
                    part.1.set_data(&b.narrow(0, i as i64 * h, h));
                }
            });
            layer.qkv = Some((w, b));
        }
    }

    /// Take the stacked projections of `from`, whose variables these share.
    fn share_fused(&mut self, from: &FusedLayers) {
        for (to, from) in self.layers.iter_mut().zip(&from.layers) {
            to.qkv = from
                .qkv
                .as_ref()
                .map(|(w, b)| (w.shallow_clone(), b.shallow_clone()));
        }
    }

    /// Last hidden states `[b, l, hidden]` of the embeddings `x`, and the pooler output.
    fn forward(
        &self,
        mut x: Tensor,
        mask: &Tensor,
    ) -> std::result::Result<(Tensor, Option<Tensor>), RustBertError> {
        let (b, l) = (x.size()[0], x.size()[1]);
        let (h, heads) = (self.hidden, self.heads);
        // true = attend.
        let keep = mask.to_kind(Kind::Bool).view([b, 1, 1, l]);
        for layer in &self.layers {
            let (w, bias) = layer.qkv.as_ref().ok_or_else(|| {
                RustBertError::ValueError("the Q/K/V projections were not fused".into())
            })?;
            let qkv = x
                .linear(w, Some(bias))
                .view([b, l, 3, heads, h / heads])
                .permute([2, 0, 3, 1, 4]);
            let context = Tensor::scaled_dot_product_attention(
                &qkv.get(0),
                &qkv.get(1),
                &qkv.get(2),
                Some(&keep),
                0.0,
                false,
                None::<f64>,
            )
            .transpose(1, 2)
            .reshape([b, l, h]);
            let attended =
                context.linear(&layer.attention_out.0, Some(&layer.attention_out.1)) + &x;
            let attended = attended.layer_norm(
                [h],
                Some(&layer.attention_norm.0),
                Some(&layer.attention_norm.1),
                self.eps,
                false,
            );
            let inner = attended.linear(&layer.intermediate.0, Some(&layer.intermediate.1));
            let inner = match self.activation {
                Activation::Gelu => inner.gelu("none"),
                Activation::GeluTanh => inner.gelu("tanh"),
                Activation::Relu => inner.relu(),
                Activation::Silu => inner.silu(),
            };
            let out = inner.linear(&layer.out.0, Some(&layer.out.1)) + &attended;
            x = out.layer_norm(
                [h],
                Some(&layer.out_norm.0),
                Some(&layer.out_norm.1),
                self.eps,
                false,
            );
        }
        let pooled = self
            .pooler
            .as_ref()
            .map(|(w, b)| x.select(1, 0).linear(w, Some(b)).tanh());
        Ok((x, pooled))
    }
}

struct Model {
    network: Network,
    /// Keeps the variables alive.
    _vars: nn::VarStore,
}

impl Model {
    fn fused_mut(&mut self) -> Option<&mut FusedLayers> {
        match &mut self.network {
            Network::Bert(_, l) | Network::Roberta(_, l) => Some(l),
            Network::DistilBert(_) | Network::Albert(_) => None,
        }
    }
    fn fused(&self) -> Option<&FusedLayers> {
        match &self.network {
            Network::Bert(_, l) | Network::Roberta(_, l) => Some(l),
            Network::DistilBert(_) | Network::Albert(_) => None,
        }
    }
}

/// BERT, ALBERT, DistilBERT, RoBERTa or MiniLM on libtorch through rust-bert.
///
/// ```no_run
/// # #[cfg(feature = "tch")] {
/// use apt_llm_embed::{EncoderOptions, SentenceEncoder, TchEncoder};
/// let enc = TchEncoder::from_dir("models/all-MiniLM-L6-v2", EncoderOptions::default())?;
/// let v = enc.encode(&["The process has event read from a file."])?;
/// assert_eq!(v.dim(), (1, 384));
/// # }
/// # Ok::<(), apt_llm_embed::EmbedError>(())
/// ```
pub struct TchEncoder {
    identity: ModelIdentity,
    config: EncoderConfig,
    tokenizer: TextTokenizer,
    device: Device,
    batch_size: usize,
    has_pooler: bool,
    /// One network per worker, all reading the first one's weight storage. tch tensors
    /// are `Send` but not `Sync`, so each worker locks its own.
    models: Vec<Mutex<Model>>,
}

impl std::fmt::Debug for TchEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TchEncoder")
            .field("identity", &self.identity)
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

fn libtorch_err(e: impl std::fmt::Display) -> EmbedError {
    EmbedError::Libtorch(e.to_string())
}

/// Run libtorch work, turning a panic inside tch or rust-bert (they panic on C++
/// exceptions) into an error.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(EmbedError::Libtorch(format!("{what}: {msg}")))
        }
    }
}

fn activation(a: Activation) -> rust_bert::Activation {
    match a {
        Activation::Gelu => rust_bert::Activation::gelu,
        Activation::GeluTanh => rust_bert::Activation::gelu_new,
        Activation::Relu => rust_bert::Activation::relu,
        Activation::Silu => rust_bert::Activation::swish,
    }
}

fn bert_config(c: &EncoderConfig) -> BertConfig {
    BertConfig {
        hidden_act: activation(c.activation),
        attention_probs_dropout_prob: 0.0,
        hidden_dropout_prob: 0.0,
        hidden_size: c.hidden_size as i64,
        initializer_range: 0.02,
        intermediate_size: c.intermediate_size as i64,
        max_position_embeddings: c.max_positions as i64,
        num_attention_heads: c.heads as i64,
        num_hidden_layers: c.layers as i64,
        type_vocab_size: c.type_vocab_size as i64,
        vocab_size: c.vocab_size as i64,
        output_attentions: Some(false),
        output_hidden_states: Some(false),
        is_decoder: Some(false),
        id2label: None,
        label2id: None,
    }
}

fn distilbert_config(c: &EncoderConfig) -> DistilBertConfig {
    DistilBertConfig {
        activation: activation(c.activation),
        attention_dropout: 0.0,
        dim: c.hidden_size as i64,
        dropout: 0.0,
        hidden_dim: c.intermediate_size as i64,
        id2label: None,
        initializer_range: 0.02,
        is_decoder: Some(false),
        label2id: None,
        max_position_embeddings: c.max_positions as i64,
        n_heads: c.heads as i64,
        n_layers: c.layers as i64,
        output_attentions: Some(false),
        output_hidden_states: Some(false),
        output_past: None,
        qa_dropout: 0.0,
        seq_classif_dropout: 0.0,
        // Learned position embeddings are read from the checkpoint either way.
        sinusoidal_pos_embds: false,
        tie_weights_: false,
        vocab_size: c.vocab_size as i64,
    }
}

fn albert_config(c: &EncoderConfig) -> AlbertConfig {
    AlbertConfig {
        hidden_act: activation(c.activation),
        attention_probs_dropout_prob: 0.0,
        classifier_dropout_prob: None,
        bos_token_id: 2,
        eos_token_id: 3,
        embedding_size: c.embedding_size as i64,
        hidden_dropout_prob: 0.0,
        hidden_size: c.hidden_size as i64,
        initializer_range: 0.02,
        inner_group_num: c.inner_group_num as i64,
        intermediate_size: c.intermediate_size as i64,
        layer_norm_eps: Some(c.layer_norm_eps),
        max_position_embeddings: c.max_positions as i64,
        num_attention_heads: c.heads as i64,
        num_hidden_groups: c.hidden_groups as i64,
        num_hidden_layers: c.layers as i64,
        pad_token_id: c.pad_token_id as i64,
        type_vocab_size: c.type_vocab_size as i64,
        vocab_size: c.vocab_size as i64,
        output_attentions: Some(false),
        output_hidden_states: Some(false),
        is_decoder: Some(false),
        id2label: None,
        label2id: None,
    }
}

/// Checks rust-bert would otherwise meet with a panic.
fn validate(c: &EncoderConfig, path: &Path) -> Result<()> {
    let bad = |reason: String| EmbedError::Config {
        path: path.to_path_buf(),
        reason,
    };
    if c.heads == 0 || !c.hidden_size.is_multiple_of(c.heads) {
        return Err(bad(format!(
            "hidden size {} is not a multiple of {} attention heads",
            c.hidden_size, c.heads
        )));
    }
    if c.kind == ModelKind::Roberta && c.pad_token_id != 1 {
        return Err(bad(format!(
            "rust-bert's RoBERTa numbers positions from padding id 1; this checkpoint pads with {}",
            c.pad_token_id
        )));
    }
    if c.kind == ModelKind::Albert
        && (c.hidden_groups == 0 || !c.layers.is_multiple_of(c.hidden_groups))
    {
        return Err(bad(format!(
            "{} layers do not split into {} ALBERT groups",
            c.layers, c.hidden_groups
        )));
    }
    Ok(())
}

/// The network's variables, filled from the checkpoint.
fn load_variables(
    vars: &nn::VarStore,
    ck: &mut Checkpoint,
    scale_embeddings: f64,
    zero_pooler: bool,
) -> Result<()> {
    let mut names: Vec<(String, Tensor)> = vars.variables().into_iter().collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, var) in names {
        let hf = CHECKPOINT_PREFIXES
            .iter()
            .find_map(|p| name.strip_prefix(p))
            .unwrap_or(&name);
        let shape: Vec<usize> = var.size().iter().map(|&d| d as usize).collect();
        let mut values = if zero_pooler && hf.starts_with("pooler.") {
            vec![0.0; shape.iter().product()]
        } else {
            ck.take(hf, &shape)?
        };
        if scale_embeddings != 1.0
            && hf.starts_with("embeddings.")
            && hf.ends_with("embeddings.weight")
        {
            let c = scale_embeddings as f32;
            values.iter_mut().for_each(|v| *v *= c);
        }
        let src = Tensor::from_slice(&values)
            .view(var.size().as_slice())
            .to_device(var.device());
        tch::no_grad(|| {
            let mut var = var;
            var.f_copy_(&src)
        })
        .map_err(|e| EmbedError::Libtorch(format!("copying {name}: {e}")))?;
    }
    Ok(())
}

/// A network for `config` in a fresh variable store (weights uninitialised), and the
/// factor for its embedding tables (see the module notes on LayerNorm's epsilon).
fn build_model(config: &EncoderConfig, device: Device, has_pooler: bool) -> (Model, f64) {
    let vars = nn::VarStore::new(device);
    let root = vars.root();
    let mut scale = 1.0;
    let network = match config.kind {
        ModelKind::Bert | ModelKind::MiniLm => {
            scale = (RUST_BERT_EPS / config.layer_norm_eps).sqrt();
            Network::Bert(
                BertEmbeddings::new(&root / "embeddings", &bert_config(config)),
                FusedLayers::new(&root, config, has_pooler),
            )
        }
        ModelKind::Roberta => {
            scale = (RUST_BERT_EPS / config.layer_norm_eps).sqrt();
            Network::Roberta(
                RobertaEmbeddings::new(&root / "embeddings", &bert_config(config)),
                FusedLayers::new(&root, config, has_pooler),
            )
        }
        ModelKind::DistilBert => {
            Network::DistilBert(DistilBertModel::new(&root, &distilbert_config(config)))
        }
        ModelKind::Albert => Network::Albert(AlbertModel::new(&root, &albert_config(config))),
    };
    (
        Model {
            network,
            _vars: vars,
        },
        scale,
    )
}

/// Point every variable of `to` at the storage of the same-named variable of `from`.
fn share_variables(from: &nn::VarStore, to: &nn::VarStore) -> Result<()> {
    let source = from.variables();
    for (name, mut var) in to.variables() {
        let src = source.get(&name).ok_or_else(|| {
            EmbedError::Libtorch(format!("variable {name} missing from the first network"))
        })?;
        tch::no_grad(|| var.set_data(src));
    }
    Ok(())
}

/// One worker per available core on the CPU, one on a GPU.
fn default_workers(device: Device) -> usize {
    match device {
        Device::Cpu => std::thread::available_parallelism().map_or(1, |n| n.get()),
        _ => 1,
    }
}

/// Pooled outputs of the batches one worker ran, with their batch numbers.
type Numbered = Vec<(usize, Vec<f32>)>;

/// Encodes with several workers in flight, and libtorch's thread count from before the
/// first of them.
static SINGLE_THREADED: Mutex<(usize, i32)> = Mutex::new((0, 0));

/// While alive, an encode's workers run libtorch single-threaded. MKL's thread count is
/// process-wide, so it is restored only when the last of the concurrent encodes ends
/// (restoring it earlier would hand the others' workers more threads mid-run).
struct SingleThreaded;

impl SingleThreaded {
    fn enter() -> SingleThreaded {
        let mut state = SINGLE_THREADED.lock().unwrap_or_else(|p| p.into_inner());
        if state.0 == 0 {
            state.1 = tch::get_num_threads();
        }
        state.0 += 1;
        SingleThreaded
    }
}

impl Drop for SingleThreaded {
    fn drop(&mut self) {
        let mut state = SINGLE_THREADED.lock().unwrap_or_else(|p| p.into_inner());
        state.0 -= 1;
        if state.0 == 0 {
            tch::set_num_threads(state.1);
        }
    }
}

impl TchEncoder {
    /// Load a Hugging Face model directory onto the CPU. `options.device` (a burn device)
    /// must be `None`; use [`TchEncoder::from_dir_on`] for a libtorch device.
    pub fn from_dir(dir: impl AsRef<Path>, options: EncoderOptions) -> Result<TchEncoder> {
        TchEncoder::from_dir_on(dir, options, Device::Cpu)
    }

    /// Load a Hugging Face model directory onto a libtorch device (`Device::Cuda(0)` needs
    /// a CUDA build of libtorch).
    pub fn from_dir_on(
        dir: impl AsRef<Path>,
        options: EncoderOptions,
        device: Device,
    ) -> Result<TchEncoder> {
        if options.device.is_some() {
            return Err(EmbedError::InvalidOption {
                name: "device",
                reason: "a burn device was given to the tch backend; pass a tch::Device to \
                         TchEncoder::from_dir_on instead"
                    .into(),
            });
        }
        if let Device::Cuda(i) = device {
            let seen = if tch::Cuda::is_available() {
                tch::Cuda::device_count().max(0) as usize
            } else {
                0
            };
            if i >= seen {
                return Err(EmbedError::BackendUnavailable {
                    backend: "tch",
                    reason: format!(
                        "CUDA device {i} requested, but this libtorch sees {seen} CUDA devices"
                    ),
                });
            }
        }
        let dir = dir.as_ref();
        let files = ModelFiles::open(dir, &options)?;
        let config = files.config;
        validate(&config, &dir.join("config.json"))?;
        let mut ck = Checkpoint::from_safetensors(&files.weights, CHECKPOINT_PREFIXES.to_vec())?;
        crate::common::unused_layers(&ck, &config)?;
        // BERT-like poolers are optional in rust-bert; ALBERT's is not, and a checkpoint
        // without one gets zeros there (pooling never reads it) and reports no pooler.
        let has_pooler = match config.kind {
            ModelKind::Albert => ck.contains("pooler.weight"),
            ModelKind::DistilBert => false,
            _ => ck.contains("pooler.dense.weight"),
        };
        let first = guarded("building the network", || {
            let (mut model, scale) = build_model(&config, device, has_pooler);
            load_variables(&model._vars, &mut ck, scale, !has_pooler)?;
            if options.precision == Precision::Bf16 {
                model._vars.bfloat16();
            }
            if let Some(layers) = model.fused_mut() {
                layers.fuse();
            }
            Ok(model)
        })?;
        let mut identity = files.identity;
        identity.backend = Backend::Tch;
        TchEncoder {
            identity,
            config,
            tokenizer: files.tokenizer,
            device,
            // Unset: 16 sentences per forward pass on the CPU, where each worker runs one
            // batch single-threaded and 16 measured fastest (docs/benchmarks.md).
            batch_size: match (options.batch_size, device) {
                (None, Device::Cpu) => CPU_BATCH,
                _ => files.batch_size,
            },
            has_pooler,
            models: vec![Mutex::new(first)],
        }
        .with_workers(default_workers(device))
    }

    /// Encode with `n` forward passes at once (at least 1): each worker takes whole
    /// batches in turn and runs them on one libtorch thread. The extra networks share the
    /// first one's weight storage, so memory does not grow with `n`, and the output does
    /// not depend on `n` or on which worker ran which batch beyond float rounding.
    ///
    /// The default on the CPU is one worker per available core: on batches of tens of
    /// sentences, libtorch's intra-op threads wake up and synchronise for every
    /// operation, and independent batches measured faster (docs/benchmarks.md). While an
    /// encode runs with several workers, libtorch is single-threaded inside each
    /// (`tch::set_num_threads(1)` in the worker; MKL's thread count is process-wide, so
    /// the setting from before is restored when the last concurrent encode ends). On a
    /// CUDA device the default is 1.
    pub fn with_workers(mut self, n: usize) -> Result<TchEncoder> {
        let n = n.max(1);
        self.models.truncate(n);
        while self.models.len() < n {
            let first = self.models[0]
                .lock()
                .map_err(|_| EmbedError::Libtorch("an earlier forward pass panicked".into()))?;
            let copy = guarded("sharing the network with another worker", || {
                let (mut model, _) = build_model(&self.config, self.device, self.has_pooler);
                share_variables(&first._vars, &model._vars)?;
                if let (Some(to), Some(from)) = (model.fused_mut(), first.fused()) {
                    to.share_fused(from);
                }
                Ok(model)
            })?;
            drop(first);
            self.models.push(Mutex::new(copy));
        }
        Ok(self)
    }

    /// How many forward passes run at once.
    pub fn workers(&self) -> usize {
        self.models.len()
    }

    /// The architecture read from `config.json`.
    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    /// The libtorch device.
    pub fn device(&self) -> Device {
        self.device
    }

    /// Token ids of sentences (special tokens included, not truncated).
    pub fn tokenize(&self, sentences: &[&str]) -> Result<Vec<Vec<u32>>> {
        self.tokenizer.encode(sentences)
    }

    /// Padded ids `[b, l]` and the 0/1 attention mask `[b, l]`.
    fn tensors(&self, batch: &[&[u32]]) -> (Tensor, Tensor) {
        let b = batch.len();
        let l = batch.iter().map(|s| s.len()).max().unwrap_or(1);
        let mut ids = vec![self.config.pad_token_id as i64; b * l];
        let mut mask = vec![0i64; b * l];
        for (i, s) in batch.iter().enumerate() {
            for (j, &t) in s.iter().enumerate() {
                ids[i * l + j] = t as i64;
                mask[i * l + j] = 1;
            }
        }
        let shape = [b as i64, l as i64];
        (
            Tensor::from_slice(&ids).view(shape).to_device(self.device),
            Tensor::from_slice(&mask).view(shape).to_device(self.device),
        )
    }

    /// Last hidden states `[b, l, hidden]` and the pooler output where there is one.
    fn forward(
        &self,
        worker: usize,
        ids: &Tensor,
        mask: &Tensor,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let model = self.models[worker]
            .lock()
            .map_err(|_| EmbedError::Libtorch("an earlier forward pass panicked".into()))?;
        guarded("forward pass", || {
            tch::no_grad(|| match &model.network {
                Network::Bert(embeddings, layers) => embeddings
                    .forward_t(Some(ids), None, None, None, false)
                    .and_then(|x| layers.forward(x, mask)),
                Network::Roberta(embeddings, layers) => embeddings
                    .forward_t(Some(ids), None, None, None, false)
                    .and_then(|x| layers.forward(x, mask)),
                Network::DistilBert(m) => m
                    .forward_t(Some(ids), Some(mask), None, false)
                    .map(|o| (o.hidden_state, None)),
                Network::Albert(m) => m
                    .forward_t(Some(ids), Some(mask), None, None, None, false)
                    .map(|o| (o.hidden_state, Some(o.pooled_output))),
            })
            .map_err(libtorch_err)
        })
    }

    /// Last hidden states of one tokenised input `[tokens, hidden]`, and the pooler output
    /// where the checkpoint has a pooler (BERT, ALBERT). For parity tests and inspection.
    pub fn hidden_states(&self, ids: &[u32]) -> Result<(Array2<f32>, Option<Vec<f32>>)> {
        let (t, mask) = self.tensors(&[ids]);
        let (h, pooled) = self.forward(0, &t, &mask)?;
        let dim = self.config.hidden_size;
        let hidden = Array2::from_shape_vec((ids.len(), dim), to_vec(&h)?)
            .map_err(|e| EmbedError::Libtorch(format!("hidden state shape: {e}")))?;
        let pooled = match pooled {
            Some(p) if self.has_pooler => Some(to_vec(&p)?),
            _ => None,
        };
        Ok((hidden, pooled))
    }

    /// Pooled embeddings of every batch, in order. With several workers, each takes the
    /// next batch not yet taken and runs it on its own network, single-threaded.
    fn pool_batches(&self, batches: &[Vec<&[u32]>]) -> Result<Vec<Vec<f32>>> {
        let workers = self.models.len().min(batches.len());
        if workers <= 1 {
            return batches.iter().map(|b| self.pool_part(0, b)).collect();
        }
        let next = AtomicUsize::new(0);
        let _single = SingleThreaded::enter();
        let done: Vec<Result<Numbered>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|w| {
                    let next = &next;
                    scope.spawn(move || {
                        tch::set_num_threads(1);
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(batch) = batches.get(i) else {
                                return Ok(mine);
                            };
                            match self.pool_part(w, batch) {
                                Ok(v) => mine.push((i, v)),
                                Err(e) => {
                                    // Stop the others early: nothing past here is needed.
                                    next.store(batches.len(), Ordering::Relaxed);
                                    return Err(e);
                                }
                            }
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(EmbedError::Libtorch(
                            "a forward-pass worker panicked".into(),
                        ))
                    })
                })
                .collect()
        });
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); batches.len()];
        for part in done {
            for (i, v) in part? {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// Pooled embeddings of a batch on one worker's network.
    fn pool_part(&self, worker: usize, batch: &[&[u32]]) -> Result<Vec<f32>> {
        let (ids, mask) = self.tensors(batch);
        let (h, _) = self.forward(worker, &ids, &mask)?;
        let pooled = match self.identity.pooling {
            Pooling::Cls => h.select(1, 0),
            Pooling::Mean => {
                let keep = mask.to_kind(Kind::Float).unsqueeze(-1);
                (h * &keep).sum_dim_intlist(1, false, Kind::Float)
                    / keep.sum_dim_intlist(1, false, Kind::Float)
            }
        };
        to_vec(&pooled)
    }
}

fn to_vec(t: &Tensor) -> Result<Vec<f32>> {
    let t = t
        .to_device(Device::Cpu)
        .to_kind(Kind::Float)
        .contiguous()
        .view(-1);
    Vec::<f32>::try_from(&t).map_err(libtorch_err)
}

impl SentenceEncoder for TchEncoder {
    fn identity(&self) -> &ModelIdentity {
        &self.identity
    }
    fn encode(&self, sentences: &[&str]) -> Result<Array2<f32>> {
        Ok(self.encode_with_stats(sentences)?.0)
    }
    /// Counters of what was encoded, as for the burn backend.
    fn encode_with_stats(&self, sentences: &[&str]) -> Result<(Array2<f32>, EncodeStats)> {
        encode_batches(
            &self.identity,
            &self.tokenizer,
            self.batch_size,
            None,
            sentences,
            |batches| self.pool_batches(batches),
        )
    }
}
