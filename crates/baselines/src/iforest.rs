//! Isolation Forest (Liu, Ting & Zhou, ICDM 2008), seeded and parallel over trees.

use crate::{load_json, save_json};
use apt_llm_detect::{DetectError, Detector, Fit, Result, TrainSet, check_rows};
use ndarray::{Array1, ArrayView2};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;

/// Isolation Forest parameters (defaults as the paper and scikit-learn).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsolationForest {
    /// Number of trees (t = 100).
    pub trees: usize,
    /// Sub-sample size per tree (ψ = 256, or all rows when fewer).
    pub sample_size: usize,
    /// Seed; tree k uses stream k of this seed.
    pub seed: u64,
}

impl Default for IsolationForest {
    fn default() -> Self {
        IsolationForest {
            trees: 100,
            sample_size: 256,
            seed: 42,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Node {
    Split {
        feature: u32,
        value: f32,
        left: u32,
        right: u32,
    },
    Leaf {
        size: u32,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Tree {
    nodes: Vec<Node>,
}

/// A fitted forest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FittedIsolationForest {
    trees: Vec<Tree>,
    dim: usize,
    /// ψ actually used.
    pub sample_size: usize,
}

/// Average path length of an unsuccessful BST search among n points: c(n).
pub fn average_path_length(n: f64) -> f64 {
    if n <= 1.0 {
        0.0
    } else if n <= 2.0 {
        1.0
    } else {
        const EULER: f64 = 0.577_215_664_901_532_9;
        2.0 * ((n - 1.0).ln() + EULER) - 2.0 * (n - 1.0) / n
    }
}

impl IsolationForest {
    fn validate(&self) -> Result<()> {
        if self.trees == 0 {
            return Err(DetectError::InvalidParameter {
                name: "trees",
                reason: "must be at least 1".into(),
            });
        }
        if self.sample_size < 2 {
            return Err(DetectError::InvalidParameter {
                name: "sample_size",
                reason: "must be at least 2".into(),
            });
        }
        Ok(())
    }
}

/// Draw `k` of the `total` (integer-weighted) rows without replacement, exactly as if
/// the weighted rows had been repeated: Floyd's algorithm over the expanded positions,
/// each position mapped back to its row through cumulative weights.
fn weighted_sample(cum: &[u64], k: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let total = *cum.last().unwrap_or(&0);
    let k = (k as u64).min(total);
    let mut chosen: HashSet<u64> = HashSet::with_capacity(k as usize);
    for j in (total - k)..total {
        let t = rng.random_range(0..=j);
        if !chosen.insert(t) {
            chosen.insert(j);
        }
    }
    let mut pos: Vec<u64> = chosen.into_iter().collect();
    pos.sort_unstable();
    pos.into_iter()
        .map(|p| cum.partition_point(|&c| c <= p))
        .collect()
}

fn build(
    x: &ArrayView2<'_, f32>,
    rows: &mut [usize],
    depth: usize,
    limit: usize,
    rng: &mut ChaCha8Rng,
    nodes: &mut Vec<Node>,
) -> u32 {
    let id = nodes.len() as u32;
    nodes.push(Node::Leaf {
        size: rows.len() as u32,
    });
    if depth >= limit || rows.len() <= 1 {
        return id;
    }
    // Pick features at random until one is not constant on this node (as scikit-learn's
    // extra-tree splitter does); a node constant on every feature is a leaf.
    let dim = x.ncols();
    let mut features: Vec<usize> = (0..dim).collect();
    let mut found = None;
    for k in 0..dim {
        let j = rng.random_range(k..dim);
        features.swap(k, j);
        let f = features[k];
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for &r in rows.iter() {
            let v = x[[r, f]];
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if hi > lo {
            found = Some((f, lo, hi));
            break;
        }
    }
    let Some((f, lo, hi)) = found else {
        return id;
    };
    let mut value = lo + rng.random::<f32>() * (hi - lo);
    if value <= lo || value >= hi {
        value = lo + 0.5 * (hi - lo);
    }
    let mid = itertools_partition(rows, |&r| x[[r, f]] < value);
    let (l, r) = rows.split_at_mut(mid);
    let left = build(x, l, depth + 1, limit, rng, nodes);
    let right = build(x, r, depth + 1, limit, rng, nodes);
    nodes[id as usize] = Node::Split {
        feature: f as u32,
        value,
        left,
        right,
    };
    id
}

fn itertools_partition<T, F: Fn(&T) -> bool>(v: &mut [T], pred: F) -> usize {
    let mut i = 0;
    for j in 0..v.len() {
        if pred(&v[j]) {
            v.swap(i, j);
            i += 1;
        }
    }
    i
}

impl Fit for IsolationForest {
    type Fitted = FittedIsolationForest;
    fn name(&self) -> String {
        "IForest".into()
    }
    fn fit(&self, data: &TrainSet<'_>) -> Result<FittedIsolationForest> {
        self.validate()?;
        data.validate()?;
        let w = data.weights_or_ones();
        // Weights are counts: round them (fractional weights keep at least one copy).
        let mut cum = Vec::with_capacity(w.len());
        let mut acc = 0u64;
        for &v in w.iter() {
            acc += if v > 0.0 {
                (v.round() as u64).max(1)
            } else {
                0
            };
            cum.push(acc);
        }
        let psi = (self.sample_size as u64).min(acc) as usize;
        let limit = (psi as f64).log2().ceil() as usize;
        let x = data.x;
        let trees: Vec<Tree> = (0..self.trees)
            .into_par_iter()
            .map(|t| {
                let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
                rng.set_stream(t as u64);
                let mut rows = weighted_sample(&cum, psi, &mut rng);
                rows.shuffle(&mut rng);
                let mut nodes = Vec::new();
                build(&x, &mut rows, 0, limit, &mut rng, &mut nodes);
                Tree { nodes }
            })
            .collect();
        Ok(FittedIsolationForest {
            trees,
            dim: x.ncols(),
            sample_size: psi,
        })
    }
}

impl FittedIsolationForest {
    fn path_length(&self, tree: &Tree, row: &[f32]) -> f64 {
        let mut id = 0usize;
        let mut depth = 0.0;
        loop {
            match &tree.nodes[id] {
                Node::Split {
                    feature,
                    value,
                    left,
                    right,
                } => {
                    id = if row[*feature as usize] < *value {
                        *left
                    } else {
                        *right
                    } as usize;
                    depth += 1.0;
                }
                Node::Leaf { size } => return depth + average_path_length(*size as f64),
            }
        }
    }
    /// Load a model written by [`Detector::save`].
    pub fn load(path: &Path) -> Result<Self> {
        load_json(path, "iforest")
    }
}

impl Detector for FittedIsolationForest {
    fn name(&self) -> String {
        "IForest".into()
    }
    fn input_dim(&self) -> usize {
        self.dim
    }
    /// s(x, ψ) = 2^(−E[h(x)] / c(ψ)), in (0, 1]; near 1 = anomalous.
    fn score(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>> {
        check_rows(x, self.dim)?;
        let c = average_path_length(self.sample_size as f64).max(f64::MIN_POSITIVE);
        let scores: Vec<f32> = (0..x.nrows())
            .into_par_iter()
            .map(|i| {
                let r = x.row(i).to_vec();
                let mean: f64 = self
                    .trees
                    .iter()
                    .map(|t| self.path_length(t, &r))
                    .sum::<f64>()
                    / self.trees.len() as f64;
                2f64.powf(-mean / c) as f32
            })
            .collect();
        Ok(Array1::from(scores))
    }
    fn save(&self, path: &Path) -> Result<()> {
        save_json(path, "iforest", self)
    }
}
