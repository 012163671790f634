//! # apt-llm-provenance
//!
//! Per-process attribute tables ("contexts") from DARPA Transparent Computing provenance,
//! as produced by the ADAPT ingester, with their ground-truth attack labels.
//!
//! A context is one *aspect* of process behaviour for one performer (operating system) and
//! scenario: ProcessEvent (PE: CDM event types), ProcessExec (PX: executables),
//! ProcessParent (PP: parent names), ProcessNetflow (PN: network endpoints) and
//! ProcessAll (PA: their join). Each row is a process; each column an attribute it has
//! (1) or not (0). Rows are kept sparse.
//!
//! ```
//! use apt_llm_provenance::{Patterns, SplitConfig, SyntheticConfig};
//!
//! // A seeded synthetic context that looks like a real one.
//! let ctx = SyntheticConfig { processes: 2_000, seed: 42, ..Default::default() }.generate()?;
//! let patterns = Patterns::from_context(&ctx.context);
//! assert!(patterns.len() < 200); // processes repeat themselves
//!
//! let split = SplitConfig { seed: 42, ..Default::default() }.split(&ctx.labels.flags)?;
//! split.require_two_classes(&ctx.labels.flags, &ctx.id.to_string())?;
//! # Ok::<(), apt_llm_provenance::ProvenanceError>(())
//! ```
//!
//! Real data: [`Catalog::discover`] walks a root laid out as
//! `{pandex,bovia}/{cadets,5dir,trace,clearscope}/Process*.csv`, every other CSV of a
//! folder being ground truth (`uuid,label`; attack iff `AdmSubject::Node`).

mod catalog;
mod context;
mod error;
mod ground_truth;
mod host;
mod lines;
mod patterns;
mod split;
pub mod synthetic;
mod types;

pub use catalog::{Catalog, Folder, LabeledContext, SlotState};
pub use context::{Context, ProcessRecord};
pub use error::{ParseIssue, ProvenanceError, Result};
pub use ground_truth::{ATTACK_LABEL, GroundTruth, Labels};
pub use host::{HostId, HostIndex};
pub use patterns::{Pattern, Patterns};
pub use split::{Part, Split, SplitConfig};
pub use synthetic::SyntheticConfig;
pub use types::{Aspect, ContextId, Os, Performer, Scenario};

/// The longest attribute (column) name a context may have, in bytes. The longest real
/// one (a Windows command line in bovia/5dir ProcessExec) is 286 bytes.
pub const MAX_NAME_BYTES: usize = 4096;

/// Environment variable naming the ADAPT data root.
pub const DATA_ENV: &str = "APT_LLM_DATA";

/// The data root from `APT_LLM_DATA`, else `../shared/datasets/adapt-e2` relative to the
/// current directory or its parents, if one exists.
pub fn default_data_root() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os(DATA_ENV) {
        return Some(p.into());
    }
    let mut dir = std::env::current_dir().ok()?;
    loop {
        let cand = dir.join("../shared/datasets/adapt-e2");
        if cand.is_dir() {
            return Some(cand);
        }
        if !dir.pop() {
            return None;
        }
    }
}
