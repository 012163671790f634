//! An on-disk embedding cache keyed by model identity and sentence.

use crate::common::{ModelIdentity, SentenceEncoder};
use crate::error::{EmbedError, Result};
use ndarray::Array2;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Wraps an encoder: sentences seen before (by this model identity) come from a file,
/// the rest are encoded and appended.
///
/// File format: one file per [`ModelIdentity::key`], records of
/// `u32 length, UTF-8 sentence, dim × f32` (little-endian).
pub struct CachedEncoder<E> {
    inner: E,
    path: PathBuf,
    memory: Mutex<HashMap<String, Vec<f32>>>,
}

impl<E: SentenceEncoder> CachedEncoder<E> {
    /// Open (or create) the cache for `inner` under `dir`.
    pub fn new(inner: E, dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| EmbedError::io(dir, e))?;
        let path = dir.join(format!("{}.emb", inner.identity().key()));
        let dim = inner.dim();
        let mut memory = HashMap::new();
        if path.is_file() {
            let bytes = std::fs::read(&path).map_err(|e| EmbedError::io(&path, e))?;
            let corrupt = |reason: &str| EmbedError::Cache {
                path: path.clone(),
                reason: reason.into(),
            };
            let mut at = 0;
            while at < bytes.len() {
                let len_bytes = bytes
                    .get(at..at + 4)
                    .ok_or_else(|| corrupt("truncated length"))?;
                let len = u32::from_le_bytes(len_bytes.try_into().expect("4 bytes")) as usize;
                at += 4;
                let s = bytes
                    .get(at..at + len)
                    .ok_or_else(|| corrupt("truncated sentence"))?;
                let s = std::str::from_utf8(s).map_err(|_| corrupt("sentence is not UTF-8"))?;
                at += len;
                let v = bytes
                    .get(at..at + 4 * dim)
                    .ok_or_else(|| corrupt("truncated vector"))?;
                at += 4 * dim;
                let v: Vec<f32> = v
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                memory.insert(s.to_string(), v);
            }
        }
        Ok(CachedEncoder {
            inner,
            path,
            memory: Mutex::new(memory),
        })
    }

    /// The wrapped encoder.
    pub fn inner(&self) -> &E {
        &self.inner
    }

    /// Sentences held.
    pub fn len(&self) -> usize {
        self.memory.lock().expect("cache lock").len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<E: SentenceEncoder> SentenceEncoder for CachedEncoder<E> {
    fn identity(&self) -> &ModelIdentity {
        self.inner.identity()
    }
    fn encode(&self, sentences: &[&str]) -> Result<Array2<f32>> {
        let dim = self.inner.dim();
        let mut memory = self.memory.lock().expect("cache lock");
        let mut missing: Vec<&str> = sentences
            .iter()
            .copied()
            .filter(|s| !memory.contains_key(*s))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            let fresh = self.inner.encode(&missing)?;
            let mut buf = Vec::new();
            for (s, row) in missing.iter().zip(fresh.rows()) {
                buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
                buf.extend_from_slice(s.as_bytes());
                for v in row {
                    buf.extend_from_slice(&v.to_le_bytes());
                }
                memory.insert(s.to_string(), row.to_vec());
            }
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(|e| EmbedError::io(&self.path, e))?;
            f.write_all(&buf)
                .map_err(|e| EmbedError::io(&self.path, e))?;
        }
        let mut out = Array2::zeros((sentences.len(), dim));
        for (r, s) in sentences.iter().enumerate() {
            out.row_mut(r)
                .as_slice_mut()
                .expect("contiguous")
                .copy_from_slice(&memory[*s]);
        }
        Ok(out)
    }
}
