//! Finding a model directory from a name, a path or a Hub id, offline.

use crate::config::ModelKind;
use crate::error::{EmbedError, Result};
use std::path::{Path, PathBuf};

/// apt-llm's cache directory: `APT_LLM_CACHE`, else `$XDG_CACHE_HOME/apt-llm`, else
/// `$HOME/.cache/apt-llm`. Fetched models live in `models/` below it.
pub fn cache_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("APT_LLM_CACHE") {
        return p.into();
    }
    if let Some(p) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(p).join("apt-llm");
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/apt-llm"))
        .unwrap_or_else(|| PathBuf::from(".apt-llm-cache"))
}

/// The Hugging Face hub cache: `HF_HUB_CACHE`, else `$HF_HOME/hub`, else
/// `$HOME/.cache/huggingface/hub` (as `huggingface_hub` and `hf-hub` lay it out:
/// `models--{org}--{name}/{blobs,refs,snapshots}`). `None` without any of the three.
pub fn hf_hub_cache_dir() -> Option<PathBuf> {
    std::env::var_os("HF_HUB_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HF_HOME").map(|h| PathBuf::from(h).join("hub")))
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/huggingface/hub"))
        })
}

fn hf_cache_snapshot(repo: &str) -> Option<PathBuf> {
    hf_cache_snapshot_in(&hf_hub_cache_dir()?, repo, "main")
}

/// The snapshot of Hub model `repo` in the Hugging Face cache `hub` that holds a
/// `config.json`: the one `refs/{revision}` points at, else the last complete one.
///
/// ```
/// let hub = tempfile::tempdir()?;
/// let snap = hub.path().join("models--org--tiny/snapshots/abc123");
/// std::fs::create_dir_all(&snap)?;
/// std::fs::write(snap.join("config.json"), "{}")?;
/// let found = apt_llm_embed::hf_cache_snapshot_in(hub.path(), "org/tiny", "main");
/// assert_eq!(found, Some(snap));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn hf_cache_snapshot_in(hub: &Path, repo: &str, revision: &str) -> Option<PathBuf> {
    let dir = hub.join(format!("models--{}", repo.replace('/', "--")));
    // Prefer the revision `refs/{revision}` points at, else any complete snapshot.
    if let Ok(rev) = std::fs::read_to_string(dir.join("refs").join(revision)) {
        let snap = dir.join("snapshots").join(rev.trim());
        if snap.join("config.json").is_file() {
            return Some(snap);
        }
    }
    let mut snaps: Vec<PathBuf> = std::fs::read_dir(dir.join("snapshots"))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("config.json").is_file())
        .collect();
    snaps.sort();
    snaps.pop()
}

/// A model directory's name for messages and [`crate::ModelIdentity::name`]: its last
/// component, except for a Hugging Face cache snapshot
/// (`models--{org}--{name}/snapshots/{commit}`), which is named after its repository.
pub(crate) fn model_name(dir: &Path) -> String {
    let last = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    let parent = dir.parent();
    if parent.and_then(last).as_deref() == Some("snapshots")
        && let Some(repo) = parent.and_then(Path::parent).and_then(last)
        && let Some(id) = repo.strip_prefix("models--")
    {
        return id.rsplit("--").next().unwrap_or(id).to_string();
    }
    last(dir).unwrap_or_else(|| dir.display().to_string())
}

fn complete(dir: &Path) -> bool {
    dir.join("config.json").is_file()
}

/// Resolve a model: an existing directory; a family name (`minilm`, `bert`, `albert`,
/// `distilbert`, `roberta`) or a Hub id (`sentence-transformers/all-MiniLM-L6-v2`) looked
/// up in apt-llm's cache (`models/<name>`) and in the Hugging Face cache. This build never
/// downloads: where nothing is found, the error says how to supply the directory.
pub fn resolve_model(spec: &str) -> Result<PathBuf> {
    let as_path = Path::new(spec);
    if as_path.is_dir() {
        return if complete(as_path) {
            Ok(as_path.to_path_buf())
        } else {
            Err(EmbedError::MissingFile {
                dir: as_path.to_path_buf(),
                what: "config.json".into(),
            })
        };
    }
    let hub_id = match spec.parse::<ModelKind>() {
        Ok(kind) => kind.default_hub_id().to_string(),
        Err(_) => spec.to_string(),
    };
    let short = hub_id.rsplit('/').next().unwrap_or(&hub_id).to_string();
    let ours = cache_dir().join("models").join(&short);
    if complete(&ours) {
        return Ok(ours);
    }
    if let Some(snap) = hf_cache_snapshot(&hub_id) {
        return Ok(snap);
    }
    let hint = format!(
        "fetch it from the Hugging Face Hub with `apt-llm models fetch {spec}` (the library: \
         `apt_llm_hub::fetch_model`), or download the directory of {hub_id} (config.json, \
         model.safetensors, tokenizer.json) and pass its path"
    );
    Err(EmbedError::ModelNotFound {
        name: spec.to_string(),
        reason: format!(
            "not a directory, not in {} nor in the Hugging Face cache (this lookup never \
             downloads): {hint}",
            ours.display()
        ),
    })
}
