//! MiniLM on the 2,000 real process sentences of `shared/bench` (the set
//! sentence-transformers is timed on). Reports sentences/s; tokens/s is printed once.
//! Needs the model (`apt-llm models fetch minilm`) and the sentence file.

use apt_llm_embed::{EncoderOptions, TransformerEncoder};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let (Some(dir), Some(file)) = (
        apt_llm_testkit::minilm_dir(apt_llm_embed::resolve_model("minilm").ok()),
        apt_llm_testkit::bench_sentences(),
    ) else {
        return;
    };
    let text = std::fs::read_to_string(file).expect("sentence file");
    let sentences: Vec<&str> = text.lines().collect();
    let mut g = c.benchmark_group("encode");
    g.sample_size(10);
    g.measurement_time(std::time::Duration::from_secs(30));
    for batch in [32usize, 128] {
        let enc = TransformerEncoder::from_dir(
            &dir,
            EncoderOptions {
                batch_size: Some(batch),
                ..Default::default()
            },
        )
        .expect("model loads");
        let (_, stats) = enc.encode_with_stats(&sentences).expect("encodes");
        eprintln!(
            "minilm batch {batch}: {} sentences, {} distinct, {} tokens, {} padding, {} truncated",
            stats.sentences, stats.distinct, stats.tokens, stats.padding, stats.truncated
        );
        g.throughput(Throughput::Elements(stats.tokens as u64));
        g.bench_function(format!("minilm_tokens_batch{batch}"), |b| {
            b.iter(|| enc.encode_with_stats(&sentences).expect("encodes"))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
