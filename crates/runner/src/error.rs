//! The runner's errors. Each wraps its cause as a source, so a caller can walk the chain
//! (`std::error::Error::source`) down to the I/O, parse or detector error that started it.

use crate::hunt::HuntModelError;
use crate::model_file::ModelFileError;
use std::path::PathBuf;

/// Errors that stop an experiment (per-context and per-model problems are recorded in
/// the report instead).
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(transparent)]
    Provenance(#[from] apt_llm_provenance::ProvenanceError),
    #[error(transparent)]
    Embed(#[from] apt_llm_embed::EmbedError),
    #[error(transparent)]
    Detect(#[from] apt_llm_detect::DetectError),
    #[error(transparent)]
    Metrics(#[from] apt_llm_metrics::MetricsError),
    #[error("calibration: {0}")]
    Fusion(#[from] apt_llm_fusion::FusionError),
    #[error(transparent)]
    ModelFile(#[from] ModelFileError),
    /// Saved hunt models that cannot be read, or may not rank the data given.
    #[error(transparent)]
    HuntModels(#[from] HuntModelError),
    /// A step failed on one context (or one combination of it): which, and why.
    #[error("{context}: {source}")]
    Context {
        context: String,
        #[source]
        source: Box<RunnerError>,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("figure {name}: {reason}")]
    Figure { name: String, reason: String },
    /// No encoder of the configuration could be loaded: each one with the reason.
    #[error("no encoder could be loaded: {}", unavailable.iter().map(|(n, e)| format!("{n}: {e}")).collect::<Vec<_>>().join("; "))]
    NoEncoder { unavailable: Vec<(String, String)> },
    /// Two encoders of the configuration are the same model (same identity key): their
    /// rows would be indistinguishable.
    #[error("encoder {0} is given twice")]
    DuplicateEncoder(String),
    /// Two fusion rules of the configuration share a name: their rows of `hosts.csv`
    /// would be indistinguishable.
    #[error("fusion rule {0:?} is given twice (a custom rule needs a name of its own)")]
    DuplicateFusion(String),
    /// Two detectors of the configuration share a name (a built-in one given twice, or a
    /// detector of your own named like another): their rows would be indistinguishable.
    #[error("detector {0:?} is given twice (a detector of your own needs a name of its own)")]
    DuplicateDetector(String),
    #[error("invalid experiment: no detector selected")]
    NoDetector,
    /// `hunt` fits exactly one detector setting.
    #[error("hunt fits one detector setting, the configuration gives {0}")]
    HuntSettings(usize),
    #[error("hunt takes the prior on or off, not both")]
    HuntPriorBoth,
    /// A hunt partner must count attribute sets or attributes on the attribute rows.
    #[error("a hunt partner is a detector of attribute rows (oc3, avf), not {0}")]
    HuntPartner(String),
    /// A transductive detector's score of a row depends on the rows scored with it, so
    /// held-out normal scores cannot calibrate it.
    #[error(
        "{0} is transductive (a row's score depends on the rows scored with it): held-out normals cannot calibrate its scores, so hunt refuses it (use dbscan-core or oc3)"
    )]
    HuntTransductive(String),
    /// A hunt partner equal to the detector would count the same evidence twice.
    #[error("the hunt partner {0} is the detector itself: its evidence would count twice")]
    HuntPartnerItself(String),
    /// `hunt` saves its fusion rule by name: a rule of your own could not be loaded back.
    #[error(
        "hunt fuses with a built-in rule (fisher, sidak, cauchy), saved by name in hunt.json; a custom fusion rule is not taken"
    )]
    HuntCustomFusion,
    #[error("calibration fraction {0} is not within (0, 1)")]
    CalibrationFraction(f64),
    #[error("{processes} processes are too few to fit a detector")]
    TooFewProcesses { processes: usize },
    /// The calibration share left no process to fit on.
    #[error(
        "the calibration share {fraction} holds out all {processes} processes: none is left to fit on (lower --calibration)"
    )]
    NoTrainingProcesses { processes: usize, fraction: f64 },
}

/// Result alias.
pub type Result<T, E = RunnerError> = std::result::Result<T, E>;
