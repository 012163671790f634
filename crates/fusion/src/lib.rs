//! # apt-llm-fusion
//!
//! One process, several views of it (its events, executables, parents, network flows):
//! each view's detector gives a score on its own scale. This crate turns every score into
//! an *empirical tail probability* against held-out normal scores of the same view
//! ([`Calibrator`]), then fuses the probabilities of one process into one
//! ([`FusionRule`]: [`Fisher`], [`Sidak`], [`Cauchy`], or your own).
//!
//! A process absent from a view (no rows of that kind: no network flow, say) is ordinary
//! there by default ([`Absent::Neutral`]): it contributes the rule's neutral p-value
//! ([`FusionRule::neutral`]), so every process of a host is fused over the same views
//! and the same evidence weighs the same wherever else a process appears.
//! [`Absent::Skip`] fuses only the views a process appears in instead: a process seen in
//! one view keeps that view's p-value, but its correction for multiple views is milder
//! than for a process seen everywhere (with Fisher, p = 0.01 alone fuses to 0.01, while
//! 0.01 beside two ordinary views fuses to 0.16). No label is used anywhere: calibration
//! needs normal scores from processes that are neither trained on nor tested.
//!
//! ```
//! use apt_llm_fusion::{Absent, Calibrator, Fisher, FusionRule, Sidak};
//!
//! // Held-out normal scores of two views (weights = processes sharing the score).
//! let events = Calibrator::new(&[0.1, 0.2, 0.3, 0.4], Some(&[10.0, 5.0, 3.0, 1.0]))?;
//! let parents = Calibrator::new(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], None)?;
//! // One process: unusual in both views.
//! let p = [events.p_value(0.35), parents.p_value(8.5)]; // 0.1 and 0.2
//! assert!((p[0] - 2.0 / 20.0).abs() < 1e-12); // (1 normal at or above + 1) / (19 + 1)
//! let fused = Fisher.fuse(&p);
//! assert!(fused < p[0] && fused < p[1]); // two weak signals make a stronger one
//! assert!((Sidak.fuse(&p[..1]) - p[0]).abs() < 1e-12); // one view: its own p
//! // A process without network flows is ordinary there, not unseen.
//! let views = vec![vec![Some(0.01)], vec![None]];
//! let neutral = apt_llm_fusion::fuse_processes(&Fisher, &views, Absent::Neutral);
//! assert_eq!(neutral[0].0, Fisher.score(&[0.01, 1.0]));
//! # Ok::<(), apt_llm_fusion::FusionError>(())
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Errors of calibration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FusionError {
    /// No normal score (or all weights zero) to calibrate against.
    #[error("no normal scores to calibrate against")]
    Empty,
    /// A NaN or infinite score.
    #[error("normal score {index} is not finite ({value})")]
    NonFinite { index: usize, value: f64 },
    /// Weights that do not fit the scores, or a negative / non-finite weight.
    #[error("weights: {0}")]
    BadWeights(String),
    /// An unknown rule name.
    #[error("unknown fusion rule {0:?} (fisher, sidak, cauchy)")]
    UnknownRule(String),
    /// An unknown policy for absent views.
    #[error("unknown policy for absent views {0:?} (neutral, skip)")]
    UnknownAbsent(String),
}

/// Empirical tail probability of a score among held-out normal scores:
/// `p(s) = (W(score ≥ s) + 1) / (W + 1)`, `W` the total normal weight. The `+ 1` keeps a
/// score above every normal one at `1 / (W + 1)` instead of 0 (the usual conformal
/// p-value), so a held-out normal's p-value is uniform on that grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibrator {
    /// Normal scores, ascending.
    scores: Vec<f64>,
    /// `tail[i]` = weight of `scores[i..]`.
    tail: Vec<f64>,
    total: f64,
}

impl Calibrator {
    /// Calibrate against normal `scores` with optional weights (processes per score).
    pub fn new(scores: &[f32], weights: Option<&[f32]>) -> Result<Calibrator, FusionError> {
        if let Some(w) = weights {
            if w.len() != scores.len() {
                return Err(FusionError::BadWeights(format!(
                    "{} weights for {} scores",
                    w.len(),
                    scores.len()
                )));
            }
            if let Some((i, v)) = w
                .iter()
                .enumerate()
                .find(|(_, v)| !v.is_finite() || **v < 0.0)
            {
                return Err(FusionError::BadWeights(format!(
                    "weight {v} at {i} is negative or not finite"
                )));
            }
        }
        if let Some((index, v)) = scores.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(FusionError::NonFinite {
                index,
                value: *v as f64,
            });
        }
        let mut pairs: Vec<(f64, f64)> = scores
            .iter()
            .enumerate()
            .map(|(i, &s)| (s as f64, weights.map_or(1.0, |w| w[i] as f64)))
            .filter(|(_, w)| *w > 0.0)
            .collect();
        if pairs.is_empty() {
            return Err(FusionError::Empty);
        }
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut tail = vec![0.0; pairs.len()];
        let mut acc = 0.0;
        for i in (0..pairs.len()).rev() {
            acc += pairs[i].1;
            tail[i] = acc;
        }
        Ok(Calibrator {
            scores: pairs.iter().map(|p| p.0).collect(),
            tail,
            total: acc,
        })
    }

    /// Total normal weight calibrated against.
    pub fn total_weight(&self) -> f64 {
        self.total
    }

    /// The smallest p-value this calibrator can give: `1 / (W + 1)`.
    pub fn floor(&self) -> f64 {
        1.0 / (self.total + 1.0)
    }

    /// Tail probability of `score` (NaN scores count as the most anomalous: a detector
    /// that cannot score a row has seen nothing like it).
    pub fn p_value(&self, score: f32) -> f64 {
        let s = score as f64;
        if s.is_nan() {
            return self.floor();
        }
        let i = self.scores.partition_point(|&v| v < s);
        let above = if i < self.scores.len() {
            self.tail[i]
        } else {
            0.0
        };
        (above + 1.0) / (self.total + 1.0)
    }

    /// p-values of many scores.
    pub fn p_values(&self, scores: &[f32]) -> Vec<f64> {
        scores.iter().map(|&s| self.p_value(s)).collect()
    }
}

/// Combines the p-values of one process over its views into one p-value (see [`Absent`]
/// for views it is absent from).
/// Smaller = more anomalous. Implement it to plug in your own rule.
pub trait FusionRule: Send + Sync {
    /// Name in tables (`fisher`, `sidak`, ...).
    fn name(&self) -> String;
    /// The fused p-value of `p` (each in (0, 1]); `1.0` for an empty slice.
    fn fuse(&self, p: &[f64]) -> f64;
    /// The p-value that carries no evidence under this rule: what a view a process is
    /// absent from contributes under [`Absent::Neutral`]. `1.0` (Fisher's `-ln 1 = 0`,
    /// the minimum's identity); the Cauchy combination's is `0.5` (`tan 0 = 0`).
    fn neutral(&self) -> f64 {
        1.0
    }
    /// The fused score, higher = more anomalous: `-ln(fused p)`.
    fn score(&self, p: &[f64]) -> f64 {
        -self.fuse(p).max(f64::MIN_POSITIVE).ln()
    }
}

/// Fisher's method: `X = -2 Σ ln pᵢ` is χ² with `2k` degrees of freedom under the null
/// (independent views); the fused p is its upper tail, `e^{-S} Σ_{j<k} S^j / j!` with
/// `S = X / 2`. Adds up evidence: several moderately rare views beat one very rare one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fisher;

impl FusionRule for Fisher {
    fn name(&self) -> String {
        "fisher".into()
    }
    fn fuse(&self, p: &[f64]) -> f64 {
        if p.is_empty() {
            return 1.0;
        }
        let s: f64 = p.iter().map(|&v| -clamp_p(v).ln()).sum();
        let mut term = 1.0;
        let mut sum = 1.0;
        for j in 1..p.len() {
            term *= s / j as f64;
            sum += term;
        }
        ((-s).exp() * sum).clamp(0.0, 1.0)
    }
}

/// Šidák-corrected minimum: `1 - (1 - min pᵢ)^k`. The rarest view decides; the
/// correction pays for having looked at `k` of them. Valid under any independence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sidak;

impl FusionRule for Sidak {
    fn name(&self) -> String {
        "sidak".into()
    }
    fn fuse(&self, p: &[f64]) -> f64 {
        if p.is_empty() {
            return 1.0;
        }
        let m = p.iter().copied().map(clamp_p).fold(1.0, f64::min);
        // 1 - (1 - m)^k, computed without cancellation for small m.
        -f64::exp_m1(p.len() as f64 * f64::ln_1p(-m))
    }
}

/// The Cauchy combination (Liu & Xie 2020): `T = mean tan((0.5 - pᵢ) π)`, fused
/// `p = 0.5 - arctan(T) / π`. Close to the minimum for small p-values and robust to
/// dependence between views (the aspects of one process are not independent).
/// p-values above [`Cauchy::CAP`] count as the cap: near 1 the tangent diverges, and one
/// ordinary view (a conformal p-value is exactly 1 for a score below every normal one)
/// would veto every other view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cauchy;

impl Cauchy {
    /// The largest p-value taken as it is.
    pub const CAP: f64 = 0.99;
}

impl FusionRule for Cauchy {
    fn name(&self) -> String {
        "cauchy".into()
    }
    fn neutral(&self) -> f64 {
        0.5
    }
    fn fuse(&self, p: &[f64]) -> f64 {
        if p.is_empty() {
            return 1.0;
        }
        if let [one] = p {
            return clamp_p(*one);
        }
        let t: f64 = p
            .iter()
            .map(|&v| ((0.5 - clamp_p(v).min(Cauchy::CAP)) * std::f64::consts::PI).tan())
            .sum::<f64>()
            / p.len() as f64;
        (0.5 - t.atan() / std::f64::consts::PI).clamp(0.0, 1.0)
    }
}

fn clamp_p(p: f64) -> f64 {
    if p.is_nan() {
        1.0
    } else {
        p.clamp(1e-300, 1.0)
    }
}

/// The built-in rules, as a closed choice for configurations and command lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rule {
    Fisher,
    Sidak,
    Cauchy,
}

impl Rule {
    /// Every built-in rule.
    pub const ALL: [Rule; 3] = [Rule::Fisher, Rule::Sidak, Rule::Cauchy];
    /// The rule itself.
    pub fn rule(self) -> Box<dyn FusionRule> {
        match self {
            Rule::Fisher => Box::new(Fisher),
            Rule::Sidak => Box::new(Sidak),
            Rule::Cauchy => Box::new(Cauchy),
        }
    }
    /// Name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Fisher => "fisher",
            Rule::Sidak => "sidak",
            Rule::Cauchy => "cauchy",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Rule {
    type Err = FusionError;
    fn from_str(s: &str) -> Result<Rule, FusionError> {
        Rule::ALL
            .into_iter()
            .find(|r| r.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| FusionError::UnknownRule(s.to_string()))
    }
}

/// What a view a process is absent from contributes to its fused p-value.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Absent {
    /// The rule's [`FusionRule::neutral`] p-value: the process is ordinary in that view,
    /// and every process is fused over the same views.
    #[default]
    Neutral,
    /// Nothing: only the views the process appears in are fused.
    Skip,
}

impl Absent {
    /// Both policies.
    pub const ALL: [Absent; 2] = [Absent::Neutral, Absent::Skip];
    /// Name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Absent::Neutral => "neutral",
            Absent::Skip => "skip",
        }
    }
}

impl fmt::Display for Absent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Absent {
    type Err = FusionError;
    fn from_str(s: &str) -> Result<Absent, FusionError> {
        Absent::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| FusionError::UnknownAbsent(s.to_string()))
    }
}

/// Fuse per-view p-values of many processes: `views[v][i]` is process `i`'s p-value in
/// view `v`, `None` where the process is absent from that view (filled in as `absent`
/// says). Returns one score per process (higher = more anomalous) and how many views
/// each was seen in.
pub fn fuse_processes(
    rule: &dyn FusionRule,
    views: &[Vec<Option<f64>>],
    absent: Absent,
) -> Vec<(f64, usize)> {
    let n = views.first().map_or(0, Vec::len);
    let neutral = rule.neutral();
    let mut buf = Vec::with_capacity(views.len());
    (0..n)
        .map(|i| {
            buf.clear();
            let mut seen = 0;
            for v in views {
                match (v.get(i).copied().flatten(), absent) {
                    (Some(p), _) => {
                        seen += 1;
                        buf.push(p);
                    }
                    (None, Absent::Neutral) => buf.push(neutral),
                    (None, Absent::Skip) => {}
                }
            }
            if seen == 0 {
                return (0.0, 0); // seen nowhere: no evidence at all
            }
            (rule.score(&buf), seen)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn single_view_keeps_its_p_value() {
        for p in [1e-6, 0.01, 0.3, 1.0] {
            for r in Rule::ALL {
                assert_abs_diff_eq!(r.rule().fuse(&[p]), p, epsilon = 1e-9);
            }
        }
    }

    #[test]
    fn fisher_matches_chi_square_tail() {
        // k = 2, p = (0.05, 0.05): X = 11.98, chi2(4) upper tail = 0.01747...
        assert_abs_diff_eq!(Fisher.fuse(&[0.05, 0.05]), 0.017479, epsilon = 1e-5);
        // Uninformative views keep the fused p at 1.
        assert_abs_diff_eq!(Fisher.fuse(&[1.0, 1.0, 1.0]), 1.0, epsilon = 1e-12);
        assert_abs_diff_eq!(
            Sidak.fuse(&[0.01, 0.5]),
            1.0 - 0.99f64.powi(2),
            epsilon = 1e-12
        );
        assert_eq!(Fisher.fuse(&[]), 1.0);
    }

    #[test]
    fn weights_equal_repetition() {
        let a = Calibrator::new(&[1.0, 2.0, 3.0], Some(&[2.0, 1.0, 3.0])).unwrap();
        let b = Calibrator::new(&[1.0, 1.0, 2.0, 3.0, 3.0, 3.0], None).unwrap();
        for s in [0.0, 1.0, 1.5, 2.0, 3.0, 4.0, f32::NAN] {
            assert_eq!(a.p_value(s), b.p_value(s), "{s}");
        }
        assert_abs_diff_eq!(a.p_value(4.0), 1.0 / 7.0);
        assert_abs_diff_eq!(a.p_value(0.0), 1.0);
    }

    /// A held-out normal's p-value is (super-)uniform: P(p ≤ α) ≤ α.
    #[test]
    fn held_out_normal_p_values_are_uniform() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let calib: Vec<f32> = (0..2000).map(|_| rng.random::<f32>()).collect();
        let c = Calibrator::new(&calib, None).unwrap();
        let fresh: Vec<f64> = (0..20000).map(|_| c.p_value(rng.random::<f32>())).collect();
        for alpha in [0.01, 0.05, 0.1, 0.25, 0.5, 0.9] {
            let share = fresh.iter().filter(|&&p| p <= alpha).count() as f64 / fresh.len() as f64;
            assert!(
                (share - alpha).abs() < 0.01 + alpha * 0.05,
                "α={alpha}: {share}"
            );
        }
        // Fused over independent views the fused p is uniform too (Fisher is exact).
        let views: Vec<Calibrator> = (0..3)
            .map(|_| {
                let s: Vec<f32> = (0..2000).map(|_| rng.random::<f32>()).collect();
                Calibrator::new(&s, None).unwrap()
            })
            .collect();
        let fused: Vec<f64> = (0..20000)
            .map(|_| {
                let p: Vec<f64> = views
                    .iter()
                    .map(|c| c.p_value(rng.random::<f32>()))
                    .collect();
                Fisher.fuse(&p)
            })
            .collect();
        for alpha in [0.01, 0.05, 0.2, 0.5] {
            let share = fused.iter().filter(|&&p| p <= alpha).count() as f64 / fused.len() as f64;
            assert!(
                (share - alpha).abs() < 0.01 + alpha * 0.05,
                "fused α={alpha}: {share}"
            );
        }
    }

    #[test]
    fn one_ordinary_view_does_not_veto_the_cauchy_combination() {
        let rare = Cauchy.fuse(&[0.001, 1.0]);
        assert!(rare < 0.01, "{rare}");
        assert!(Cauchy.fuse(&[0.001, 1.0]) < Cauchy.fuse(&[0.1, 1.0]));
    }

    #[test]
    fn skipped_views_contribute_nothing() {
        let views = vec![
            vec![Some(0.01), None, Some(0.5)],
            vec![None, None, Some(0.5)],
        ];
        let out = fuse_processes(&Fisher, &views, Absent::Skip);
        assert_abs_diff_eq!(out[0].0, -(0.01f64.ln()), epsilon = 1e-9);
        assert_eq!(out[0].1, 1);
        assert_eq!(out[1], (0.0, 0)); // seen nowhere: p = 1
        assert_eq!(out[2].1, 2);
        // A process rare in one view outranks one that is ordinary in two.
        assert!(out[0].0 > out[2].0);
    }

    /// Under `Neutral`, absence is the same as an ordinary view, for every rule: the
    /// same evidence scores the same whether or not the process appears elsewhere.
    #[test]
    fn neutral_absence_equals_an_ordinary_view() {
        for r in Rule::ALL {
            let rule = r.rule();
            let n = rule.neutral();
            let views = vec![
                vec![Some(0.01), Some(0.01), None],
                vec![None, Some(n), None],
                vec![Some(0.2), Some(0.2), None],
            ];
            let out = fuse_processes(&*rule, &views, Absent::Neutral);
            assert_eq!(out[0].0, out[1].0, "{r}");
            assert_eq!((out[0].1, out[1].1), (2, 3), "{r}");
            assert_eq!(out[2], (0.0, 0), "{r}: seen nowhere");
            // The neutral value adds no evidence: fusing it beside one view never makes
            // the process look rarer than that view alone says.
            assert!(rule.fuse(&[0.01, n]) >= 0.01 - 1e-12, "{r}");
            // Skip differs: the absent view relaxes the correction.
            let skip = fuse_processes(&*rule, &views, Absent::Skip);
            assert!(skip[0].0 >= out[0].0 - 1e-12, "{r}");
        }
        assert_eq!("Skip".parse::<Absent>(), Ok(Absent::Skip));
        assert!("zero".parse::<Absent>().is_err());
    }

    #[test]
    fn bad_calibration_input_is_an_error() {
        assert_eq!(Calibrator::new(&[], None), Err(FusionError::Empty));
        assert!(matches!(
            Calibrator::new(&[1.0, f32::NAN], None),
            Err(FusionError::NonFinite { index: 1, .. })
        ));
        assert!(Calibrator::new(&[1.0], Some(&[1.0, 2.0])).is_err());
        assert!(Calibrator::new(&[1.0], Some(&[-1.0])).is_err());
        assert_eq!(
            Calibrator::new(&[1.0], Some(&[0.0])),
            Err(FusionError::Empty)
        );
        assert!("nope".parse::<Rule>().is_err());
        assert_eq!("Fisher".parse::<Rule>(), Ok(Rule::Fisher));
    }

    #[test]
    fn public_types_are_send_sync() {
        fn ok<T: Send + Sync>() {}
        ok::<Calibrator>();
        ok::<Box<dyn FusionRule>>();
    }
}
