//! # apt-llm-baselines
//!
//! The detectors APT-LLM is judged against, behind the same
//! [`apt_llm_detect::Fit`] / [`apt_llm_detect::Detector`] seam as the autoencoders. Three
//! classical ones read embeddings:
//!
//! - [`OneClassSvm`]: linfa-svm's ν-one-class SVM with an RBF kernel (ν = 0.1,
//!   γ = 1/n_features by default); the score is the signed decision value, flipped so that
//!   higher means more anomalous. The kernel matrix grows as n², so training rows are
//!   capped (default 2,000; weighted patterns are expanded proportionally up to the cap)
//!   and the fitted model reports how many rows it saw.
//! - [`Dbscan`]: two scores side by side. [`DbscanScore::Transductive`] is the authors'
//!   (linfa-clustering's DBSCAN run on the rows being scored, noise = 1, else 0);
//!   [`DbscanScore::CoreDistance`] is fitted on training rows and scores new rows by their
//!   distance to the nearest core point, which ranks instead of flipping a coin.
//! - [`IsolationForest`]: Liu, Ting & Zhou (2008), written here because no maintained crate
//!   takes runtime dimensions and a seed: ψ = 256 sub-samples, 100 trees, height limit
//!   ⌈log₂ ψ⌉, path lengths with the c(n) correction, score 2^(−E[h]/c(ψ)). Seeded and
//!   parallel over trees.
//!
//! Two read the context's binary attribute rows instead
//! ([`apt_llm_detect::Representation::Attributes`]), the field's own unsupervised
//! baselines on these data (Berrada et al., FGCS 2020):
//!
//! - [`Avf`]: attribute value frequency, minus the mean training frequency of a row's
//!   values.
//! - [`Oc3`]: a row's encoded length under a Krimp code table of the training rows
//!   (Vreeken, van Leeuwen & Siebes 2011). The table matches the reference `krimp` binary
//!   of the ADAPT code (`tests/krimp_parity.rs`); candidate mining is bounded and the
//!   fitted model reports any cut ([`MiningReport`]); [`Oc3::transductive`] fits on the
//!   scored rows as the paper did.
//!
//! ```
//! use apt_llm_baselines::Oc3;
//! use apt_llm_detect::{Detector, Fit, TrainSet};
//! use ndarray::array;
//!
//! // Distinct attribute patterns and how many processes share each.
//! let normal = array![[1.0f32, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 1.0, 1.0]];
//! let counts = array![50.0f32, 20.0, 5.0];
//! let oc3 = Oc3::default().fit(&TrainSet::new(normal.view()).with_weights(counts.view()))?;
//! let s = oc3.score(array![[1.0f32, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 1.0]].view())?;
//! assert!(s[1] > s[0]); // an unseen combination takes more bits
//! # Ok::<(), apt_llm_detect::DetectError>(())
//! ```
//!
//! ```
//! use apt_llm_baselines::IsolationForest;
//! use apt_llm_detect::{Detector, Fit, TrainSet};
//! use ndarray::Array2;
//!
//! let normal = Array2::from_shape_fn((500, 4), |(i, j)| ((i * 7 + j * 3) % 10) as f32 / 10.0);
//! let forest = IsolationForest::default().fit(&TrainSet::new(normal.view()))?;
//! let outlier = Array2::from_elem((1, 4), 5.0f32);
//! assert!(forest.score(outlier.view())?[0] > forest.score(normal.view())?.mean().unwrap());
//! # Ok::<(), apt_llm_detect::DetectError>(())
//! ```

mod avf;
mod dbscan;
mod iforest;
mod krimp;
mod oc3;
mod ocsvm;

pub use avf::{Avf, FittedAvf};
pub use dbscan::{Dbscan, DbscanScore, FittedDbscan};
pub use iforest::{FittedIsolationForest, IsolationForest};
pub use oc3::{CodeTableEntry, FittedOc3, MiningReport, Oc3};
pub use ocsvm::{FittedOneClassSvm, OneClassSvm};

/// Expand weighted rows into at most `cap` row indices, each row repeated in proportion
/// to its weight (largest-remainder rounding; every row with positive weight appears at
/// least once when `cap` allows). Exact repetition when the total weight fits the cap and
/// weights are integers.
pub fn expand_weighted(weights: &[f32], cap: usize) -> Vec<usize> {
    let total: f64 = weights.iter().map(|&w| w as f64).sum();
    let positive: Vec<usize> = (0..weights.len()).filter(|&i| weights[i] > 0.0).collect();
    if positive.is_empty() || cap == 0 {
        return Vec::new();
    }
    let budget = (total.round() as usize)
        .min(cap)
        .max(positive.len().min(cap));
    if positive.len() >= budget {
        // More distinct rows than the budget: keep the heaviest.
        let mut p = positive;
        p.sort_by(|&a, &b| weights[b].total_cmp(&weights[a]).then(a.cmp(&b)));
        p.truncate(budget);
        p.sort_unstable();
        return p;
    }
    let scale = budget as f64 / total;
    let mut counts: Vec<(usize, usize, f64)> = positive
        .iter()
        .map(|&i| {
            let exact = weights[i] as f64 * scale;
            let base = (exact.floor() as usize).max(1);
            (i, base, exact - exact.floor())
        })
        .collect();
    let mut used: usize = counts.iter().map(|c| c.1).sum();
    // Rounding small weights up to one copy can overshoot: take back from the largest.
    while used > budget {
        let k = (0..counts.len())
            .max_by_key(|&k| (counts[k].1, std::cmp::Reverse(k)))
            .expect("non-empty");
        if counts[k].1 <= 1 {
            break;
        }
        counts[k].1 -= 1;
        used -= 1;
    }
    // Hand out the remainder by largest fractional part, deterministically.
    let mut order: Vec<usize> = (0..counts.len()).collect();
    order.sort_by(|&a, &b| counts[b].2.total_cmp(&counts[a].2).then(a.cmp(&b)));
    let mut k = 0;
    while used < budget && !order.is_empty() {
        counts[order[k % order.len()]].1 += 1;
        used += 1;
        k += 1;
    }
    counts
        .into_iter()
        .flat_map(|(i, c, _)| std::iter::repeat_n(i, c))
        .collect()
}

/// Re-exported for callers that dispatch on a saved file's kind.
pub use apt_llm_detect::saved_kind;
pub(crate) use apt_llm_detect::{load_json, save_json};

#[cfg(test)]
mod tests {
    use super::expand_weighted;

    #[test]
    fn expansion_is_exact_under_the_cap_and_proportional_above() {
        assert_eq!(expand_weighted(&[2.0, 0.0, 3.0], 100), vec![0, 0, 2, 2, 2]);
        let e = expand_weighted(&[900.0, 90.0, 10.0], 100);
        assert_eq!(e.len(), 100);
        assert_eq!(e.iter().filter(|&&i| i == 0).count(), 90);
        assert_eq!(e.iter().filter(|&&i| i == 2).count(), 1);
        assert_eq!(expand_weighted(&[1.0, 5.0, 3.0], 2), vec![1, 2]);
        let mut w = vec![1.0f32; 50];
        w[0] = 10_000.0;
        let e = expand_weighted(&w, 100);
        assert_eq!(e.len(), 100);
        assert_eq!(e.iter().filter(|&&i| i == 0).count(), 51);
    }
}
