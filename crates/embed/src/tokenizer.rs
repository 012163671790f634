//! Tokenizers from a Hugging Face model directory.

use crate::config::ModelKind;
use crate::error::{EmbedError, Result};
use std::path::Path;
use tokenizers::Tokenizer;

/// Sentence → token ids with the model's special tokens, without padding or truncation
/// (the encoder batches and truncates itself, and counts what it cuts).
pub struct TextTokenizer {
    inner: Tokenizer,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer").finish_non_exhaustive()
    }
}

fn tok_err(e: impl std::fmt::Display) -> EmbedError {
    EmbedError::Tokenizer(e.to_string())
}

impl TextTokenizer {
    /// Load `tokenizer.json`; else build a WordPiece tokenizer from `vocab.txt` (BERT
    /// family) or a byte-level BPE one from `vocab.json` + `merges.txt` (RoBERTa).
    pub fn from_dir(dir: &Path, kind: ModelKind) -> Result<TextTokenizer> {
        let json = dir.join("tokenizer.json");
        let mut inner = if json.is_file() {
            Tokenizer::from_file(&json)
                .map_err(|e| EmbedError::Tokenizer(format!("{}: {e}", json.display())))?
        } else if dir.join("vocab.txt").is_file() && kind != ModelKind::Roberta {
            wordpiece(dir)?
        } else if dir.join("vocab.json").is_file() && dir.join("merges.txt").is_file() {
            byte_bpe(dir)?
        } else {
            return Err(EmbedError::MissingFile {
                dir: dir.to_path_buf(),
                what: "tokenizer.json (or vocab.txt, or vocab.json + merges.txt; a SentencePiece \
                       spiece.model alone needs converting to tokenizer.json with transformers)"
                    .into(),
            });
        };
        inner.with_padding(None);
        inner.with_truncation(None).map_err(tok_err)?;
        Ok(TextTokenizer { inner })
    }

    /// Token ids of each sentence, special tokens included.
    pub fn encode(&self, sentences: &[&str]) -> Result<Vec<Vec<u32>>> {
        sentences
            .iter()
            .map(|s| {
                self.inner
                    .encode(*s, true)
                    .map(|e| e.get_ids().to_vec())
                    .map_err(tok_err)
            })
            .collect()
    }

    /// The largest id the tokenizer can produce (added tokens included), with its token.
    pub fn max_id(&self) -> Option<(u32, String)> {
        self.inner
            .get_vocab(true)
            .into_iter()
            .max_by_key(|(_, id)| *id)
            .map(|(token, id)| (id, token))
    }

    /// The id of a token, if the vocabulary has it.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }
}

fn lowercase(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("tokenizer_config.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("do_lower_case").and_then(|b| b.as_bool()))
        .unwrap_or(true)
}

fn wordpiece(dir: &Path) -> Result<Tokenizer> {
    use tokenizers::models::wordpiece::WordPiece;
    use tokenizers::normalizers::BertNormalizer;
    use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
    use tokenizers::processors::bert::BertProcessing;
    let vocab = dir.join("vocab.txt");
    let model = WordPiece::from_file(&vocab.to_string_lossy())
        .unk_token("[UNK]".into())
        .build()
        .map_err(tok_err)?;
    let mut t = Tokenizer::new(model);
    let id = |tok: &str| {
        t.token_to_id(tok)
            .ok_or_else(|| EmbedError::Tokenizer(format!("{}: no {tok} token", vocab.display())))
    };
    let (sep, cls) = (id("[SEP]")?, id("[CLS]")?);
    t.with_normalizer(Some(BertNormalizer::new(true, true, None, lowercase(dir))))
        .map_err(tok_err)?;
    t.with_pre_tokenizer(Some(BertPreTokenizer));
    t.with_post_processor(Some(BertProcessing::new(
        ("[SEP]".into(), sep),
        ("[CLS]".into(), cls),
    )));
    Ok(t)
}

fn byte_bpe(dir: &Path) -> Result<Tokenizer> {
    use tokenizers::models::bpe::BPE;
    use tokenizers::pre_tokenizers::byte_level::ByteLevel;
    use tokenizers::processors::roberta::RobertaProcessing;
    let model = BPE::from_file(
        &dir.join("vocab.json").to_string_lossy(),
        &dir.join("merges.txt").to_string_lossy(),
    )
    .build()
    .map_err(tok_err)?;
    let mut t = Tokenizer::new(model);
    let id = |tok: &str| {
        t.token_to_id(tok)
            .ok_or_else(|| EmbedError::Tokenizer(format!("{}: no {tok} token", dir.display())))
    };
    let (sep, cls) = (id("</s>")?, id("<s>")?);
    t.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
    t.with_decoder(Some(ByteLevel::default()));
    t.with_post_processor(Some(RobertaProcessing::new(
        ("</s>".into(), sep),
        ("<s>".into(), cls),
    )));
    Ok(t)
}
