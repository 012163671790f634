//! Cross-fitted calibration for small aspects.
//!
//! The host view turns every score into a tail probability against normal processes the
//! model never saw. With the held-out normals alone, a small aspect (a few dozen normal
//! processes, 10 % of them held out) cannot give any process a p-value below
//! `1 / (W + 1)`: on bovia/trace/PN, three held-out normals put every attack at p = 0.25
//! although the aspect separates them perfectly. Calibrating against the training normals
//! in-sample would be finer but biased (a detector that remembers its training rows finds
//! them ordinary). Cross-fitting gives the fine resolution without the bias: the training
//! normal *processes* are dealt into `K` folds, the detector is refitted on the other folds
//! and scores the processes of the held-out fold. A pattern shared by `w` processes is
//! split across folds like its processes are, so a common pattern stays in every refit
//! (as it stays in the full fit) and a singleton is unseen when it is scored (as a new
//! test process would be).
//!
//! The refits cost `K` extra fits, so they are done only where they matter: aspects whose
//! held-out normals weigh less than [`CROSS_FIT_BELOW`] processes. Those are small, and
//! their fits are cheap.

use crate::error::Result;
use apt_llm_detect::{DEFAULT_BLEND, Detector, DetectorSpec, FrequencyPrior, TrainSet};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// Cross-fit an aspect when its held-out normals weigh less than this many processes.
pub const CROSS_FIT_BELOW: f32 = 100.0;
/// The number of folds.
pub const FOLDS: usize = 5;

/// Out-of-fold scores of the training normals, one `(scores, weights)` pair per entry of
/// `priors` (without and/or with the frequency prior, from the same refits). The scores of
/// fold `k` come from a model that never saw fold `k`'s processes.
pub(crate) fn out_of_fold(
    spec: &dyn DetectorSpec,
    priors: &[bool],
    x: ArrayView2<'_, f32>,
    w: ArrayView1<'_, f32>,
    validation: Option<(ArrayView2<'_, f32>, ArrayView1<'_, f32>)>,
    seed: u64,
) -> Result<Vec<(Vec<f32>, Vec<f32>)>> {
    let mut out: Vec<(Vec<f32>, Vec<f32>)> = vec![(Vec::new(), Vec::new()); priors.len()];
    let offsets = fold_offsets(w.len(), seed);
    for k in 0..FOLDS {
        let (mut fit_rows, mut fit_w, mut held_rows, mut held_w) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (j, &wj) in w.iter().enumerate() {
            let here = in_fold(offsets[j], wj, k);
            if here > 0.0 {
                held_rows.push(j);
                held_w.push(here);
            }
            if wj - here > 0.0 {
                fit_rows.push(j);
                fit_w.push(wj - here);
            }
        }
        if held_rows.is_empty() || fit_rows.is_empty() {
            continue;
        }
        let fx: Array2<f32> = x.select(Axis(0), &fit_rows);
        let fw = Array1::from(fit_w);
        let ts = TrainSet::new(fx.view()).with_weights(fw.view());
        // (`reborrow` shortens the views' lifetime to the fold's rows.)
        let ts = match &validation {
            Some((vx, vw)) => ts.with_validation(vx.reborrow(), Some(vw.reborrow())),
            None => ts,
        };
        let fitted: Arc<dyn Detector> = Arc::from(spec.fit_boxed(&ts)?);
        let hx: Array2<f32> = x.select(Axis(0), &held_rows);
        for (slot, &prior) in out.iter_mut().zip(priors) {
            let scores = if prior {
                FrequencyPrior::new(fitted.clone(), &ts, DEFAULT_BLEND)?.score(hx.view())?
            } else {
                fitted.score(hx.view())?
            };
            slot.0.extend(scores.iter());
            slot.1.extend(held_w.iter());
        }
    }
    Ok(out)
}

/// Per pattern, the fold its first process is dealt to (seeded).
fn fold_offsets(patterns: usize, seed: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..patterns).map(|_| rng.random_range(0..FOLDS)).collect()
}

/// How many of a pattern's `w` processes fall into fold `k`: they are dealt round-robin
/// from the pattern's `offset`, so every fold gets `⌊w / K⌋` or one more.
fn in_fold(offset: usize, w: f32, k: usize) -> f32 {
    let n = w.round().max(0.0) as usize;
    let pos = (k + FOLDS - offset) % FOLDS;
    (n / FOLDS + usize::from(pos < n % FOLDS)) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_process_lands_in_exactly_one_fold() {
        for offset in 0..FOLDS {
            for w in [1.0f32, 2.0, 4.0, 5.0, 7.0, 23.0] {
                let per: Vec<f32> = (0..FOLDS).map(|k| in_fold(offset, w, k)).collect();
                assert_eq!(per.iter().sum::<f32>(), w, "offset {offset} weight {w}");
                let (lo, hi) = per
                    .iter()
                    .fold((f32::MAX, 0.0f32), |(l, h), &v| (l.min(v), h.max(v)));
                assert!(hi - lo <= 1.0);
            }
        }
    }

    #[test]
    fn singletons_spread_over_the_folds_and_follow_the_seed() {
        let a = fold_offsets(200, 42);
        for k in 0..FOLDS {
            let n = a.iter().filter(|&&f| f == k).count();
            assert!((20..=60).contains(&n), "fold {k} holds {n} of 200");
        }
        assert_eq!(a, fold_offsets(200, 42));
        assert_ne!(a, fold_offsets(200, 7));
    }
}
