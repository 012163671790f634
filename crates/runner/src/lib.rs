//! # apt-llm-runner
//!
//! The APT-LLM evaluation: for each context, every encoder × detector combination
//! (autoencoders with and without attention, and the baselines), the best combination
//! picked two ways (the paper's, which looks at the test labels, and an honest
//! leave-one-context-out pick), and the paper's figures.
//!
//! ```no_run
//! use apt_llm_runner::{ExperimentConfig, run, write_outputs};
//! let report = run(&ExperimentConfig::default())?; // bundled synthetic data, MiniLM
//! write_outputs(&report, "out".as_ref(), "example", None)?;
//! # Ok::<(), apt_llm_runner::RunnerError>(())
//! ```

mod crossfit;
mod encoders;
mod error;
mod experiment;
mod explain;
mod figures;
mod grid;
mod hosts;
mod hunt;
mod model_file;
mod report;
mod results;
pub mod tsne;

pub use encoders::EncoderSpec;
pub use error::{Result, RunnerError};
pub use experiment::{DataSource, ExperimentConfig, attribute_rows, embed_patterns, run};
pub use explain::{
    MAX_EXPLAINED_ATTRIBUTES, drop_text, leave_one_out, leave_one_out_rows, reasons,
};
pub use figures::{Figure, write_figures};
pub use grid::{AttentionMode, DetectorChoice, PriorMode, Switch};
pub use hosts::{
    AspectEvidence, Calibration, HostOutcome, HostRow, MIN_VIEWS, RankedProcess, ViewStats,
    honest_host_mean, host_view, leave_one_host_out, same_machine, write_host_p_values,
};
pub use hunt::{
    AspectModel, HUNT_FORMAT, HuntConfig, HuntModelError, HuntModels, HuntReport, HuntRequest,
    HuntSettings, MANIFEST_FILE, PARTNERS, hunt,
};
pub use model_file::{MODEL_FORMAT, ModelFile, ModelFileError, ModelMismatch, registry};
pub use report::{Selection, selections, write_markdown, write_tables};
pub use results::{
    ATTRIBUTES_ENCODER, ContextOutcome, ExperimentReport, Explanation, FittedModels, ResultRow,
    ScoredCombination, combination_name, detector_label, roc_of,
};

/// Write tables, figures and `report.md` into `dir`; returns the PNG names in figure order.
pub fn write_outputs(
    report: &ExperimentReport,
    dir: &std::path::Path,
    command: &str,
    focus: Option<&str>,
) -> Result<Vec<String>> {
    write_tables(report, dir)?;
    let figures = write_figures(report, dir, focus)?;
    write_markdown(report, dir, command, &figures)?;
    Ok(figures.into_iter().map(|f| f.file).collect())
}
