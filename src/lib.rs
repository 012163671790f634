//! # apt-llm
//!
//! Catch Advanced Persistent Threats in DARPA Transparent Computing provenance with
//! language-model embeddings and autoencoders: the APT-LLM method (Benabderrahmane et al.,
//! 2025), and beyond.
//!
//! The data flows one way, one crate per step, re-exported here:
//!
//! | step | crate | module here |
//! |---|---|---|
//! | ADAPT contexts and labels | `apt-llm-provenance` | [`provenance`] |
//! | process records → sentences | `apt-llm-textualize` | [`textualize`] |
//! | sentences → vectors (BERT, ALBERT, DistilBERT, RoBERTa, MiniLM on burn) | `apt-llm-embed` | [`embed`] |
//! | the detector seam | `apt-llm-detect` | [`detect`] |
//! | AE / VAE / DAE (± attention) | `apt-llm-autoencoders` | [`autoencoders`] |
//! | OC-SVM, DBSCAN, Isolation Forest | `apt-llm-baselines` | [`baselines`] |
//! | per-aspect scores → one per process (calibration, Fisher / Šidák / Cauchy) | `apt-llm-fusion` | [`fusion`] |
//! | ROC-AUC, PR-AUC, nDCG, tie ceiling | `apt-llm-metrics` | [`metrics`] |
//! | the experiment grid, report, figures | `apt-llm-runner` | [`runner`] |
//! | encoders from the Hugging Face Hub (feature `hub`) | `apt-llm-hub` | `hub` |
//!
//! ```
//! use apt_llm::provenance::{Patterns, SyntheticConfig};
//! use apt_llm::textualize::{Template, Textualizer};
//!
//! let ctx = SyntheticConfig { processes: 500, ..Default::default() }.generate()?;
//! let text = Textualizer::new(Template::paper(), &ctx.context);
//! let patterns = Patterns::from_context(&ctx.context);
//! let first = text.sentence_of(&patterns.patterns[0].attributes, None);
//! assert!(first.starts_with("The process has "));
//! # Ok::<(), apt_llm::provenance::ProvenanceError>(())
//! ```

pub use apt_llm_autoencoders as autoencoders;
pub use apt_llm_baselines as baselines;
pub use apt_llm_detect as detect;
pub use apt_llm_embed as embed;
pub use apt_llm_fusion as fusion;
/// Fetching encoders from the Hugging Face Hub (feature `hub`).
#[cfg(feature = "hub")]
pub use apt_llm_hub as hub;
pub use apt_llm_metrics as metrics;
pub use apt_llm_provenance as provenance;
pub use apt_llm_runner as runner;
pub use apt_llm_textualize as textualize;

/// The types most programs need, in one import: `use apt_llm::prelude::*;`.
pub mod prelude {
    pub use apt_llm_autoencoders::{Autoencoder, AutoencoderConfig, FittedAutoencoder};
    pub use apt_llm_baselines::{Avf, Dbscan, IsolationForest, Oc3, OneClassSvm};
    pub use apt_llm_detect::{
        DetectError, Detector, DetectorSpec, Fit, FrequencyPrior, Rarity, Representation,
        Threshold, TrainSet,
    };
    pub use apt_llm_embed::{
        EncoderOptions, SentenceEncoder, TransformerEncoder, load_encoder, resolve_model,
    };
    pub use apt_llm_fusion::{Calibrator, Cauchy, Fisher, FusionRule, Rule, Sidak};
    pub use apt_llm_metrics::{roc_auc, roc_auc_weighted, summarize};
    pub use apt_llm_provenance::{
        Aspect, Catalog, ContextId, HostId, HostIndex, LabeledContext, Patterns, SplitConfig,
        SyntheticConfig,
    };
    pub use apt_llm_runner::{
        DataSource, DetectorChoice, ExperimentConfig, ExperimentReport, HuntConfig, HuntModels,
        hunt, run, write_outputs,
    };
    pub use apt_llm_textualize::{Template, Textualizer};
}

/// The README's code blocks, compiled as doc tests so the snippet there stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
