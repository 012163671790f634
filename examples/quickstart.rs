//! One context, MiniLM, an autoencoder, its ROC-AUC.
//!
//! ```text
//! cargo run --release --example quickstart -- [DATA_ROOT] [CONTEXT]
//! ```
//! Without arguments it uses `APT_LLM_DATA` (or the bundled synthetic context) and
//! `bovia/cadets/PE`. MiniLM comes from `apt-llm models fetch minilm`.

use apt_llm::autoencoders::{Autoencoder, AutoencoderConfig};
use apt_llm::detect::{Detector, Fit, TrainSet};
use apt_llm::embed::{EncoderOptions, SentenceEncoder, TransformerEncoder, resolve_model};
use apt_llm::metrics::roc_auc_weighted;
use apt_llm::provenance::{Catalog, Patterns, SplitConfig, SyntheticConfig, default_data_root};
use apt_llm::textualize::{Template, Textualizer};
use ndarray::{Array1, Axis};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let ctx = match args
        .get(1)
        .cloned()
        .map(Into::into)
        .or_else(default_data_root)
    {
        Some(root) => {
            Catalog::discover(root)?.load(&args.get(2).map_or("bovia/cadets/PE", |s| s).parse()?)?
        }
        None => SyntheticConfig::default().generate()?,
    };
    // Distinct processes become sentences, embedded once each.
    let patterns = Patterns::from_context(&ctx.context);
    let text = Textualizer::new(Template::paper(), &ctx.context);
    let sentences: Vec<String> = patterns
        .patterns
        .iter()
        .map(|p| text.sentence_of(&p.attributes, None))
        .collect();
    let encoder =
        TransformerEncoder::from_dir(resolve_model("minilm")?, EncoderOptions::default())?;
    let x = encoder.encode(&sentences.iter().map(String::as_str).collect::<Vec<_>>())?;
    // Train on normal processes (patterns weighted by their counts), score the test set.
    let split = SplitConfig::default().split(&ctx.labels.flags)?;
    let (train, weights): (Vec<usize>, Vec<f32>) =
        patterns.weighted(&split.train).into_iter().unzip();
    let model = Autoencoder::new(AutoencoderConfig::ae()).fit(
        &TrainSet::new(x.select(Axis(0), &train).view()).with_weights(Array1::from(weights).view()),
    )?;
    let test: Vec<usize> = split
        .test
        .iter()
        .map(|&r| patterns.row_pattern[r])
        .collect();
    let scores = model.score(x.select(Axis(0), &test).view())?;
    let labels: Vec<bool> = split.test.iter().map(|&r| ctx.labels.flags[r]).collect();
    let auc = roc_auc_weighted(scores.as_slice().unwrap_or_default(), &labels, None)?;
    println!(
        "{}: {} processes, {} distinct; MiniLM + AE ROC-AUC {auc:.3}",
        ctx.id,
        ctx.context.len(),
        patterns.len()
    );
    Ok(())
}
