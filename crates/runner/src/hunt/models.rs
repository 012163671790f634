//! Saved hunts: a directory with one model file per aspect and a manifest.
//!
//! Each aspect is saved as a [`ModelFile`], the format `evaluate --save-models` writes:
//! detector kind, encoder identity, template, aspect, attribute schema, threshold, and
//! the held-out normal scores with their weights, which are what calibrates the aspect's
//! p-values. An autoencoder with the frequency prior is saved as the prior's detector
//! file (it holds the training pattern counts) beside the autoencoder's own. The
//! manifest, [`MANIFEST_FILE`], names the host, the aspects with their files, the
//! combination, the encoder identity and the settings of the fit ([`HuntSettings`]:
//! detector, fusion rule, calibration share, seed, ...), with a format version.
//!
//! Every file is untrusted input to [`HuntModels::load`]: a missing or truncated file,
//! malformed JSON, a detector of another kind, a model of another host or aspect, a
//! setting out of range or calibration scores that are not finite are errors naming the
//! file and the reason (and, where two files disagree, the field and both values).

use crate::encoders::{EncoderSpec, load_encoders};
use crate::error::RunnerError;
use crate::grid::DetectorChoice;
use crate::model_file::{ModelFile, ModelFileError, ModelMismatch, SaveRequest, save_model};
use apt_llm_autoencoders::Scaling;
use apt_llm_detect::{DetectError, FittedDetector, Registry, Representation, saved_kind};
use apt_llm_embed::{Backend, Device, ModelIdentity, Precision, SentenceEncoder};
use apt_llm_fusion::{Absent, Calibrator, FusionError, Rule};
use apt_llm_provenance::{Aspect, ContextId, HostId};
use apt_llm_textualize::Template;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The manifest layout this build writes and reads.
pub const HUNT_FORMAT: u32 = 1;

/// The manifest's name in a directory of saved hunt models.
pub const MANIFEST_FILE: &str = "hunt.json";

/// The `kind` tag of a detector saved behind the frequency prior.
const PRIOR_KIND: &str = "frequency-prior";

/// What a hunt was fitted with: saved in the manifest, and what ranking with the saved
/// models uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HuntSettings {
    /// The built-in detector fitted on every aspect; `None` for a detector of your own
    /// (named by `detector_name`).
    pub detector: Option<DetectorChoice>,
    /// The detector's name in tables (`OC3`, `DAE`, yours).
    pub detector_name: String,
    /// Self-attention in the autoencoder.
    pub attention: bool,
    /// The training-frequency prior in front of the autoencoder.
    pub prior: bool,
    /// How the aspects' tail probabilities are fused.
    pub fusion: Rule,
    /// What an aspect a process is absent from contributes. Manifests written before
    /// this setting existed fused the present aspects only, and read back as `skip`.
    #[serde(default = "absent_before_the_setting")]
    pub absent: Absent,
    /// Share of each aspect's processes held out to calibrate its scores.
    pub calibration_fraction: f64,
    /// Seed of the calibration split and of the detectors.
    pub seed: u64,
    /// Autoencoder epochs.
    pub epochs: usize,
    /// Autoencoder input scaling.
    pub scaling: Scaling,
    /// The sentence template of embedding detectors.
    pub template: Template,
    /// How the configuration named the encoder (`None` for detectors of attribute rows).
    pub encoder: Option<String>,
}

/// One aspect's fitted detector and the held-out normal scores that calibrate it.
#[derive(Debug, Clone)]
pub struct AspectModel {
    /// The context it was fitted on: its host and aspect.
    pub context: ContextId,
    /// The attribute schema it was fitted on: names, in column order.
    pub attributes: Vec<String>,
    /// The detector with its threshold, and the calibration scores with their weights
    /// ([`FittedDetector::normal_scores`]).
    pub model: FittedDetector,
    /// Too few processes to hold any out: calibrated on its training processes.
    pub in_sample_calibration: bool,
    /// The model file it was read from (`None` when fitted in this process).
    pub file: Option<PathBuf>,
}

impl AspectModel {
    /// The calibrator of its p-values: the held-out normal scores, with their weights.
    pub fn calibrator(&self) -> Result<Calibrator, FusionError> {
        let (scores, weights) = self.model.normal_scores();
        Calibrator::new(scores, Some(weights))
    }

    /// Where it comes from, for messages: its file, else its context.
    pub(crate) fn origin(&self) -> String {
        match &self.file {
            Some(f) => f.display().to_string(),
            None => format!("the model fitted on {}", self.context),
        }
    }
}

/// Everything a hunt fits for one host: one calibrated detector per aspect and the
/// settings of the fit. [`HuntModels::fit`] makes them, [`HuntModels::rank`] uses them,
/// [`HuntModels::save`] and [`HuntModels::load`] keep them in a directory.
#[derive(Debug, Clone)]
pub struct HuntModels {
    pub host: HostId,
    /// `encoder / detector[+attn][+freq]`, as in the report.
    pub combination: String,
    /// What every aspect's detector reads.
    pub representation: Representation,
    pub settings: HuntSettings,
    /// The encoder exactly, for detectors of sentence embeddings.
    pub encoder_identity: Option<ModelIdentity>,
    /// One model per fused aspect, in the host's order.
    pub aspects: Vec<AspectModel>,
    /// Contexts of the host the fit left out, and why.
    pub left_out: Vec<(String, String)>,
    /// The manifest these models were read from (`None` when fitted in this process).
    pub manifest: Option<PathBuf>,
    /// A detector of attribute rows ([`PARTNERS`]) fitted beside this one on every aspect
    /// (the host view's pairs: `MiniLM / DAE+freq & - / OC3`), with the same host, seed
    /// and calibration split; per aspect the two p-values are fused by this one's rule
    /// before the aspects are.
    pub partner: Option<Box<HuntModels>>,
}

/// Settings a caller asks of saved models ([`HuntModels::check_request`]); `None` takes
/// the saved one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HuntRequest {
    pub host: Option<HostId>,
    pub detector: Option<DetectorChoice>,
    /// Autoencoders only, as in a fit.
    pub attention: Option<bool>,
    /// Autoencoders only, as in a fit.
    pub prior: Option<bool>,
    /// Autoencoders only, as in a fit.
    pub epochs: Option<usize>,
    pub fusion: Option<Rule>,
    pub absent: Option<Absent>,
    /// The partner detector (`None` asks nothing; the saved models may have none).
    pub partner: Option<DetectorChoice>,
    pub calibration_fraction: Option<f64>,
    pub seed: Option<u64>,
    /// The encoder's arithmetic: detectors of embeddings only.
    pub precision: Option<Precision>,
    /// The encoder's implementation: detectors of embeddings only.
    pub backend: Option<Backend>,
    /// The encoder (a name or directory): detectors of embeddings only. Another spelling
    /// of the saved encoder is checked by its identity when ranking.
    pub encoder: Option<String>,
}

impl HuntRequest {
    /// The first setting asked for that a detector would ignore, and what it applies to:
    /// attention, prior and epochs without an autoencoder; precision, encoder and
    /// backend without embeddings.
    pub fn moot_setting(
        &self,
        autoencoder: bool,
        embeddings: bool,
    ) -> Option<(&'static str, &'static str)> {
        let no_autoencoder = !autoencoder;
        [
            (
                "attention",
                self.attention.is_some() && no_autoencoder,
                "autoencoders",
            ),
            (
                "prior",
                self.prior.is_some() && no_autoencoder,
                "autoencoders",
            ),
            (
                "epochs",
                self.epochs.is_some() && no_autoencoder,
                "autoencoders",
            ),
            (
                "precision",
                self.precision.is_some() && !embeddings,
                "detectors of embeddings",
            ),
            (
                "encoder",
                self.encoder.is_some() && !embeddings,
                "detectors of embeddings",
            ),
            (
                "backend",
                self.backend.is_some() && !embeddings,
                "detectors of embeddings",
            ),
        ]
        .into_iter()
        .find(|m| m.1)
        .map(|(setting, _, applies_to)| (setting, applies_to))
    }
}

/// Errors of saving, loading and using saved hunt models. Each names the file (or the
/// models) and the reason; causes are kept as sources.
#[derive(Debug, thiserror::Error)]
pub enum HuntModelError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a hunt manifest: {source}", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{}: hunt manifest format {found} (this build reads {HUNT_FORMAT}): {}; save the models again with `apt-llm hunt --save-models`",
        path.display(),
        if *found > u64::from(HUNT_FORMAT) { "written by a newer apt-llm" } else { "not a layout this build knows" }
    )]
    Format { path: PathBuf, found: u64 },
    /// A field holds a value that cannot be right.
    #[error("{}: field {field}: {reason}", path.display())]
    Field {
        path: PathBuf,
        field: String,
        reason: String,
    },
    /// A model file says otherwise than the manifest.
    #[error("{}: field {field} is {found}, but {} says {expected}", file.display(), manifest.display())]
    Disagrees {
        file: PathBuf,
        manifest: PathBuf,
        field: &'static str,
        found: String,
        expected: String,
    },
    /// A detector file of another kind than the manifest's detector saves.
    #[error("{}: holds a {found:?} detector, but {} fits {detector}, saved as {expected:?}", path.display(), manifest.display())]
    Kind {
        path: PathBuf,
        manifest: PathBuf,
        detector: String,
        expected: String,
        found: String,
    },
    /// A model file's calibration scores cannot calibrate.
    #[error("{}: fields normal_scores and normal_weights cannot calibrate p-values: {source}", path.display())]
    Calibration {
        path: PathBuf,
        #[source]
        source: FusionError,
    },
    #[error(transparent)]
    ModelFile(#[from] ModelFileError),
    #[error(transparent)]
    Detect(#[from] DetectError),
    /// A caller asks for another setting than the models were fitted with.
    #[error("{origin}: saved with {setting} {saved}, asked for {asked}")]
    Conflict {
        origin: String,
        setting: &'static str,
        saved: String,
        asked: String,
    },
    /// A caller sets an option for models it would change nothing in: an autoencoder's
    /// (attention, prior, epochs) for another detector, an encoder's (precision) for a
    /// detector of attribute rows.
    #[error("{origin}: {setting} applies to {applies_to} only, and these models are {detector}")]
    NotApplicable {
        origin: String,
        setting: &'static str,
        applies_to: &'static str,
        detector: String,
    },
    #[error("{origin}: the models are of host {saved}, the data is of {asked}")]
    Host {
        origin: String,
        saved: String,
        asked: String,
    },
    #[error("{origin}: models of the aspects {}, but the data of {host} has {}", saved.join("+"), data.join("+"))]
    Aspects {
        origin: String,
        host: String,
        saved: Vec<String>,
        data: Vec<String>,
    },
    /// A model may not score its aspect of the data.
    #[error("{origin}: {source}")]
    Mismatch {
        origin: String,
        #[source]
        source: Box<ModelMismatch>,
    },
    #[error("{origin}: the models read sentence embeddings of {spec}: give them that encoder")]
    NoEncoder { origin: String, spec: String },
    #[error("{origin}: the detector gave pattern {pattern} a non-finite score ({value})")]
    NonFiniteScore {
        origin: String,
        pattern: usize,
        value: f32,
    },
}

impl HuntModels {
    /// Save into `dir` (created if needed): each aspect's model file with its detector,
    /// then the manifest, last, so a save cut short leaves no manifest. Returns the
    /// manifest's path.
    pub fn save(&self, dir: &Path) -> Result<PathBuf, HuntModelError> {
        let encoder = self.saved_encoder()?;
        let manifest_path = dir.join(MANIFEST_FILE);
        remove_if_present(&manifest_path)?;
        let mut aspects = Vec::with_capacity(self.aspects.len());
        for a in &self.aspects {
            let path = save_model(
                &SaveRequest {
                    dir,
                    context: &a.context,
                    attributes: &a.attributes,
                    template: &self.settings.template,
                    combination: &self.combination,
                    representation: self.representation,
                    encoder,
                    auc: None,
                    calibrated_in_sample: a.in_sample_calibration,
                },
                &a.model,
            )?;
            aspects.push(ManifestAspect {
                aspect: a.context.aspect.short().to_string(),
                context: a.context.to_string(),
                model: file_name(&path)?,
                in_sample_calibration: a.in_sample_calibration,
            });
        }
        let partner = match &self.partner {
            None => None,
            Some(p) => {
                let sub = dir.join(PARTNER_DIR);
                std::fs::create_dir_all(&sub).map_err(|source| HuntModelError::Io {
                    path: sub.clone(),
                    source,
                })?;
                p.save(&sub)?;
                Some(PARTNER_DIR.to_string())
            }
        };
        let manifest = Manifest {
            format: HUNT_FORMAT,
            host: self.host.to_string(),
            combination: self.combination.clone(),
            representation: self.representation,
            encoder_identity: self.encoder_identity.clone(),
            settings: self.settings.clone(),
            aspects,
            left_out: self.left_out.clone(),
            partner,
        };
        manifest.write(&manifest_path)?;
        Ok(manifest_path)
    }

    /// Read the models saved in `dir` by [`HuntModels::save`], loading each detector with
    /// `registry` ([`crate::registry`], plus kinds of your own), and check every file
    /// against the manifest: host, aspect, combination, representation, template,
    /// encoder, detector kind, and calibration scores that can calibrate.
    pub fn load(dir: &Path, registry: &Registry) -> Result<HuntModels, HuntModelError> {
        Self::load_nested(dir, registry, true)
    }

    /// [`HuntModels::load`]; a partner's manifest (`may_have_partner` false) may not name
    /// a partner of its own, checked before anything is followed (a `partner` link back to
    /// its own directory would otherwise recurse without end).
    fn load_nested(
        dir: &Path,
        registry: &Registry,
        may_have_partner: bool,
    ) -> Result<HuntModels, HuntModelError> {
        let path = dir.join(MANIFEST_FILE);
        let manifest = Manifest::read(&path)?;
        if manifest.partner.is_some() && !may_have_partner {
            return Err(field(
                &path,
                "partner",
                "the models of a partner have no partner of their own",
            ));
        }
        let (host, contexts) = manifest.validate(&path)?;
        let aspects = manifest
            .aspects
            .iter()
            .zip(contexts)
            .map(|(entry, context)| {
                load_aspect(
                    &SavedAspect {
                        dir,
                        manifest_path: &path,
                        manifest: &manifest,
                        entry,
                        context,
                    },
                    registry,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let partner = match &manifest.partner {
            None => None,
            Some(name) => Some(Box::new(load_partner(
                &path, name, &host, &manifest, registry,
            )?)),
        };
        Ok(HuntModels {
            host,
            combination: manifest.combination,
            representation: manifest.representation,
            settings: manifest.settings,
            encoder_identity: manifest.encoder_identity,
            aspects,
            left_out: manifest.left_out,
            manifest: Some(path),
            partner,
        })
    }

    /// `encoder / detector[ & partner]`: what the ranking fuses.
    pub fn combination_with_partner(&self) -> String {
        match &self.partner {
            Some(p) => format!("{} & {}", self.combination, p.combination),
            None => self.combination.clone(),
        }
    }

    /// Refuse a setting `asked` for that these models were not fitted with, naming both
    /// values. Attention, prior and epochs exist only for an autoencoder, precision only
    /// for an encoder: asking for one of them with models that have none is refused too,
    /// not ignored.
    pub fn check_request(&self, asked: &HuntRequest) -> Result<(), HuntModelError> {
        let s = &self.settings;
        let autoencoder = s.detector.is_some_and(DetectorChoice::is_autoencoder);
        if let Some((setting, applies_to)) =
            asked.moot_setting(autoencoder, self.encoder_identity.is_some())
        {
            return Err(HuntModelError::NotApplicable {
                origin: self.origin(),
                setting,
                applies_to,
                detector: s.detector_name.clone(),
            });
        }
        let saved = self.encoder_identity.as_ref();
        let saved_precision = saved.map(|id| id.precision).unwrap_or_default();
        let saved_backend = saved.map(|id| id.backend).unwrap_or_default();
        let on_off = |b: &bool| if *b { "on" } else { "off" }.to_string();
        let detector = asked
            .detector
            .filter(|d| Some(*d) != s.detector)
            .map(|d| ("detector", s.detector_name.clone(), d.name().to_string()));
        let conflicts = [
            differs("host", asked.host.as_ref(), &self.host, HostId::to_string),
            detector,
            differs("attention", asked.attention.as_ref(), &s.attention, on_off),
            differs("prior", asked.prior.as_ref(), &s.prior, on_off),
            differs("epochs", asked.epochs.as_ref(), &s.epochs, usize::to_string),
            differs("fusion", asked.fusion.as_ref(), &s.fusion, |r| {
                r.name().to_string()
            }),
            differs("absent", asked.absent.as_ref(), &s.absent, |a| {
                a.name().to_string()
            }),
            differs(
                "partner",
                asked.partner.map(Some).as_ref(),
                &self.partner.as_ref().and_then(|p| p.settings.detector),
                |d| d.map_or_else(|| "none".to_string(), |d| d.name().to_string()),
            ),
            differs(
                "calibration",
                asked.calibration_fraction.as_ref(),
                &s.calibration_fraction,
                f64::to_string,
            ),
            differs("seed", asked.seed.as_ref(), &s.seed, u64::to_string),
            differs(
                "precision",
                asked.precision.as_ref(),
                &saved_precision,
                |p| p.name().to_string(),
            ),
            differs("backend", asked.backend.as_ref(), &saved_backend, |b| {
                b.name().to_string()
            }),
        ];
        match conflicts.into_iter().flatten().next() {
            Some((setting, saved, asked)) => Err(HuntModelError::Conflict {
                origin: self.origin(),
                setting,
                saved,
                asked,
            }),
            None => Ok(()),
        }
    }

    /// The encoder these models read (`None` for detectors of attribute rows): `spec`
    /// (a name or model directory), else the one they were fitted with; on `backend`,
    /// else the saved identity's; behind the embedding cache in `cache`, if any.
    /// [`HuntModels::rank`] refuses it if its identity is not the saved one.
    pub fn load_encoder(
        &self,
        spec: Option<&str>,
        backend: Option<Backend>,
        device: Option<&Device>,
        cache: Option<&Path>,
    ) -> crate::Result<Option<Arc<dyn SentenceEncoder>>> {
        if self.representation == Representation::Attributes {
            return Ok(None);
        }
        let Some(name) = spec.or(self.settings.encoder.as_deref()) else {
            return Err(HuntModelError::NoEncoder {
                origin: self.origin(),
                spec: "an encoder the manifest does not name".into(),
            }
            .into());
        };
        let backend = backend
            .or_else(|| self.encoder_identity.as_ref().map(|id| id.backend))
            .unwrap_or_default();
        let precision = self
            .encoder_identity
            .as_ref()
            .map(|id| id.precision)
            .unwrap_or_default();
        let (loaded, unavailable) = load_encoders(
            &[EncoderSpec::named(name)],
            backend,
            precision,
            device,
            cache,
        )?;
        match loaded.into_iter().next() {
            Some(l) => Ok(Some(l.encoder)),
            None => Err(RunnerError::NoEncoder { unavailable }),
        }
    }

    /// Where these models come from, for messages: the manifest, else the fit.
    pub(crate) fn origin(&self) -> String {
        match &self.manifest {
            Some(m) => m.display().to_string(),
            None => format!("the models fitted on {}", self.host),
        }
    }

    /// The encoder a model file records: its name and identity, for embeddings.
    fn saved_encoder(&self) -> Result<Option<(&str, &ModelIdentity)>, HuntModelError> {
        match (
            self.representation,
            self.settings.encoder.as_deref(),
            self.encoder_identity.as_ref(),
        ) {
            (Representation::Attributes, _, _) => Ok(None),
            (Representation::Embedding, Some(spec), Some(identity)) => Ok(Some((spec, identity))),
            (Representation::Embedding, _, _) => Err(HuntModelError::Mismatch {
                origin: self.origin(),
                source: Box::new(ModelMismatch::NoEncoderIdentity),
            }),
        }
    }
}

/// What manifests written before the `absent` setting existed did: fuse the present
/// aspects only.
fn absent_before_the_setting() -> Absent {
    Absent::Skip
}

/// `(setting, saved, asked)` when `asked` is given and differs from `saved`.
fn differs<T: PartialEq>(
    setting: &'static str,
    asked: Option<&T>,
    saved: &T,
    show: impl Fn(&T) -> String,
) -> Option<(&'static str, String, String)> {
    asked
        .filter(|a| *a != saved)
        .map(|a| (setting, show(saved), show(a)))
}

/// The manifest as stored.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format: u32,
    host: String,
    combination: String,
    representation: Representation,
    encoder_identity: Option<ModelIdentity>,
    settings: HuntSettings,
    aspects: Vec<ManifestAspect>,
    left_out: Vec<(String, String)>,
    /// The partner's models: a subdirectory (a plain name) with a manifest of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    partner: Option<String>,
}

/// One aspect of the manifest.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestAspect {
    /// `PE`, `PX`, ...
    aspect: String,
    /// The context fitted, e.g. `bovia/trace/PE`.
    context: String,
    /// The model file: a name in the manifest's directory.
    model: String,
    in_sample_calibration: bool,
}

impl Manifest {
    /// Read a manifest: its format first, then its fields.
    fn read(path: &Path) -> Result<Manifest, HuntModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| HuntModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let json = |source| HuntModelError::Json {
            path: path.to_path_buf(),
            source,
        };
        let doc: serde_json::Value = serde_json::from_str(&text).map_err(json)?;
        if let Some(obj) = doc.as_object() {
            let Some(format) = obj.get("format") else {
                return Err(field(
                    path,
                    "format",
                    "missing: not a manifest written by `apt-llm hunt --save-models`",
                ));
            };
            let found = format.as_u64().unwrap_or(0);
            if found != u64::from(HUNT_FORMAT) {
                return Err(HuntModelError::Format {
                    path: path.to_path_buf(),
                    found,
                });
            }
        }
        // Parsed again from the text: its errors name the line and column.
        serde_json::from_str(&text).map_err(json)
    }

    /// Write it as pretty JSON, through a temporary file so a reader never sees half.
    fn write(&self, path: &Path) -> Result<(), HuntModelError> {
        let text = serde_json::to_string_pretty(self).map_err(|source| HuntModelError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        let tmp = path.with_extension("json.tmp");
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| HuntModelError::Io { path: p, source }
        };
        std::fs::write(&tmp, text).map_err(io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io(path))
    }

    /// Check what the manifest says on its own; returns the host and each aspect's
    /// context.
    fn validate(&self, path: &Path) -> Result<(HostId, Vec<ContextId>), HuntModelError> {
        let host: HostId = self
            .host
            .parse()
            .map_err(|e| field(path, "host", format!("{:?}: {e}", self.host)))?;
        let f = self.settings.calibration_fraction;
        if !(f > 0.0 && f < 1.0) {
            return Err(field(
                path,
                "settings.calibration_fraction",
                format!("{f} is not within (0, 1)"),
            ));
        }
        if self.settings.prior && !self.settings.detector.is_none_or(|d| d.is_autoencoder()) {
            return Err(field(
                path,
                "settings.prior",
                format!(
                    "on, but the prior goes only in front of an autoencoder, not {}",
                    self.settings.detector_name
                ),
            ));
        }
        if let Some(d) = self.settings.detector
            && d.name() != self.settings.detector_name
        {
            return Err(field(
                path,
                "settings.detector_name",
                format!(
                    "{:?}, but the detector is {}",
                    self.settings.detector_name,
                    d.name()
                ),
            ));
        }
        if self.settings.detector == Some(DetectorChoice::Dbscan) {
            return Err(field(
                path,
                "settings.detector",
                "DBSCAN is transductive (it clusters the rows it scores): hunt cannot rank \
                 with a saved one",
            ));
        }
        self.validate_encoder(path)?;
        if self.aspects.is_empty() {
            return Err(field(
                path,
                "aspects",
                "empty: a hunt fuses at least one aspect",
            ));
        }
        let mut contexts: Vec<ContextId> = Vec::with_capacity(self.aspects.len());
        for (i, a) in self.aspects.iter().enumerate() {
            let context = a.validate(path, i, &host)?;
            if contexts.iter().any(|c| c.aspect == context.aspect) {
                return Err(field(
                    path,
                    &format!("aspects[{i}].aspect"),
                    format!("{} is given twice", a.aspect),
                ));
            }
            contexts.push(context);
        }
        Ok((host, contexts))
    }

    /// Embedding models need the encoder's name and identity; attribute models have none.
    fn validate_encoder(&self, path: &Path) -> Result<(), HuntModelError> {
        let named = (
            self.settings.encoder.is_some(),
            self.encoder_identity.is_some(),
        );
        match (self.representation, named) {
            (Representation::Embedding, (true, true))
            | (Representation::Attributes, (false, false)) => Ok(()),
            (Representation::Embedding, (false, _)) => Err(field(
                path,
                "settings.encoder",
                "missing: the models read sentence embeddings",
            )),
            (Representation::Embedding, (_, false)) => Err(field(
                path,
                "encoder_identity",
                "missing: the models read sentence embeddings",
            )),
            (Representation::Attributes, _) => Err(field(
                path,
                "encoder_identity",
                "an encoder is named, but the models read attribute rows",
            )),
        }
    }
}

impl ManifestAspect {
    /// The aspect's context, checked: a context of `host`, of the aspect named, not
    /// ProcessAll, its model a plain file name in the manifest's directory.
    fn validate(&self, path: &Path, i: usize, host: &HostId) -> Result<ContextId, HuntModelError> {
        let at = |name: &str| format!("aspects[{i}].{name}");
        let plain = apt_llm_detect::is_plain_file_name(&self.model);
        if !plain {
            return Err(field(
                path,
                &at("model"),
                format!(
                    "{:?} is not a file name in the manifest's directory",
                    self.model
                ),
            ));
        }
        let context: ContextId = self
            .context
            .parse()
            .map_err(|e| field(path, &at("context"), format!("{:?}: {e}", self.context)))?;
        if context.host() != *host {
            return Err(field(
                path,
                &at("context"),
                format!("{context} is not a context of host {host}"),
            ));
        }
        if context.aspect == Aspect::ProcessAll {
            return Err(field(
                path,
                &at("context"),
                format!("{context}: ProcessAll joins the other aspects and is not fused"),
            ));
        }
        if context.aspect.short() != self.aspect {
            return Err(field(
                path,
                &at("aspect"),
                format!("{:?}, but the context is {context}", self.aspect),
            ));
        }
        Ok(context)
    }
}

/// One aspect of a manifest being loaded.
struct SavedAspect<'a> {
    dir: &'a Path,
    manifest_path: &'a Path,
    manifest: &'a Manifest,
    entry: &'a ManifestAspect,
    context: ContextId,
}

impl SavedAspect<'_> {
    /// `found` must equal `expected`, what the manifest says.
    fn same<T: PartialEq + Debug>(
        &self,
        file: &Path,
        field: &'static str,
        found: &T,
        expected: &T,
    ) -> Result<(), HuntModelError> {
        if found == expected {
            return Ok(());
        }
        Err(HuntModelError::Disagrees {
            file: file.to_path_buf(),
            manifest: self.manifest_path.to_path_buf(),
            field,
            found: format!("{found:?}"),
            expected: format!("{expected:?}"),
        })
    }

    /// The model file must be the manifest's: aspect, context, what it reads and how.
    fn check_file(&self, path: &Path, file: &ModelFile) -> Result<(), HuntModelError> {
        let m = self.manifest;
        self.same(path, "aspect", &file.aspect, &self.entry.aspect)?;
        self.same(path, "trained_on", &file.trained_on, &self.entry.context)?;
        self.same(path, "combination", &file.combination, &m.combination)?;
        self.same(
            path,
            "representation",
            &file.representation,
            &m.representation,
        )?;
        self.same(path, "template", &file.template, &m.settings.template)?;
        self.same(path, "encoder", &file.encoder, &m.settings.encoder)?;
        self.same(
            path,
            "encoder_identity",
            &file.encoder_identity,
            &m.encoder_identity,
        )?;
        self.check_kind(path, file)
    }

    /// The detector file must be of the kind the manifest's detector saves (behind the
    /// prior when it is on). A detector of your own is whatever kind the registry loaded.
    fn check_kind(&self, path: &Path, file: &ModelFile) -> Result<(), HuntModelError> {
        let settings = &self.manifest.settings;
        let Some(detector) = settings.detector else {
            return Ok(());
        };
        let refuse = |path: PathBuf, expected: &str, found: String| HuntModelError::Kind {
            path,
            manifest: self.manifest_path.to_path_buf(),
            detector: settings.detector_name.clone(),
            expected: expected.to_string(),
            found,
        };
        let detector_path = path.parent().unwrap_or(Path::new(".")).join(&file.detector);
        if !settings.prior {
            if file.kind != detector.saved_kind() {
                return Err(refuse(
                    detector_path,
                    detector.saved_kind(),
                    file.kind.clone(),
                ));
            }
            return Ok(());
        }
        if file.kind != PRIOR_KIND {
            return Err(refuse(detector_path, PRIOR_KIND, file.kind.clone()));
        }
        let inner = prior_inner(&detector_path)?;
        let found = saved_kind(&inner)?;
        if found != detector.saved_kind() {
            return Err(refuse(inner, detector.saved_kind(), found));
        }
        Ok(())
    }
}

/// Load and check one aspect's model file.
fn load_aspect(
    saved: &SavedAspect<'_>,
    registry: &Registry,
) -> Result<AspectModel, HuntModelError> {
    let path = saved.dir.join(&saved.entry.model);
    let (file, model) = ModelFile::open(&path, registry)?;
    saved.check_file(&path, &file)?;
    if model.detector().transductive() {
        return Err(field(
            &path,
            "model",
            "a transductive detector (a row's score depends on the rows scored with it): held-out normals cannot calibrate it",
        ));
    }
    if !file.threshold.value.is_finite() {
        return Err(field(
            &path,
            "threshold.value",
            format!("{} is not finite", file.threshold.value),
        ));
    }
    let aspect = AspectModel {
        context: saved.context.clone(),
        attributes: file.attributes,
        model,
        in_sample_calibration: saved.entry.in_sample_calibration,
        file: Some(path.clone()),
    };
    aspect
        .calibrator()
        .map_err(|source| HuntModelError::Calibration { path, source })?;
    Ok(aspect)
}

/// The inner detector file a saved frequency prior points to.
fn prior_inner(prior: &Path) -> Result<PathBuf, HuntModelError> {
    #[derive(Deserialize)]
    struct PriorFile {
        model: PriorModel,
    }
    #[derive(Deserialize)]
    struct PriorModel {
        inner: String,
    }
    let text = std::fs::read_to_string(prior).map_err(|source| HuntModelError::Io {
        path: prior.to_path_buf(),
        source,
    })?;
    let doc: PriorFile =
        serde_json::from_str(&text).map_err(|e| field(prior, "model.inner", e.to_string()))?;
    Ok(prior
        .parent()
        .unwrap_or(Path::new("."))
        .join(doc.model.inner))
}

/// Where [`HuntModels::save`] puts a partner's models, beside the manifest.
const PARTNER_DIR: &str = "partner";

/// The detectors a hunt partner may be: they count attribute sets or attributes on the
/// attribute rows (no encoder), and so see what an embedding detector misses; the host
/// view pairs autoencoders with them.
pub const PARTNERS: [DetectorChoice; 2] = [DetectorChoice::Oc3, DetectorChoice::Avf];

/// Load and check the partner models a manifest names: a plain subdirectory name, models
/// of a partner detector, of the same host, seed and calibration share, with no partner
/// of their own.
fn load_partner(
    path: &Path,
    name: &str,
    host: &HostId,
    manifest: &Manifest,
    registry: &Registry,
) -> Result<HuntModels, HuntModelError> {
    if !apt_llm_detect::is_plain_file_name(name) {
        return Err(field(
            path,
            "partner",
            format!("{name:?} is not a directory name beside the manifest"),
        ));
    }
    let dir = path.parent().unwrap_or(Path::new(".")).join(name);
    let p = HuntModels::load_nested(&dir, registry, false)?;
    let s = &manifest.settings;
    let bad = |why: String| field(path, "partner", format!("{}: {why}", dir.display()));
    if !p.settings.detector.is_some_and(|d| PARTNERS.contains(&d)) {
        return Err(bad(format!(
            "{} is not a partner detector (OC3, AVF)",
            p.settings.detector_name
        )));
    }
    if p.settings.detector == s.detector {
        return Err(bad(format!(
            "{} is the detector itself: its evidence would count twice",
            p.settings.detector_name
        )));
    }
    if p.host != *host {
        return Err(bad(format!("models of host {}, not {host}", p.host)));
    }
    if p.settings.seed != s.seed || p.settings.calibration_fraction != s.calibration_fraction {
        return Err(bad(format!(
            "seed {} and calibration share {}, not {} and {}",
            p.settings.seed, p.settings.calibration_fraction, s.seed, s.calibration_fraction
        )));
    }
    Ok(p)
}

fn field(path: &Path, field: &str, reason: impl Into<String>) -> HuntModelError {
    HuntModelError::Field {
        path: path.to_path_buf(),
        field: field.to_string(),
        reason: reason.into(),
    }
}

/// A saved file's name, for the manifest.
fn file_name(path: &Path) -> Result<String, HuntModelError> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .ok_or_else(|| field(path, "model", "the saved file has no UTF-8 name"))
}

/// Remove `path` unless it is not there.
fn remove_if_present(path: &Path) -> Result<(), HuntModelError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(HuntModelError::Io {
            path: path.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}
