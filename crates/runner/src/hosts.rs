//! The host view: every aspect of a process fused into one ranked list per host.
//!
//! Each context (PE, PX, PP, PN) is one view of the same processes of one host. Per view,
//! each combination's scores are calibrated into tail probabilities against held-out
//! normal scores of that view (done in the experiment), then fused per process with a
//! [`FusionRule`]. A process absent from a view is ordinary there by default
//! ([`Absent::Neutral`]); keys marked `(present only)` fuse only the views it appears in
//! ([`Absent::Skip`]). ProcessAll is not fused: it is the join of the other views, kept
//! as the paper's baseline context.
//!
//! Candidates are each combination alone and *pairs*: every APT-LLM combination with
//! every baseline that counts patterns or attributes (OC3, AVF, Rarity,
//! or a detector of attribute rows of your own: `MiniLM / DAE & - / OC3`), both
//! calibrated in each view and fused there by the same rule before the views are fused. An embedding autoencoder and a counting detector miss different
//! attacks; an embedding baseline (IForest, OC-SVM, DBSCAN) would repeat the
//! autoencoder's view. Each candidate is fused under both policies for aspects a process
//! is absent from ([`Absent`]). Transductive detectors (DBSCAN as the authors ran it,
//! transductive OC3: [`apt_llm_detect::Detector::transductive`]) are left out: their
//! score of a row depends on the rows scored with it, which no held-out normal calibrates.
//!
//! Selection at host level is honest: the combination (encoder, detector, settings,
//! fusion rule, calibration and absent-aspect policy) reported for a host is the one with
//! the best mean AUC over the *other* hosts ([`leave_one_host_out`]): every other host
//! whose test set has both classes and enough normals, including hosts of a single
//! aspect, which do not count in the host mean but tell detectors apart. The paper-style
//! pick (best on the host itself) is reported beside it.

use crate::experiment::{ContextOutcome, ExperimentReport, detector_label};
use apt_llm_fusion::{Absent, FusionRule, fuse_processes};
use apt_llm_metrics::summarize;
use apt_llm_provenance::{Aspect, HostIndex, LabeledContext, Part, SplitConfig};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Hosts need at least this many scored views to count in the host mean.
pub const MIN_VIEWS: usize = 2;

/// One host × combination × fusion rule: a row of `hosts.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostRow {
    pub host: String,
    pub scenario: String,
    pub os: String,
    /// The views fused, `PE+PX+PP`.
    pub aspects: String,
    pub encoder: String,
    pub detector: String,
    pub attention: bool,
    pub prior: bool,
    /// A second detector fused with this one inside every aspect (a hybrid key), e.g.
    /// `- / OC3`; `None` for a single detector.
    #[serde(default)]
    pub partner: Option<String>,
    pub fusion: String,
    /// Which normal scores calibrated the p-values (see [`Calibration`]).
    pub calibration: Calibration,
    /// What an aspect a process is absent from contributes (see [`Absent`]). Rows
    /// written before the setting existed were fused the `skip` way.
    #[serde(default = "skip")]
    pub absent: Absent,
    pub apt_llm: bool,
    pub auc: f64,
    pub pr_auc: f64,
    pub ndcg: f64,
    pub test_processes: usize,
    pub attacks: usize,
    /// The honest pick of this host.
    pub honest: bool,
}

impl HostRow {
    /// `encoder / detector[+attn][+freq][ & partner] ⊕ rule`, the key selections compare.
    pub fn key(&self) -> String {
        format!(
            "{} ⊕ {}{}{}",
            self.combination(),
            self.fusion,
            self.calibration.suffix(),
            match self.absent {
                Absent::Neutral => "",
                Absent::Skip => " (present only)",
            }
        )
    }
    /// `encoder / detector[+attn][+freq][ & partner]`: what is fused, before the rule.
    pub fn combination(&self) -> String {
        let own = format!(
            "{} / {}",
            self.encoder,
            detector_label(&self.detector, self.attention, self.prior)
        );
        match &self.partner {
            Some(p) => format!("{own} & {p}"),
            None => own,
        }
    }
}

/// The normal scores each aspect's p-values are computed against. Both are label-free;
/// the host view tries both and the honest selection chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Calibration {
    /// Held-out normal processes only (validation): exact conformal p-values, but
    /// coarse where an aspect has few processes (the floor is 1 / (held-out + 1)).
    Heldout,
    /// The held-out normals plus out-of-fold scores of the training normals where the
    /// held-out ones are few (see `crossfit`): as honest as `Heldout`, finer on small
    /// aspects, identical to it on large ones.
    Crossfit,
}

impl Calibration {
    /// Both settings.
    pub const BOTH: [Calibration; 2] = [Calibration::Heldout, Calibration::Crossfit];
    /// Name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Calibration::Heldout => "heldout",
            Calibration::Crossfit => "crossfit",
        }
    }
    fn suffix(self) -> &'static str {
        match self {
            Calibration::Heldout => "",
            Calibration::Crossfit => " (cross-fitted)",
        }
    }
    fn p_values(self, sc: &crate::ScoredCombination) -> &[f64] {
        match self {
            Calibration::Heldout => &sc.p_values,
            Calibration::Crossfit => &sc.p_values_crossfit,
        }
    }
}

/// Why one view of a process looks rare: a line of a host-view explanation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AspectEvidence {
    pub aspect: String,
    /// The view's calibrated tail probability for the process.
    pub p_value: f64,
    /// *Other* training processes of that view with exactly the same attributes (a
    /// process in the training share does not count itself). The training share is that
    /// of the data ranked: with saved models, of the data given to them.
    pub identical_in_training: usize,
    /// Training processes of that view, the process itself aside.
    pub training_processes: usize,
    /// The process's rarest attributes in that view: (name, other training processes
    /// having it).
    pub rarest: Vec<(String, usize)>,
    /// The attributes whose removal lowers the view's detector score most (leave one out,
    /// with the detector itself; attribute name or sentence phrase, and the drop), largest
    /// first. Filled by `hunt` and by [`crate::run`] (the honest pick's detector, the first
    /// of a pair); [`host_view`] alone leaves it empty, having no fitted detector.
    #[serde(default)]
    pub raised_by: Vec<(String, f32)>,
}

/// A ranked process of a host, with its evidence per view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedProcess {
    pub process: String,
    /// Fused score, `-ln p`.
    pub score: f64,
    /// `None` when the data carries no label for it (hunting on unlabelled data).
    pub attack: Option<bool>,
    pub evidence: Vec<AspectEvidence>,
}

/// Everything learnt about one host.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostOutcome {
    pub host: String,
    /// The views fused.
    pub aspects: Vec<String>,
    /// Contexts of the host not fused, and why.
    pub left_out: Vec<(String, String)>,
    /// Processes over the fused views, and how many appear in some views only.
    pub processes: usize,
    pub partial: usize,
    pub test_processes: usize,
    pub test_normals: usize,
    pub attacks: usize,
    /// Why the host does not count in the host mean, if it does not.
    pub not_counted: Option<String>,
    /// Honest (leave-one-host-out) pick and its AUC here.
    pub honest: Option<(String, f64)>,
    /// Honest pick among APT-LLM combinations only.
    pub honest_apt_llm: Option<(String, f64)>,
    /// Best key on this host's own labels (the paper's way).
    pub paper: Option<(String, f64)>,
    /// Per view: the per-context honest pick's AUC on that context's own test processes
    /// (the best single aspect is the max).
    pub single_aspect: Vec<(String, f64)>,
    /// Per view: the honest host pick's combination on that aspect alone, over the host's
    /// whole test set (processes absent from the aspect rank last), beside the fusion.
    #[serde(default)]
    pub honest_aspects_alone: Vec<(String, f64)>,
    /// Fused baselines with the honest pick's rule, calibration and absent-aspect policy,
    /// by detector label.
    pub baselines: BTreeMap<String, f64>,
    /// Top test processes under the honest pick, explained across views.
    pub top: Vec<RankedProcess>,
}

impl HostOutcome {
    /// The best single view's honest per-context AUC.
    pub fn best_single_aspect(&self) -> Option<(String, f64)> {
        self.single_aspect
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .cloned()
    }
}

/// Per-view training statistics for explanations.
pub struct ViewStats<'a> {
    pub context: &'a LabeledContext,
    /// Training processes having each attribute.
    pub attribute_counts: Vec<usize>,
    /// Training processes per exact attribute set.
    pub pattern_counts: HashMap<&'a [u32], usize>,
    pub training: usize,
    /// Per row: whether it is one of the training processes.
    pub is_training: Vec<bool>,
}

impl<'a> ViewStats<'a> {
    /// Statistics over the rows `is_training` accepts.
    pub fn new(context: &'a LabeledContext, is_training: impl Fn(usize) -> bool) -> Self {
        let mut attribute_counts = vec![0; context.context.attributes.len()];
        let mut pattern_counts: HashMap<&[u32], usize> = HashMap::new();
        let mut training = 0;
        let is_training: Vec<bool> = (0..context.context.len()).map(is_training).collect();
        for (row, r) in context.context.records.iter().enumerate() {
            if !is_training[row] {
                continue;
            }
            training += 1;
            for &a in &r.attributes {
                attribute_counts[a as usize] += 1;
            }
            *pattern_counts.entry(r.attributes.as_slice()).or_default() += 1;
        }
        ViewStats {
            context,
            attribute_counts,
            pattern_counts,
            training,
            is_training,
        }
    }

    /// Evidence for the process on `row` with tail probability `p_value`; the counts leave
    /// the process itself out when it is a training process.
    pub fn evidence(&self, row: usize, p_value: f64, max_attributes: usize) -> AspectEvidence {
        let r = &self.context.context.records[row];
        let own = usize::from(self.is_training[row]);
        let mut rarest: Vec<(String, usize)> = r
            .attributes
            .iter()
            .map(|&a| {
                (
                    self.context.context.attributes[a as usize].clone(),
                    self.attribute_counts[a as usize] - own,
                )
            })
            .collect();
        rarest.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        rarest.truncate(max_attributes);
        AspectEvidence {
            aspect: self.context.id.aspect.short().to_string(),
            p_value,
            identical_in_training: self
                .pattern_counts
                .get(r.attributes.as_slice())
                .map_or(0, |&n| n - own),
            training_processes: self.training - own,
            rarest,
            raised_by: Vec::new(),
        }
    }
}

/// Per row key: each aspect's AUC alone over the host test set.
type AspectsAlone = HashMap<String, Vec<(String, f64)>>;

/// One host's fusable views: the contexts and their outcomes.
struct HostViews<'a> {
    index: HostIndex,
    contexts: Vec<&'a LabeledContext>,
    outcomes: Vec<&'a ContextOutcome>,
    left_out: Vec<(String, String)>,
}

fn host_views<'a>(
    report: &'a ExperimentReport,
    contexts: &'a [LabeledContext],
) -> Vec<HostViews<'a>> {
    /// Per host: the indices of its fusable contexts, and the others with the reason.
    type Members = (Vec<usize>, Vec<(String, String)>);
    let mut by_host: BTreeMap<String, Members> = BTreeMap::new();
    for (i, c) in contexts.iter().enumerate() {
        let e = by_host.entry(c.id.host().to_string()).or_default();
        let outcome = &report.contexts[i];
        if c.id.aspect == Aspect::ProcessAll {
            e.1.push((
                c.id.to_string(),
                "ProcessAll joins the other views (the paper's baseline)".into(),
            ));
        } else if outcome.scored.is_empty() {
            e.1.push((
                c.id.to_string(),
                outcome
                    .skipped
                    .clone()
                    .unwrap_or_else(|| "not scored".into()),
            ));
        } else {
            e.0.push(i);
        }
    }
    by_host
        .into_values()
        .filter_map(|(idx, left_out)| {
            let ctxs: Vec<&LabeledContext> = idx.iter().map(|&i| &contexts[i]).collect();
            let index = HostIndex::new(&ctxs).ok()?;
            Some(HostViews {
                index,
                contexts: ctxs,
                outcomes: idx.iter().map(|&i| &report.contexts[i]).collect(),
                left_out,
            })
        })
        .collect()
}

/// A candidate's fused scores on a host: (combination index, partner index, scores).
type FusedScores = (usize, Option<usize>, Vec<f64>);

/// A host's test processes (those the split puts in test, in every view at once), their
/// lower-cased ids, and per view the test group of each id (ids match case-insensitively,
/// as in `HostIndex`).
struct HostTest {
    test: Vec<usize>,
    keys: Vec<String>,
    group_of: Vec<HashMap<String, usize>>,
}

impl HostTest {
    fn new(hv: &HostViews<'_>, split: &SplitConfig) -> HostTest {
        let index = &hv.index;
        let test: Vec<usize> = (0..index.len())
            .filter(|&i| split.part_of(&index.processes[i], index.attack[i]) == Part::Test)
            .collect();
        let keys = test
            .iter()
            .map(|&i| index.processes[i].to_ascii_lowercase())
            .collect();
        let group_of = hv
            .outcomes
            .iter()
            .map(|o| {
                o.test_processes
                    .iter()
                    .map(|(id, g)| (id.to_ascii_lowercase(), *g))
                    .collect()
            })
            .collect();
        HostTest {
            test,
            keys,
            group_of,
        }
    }
}

/// A view's p-values (one per test group) of the combination `name` under
/// `calibration`; `None` where it was not scored or not calibrated there.
fn p_values_of<'a>(
    o: &'a ContextOutcome,
    name: &str,
    calibration: Calibration,
) -> Option<&'a [f64]> {
    o.scored
        .iter()
        .find(|s| s.combination == name)
        .map(|sc| calibration.p_values(sc))
        .filter(|p| !p.is_empty())
}

/// Per view, one combination's p-values over the host test processes (`None`: the
/// process is absent from the view). `None` when a view has no such p-values under
/// `calibration`: a failed calibration must not pass for absence.
fn member_p_views(
    hv: &HostViews<'_>,
    ht: &HostTest,
    k: usize,
    calibration: Calibration,
) -> Option<Vec<Vec<Option<f64>>>> {
    let name = &hv.outcomes[0].scored[k].combination;
    hv.outcomes
        .iter()
        .zip(&ht.group_of)
        .map(|(o, groups)| {
            let p = p_values_of(o, name, calibration)?;
            Some(
                ht.keys
                    .iter()
                    .map(|id| groups.get(id).and_then(|&g| p.get(g).copied()))
                    .collect(),
            )
        })
        .collect()
}

/// A candidate's p-values per view: one member's own, or, for a pair, both members'
/// p-values fused by `rule` inside each view.
fn candidate_p_views<'a>(
    own: &'a [Vec<Option<f64>>],
    partner: Option<&[Vec<Option<f64>>]>,
    rule: &dyn apt_llm_fusion::FusionRule,
) -> std::borrow::Cow<'a, [Vec<Option<f64>>]> {
    let Some(other) = partner else {
        return std::borrow::Cow::Borrowed(own);
    };
    let fused: Vec<Vec<Option<f64>>> = own
        .iter()
        .zip(other)
        .map(|(pa, pb)| {
            pa.iter()
                .zip(pb)
                .map(|(&a, &b)| match (a, b) {
                    (Some(a), Some(b)) => Some(rule.fuse(&[a, b])),
                    (a, b) => a.or(b),
                })
                .collect()
        })
        .collect();
    std::borrow::Cow::Owned(fused)
}

fn skip() -> Absent {
    Absent::Skip
}

/// A baseline that counts patterns or attributes instead of modelling the embeddings'
/// geometry (OC3, AVF, Rarity, or a detector of attribute rows of your own): the
/// partner that sees what an embedding autoencoder misses. Embedding detectors (IForest,
/// OC-SVM, DBSCAN) would only repeat the autoencoder's view.
fn counts_patterns(sc: &crate::ScoredCombination) -> bool {
    !sc.apt_llm
        && (sc.encoder == crate::ATTRIBUTES_ENCODER
            || sc.detector == crate::DetectorChoice::Rarity.name())
}

/// Compute the host view of a finished per-context run. `contexts` are the contexts of
/// the run, in the order of `report.contexts`; `calibrations` the normal-score sets tried
/// (each a set of rows); `absents` the policies tried for aspects a process is absent from.
#[allow(clippy::too_many_arguments)]
pub fn host_view(
    report: &ExperimentReport,
    contexts: &[LabeledContext],
    split: &SplitConfig,
    rules: &[Arc<dyn FusionRule>],
    calibrations: &[Calibration],
    absents: &[Absent],
    min_test_normals: usize,
    explain: usize,
) -> (Vec<HostOutcome>, Vec<HostRow>) {
    let per_context_honest: HashMap<String, f64> = crate::report::selections(report)
        .into_iter()
        .filter_map(|s| Some((s.context, s.honest?.1)))
        .collect();
    let mut outcomes = Vec::new();
    let mut can_score: Vec<bool> = Vec::new();
    let mut rows: Vec<HostRow> = Vec::new();
    // Fused test scores per host and key, kept for explanations of the honest pick.
    let mut fused: Vec<HashMap<String, FusedScores>> = Vec::new();
    let mut test_of_host: Vec<HostTest> = Vec::new();
    let mut alone_of_host: Vec<AspectsAlone> = Vec::new();
    let views = host_views(report, contexts);
    for hv in &views {
        let index = &hv.index;
        let ht = HostTest::new(hv, split);
        let test = &ht.test;
        let attacks = test.iter().filter(|&&i| index.attack[i]).count();
        let test_normals = test.len() - attacks;
        let labels: Vec<bool> = test.iter().map(|&i| index.attack[i]).collect();
        let aspects: Vec<String> = hv.outcomes.iter().map(|o| o.aspect.clone()).collect();
        // Combinations scored and calibrated in every view (indices into the first view).
        let mut keys: Vec<usize> = Vec::new();
        for (k, sc) in hv.outcomes[0].scored.iter().enumerate() {
            let everywhere = hv.outcomes.iter().all(|o| {
                o.scored
                    .iter()
                    .any(|s| s.combination == sc.combination && !s.p_values.is_empty())
            });
            if everywhere && !sc.p_values.is_empty() {
                keys.push(k);
            }
        }
        let first = &hv.outcomes[0].scored;
        // Candidates: each combination alone, and each APT-LLM combination paired with
        // each counting baseline (both fused inside every aspect, then across aspects).
        let mut candidates: Vec<(usize, Option<usize>)> = keys.iter().map(|&k| (k, None)).collect();
        for &a in keys.iter().filter(|&&k| first[k].apt_llm) {
            for &b in keys.iter().filter(|&&k| counts_patterns(&first[k])) {
                candidates.push((a, Some(b)));
            }
        }
        let mut host_fused = HashMap::new();
        let mut host_alone: AspectsAlone = HashMap::new();
        let two_classes = attacks > 0 && test_normals > 0;
        for (&(k, partner), calibration) in candidates
            .iter()
            .flat_map(|c| calibrations.iter().map(move |cal| (c, *cal)))
        {
            let sc0 = &first[k];
            // Each member's p-values once; the rules only differ in how they are fused.
            let Some(own) = member_p_views(hv, &ht, k, calibration) else {
                continue;
            };
            let other = match partner {
                Some(b) => match member_p_views(hv, &ht, b, calibration) {
                    Some(p) => Some(p),
                    None => continue,
                },
                None => None,
            };
            for (rule_impl, &absent) in rules
                .iter()
                .flat_map(|r| absents.iter().map(move |a| (r, a)))
            {
                let p_views = candidate_p_views(&own, other.as_deref(), &**rule_impl);
                let f = fuse_processes(&**rule_impl, &p_views, absent);
                let scores: Vec<f64> = f.iter().map(|v| v.0).collect();
                let row = HostRow {
                    host: index.host.to_string(),
                    scenario: index.host.scenario.name().into(),
                    os: index.host.os().name().into(),
                    aspects: aspects.join("+"),
                    encoder: sc0.encoder.clone(),
                    detector: sc0.detector.clone(),
                    attention: sc0.attention,
                    prior: sc0.prior,
                    partner: partner.map(|b| first[b].combination.clone()),
                    fusion: rule_impl.name(),
                    calibration,
                    absent,
                    apt_llm: sc0.apt_llm && partner.is_none(),
                    auc: f64::NAN,
                    pr_auc: f64::NAN,
                    ndcg: f64::NAN,
                    test_processes: test.len(),
                    attacks,
                    honest: false,
                };
                let key = row.key();
                if two_classes {
                    // Each aspect alone over the whole host test set (a process absent
                    // from it gets p = 1), to compare with the fusion on the same processes.
                    let alone: Vec<(String, f64)> = p_views
                        .iter()
                        .zip(&aspects)
                        .filter_map(|(pv, a)| {
                            let s: Vec<f32> = pv
                                .iter()
                                .map(|p| -(p.unwrap_or(1.0).max(f64::MIN_POSITIVE).ln()) as f32)
                                .collect();
                            Some((a.clone(), summarize(&s, &labels, None).ok()?.auc))
                        })
                        .collect();
                    host_alone.insert(key.clone(), alone);
                    let s32: Vec<f32> = scores.iter().map(|&v| v as f32).collect();
                    if let Ok(m) = summarize(&s32, &labels, None) {
                        rows.push(HostRow {
                            auc: m.auc,
                            pr_auc: m.pr_auc,
                            ndcg: m.ndcg,
                            ..row
                        });
                    }
                }
                host_fused.insert(key, (k, partner, scores));
            }
        }
        // A host whose test set can score a candidate (both classes, enough normals) is
        // evidence for the selection of the other hosts, counted in the mean or not.
        can_score.push(two_classes && test_normals >= min_test_normals && !aspects.is_empty());
        let not_counted = if aspects.len() < MIN_VIEWS {
            Some(format!(
                "{} scored view(s), fewer than {MIN_VIEWS}",
                aspects.len()
            ))
        } else if !two_classes {
            Some(format!(
                "{attacks} attacks and {test_normals} normals in test"
            ))
        } else if test_normals < min_test_normals {
            Some(format!(
                "{test_normals} normal processes in test, fewer than {min_test_normals}"
            ))
        } else {
            None
        };
        outcomes.push(HostOutcome {
            host: index.host.to_string(),
            single_aspect: hv
                .outcomes
                .iter()
                .filter_map(|o| Some((o.aspect.clone(), *per_context_honest.get(&o.context)?)))
                .collect(),
            aspects,
            left_out: hv.left_out.clone(),
            processes: index.len(),
            partial: index.partial(),
            test_processes: test.len(),
            test_normals,
            attacks,
            not_counted,
            honest: None,
            honest_apt_llm: None,
            paper: None,
            baselines: BTreeMap::new(),
            top: Vec::new(),
            honest_aspects_alone: Vec::new(),
        });
        fused.push(host_fused);
        alone_of_host.push(host_alone);
        test_of_host.push(ht);
    }
    // Honest selection: leave one host out. The evidence is every other host whose test
    // set can score a candidate, single-aspect hosts included: they cannot tell fusion
    // rules apart, but they do tell detectors apart.
    let evidence: Vec<&str> = outcomes
        .iter()
        .zip(&can_score)
        .filter(|(_, e)| **e)
        .map(|(o, _)| o.host.as_str())
        .collect();
    let mut per_key: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    let mut apt_keys = std::collections::HashSet::new();
    for r in rows.iter().filter(|r| evidence.contains(&r.host.as_str())) {
        per_key
            .entry(r.key())
            .or_default()
            .insert(r.host.clone(), r.auc);
        if r.apt_llm {
            apt_keys.insert(r.key());
        }
    }
    let pick = |host: &str, only_apt: bool| {
        leave_one_host_out(&per_key, host, |k| !only_apt || apt_keys.contains(k))
    };
    for (h, o) in outcomes.iter_mut().enumerate() {
        let host_rows: Vec<&HostRow> = rows.iter().filter(|r| r.host == o.host).collect();
        o.paper = host_rows
            .iter()
            .filter(|r| r.apt_llm)
            .max_by(|a, b| a.auc.total_cmp(&b.auc))
            .map(|r| (r.key(), r.auc));
        if o.not_counted.is_some() {
            continue;
        }
        o.honest = pick(&o.host, false);
        o.honest_apt_llm = pick(&o.host, true);
        let Some((key, _)) = o.honest.clone() else {
            continue;
        };
        let Some(chosen) = host_rows.iter().find(|r| r.key() == key) else {
            continue;
        };
        let (rule, calibration, absent) =
            (chosen.fusion.clone(), chosen.calibration, chosen.absent);
        o.honest_aspects_alone = alone_of_host[h].get(&key).cloned().unwrap_or_default();
        o.baselines = host_rows
            .iter()
            .filter(|r| {
                !r.apt_llm
                    && r.partner.is_none()
                    && r.fusion == rule
                    && r.calibration == calibration
                    && r.absent == absent
            })
            .map(|r| (detector_label(&r.detector, r.attention, r.prior), r.auc))
            .collect();
        // Explain the top test processes of the honest pick across views.
        if explain == 0 {
            continue;
        }
        let hv = &views[h];
        let Some((k, partner, scores)) = fused[h].get(&key) else {
            continue;
        };
        let Some(rule_impl) = rules.iter().find(|r| r.name() == rule) else {
            continue;
        };
        let member = |k: usize| member_p_views(hv, &test_of_host[h], k, calibration);
        let Some(own) = member(*k) else {
            continue;
        };
        let other = partner.and_then(member);
        let p_views = candidate_p_views(&own, other.as_deref(), &**rule_impl);
        let stats: Vec<ViewStats<'_>> = hv
            .contexts
            .iter()
            .map(|c| {
                let flags = &c.labels.flags;
                ViewStats::new(c, |row| {
                    split.part_of(&c.context.records[row].id, flags[row]) == Part::Train
                })
            })
            .collect();
        let test = &test_of_host[h].test;
        let mut order: Vec<usize> = (0..test.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        for &t in order.iter().take(explain) {
            let i = test[t];
            let evidence = (0..hv.contexts.len())
                .filter_map(|v| {
                    let row = hv.index.rows[v][i]?;
                    Some(stats[v].evidence(row, p_views[v][t]?, 3))
                })
                .collect();
            o.top.push(RankedProcess {
                process: hv.index.processes[i].clone(),
                score: scores[t],
                attack: Some(hv.index.attack[i]),
                evidence,
            });
        }
    }
    for r in rows.iter_mut() {
        if let Some(o) = outcomes.iter().find(|o| o.host == r.host) {
            r.honest = o.honest.as_ref().is_some_and(|(k, _)| *k == r.key());
        }
    }
    (outcomes, rows)
}

/// The key among `per_key` (key → host → AUC) that `allowed` admits with the best mean AUC
/// over the hosts other than `host`, and its AUC on `host`: `host`'s own AUC never enters
/// the choice, nor that of another folder of the same machine ([`same_machine`]: its
/// processes overlap). Ties go to the smaller key; keys without `host` or without another
/// host are not candidates.
pub fn leave_one_host_out(
    per_key: &BTreeMap<String, BTreeMap<String, f64>>,
    host: &str,
    allowed: impl Fn(&str) -> bool,
) -> Option<(String, f64)> {
    per_key
        .iter()
        .filter(|(k, _)| allowed(k))
        .filter_map(|(k, per)| {
            let here = *per.get(host)?;
            let others: Vec<f64> = per
                .iter()
                .filter(|(h, _)| !same_machine(h, host))
                .map(|(_, v)| *v)
                .collect();
            if others.is_empty() {
                return None;
            }
            let mean = others.iter().sum::<f64>() / others.len() as f64;
            Some((k, mean, here))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(k, _, here)| (k.clone(), here))
}

/// Whether two hosts (`scenario/performer`) are folders of the same machine: the same
/// scenario and the same performer before any `-variant` suffix (`pandex/cadets` and
/// `pandex/cadets-partial`), whose processes overlap.
pub fn same_machine(a: &str, b: &str) -> bool {
    let base = |h: &str| {
        let (scenario, performer) = h.split_once('/').unwrap_or((h, ""));
        (
            scenario.to_string(),
            performer.split('-').next().unwrap_or(performer).to_string(),
        )
    };
    base(a) == base(b)
}

/// Mean of the honest host picks over counted hosts, with the host count.
pub fn honest_host_mean(hosts: &[HostOutcome]) -> Option<(f64, usize)> {
    let v: Vec<f64> = hosts
        .iter()
        .filter(|h| h.not_counted.is_none())
        .filter_map(|h| h.honest.as_ref().map(|x| x.1))
        .collect();
    (!v.is_empty()).then(|| (v.iter().sum::<f64>() / v.len() as f64, v.len()))
}

/// Write every host's calibrated per-aspect p-values to `path` as CSV, one row per host
/// test process × aspect it appears in: `host,process,attack,aspect`, then one column per
/// combination × calibration (`<combination>` for held-out, `<combination> (cross-fitted)`
/// when cross-fitting ran). These are exactly the numbers the host view fuses, so a user
/// can try another fusion rule offline. Returns the rows written.
pub fn write_host_p_values(
    path: &std::path::Path,
    report: &ExperimentReport,
    contexts: &[LabeledContext],
    split: &SplitConfig,
    calibrations: &[Calibration],
) -> std::io::Result<usize> {
    use std::io::Write;
    let quote = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let views = host_views(report, contexts);
    // Columns: the combinations of every host and aspect, in first-seen order; those
    // without p-values (transductive detectors) have none.
    let mut columns: Vec<(String, Calibration)> = Vec::new();
    for hv in &views {
        for sc in hv.outcomes.iter().flat_map(|o| &o.scored) {
            for &cal in calibrations {
                if !cal.p_values(sc).is_empty()
                    && !columns
                        .iter()
                        .any(|(c, k)| *c == sc.combination && *k == cal)
                {
                    columns.push((sc.combination.clone(), cal));
                }
            }
        }
    }
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    write!(w, "host,process,attack,aspect")?;
    for (c, cal) in &columns {
        write!(w, ",{}", quote(&format!("{c}{}", cal.suffix())))?;
    }
    writeln!(w)?;
    let mut written = 0;
    for hv in &views {
        let index = &hv.index;
        let ht = HostTest::new(hv, split);
        for (v, o) in hv.outcomes.iter().enumerate() {
            let cols: Vec<Option<&[f64]>> = columns
                .iter()
                .map(|(c, cal)| p_values_of(o, c, *cal))
                .collect();
            for (&i, key) in ht.test.iter().zip(&ht.keys) {
                if index.rows[v][i].is_none() {
                    continue;
                }
                let Some(&g) = ht.group_of[v].get(key) else {
                    continue;
                };
                write!(
                    w,
                    "{},{},{},{}",
                    index.host,
                    quote(&index.processes[i]),
                    index.attack[i],
                    o.aspect
                )?;
                for p in &cols {
                    match p.and_then(|p| p.get(g)) {
                        Some(x) => write!(w, ",{x:e}")?,
                        None => write!(w, ",")?,
                    }
                }
                writeln!(w)?;
                written += 1;
            }
        }
    }
    w.flush()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[(&str, &[(&str, f64)])]) -> BTreeMap<String, BTreeMap<String, f64>> {
        rows.iter()
            .map(|(k, per)| {
                let per = per.iter().map(|(h, v)| (h.to_string(), *v)).collect();
                (k.to_string(), per)
            })
            .collect()
    }

    #[test]
    fn leave_one_host_out_never_reads_the_scored_host() {
        // "b" is best on h1 itself, "a" on the others: h1 gets "a", with its own AUC.
        let t = table(&[
            ("a", &[("h1", 0.6), ("h2", 0.9), ("h3", 0.9)]),
            ("b", &[("h1", 1.0), ("h2", 0.8), ("h3", 0.8)]),
        ]);
        assert_eq!(
            leave_one_host_out(&t, "h1", |_| true),
            Some(("a".into(), 0.6))
        );
        // Only "b" allowed; a key without another host is no candidate.
        assert_eq!(
            leave_one_host_out(&t, "h1", |k| k == "b"),
            Some(("b".into(), 1.0))
        );
        let lone = table(&[("a", &[("h1", 0.7)])]);
        assert_eq!(leave_one_host_out(&lone, "h1", |_| true), None);
        // Another folder of the same machine is no evidence: its processes overlap.
        let variant = table(&[
            ("a", &[("s/m", 0.6), ("s/m-partial", 1.0), ("t/m", 0.7)]),
            ("b", &[("s/m", 0.9), ("s/m-partial", 0.5), ("t/m", 0.8)]),
        ]);
        assert_eq!(
            leave_one_host_out(&variant, "s/m", |_| true),
            Some(("b".into(), 0.9))
        );
        assert!(same_machine("pandex/cadets", "pandex/cadets-partial"));
        assert!(!same_machine("pandex/cadets", "bovia/cadets"));
        assert!(!same_machine("pandex/cadets", "pandex/trace"));
        // Ties go to the smaller key.
        let tie = table(&[
            ("b", &[("h1", 0.1), ("h2", 0.9)]),
            ("a", &[("h1", 0.2), ("h2", 0.9)]),
        ]);
        assert_eq!(
            leave_one_host_out(&tie, "h1", |_| true),
            Some(("a".into(), 0.2))
        );
    }

    #[test]
    fn evidence_counts_leave_the_process_itself_out() {
        let ctx = apt_llm_provenance::SyntheticConfig::default()
            .generate()
            .unwrap();
        let row = 0;
        let same =
            |r: usize| ctx.context.records[r].attributes == ctx.context.records[row].attributes;
        let twins = (0..ctx.context.len()).filter(|&r| same(r)).count();
        // The row in training: its twins other than itself.
        let with = ViewStats::new(&ctx, |_| true).evidence(row, 0.5, 3);
        assert_eq!(with.identical_in_training, twins - 1);
        assert_eq!(with.training_processes, ctx.context.len() - 1);
        // The row out of training: every twin in training counts.
        let without = ViewStats::new(&ctx, |r| r != row).evidence(row, 0.5, 3);
        assert_eq!(without.identical_in_training, twins - 1);
        assert_eq!(without.training_processes, ctx.context.len() - 1);
        assert_eq!(with.rarest, without.rarest);
    }

    #[test]
    fn a_single_aspect_host_is_evidence_for_the_others() {
        // h2 and h3 tie "a" and "b"; a single-aspect host h4, not in the mean, breaks it.
        let mut t = table(&[
            ("a", &[("h1", 0.7), ("h2", 0.9), ("h3", 0.8)]),
            ("b", &[("h1", 0.9), ("h2", 0.8), ("h3", 0.9)]),
        ]);
        assert_eq!(
            leave_one_host_out(&t, "h1", |_| true),
            Some(("a".into(), 0.7))
        );
        t.get_mut("b").unwrap().insert("h4".into(), 0.95);
        t.get_mut("a").unwrap().insert("h4".into(), 0.6);
        assert_eq!(
            leave_one_host_out(&t, "h1", |_| true),
            Some(("b".into(), 0.9))
        );
    }
}
