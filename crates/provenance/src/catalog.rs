//! Discover contexts under a data root laid out as `{scenario}/{performer}/Process*.csv`.

use crate::context::Context;
use crate::error::{ProvenanceError, Result};
use crate::ground_truth::{GroundTruth, Labels};
use crate::types::{Aspect, ContextId, Performer, Scenario};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A context with its ground-truth labels.
#[derive(Debug, Clone)]
pub struct LabeledContext {
    /// Where it belongs.
    pub id: ContextId,
    /// The records.
    pub context: Context,
    /// One attack flag per record.
    pub labels: Labels,
    /// True when built by joining base aspects (ProcessAll absent on disk).
    pub derived: bool,
    /// Attack ids of the folder's ground truth that match no process of any context of
    /// the folder (lower-cased, sorted): attacks the data cannot show. The same for every
    /// context of a folder; empty for synthetic contexts.
    pub unmatched_attack_ids: Vec<String>,
}

impl LabeledContext {
    /// Number of attack processes.
    pub fn attacks(&self) -> usize {
        self.labels.attacks()
    }
    /// Number of labelled attack ids of the folder that match no process in it.
    pub fn unmatched_attacks(&self) -> usize {
        self.unmatched_attack_ids.len()
    }
}

/// One `{scenario}/{performer}` directory.
#[derive(Debug, Clone)]
pub struct Folder {
    pub scenario: Scenario,
    pub performer: Performer,
    /// Suffix after the performer name (`partial` for `cadets-partial`).
    pub variant: Option<String>,
    pub path: PathBuf,
    /// Context files present, by aspect.
    pub contexts: BTreeMap<Aspect, PathBuf>,
    /// Every other CSV of the folder: ground truth.
    pub ground_truth: Vec<PathBuf>,
}

impl Folder {
    fn id(&self, aspect: Aspect) -> ContextId {
        ContextId {
            scenario: self.scenario,
            performer: self.performer,
            variant: self.variant.clone(),
            aspect,
        }
    }
    /// Can ProcessAll be built here from base aspects although no file holds it?
    pub fn can_derive_all(&self) -> bool {
        !self.contexts.contains_key(&Aspect::ProcessAll)
            && self
                .contexts
                .keys()
                .filter(|a| **a != Aspect::ProcessAll)
                .count()
                >= 2
    }
}

/// Presence of one of the paper's 40 slots (2 scenarios x 4 performers x 5 aspects).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SlotState {
    /// A file holds it.
    Present,
    /// ProcessAll can be joined from the base aspects present.
    Derivable,
    /// Absent from the data root.
    Missing,
}

/// All contexts found under a data root.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub root: PathBuf,
    pub folders: Vec<Folder>,
}

impl Catalog {
    /// Walk `root` and record every context and ground-truth file.
    pub fn discover(root: impl AsRef<Path>) -> Result<Catalog> {
        let root = root.as_ref().to_path_buf();
        let read_dir = |p: &Path| -> Result<Vec<PathBuf>> {
            let mut v: Vec<PathBuf> = Vec::new();
            for entry in std::fs::read_dir(p).map_err(|e| ProvenanceError::io(p, e))? {
                let path = entry.map_err(|e| ProvenanceError::io(p, e))?.path();
                if !path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'))
                {
                    v.push(path);
                }
            }
            v.sort();
            Ok(v)
        };
        if !root.is_dir() {
            let reason = if root.exists() {
                "not a directory"
            } else {
                "no such directory"
            };
            return Err(ProvenanceError::UnknownLayout {
                path: root,
                reason: reason.into(),
            });
        }
        let mut folders = Vec::new();
        for sdir in read_dir(&root)? {
            if !sdir.is_dir() {
                continue;
            }
            let sname = file_name(&sdir);
            let Ok(scenario) = sname.parse::<Scenario>() else {
                return Err(ProvenanceError::UnknownLayout {
                    path: sdir,
                    reason: format!("{sname:?} is not a scenario directory (pandex or bovia)"),
                });
            };
            for pdir in read_dir(&sdir)? {
                if !pdir.is_dir() {
                    continue;
                }
                let pname = file_name(&pdir);
                let (performer, variant) = ContextId::parse_performer_dir(&pname).map_err(|_| {
                    ProvenanceError::UnknownLayout {
                        path: pdir.clone(),
                        reason: format!(
                            "{pname:?} is not a performer directory (cadets, 5dir, trace, clearscope)"
                        ),
                    }
                })?;
                let mut contexts = BTreeMap::new();
                let mut ground_truth = Vec::new();
                for f in read_dir(&pdir)? {
                    let name = file_name(&f);
                    if !name.to_ascii_lowercase().ends_with(".csv") {
                        continue;
                    }
                    // A CSV name that is not a readable file would be a context or ground
                    // truth lost without a word: name it instead.
                    if !f.is_file() {
                        let reason = match std::fs::symlink_metadata(&f) {
                            Ok(m) if m.file_type().is_symlink() => {
                                "a symbolic link to nothing (dangling)"
                            }
                            Ok(m) if m.is_dir() => "a directory, not a file",
                            _ => "not a regular file",
                        };
                        return Err(ProvenanceError::UnknownLayout {
                            path: f.clone(),
                            reason: format!("{name:?} is {reason}"),
                        });
                    }
                    let stem = &name[..name.len() - 4];
                    if stem.starts_with("Process") {
                        let aspect = Aspect::from_file_stem(stem).ok_or_else(|| {
                            ProvenanceError::UnknownLayout {
                                path: f.clone(),
                                reason: format!("{name:?} is not a known context file (ProcessEvent, ProcessExec, ProcessParent, ProcessNetflow, ProcessAll)"),
                            }
                        })?;
                        contexts.insert(aspect, f);
                    } else {
                        ground_truth.push(f);
                    }
                }
                if !contexts.is_empty() {
                    folders.push(Folder {
                        scenario,
                        performer,
                        variant,
                        path: pdir,
                        contexts,
                        ground_truth,
                    });
                }
            }
        }
        if folders.is_empty() {
            return Err(ProvenanceError::UnknownLayout {
                path: root,
                reason: "no {scenario}/{performer}/Process*.csv files found".into(),
            });
        }
        folders.sort_by(|a, b| {
            (a.scenario, a.performer, &a.variant).cmp(&(b.scenario, b.performer, &b.variant))
        });
        Ok(Catalog { root, folders })
    }

    /// Contexts stored as files, in scenario, performer, aspect order.
    pub fn contexts(&self) -> Vec<ContextId> {
        self.folders
            .iter()
            .flat_map(|f| f.contexts.keys().map(|a| f.id(*a)))
            .collect()
    }

    /// ProcessAll contexts that can be joined from base aspects.
    pub fn derivable(&self) -> Vec<ContextId> {
        self.folders
            .iter()
            .filter(|f| f.can_derive_all())
            .map(|f| f.id(Aspect::ProcessAll))
            .collect()
    }

    /// The paper's 40 slots and whether each is here. Variant folders (such as
    /// `cadets-partial`) do not fill a slot.
    pub fn slots(&self) -> Vec<(ContextId, SlotState)> {
        let mut out = Vec::with_capacity(40);
        for s in Scenario::ALL {
            for p in Performer::ALL {
                let folder = self
                    .folders
                    .iter()
                    .find(|f| f.scenario == s && f.performer == p && f.variant.is_none());
                for a in Aspect::ALL {
                    let state = match folder {
                        Some(f) if f.contexts.contains_key(&a) => SlotState::Present,
                        Some(f) if a == Aspect::ProcessAll && f.can_derive_all() => {
                            SlotState::Derivable
                        }
                        _ => SlotState::Missing,
                    };
                    out.push((ContextId::new(s, p, a), state));
                }
            }
        }
        out
    }

    fn folder(&self, id: &ContextId) -> Result<&Folder> {
        self.folders
            .iter()
            .find(|f| {
                f.scenario == id.scenario && f.performer == id.performer && f.variant == id.variant
            })
            .ok_or_else(|| ProvenanceError::UnknownContext {
                name: id.to_string(),
                reason: format!(
                    "no folder {}/{} under {}",
                    id.scenario,
                    id.performer_dir(),
                    self.root.display()
                ),
            })
    }

    /// Load every context of the folder holding `id` (ProcessAll derived when absent)
    /// with labels. Fails if the folder's ground truth names no process of any context.
    pub fn load_folder(&self, id: &ContextId) -> Result<Vec<LabeledContext>> {
        let folder = self.folder(id)?;
        let gt = GroundTruth::from_files(&folder.ground_truth)?;
        if gt.rows > 0 && gt.attacks.is_empty() {
            let mut labels: Vec<(&String, &usize)> = gt.labels.iter().collect();
            labels.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
            return Err(ProvenanceError::NoAttackLabel {
                files: folder.ground_truth.clone(),
                rows: gt.rows,
                labels: labels
                    .iter()
                    .take(5)
                    .map(|(l, n)| format!("{l:?} x{n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let mut loaded: Vec<(Context, bool)> = Vec::new();
        for (aspect, path) in &folder.contexts {
            loaded.push((Context::from_csv(path, *aspect)?, false));
        }
        if folder.can_derive_all() {
            let parts: Vec<&Context> = loaded.iter().map(|(c, _)| c).collect();
            let all = Context::join_all(&parts);
            loaded.push((all, true));
        }
        if !gt.all_ids.is_empty()
            && !loaded.iter().any(|(c, _)| {
                c.records
                    .iter()
                    .any(|r| gt.all_ids.contains(&r.id.to_ascii_lowercase()))
            })
        {
            return Err(ProvenanceError::NoKnownProcess {
                folder: folder.path.clone(),
                files: folder.ground_truth.clone(),
                ids: gt.all_ids.len(),
            });
        }
        let unmatched = gt.unmatched_attacks(&loaded.iter().map(|(c, _)| c).collect::<Vec<_>>());
        Ok(loaded
            .into_iter()
            .map(|(context, derived)| LabeledContext {
                id: folder.id(context.aspect),
                labels: gt.label(&context),
                context,
                derived,
                unmatched_attack_ids: unmatched.clone(),
            })
            .collect())
    }

    /// Load one context with its labels; ProcessAll is joined from the base aspects when
    /// no file holds it.
    pub fn load(&self, id: &ContextId) -> Result<LabeledContext> {
        self.load_folder(id)?
            .into_iter()
            .find(|c| c.id.aspect == id.aspect)
            .ok_or_else(|| ProvenanceError::UnknownContext {
                name: id.to_string(),
                reason: "no such context file, and ProcessAll cannot be derived here".into(),
            })
    }

    /// Load every stored context (not the derived ones), folder by folder.
    pub fn load_all(&self) -> Result<Vec<LabeledContext>> {
        let mut out = Vec::new();
        for f in &self.folders {
            let any = f.id(*f.contexts.keys().next().expect("folders are never empty"));
            out.extend(self.load_folder(&any)?.into_iter().filter(|c| !c.derived));
        }
        Ok(out)
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
