//! Time autoencoder fits, per epoch, on unweighted random rows: the Rust side of
//! `scripts/bench_autoencoder.py` (the same network in PyTorch, same rows and batch).
//!
//! ```sh
//! cargo run --release -p apt-llm-autoencoders --example bench_fit -- \
//!     [--rows 30000] [--dim 384] [--epochs 5] [--kernels fast|burn|both] [--variants ae,vae,dae]
//! ```
//!
//! Prints one line per configuration: kernels, seconds per epoch, final loss. An epoch's
//! time is `(T(1 + epochs) − T(1)) / epochs` over two whole fits, so what a fit does once
//! (scaling, the threshold's scoring pass) is not counted, as the PyTorch script times
//! only its epochs.

use apt_llm_autoencoders::{Autoencoder, AutoencoderConfig, CpuKernels};
use apt_llm_detect::{Fit, TrainSet};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let rows: usize = arg(&args, "--rows", "30000").parse()?;
    let dim: usize = arg(&args, "--dim", "384").parse()?;
    let epochs: usize = arg(&args, "--epochs", "5").parse()?;
    let kernels = match arg(&args, "--kernels", "both").as_str() {
        "fast" => vec![CpuKernels::Fast],
        "burn" => vec![CpuKernels::Burn],
        "both" => vec![CpuKernels::Fast, CpuKernels::Burn],
        other => return Err(format!("--kernels: fast, burn or both, not {other:?}").into()),
    };
    let variants = arg(&args, "--variants", "ae,vae,dae");
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let x = Array2::from_shape_fn((rows, dim), |_| rng.random::<f32>());
    println!(
        "rows {rows}, dim {dim}, epochs {epochs}, batch 256, threads {}",
        rayon::current_num_threads()
    );
    for variant in variants.split(',') {
        let base = match variant {
            "ae" => AutoencoderConfig::ae(),
            "vae" => AutoencoderConfig::vae(),
            "dae" => AutoencoderConfig::dae(),
            other => return Err(format!("--variants: ae, vae, dae, not {other:?}").into()),
        };
        for attention in [false, true] {
            for &k in &kernels {
                let fit = |epochs: usize| -> Result<(f64, f32), apt_llm_detect::DetectError> {
                    let cfg = AutoencoderConfig {
                        epochs,
                        patience: 0,
                        min_steps: 0,
                        ..base.clone().with_attention(attention)
                    };
                    let start = Instant::now();
                    let fitted = Autoencoder::new(cfg)
                        .with_cpu_kernels(k)
                        .fit(&TrainSet::new(x.view()))?;
                    let loss = fitted.report().history.last().map_or(f32::NAN, |h| h.0);
                    Ok((start.elapsed().as_secs_f64(), loss))
                };
                let (once, _) = fit(1)?;
                let (all, loss) = fit(1 + epochs)?;
                let name = base.clone().with_attention(attention).name();
                println!(
                    "{name:<9} {:<5} {:>8.3} s/epoch  loss {loss:.5}",
                    format!("{k:?}").to_lowercase(),
                    (all - once) / epochs as f64
                );
            }
        }
    }
    Ok(())
}
