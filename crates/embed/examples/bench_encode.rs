//! Time the burn encoder on a sentence file, the counterpart of `shared/bench/st_bench.py`
//! (scripts/bench_encoders.py runs both, alternating). Prints one JSON line: the best of
//! `--runs` timed runs after a warm-up, in real (unpadded) tokens per second.
//!
//! ```text
//! cargo run --release -p apt-llm-embed --example bench_encode -- \
//!     MODEL_DIR SENTENCES [--batch N] [--kernels fast|burn] [--runs N]
//! ```
//! Without `--batch`, the fast path forms batches by a token budget (its default).
//!
//! Built with `--features tch`, `--backend tch [--workers N] [--precision f32|bf16]` times
//! the rust-bert + libtorch encoder instead (default workers: one per core). With bf16 it
//! also encodes once in f32 and prints the cosine of each bf16 embedding to its f32 one
//! (minimum and mean).

use apt_llm_embed::{CpuKernels, EncoderOptions, Precision, SentenceEncoder, TransformerEncoder};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: bench_encode MODEL_DIR SENTENCES [--batch N] [--kernels fast|burn] [--runs N] \
         [--backend burn|tch] [--workers N] [--precision f32|bf16]";
    let (Some(model), Some(file)) = (args.first(), args.get(1)) else {
        return Err(usage.into());
    };
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let batch = flag("--batch").map(|b| b.parse::<usize>()).transpose()?;
    let runs = flag("--runs")
        .map(|b| b.parse::<usize>())
        .transpose()?
        .unwrap_or(3);
    let kernels = match flag("--kernels").map(String::as_str) {
        None | Some("fast") => CpuKernels::Fast,
        Some("burn") => CpuKernels::Burn,
        Some(other) => return Err(format!("--kernels {other}: fast or burn").into()),
    };
    let precision = match flag("--precision").map(String::as_str) {
        None | Some("f32") => Precision::F32,
        Some("bf16") => Precision::Bf16,
        Some(other) => return Err(format!("--precision {other}: f32 or bf16").into()),
    };
    let options = EncoderOptions {
        batch_size: batch,
        cpu_kernels: kernels,
        precision,
        ..Default::default()
    };
    let workers = flag("--workers").map(|w| w.parse::<usize>()).transpose()?;
    let (enc, label, threads): (Box<dyn SentenceEncoder>, &str, usize) = match flag("--backend")
        .map(String::as_str)
    {
        None | Some("burn") => {
            if workers.is_some() {
                return Err("--workers applies to --backend tch".into());
            }
            let enc = TransformerEncoder::from_dir(model, options)?;
            let label = match (kernels, enc.is_fast_path()) {
                (CpuKernels::Fast, true) => "fast",
                (CpuKernels::Fast, false) => "fast-unavailable",
                (CpuKernels::Burn, _) => "burn",
            };
            (Box::new(enc), label, rayon_threads())
        }
        #[cfg(feature = "tch")]
        Some("tch") => {
            if flag("--kernels").is_some() {
                return Err("--kernels applies to --backend burn".into());
            }
            let mut enc = apt_llm_embed::TchEncoder::from_dir(model, options)?;
            if let Some(n) = workers {
                enc = enc.with_workers(n)?;
            }
            let n = enc.workers();
            (Box::new(enc), "tch", n)
        }
        Some(other) => {
            return Err(
                format!("--backend {other}: burn, or tch when built with --features tch").into(),
            );
        }
    };
    let lines = apt_llm_embed::read_sentence_file(std::path::Path::new(file))?;
    let sentences: Vec<&str> = lines.iter().map(String::as_str).collect();
    // The accuracy cost of reduced precision: cosine to the f32 embeddings.
    let mut cosine = String::new();
    if precision != Precision::F32 {
        let low = enc.encode(&sentences)?;
        let full = apt_llm_embed::load_encoder(
            model,
            EncoderOptions {
                batch_size: batch,
                ..Default::default()
            },
            enc.identity().backend,
        )?
        .encode(&sentences)?;
        let cos: Vec<f64> = low
            .outer_iter()
            .zip(full.outer_iter())
            .map(|(a, b)| {
                let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(x * y)).sum();
                let na: f64 = a.iter().map(|x| f64::from(x * x)).sum::<f64>().sqrt();
                let nb: f64 = b.iter().map(|x| f64::from(x * x)).sum::<f64>().sqrt();
                dot / (na * nb)
            })
            .collect();
        let min = cos.iter().copied().fold(f64::INFINITY, f64::min);
        let mean = cos.iter().sum::<f64>() / cos.len() as f64;
        cosine = format!(", \"cosine_to_f32_min\": {min:.6}, \"cosine_to_f32_mean\": {mean:.6}");
    }
    // Warm-up: thread pool, scratch buffers, page faults.
    enc.encode_with_stats(&sentences[..64.min(sentences.len())])?;
    let mut best = f64::INFINITY;
    let mut tokens = 0;
    let mut distinct = 0;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let (_, stats) = enc.encode_with_stats(&sentences)?;
        best = best.min(start.elapsed().as_secs_f64());
        tokens = stats.tokens;
        distinct = stats.distinct;
    }
    println!(
        "{{\"tool\": \"apt-llm-embed\", \"kernels\": \"{label}\", \"batch\": {}, \"threads\": {threads}, \"distinct\": {distinct}, \"tokens\": {tokens}, \"seconds\": {best:.4}, \"tokens_per_s\": {:.1}, \"precision\": \"{}\"{cosine}}}",
        batch.map_or("null".to_string(), |b| b.to_string()),
        tokens as f64 / best,
        precision.name()
    );
    Ok(())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
