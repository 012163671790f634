//! Finds the data and model fixtures that tests and benches use, without committing them.
//!
//! - Data: `APT_LLM_DATA`, else `../shared/datasets/adapt-e2` above the current directory.
//! - Tiny model fixtures: `APT_LLM_FIXTURES`, else `../shared/fixtures/models`.
//! - Real MiniLM: `APT_LLM_MINILM`, else where the embed crate resolves it.
//!
//! When a fixture is missing a test skips with a message, unless
//! `APT_LLM_REQUIRE_FIXTURES=1` (set by `.ci/run`): then it fails, so CI can never pass
//! by skipping.

use std::path::{Path, PathBuf};

/// Environment variable that turns a missing fixture into a test failure.
pub const REQUIRE_ENV: &str = "APT_LLM_REQUIRE_FIXTURES";

fn required() -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| v != "0" && !v.is_empty())
}

fn search_up(rel: &str) -> Option<PathBuf> {
    let mut dir = std::env::current_dir().ok()?;
    loop {
        let cand = dir.join(rel);
        if cand.exists() {
            return Some(cand);
        }
        if !dir.pop() {
            return None;
        }
    }
}

/// Resolve a fixture: `env` if set, else `fallback` searched upward. Returns `None` (after
/// printing why) when missing and not required; panics when missing and required.
pub fn locate(what: &str, env: &str, fallback: Option<PathBuf>) -> Option<PathBuf> {
    let p = std::env::var_os(env).map(PathBuf::from).or(fallback);
    match p {
        Some(p) if p.exists() => Some(p),
        other => {
            let msg = format!(
                "{what} not found (set {env}; looked at {:?})",
                other.as_deref().map(Path::display).map(|d| d.to_string())
            );
            if required() {
                panic!("{msg}; {REQUIRE_ENV} is set, so a missing fixture is an error");
            }
            eprintln!("SKIP: {msg}");
            None
        }
    }
}

/// The ADAPT engagement-2 data root.
pub fn data_root() -> Option<PathBuf> {
    locate(
        "ADAPT data",
        "APT_LLM_DATA",
        search_up("../shared/datasets/adapt-e2"),
    )
}

/// The directory holding `tiny-bert`, `tiny-roberta`, ... and the MiniLM golden file.
pub fn model_fixtures() -> Option<PathBuf> {
    locate(
        "model fixtures",
        "APT_LLM_FIXTURES",
        search_up("../shared/fixtures/models"),
    )
}

/// The sentence file the encoder benches time.
pub fn bench_sentences() -> Option<PathBuf> {
    locate(
        "bench sentences",
        "APT_LLM_BENCH_SENTENCES",
        search_up("../shared/bench/minilm-sentences-2000.txt"),
    )
}

/// The real all-MiniLM-L6-v2 directory: `APT_LLM_MINILM`, else `cached` (pass
/// `apt_llm_embed::resolve_model("minilm").ok()`, where `apt-llm models fetch minilm` puts it).
pub fn minilm_dir(cached: Option<PathBuf>) -> Option<PathBuf> {
    locate(
        "all-MiniLM-L6-v2 model (run `apt-llm models fetch minilm`)",
        "APT_LLM_MINILM",
        cached,
    )
}
