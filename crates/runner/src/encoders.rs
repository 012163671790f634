//! The encoders of an experiment: the transformers of apt-llm by name, or any
//! [`SentenceEncoder`] of yours, each labelled by its identity.

use crate::error::{Result, RunnerError};
use apt_llm_embed::{CachedEncoder, EncoderOptions, SentenceEncoder, load_encoder, resolve_model};
use std::sync::Arc;

/// An encoder to try.
#[derive(Clone)]
pub enum EncoderSpec {
    /// A family name (`minilm`, `bert`, ...), Hub id or model directory, resolved and
    /// loaded with the configuration's backend when the experiment starts; one that
    /// cannot be loaded is reported and skipped.
    Named(String),
    /// An encoder of yours (or one loaded already), used as it is. Its
    /// [`identity`](SentenceEncoder::identity) labels its rows, so give each its own
    /// family or fingerprint. It is not put behind the embedding cache: wrap it in a
    /// [`CachedEncoder`] yourself if it is slow.
    Custom(Arc<dyn SentenceEncoder>),
}

impl EncoderSpec {
    /// A transformer by family name, Hub id or directory.
    pub fn named(name: impl Into<String>) -> EncoderSpec {
        EncoderSpec::Named(name.into())
    }
    /// MiniLM (all-MiniLM-L6-v2), the default.
    pub fn minilm() -> EncoderSpec {
        EncoderSpec::named("minilm")
    }
    /// An encoder of yours.
    pub fn custom(encoder: impl SentenceEncoder + 'static) -> EncoderSpec {
        EncoderSpec::Custom(Arc::new(encoder))
    }
    /// How the configuration names it: the name given, or a custom encoder's identity
    /// name.
    pub fn describe(&self) -> String {
        match self {
            EncoderSpec::Named(n) => n.clone(),
            EncoderSpec::Custom(e) => e.identity().name.clone(),
        }
    }
}

impl std::fmt::Debug for EncoderSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EncoderSpec::Named(n) => f.debug_tuple("Named").field(n).finish(),
            EncoderSpec::Custom(e) => f.debug_tuple("Custom").field(e.identity()).finish(),
        }
    }
}

impl From<&str> for EncoderSpec {
    fn from(name: &str) -> EncoderSpec {
        EncoderSpec::named(name)
    }
}

impl From<String> for EncoderSpec {
    fn from(name: String) -> EncoderSpec {
        EncoderSpec::Named(name)
    }
}

/// A loaded encoder and the label of its rows.
pub(crate) struct Loaded {
    /// Unique within the run: the family, with the checkpoint name (or fingerprint) added
    /// when two encoders of one family are compared, so their rows never merge.
    pub label: String,
    /// How the configuration named it (recorded in saved models).
    pub spec: String,
    pub encoder: Arc<dyn SentenceEncoder>,
}

/// The loaded encoders, and those that could not be loaded with the reason.
pub(crate) type LoadedEncoders = (Vec<Loaded>, Vec<(String, String)>);

/// Load every encoder of the configuration; those that cannot be loaded come back with
/// the reason. Two encoders with one identity are an error.
pub(crate) fn load_encoders(
    specs: &[EncoderSpec],
    backend: apt_llm_embed::Backend,
    precision: apt_llm_embed::Precision,
    device: Option<&apt_llm_embed::Device>,
    cache: Option<&std::path::Path>,
) -> Result<LoadedEncoders> {
    let options = || EncoderOptions {
        device: device.cloned(),
        precision,
        ..Default::default()
    };
    let mut ok: Vec<(String, Arc<dyn SentenceEncoder>)> = Vec::new();
    let mut missing = Vec::new();
    for spec in specs {
        match spec {
            EncoderSpec::Custom(e) => ok.push((spec.describe(), e.clone())),
            EncoderSpec::Named(name) => {
                let attempt =
                    resolve_model(name).and_then(|dir| load_encoder(dir, options(), backend));
                let loaded = attempt.and_then(|enc| match cache {
                    Some(dir) => {
                        Ok(Arc::new(CachedEncoder::new(enc, dir)?) as Arc<dyn SentenceEncoder>)
                    }
                    None => Ok(Arc::from(enc)),
                });
                match loaded {
                    Ok(enc) => ok.push((name.clone(), enc)),
                    Err(e) => missing.push((name.clone(), e.to_string())),
                }
            }
        }
    }
    let labels = labels(&ok)?;
    let loaded = ok
        .into_iter()
        .zip(labels)
        .map(|((spec, encoder), label)| Loaded {
            label,
            spec,
            encoder,
        })
        .collect();
    Ok((loaded, missing))
}

/// The family alone when it is unique in the run; otherwise the family with the
/// checkpoint name, or with the fingerprint when the names agree too.
fn labels(encoders: &[(String, Arc<dyn SentenceEncoder>)]) -> Result<Vec<String>> {
    let ids: Vec<_> = encoders.iter().map(|(_, e)| e.identity()).collect();
    for (i, a) in ids.iter().enumerate() {
        if ids[..i].iter().any(|b| b.key() == a.key()) {
            return Err(RunnerError::DuplicateEncoder(format!(
                "{} ({})",
                encoders[i].0,
                a.key()
            )));
        }
    }
    Ok(ids
        .iter()
        .map(|a| {
            let same_family = ids.iter().filter(|b| b.family == a.family).count();
            let same_name = ids
                .iter()
                .filter(|b| b.family == a.family && b.name == a.name)
                .count();
            match (same_family, same_name) {
                (1, _) => a.family.clone(),
                (_, 1) => format!("{} ({})", a.family, a.name),
                _ => format!(
                    "{} ({})",
                    a.family,
                    a.fingerprint.chars().take(12).collect::<String>()
                ),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use apt_llm_embed::ModelIdentity;
    use ndarray::Array2;

    struct Fake(ModelIdentity);
    impl SentenceEncoder for Fake {
        fn identity(&self) -> &ModelIdentity {
            &self.0
        }
        fn encode(&self, s: &[&str]) -> apt_llm_embed::Result<Array2<f32>> {
            Ok(Array2::zeros((s.len(), self.0.dim)))
        }
    }
    fn fake(family: &str, name: &str, fp: &str) -> (String, Arc<dyn SentenceEncoder>) {
        (
            name.into(),
            Arc::new(Fake(ModelIdentity::new(family, name, 2, fp))),
        )
    }

    #[test]
    fn two_checkpoints_of_one_family_get_their_own_labels() {
        let l = labels(&[
            fake("BERT", "bert-base", "a"),
            fake("BERT", "bert-large", "b"),
            fake("MiniLM", "m", "c"),
        ])
        .unwrap();
        assert_eq!(l, ["BERT (bert-base)", "BERT (bert-large)", "MiniLM"]);
        let l = labels(&[fake("BERT", "x", "aaaa"), fake("BERT", "x", "bbbb")]).unwrap();
        assert_eq!(l, ["BERT (aaaa)", "BERT (bbbb)"]);
        assert!(matches!(
            labels(&[fake("BERT", "x", "a"), fake("BERT", "x", "a")]),
            Err(RunnerError::DuplicateEncoder(_))
        ));
    }
}
