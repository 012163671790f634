//! Parity with Hugging Face transformers: the tiny random checkpoints of every family and
//! the real all-MiniLM-L6-v2, against golden outputs computed by transformers. The same
//! suite runs on every backend compiled in: burn always, rust-bert + libtorch with the
//! `tch` feature.

use apt_llm_embed::{
    EmbedError, EncoderOptions, LongInput, ModelKind, Pooling, SentenceEncoder, TransformerEncoder,
};
use ndarray::Array2;
use serde_json::Value;
use std::path::Path;

/// What the suite needs of an encoder beyond the trait.
trait Probe: SentenceEncoder + Sized + std::fmt::Debug {
    fn load(dir: &Path, options: EncoderOptions) -> Result<Self, EmbedError>;
    fn tokenize(&self, sentences: &[&str]) -> Result<Vec<Vec<u32>>, EmbedError>;
    fn hidden_states(&self, ids: &[u32]) -> Result<(Array2<f32>, Option<Vec<f32>>), EmbedError>;
}

macro_rules! probe {
    ($t:ty) => {
        impl Probe for $t {
            fn load(dir: &Path, options: EncoderOptions) -> Result<Self, EmbedError> {
                <$t>::from_dir(dir, options)
            }
            fn tokenize(&self, sentences: &[&str]) -> Result<Vec<Vec<u32>>, EmbedError> {
                <$t>::tokenize(self, sentences)
            }
            fn hidden_states(
                &self,
                ids: &[u32],
            ) -> Result<(Array2<f32>, Option<Vec<f32>>), EmbedError> {
                <$t>::hidden_states(self, ids)
            }
        }
    };
}
probe!(TransformerEncoder);

/// The burn encoder forced onto burn's generic CPU kernels (the default CPU encoder runs
/// the `gemm` fast path), so both implementations answer to the golden outputs.
#[derive(Debug)]
struct BurnKernels(TransformerEncoder);

impl SentenceEncoder for BurnKernels {
    fn identity(&self) -> &apt_llm_embed::ModelIdentity {
        self.0.identity()
    }
    fn encode(&self, sentences: &[&str]) -> Result<Array2<f32>, EmbedError> {
        self.0.encode(sentences)
    }
    fn encode_with_stats(
        &self,
        sentences: &[&str],
    ) -> Result<(Array2<f32>, apt_llm_embed::EncodeStats), EmbedError> {
        self.0.encode_with_stats(sentences)
    }
}

impl Probe for BurnKernels {
    fn load(dir: &Path, options: EncoderOptions) -> Result<Self, EmbedError> {
        let options = EncoderOptions {
            cpu_kernels: apt_llm_embed::CpuKernels::Burn,
            ..options
        };
        let enc = TransformerEncoder::from_dir(dir, options)?;
        assert!(!enc.is_fast_path());
        Ok(BurnKernels(enc))
    }
    fn tokenize(&self, sentences: &[&str]) -> Result<Vec<Vec<u32>>, EmbedError> {
        self.0.tokenize(sentences)
    }
    fn hidden_states(&self, ids: &[u32]) -> Result<(Array2<f32>, Option<Vec<f32>>), EmbedError> {
        self.0.hidden_states(ids)
    }
}
#[cfg(feature = "tch")]
probe!(apt_llm_embed::TchEncoder);

/// The suite, once per backend.
macro_rules! suite {
    ($m:ident, $t:ty) => {
        mod $m {
            use super::*;
            type E = $t;
            #[apt_llm_testkit::needs(models)]
            #[test]
            fn tiny_bert() {
                check_tiny::<E>("tiny-bert", ModelKind::Bert);
            }
            #[apt_llm_testkit::needs(models)]
            #[test]
            fn tiny_distilbert() {
                check_tiny::<E>("tiny-distilbert", ModelKind::DistilBert);
            }
            #[apt_llm_testkit::needs(models)]
            #[test]
            fn tiny_roberta() {
                check_tiny::<E>("tiny-roberta", ModelKind::Roberta);
            }
            #[apt_llm_testkit::needs(models)]
            #[test]
            fn tiny_albert() {
                check_tiny::<E>("tiny-albert", ModelKind::Albert);
            }
            #[apt_llm_testkit::needs(models)]
            #[test]
            fn real_minilm_matches_sentence_transformers() {
                check_minilm::<E>();
            }
            #[apt_llm_testkit::needs(models)]
            #[test]
            fn embeddings_do_not_depend_on_batch_company_or_size() {
                check_batch_invariance::<E>();
            }
            #[apt_llm_testkit::needs(models)]
            #[test]
            fn long_inputs_are_truncated_and_counted_or_windowed() {
                check_long_inputs::<E>();
            }
            #[apt_llm_testkit::needs(models)]
            #[test]
            fn bad_model_directories_are_errors() {
                check_bad_dirs::<E>();
            }
            #[test]
            fn encoders_are_send_and_sync() {
                fn check<T: Send + Sync>() {}
                check::<E>();
            }
        }
    };
}
suite!(burn, TransformerEncoder);
suite!(burn_generic_kernels, BurnKernels);
#[cfg(feature = "tch")]
suite!(tch, apt_llm_embed::TchEncoder);

const TOL: f32 = 1e-4;

fn floats(v: &Value) -> Vec<f32> {
    fn walk(v: &Value, out: &mut Vec<f32>) {
        match v {
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Number(n) => out.push(n.as_f64().unwrap() as f32),
            _ => panic!("not a number: {v}"),
        }
    }
    let mut out = Vec::new();
    walk(v, &mut out);
    out
}

fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let worst = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= TOL, "{what}: max abs diff {worst}");
}

fn golden(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("golden.json")).unwrap()).unwrap()
}

fn check_tiny<E: Probe>(name: &str, kind: ModelKind) {
    let Some(root) = apt_llm_testkit::model_fixtures() else {
        return;
    };
    let dir = root.join(name);
    let g = golden(&dir);
    let opts = |pooling| EncoderOptions {
        pooling: Some(pooling),
        normalize: Some(false),
        ..Default::default()
    };
    let mean = E::load(&dir, opts(Pooling::Mean)).unwrap();
    let cls = E::load(&dir, opts(Pooling::Cls)).unwrap();
    assert_eq!(mean.identity().family, kind.name());
    let texts: Vec<&str> = g["single"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    for s in g["single"].as_array().unwrap() {
        let text = s["text"].as_str().unwrap();
        let ids = mean.tokenize(&[text]).unwrap().remove(0);
        let want_ids: Vec<u32> = s["input_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(ids, want_ids, "{name} token ids of {text:?}");
        let (hidden, pooler) = mean.hidden_states(&ids).unwrap();
        assert_close(
            hidden.as_slice().unwrap(),
            &floats(&s["last_hidden_state"]),
            &format!("{name} hidden {text:?}"),
        );
        let m = mean.encode(&[text]).unwrap();
        assert_close(
            m.as_slice().unwrap(),
            &floats(&s["mean_pooled"]),
            &format!("{name} mean {text:?}"),
        );
        let c = cls.encode(&[text]).unwrap();
        assert_close(
            c.as_slice().unwrap(),
            &floats(&s["cls"]),
            &format!("{name} cls {text:?}"),
        );
        match (s.get("pooler_output"), pooler) {
            (Some(p), Some(got)) => {
                assert_close(&got, &floats(p), &format!("{name} pooler {text:?}"))
            }
            (None, _) => {}
            (Some(_), None) => panic!("{name}: golden has a pooler output, model has no pooler"),
        }
    }
    // The padded batch: every sentence at once, mean-pooled over real tokens.
    let b = &g["batched_padded"];
    let batch_texts: Vec<&str> = if let Some(t) = b.get("texts") {
        t.as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect()
    } else {
        texts.clone()
    };
    let all = mean.encode(&batch_texts).unwrap();
    assert_close(
        all.as_slice().unwrap(),
        &floats(&b["masked_mean_pooled"]),
        &format!("{name} padded batch"),
    );
}

fn check_minilm<E: Probe>() {
    let Some(fixtures) = apt_llm_testkit::model_fixtures() else {
        return;
    };
    let Some(dir) = apt_llm_testkit::minilm_dir(apt_llm_embed::resolve_model("minilm").ok()) else {
        return;
    };
    let g: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("all-minilm-l6-v2.golden.json")).unwrap(),
    )
    .unwrap();
    let enc = E::load(&dir, EncoderOptions::default()).unwrap();
    let id = enc.identity();
    assert_eq!(
        (
            id.family.as_str(),
            id.dim,
            id.pooling,
            id.normalize,
            id.max_tokens
        ),
        (ModelKind::MiniLm.name(), 384, Pooling::Mean, true, 256)
    );
    let sentences: Vec<&str> = g["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let want = g["embeddings"].as_array().unwrap();
    for (i, s) in sentences.iter().enumerate() {
        let ids = enc.tokenize(&[s]).unwrap().remove(0);
        let want_ids: Vec<u32> = g["input_ids"][i]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(ids, want_ids, "ids of {s:?}");
        let one = enc.encode(&[s]).unwrap();
        assert_close(
            one.as_slice().unwrap(),
            &floats(&want[i]),
            &format!("MiniLM {s:?}"),
        );
        let (hidden, _) = enc.hidden_states(&ids).unwrap();
        assert_close(
            &hidden.row(0).to_vec()[..8],
            &floats(&g["cls_last_hidden_state_first8"][i]),
            &format!("MiniLM CLS {s:?}"),
        );
    }
    // All six in one padded batch: padding must not change any embedding.
    let all = enc.encode(&sentences).unwrap();
    assert_close(
        all.as_slice().unwrap(),
        &floats(&g["embeddings"]),
        "MiniLM batch",
    );
}

fn check_batch_invariance<E: Probe>() {
    let Some(root) = apt_llm_testkit::model_fixtures() else {
        return;
    };
    let dir = root.join("tiny-bert");
    let small = E::load(
        &dir,
        EncoderOptions {
            batch_size: Some(1),
            ..Default::default()
        },
    )
    .unwrap();
    let big = E::load(
        &dir,
        EncoderOptions {
            batch_size: Some(64),
            ..Default::default()
        },
    )
    .unwrap();
    let target = "The process has event read from a file and event send network data.";
    let crowd = [
        "x",
        target,
        "The process has executed /usr/bin/python and network activity 128.55.12.167 and event open a file and event write to the file.",
        target,
    ];
    let alone = small.encode(&[target]).unwrap();
    let with_others = big.encode(&crowd).unwrap();
    for r in [1, 3] {
        assert_close(
            with_others.row(r).as_slice().unwrap(),
            alone.row(0).as_slice().unwrap(),
            "batch invariance",
        );
    }
}

fn check_long_inputs<E: Probe>() {
    let Some(root) = apt_llm_testkit::model_fixtures() else {
        return;
    };
    let dir = root.join("tiny-bert");
    let long: String = (0..200)
        .map(|i| format!("network activity 10.0.{}.{} and ", i / 250, i % 250))
        .collect();
    let trunc = E::load(
        &dir,
        EncoderOptions {
            max_tokens: Some(64),
            ..Default::default()
        },
    )
    .unwrap();
    let (v, stats) = trunc.encode_with_stats(&[long.as_str(), "x"]).unwrap();
    assert_eq!(stats.truncated, 1);
    assert!(stats.tokens_cut > 1000, "{stats:?}");
    assert_eq!(v.nrows(), 2);
    let win = E::load(
        &dir,
        EncoderOptions {
            max_tokens: Some(64),
            long_input: LongInput::Windows,
            ..Default::default()
        },
    )
    .unwrap();
    let (w, stats) = win.encode_with_stats(&[long.as_str()]).unwrap();
    assert_eq!(stats.tokens_cut, 0);
    assert!(stats.tokens > 1000);
    assert!(w.iter().all(|x| x.is_finite()));
    assert!(
        (&w - &v.row(0)).iter().any(|d| d.abs() > 1e-3),
        "windows see past the cut"
    );
}

fn check_bad_dirs<E: Probe>() {
    let tmp = std::env::temp_dir().join(format!(
        "apt-llm-embed-bad-{}-{}",
        std::process::id(),
        std::any::type_name::<E>().len()
    ));
    std::fs::create_dir_all(&tmp).unwrap();
    let e = E::load(&tmp, EncoderOptions::default()).unwrap_err();
    assert!(matches!(e, EmbedError::MissingFile { .. }), "{e}");
    std::fs::write(tmp.join("config.json"), r#"{"model_type": "gpt2"}"#).unwrap();
    let e = E::load(&tmp, EncoderOptions::default()).unwrap_err();
    assert!(matches!(e, EmbedError::UnknownModelType { .. }), "{e}");
    let Some(root) = apt_llm_testkit::model_fixtures() else {
        return;
    };
    // A config whose width disagrees with the weights.
    let cfg = std::fs::read_to_string(root.join("tiny-bert/config.json")).unwrap();
    std::fs::write(
        tmp.join("config.json"),
        cfg.replace("\"intermediate_size\": 37", "\"intermediate_size\": 38"),
    )
    .unwrap();
    std::fs::copy(
        root.join("tiny-bert/model.safetensors"),
        tmp.join("model.safetensors"),
    )
    .unwrap();
    std::fs::copy(
        root.join("tiny-bert/tokenizer.json"),
        tmp.join("tokenizer.json"),
    )
    .unwrap();
    let e = E::load(&tmp, EncoderOptions::default()).unwrap_err();
    assert!(matches!(e, EmbedError::ShapeMismatch { .. }), "{e}");
    assert!(e.to_string().contains("intermediate.dense."), "{e}");
    // A checkpoint lacking one weight.
    std::fs::write(tmp.join("config.json"), &cfg).unwrap();
    let bytes = std::fs::read(root.join("tiny-bert/model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let kept: Vec<_> = st
        .tensors()
        .into_iter()
        .filter(|(name, _)| !name.ends_with("layer.1.attention.self.query.weight"))
        .collect();
    assert_eq!(kept.len() + 1, st.tensors().len());
    std::fs::write(
        tmp.join("model.safetensors"),
        safetensors::serialize(kept, None).unwrap(),
    )
    .unwrap();
    let e = E::load(&tmp, EncoderOptions::default()).unwrap_err();
    assert!(matches!(e, EmbedError::MissingWeight { .. }), "{e}");
    assert!(
        e.to_string().contains("layer.1.attention.self.query"),
        "{e}"
    );
    // An empty sentence.
    let ok = E::load(&root.join("tiny-bert"), EncoderOptions::default()).unwrap();
    assert!(matches!(
        ok.encode(&["fine", "  "]),
        Err(EmbedError::EmptySentence { index: 1 })
    ));
    let _ = std::fs::remove_dir_all(&tmp);
}

#[apt_llm_testkit::needs(models)]
#[test]
fn tokenizer_falls_back_to_vocab_txt() {
    let Some(root) = apt_llm_testkit::model_fixtures() else {
        return;
    };
    let tmp = std::env::temp_dir().join(format!("apt-llm-embed-vocab-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for f in [
        "config.json",
        "model.safetensors",
        "vocab.txt",
        "tokenizer_config.json",
    ] {
        std::fs::copy(root.join("tiny-bert").join(f), tmp.join(f)).unwrap();
    }
    let a = TransformerEncoder::from_dir(&tmp, EncoderOptions::default()).unwrap();
    let b =
        TransformerEncoder::from_dir(root.join("tiny-bert"), EncoderOptions::default()).unwrap();
    let s = "process cmd.exe created file C:\\Windows\\Temp\\a.dll";
    assert_eq!(a.tokenize(&[s]).unwrap(), b.tokenize(&[s]).unwrap());
    let _ = std::fs::remove_dir_all(&tmp);
}

#[apt_llm_testkit::needs(models)]
#[test]
fn the_backend_is_chosen_at_run_time() {
    use apt_llm_embed::{Backend, load_encoder};
    let Some(root) = apt_llm_testkit::model_fixtures() else {
        return;
    };
    let dir = root.join("tiny-bert");
    let burn = load_encoder(&dir, EncoderOptions::default(), Backend::Burn).unwrap();
    assert_eq!(burn.identity().backend, Backend::Burn);
    let tch = load_encoder(&dir, EncoderOptions::default(), Backend::Tch);
    if cfg!(feature = "tch") {
        let tch = tch.unwrap();
        assert_eq!(tch.identity().backend, Backend::Tch);
        // Same model, same cache identity but for the backend: never mixed in a cache.
        assert_ne!(tch.identity().key(), burn.identity().key());
        let s = ["The process has event open a file and event write to the file."];
        let (a, b) = (burn.encode(&s).unwrap(), tch.encode(&s).unwrap());
        assert_close(a.as_slice().unwrap(), b.as_slice().unwrap(), "burn vs tch");
    } else {
        let e = tch.err().expect("tch is not compiled in");
        assert!(matches!(e, EmbedError::BackendUnavailable { .. }), "{e}");
        assert!(e.to_string().contains("--features tch"), "{e}");
    }
    assert_eq!("libtorch".parse::<Backend>().unwrap(), Backend::Tch);
    assert!("onnx".parse::<Backend>().is_err());
}

/// The libtorch encoder's workers: several networks reading one weight storage give the
/// embeddings of one network, whatever the number of workers and batches, and libtorch's
/// thread setting is back as it was afterwards.
#[cfg(feature = "tch")]
#[apt_llm_testkit::needs(models)]
#[test]
fn tch_workers_agree_with_one_network() {
    use apt_llm_embed::{TchEncoder, tch};
    let Some(root) = apt_llm_testkit::model_fixtures() else {
        return;
    };
    let sentences: Vec<String> = (0..37)
        .map(|i| {
            format!(
                "The process has event read from file {i} and{} event write.",
                " event open".repeat(i % 7)
            )
        })
        .collect();
    let sentences: Vec<&str> = sentences.iter().map(String::as_str).collect();
    // RoBERTa's embedding tables are rescaled at load: the shared storage must carry that.
    for name in ["tiny-roberta", "tiny-bert"] {
        let dir = root.join(name);
        let options = || EncoderOptions {
            batch_size: Some(4),
            ..Default::default()
        };
        let one = TchEncoder::from_dir(&dir, options())
            .unwrap()
            .with_workers(1)
            .unwrap();
        assert_eq!(one.workers(), 1);
        let want = one.encode(&sentences).unwrap();
        for n in [0, 2, 3] {
            let enc = TchEncoder::from_dir(&dir, options())
                .unwrap()
                .with_workers(n)
                .unwrap();
            assert_eq!(enc.workers(), n.max(1));
            let before = tch::get_num_threads();
            let got = enc.encode(&sentences).unwrap();
            assert_eq!(
                tch::get_num_threads(),
                before,
                "{name}: libtorch threads restored"
            );
            assert_close(
                got.as_slice().unwrap(),
                want.as_slice().unwrap(),
                &format!("{name} with {n} workers"),
            );
        }
        // Two encodes at once, each with its workers: the same embeddings, and the
        // thread setting is restored once both are done.
        let two = TchEncoder::from_dir(&dir, options()).unwrap();
        let before = tch::get_num_threads();
        std::thread::scope(|scope| {
            let runs: Vec<_> = (0..2)
                .map(|_| scope.spawn(|| two.encode(&sentences).unwrap()))
                .collect();
            for run in runs {
                let got = run.join().unwrap();
                assert_close(
                    got.as_slice().unwrap(),
                    want.as_slice().unwrap(),
                    &format!("{name}, two encodes at once"),
                );
            }
        });
        assert_eq!(
            tch::get_num_threads(),
            before,
            "{name}: libtorch threads restored"
        );
    }
}

/// bf16 on the libtorch encoder: the real MiniLM's embeddings stay within a cosine of
/// 0.999 of f32 (measured ≥ 0.9999 on the bench sentences, docs/benchmarks.md), yet do
/// differ (the network really ran in bf16), and the identity and cache key say so.
#[cfg(feature = "tch")]
#[apt_llm_testkit::needs(models)]
#[test]
fn tch_bf16_stays_close_to_f32() {
    use apt_llm_embed::{Precision, TchEncoder};
    let Some(dir) = apt_llm_testkit::minilm_dir(apt_llm_embed::resolve_model("minilm").ok()) else {
        return;
    };
    let sentences = [
        "The process has event read from a file and event send network data.",
        "The process has executed /usr/bin/python and network activity 128.55.12.167.",
        "The process has parent sshd.",
    ];
    let f32 = TchEncoder::from_dir(&dir, EncoderOptions::default()).unwrap();
    let bf16 = TchEncoder::from_dir(
        &dir,
        EncoderOptions {
            precision: Precision::Bf16,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(bf16.identity().precision, Precision::Bf16);
    assert_ne!(bf16.identity().key(), f32.identity().key());
    let (a, b) = (
        f32.encode(&sentences).unwrap(),
        bf16.encode(&sentences).unwrap(),
    );
    let mut largest = 0.0f32;
    for (x, y) in a.outer_iter().zip(b.outer_iter()) {
        let dot: f32 = x.iter().zip(&y).map(|(p, q)| p * q).sum();
        let norms = x.dot(&x).sqrt() * y.dot(&y).sqrt();
        assert!(dot / norms > 0.999, "cosine {}", dot / norms);
        largest = x
            .iter()
            .zip(&y)
            .map(|(p, q)| (p - q).abs())
            .fold(largest, f32::max);
    }
    assert!(largest > 1e-5, "bf16 gave the f32 embeddings: {largest}");
}

/// The burn encoder computes in f32 and says so instead of ignoring a bf16 request.
#[apt_llm_testkit::needs(models)]
#[test]
fn burn_refuses_bf16() {
    let Some(root) = apt_llm_testkit::model_fixtures() else {
        return;
    };
    let e = TransformerEncoder::from_dir(
        root.join("tiny-bert"),
        EncoderOptions {
            precision: apt_llm_embed::Precision::Bf16,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            EmbedError::InvalidOption {
                name: "precision",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("tch backend only"), "{e}");
}
