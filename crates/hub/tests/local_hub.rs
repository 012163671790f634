//! Fetching through hf-hub from a local HTTP server that serves the tiny model fixtures in
//! the Hub's URL layout (`{endpoint}/{repo}/resolve/{revision}/{file}` with etag,
//! x-repo-commit and range answers, and `api/models/{repo}/revision/{revision}`), so the
//! whole path runs without the outside network: listing, download into the Hugging Face
//! cache layout, loading with the embed crate, offline mode, and the refusals.

use apt_llm_embed::{EncoderOptions, Pooling, SentenceEncoder, TransformerEncoder};
use apt_llm_hub::{HubError, HubOptions, cached_model, fetch_model};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

type Files = BTreeMap<String, Vec<u8>>;

/// A tiny Hub: repositories of in-memory files, and a log of the paths asked for.
struct LocalHub {
    endpoint: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl LocalHub {
    fn start(repos: BTreeMap<String, Files>) -> LocalHub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let repos = Arc::new(repos);
        let l = Arc::clone(&log);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (repos, log) = (Arc::clone(&repos), Arc::clone(&l));
                std::thread::spawn(move || serve(conn, &repos, &log));
            }
        });
        LocalHub { endpoint, log }
    }

    fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn clear(&self) {
        self.log.lock().unwrap().clear();
    }
}

fn fnv(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    format!("{h:016x}{:08x}", bytes.len())
}

/// One request per connection (answered with `Connection: close`).
fn serve(conn: TcpStream, repos: &BTreeMap<String, Files>, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut range = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.trim().eq_ignore_ascii_case("range")
        {
            range = Some(v.trim().to_string());
        }
    }
    log.lock().unwrap().push(path.clone());
    let mut out = conn;
    let respond = |out: &mut TcpStream, status: &str, headers: &[(String, String)], body: &[u8]| {
        let mut head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let _ = out.write_all(head.as_bytes());
        let _ = out.write_all(body);
        let _ = out.flush();
    };
    let not_found = |out: &mut TcpStream| {
        respond(
            out,
            "404 Not Found",
            &[("X-Error-Code".into(), "EntryNotFound".into())],
            b"not found",
        )
    };
    // api/models/{repo}/revision/{rev}
    if let Some(rest) = path.strip_prefix("/api/models/") {
        let Some((repo, _rev)) = rest.rsplit_once("/revision/") else {
            return not_found(&mut out);
        };
        let Some(files) = repos.get(repo) else {
            return not_found(&mut out);
        };
        let siblings: Vec<_> = files
            .keys()
            .map(|f| serde_json::json!({ "rfilename": f }))
            .collect();
        let body = serde_json::json!({ "id": repo, "sha": COMMIT, "siblings": siblings });
        return respond(
            &mut out,
            "200 OK",
            &[("Content-Type".into(), "application/json".into())],
            body.to_string().as_bytes(),
        );
    }
    // {repo}/resolve/{rev}/{file}
    let Some((repo, rest)) = path[1..].split_once("/resolve/") else {
        return not_found(&mut out);
    };
    let Some((_rev, file)) = rest.split_once('/') else {
        return not_found(&mut out);
    };
    let Some(body) = repos.get(repo).and_then(|f| f.get(file)) else {
        return not_found(&mut out);
    };
    let meta = vec![
        ("ETag".to_string(), format!("\"{}\"", fnv(body))),
        ("X-Repo-Commit".to_string(), COMMIT.to_string()),
    ];
    match range.as_deref().and_then(|r| r.strip_prefix("bytes=")) {
        Some(r) => {
            let (a, b) = r.split_once('-').unwrap();
            let start: usize = a.parse().unwrap();
            let end = if b.is_empty() {
                body.len().saturating_sub(1)
            } else {
                b.parse::<usize>().unwrap().min(body.len() - 1)
            };
            let mut headers = meta;
            headers.push((
                "Content-Range".into(),
                format!("bytes {start}-{end}/{}", body.len()),
            ));
            respond(
                &mut out,
                "206 Partial Content",
                &headers,
                &body[start..=end],
            );
        }
        None => respond(&mut out, "200 OK", &meta, body),
    }
}

fn read_dir(dir: &Path) -> Files {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn golden_texts(dir: &Path) -> Vec<String> {
    let g: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("golden.json")).unwrap()).unwrap();
    g["single"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap().to_string())
        .collect()
}

fn downloads(hub: &LocalHub) -> Vec<String> {
    hub.requests()
        .into_iter()
        .filter(|p| p.contains("/resolve/"))
        .map(|p| p.rsplit_once("/resolve/main/").unwrap().1.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[apt_llm_testkit::needs(models)]
#[test]
fn fetches_tiny_models_from_a_local_hub_into_the_hf_cache() {
    let Some(fixtures) = apt_llm_testkit::model_fixtures() else {
        return;
    };
    let bert = read_dir(&fixtures.join("tiny-bert"));
    let roberta = read_dir(&fixtures.join("tiny-roberta"));
    // A sentence-transformers layout: CLS pooling and Normalize declared beside the model.
    let mut st = bert.clone();
    st.insert(
        "modules.json".into(),
        br#"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
            {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
            {"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]"#
            .to_vec(),
    );
    st.insert(
        "1_Pooling/config.json".into(),
        br#"{"word_embedding_dimension":32,"pooling_mode_cls_token":true,"pooling_mode_mean_tokens":false}"#
            .to_vec(),
    );
    st.insert("README.md".into(), b"# not for the encoder".to_vec());
    // Weights only as pytorch_model.bin.
    let mut pt = bert.clone();
    let weights = pt.remove("model.safetensors").unwrap();
    pt.insert("pytorch_model.bin".into(), weights);
    let hub = LocalHub::start(BTreeMap::from([
        ("test-org/tiny-bert".to_string(), bert),
        ("tiny-roberta".to_string(), roberta),
        ("test-org/tiny-st".to_string(), st),
        ("test-org/tiny-pt".to_string(), pt),
    ]));
    let cache = tempfile::tempdir().unwrap();
    let opts = HubOptions::new(cache.path()).with_endpoint(&hub.endpoint);

    // Download: exactly the files the encoder reads, into the cache layout.
    let got = fetch_model("test-org/tiny-bert", &opts).unwrap();
    let repo_dir = cache.path().join("models--test-org--tiny-bert");
    assert_eq!(got.dir, repo_dir.join("snapshots").join(COMMIT));
    assert_eq!(
        std::fs::read_to_string(repo_dir.join("refs/main")).unwrap(),
        COMMIT
    );
    assert_eq!(
        downloads(&hub),
        [
            "config.json",
            "model.safetensors",
            "tokenizer.json",
            "tokenizer_config.json"
        ]
    );
    assert_eq!(got.downloaded.len(), 4);
    for f in &got.files {
        let p = got.dir.join(f);
        assert!(p.is_file(), "{}", p.display());
        #[cfg(unix)]
        assert!(
            std::fs::symlink_metadata(&p)
                .unwrap()
                .file_type()
                .is_symlink(),
            "snapshots link into blobs/"
        );
        assert_eq!(
            std::fs::read(&p).unwrap(),
            std::fs::read(fixtures.join("tiny-bert").join(f)).unwrap(),
            "{f}"
        );
    }
    let blobs = std::fs::read_dir(repo_dir.join("blobs"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_none_or(|x| x != "lock"))
        .count();
    assert_eq!(
        blobs, 4,
        "one blob per file (hf-hub leaves its .lock files beside them)"
    );

    // The snapshot loads, is named after the repository, and embeds as the fixture does.
    let texts = golden_texts(&fixtures.join("tiny-bert"));
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let fetched = TransformerEncoder::from_dir(&got.dir, EncoderOptions::default()).unwrap();
    let direct =
        TransformerEncoder::from_dir(fixtures.join("tiny-bert"), EncoderOptions::default())
            .unwrap();
    assert_eq!(fetched.identity().name, "tiny-bert");
    assert_eq!(
        fetched.identity().fingerprint,
        direct.identity().fingerprint
    );
    assert_eq!(
        fetched.encode(&refs).unwrap(),
        direct.encode(&refs).unwrap()
    );

    // Again: the listing is asked for, nothing is downloaded.
    hub.clear();
    let again = fetch_model("test-org/tiny-bert", &opts).unwrap();
    assert_eq!(again.dir, got.dir);
    assert!(again.downloaded.is_empty());
    assert!(downloads(&hub).is_empty(), "{:?}", hub.requests());

    // Offline: the cache answers without a request ...
    hub.clear();
    let offline = opts.clone().with_offline(true);
    let cached = fetch_model("test-org/tiny-bert", &offline).unwrap();
    assert_eq!(cached.dir, got.dir);
    assert_eq!(
        cached_model("test-org/tiny-bert", &opts).unwrap().dir,
        got.dir
    );
    // ... and a model that is not cached is a clear error, still without a request.
    let e = fetch_model("tiny-roberta", &offline).unwrap_err();
    assert!(matches!(e, HubError::NotCached { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.starts_with("tiny-roberta: offline (HF_HUB_OFFLINE is set)")
            && msg.contains(&cache.path().display().to_string()),
        "{msg}"
    );
    assert!(hub.requests().is_empty(), "{:?}", hub.requests());

    // A one-part id; a byte-level BPE tokenizer (tokenizer.json present: no vocab files).
    hub.clear();
    let r = fetch_model("tiny-roberta", &opts).unwrap();
    assert!(r.dir.starts_with(cache.path().join("models--tiny-roberta")));
    assert_eq!(
        downloads(&hub),
        [
            "config.json",
            "model.safetensors",
            "tokenizer.json",
            "tokenizer_config.json"
        ]
    );
    let t = golden_texts(&fixtures.join("tiny-roberta"));
    let t: Vec<&str> = t.iter().map(String::as_str).collect();
    assert_eq!(
        TransformerEncoder::from_dir(&r.dir, EncoderOptions::default())
            .unwrap()
            .encode(&t)
            .unwrap(),
        TransformerEncoder::from_dir(fixtures.join("tiny-roberta"), EncoderOptions::default())
            .unwrap()
            .encode(&t)
            .unwrap()
    );

    // sentence-transformers files (one in a subfolder) come along and take effect.
    hub.clear();
    let s = fetch_model("test-org/tiny-st", &opts).unwrap();
    assert!(s.files.contains(&"1_Pooling/config.json".to_string()));
    assert!(!downloads(&hub).contains(&"README.md".to_string()));
    let enc = TransformerEncoder::from_dir(&s.dir, EncoderOptions::default()).unwrap();
    assert_eq!(enc.identity().pooling, Pooling::Cls);
    assert!(enc.identity().normalize);

    // pytorch_model.bin only: refused before any download, naming the repository.
    hub.clear();
    let e = fetch_model("test-org/tiny-pt", &opts).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("test-org/tiny-pt: no model.safetensors (its weights: pytorch_model.bin)"),
        "{e}"
    );
    assert!(downloads(&hub).is_empty());
    assert!(!cache.path().join("models--test-org--tiny-pt").exists());

    // No such repository: the Hub's 404, said as such.
    let e = fetch_model("test-org/nothing", &opts).unwrap_err();
    assert!(matches!(e, HubError::RepoNotFound { .. }), "{e:?}");
    assert!(e.to_string().contains(&hub.endpoint), "{e}");
}

#[test]
fn an_unreachable_endpoint_is_said_as_such() {
    // A port nobody listens on: bind, note it, close.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cache = tempfile::tempdir().unwrap();
    let opts = HubOptions::new(cache.path()).with_endpoint(format!("http://127.0.0.1:{port}"));
    let e = fetch_model("minilm", &opts).unwrap_err();
    assert!(e.is_unreachable(), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(
            "sentence-transformers/all-MiniLM-L6-v2: cannot reach the Hub at http://127.0.0.1:"
        ),
        "{msg}"
    );
}
