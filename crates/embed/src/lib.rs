//! # apt-llm-embed
//!
//! Sentence encoders for process descriptions: BERT, ALBERT, DistilBERT, RoBERTa and
//! MiniLM, written on [burn](https://burn.dev) (CPU: the `flex` backend; GPU: `wgpu`, with
//! this crate's `wgpu` feature), loading Hugging Face model directories and matching
//! `transformers` to 1e-4.
//!
//! Everything downstream sees one trait, [`SentenceEncoder`]: sentences in, an
//! `ndarray::Array2<f32>` out (one row per sentence).
//!
//! ```no_run
//! use apt_llm_embed::{resolve_model, EncoderOptions, SentenceEncoder, TransformerEncoder};
//! let dir = resolve_model("minilm")?; // fetched by `apt-llm models fetch minilm`
//! let enc = TransformerEncoder::from_dir(dir, EncoderOptions::default())?;
//! let (vectors, stats) = enc.encode_with_stats(&[
//!     "The process has event open a file and event write to the file.",
//!     "The process has executed cmd.exe.",
//! ])?;
//! println!("{} x {}, {} tokens", vectors.nrows(), vectors.ncols(), stats.tokens);
//! # Ok::<(), apt_llm_embed::EmbedError>(())
//! ```

mod albert;
mod bert;
mod cache;
mod config;
mod distilbert;
mod encoder;
mod error;
mod layers;
mod resolve;
#[cfg(feature = "tch")]
mod tch_backend;
mod tokenizer;
mod weights;

pub use cache::CachedEncoder;
pub use config::{Activation, EncoderConfig, ModelKind, Pooling};
#[cfg(feature = "wgpu")]
pub use encoder::gpu_device;
pub use encoder::{
    Backend, EncodeStats, EncoderOptions, LongInput, ModelIdentity, SentenceEncoder,
    TransformerEncoder, cpu_device, load_encoder,
};
pub use error::{EmbedError, Result};
pub use resolve::{cache_dir, resolve_model};
/// libtorch itself (for `tch::Device` and friends), with the `tch` feature.
#[cfg(feature = "tch")]
pub use tch;
#[cfg(feature = "tch")]
pub use tch_backend::TchEncoder;
pub use tokenizer::TextTokenizer;

/// Write a matrix as a NumPy `.npy` file (little-endian f32, C order).
pub fn write_npy(path: &std::path::Path, m: &ndarray::Array2<f32>) -> Result<()> {
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}",
        m.nrows(),
        m.ncols()
    );
    // Magic (6) + version (2) + header length (2) + header, padded to 64 bytes with '\n'.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + m.len() * 4);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in m.iter() {
        out.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, out).map_err(|e| EmbedError::io(path, e))
}
