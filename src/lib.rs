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
//! | ROC-AUC, PR-AUC, nDCG, tie ceiling | `apt-llm-metrics` | [`metrics`] |
//! | the experiment grid, report, figures | `apt-llm-runner` | [`runner`] |
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
pub use apt_llm_metrics as metrics;
pub use apt_llm_provenance as provenance;
pub use apt_llm_runner as runner;
pub use apt_llm_textualize as textualize;
