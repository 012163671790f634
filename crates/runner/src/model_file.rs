//! The one saved-model format: a model file (JSON) that says what the detector is, what
//! it was fitted on and with which encoder, beside the detector's own file, which a
//! [`Registry`] loads by its `kind` tag.
//!
//! The runner owns the format because only it knows every piece a saved model depends
//! on: the encoder (its identity: family, backend, weight fingerprint), the sentence
//! template, the context (scenario, OS, aspect) and its attribute schema (names in column
//! order), and the detector kinds of every crate ([`registry`]). Reading a model checks
//! its format version first, so a file of an older layout is refused with a note to fit
//! it again rather than with a missing-field error; [`ModelFile::check`] refuses a context
//! or encoder it was not fitted for, naming both sides.
//!
//! ```no_run
//! use apt_llm_runner::{ModelFile, registry};
//! let (file, detector) = ModelFile::open("out/models/bovia_cadets_PE.pipeline.json".as_ref(), &registry())?;
//! for w in file.warnings() {
//!     eprintln!("warning: {w}");
//! }
//! println!("{} flags scores above {}", file.combination, detector.threshold().value);
//! # Ok::<(), apt_llm_runner::ModelFileError>(())
//! ```

use apt_llm_detect::{
    DetectError, FittedDetector, Registry, Representation, Threshold, saved_kind,
};
use apt_llm_embed::ModelIdentity;
use apt_llm_provenance::ContextId;
use apt_llm_textualize::Template;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The model-file layout this build writes and reads. 1: the first pipeline files (no
/// format field); 2: aspect, schema and encoder identity; 3: the detector kind, the
/// representation, scenario and OS, the threshold with its percentile, and an encoder
/// identity whose family is a free name.
pub const MODEL_FORMAT: u32 = 3;

/// A saved model: the detector file it points to and everything needed to score new
/// processes with it. Written by `ExperimentConfig::save_models` and
/// [`HuntModels::save`](crate::HuntModels::save) (one per aspect), read by `apt-llm score`
/// and [`HuntModels::load`](crate::HuntModels::load).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    /// Layout version ([`MODEL_FORMAT`]).
    pub format: u32,
    /// The detector file's `kind` tag: which [`Registry`] loader reads it.
    pub kind: String,
    /// Detector file, relative to the model file.
    pub detector: String,
    /// `encoder / detector[+attn][+freq]`, as in the report.
    pub combination: String,
    /// What the detector reads.
    pub representation: Representation,
    /// How the configuration named the encoder (a name or directory); `None` for a
    /// detector of attribute rows.
    pub encoder: Option<String>,
    /// The encoder exactly (family, backend, weight fingerprint, pooling, ...).
    pub encoder_identity: Option<ModelIdentity>,
    pub template: Template,
    /// The context it was fitted on, its scenario, OS and aspect (`PE`, ...).
    pub trained_on: String,
    pub scenario: String,
    pub os: String,
    pub aspect: String,
    /// The attribute schema it was fitted on: names, in column order.
    pub attributes: Vec<String>,
    /// The decision threshold (a percentile of held-out normal scores).
    pub threshold: Threshold,
    /// Held-out normal scores and weights, so a caller can set another percentile.
    pub normal_scores: Vec<f32>,
    pub normal_weights: Vec<f32>,
    /// Test ROC-AUC of this combination when it was fitted (`None` when the context had
    /// no labelled test set).
    pub auc: Option<f64>,
    /// The calibration scores are the detector's own training processes' (`hunt` on an
    /// aspect too small to hold any process out): its threshold is optimistic. Files
    /// written before the field existed read as `false`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub calibrated_in_sample: bool,
}

/// Errors of reading, writing or loading a model file.
#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A field holds a value this build refuses.
    #[error("{}: field {field}: {reason}", path.display())]
    Field {
        path: PathBuf,
        field: &'static str,
        reason: String,
    },
    #[error("{}: not a model file: {source}", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{}: model file format {found} (this build reads {MODEL_FORMAT}): {}; save it again with the command that wrote it (`apt-llm evaluate --save-models` or `apt-llm hunt --save-models`)",
        path.display(),
        if *found < u64::from(MODEL_FORMAT) { "written by an older apt-llm, it lacks what this build checks before scoring" } else { "written by a newer apt-llm" }
    )]
    Format { path: PathBuf, found: u64 },
    #[error("{}: {source}", path.display())]
    Mismatch {
        path: PathBuf,
        #[source]
        source: Box<ModelMismatch>,
    },
    #[error("{}: names a {expected:?} detector, but {} holds a {found:?} one", path.display(), detector.display())]
    Kind {
        path: PathBuf,
        detector: PathBuf,
        expected: String,
        found: String,
    },
    /// The saved normal scores, weights and threshold percentile do not make a threshold.
    /// The detector file reads other rows than the model file says.
    #[error("{}: {field} says {expected}, but {} holds a detector of {found}", path.display(), detector.display())]
    Detector {
        path: PathBuf,
        detector: PathBuf,
        field: &'static str,
        expected: String,
        found: String,
    },
    #[error("{}: fields normal_scores, normal_weights and threshold: {source}", path.display())]
    Threshold {
        path: PathBuf,
        #[source]
        source: DetectError,
    },
    #[error(transparent)]
    Detect(#[from] DetectError),
}

/// Why a saved model may not score a context: each names both sides.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelMismatch {
    #[error(
        "fitted on {fitted} ({fitted_aspect}), asked to score {asked} ({asked_aspect}): another aspect has other attributes"
    )]
    Aspect {
        fitted: String,
        fitted_aspect: String,
        asked: String,
        asked_aspect: String,
    },
    #[error(
        "attribute schema differs: fitted on {fitted_len} attributes ({fitted}), {asked} has {asked_len}; first difference at column {column}: {fitted_name:?} vs {asked_name:?}"
    )]
    Schema {
        fitted: String,
        fitted_len: usize,
        asked: String,
        asked_len: usize,
        /// 1-based.
        column: usize,
        fitted_name: String,
        asked_name: String,
    },
    #[error("encoder differs: fitted with {fitted}, {spec} resolves to {found}")]
    Encoder {
        fitted: String,
        spec: String,
        found: String,
    },
    #[error("the model reads sentence embeddings but records no encoder identity")]
    NoEncoderIdentity,
}

fn describe(e: &ModelIdentity) -> String {
    format!(
        "{} {} ({}, weights {})",
        e.family,
        e.name,
        e.backend.name(),
        e.fingerprint
    )
}

impl ModelFile {
    /// Read a model file: its format first, then its fields.
    pub fn read(path: &Path) -> Result<ModelFile, ModelFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelFileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let json = |source| ModelFileError::Json {
            path: path.to_path_buf(),
            source,
        };
        let doc: serde_json::Value = serde_json::from_str(&text).map_err(json)?;
        // Files of layout 1 have no format field; any other shape is not a model file,
        // which the typed read below reports.
        if let Some(obj) = doc.as_object() {
            let found = match obj.get("format") {
                None => 1,
                Some(v) => v.as_u64().unwrap_or(0),
            };
            if found != u64::from(MODEL_FORMAT) {
                return Err(ModelFileError::Format {
                    path: path.to_path_buf(),
                    found,
                });
            }
        }
        // Parsed again from the text: its errors name the line and column.
        serde_json::from_str(&text).map_err(json)
    }

    /// Write it as pretty JSON.
    pub fn write(&self, path: &Path) -> Result<(), ModelFileError> {
        let text = serde_json::to_string_pretty(self).map_err(|source| ModelFileError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        std::fs::write(path, text).map_err(|source| ModelFileError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Read the model file at `path` and load its detector with `registry`, threshold
    /// and normal scores restored.
    pub fn open(
        path: &Path,
        registry: &Registry,
    ) -> Result<(ModelFile, FittedDetector), ModelFileError> {
        let file = ModelFile::read(path)?;
        let detector = file.load_detector(path, registry)?;
        Ok((file, detector))
    }

    /// Load the detector this model file (at `path`) points to.
    pub fn load_detector(
        &self,
        path: &Path,
        registry: &Registry,
    ) -> Result<FittedDetector, ModelFileError> {
        // A plain file name beside the model file, as `save_model` writes it: a saved file
        // is untrusted and may not point elsewhere.
        if !apt_llm_detect::is_plain_file_name(&self.detector) {
            return Err(ModelFileError::Field {
                path: path.to_path_buf(),
                field: "detector",
                reason: format!(
                    "{:?} is not a plain file name in this directory",
                    self.detector
                ),
            });
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let detector_path = base.join(&self.detector);
        let found = saved_kind(&detector_path)?;
        if found != self.kind {
            return Err(ModelFileError::Kind {
                path: path.to_path_buf(),
                detector: detector_path,
                expected: self.kind.clone(),
                found,
            });
        }
        let detector: Arc<dyn apt_llm_detect::Detector> = Arc::from(registry.load(&detector_path)?);
        // What the detector itself reads must be what this file promises.
        let differs = |field, expected: String, found: String| ModelFileError::Detector {
            path: path.to_path_buf(),
            detector: detector_path.clone(),
            field,
            expected,
            found,
        };
        if detector.representation() != self.representation {
            return Err(differs(
                "representation",
                format!("{:?}", self.representation),
                format!("{:?}", detector.representation()),
            ));
        }
        let width = match self.representation {
            Representation::Attributes => Some(("attributes", self.attributes.len())),
            Representation::Embedding => self
                .encoder_identity
                .as_ref()
                .map(|id| ("encoder_identity.dim", id.dim)),
        };
        if let Some((field, want)) = width
            && detector.input_dim() != want
        {
            return Err(differs(
                field,
                format!("{want} columns"),
                format!("{} columns", detector.input_dim()),
            ));
        }
        let mut fitted = if self.normal_scores.is_empty() {
            FittedDetector::with_threshold(detector, self.threshold)
        } else {
            FittedDetector::from_normal_scores(
                detector,
                self.normal_scores.clone(),
                self.normal_weights.clone(),
                self.threshold.percentile,
            )
            .map_err(|source| ModelFileError::Threshold {
                path: path.to_path_buf(),
                source,
            })?
        };
        fitted.set_threshold(self.threshold);
        Ok(fitted)
    }

    /// Check that this model may score `context` (its attribute names in column order)
    /// with the encoder `encoder` resolves to (`None` for attribute detectors): same
    /// aspect, schema and encoder. A mismatch names both sides.
    pub fn check(
        &self,
        context: &ContextId,
        attributes: &[String],
        encoder: Option<&ModelIdentity>,
    ) -> Result<(), ModelMismatch> {
        let aspect = context.aspect.short();
        if self.aspect != aspect {
            return Err(ModelMismatch::Aspect {
                fitted: self.trained_on.clone(),
                fitted_aspect: self.aspect.clone(),
                asked: context.to_string(),
                asked_aspect: aspect.to_string(),
            });
        }
        if let Some(m) = schema_mismatch(&self.trained_on, &self.attributes, context, attributes) {
            return Err(m);
        }
        if self.representation == Representation::Embedding {
            let fitted = self
                .encoder_identity
                .as_ref()
                .ok_or(ModelMismatch::NoEncoderIdentity)?;
            if let Some(found) = encoder
                && let Some(m) = encoder_mismatch(fitted, self.encoder.as_deref(), found)
            {
                return Err(m);
            }
        }
        Ok(())
    }

    /// What a user should know before trusting this model's flags: today, a model that
    /// ranked worse than chance when it was fitted.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(auc) = self.auc.filter(|&a| a < 0.5) {
            out.push(format!(
                "this model ranked worse than chance when it was fitted (ROC-AUC {auc:.3} on {})",
                self.trained_on
            ));
        }
        if self.calibrated_in_sample {
            out.push(format!(
                "its calibration scores are its own training processes' ({} was too small to hold any out): the threshold is optimistic",
                self.trained_on
            ));
        }
        out
    }
}

/// The schema check of [`ModelFile::check`]: the names `fitted` (in column order, of the
/// context `fitted_on`) against those of `asked`; a difference names both sides.
pub(crate) fn schema_mismatch(
    fitted_on: &str,
    fitted: &[String],
    asked: &ContextId,
    attributes: &[String],
) -> Option<ModelMismatch> {
    if fitted == attributes {
        return None;
    }
    let column = fitted
        .iter()
        .zip(attributes)
        .position(|(a, b)| a != b)
        .unwrap_or(fitted.len().min(attributes.len()));
    let name = |v: &[String]| v.get(column).cloned().unwrap_or_else(|| "(none)".into());
    Some(ModelMismatch::Schema {
        fitted: fitted_on.to_string(),
        fitted_len: fitted.len(),
        asked: asked.to_string(),
        asked_len: attributes.len(),
        column: column + 1,
        fitted_name: name(fitted),
        asked_name: name(attributes),
    })
}

/// The encoder check of [`ModelFile::check`]: `found` must be the `fitted` encoder (same
/// identity key and family); `spec` is how the model names it.
pub(crate) fn encoder_mismatch(
    fitted: &ModelIdentity,
    spec: Option<&str>,
    found: &ModelIdentity,
) -> Option<ModelMismatch> {
    if found.key() == fitted.key() && found.family == fitted.family {
        return None;
    }
    Some(ModelMismatch::Encoder {
        fitted: describe(fitted),
        spec: spec.unwrap_or("the encoder").to_string(),
        found: describe(found),
    })
}

/// Every detector kind of apt-llm: this crate's dependencies register theirs here, and a
/// caller adds its own with [`Registry::register`].
pub fn registry() -> Registry {
    use apt_llm_autoencoders::FittedAutoencoder;
    use apt_llm_baselines::{
        FittedAvf, FittedDbscan, FittedIsolationForest, FittedOc3, FittedOneClassSvm,
    };
    let mut r = Registry::new();
    r.register("autoencoder", |p, _| {
        Ok(Box::new(FittedAutoencoder::load(p)?))
    })
    .register("ocsvm", |p, _| Ok(Box::new(FittedOneClassSvm::load(p)?)))
    .register("dbscan", |p, _| Ok(Box::new(FittedDbscan::load(p)?)))
    .register("iforest", |p, _| {
        Ok(Box::new(FittedIsolationForest::load(p)?))
    })
    .register("avf", |p, _| Ok(Box::new(FittedAvf::load(p)?)))
    .register("oc3", |p, _| Ok(Box::new(FittedOc3::load(p)?)));
    r
}

/// What [`save_model`] writes besides the detector.
pub(crate) struct SaveRequest<'a> {
    pub dir: &'a Path,
    pub context: &'a ContextId,
    pub attributes: &'a [String],
    pub template: &'a Template,
    pub combination: &'a str,
    pub representation: Representation,
    pub encoder: Option<(&'a str, &'a ModelIdentity)>,
    pub auc: Option<f64>,
    pub calibrated_in_sample: bool,
}

/// Save `model` as `<dir>/<context>.model.json` (its own file, and any files it writes
/// beside it) and its model file `<dir>/<context>.pipeline.json`.
pub(crate) fn save_model(
    req: &SaveRequest<'_>,
    model: &FittedDetector,
) -> Result<PathBuf, ModelFileError> {
    let stem = req.context.to_string().replace('/', "_");
    std::fs::create_dir_all(req.dir).map_err(|source| ModelFileError::Io {
        path: req.dir.to_path_buf(),
        source,
    })?;
    let detector = format!("{stem}.model.json");
    let detector_path = req.dir.join(&detector);
    model.detector().save(&detector_path)?;
    let (normal_scores, normal_weights) = model.normal_scores();
    let file = ModelFile {
        format: MODEL_FORMAT,
        kind: saved_kind(&detector_path)?,
        detector,
        combination: req.combination.to_string(),
        representation: req.representation,
        encoder: req.encoder.map(|(spec, _)| spec.to_string()),
        encoder_identity: req.encoder.map(|(_, id)| id.clone()),
        template: req.template.clone(),
        trained_on: req.context.to_string(),
        scenario: req.context.scenario.name().to_string(),
        os: req.context.os().name().to_string(),
        aspect: req.context.aspect.short().to_string(),
        attributes: req.attributes.to_vec(),
        threshold: model.threshold(),
        normal_scores: normal_scores.to_vec(),
        normal_weights: normal_weights.to_vec(),
        auc: req.auc,
        calibrated_in_sample: req.calibrated_in_sample,
    };
    let path = req.dir.join(format!("{stem}.pipeline.json"));
    file.write(&path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use apt_llm_detect::{DEFAULT_PERCENTILE, DetectorSpec, Rarity, TrainSet};
    use ndarray::array;

    fn saved(dir: &Path, auc: f64) -> (PathBuf, ModelIdentity) {
        let x = array![[1.0f32, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]];
        let data = TrainSet::new(x.view());
        let model = FittedDetector::new(
            Arc::from(Rarity.fit_boxed(&data).unwrap()),
            &data,
            DEFAULT_PERCENTILE,
        )
        .unwrap();
        let identity = ModelIdentity::new("Hashed", "bag", 2, "v1");
        let context: ContextId = "bovia/cadets/PE".parse().unwrap();
        let path = save_model(
            &SaveRequest {
                dir,
                context: &context,
                attributes: &["a".into(), "b".into()],
                template: &Template::paper(),
                combination: "Hashed / Rarity",
                representation: Representation::Embedding,
                encoder: Some(("hashed", &identity)),
                auc: Some(auc),
                calibrated_in_sample: false,
            },
            &model,
        )
        .unwrap();
        (path, identity)
    }

    #[test]
    fn a_saved_model_loads_with_its_threshold_and_refuses_what_it_was_not_fitted_for() {
        let dir = tempfile::tempdir().unwrap();
        let (path, identity) = saved(dir.path(), 0.8);
        let (file, model) = ModelFile::open(&path, &registry()).unwrap();
        assert_eq!(file.kind, "rarity");
        assert_eq!((file.scenario.as_str(), file.os.as_str()), ("bovia", "BSD"));
        assert_eq!(model.threshold(), file.threshold);
        assert!(file.warnings().is_empty());
        let attrs = ["a".to_string(), "b".to_string()];
        let pe: ContextId = "bovia/cadets/PE".parse().unwrap();
        file.check(&pe, &attrs, Some(&identity)).unwrap();

        let pp: ContextId = "bovia/cadets/PP".parse().unwrap();
        let e = file.check(&pp, &attrs, Some(&identity)).unwrap_err();
        assert!(matches!(e, ModelMismatch::Aspect { .. }), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("bovia/cadets/PE (PE)") && msg.contains("(PP)"),
            "{msg}"
        );

        let changed = ["a".to_string(), "c".to_string()];
        let e = file.check(&pe, &changed, Some(&identity)).unwrap_err();
        assert!(
            e.to_string().contains("column 2") && e.to_string().contains("\"c\""),
            "{e}"
        );

        let other = ModelIdentity::new("Hashed", "bag", 2, "v2");
        let e = file.check(&pe, &attrs, Some(&other)).unwrap_err();
        assert!(
            matches!(e, ModelMismatch::Encoder { .. })
                && e.to_string().contains("v1")
                && e.to_string().contains("v2"),
            "{e}"
        );
    }

    #[test]
    fn older_formats_unknown_kinds_and_weak_models_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = saved(dir.path(), 0.3);
        let file = ModelFile::read(&path).unwrap();
        assert!(file.warnings()[0].contains("worse than chance"));

        let mut doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        doc["format"] = 2.into();
        std::fs::write(&path, doc.to_string()).unwrap();
        let e = ModelFile::read(&path).unwrap_err();
        assert!(
            matches!(e, ModelFileError::Format { found: 2, .. }) && e.to_string().contains("older"),
            "{e}"
        );

        // A registry without the kind refuses it, naming the kinds it knows.
        doc["format"] = MODEL_FORMAT.into();
        std::fs::write(&path, doc.to_string()).unwrap();
        let e = ModelFile::open(&path, &Registry::empty()).unwrap_err();
        assert!(e.to_string().contains("\"rarity\""), "{e}");
    }
}
