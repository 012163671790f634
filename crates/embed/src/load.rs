//! Choosing a backend at run time.

use crate::common::{Backend, EncoderOptions, SentenceEncoder};
use crate::encoder::TransformerEncoder;
#[cfg(not(feature = "tch"))]
use crate::error::EmbedError;
use crate::error::Result;
use std::path::Path;

/// Load a model directory with the chosen backend, on its default (CPU) device.
///
/// ```no_run
/// use apt_llm_embed::{load_encoder, resolve_model, Backend, EncoderOptions};
/// let enc = load_encoder(resolve_model("minilm")?, EncoderOptions::default(), Backend::Burn)?;
/// assert_eq!(enc.dim(), 384);
/// # Ok::<(), apt_llm_embed::EmbedError>(())
/// ```
pub fn load_encoder(
    dir: impl AsRef<Path>,
    options: EncoderOptions,
    backend: Backend,
) -> Result<Box<dyn SentenceEncoder>> {
    match backend {
        Backend::Burn => Ok(Box::new(TransformerEncoder::from_dir(dir, options)?)),
        #[cfg(feature = "tch")]
        Backend::Tch => Ok(Box::new(crate::tch_backend::TchEncoder::from_dir(
            dir, options,
        )?)),
        #[cfg(not(feature = "tch"))]
        Backend::Tch => Err(EmbedError::BackendUnavailable {
            backend: "tch",
            reason: "this build lacks the `tch` feature (see the README: \
                     scripts/setup_libtorch.py, then build with `--features tch`)"
                .into(),
        }),
    }
}
