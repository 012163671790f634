//! Reading Hugging Face checkpoints (`model.safetensors`) into burn tensors, with the key
//! conventions of each family: optional head prefixes (`bert.`, `roberta.`, `albert.`,
//! `distilbert.`), old `LayerNorm.gamma/beta` names, integer buffers skipped.

use crate::error::{EmbedError, Result};
use burn::tensor::{Device, Tensor, TensorData};
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Float tensors of a checkpoint, by key.
pub struct Checkpoint {
    path: PathBuf,
    tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
    /// Tensors of a non-float dtype, kept by name so that asking for one says so.
    other_dtypes: HashMap<String, Dtype>,
    prefixes: Vec<&'static str>,
}

impl Checkpoint {
    /// Read every floating-point tensor of a safetensors file (F32, F16 and BF16 are
    /// widened to f32; integer buffers such as `embeddings.position_ids` are skipped).
    pub fn from_safetensors(path: &Path, prefixes: Vec<&'static str>) -> Result<Checkpoint> {
        let bytes = std::fs::read(path).map_err(|e| EmbedError::io(path, e))?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| EmbedError::Checkpoint {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let mut tensors = HashMap::new();
        let mut other_dtypes = HashMap::new();
        for (name, view) in st.tensors() {
            let data = view.data();
            let values: Vec<f32> = match view.dtype() {
                Dtype::F32 => data
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
                Dtype::F16 => data
                    .chunks_exact(2)
                    .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                    .collect(),
                Dtype::BF16 => data
                    .chunks_exact(2)
                    .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                    .collect(),
                Dtype::F64 => data
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                    .collect(),
                other => {
                    other_dtypes.insert(name.to_string(), other);
                    continue;
                }
            };
            tensors.insert(name.to_string(), (view.shape().to_vec(), values));
        }
        Ok(Checkpoint {
            path: path.to_path_buf(),
            tensors,
            other_dtypes,
            prefixes,
        })
    }

    /// Does any key (with or without a known prefix) exist?
    pub fn contains(&self, name: &str) -> bool {
        self.candidates(name)
            .iter()
            .any(|k| self.tensors.contains_key(k))
    }

    fn candidates(&self, name: &str) -> Vec<String> {
        let mut names = vec![name.to_string()];
        if let Some(stem) = name.strip_suffix("LayerNorm.weight") {
            names.push(format!("{stem}LayerNorm.gamma"));
        }
        if let Some(stem) = name.strip_suffix("LayerNorm.bias") {
            names.push(format!("{stem}LayerNorm.beta"));
        }
        let mut out = Vec::new();
        for n in &names {
            out.push(n.clone());
            for p in &self.prefixes {
                out.push(format!("{p}{n}"));
            }
        }
        out
    }

    /// Keys of the float tensors not taken yet.
    pub fn remaining(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// The file read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Take a tensor's raw values, checking its dtype, shape and that every value is
    /// finite.
    pub fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let tried = self.candidates(name);
        let Some(key) = tried
            .iter()
            .find(|k| self.tensors.contains_key(*k))
            .cloned()
        else {
            if let Some((key, dtype)) = tried
                .iter()
                .find_map(|k| self.other_dtypes.get(k).map(|d| (k, d)))
            {
                return Err(EmbedError::WrongDtype {
                    path: self.path.clone(),
                    name: key.clone(),
                    dtype: format!("{dtype:?}"),
                });
            }
            return Err(EmbedError::MissingWeight {
                path: self.path.clone(),
                name: name.to_string(),
                tried,
            });
        };
        let (found, values) = self.tensors.remove(&key).expect("key was found");
        if found != shape {
            return Err(EmbedError::ShapeMismatch {
                path: self.path.clone(),
                name: key,
                expected: shape.to_vec(),
                found,
            });
        }
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(EmbedError::NonFiniteWeight {
                path: self.path.clone(),
                name: key,
                index,
                value: values[index],
            });
        }
        Ok(values)
    }

    /// A 1-D tensor.
    pub fn vector(&mut self, name: &str, len: usize, device: &Device) -> Result<Tensor<1>> {
        let v = self.take(name, &[len])?;
        Ok(Tensor::from_data(TensorData::new(v, [len]), device))
    }

    /// A 2-D tensor as stored.
    pub fn matrix(
        &mut self,
        name: &str,
        rows: usize,
        cols: usize,
        device: &Device,
    ) -> Result<Tensor<2>> {
        let v = self.take(name, &[rows, cols])?;
        Ok(Tensor::from_data(TensorData::new(v, [rows, cols]), device))
    }

    /// A PyTorch `nn.Linear` weight `[out, in]`, transposed on the host to `[in, out]`.
    pub fn linear_weight(
        &mut self,
        name: &str,
        d_in: usize,
        d_out: usize,
        device: &Device,
    ) -> Result<Tensor<2>> {
        let v = self.take(name, &[d_out, d_in])?;
        let mut t = vec![0f32; v.len()];
        for o in 0..d_out {
            for i in 0..d_in {
                t[i * d_out + o] = v[o * d_in + i];
            }
        }
        Ok(Tensor::from_data(TensorData::new(t, [d_in, d_out]), device))
    }
}

/// A dense layer `y = x W + b` with `W` as `[d_in, d_out]`.
#[derive(Debug, Clone)]
pub struct Dense {
    /// `[d_in, d_out]`
    pub weight: Tensor<2>,
    /// `[d_out]`
    pub bias: Tensor<1>,
}

impl Dense {
    /// Load `{prefix}.weight` and `{prefix}.bias`.
    pub fn load(
        ck: &mut Checkpoint,
        prefix: &str,
        d_in: usize,
        d_out: usize,
        device: &Device,
    ) -> Result<Dense> {
        Ok(Dense {
            weight: ck.linear_weight(&format!("{prefix}.weight"), d_in, d_out, device)?,
            bias: ck.vector(&format!("{prefix}.bias"), d_out, device)?,
        })
    }
    /// Apply to `[rows, d_in]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        burn::tensor::module::linear(x, self.weight.clone(), Some(self.bias.clone()))
    }
}

/// Layer normalisation over the last axis.
#[derive(Debug, Clone)]
pub struct Norm {
    pub gamma: Tensor<1>,
    pub beta: Tensor<1>,
    pub eps: f64,
}

impl Norm {
    /// Load `{prefix}.weight` / `{prefix}.bias` (or `.gamma` / `.beta`).
    pub fn load(
        ck: &mut Checkpoint,
        prefix: &str,
        dim: usize,
        eps: f64,
        device: &Device,
    ) -> Result<Norm> {
        Ok(Norm {
            gamma: ck.vector(&format!("{prefix}.weight"), dim, device)?,
            beta: ck.vector(&format!("{prefix}.bias"), dim, device)?,
            eps,
        })
    }
    /// Apply.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        burn::tensor::module::layer_norm(x, self.gamma.clone(), Some(self.beta.clone()), self.eps)
    }
}
