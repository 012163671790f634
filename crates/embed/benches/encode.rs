//! MiniLM on the 2,000 real process sentences of `shared/bench` (the set
//! sentence-transformers is timed on), on every backend compiled in: the CPU fast path
//! and burn's generic kernels always,
//! rust-bert + libtorch with `--features tch`. Throughput is in real tokens (padding
//! excluded); the counters are printed once per configuration.
//! Needs the model (`apt-llm models fetch minilm`) and the sentence file.

use apt_llm_embed::{CpuKernels, EncodeStats, EncoderOptions, TransformerEncoder};
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};

fn one<M: criterion::measurement::Measurement>(
    g: &mut BenchmarkGroup<'_, M>,
    name: &str,
    sentences: &[&str],
    encode: impl Fn(&[&str]) -> EncodeStats,
) {
    let stats = encode(sentences);
    eprintln!(
        "{name}: {} sentences, {} distinct, {} tokens, {} padding, {} truncated",
        stats.sentences, stats.distinct, stats.tokens, stats.padding, stats.truncated
    );
    g.throughput(Throughput::Elements(stats.tokens as u64));
    g.bench_function(name, |b| b.iter(|| encode(sentences)));
}

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
    let options = |batch| EncoderOptions {
        batch_size: Some(batch),
        ..Default::default()
    };
    // The CPU fast path (the default): batches by its token budget, and at the CLI's
    // batch 16 for a like-for-like figure.
    for (name, batch) in [("budget", None), ("batch16", Some(16))] {
        let enc = TransformerEncoder::from_dir(
            &dir,
            EncoderOptions {
                batch_size: batch,
                ..Default::default()
            },
        )
        .expect("model loads");
        one(
            &mut g,
            &format!("fast_minilm_tokens_{name}"),
            &sentences,
            |s| enc.encode_with_stats(s).expect("encodes").1,
        );
    }
    for batch in [32usize, 128] {
        // burn's generic kernels on the CPU (the code the GPU runs).
        let enc = TransformerEncoder::from_dir(
            &dir,
            EncoderOptions {
                cpu_kernels: CpuKernels::Burn,
                ..options(batch)
            },
        )
        .expect("model loads");
        one(
            &mut g,
            &format!("burn_minilm_tokens_batch{batch}"),
            &sentences,
            |s| enc.encode_with_stats(s).expect("encodes").1,
        );
        #[cfg(feature = "tch")]
        {
            let enc = apt_llm_embed::TchEncoder::from_dir(&dir, options(batch)).expect("loads");
            one(
                &mut g,
                &format!("tch_minilm_tokens_batch{batch}"),
                &sentences,
                |s| {
                    apt_llm_embed::SentenceEncoder::encode_with_stats(&enc, s)
                        .expect("encodes")
                        .1
                },
            );
        }
    }
    // The libtorch backend at its best batch size (16), in f32 and in bf16.
    #[cfg(feature = "tch")]
    for precision in [
        apt_llm_embed::Precision::F32,
        apt_llm_embed::Precision::Bf16,
    ] {
        let enc = apt_llm_embed::TchEncoder::from_dir(
            &dir,
            EncoderOptions {
                precision,
                ..options(16)
            },
        )
        .expect("loads");
        one(
            &mut g,
            &format!("tch_minilm_tokens_batch16_{}", precision.name()),
            &sentences,
            |s| {
                apt_llm_embed::SentenceEncoder::encode_with_stats(&enc, s)
                    .expect("encodes")
                    .1
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
