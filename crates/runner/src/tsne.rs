//! Exact t-SNE (van der Maaten & Hinton 2008) for the embedding figure: a few hundred
//! points, seeded, O(n²) per iteration.

use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// Embed the rows of `x` in 2-D.
pub fn tsne(x: &Array2<f32>, perplexity: f64, iterations: usize, seed: u64) -> Vec<[f64; 2]> {
    let n = x.nrows();
    if n < 3 {
        return (0..n).map(|i| [i as f64, 0.0]).collect();
    }
    let perplexity = perplexity.min((n - 1) as f64 / 3.0).max(1.0);
    let mut d2 = vec![0f64; n * n];
    for i in 0..n {
        for j in (i + 1)..n {
            let d: f64 = x
                .row(i)
                .iter()
                .zip(x.row(j))
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum();
            d2[i * n + j] = d;
            d2[j * n + i] = d;
        }
    }
    // Conditional probabilities with a per-point bandwidth matching the perplexity.
    let target = perplexity.ln();
    let mut p = vec![0f64; n * n];
    for i in 0..n {
        let (mut lo, mut hi, mut beta) = (0.0f64, f64::INFINITY, 1.0f64);
        for _ in 0..64 {
            let mut sum = 0.0;
            let mut h = 0.0;
            for j in 0..n {
                if j != i {
                    let v = (-d2[i * n + j] * beta).exp();
                    p[i * n + j] = v;
                    sum += v;
                    h += d2[i * n + j] * v;
                }
            }
            let sum = sum.max(1e-300);
            let entropy = sum.ln() + beta * h / sum;
            for j in 0..n {
                p[i * n + j] /= sum;
            }
            if (entropy - target).abs() < 1e-5 {
                break;
            }
            if entropy > target {
                lo = beta;
                beta = if hi.is_finite() {
                    (beta + hi) / 2.0
                } else {
                    beta * 2.0
                };
            } else {
                hi = beta;
                beta = (beta + lo) / 2.0;
            }
        }
    }
    let mut pij = vec![0f64; n * n];
    for i in 0..n {
        for j in 0..n {
            pij[i * n + j] = ((p[i * n + j] + p[j * n + i]) / (2.0 * n as f64)).max(1e-12);
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let normal = Normal::new(0.0, 1e-4).expect("valid normal");
    let mut y: Vec<[f64; 2]> = (0..n)
        .map(|_| [normal.sample(&mut rng), normal.sample(&mut rng)])
        .collect();
    let mut vel = vec![[0f64; 2]; n];
    // scikit-learn's "auto" learning rate: n / early exaggeration / 4, at least 50.
    let lr = (n as f64 / 12.0 / 4.0).max(50.0);
    let mut q = vec![0f64; n * n];
    for it in 0..iterations {
        let exaggeration = if it < 250 { 12.0 } else { 1.0 };
        let momentum = if it < 250 { 0.5 } else { 0.8 };
        let mut qsum = 0.0;
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    let dx = y[i][0] - y[j][0];
                    let dy = y[i][1] - y[j][1];
                    let v = 1.0 / (1.0 + dx * dx + dy * dy);
                    q[i * n + j] = v;
                    qsum += v;
                }
            }
        }
        for i in 0..n {
            let mut g = [0f64; 2];
            for j in 0..n {
                if i != j {
                    let w = q[i * n + j];
                    let m = (exaggeration * pij[i * n + j] - w / qsum) * w;
                    g[0] += 4.0 * m * (y[i][0] - y[j][0]);
                    g[1] += 4.0 * m * (y[i][1] - y[j][1]);
                }
            }
            for k in 0..2 {
                vel[i][k] = momentum * vel[i][k] - lr * g[k];
            }
        }
        for i in 0..n {
            y[i][0] += vel[i][0];
            y[i][1] += vel[i][1];
        }
    }
    y
}

#[cfg(test)]
mod tests {
    #[test]
    fn separates_two_clusters() {
        let x = ndarray::Array2::from_shape_fn(
            (40, 5),
            |(i, j)| if i < 20 { 0.0 } else { 5.0 } + ((i * 7 + j) % 5) as f32 * 0.01,
        );
        let y = super::tsne(&x, 10.0, 500, 1);
        let c = |r: std::ops::Range<usize>| {
            let n = r.len() as f64;
            let (sx, sy) = r
                .clone()
                .fold((0.0, 0.0), |a, i| (a.0 + y[i][0], a.1 + y[i][1]));
            [sx / n, sy / n]
        };
        let (a, b) = (c(0..20), c(20..40));
        let between = ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
        let within: f64 = (0..20)
            .map(|i| ((y[i][0] - a[0]).powi(2) + (y[i][1] - a[1]).powi(2)).sqrt())
            .sum::<f64>()
            / 20.0;
        assert!(between > 3.0 * within, "between {between}, within {within}");
    }
}
