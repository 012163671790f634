//! How often a training pattern was seen: the [`Rarity`] baseline and the
//! [`FrequencyPrior`] that puts it in front of any detector.
//!
//! Provenance contexts are made of few distinct attribute patterns repeated many times, and
//! an attack often reuses a pattern that normal processes also have. A detector trained on
//! normal rows scores a pattern by its content; how *rare* the exact pattern was among the
//! normal training processes is a second, independent signal, and on the ADAPT contexts a
//! strong one (see `docs/results.md`). Both live here, on the embedding rows, so they
//! plug into any encoder and any grid:
//!
//! - [`PatternMemory`] counts the (weighted) training rows identical to a row — exact
//!   bit-for-bit matches first, then matches within a tiny relative tolerance, so that a
//!   sentence re-embedded in another batch still finds its count.
//! - [`Rarity`] scores `ln((N + 1) / (c + 1))` for a row seen `c` times among `N` training
//!   rows: the frequency baseline, with no model of content at all.
//! - [`FrequencyPrior`] adds a bounded transform of an inner detector's score to that
//!   rarity: `ln((N + 1) / (c + 1)) + blend · e / (e + m)`, where `e` is the inner score
//!   shifted by its training minimum and `m` the weighted median of those shifted training
//!   scores. With `blend` below `ln 2` (the default is 0.5) a pattern never seen outranks
//!   every seen one, a pattern seen once outranks one seen twice, and so on, while the
//!   inner detector orders the patterns of equal (or, for common patterns, similar)
//!   frequency — among them all the novel ones.
//!
//! ```
//! use apt_llm_detect::{Detector, Fit, Rarity, TrainSet};
//! use ndarray::array;
//!
//! let train = array![[1.0f32, 0.0], [0.0, 1.0]];
//! let counts = array![99.0f32, 1.0];
//! let model = Rarity.fit(&TrainSet::new(train.view()).with_weights(counts.view()))?;
//! let s = model.score(array![[1.0f32, 0.0], [0.0, 1.0], [0.6, 0.8]].view())?;
//! assert!(s[0] < s[1] && s[1] < s[2]); // common < rare < never seen
//! # Ok::<(), apt_llm_detect::DetectError>(())
//! ```

use crate::persist::{load_json, persist_err, save_json};
use crate::{DetectError, Detector, Fit, Result, Threshold, TrainSet, check_rows};
use ndarray::{Array1, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Relative squared distance under which two rows count as the same pattern: far below the
/// distance between embeddings of different sentences, far above the batch-to-batch
/// differences of one sentence's embedding.
pub const SAME_PATTERN_TOLERANCE: f32 = 1e-8;

/// The distinct training rows with their total weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PatternMemory {
    dim: usize,
    /// Distinct rows, row-major.
    rows: Vec<f32>,
    weights: Vec<f32>,
    total: f64,
    #[serde(skip)]
    exact: HashMap<Vec<u32>, usize>,
    /// (projection on a fixed ±1 direction, row), sorted: near matches are searched in
    /// a window of it instead of over every row.
    #[serde(skip)]
    by_projection: Vec<(f32, usize)>,
}

/// Projection on the fixed direction (±1, ±1, ...) with signs from a hash of the column.
fn project<'a>(row: impl IntoIterator<Item = &'a f32>) -> f32 {
    row.into_iter()
        .enumerate()
        .map(|(j, &v)| {
            let h = (j as u64 ^ 0x9e37_79b9_7f4a_7c15).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            if (h >> 31) & 1 == 0 { v } else { -v }
        })
        .sum()
}

/// Exact-match key of a row (+0.0 and -0.0 are the same value).
fn key<'a>(row: impl IntoIterator<Item = &'a f32>) -> Vec<u32> {
    row.into_iter().map(|v| (v + 0.0).to_bits()).collect()
}

impl PatternMemory {
    /// Remember the rows of a training set (identical rows merged, weights summed).
    pub fn new(data: &TrainSet<'_>) -> Result<PatternMemory> {
        data.validate()?;
        let w = data.weights_or_ones();
        let mut memory = PatternMemory {
            dim: data.x.ncols(),
            rows: Vec::new(),
            weights: Vec::new(),
            total: 0.0,
            exact: HashMap::new(),
            by_projection: Vec::new(),
        };
        for (row, &wi) in data.x.rows().into_iter().zip(w.iter()) {
            memory.total += wi as f64;
            let next = memory.weights.len();
            let i = *memory.exact.entry(key(row)).or_insert(next);
            if i == next {
                memory.rows.extend(row.iter());
                memory.weights.push(0.0);
            }
            memory.weights[i] += wi;
        }
        memory.index_projections();
        Ok(memory)
    }

    fn distinct_rows(&self) -> impl Iterator<Item = (usize, &[f32])> {
        self.rows.chunks(self.dim.max(1)).enumerate()
    }

    /// Check a deserialised memory before use: a positive width, `rows` holding
    /// `dim` values per weight, finite rows, finite non-negative weights and total. The
    /// error says which field is wrong and how.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.dim == 0 {
            return Err("field \"dim\" is 0".into());
        }
        let expected = self.weights.len().checked_mul(self.dim);
        if expected != Some(self.rows.len()) {
            return Err(format!(
                "field \"rows\" holds {} values, but {} weights of width {} need {}",
                self.rows.len(),
                self.weights.len(),
                self.dim,
                expected.map_or_else(|| "more than fit in memory".into(), |n| n.to_string())
            ));
        }
        if let Some(i) = self.rows.iter().position(|v| !v.is_finite()) {
            return Err(format!(
                "field \"rows\": row {}, column {} is {} (not finite)",
                i / self.dim,
                i % self.dim,
                self.rows[i]
            ));
        }
        if let Some(i) = self.weights.iter().position(|w| !w.is_finite() || *w < 0.0) {
            return Err(format!(
                "field \"weights\": weight {i} is {} (must be finite and non-negative)",
                self.weights[i]
            ));
        }
        if !self.total.is_finite() || self.total < 0.0 {
            return Err(format!(
                "field \"total\" is {} (must be finite and non-negative)",
                self.total
            ));
        }
        Ok(())
    }

    /// Validate a deserialised memory (see [`PatternMemory::validate`]) and build the
    /// indexes it lacks; errors name `path`.
    fn checked(mut self, path: &Path) -> Result<PatternMemory> {
        self.validate()
            .map_err(|reason| persist_err(path, format!("pattern memory: {reason}")))?;
        self.rebuild_index();
        Ok(self)
    }

    /// The indexes a deserialised memory lacks.
    fn rebuild_index(&mut self) {
        self.exact = self.distinct_rows().map(|(i, r)| (key(r), i)).collect();
        self.index_projections();
    }

    fn index_projections(&mut self) {
        let mut by_projection: Vec<(f32, usize)> =
            self.distinct_rows().map(|(i, r)| (project(r), i)).collect();
        by_projection.sort_by(|a, b| a.0.total_cmp(&b.0));
        self.by_projection = by_projection;
    }

    /// Number of distinct rows remembered.
    pub fn len(&self) -> usize {
        self.weights.len()
    }
    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }
    /// Total training weight `N`.
    pub fn total(&self) -> f64 {
        self.total
    }
    /// Row width.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Training weight of the pattern of `row` (0 if it was never seen).
    pub fn count(&self, row: ArrayView1<'_, f32>) -> f32 {
        if let Some(&i) = self.exact.get(&key(row)) {
            return self.weights[i];
        }
        let norm: f32 = row.iter().map(|v| v * v).sum();
        let tolerance = SAME_PATTERN_TOLERANCE * norm.max(f32::MIN_POSITIVE);
        // |p·a - p·b| <= |p| |a - b| with |p| = sqrt(dim): only rows whose projection is
        // that close can match (twice the bound, for rounding in the projections).
        let p = project(row.iter());
        let radius = 2.0 * (tolerance * self.dim as f32).sqrt() + 1e-6 * (1.0 + p.abs());
        let start = self.by_projection.partition_point(|&(q, _)| q < p - radius);
        self.by_projection[start..]
            .iter()
            .take_while(|&&(q, _)| q <= p + radius)
            .filter(|&&(_, i)| {
                let r = &self.rows[i * self.dim..(i + 1) * self.dim];
                r.iter()
                    .zip(row.iter())
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f32>()
                    <= tolerance
            })
            .map(|&(_, i)| self.weights[i])
            .sum()
    }

    /// `ln((N + 1) / (c + 1))` per row.
    pub fn rarity(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>> {
        check_rows(x, self.dim)?;
        let n = self.total;
        Ok(x.rows()
            .into_iter()
            .map(|r| ((n + 1.0) / (self.count(r) as f64 + 1.0)).ln() as f32)
            .collect())
    }
}

/// The frequency baseline: `ln((N + 1) / (c + 1))` for a row whose exact pattern was seen
/// `c` times among `N` (weighted) training rows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rarity;

/// A fitted [`Rarity`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FittedRarity {
    memory: PatternMemory,
}

impl FittedRarity {
    /// Load a model written by [`Detector::save`].
    pub fn load(path: &Path) -> Result<FittedRarity> {
        let memory: PatternMemory = load_json(path, "rarity")?;
        Ok(FittedRarity {
            memory: memory.checked(path)?,
        })
    }
}

impl Fit for Rarity {
    type Fitted = FittedRarity;
    fn name(&self) -> String {
        "Rarity".into()
    }
    fn fit(&self, data: &TrainSet<'_>) -> Result<FittedRarity> {
        Ok(FittedRarity {
            memory: PatternMemory::new(data)?,
        })
    }
}

impl Detector for FittedRarity {
    fn name(&self) -> String {
        "Rarity".into()
    }
    fn input_dim(&self) -> usize {
        self.memory.dim
    }
    fn score(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>> {
        self.memory.rarity(x)
    }
    fn save(&self, path: &Path) -> Result<()> {
        save_json(path, "rarity", &self.memory)
    }
}

/// Deepest chain of priors one load may follow (a prior's inner detector is never
/// itself a prior in practice; this only stops runaway files).
const MAX_PRIOR_DEPTH: usize = 8;

thread_local! {
    /// The prior files being loaded on this thread, outermost first.
    static LOADING: std::cell::RefCell<Vec<PathBuf>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Marks a prior file as being loaded; refuses an inner file already on the chain.
struct LoadingGuard;

impl LoadingGuard {
    fn enter(path: &Path, inner: &Path) -> Result<LoadingGuard> {
        let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let (this, next) = (canonical(path), canonical(inner));
        LOADING.with(|chain| {
            let mut chain = chain.borrow_mut();
            chain.push(this);
            let looped = chain.contains(&next);
            if looped || chain.len() > MAX_PRIOR_DEPTH {
                let names: Vec<String> = chain
                    .iter()
                    .chain(std::iter::once(&next))
                    .map(|p| p.display().to_string())
                    .collect();
                chain.pop();
                return Err(persist_err(
                    path,
                    if looped {
                        format!(
                            "field \"inner\" loops back to a file already being loaded: {}",
                            names.join(" -> ")
                        )
                    } else {
                        format!(
                            "field \"inner\": chain of more than {MAX_PRIOR_DEPTH} priors: {}",
                            names.join(" -> ")
                        )
                    },
                ));
            }
            Ok(LoadingGuard)
        })
    }
}

impl Drop for LoadingGuard {
    fn drop(&mut self) {
        LOADING.with(|chain| {
            chain.borrow_mut().pop();
        });
    }
}

/// Default weight of the inner detector's bounded score (below `ln 2`, so frequency
/// decides between patterns seen different (small) numbers of times).
pub const DEFAULT_BLEND: f32 = 0.5;

/// An inner detector with the training frequency of each pattern in front: see the
/// [module docs](self).
#[derive(Clone)]
pub struct FrequencyPrior {
    inner: Arc<dyn Detector>,
    memory: PatternMemory,
    /// Minimum inner score on the training rows.
    shift: f32,
    /// Weighted median of the shifted inner training scores.
    scale: f32,
    blend: f32,
}

impl std::fmt::Debug for FrequencyPrior {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrequencyPrior")
            .field("inner", &self.inner.name())
            .field("patterns", &self.memory.len())
            .field("shift", &self.shift)
            .field("scale", &self.scale)
            .field("blend", &self.blend)
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
struct SavedPrior {
    /// The inner detector's file, relative to this one.
    inner: String,
    memory: PatternMemory,
    shift: f32,
    scale: f32,
    blend: f32,
}

impl FrequencyPrior {
    /// Put the frequency prior in front of `inner`, fitted on `data` (the same training
    /// set). `blend` must be positive and finite; [`DEFAULT_BLEND`] keeps frequency first.
    pub fn new(inner: Arc<dyn Detector>, data: &TrainSet<'_>, blend: f32) -> Result<Self> {
        if !(blend.is_finite() && blend > 0.0) {
            return Err(DetectError::InvalidParameter {
                name: "blend",
                reason: format!("{blend} is not a positive finite number"),
            });
        }
        let memory = PatternMemory::new(data)?;
        check_rows(data.x, inner.input_dim())?;
        let train_scores = inner.score(data.x)?;
        let w = data.weights_or_ones().to_vec();
        let shift = train_scores.iter().copied().fold(f32::INFINITY, f32::min);
        let shifted: Vec<f32> = train_scores.iter().map(|s| s - shift).collect();
        let median = Threshold::from_scores(&shifted, Some(&w), 50.0)?.value;
        // A detector that gives most training rows its minimum: fall back to the mean.
        let scale = if median > 0.0 {
            median
        } else {
            let mean =
                shifted.iter().zip(&w).map(|(s, w)| s * w).sum::<f32>() / w.iter().sum::<f32>();
            if mean > 0.0 { mean } else { 1.0 }
        };
        Ok(FrequencyPrior {
            inner,
            memory,
            shift,
            scale,
            blend,
        })
    }

    /// The inner detector.
    pub fn inner(&self) -> &Arc<dyn Detector> {
        &self.inner
    }

    /// The remembered training patterns.
    pub fn memory(&self) -> &PatternMemory {
        &self.memory
    }

    /// Load a model written by [`Detector::save`]; `load_inner` reads the inner
    /// detector's file (the caller knows which detector types it can load).
    pub fn load(
        path: &Path,
        load_inner: impl FnOnce(&Path) -> Result<Box<dyn Detector>>,
    ) -> Result<FrequencyPrior> {
        let saved: SavedPrior = load_json(path, "frequency-prior")?;
        let memory = saved.memory.checked(path)?;
        for (field, value, positive) in [
            ("shift", saved.shift, false),
            ("scale", saved.scale, true),
            ("blend", saved.blend, true),
        ] {
            if !value.is_finite() || (positive && value <= 0.0) {
                return Err(persist_err(
                    path,
                    format!(
                        "field {field:?} is {value} (must be {}finite)",
                        if positive { "positive and " } else { "" }
                    ),
                ));
            }
        }
        // A plain file name beside this one, as `save` writes it: a saved file is
        // untrusted and may not point elsewhere (`../`, an absolute path).
        if !crate::is_plain_file_name(&saved.inner) {
            return Err(persist_err(
                path,
                format!(
                    "field \"inner\" is {:?}, not a plain file name in this directory",
                    saved.inner
                ),
            ));
        }
        let inner_path = path
            .parent()
            .map_or_else(|| PathBuf::from(&saved.inner), |d| d.join(&saved.inner));
        // A prior whose inner file is itself (or a chain that loops back) would recurse
        // until the stack overflows.
        let _guard = LoadingGuard::enter(path, &inner_path)?;
        let inner: Arc<dyn Detector> = Arc::from(load_inner(&inner_path)?);
        if inner.input_dim() != memory.dim {
            return Err(persist_err(
                path,
                format!(
                    "inner detector takes {} columns, the pattern memory {}",
                    inner.input_dim(),
                    memory.dim
                ),
            ));
        }
        Ok(FrequencyPrior {
            inner,
            memory,
            shift: saved.shift,
            scale: saved.scale,
            blend: saved.blend,
        })
    }
}

impl Detector for FrequencyPrior {
    fn name(&self) -> String {
        format!("{}+freq", self.inner.name())
    }
    fn representation(&self) -> crate::Representation {
        self.inner.representation()
    }
    fn input_dim(&self) -> usize {
        self.memory.dim
    }
    fn score(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>> {
        let rarity = self.memory.rarity(x)?;
        let inner = self.inner.score(x)?;
        Ok(rarity
            .iter()
            .zip(inner.iter())
            .map(|(&r, &s)| {
                let e = (s - self.shift).max(0.0);
                r + self.blend * e / (e + self.scale)
            })
            .collect())
    }
    fn loss_history(&self) -> Option<&[(f32, Option<f32>)]> {
        self.inner.loss_history()
    }
    fn transductive(&self) -> bool {
        self.inner.transductive()
    }
    /// Writes this file (JSON) and the inner detector beside it as `<file>.inner`.
    fn save(&self, path: &Path) -> Result<()> {
        let file = path
            .file_name()
            .ok_or_else(|| persist_err(path, "not a file path"))?
            .to_string_lossy();
        let inner_name = format!("{file}.inner");
        let inner_path = path.with_file_name(&inner_name);
        self.inner.save(&inner_path)?;
        save_json(
            path,
            "frequency-prior",
            &SavedPrior {
                inner: inner_name,
                memory: self.memory.clone(),
                shift: self.shift,
                scale: self.scale,
                blend: self.blend,
            },
        )
    }
}

/// Fit `inner` and put a [`FrequencyPrior`] in front of it: a [`Fit`] for grids.
#[derive(Debug, Clone)]
pub struct WithFrequencyPrior<F> {
    pub inner: F,
    pub blend: f32,
}

impl<F> WithFrequencyPrior<F> {
    /// With [`DEFAULT_BLEND`].
    pub fn new(inner: F) -> Self {
        WithFrequencyPrior {
            inner,
            blend: DEFAULT_BLEND,
        }
    }
}

impl<F: Fit> Fit for WithFrequencyPrior<F> {
    type Fitted = FrequencyPrior;
    fn name(&self) -> String {
        format!("{}+freq", self.inner.name())
    }
    fn representation(&self) -> crate::Representation {
        self.inner.representation()
    }
    fn fit(&self, data: &TrainSet<'_>) -> Result<FrequencyPrior> {
        let inner = self.inner.fit(data)?;
        FrequencyPrior::new(Arc::new(inner), data, self.blend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};

    /// Distance to the origin: an inner detector for the tests.
    struct Norm;
    impl Detector for Norm {
        fn name(&self) -> String {
            "norm".into()
        }
        fn input_dim(&self) -> usize {
            2
        }
        fn score(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>> {
            check_rows(x, 2)?;
            Ok(x.rows()
                .into_iter()
                .map(|r| r.iter().map(|v| v * v).sum::<f32>().sqrt())
                .collect())
        }
    }
    impl Fit for Norm {
        type Fitted = Norm;
        fn name(&self) -> String {
            "norm".into()
        }
        fn fit(&self, data: &TrainSet<'_>) -> Result<Norm> {
            data.validate()?;
            Ok(Norm)
        }
    }

    fn train() -> (Array2<f32>, Array1<f32>) {
        (
            array![[1.0f32, 0.0], [0.0, 1.0], [1.0, 0.0], [0.5, 0.5]],
            array![10.0f32, 1.0, 5.0, 2.0],
        )
    }

    #[test]
    fn memory_merges_duplicates_and_counts_near_matches() {
        let (x, w) = train();
        let m = PatternMemory::new(&TrainSet::new(x.view()).with_weights(w.view())).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m.total(), 18.0);
        assert_eq!(m.count(array![1.0f32, 0.0].view()), 15.0);
        assert_eq!(m.count(array![-0.0f32, 1.0].view()), 1.0);
        // A re-embedded sentence: off in the 7th digit.
        assert_eq!(m.count(array![0.5000001f32, 0.4999999].view()), 2.0);
        assert_eq!(m.count(array![0.51f32, 0.49].view()), 0.0);
    }

    #[test]
    fn the_projection_index_finds_what_a_full_scan_finds() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let x = Array2::from_shape_fn((500, 32), |_| next());
        let w = Array1::from_shape_fn(500, |i| (i % 7 + 1) as f32);
        let m = PatternMemory::new(&TrainSet::new(x.view()).with_weights(w.view())).unwrap();
        let scan = |q: ArrayView1<'_, f32>| -> f32 {
            let tol = SAME_PATTERN_TOLERANCE * q.iter().map(|v| v * v).sum::<f32>();
            x.rows()
                .into_iter()
                .zip(&w)
                .filter(|(r, _)| (r - &q).mapv(|d| d * d).sum() <= tol)
                .map(|(_, &w)| w)
                .sum()
        };
        for i in 0..500 {
            // The same row off by float noise, and an unrelated row.
            let near = x.row(i).mapv(|v| v * (1.0 + 3e-7 * next()));
            assert_eq!(m.count(near.view()), w[i], "row {i}");
            assert_eq!(m.count(near.view()), scan(near.view()), "row {i}");
            let far = Array1::from_shape_fn(32, |_| next());
            assert_eq!(m.count(far.view()), 0.0);
        }
    }

    #[test]
    fn rarity_orders_by_count_and_equals_repetition() {
        let (x, w) = train();
        let weighted = Rarity
            .fit(&TrainSet::new(x.view()).with_weights(w.view()))
            .unwrap();
        let test = array![[1.0f32, 0.0], [0.5, 0.5], [0.0, 1.0], [3.0, 3.0]];
        let s = weighted.score(test.view()).unwrap();
        assert!(s[0] < s[1] && s[1] < s[2] && s[2] < s[3], "{s}");
        approx::assert_abs_diff_eq!(s[3], (19.0f32).ln(), epsilon = 1e-6);
        // Counts as weights = the rows repeated.
        let mut rows = Vec::new();
        for (r, &k) in x.rows().into_iter().zip(&w) {
            for _ in 0..k as usize {
                rows.extend(r.iter());
            }
        }
        let repeated = Array2::from_shape_vec((18, 2), rows).unwrap();
        let unweighted = Rarity.fit(&TrainSet::new(repeated.view())).unwrap();
        assert_eq!(unweighted.score(test.view()).unwrap(), s);
    }

    #[test]
    fn prior_puts_frequency_first_and_the_inner_score_second() {
        let (x, w) = train();
        let model = WithFrequencyPrior::new(Norm)
            .fit(&TrainSet::new(x.view()).with_weights(w.view()))
            .unwrap();
        assert_eq!(model.name(), "norm+freq");
        // Never seen, tiny norm > seen once, large norm.
        let s = model
            .score(array![[0.01f32, 0.0], [0.0, 1.0], [9.0, 9.0]].view())
            .unwrap();
        assert!(s[0] > s[1], "{s}");
        // Both never seen: the inner score decides.
        assert!(s[2] > s[0], "{s}");
        let bad = WithFrequencyPrior {
            inner: Norm,
            blend: 0.0,
        };
        assert!(matches!(
            bad.fit(&TrainSet::new(x.view())),
            Err(DetectError::InvalidParameter { name: "blend", .. })
        ));
        assert!(matches!(
            model.score(array![[1.0f32, 0.0, 0.0]].view()),
            Err(DetectError::DimensionMismatch { .. })
        ));
    }

    #[test]
    fn saved_models_score_the_same_after_loading() {
        let dir = std::env::temp_dir().join(format!("apt-llm-freq-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (x, w) = train();
        let data = TrainSet::new(x.view()).with_weights(w.view());
        let test = array![[1.0f32, 0.0], [0.2, 0.3], [0.5, 0.5]];
        let rarity = Rarity.fit(&data).unwrap();
        let p = dir.join("rarity.json");
        rarity.save(&p).unwrap();
        assert_eq!(crate::saved_kind(&p).unwrap(), "rarity");
        assert_eq!(
            FittedRarity::load(&p).unwrap().score(test.view()).unwrap(),
            rarity.score(test.view()).unwrap()
        );
        // The prior saves its inner detector beside it.
        let prior = FrequencyPrior::new(Arc::new(rarity), &data, 0.3).unwrap();
        let p = dir.join("prior.json");
        prior.save(&p).unwrap();
        let loaded = FrequencyPrior::load(&p, |inner| {
            assert_eq!(inner, dir.join("prior.json.inner"));
            Ok(Box::new(FittedRarity::load(inner)?))
        })
        .unwrap();
        assert_eq!(
            loaded.score(test.view()).unwrap(),
            prior.score(test.view()).unwrap()
        );
        // A file of another kind is refused, naming the file.
        let err = FittedRarity::load(&p).unwrap_err().to_string();
        assert!(
            err.contains("prior.json") && err.contains("frequency-prior"),
            "{err}"
        );
        // An inner file outside the prior's directory is refused before it is read.
        let good: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        for elsewhere in ["../rarity.json", "/etc/passwd", "sub/prior.json.inner", ""] {
            let mut doc = good.clone();
            doc["model"]["inner"] = elsewhere.into();
            std::fs::write(&p, doc.to_string()).unwrap();
            let err = FrequencyPrior::load(&p, |inner| panic!("{} was followed", inner.display()))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("prior.json") && err.contains("inner") && err.contains("plain"),
                "{elsewhere:?}: {err}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
