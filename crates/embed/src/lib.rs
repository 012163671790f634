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
mod common;
mod config;
mod device;
mod distilbert;
mod encoder;
mod error;
mod fast;
mod layers;
mod load;
mod resolve;
#[cfg(feature = "tch")]
mod tch_backend;
mod tokenizer;
mod weights;

pub use cache::CachedEncoder;
pub use common::{
    Backend, CpuKernels, EncodeStats, EncoderOptions, LongInput, ModelIdentity, Precision,
    SentenceEncoder,
};
pub use config::{Activation, EncoderConfig, ModelKind, Pooling};
pub use device::{Device, DeviceChoice};
#[cfg(feature = "wgpu")]
pub use encoder::gpu_device;
pub use encoder::{TransformerEncoder, cpu_device};
pub use error::{EmbedError, Result};
pub use load::load_encoder;
pub use resolve::{cache_dir, hf_cache_snapshot_in, hf_hub_cache_dir, resolve_model};
/// libtorch itself (for `tch::Device` and friends), with the `tch` feature.
#[cfg(feature = "tch")]
pub use tch;
#[cfg(feature = "tch")]
pub use tch_backend::TchEncoder;
pub use tokenizer::TextTokenizer;

/// Read a file of one sentence per line. Lines end in LF, CRLF or CR alone (one file may
/// mix them); a final line break is optional. A line that is blank or not valid UTF-8 is
/// an error naming the file and its 1-based line.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let p = dir.path().join("s.txt");
/// std::fs::write(&p, "one\rtwo\r\nthree\n")?;
/// assert_eq!(apt_llm_embed::read_sentence_file(&p)?, ["one", "two", "three"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_sentence_file(path: &std::path::Path) -> Result<Vec<String>> {
    let bytes = std::fs::read(path).map_err(|e| EmbedError::io(path, e))?;
    let bad = |line: usize, reason: String| EmbedError::SentenceFile {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut lines: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lines.push(&bytes[start..i]);
                start = i + 1;
            }
            b'\r' => {
                lines.push(&bytes[start..i]);
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < bytes.len() {
        lines.push(&bytes[start..]);
    }
    if lines.is_empty() {
        return Err(bad(1, "no sentences (the file is empty)".into()));
    }
    let mut out = Vec::with_capacity(lines.len());
    for (n, raw) in lines.into_iter().enumerate() {
        let line = n + 1;
        let text = std::str::from_utf8(raw).map_err(|e| {
            bad(
                line,
                format!("not valid UTF-8 (byte {} of the line)", e.valid_up_to() + 1),
            )
        })?;
        let text = match line {
            1 => text.strip_prefix('\u{feff}').unwrap_or(text),
            _ => text,
        };
        if text.trim().is_empty() {
            return Err(bad(
                line,
                "blank line: every line must hold one sentence".into(),
            ));
        }
        out.push(text.to_string());
    }
    Ok(out)
}

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
