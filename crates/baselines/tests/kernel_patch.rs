//! `vendor/linfa-kernel` (applied by `[patch.crates-io]`) fills the One-Class SVM's dense
//! kernel once per symmetric pair with a four-way sum. Every entry must still be what
//! linfa's own `KernelMethod::distance` gives for that pair, up to the order of the sum.

use linfa::traits::Transformer;
use linfa_kernel::{Kernel, KernelMethod, KernelType};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[test]
fn patched_dense_kernel_matches_the_pairwise_definition() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    // 383 columns: not a multiple of four, so the sum's tail is exercised too.
    let x = Array2::from_shape_fn((60, 383), |_| rng.random::<f64>());
    for method in [
        KernelMethod::Gaussian(384.0),
        KernelMethod::Linear,
        KernelMethod::Polynomial(1.0, 2.0),
    ] {
        let kernel = Kernel::params()
            .kind(KernelType::Dense)
            .method(method.clone())
            .transform(&x);
        for i in 0..x.nrows() {
            for (j, got) in kernel.column(i).into_iter().enumerate() {
                let expected = method.distance(x.row(j), x.row(i));
                assert!(
                    (got - expected).abs() <= 1e-12 * expected.abs().max(1.0),
                    "{method:?} [{j}, {i}]: {got} vs {expected}"
                );
            }
        }
    }
}
