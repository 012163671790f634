//! `#[needs(data)]`, `#[needs(models)]`, `#[needs(data, models)]`: put above `#[test]` on a
//! test that needs the shared fixtures (use it as `apt_llm_testkit::needs`).
//!
//! When a fixture is absent while the test is compiled, the test gets
//! `#[ignore = "needs …"]`, so `cargo test` lists it as *ignored* with the reason and counts
//! it in its summary instead of passing it silently. With `APT_LLM_REQUIRE_FIXTURES=1` (as
//! CI sets) nothing is ignored: the test runs and a missing fixture fails it.
//!
//! Fixtures are looked up as `apt_llm_testkit` does at run time: the variable, else the
//! path searched upward from the crate's directory. The expansion reads the variables
//! through `option_env!`, so cargo rebuilds the test when one of them changes.
//! `cargo test -- --include-ignored` runs the ignored tests anyway (they look again at run
//! time).

use proc_macro::TokenStream;
use std::path::{Path, PathBuf};

/// The environment variable that makes a missing fixture a failure (see `apt_llm_testkit`).
const REQUIRE_ENV: &str = "APT_LLM_REQUIRE_FIXTURES";

struct Fixture {
    name: &'static str,
    what: &'static str,
    env: &'static str,
    rel: &'static str,
}

const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "data",
        what: "the ADAPT data",
        env: "APT_LLM_DATA",
        rel: "../shared/datasets/adapt-e2",
    },
    Fixture {
        name: "models",
        what: "the tiny model fixtures",
        env: "APT_LLM_FIXTURES",
        rel: "../shared/fixtures/models",
    },
];

fn search_up(start: &Path, rel: &str) -> Option<PathBuf> {
    let mut dir = start.to_path_buf();
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

fn present(f: &Fixture) -> bool {
    match std::env::var_os(f.env).filter(|v| !v.is_empty()) {
        Some(p) => Path::new(&p).exists(),
        None => std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .or_else(|| std::env::current_dir().ok())
            .and_then(|d| search_up(&d, f.rel))
            .is_some(),
    }
}

fn error(msg: &str) -> TokenStream {
    format!("::core::compile_error!({msg:?});")
        .parse()
        .expect("a compile_error! invocation parses")
}

/// Mark a test as needing shared fixtures: `#[needs(data)]`, `#[needs(models)]` or both.
#[proc_macro_attribute]
pub fn needs(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut wanted: Vec<&Fixture> = Vec::new();
    for tt in attr {
        match tt {
            proc_macro::TokenTree::Ident(i) => {
                let name = i.to_string();
                match FIXTURES.iter().find(|f| f.name == name) {
                    Some(f) => wanted.push(f),
                    None => {
                        return error(&format!(
                            "#[needs]: unknown fixture `{name}` (known: data, models)"
                        ));
                    }
                }
            }
            proc_macro::TokenTree::Punct(p) if p.as_char() == ',' => {}
            other => return error(&format!("#[needs]: unexpected `{other}`")),
        }
    }
    if wanted.is_empty() {
        return error("#[needs]: name the fixtures, e.g. #[needs(data)] or #[needs(models)]");
    }
    let required = std::env::var(REQUIRE_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
    let mut out = String::new();
    // Rebuild the test when a variable that decides it changes.
    for env in wanted.iter().map(|f| f.env).chain([REQUIRE_ENV]) {
        out.push_str(&format!(
            "const _: ::core::option::Option<&str> = ::core::option_env!({env:?});\n"
        ));
    }
    let missing: Vec<String> = wanted
        .iter()
        .filter(|f| !present(f))
        .map(|f| format!("{} ({} or {})", f.what, f.env, f.rel))
        .collect();
    if !missing.is_empty() && !required {
        let reason = format!(
            "needs {}, absent when built; see README, Tests",
            missing.join(" and ")
        );
        out.push_str(&format!("#[ignore = {reason:?}]\n"));
    }
    let mut ts: TokenStream = out.parse().expect("generated tokens parse");
    ts.extend(item);
    ts
}
