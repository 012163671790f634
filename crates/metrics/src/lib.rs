//! # apt-llm-metrics
//!
//! Ranking metrics for anomaly scores, exact with ties and with sample weights:
//! ROC curve and ROC-AUC (the Mann-Whitney U statistic over n₊·n₋), precision-recall
//! curve and average precision, nDCG of the attack ranking as the ADAPT baselines use it,
//! precision / recall / F1 at a threshold, and the *tie ceiling*: the best AUC any scorer
//! can reach when attacks and normals share identical inputs.
//!
//! Scores follow one convention: higher means more anomalous. Labels: `true` = attack.
//! A test set holding a single class is an error, never NaN.
//!
//! ```
//! use apt_llm_metrics::{roc_auc, RocCurve};
//! let scores = [0.9, 0.8, 0.8, 0.1];
//! let labels = [true, true, false, false];
//! // One tie between an attack and a normal counts one half.
//! assert_eq!(roc_auc(&scores, &labels)?, 3.5 / 4.0);
//! let roc = RocCurve::new(&scores, &labels, None)?;
//! assert_eq!(roc.auc(), 0.875);
//! # Ok::<(), apt_llm_metrics::MetricsError>(())
//! ```

use serde::{Deserialize, Serialize};

/// Why a metric cannot be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricsError {
    /// Only attacks or only normals: no ranking can be judged.
    #[error("single-class labels: {positives} attack and {negatives} normal samples")]
    SingleClass { positives: f64, negatives: f64 },
    /// Scores, labels and weights disagree in length.
    #[error("length mismatch: {scores} scores, {labels} labels, {weights} weights")]
    LengthMismatch {
        scores: usize,
        labels: usize,
        weights: usize,
    },
    /// A NaN or infinite score, or a negative / non-finite weight.
    #[error("invalid value at index {index}: {what}")]
    InvalidValue { index: usize, what: String },
}

/// Result alias.
pub type Result<T> = std::result::Result<T, MetricsError>;

/// Per distinct score, descending: (score, attack weight, normal weight).
type Groups = Vec<(f32, f64, f64)>;

/// Group samples by distinct score (descending), with the total attack and normal weights.
fn grouped(scores: &[f32], labels: &[bool], weights: Option<&[f32]>) -> Result<(Groups, f64, f64)> {
    let n = scores.len();
    let wn = weights.map_or(n, <[f32]>::len);
    if labels.len() != n || wn != n {
        return Err(MetricsError::LengthMismatch {
            scores: n,
            labels: labels.len(),
            weights: wn,
        });
    }
    for (i, s) in scores.iter().enumerate() {
        if !s.is_finite() {
            return Err(MetricsError::InvalidValue {
                index: i,
                what: format!("score {s}"),
            });
        }
    }
    if let Some(w) = weights {
        for (i, x) in w.iter().enumerate() {
            if !x.is_finite() || *x < 0.0 {
                return Err(MetricsError::InvalidValue {
                    index: i,
                    what: format!("weight {x}"),
                });
            }
        }
    }
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_unstable_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut groups: Groups = Vec::new();
    let (mut pos, mut neg) = (0.0f64, 0.0f64);
    for i in idx {
        let w = weights.map_or(1.0, |w| w[i] as f64);
        let (p, q) = if labels[i] { (w, 0.0) } else { (0.0, w) };
        pos += p;
        neg += q;
        match groups.last_mut() {
            Some(g) if g.0 == scores[i] => {
                g.1 += p;
                g.2 += q;
            }
            _ => groups.push((scores[i], p, q)),
        }
    }
    if pos <= 0.0 || neg <= 0.0 {
        return Err(MetricsError::SingleClass {
            positives: pos,
            negatives: neg,
        });
    }
    Ok((groups, pos, neg))
}

/// ROC-AUC: the probability that a random attack scores above a random normal, ties
/// counting one half (Mann-Whitney U / (n₊·n₋)).
pub fn roc_auc(scores: &[f32], labels: &[bool]) -> Result<f64> {
    roc_auc_weighted(scores, labels, None)
}

/// ROC-AUC with sample weights (a weight of k counts a sample k times).
pub fn roc_auc_weighted(scores: &[f32], labels: &[bool], weights: Option<&[f32]>) -> Result<f64> {
    let (groups, pos, neg) = grouped(scores, labels, weights)?;
    let mut above = 0.0;
    let mut u = 0.0;
    for (_, p, q) in groups {
        u += q * (above + 0.5 * p);
        above += p;
    }
    Ok(u / (pos * neg))
}

/// A ROC curve: one point per distinct score threshold, from (0,0) to (1,1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RocCurve {
    pub fpr: Vec<f64>,
    pub tpr: Vec<f64>,
    /// `thresholds[k]`: a sample is flagged at point k when its score ≥ this value
    /// (`+inf` for the first point).
    pub thresholds: Vec<f32>,
}

impl RocCurve {
    /// Build from scores, labels and optional weights.
    pub fn new(scores: &[f32], labels: &[bool], weights: Option<&[f32]>) -> Result<RocCurve> {
        let (groups, pos, neg) = grouped(scores, labels, weights)?;
        let mut c = RocCurve {
            fpr: vec![0.0],
            tpr: vec![0.0],
            thresholds: vec![f32::INFINITY],
        };
        let (mut tp, mut fp) = (0.0, 0.0);
        for (s, p, q) in groups {
            tp += p;
            fp += q;
            c.fpr.push(fp / neg);
            c.tpr.push(tp / pos);
            c.thresholds.push(s);
        }
        Ok(c)
    }

    /// Area under the curve by the trapezoid rule; equals [`roc_auc`] exactly.
    pub fn auc(&self) -> f64 {
        self.fpr
            .windows(2)
            .zip(self.tpr.windows(2))
            .map(|(x, y)| (x[1] - x[0]) * (y[1] + y[0]) / 2.0)
            .sum()
    }
}

/// A precision-recall curve, one point per distinct threshold (descending).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrCurve {
    pub precision: Vec<f64>,
    pub recall: Vec<f64>,
    pub thresholds: Vec<f32>,
}

impl PrCurve {
    /// Build from scores, labels and optional weights.
    pub fn new(scores: &[f32], labels: &[bool], weights: Option<&[f32]>) -> Result<PrCurve> {
        let (groups, pos, _) = grouped(scores, labels, weights)?;
        let mut c = PrCurve {
            precision: Vec::new(),
            recall: Vec::new(),
            thresholds: Vec::new(),
        };
        let (mut tp, mut fp) = (0.0, 0.0);
        for (s, p, q) in groups {
            tp += p;
            fp += q;
            c.precision
                .push(if tp + fp > 0.0 { tp / (tp + fp) } else { 1.0 });
            c.recall.push(tp / pos);
            c.thresholds.push(s);
        }
        Ok(c)
    }

    /// Average precision: Σ (Rₖ − Rₖ₋₁)·Pₖ, as scikit-learn computes it (no interpolation).
    pub fn average_precision(&self) -> f64 {
        let mut prev = 0.0;
        let mut ap = 0.0;
        for (p, r) in self.precision.iter().zip(&self.recall) {
            ap += (r - prev) * p;
            prev = *r;
        }
        ap
    }
}

/// Average precision (PR-AUC).
pub fn average_precision(scores: &[f32], labels: &[bool], weights: Option<&[f32]>) -> Result<f64> {
    Ok(PrCurve::new(scores, labels, weights)?.average_precision())
}

/// nDCG of the attack ranking: Σ 1/log₂(rank+1) over attacks ranked by descending score,
/// divided by its ideal (all attacks first). Tied samples share the mean gain of the
/// ranks they span (the expectation over random tie-breaking).
pub fn ndcg(scores: &[f32], labels: &[bool], weights: Option<&[f32]>) -> Result<f64> {
    let (groups, pos, _) = grouped(scores, labels, weights)?;
    // Sum of 1/log2(r+1) for r in 1..=k, for real-valued k (weights) via the integer part
    // plus the fractional remainder.
    let gain_prefix = |k: f64| -> f64 {
        let whole = k.floor() as u64;
        let mut s: f64 = (1..=whole).map(|r| 1.0 / ((r + 1) as f64).log2()).sum();
        let frac = k - whole as f64;
        if frac > 0.0 {
            s += frac / ((whole + 2) as f64).log2();
        }
        s
    };
    let mut start = 0.0;
    let mut dcg = 0.0;
    for (_, p, q) in groups {
        let size = p + q;
        if p > 0.0 {
            let mean_gain = (gain_prefix(start + size) - gain_prefix(start)) / size;
            dcg += p * mean_gain;
        }
        start += size;
    }
    Ok(dcg / gain_prefix(pos))
}

/// Confusion counts and rates at a threshold (flag = score > threshold).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThresholdMetrics {
    pub threshold: f32,
    pub true_positives: f64,
    pub false_positives: f64,
    pub true_negatives: f64,
    pub false_negatives: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub false_positive_rate: f64,
}

/// Precision, recall and F1 when flagging scores strictly above `threshold`.
pub fn at_threshold(
    scores: &[f32],
    labels: &[bool],
    weights: Option<&[f32]>,
    threshold: f32,
) -> Result<ThresholdMetrics> {
    let (groups, pos, neg) = grouped(scores, labels, weights)?;
    let (mut tp, mut fp) = (0.0, 0.0);
    for (s, p, q) in groups {
        if s > threshold {
            tp += p;
            fp += q;
        }
    }
    let precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
    let recall = tp / pos;
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    Ok(ThresholdMetrics {
        threshold,
        true_positives: tp,
        false_positives: fp,
        true_negatives: neg - fp,
        false_negatives: pos - tp,
        precision,
        recall,
        f1,
        false_positive_rate: fp / neg,
    })
}

/// The best ROC-AUC any scorer can reach when samples with the same input must get the
/// same score: rank inputs (groups) by their attack share. `groups[i]` is the input id of
/// sample i (e.g. its provenance pattern).
///
/// ```
/// use apt_llm_metrics::tie_ceiling;
/// // Input 0 is shared by one attack and one normal: no scorer can separate them.
/// let groups = [0, 0, 1, 2];
/// let labels = [true, false, true, false];
/// assert_eq!(tie_ceiling(&groups, &labels, None)?, 0.875);
/// # Ok::<(), apt_llm_metrics::MetricsError>(())
/// ```
pub fn tie_ceiling(groups: &[usize], labels: &[bool], weights: Option<&[f32]>) -> Result<f64> {
    if groups.len() != labels.len() {
        return Err(MetricsError::LengthMismatch {
            scores: groups.len(),
            labels: labels.len(),
            weights: weights.map_or(groups.len(), <[f32]>::len),
        });
    }
    let n_groups = groups.iter().max().map_or(0, |m| m + 1);
    let mut pos = vec![0.0f64; n_groups];
    let mut tot = vec![0.0f64; n_groups];
    for (i, (&g, &l)) in groups.iter().zip(labels).enumerate() {
        let w = weights.map_or(1.0, |w| w[i] as f64);
        tot[g] += w;
        if l {
            pos[g] += w;
        }
    }
    let share: Vec<f32> = groups
        .iter()
        .map(|&g| {
            if tot[g] > 0.0 {
                (pos[g] / tot[g]) as f32
            } else {
                0.0
            }
        })
        .collect();
    roc_auc_weighted(&share, labels, weights)
}

/// The metrics reported for every scored context.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub auc: f64,
    pub pr_auc: f64,
    pub ndcg: f64,
}

/// ROC-AUC, average precision and nDCG in one call.
pub fn summarize(scores: &[f32], labels: &[bool], weights: Option<&[f32]>) -> Result<Summary> {
    Ok(Summary {
        auc: roc_auc_weighted(scores, labels, weights)?,
        pr_auc: average_precision(scores, labels, weights)?,
        ndcg: ndcg(scores, labels, weights)?,
    })
}
