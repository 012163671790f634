//! The vocabulary of the provenance database: scenarios, performers, aspects, context ids.

use crate::error::{ProvenanceError, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// DARPA TC engagement-2 attack scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// Scenario 1.
    Pandex,
    /// Scenario 2.
    Bovia,
}

impl Scenario {
    /// All scenarios, in the paper's order.
    pub const ALL: [Scenario; 2] = [Scenario::Pandex, Scenario::Bovia];
    /// The directory name used by the ADAPT layout.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Pandex => "pandex",
            Scenario::Bovia => "bovia",
        }
    }
    /// The scenario number of the paper (1 or 2).
    pub fn number(self) -> u8 {
        match self {
            Scenario::Pandex => 1,
            Scenario::Bovia => 2,
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = ProvenanceError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "pandex" | "1" => Ok(Scenario::Pandex),
            "bovia" | "2" => Ok(Scenario::Bovia),
            _ => Err(ProvenanceError::UnknownContext {
                name: s.to_string(),
                reason: "unknown scenario (expected pandex or bovia)".into(),
            }),
        }
    }
}

/// Operating system of a performer's instrumented hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Os {
    /// FreeBSD (CADETS).
    Bsd,
    /// Windows (FiveDirections).
    Windows,
    /// Linux (TRACE).
    Linux,
    /// Android (ClearScope).
    Android,
}

impl Os {
    /// Short name as printed in tables.
    pub fn name(self) -> &'static str {
        match self {
            Os::Bsd => "BSD",
            Os::Windows => "Windows",
            Os::Linux => "Linux",
            Os::Android => "Android",
        }
    }
}

impl fmt::Display for Os {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// TC performer whose instrumentation produced the provenance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Performer {
    /// CADETS, FreeBSD.
    Cadets,
    /// FiveDirections, Windows.
    #[serde(rename = "5dir")]
    FiveDir,
    /// TRACE, Linux.
    Trace,
    /// ClearScope, Android.
    Clearscope,
}

impl Performer {
    /// All performers, in the paper's order.
    pub const ALL: [Performer; 4] = [
        Performer::Cadets,
        Performer::FiveDir,
        Performer::Trace,
        Performer::Clearscope,
    ];
    /// Directory name used by the ADAPT layout.
    pub fn name(self) -> &'static str {
        match self {
            Performer::Cadets => "cadets",
            Performer::FiveDir => "5dir",
            Performer::Trace => "trace",
            Performer::Clearscope => "clearscope",
        }
    }
    /// The performer's operating system.
    pub fn os(self) -> Os {
        match self {
            Performer::Cadets => Os::Bsd,
            Performer::FiveDir => Os::Windows,
            Performer::Trace => Os::Linux,
            Performer::Clearscope => Os::Android,
        }
    }
}

impl fmt::Display for Performer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Performer {
    type Err = ProvenanceError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "cadets" | "bsd" => Ok(Performer::Cadets),
            "5dir" | "fivedirections" | "windows" => Ok(Performer::FiveDir),
            "trace" | "linux" => Ok(Performer::Trace),
            "clearscope" | "android" => Ok(Performer::Clearscope),
            _ => Err(ProvenanceError::UnknownContext {
                name: s.to_string(),
                reason: "unknown performer (expected cadets, 5dir, trace or clearscope)".into(),
            }),
        }
    }
}

/// Which process attributes a context holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Aspect {
    /// PE: CDM event types the process performed.
    ProcessEvent,
    /// PX: executable names the process ran.
    ProcessExec,
    /// PP: names of the process's parents.
    ProcessParent,
    /// PN: network endpoints (addresses, ports) the process used.
    ProcessNetflow,
    /// PA: the join of the four aspects, columns prefixed `X0_`..`X3_`.
    ProcessAll,
}

impl Aspect {
    /// All aspects, in the paper's order.
    pub const ALL: [Aspect; 5] = [
        Aspect::ProcessEvent,
        Aspect::ProcessExec,
        Aspect::ProcessParent,
        Aspect::ProcessNetflow,
        Aspect::ProcessAll,
    ];
    /// The four base aspects joined by ProcessAll, in prefix order (`X0_`..`X3_`).
    pub const BASE: [Aspect; 4] = [
        Aspect::ProcessEvent,
        Aspect::ProcessExec,
        Aspect::ProcessParent,
        Aspect::ProcessNetflow,
    ];
    /// Two-letter abbreviation (PE, PX, PP, PN, PA).
    pub fn short(self) -> &'static str {
        match self {
            Aspect::ProcessEvent => "PE",
            Aspect::ProcessExec => "PX",
            Aspect::ProcessParent => "PP",
            Aspect::ProcessNetflow => "PN",
            Aspect::ProcessAll => "PA",
        }
    }
    /// Full name, which is also the file stem (`ProcessEvent.csv`).
    pub fn name(self) -> &'static str {
        match self {
            Aspect::ProcessEvent => "ProcessEvent",
            Aspect::ProcessExec => "ProcessExec",
            Aspect::ProcessParent => "ProcessParent",
            Aspect::ProcessNetflow => "ProcessNetflow",
            Aspect::ProcessAll => "ProcessAll",
        }
    }
    /// File name in the ADAPT layout.
    pub fn file_name(self) -> String {
        format!("{}.csv", self.name())
    }
    /// The column prefix this aspect carries inside ProcessAll (`X0_`..`X3_`).
    pub fn all_prefix(self) -> Option<&'static str> {
        match self {
            Aspect::ProcessEvent => Some("X0_"),
            Aspect::ProcessExec => Some("X1_"),
            Aspect::ProcessParent => Some("X2_"),
            Aspect::ProcessNetflow => Some("X3_"),
            Aspect::ProcessAll => None,
        }
    }
    /// Recognise a file stem such as `ProcessEvent`.
    pub fn from_file_stem(stem: &str) -> Option<Aspect> {
        Aspect::ALL.into_iter().find(|a| a.name() == stem)
    }
}

impl fmt::Display for Aspect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short())
    }
}

impl FromStr for Aspect {
    type Err = ProvenanceError;
    fn from_str(s: &str) -> Result<Self> {
        Aspect::ALL
            .into_iter()
            .find(|a| a.short().eq_ignore_ascii_case(s) || a.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| ProvenanceError::UnknownContext {
                name: s.to_string(),
                reason: "unknown aspect (expected PE, PX, PP, PN or PA)".into(),
            })
    }
}

/// Names one context: `scenario/performer[-variant]/aspect`, e.g. `bovia/cadets/PE`
/// or `pandex/cadets-partial/PE`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ContextId {
    pub scenario: Scenario,
    pub performer: Performer,
    /// Suffix of the performer directory after a dash (`partial` in `cadets-partial`).
    pub variant: Option<String>,
    pub aspect: Aspect,
}

impl ContextId {
    /// A context id without a variant.
    pub fn new(scenario: Scenario, performer: Performer, aspect: Aspect) -> Self {
        ContextId {
            scenario,
            performer,
            variant: None,
            aspect,
        }
    }
    /// The performer directory name (`cadets` or `cadets-partial`).
    pub fn performer_dir(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}-{v}", self.performer.name()),
            None => self.performer.name().to_string(),
        }
    }
    /// The operating system of the context's hosts.
    pub fn os(&self) -> Os {
        self.performer.os()
    }
    /// Parse a performer directory name into performer and variant.
    pub fn parse_performer_dir(dir: &str) -> Result<(Performer, Option<String>)> {
        let (base, variant) = match dir.split_once('-') {
            // `5dir` has no dash; only split when the prefix is a known performer.
            Some((b, v)) if b.parse::<Performer>().is_ok() => (b, Some(v.to_string())),
            _ => (dir, None),
        };
        Ok((base.parse()?, variant))
    }
}

impl fmt::Display for ContextId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}",
            self.scenario,
            self.performer_dir(),
            self.aspect
        )
    }
}

impl FromStr for ContextId {
    type Err = ProvenanceError;
    fn from_str(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split('/').collect();
        let [scenario, performer, aspect] = parts.as_slice() else {
            return Err(ProvenanceError::UnknownContext {
                name: s.to_string(),
                reason: "expected scenario/performer/aspect, e.g. bovia/cadets/PE".into(),
            });
        };
        let (performer, variant) = ContextId::parse_performer_dir(performer)?;
        Ok(ContextId {
            scenario: scenario.parse()?,
            performer,
            variant,
            aspect: aspect.parse()?,
        })
    }
}
