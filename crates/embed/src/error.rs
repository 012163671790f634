//! Errors of model loading and encoding.

use std::path::PathBuf;

/// Result alias.
pub type Result<T, E = EmbedError> = std::result::Result<T, E>;

/// Everything that can go wrong between a model directory and an embedding.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A required file is absent from the model directory.
    #[error("{}: missing {what}", dir.display())]
    MissingFile { dir: PathBuf, what: String },
    /// `config.json` is malformed or lacks a field.
    #[error("{}: {reason}", path.display())]
    Config { path: PathBuf, reason: String },
    /// `model_type` names an architecture this crate does not implement.
    #[error("{}: unknown model_type {model_type:?} (supported: bert, roberta, distilbert, albert; MiniLM checkpoints are bert)", path.display())]
    UnknownModelType { path: PathBuf, model_type: String },
    /// A weight is absent from the checkpoint.
    #[error("{}: missing weight {name:?} (looked for {tried:?})", path.display())]
    MissingWeight {
        path: PathBuf,
        name: String,
        tried: Vec<String>,
    },
    /// A weight's shape disagrees with the config.
    #[error("{}: weight {name:?} has shape {found:?}, config implies {expected:?}", path.display())]
    ShapeMismatch {
        path: PathBuf,
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    /// A weight is stored with a dtype the model cannot use (e.g. an integer tensor where
    /// floats are needed).
    #[error("{}: weight {name:?} has dtype {dtype}, expected a float tensor (F32, F16, BF16 or F64)", path.display())]
    WrongDtype {
        path: PathBuf,
        name: String,
        dtype: String,
    },
    /// A weight holds NaN or an infinity: every embedding would be garbage.
    #[error("{}: weight {name:?} holds a non-finite value {value} at flat index {index}", path.display())]
    NonFiniteWeight {
        path: PathBuf,
        name: String,
        index: usize,
        value: f32,
    },
    /// The checkpoint holds layers beyond those `config.json` declares: they would be
    /// silently ignored.
    #[error("{}: {count} weights belong to layers beyond the {layers} that config.json declares, and would be ignored (e.g. {examples:?})", path.display())]
    UnusedWeights {
        path: PathBuf,
        layers: usize,
        count: usize,
        examples: Vec<String>,
    },
    /// A token id the model cannot embed: the tokenizer's vocabulary or the padding id
    /// reaches beyond the embedding table.
    #[error("{}: {what} is {id}, but config.json's vocab_size is {vocab_size} (ids must be below it; is the tokenizer from another model?)", path.display())]
    TokenIdOutOfRange {
        path: PathBuf,
        what: String,
        id: u64,
        vocab_size: usize,
    },
    /// The checkpoint could not be parsed.
    #[error("{}: {reason}", path.display())]
    Checkpoint { path: PathBuf, reason: String },
    /// The tokenizer could not be loaded or failed on a sentence.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// An empty sentence was given (it has no content to embed).
    /// `index` counts from 0; the message counts from 1.
    #[error("sentence {} (counting from 1) is empty", index + 1)]
    EmptySentence { index: usize },
    /// A sentence file (one sentence per line) is unusable at `line` (1-based).
    #[error("{}:{line}: {reason}", path.display())]
    SentenceFile {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// The model could not be found or fetched.
    #[error("model {name:?} not found: {reason}")]
    ModelNotFound { name: String, reason: String },
    /// The embedding cache file is corrupt.
    #[error("{}: corrupt cache: {reason}", path.display())]
    Cache { path: PathBuf, reason: String },
    /// Invalid option.
    #[error("invalid option {name}: {reason}")]
    InvalidOption { name: &'static str, reason: String },
    /// The chosen backend is not compiled in, or cannot run here.
    #[error("backend {backend}: {reason}")]
    BackendUnavailable {
        backend: &'static str,
        reason: String,
    },
    /// libtorch (the `tch` backend) failed while building or running a model.
    #[error("libtorch: {0}")]
    Libtorch(String),
}

impl EmbedError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EmbedError::Io {
            path: path.into(),
            source,
        }
    }
}
