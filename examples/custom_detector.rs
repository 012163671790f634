//! Implement the detector trait and drop your detector into the grid next to the
//! autoencoders: here, the squared distance to the nearest training row (1-NN).
//!
//! ```text
//! cargo run --release --example custom_detector
//! ```

use apt_llm::detect::{DetectError, Detector, Fit, TrainSet, check_rows};
use apt_llm::embed::{EncoderOptions, SentenceEncoder, TransformerEncoder, resolve_model};
use apt_llm::metrics::roc_auc_weighted;
use apt_llm::provenance::{Patterns, SplitConfig, SyntheticConfig};
use apt_llm::textualize::{Template, Textualizer};
use ndarray::{Array1, Array2, ArrayView2, Axis};

/// Parameters: nothing to tune.
struct NearestNeighbour;

/// Fitted: the distinct training rows.
struct FittedNearestNeighbour(Array2<f32>);

impl Fit for NearestNeighbour {
    type Fitted = FittedNearestNeighbour;
    fn name(&self) -> String {
        "1-NN".into()
    }
    fn fit(&self, data: &TrainSet<'_>) -> Result<FittedNearestNeighbour, DetectError> {
        data.validate()?;
        Ok(FittedNearestNeighbour(data.x.to_owned()))
    }
}

impl Detector for FittedNearestNeighbour {
    fn name(&self) -> String {
        "1-NN".into()
    }
    fn input_dim(&self) -> usize {
        self.0.ncols()
    }
    fn score(&self, x: ArrayView2<'_, f32>) -> Result<Array1<f32>, DetectError> {
        check_rows(x, self.input_dim())?;
        Ok(x.rows()
            .into_iter()
            .map(|r| {
                self.0
                    .rows()
                    .into_iter()
                    .map(|t| (&t - &r).mapv(|v| v * v).sum())
                    .fold(f32::INFINITY, f32::min)
            })
            .collect())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ctx = SyntheticConfig {
        processes: 3_000,
        ..Default::default()
    }
    .generate()?;
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
    let split = SplitConfig::default().split(&ctx.labels.flags)?;
    let (train, w): (Vec<usize>, Vec<f32>) = patterns.weighted(&split.train).into_iter().unzip();
    let test: Vec<usize> = split
        .test
        .iter()
        .map(|&r| patterns.row_pattern[r])
        .collect();
    let labels: Vec<bool> = split.test.iter().map(|&r| ctx.labels.flags[r]).collect();
    let tx = x.select(Axis(0), &train);
    let w = Array1::from(w);
    // Any `Fit` is a `DetectorSpec`: the grid holds yours beside the built-in ones.
    let grid: Vec<Box<dyn apt_llm::detect::DetectorSpec>> = vec![
        Box::new(NearestNeighbour),
        Box::new(apt_llm::autoencoders::Autoencoder::new(
            apt_llm::autoencoders::AutoencoderConfig::ae(),
        )),
        Box::new(apt_llm::baselines::IsolationForest::default()),
    ];
    for spec in grid {
        let model = spec.fit_boxed(&TrainSet::new(tx.view()).with_weights(w.view()))?;
        let s = model.score(x.select(Axis(0), &test).view())?;
        println!(
            "{:<8} ROC-AUC {:.3}",
            spec.name(),
            roc_auc_weighted(s.as_slice().unwrap_or_default(), &labels, None)?
        );
    }
    Ok(())
}
