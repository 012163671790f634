//! Hostile model directories and sentence files (issue #14): every one is a typed error
//! at load that names the file and what is wrong, never a panic inside the network and
//! never embeddings of garbage.

use apt_llm_embed::{
    EmbedError, EncoderOptions, SentenceEncoder, TransformerEncoder, read_sentence_file,
};
use proptest::prelude::*;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::path::{Path, PathBuf};

/// A copy of a tiny fixture model in a fresh directory (None: fixtures absent, skip).
fn copy_fixture(name: &str) -> Option<(tempfile::TempDir, PathBuf)> {
    let root = apt_llm_testkit::model_fixtures()?;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for f in std::fs::read_dir(root.join(name)).unwrap() {
        let f = f.unwrap().path();
        if f.is_file() {
            std::fs::copy(&f, dir.join(f.file_name().unwrap())).unwrap();
        }
    }
    Some((tmp, dir))
}

fn load(dir: &Path) -> Result<TransformerEncoder, EmbedError> {
    TransformerEncoder::from_dir(dir, EncoderOptions::default())
}

fn load_err(dir: &Path) -> EmbedError {
    load(dir).expect_err("loading must fail")
}

fn edit_config(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let p = dir.join("config.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(p, v.to_string()).unwrap();
}

/// Rewrite the checkpoint: `f` gets each tensor (name, dtype, shape, bytes) and may change it.
fn edit_weights(dir: &Path, mut f: impl FnMut(&str, &mut Dtype, &mut Vec<usize>, &mut Vec<u8>)) {
    let p = dir.join("model.safetensors");
    let bytes = std::fs::read(&p).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
        .collect();
    for (n, d, s, b) in &mut owned {
        f(n, d, s, b);
    }
    let views: Vec<(String, TensorView<'_>)> = owned
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    std::fs::write(p, safetensors::serialize(views, None).unwrap()).unwrap();
}

fn assert_mentions(e: &EmbedError, parts: &[&str]) {
    let msg = e.to_string();
    for p in parts {
        assert!(msg.contains(p), "{p:?} not in {msg}");
    }
}

#[apt_llm_testkit::needs(models)]
#[test]
fn a_pad_id_beyond_the_vocabulary() {
    let Some((_t, dir)) = copy_fixture("tiny-bert") else {
        return;
    };
    edit_config(&dir, |v| v["pad_token_id"] = 30522.into());
    let e = load_err(&dir);
    assert!(matches!(e, EmbedError::TokenIdOutOfRange { .. }), "{e}");
    assert_mentions(
        &e,
        &[
            "config.json",
            "pad_token_id is 30522",
            "vocab_size is 30522",
        ],
    );
    edit_config(&dir, |v| v["pad_token_id"] = (1u64 << 40).into());
    assert!(matches!(
        load_err(&dir),
        EmbedError::TokenIdOutOfRange { .. }
    ));
}

#[apt_llm_testkit::needs(models)]
#[test]
fn a_tokenizer_of_another_model() {
    let Some((_t, dir)) = copy_fixture("tiny-roberta") else {
        return;
    };
    let root = apt_llm_testkit::model_fixtures().unwrap();
    std::fs::copy(
        root.join("tiny-bert/tokenizer.json"),
        dir.join("tokenizer.json"),
    )
    .unwrap();
    let e = load_err(&dir);
    assert!(matches!(e, EmbedError::TokenIdOutOfRange { .. }), "{e}");
    assert_mentions(&e, &["config.json", "tokenizer", "vocab_size is 1000"]);
}

#[apt_llm_testkit::needs(models)]
#[test]
fn a_vocab_size_smaller_than_the_tokenizer() {
    let Some((_t, dir)) = copy_fixture("tiny-bert") else {
        return;
    };
    edit_config(&dir, |v| v["vocab_size"] = 100.into());
    let e = load_err(&dir);
    assert!(matches!(e, EmbedError::TokenIdOutOfRange { .. }), "{e}");
}

#[apt_llm_testkit::needs(models)]
#[test]
fn a_nan_weight_is_named() {
    let Some((_t, dir)) = copy_fixture("tiny-bert") else {
        return;
    };
    edit_weights(&dir, |name, _, _, bytes| {
        if name.ends_with("layer.1.attention.self.key.weight") {
            bytes[8..12].copy_from_slice(&f32::NAN.to_le_bytes());
        }
    });
    let e = load_err(&dir);
    assert!(
        matches!(e, EmbedError::NonFiniteWeight { index: 2, .. }),
        "{e}"
    );
    assert_mentions(
        &e,
        &[
            "model.safetensors",
            "layer.1.attention.self.key.weight",
            "NaN",
        ],
    );
}

#[apt_llm_testkit::needs(models)]
#[test]
fn an_integer_weight_reports_its_dtype() {
    let Some((_t, dir)) = copy_fixture("tiny-bert") else {
        return;
    };
    edit_weights(&dir, |name, dtype, _, _| {
        if name.ends_with("embeddings.LayerNorm.bias") {
            *dtype = Dtype::I32;
        }
    });
    let e = load_err(&dir);
    assert!(matches!(e, EmbedError::WrongDtype { .. }), "{e}");
    assert_mentions(&e, &["embeddings.LayerNorm.bias", "dtype I32"]);
}

#[apt_llm_testkit::needs(models)]
#[test]
fn a_config_with_fewer_layers_than_the_checkpoint() {
    let Some((_t, dir)) = copy_fixture("tiny-bert") else {
        return;
    };
    edit_config(&dir, |v| v["num_hidden_layers"] = 1.into());
    let e = load_err(&dir);
    assert!(
        matches!(
            e,
            EmbedError::UnusedWeights {
                layers: 1,
                count: 16,
                ..
            }
        ),
        "{e}"
    );
    assert_mentions(&e, &["model.safetensors", "encoder.layer.1."]);
    let Some((_t, dir)) = copy_fixture("tiny-distilbert") else {
        return;
    };
    edit_config(&dir, |v| v["n_layers"] = 1.into());
    assert_mentions(&load_err(&dir), &["transformer.layer.1."]);
}

#[apt_llm_testkit::needs(models)]
#[test]
fn malformed_configs_name_the_file() {
    let Some((_t, dir)) = copy_fixture("tiny-bert") else {
        return;
    };
    std::fs::write(dir.join("config.json"), "{ not json").unwrap();
    let e = load_err(&dir);
    assert!(matches!(e, EmbedError::Config { .. }), "{e}");
    assert_mentions(&e, &["config.json"]);
    for (field, value, reason) in [
        ("num_attention_heads", 0, "heads"),
        ("num_hidden_layers", 0, "layers"),
        ("vocab_size", 0, "vocab_size"),
        ("type_vocab_size", 0, "type_vocab_size"),
        ("hidden_size", -3, "hidden_size"),
    ] {
        let root = apt_llm_testkit::model_fixtures().unwrap();
        std::fs::copy(root.join("tiny-bert/config.json"), dir.join("config.json")).unwrap();
        edit_config(&dir, |v| v[field] = value.into());
        let e = load_err(&dir);
        assert!(matches!(e, EmbedError::Config { .. }), "{field}: {e}");
        assert_mentions(&e, &["config.json", reason]);
    }
}

#[apt_llm_testkit::needs(models)]
#[test]
fn roberta_positions_too_few_for_the_pad_offset() {
    let Some((_t, dir)) = copy_fixture("tiny-roberta") else {
        return;
    };
    edit_config(&dir, |v| v["max_position_embeddings"] = 3.into());
    let e = load_err(&dir);
    assert_mentions(&e, &["config.json", "max_position_embeddings 3"]);
}

#[apt_llm_testkit::needs(models)]
#[test]
fn a_truncated_checkpoint() {
    let Some((_t, dir)) = copy_fixture("tiny-bert") else {
        return;
    };
    let p = dir.join("model.safetensors");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let e = load_err(&dir);
    assert!(matches!(e, EmbedError::Checkpoint { .. }), "{e}");
    assert_mentions(&e, &["model.safetensors"]);
}

#[test]
fn sentence_files_split_on_every_line_ending() {
    let dir = tempfile::tempdir().unwrap();
    for (i, body) in ["a\nb\nc", "a\r\nb\r\nc\r\n", "a\rb\rc\r", "a\rb\r\nc\n"]
        .iter()
        .enumerate()
    {
        let p = dir.path().join(format!("{i}.txt"));
        std::fs::write(&p, body).unwrap();
        assert_eq!(read_sentence_file(&p).unwrap(), ["a", "b", "c"], "{body:?}");
    }
}

#[test]
fn sentence_file_errors_name_the_file_and_a_1_based_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[u8], usize, &str); 5] = [
        (b"one\rtwo\r\r", 3, "blank line"),
        (b"one\r\n   \r\nthree", 2, "blank line"),
        (b"one\ntw\xffo\n", 2, "not valid UTF-8"),
        (b"", 1, "no sentences"),
        (b"\xef\xbb\xbfone\n\n", 2, "blank line"),
    ];
    for (i, (body, line, reason)) in cases.iter().enumerate() {
        let p = dir.path().join(format!("s{i}.txt"));
        std::fs::write(&p, body).unwrap();
        let e = read_sentence_file(&p).unwrap_err();
        assert!(
            matches!(e, EmbedError::SentenceFile { line: l, .. } if l == *line),
            "{e}"
        );
        assert_mentions(&e, &[&format!("s{i}.txt:{line}: "), reason]);
    }
    let e = read_sentence_file(&dir.path().join("absent.txt")).unwrap_err();
    assert!(matches!(e, EmbedError::Io { .. }), "{e}");
}

#[apt_llm_testkit::needs(models)]
#[test]
fn hidden_states_refuse_ids_the_model_cannot_embed() {
    let Some((_t, dir)) = copy_fixture("tiny-bert") else {
        return;
    };
    let enc = load(&dir).unwrap();
    for ids in [vec![101, 30522, 102], vec![], vec![101; 513]] {
        let e = enc.hidden_states(&ids).unwrap_err();
        assert!(
            matches!(e, EmbedError::InvalidOption { name: "ids", .. }),
            "{e}"
        );
    }
    assert!(enc.hidden_states(&[101, 30521, 102]).is_ok());
}

#[test]
fn empty_sentence_is_counted_from_one() {
    let e = EmbedError::EmptySentence { index: 0 };
    assert_eq!(e.to_string(), "sentence 1 (counting from 1) is empty");
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(12, |n: u32| n.div_ceil(4).max(1))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Mutated config.json and checkpoint headers: loading gives Ok or Err, and a model
    /// that loads encodes without panicking.
    #[apt_llm_testkit::needs(models)]
    #[test]
    fn mutated_model_directories_never_panic(
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        target in 0usize..3,
    ) {
        let Some((_t, dir)) = copy_fixture("tiny-bert") else {
            return Ok(());
        };
        let file = match target {
            0 => dir.join("config.json"),
            1 => dir.join("tokenizer.json"),
            _ => dir.join("model.safetensors"),
        };
        let mut bytes = std::fs::read(&file).unwrap();
        // The checkpoint's interesting part is its JSON header.
        let span = if target == 2 { 4096.min(bytes.len()) } else { bytes.len() };
        for (i, b) in edits {
            const SPECIAL: &[u8] = b"0123456789-e,[]{}\":";
            let b = if b % 2 == 0 { SPECIAL[b as usize % SPECIAL.len()] } else { b };
            bytes[i % span] = b;
        }
        std::fs::write(&file, bytes).unwrap();
        if let Ok(enc) = load(&dir) {
            let _ = enc.encode(&["the process read a file", "x"]);
        }
    }
}
