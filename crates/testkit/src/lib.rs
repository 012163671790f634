//! Finds the data and model fixtures that tests and benches use, without committing them.
//!
//! - Data: `APT_LLM_DATA`, else `../shared/datasets/adapt-e2` above the current directory.
//! - Tiny model fixtures: `APT_LLM_FIXTURES`, else `../shared/fixtures/models`.
//! - Real MiniLM: `APT_LLM_MINILM`, else where the embed crate resolves it.
//!
//! Tests that need a fixture say so with [`needs`] (`#[apt_llm_testkit::needs(data)]`
//! above `#[test]`): when the fixture is absent at build time `cargo test` lists them as
//! *ignored*, with the reason, and counts them. At run time a missing fixture makes the
//! test skip with a `SKIP` line written past the test harness's output capture (so it
//! shows), unless `APT_LLM_REQUIRE_FIXTURES=1` (set by `.ci/run`): then it fails, so CI
//! can never pass by skipping.

use std::io::Write as _;
use std::path::PathBuf;

pub use apt_llm_testkit_macros::needs;

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
            let msg = match other {
                Some(p) => format!("{what} not found at {} (set {env})", p.display()),
                None => format!("{what} not found (set {env})"),
            };
            if required() {
                panic!("{msg}; {REQUIRE_ENV} is set, so a missing fixture is an error");
            }
            // Straight to the process's stderr: libtest captures `eprintln!` of a passing
            // test, and a skip must not look like a pass.
            let test = std::thread::current()
                .name()
                .unwrap_or("this test")
                .to_string();
            let _ = writeln!(
                std::io::stderr(),
                "SKIP {test}: {msg} (it passes without running; {REQUIRE_ENV}=1 makes this a failure)"
            );
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
