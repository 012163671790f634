//! Dense `f32` matrix products for apt-llm's CPU fast paths (the encoders' inference and
//! the autoencoders' training), on the `gemm` crate that burn's flex backend also calls.
//!
//! A matrix is `(slice, row stride, column stride)`, so a transposed or strided view costs
//! nothing: `(a, 1, lda)` reads `a` transposed.
//!
//! ```
//! use apt_llm_kernels::matmul;
//! // [2, 3] × [3, 2]
//! let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
//! let b = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
//! let mut c = [0.0; 4];
//! matmul(2, 2, 3, &mut c, 2, false, 1.0, (&a, 3, 1), (&b, 2, 1));
//! assert_eq!(c, [4.0, 5.0, 10.0, 11.0]);
//! // B = A's first two columns; Bᵀ B through strides alone, nothing copied.
//! let mut g = [0.0; 4];
//! matmul(2, 2, 2, &mut g, 2, false, 1.0, (&a, 1, 3), (&a, 3, 1));
//! assert_eq!(g, [17.0, 22.0, 22.0, 29.0]);
//! ```

/// A matrix view: `(values, row stride, column stride)`.
pub type View<'a> = (&'a [f32], usize, usize);

/// `dst[m, n] (+)= scale · lhs[m, k] rhs[k, n]` on the calling thread. `dst` has row stride
/// `dst_rs` and column stride 1; `accumulate` adds to it instead of overwriting.
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    scale: f32,
    lhs: View<'_>,
    rhs: View<'_>,
) {
    product(
        m,
        n,
        k,
        dst,
        dst_rs,
        accumulate,
        scale,
        lhs,
        rhs,
        gemm::Parallelism::None,
    )
}

/// [`matmul`], split over rayon's threads when gemm judges the product large enough to
/// gain from it, unless the caller already runs on one of rayon's threads: a caller that
/// parallelises its own work (the experiment runner fits contexts in parallel) keeps every
/// thread busy, and nesting gemm's split inside that costs more than it gains (measured on
/// the grid: 47.6 s split, 45.2 s not).
#[allow(clippy::too_many_arguments)]
pub fn matmul_threaded(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    scale: f32,
    lhs: View<'_>,
    rhs: View<'_>,
) {
    product(
        m,
        n,
        k,
        dst,
        dst_rs,
        accumulate,
        scale,
        lhs,
        rhs,
        if rayon::current_thread_index().is_some() {
            gemm::Parallelism::None
        } else {
            gemm::Parallelism::Rayon(0)
        },
    )
}

#[allow(clippy::too_many_arguments)]
fn product(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    scale: f32,
    lhs: View<'_>,
    rhs: View<'_>,
    par: gemm::Parallelism,
) {
    if m == 0 || n == 0 {
        return;
    }
    let end = |rows: usize, cols: usize, rs: usize, cs: usize| (rows - 1) * rs + (cols - 1) * cs;
    // The bounds gemm would otherwise trust blindly: internal invariants of the callers,
    // not input checks, so a violation is a bug and panics.
    assert!(end(m, n, dst_rs, 1) < dst.len(), "gemm dst out of bounds");
    if k > 0 {
        assert!(
            end(m, k, lhs.1, lhs.2) < lhs.0.len(),
            "gemm lhs out of bounds"
        );
        assert!(
            end(k, n, rhs.1, rhs.2) < rhs.0.len(),
            "gemm rhs out of bounds"
        );
    }
    // SAFETY: every index gemm touches is within the slices (checked above); `dst` does
    // not alias `lhs` or `rhs` (a `&mut` and `&`s).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            lhs.0.as_ptr(),
            lhs.2 as isize,
            lhs.1 as isize,
            rhs.0.as_ptr(),
            rhs.2 as isize,
            rhs.1 as isize,
            1.0,
            scale,
            false,
            false,
            false,
            par,
        );
    }
}
