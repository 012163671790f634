//! Hosts: every aspect of one scenario × performer folder, joined by process id.
//!
//! A context is one view (events, executables, parents, network flows) of the processes
//! of one host. [`HostIndex`] joins the views by process id so that per-view scores can
//! be fused into one per process. ProcessAll is *not* a view of its own here: it is the
//! join of the others (the paper's single long row), kept as a baseline context; fusing
//! it with the views it was built from would count the same evidence twice.

use crate::catalog::LabeledContext;
use crate::error::{ProvenanceError, Result};
use crate::types::{Aspect, ContextId, Os, Performer, Scenario};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

/// Names one host: `scenario/performer[-variant]`, e.g. `bovia/trace`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct HostId {
    pub scenario: Scenario,
    pub performer: Performer,
    /// Suffix of the performer directory (`partial` in `cadets-partial`).
    pub variant: Option<String>,
}

impl HostId {
    /// The operating system of the host.
    pub fn os(&self) -> Os {
        self.performer.os()
    }
    /// The context of `aspect` on this host.
    pub fn context(&self, aspect: Aspect) -> ContextId {
        ContextId {
            scenario: self.scenario,
            performer: self.performer,
            variant: self.variant.clone(),
            aspect,
        }
    }
}

impl ContextId {
    /// The host this context describes.
    pub fn host(&self) -> HostId {
        HostId {
            scenario: self.scenario,
            performer: self.performer,
            variant: self.variant.clone(),
        }
    }
}

impl fmt::Display for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Formatting through a context id keeps one spelling of the performer directory.
        let dir = self.context(Aspect::ProcessEvent).performer_dir();
        write!(f, "{}/{dir}", self.scenario)
    }
}

impl FromStr for HostId {
    type Err = ProvenanceError;
    fn from_str(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.trim_end_matches('/').split('/').collect();
        let [scenario, performer] = parts.as_slice() else {
            return Err(ProvenanceError::UnknownContext {
                name: s.to_string(),
                reason: "a host is scenario/performer, e.g. bovia/trace".into(),
            });
        };
        let (performer, variant) = ContextId::parse_performer_dir(performer)?;
        Ok(HostId {
            scenario: scenario.parse()?,
            performer,
            variant,
        })
    }
}

/// The processes of one host across its views: which row of which view each one is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostIndex {
    pub host: HostId,
    /// The views joined, in the order given.
    pub aspects: Vec<Aspect>,
    /// Every process id seen in any view, sorted.
    pub processes: Vec<String>,
    /// Attack flag per process (from the folder's ground truth, shared by every view).
    pub attack: Vec<bool>,
    /// `rows[v][i]`: process `i`'s row in view `v`, if it appears there.
    pub rows: Vec<Vec<Option<usize>>>,
}

impl HostIndex {
    /// Join views of one host by process id. Every context must belong to the same host,
    /// hold one aspect each (not ProcessAll), and carry unique ids; a process labelled
    /// differently by two views is an error.
    pub fn new(contexts: &[&LabeledContext]) -> Result<HostIndex> {
        let Some(first) = contexts.first() else {
            return Err(ProvenanceError::InvalidParameter(
                "a host needs at least one context".into(),
            ));
        };
        let host = first.id.host();
        let mut aspects = Vec::with_capacity(contexts.len());
        for c in contexts {
            if c.id.host() != host {
                return Err(ProvenanceError::InvalidParameter(format!(
                    "{} is not a context of host {host}",
                    c.id
                )));
            }
            if c.id.aspect == Aspect::ProcessAll {
                return Err(ProvenanceError::InvalidParameter(format!(
                    "{}: ProcessAll joins the other views and is not a view of its own",
                    c.id
                )));
            }
            if aspects.contains(&c.id.aspect) {
                return Err(ProvenanceError::InvalidParameter(format!(
                    "{} given twice",
                    c.id
                )));
            }
            aspects.push(c.id.aspect);
        }
        // Ids match case-insensitively (UUIDs; the loader does the same). The host keeps
        // the spelling of the first view that names a process.
        // lowercased id -> (label, first view that labelled it, spelling)
        let mut ids: BTreeMap<String, (bool, usize, &str)> = BTreeMap::new();
        for (v, c) in contexts.iter().enumerate() {
            let mut seen: HashMap<String, usize> = HashMap::with_capacity(c.context.len());
            for (row, r) in c.context.records.iter().enumerate() {
                let key = r.id.to_ascii_lowercase();
                if let Some(first_row) = seen.insert(key.clone(), row) {
                    return Err(ProvenanceError::InvalidParameter(format!(
                        "{}: process id {:?} on rows {} and {}",
                        c.id,
                        r.id,
                        first_row + 1,
                        row + 1
                    )));
                }
                let attack = c.labels.flags[row];
                let e = ids.entry(key).or_insert((attack, v, r.id.as_str()));
                if e.0 != attack {
                    return Err(ProvenanceError::InvalidParameter(format!(
                        "process {:?} is labelled {} in {} but {} in {}",
                        r.id,
                        label(e.0),
                        contexts[e.1].id,
                        label(attack),
                        c.id
                    )));
                }
            }
        }
        let processes: Vec<String> = ids.values().map(|v| v.2.to_string()).collect();
        let attack: Vec<bool> = ids.values().map(|v| v.0).collect();
        let position: HashMap<&str, usize> = ids
            .keys()
            .enumerate()
            .map(|(i, k)| (k.as_str(), i))
            .collect();
        let rows = contexts
            .iter()
            .map(|c| {
                let mut col = vec![None; processes.len()];
                for (row, r) in c.context.records.iter().enumerate() {
                    col[position[r.id.to_ascii_lowercase().as_str()]] = Some(row);
                }
                col
            })
            .collect();
        Ok(HostIndex {
            host,
            aspects,
            processes,
            attack,
            rows,
        })
    }

    /// Number of processes.
    pub fn len(&self) -> usize {
        self.processes.len()
    }
    /// True when no view holds a process.
    pub fn is_empty(&self) -> bool {
        self.processes.is_empty()
    }
    /// How many views each process appears in.
    pub fn views_per_process(&self) -> Vec<usize> {
        (0..self.len())
            .map(|i| self.rows.iter().filter(|c| c[i].is_some()).count())
            .collect()
    }
    /// Processes present in some views but not all (`0` for a single view).
    pub fn partial(&self) -> usize {
        let k = self.aspects.len();
        self.views_per_process()
            .into_iter()
            .filter(|&n| n < k)
            .count()
    }
    /// Number of attack processes.
    pub fn attacks(&self) -> usize {
        self.attack.iter().filter(|&&a| a).count()
    }
}

fn label(attack: bool) -> &'static str {
    if attack { "attack" } else { "normal" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{Context, ProcessRecord};
    use crate::ground_truth::Labels;

    fn ctx(aspect: Aspect, rows: &[(&str, bool)]) -> LabeledContext {
        LabeledContext {
            id: ContextId::new(Scenario::Bovia, Performer::Trace, aspect),
            context: Context {
                aspect,
                attributes: vec!["a".into()],
                records: rows
                    .iter()
                    .map(|(id, _)| ProcessRecord {
                        id: id.to_string(),
                        attributes: vec![0],
                    })
                    .collect(),
                source: None,
            },
            labels: Labels {
                flags: rows.iter().map(|r| r.1).collect(),
                missing_attacks: 0,
            },
            derived: false,
            unmatched_attack_ids: Vec::new(),
        }
    }

    #[test]
    fn joins_views_whose_ids_disagree() {
        let pe = ctx(Aspect::ProcessEvent, &[("b", false), ("a", true)]);
        let pp = ctx(Aspect::ProcessParent, &[("c", false), ("a", true)]);
        let h = HostIndex::new(&[&pe, &pp]).unwrap();
        assert_eq!(h.host.to_string(), "bovia/trace");
        assert_eq!(h.processes, ["a", "b", "c"]);
        assert_eq!(h.attack, [true, false, false]);
        assert_eq!(h.rows[0], [Some(1), Some(0), None]);
        assert_eq!(h.rows[1], [Some(1), None, Some(0)]);
        assert_eq!(h.views_per_process(), [2, 1, 1]);
        assert_eq!(h.partial(), 2);
    }

    #[test]
    fn ids_match_across_case() {
        let pe = ctx(Aspect::ProcessEvent, &[("ABC-1", true)]);
        let pp = ctx(Aspect::ProcessParent, &[("abc-1", true)]);
        let h = HostIndex::new(&[&pe, &pp]).unwrap();
        assert_eq!(h.processes, ["ABC-1"]);
        assert_eq!(h.partial(), 0);
        let s = crate::SplitConfig::default();
        assert_eq!(s.part_of("ABC-1", false), s.part_of("abc-1", false));
    }

    #[test]
    fn refuses_inconsistent_hosts() {
        let pe = ctx(Aspect::ProcessEvent, &[("a", true)]);
        let pp = ctx(Aspect::ProcessParent, &[("a", false)]);
        let e = HostIndex::new(&[&pe, &pp]).unwrap_err().to_string();
        assert!(
            e.contains("labelled attack") && e.contains("bovia/trace/PP"),
            "{e}"
        );
        let dup = ctx(Aspect::ProcessEvent, &[("a", false), ("a", false)]);
        assert!(
            HostIndex::new(&[&dup])
                .unwrap_err()
                .to_string()
                .contains("rows 1 and 2")
        );
        let pa = ctx(Aspect::ProcessAll, &[("a", false)]);
        assert!(HostIndex::new(&[&pa]).is_err());
        assert!(HostIndex::new(&[&pe, &pe]).is_err());
        let mut other = ctx(Aspect::ProcessExec, &[("a", true)]);
        other.id.performer = Performer::Cadets;
        assert!(HostIndex::new(&[&pe, &other]).is_err());
        assert!(HostIndex::new(&[]).is_err());
    }

    #[test]
    fn host_ids_round_trip() {
        for s in ["bovia/trace", "pandex/cadets-partial", "bovia/5dir"] {
            assert_eq!(s.parse::<HostId>().unwrap().to_string(), s);
        }
        assert!("bovia".parse::<HostId>().is_err());
        assert!("bovia/trace/PE".parse::<HostId>().is_err());
    }
}
