//! The CPU inference fast path: the same networks as [`crate::bert`], [`crate::distilbert`]
//! and [`crate::albert`], computed with direct `gemm` calls on host buffers.
//!
//! Why a second implementation: on the 2-core machine the burn `flex` backend reached
//! ~34 % of what the `gemm` kernel can do on the encoder's shapes (issue #16) — its time
//! went to single-threaded matmuls, layout copies around attention, a scalar `erf` and
//! per-op allocation. Here, for f32 inference only:
//! - the sentences of a batch are *packed* (no padding: each sentence attends to itself
//!   only), so a batch costs exactly its real tokens and can be formed by a token budget;
//! - weights are laid out once at load (`[in, out]`, Q, K and V fused into one
//!   `[hidden, 3 hidden]` projection);
//! - attention reads Q, K and V in place through strides and writes the context in place;
//! - bias + GELU and bias + residual + LayerNorm are fused passes, vectorised at run time
//!   (AVX2/AVX-512 where present) through `pulp`, with an `erf` accurate to ~1e-7;
//! - buffers live for a whole batch and are reused by every layer;
//! - the 2 cores work on two halves of each batch (each half single-threaded), which keeps
//!   the elementwise work and attention parallel too, not just the matmuls.
//!
//! Results match the burn path (and transformers) to float rounding; the parity suite
//! checks both against the golden outputs.

use crate::albert::Albert;
use crate::bert::Bert;
use crate::config::Activation;
use crate::distilbert::DistilBert;
use crate::layers::{Block, Embeddings};
use crate::weights::{Dense, Norm};
use apt_llm_kernels::matmul;
use burn::tensor::Tensor;

fn host<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
    t.clone()
        .into_data()
        .try_into_vec::<f32>()
        .expect("float tensors hold f32")
}

/// `y = x W + b`, `W` row-major `[d_in, d_out]`.
#[derive(Debug, Clone)]
struct Linear {
    w: Vec<f32>,
    b: Vec<f32>,
    d_in: usize,
    d_out: usize,
}

impl Linear {
    fn from_dense(d: &Dense) -> Linear {
        let [d_in, d_out] = d.weight.dims();
        Linear {
            w: host(&d.weight),
            b: host(&d.bias),
            d_in,
            d_out,
        }
    }

    /// Q, K and V side by side: one `[d_in, 3 d_out]` matmul instead of three.
    fn fuse(parts: [&Dense; 3]) -> Linear {
        let ls = parts.map(Linear::from_dense);
        let (d_in, d_out) = (ls[0].d_in, ls[0].d_out);
        let mut w = Vec::with_capacity(d_in * 3 * d_out);
        for r in 0..d_in {
            for l in &ls {
                w.extend_from_slice(&l.w[r * d_out..(r + 1) * d_out]);
            }
        }
        let b = ls.iter().flat_map(|l| l.b.iter().copied()).collect();
        Linear {
            w,
            b,
            d_in,
            d_out: 3 * d_out,
        }
    }

    /// `out[rows, d_out] = x[rows, d_in] W` (bias not added: the caller fuses it with
    /// what follows).
    fn matmul(&self, x: &[f32], rows: usize, out: &mut [f32]) {
        matmul(
            rows,
            self.d_out,
            self.d_in,
            out,
            self.d_out,
            false,
            1.0,
            (x, self.d_in, 1),
            (&self.w, self.d_out, 1),
        );
    }
}

#[derive(Debug, Clone)]
struct LayerNorm {
    g: Vec<f32>,
    b: Vec<f32>,
    eps: f32,
}

impl LayerNorm {
    fn from_norm(n: &Norm) -> LayerNorm {
        LayerNorm {
            g: host(&n.gamma),
            b: host(&n.beta),
            eps: n.eps as f32,
        }
    }
}

// ---- vectorisable scalar kernels (inlined into `pulp` dispatches) ----

/// `e^x` for `x <= 88` (Cephes `expf`: range reduction by ln 2 and a degree-6 polynomial,
/// ~1 ulp), branch-free so loops over it vectorise.
#[inline(always)]
fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.3, 88.7);
    let fx = (x * std::f32::consts::LOG2_E + 0.5).floor();
    let r = x - fx * 0.693_359_4 - fx * -2.121_944_4e-4;
    let mut y = 1.987_569_1e-4_f32;
    y = y * r + 1.398_199_9e-3;
    y = y * r + 8.333_452e-3;
    y = y * r + 4.166_579_6e-2;
    y = y * r + 1.666_666_5e-1;
    y = y * r + 0.5;
    y = y * r * r + r + 1.0;
    y * f32::from_bits(((fx as i32 + 127) << 23) as u32)
}

/// `erf(x)`: the rational approximation Eigen and XLA use for f32 (odd degree-13 over
/// even degree-8 polynomial on [-4, 4]), within a few ulp. The Abramowitz–Stegun 7.1.26
/// formula (1.5e-7 absolute, but poor relative accuracy near 0 after 6 layers of
/// amplification) is not used.
#[inline(always)]
fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_3e-10_f32;
    p = p * x2 + 2.770_681_4e-8;
    p = p * x2 - 2.101_024e-6;
    p = p * x2 - 5.692_506_4e-5;
    p = p * x2 - 7.349_906_3e-4;
    p = p * x2 - 2.954_600_5e-3;
    p = p * x2 - 1.609_603_3e-2;
    let mut q = -1.456_607_2e-5_f32;
    q = q * x2 - 2.133_740_6e-4;
    q = q * x2 - 1.682_827e-3;
    q = q * x2 - 7.373_329_4e-3;
    q = q * x2 - 1.426_474e-2;
    x * p / q
}

#[inline(always)]
fn activate(a: Activation, x: f32) -> f32 {
    match a {
        Activation::Gelu => 0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2)),
        Activation::GeluTanh => {
            let y = 0.797_884_6 * (x + 0.044_715 * x * x * x);
            // tanh(y) = 1 - 2 / (e^{2y} + 1)
            0.5 * x * (2.0 - 2.0 / (exp(2.0 * y) + 1.0))
        }
        Activation::Relu => x.max(0.0),
        Activation::Silu => x / (1.0 + exp(-x)),
    }
}

/// Every row of `x` (`rows × bias.len()`): `act(x + bias)`.
fn bias_activation(x: &mut [f32], bias: &[f32], act: Activation) {
    let arch = pulp::Arch::new();
    let w = bias.len();
    arch.dispatch(
        #[inline(always)]
        || {
            for row in x.chunks_exact_mut(w) {
                match act {
                    Activation::Gelu => {
                        for (v, b) in row.iter_mut().zip(bias) {
                            *v = activate(Activation::Gelu, *v + b);
                        }
                    }
                    Activation::GeluTanh => {
                        for (v, b) in row.iter_mut().zip(bias) {
                            *v = activate(Activation::GeluTanh, *v + b);
                        }
                    }
                    Activation::Relu => {
                        for (v, b) in row.iter_mut().zip(bias) {
                            *v = activate(Activation::Relu, *v + b);
                        }
                    }
                    Activation::Silu => {
                        for (v, b) in row.iter_mut().zip(bias) {
                            *v = activate(Activation::Silu, *v + b);
                        }
                    }
                }
            }
        },
    );
}

/// `out = LayerNorm(x + bias + residual)` row by row; `out` may be `residual`'s buffer
/// only through [`add_norm_in_place`].
fn add_norm(x: &[f32], bias: &[f32], residual: &[f32], ln: &LayerNorm, out: &mut [f32]) {
    let arch = pulp::Arch::new();
    let w = bias.len();
    arch.dispatch(
        #[inline(always)]
        || {
            for ((xr, rr), or) in x
                .chunks_exact(w)
                .zip(residual.chunks_exact(w))
                .zip(out.chunks_exact_mut(w))
            {
                for i in 0..w {
                    or[i] = xr[i] + bias[i] + rr[i];
                }
                norm_row(or, ln);
            }
        },
    );
}

/// `residual = LayerNorm(x + bias + residual)` row by row.
fn add_norm_in_place(x: &[f32], bias: &[f32], residual: &mut [f32], ln: &LayerNorm) {
    let arch = pulp::Arch::new();
    let w = bias.len();
    arch.dispatch(
        #[inline(always)]
        || {
            for (xr, rr) in x.chunks_exact(w).zip(residual.chunks_exact_mut(w)) {
                for i in 0..w {
                    rr[i] += xr[i] + bias[i];
                }
                norm_row(rr, ln);
            }
        },
    );
}

/// `Σ f(v)` over a slice with eight independent partial sums: a single running sum is a
/// serial chain the compiler may not reorder (and so does not vectorise).
#[inline(always)]
fn sum_by(row: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0f32; 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for i in 0..8 {
            acc[i] += f(c[i]);
        }
    }
    let tail: f32 = chunks.remainder().iter().map(|&v| f(v)).sum();
    acc.iter().sum::<f32>() + tail
}

/// Largest element, eight lanes at a time (see [`sum_by`]).
#[inline(always)]
fn max_of(row: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for i in 0..8 {
            acc[i] = acc[i].max(c[i]);
        }
    }
    let tail = chunks
        .remainder()
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    acc.iter().copied().fold(tail, f32::max)
}

#[inline(always)]
fn norm_row(row: &mut [f32], ln: &LayerNorm) {
    let n = row.len() as f32;
    let mean = sum_by(row, |v| v) / n;
    let var = sum_by(row, |v| (v - mean) * (v - mean)) / n;
    let inv = 1.0 / (var + ln.eps).sqrt();
    for ((v, g), b) in row.iter_mut().zip(&ln.g).zip(&ln.b) {
        *v = (*v - mean) * inv * g + b;
    }
}

/// Softmax of every row of `s` (`rows × n`).
fn softmax_rows(s: &mut [f32], n: usize) {
    let arch = pulp::Arch::new();
    arch.dispatch(
        #[inline(always)]
        || {
            for row in s.chunks_exact_mut(n) {
                let max = max_of(row);
                for v in row.iter_mut() {
                    *v = exp(*v - max);
                }
                let inv = 1.0 / sum_by(row, |v| v);
                row.iter_mut().for_each(|v| *v *= inv);
            }
        },
    );
}

/// One post-LayerNorm block, weights laid out for [`Scratch`].
#[derive(Debug, Clone)]
struct FastBlock {
    qkv: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    ffn_in: Linear,
    ffn_out: Linear,
    out_norm: LayerNorm,
    heads: usize,
    activation: Activation,
}

impl FastBlock {
    fn from_block(b: &Block) -> FastBlock {
        FastBlock {
            qkv: Linear::fuse([&b.query, &b.key, &b.value]),
            attn_out: Linear::from_dense(&b.attn_out),
            attn_norm: LayerNorm::from_norm(&b.attn_norm),
            ffn_in: Linear::from_dense(&b.ffn_in),
            ffn_out: Linear::from_dense(&b.ffn_out),
            out_norm: LayerNorm::from_norm(&b.out_norm),
            heads: b.heads,
            activation: b.activation,
        }
    }

    /// `x`: packed tokens `[tokens, hidden]` of the sentences `spans` (start, length);
    /// replaced by the block's output.
    fn forward(&self, x: &mut [f32], spans: &[(usize, usize)], s: &mut Scratch) {
        let h = self.attn_out.d_out;
        let t = x.len() / h;
        let dh = h / self.heads;
        let scale = 1.0 / (dh as f32).sqrt();
        let qkv = &mut s.qkv[..t * 3 * h];
        for row in qkv.chunks_exact_mut(3 * h) {
            row.copy_from_slice(&self.qkv.b);
        }
        matmul(
            t,
            3 * h,
            h,
            qkv,
            3 * h,
            true,
            1.0,
            (x, h, 1),
            (&self.qkv.w, 3 * h, 1),
        );
        let qkv = &s.qkv[..t * 3 * h];
        let ctx = &mut s.ctx[..t * h];
        for &(start, n) in spans {
            let scores = &mut s.scores[..n * n];
            for head in 0..self.heads {
                let q = &qkv[start * 3 * h + head * dh..];
                let k = &qkv[start * 3 * h + h + head * dh..];
                let v = &qkv[start * 3 * h + 2 * h + head * dh..];
                // scores = scale · Q Kᵀ (Kᵀ read through swapped strides)
                matmul(
                    n,
                    n,
                    dh,
                    scores,
                    n,
                    false,
                    scale,
                    (q, 3 * h, 1),
                    (k, 1, 3 * h),
                );
                softmax_rows(scores, n);
                let c = &mut ctx[start * h + head * dh..];
                matmul(n, dh, n, c, h, false, 1.0, (scores, n, 1), (v, 3 * h, 1));
            }
        }
        let tmp = &mut s.tmp[..t * h];
        self.attn_out.matmul(ctx, t, tmp);
        let attn = &mut s.attn[..t * h];
        add_norm(tmp, &self.attn_out.b, x, &self.attn_norm, attn);
        let inner = &mut s.inner[..t * self.ffn_in.d_out];
        self.ffn_in.matmul(attn, t, inner);
        bias_activation(inner, &self.ffn_in.b, self.activation);
        self.ffn_out.matmul(inner, t, tmp);
        // x = LN(tmp + b + attn): copy attn into x, then add in place.
        x.copy_from_slice(attn);
        add_norm_in_place(tmp, &self.ffn_out.b, x, &self.out_norm);
    }
}

/// Buffers of one thread's forward pass, sized for its largest batch and reused by every
/// layer.
#[derive(Default)]
struct Scratch {
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    tmp: Vec<f32>,
    attn: Vec<f32>,
    inner: Vec<f32>,
    scores: Vec<f32>,
}

impl Scratch {
    fn reserve(&mut self, tokens: usize, longest: usize, hidden: usize, inter: usize) {
        let grow = |v: &mut Vec<f32>, n: usize| {
            if v.len() < n {
                v.resize(n, 0.0);
            }
        };
        grow(&mut self.qkv, tokens * 3 * hidden);
        grow(&mut self.ctx, tokens * hidden);
        grow(&mut self.tmp, tokens * hidden);
        grow(&mut self.attn, tokens * hidden);
        grow(&mut self.inner, tokens * inter);
        grow(&mut self.scores, longest * longest);
    }
}

/// Word (+ position + token type 0) embeddings and their LayerNorm.
#[derive(Debug, Clone)]
struct FastEmbeddings {
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Option<Vec<f32>>,
    norm: LayerNorm,
    position_offset: usize,
    width: usize,
}

impl FastEmbeddings {
    fn from_embeddings(e: &Embeddings) -> FastEmbeddings {
        let width = e.word.dims()[1];
        let tt = host(&e.token_type);
        FastEmbeddings {
            word: host(&e.word),
            position: host(&e.position),
            token_type: Some(tt[..width].to_vec()),
            norm: LayerNorm::from_norm(&e.norm),
            position_offset: e.position_offset,
            width,
        }
    }

    fn forward(&self, seqs: &[&[u32]], out: &mut [f32]) {
        let w = self.width;
        let mut rows = out.chunks_exact_mut(w);
        for s in seqs {
            for (j, &id) in s.iter().enumerate() {
                let row = rows.next().expect("sized for every token");
                let word = &self.word[id as usize * w..(id as usize + 1) * w];
                let p = self.position_offset + j;
                let pos = &self.position[p * w..(p + 1) * w];
                for i in 0..w {
                    row[i] = word[i] + pos[i];
                }
                if let Some(tt) = &self.token_type {
                    row.iter_mut().zip(tt).for_each(|(v, t)| *v += t);
                }
                norm_row(row, &self.norm);
            }
        }
    }
}

/// A whole encoder on the fast path.
#[derive(Debug, Clone)]
pub(crate) struct FastNetwork {
    embeddings: FastEmbeddings,
    /// ALBERT's `embedding_size → hidden_size` projection.
    mapping: Option<Linear>,
    blocks: Vec<FastBlock>,
    /// Which block runs at each layer (ALBERT shares blocks across layers).
    schedule: Vec<usize>,
    pooler: Option<Linear>,
    hidden: usize,
    intermediate: usize,
}

impl FastNetwork {
    pub(crate) fn from_bert(m: &Bert) -> FastNetwork {
        let blocks: Vec<FastBlock> = m.blocks.iter().map(FastBlock::from_block).collect();
        FastNetwork::assemble(
            FastEmbeddings::from_embeddings(&m.embeddings),
            None,
            (0..blocks.len()).collect(),
            blocks,
            m.pooler.as_ref().map(Linear::from_dense),
        )
    }

    pub(crate) fn from_distilbert(m: &DistilBert) -> FastNetwork {
        let blocks: Vec<FastBlock> = m.blocks.iter().map(FastBlock::from_block).collect();
        let embeddings = FastEmbeddings {
            word: host(&m.word),
            position: host(&m.position),
            token_type: None,
            norm: LayerNorm::from_norm(&m.norm),
            position_offset: 0,
            width: m.word.dims()[1],
        };
        FastNetwork::assemble(embeddings, None, (0..blocks.len()).collect(), blocks, None)
    }

    pub(crate) fn from_albert(m: &Albert) -> FastNetwork {
        let per_group = m.groups.first().map_or(0, Vec::len);
        let blocks: Vec<FastBlock> = m
            .groups
            .iter()
            .flatten()
            .map(FastBlock::from_block)
            .collect();
        let per_layer = m.layers / m.groups.len().max(1);
        let schedule = (0..m.layers)
            .flat_map(|i| {
                let g = i / per_layer.max(1);
                (0..per_group).map(move |j| g * per_group + j)
            })
            .collect();
        FastNetwork::assemble(
            FastEmbeddings::from_embeddings(&m.embeddings),
            Some(Linear::from_dense(&m.mapping)),
            schedule,
            blocks,
            m.pooler.as_ref().map(Linear::from_dense),
        )
    }

    fn assemble(
        embeddings: FastEmbeddings,
        mapping: Option<Linear>,
        schedule: Vec<usize>,
        blocks: Vec<FastBlock>,
        pooler: Option<Linear>,
    ) -> FastNetwork {
        let hidden = mapping.as_ref().map_or(embeddings.width, |m| m.d_out);
        let intermediate = blocks.first().map_or(0, |b| b.ffn_in.d_out);
        FastNetwork {
            embeddings,
            mapping,
            blocks,
            schedule,
            pooler,
            hidden,
            intermediate,
        }
    }

    /// Last hidden states of packed sentences, `[Σ lengths, hidden]`, on this thread.
    fn hidden_packed(&self, seqs: &[&[u32]], s: &mut Scratch) -> Vec<f32> {
        let h = self.hidden;
        let t: usize = seqs.iter().map(|q| q.len()).sum();
        let longest = seqs.iter().map(|q| q.len()).max().unwrap_or(0);
        s.reserve(t, longest, h, self.intermediate);
        let mut spans = Vec::with_capacity(seqs.len());
        let mut start = 0;
        for q in seqs {
            spans.push((start, q.len()));
            start += q.len();
        }
        let mut x = vec![0f32; t * self.embeddings.width];
        self.embeddings.forward(seqs, &mut x);
        if let Some(m) = &self.mapping {
            let mut y = vec![0f32; t * h];
            for row in y.chunks_exact_mut(h) {
                row.copy_from_slice(&m.b);
            }
            matmul(
                t,
                h,
                m.d_in,
                &mut y,
                h,
                true,
                1.0,
                (&x, m.d_in, 1),
                (&m.w, h, 1),
            );
            x = y;
        }
        for &b in &self.schedule {
            self.blocks[b].forward(&mut x, &spans, s);
        }
        x
    }

    /// Last hidden states of one sentence `[len, hidden]` and the pooler output (where the
    /// checkpoint has a pooler).
    pub(crate) fn hidden_states(&self, ids: &[u32]) -> (Vec<f32>, Option<Vec<f32>>) {
        let x = self.hidden_packed(&[ids], &mut Scratch::default());
        let pooled = self.pooler.as_ref().map(|p| {
            let mut y = p.b.clone();
            matmul(
                1,
                p.d_out,
                p.d_in,
                &mut y,
                p.d_out,
                true,
                1.0,
                (&x[..p.d_in], p.d_in, 1),
                (&p.w, p.d_out, 1),
            );
            y.iter_mut().for_each(|v| *v = v.tanh());
            y
        });
        (x, pooled)
    }

    /// Pooled vectors `[batch, hidden]` of sentences (each within the model's positions
    /// and vocabulary: the caller checks), mean over real tokens or the first token. The
    /// sentences are split into one part per rayon thread, balanced by tokens.
    pub(crate) fn pool(&self, seqs: &[&[u32]], mean: bool) -> Vec<f32> {
        let h = self.hidden;
        let parts = rayon::current_num_threads().clamp(1, seqs.len().max(1));
        // Longest-first greedy assignment to the lightest part (cost ~ tokens).
        let mut order: Vec<usize> = (0..seqs.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(seqs[i].len()));
        let mut groups: Vec<(usize, Vec<usize>)> = vec![(0, Vec::new()); parts];
        for i in order {
            let g = groups
                .iter_mut()
                .min_by_key(|(load, _)| *load)
                .expect("at least one part");
            g.0 += seqs[i].len();
            g.1.push(i);
        }
        let results: Vec<(Vec<usize>, Vec<f32>)> = {
            use rayon::prelude::*;
            groups
                .into_par_iter()
                .filter(|(_, members)| !members.is_empty())
                .map(|(_, members)| {
                    let part: Vec<&[u32]> = members.iter().map(|&i| seqs[i]).collect();
                    let x = SCRATCH.with(|s| self.hidden_packed(&part, &mut s.borrow_mut()));
                    let mut pooled = vec![0f32; part.len() * h];
                    let mut start = 0;
                    for (k, q) in part.iter().enumerate() {
                        let out = &mut pooled[k * h..(k + 1) * h];
                        let rows = &x[start * h..(start + q.len()) * h];
                        if mean {
                            for r in rows.chunks_exact(h) {
                                out.iter_mut().zip(r).for_each(|(o, v)| *o += v);
                            }
                            let inv = 1.0 / q.len() as f32;
                            out.iter_mut().for_each(|o| *o *= inv);
                        } else {
                            out.copy_from_slice(&rows[..h]);
                        }
                        start += q.len();
                    }
                    (members, pooled)
                })
                .collect()
        };
        let mut out = vec![0f32; seqs.len() * h];
        for (members, pooled) in results {
            for (k, &i) in members.iter().enumerate() {
                out[i * h..(i + 1) * h].copy_from_slice(&pooled[k * h..(k + 1) * h]);
            }
        }
        out
    }
}

thread_local! {
    /// Per-thread buffers, kept between batches so steady-state encoding allocates only
    /// its inputs and outputs.
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_libm() {
        let mut worst = 0f64;
        for i in -6000..=6000 {
            let x = i as f32 / 1000.0;
            let want = libm_erf(x as f64);
            worst = worst.max((erf(x) as f64 - want).abs());
        }
        assert!(worst < 5e-7, "erf error {worst}");
    }

    #[test]
    fn exp_matches_std() {
        for i in -8000..=100 {
            let x = i as f32 / 100.0;
            let (got, want) = (exp(x), x.exp());
            assert!(
                ((got - want) / want).abs() < 3e-7,
                "exp({x}) = {got}, want {want}"
            );
        }
    }

    /// erf by its Taylor series / continued fraction in f64, for the test only.
    fn libm_erf(x: f64) -> f64 {
        // Abramowitz–Stegun 7.1.5 series converges well for |x| <= 3; beyond, erf = ±1
        // within 2e-5... use erfc's continued fraction there.
        if x.abs() <= 3.0 {
            let mut sum = 0.0;
            let mut term = x;
            let mut n = 0.0;
            while term.abs() > 1e-17 || n < 5.0 {
                sum += term / (2.0 * n + 1.0);
                n += 1.0;
                term *= -x * x / n;
                if n > 200.0 {
                    break;
                }
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            let a = x.abs();
            // Lentz continued fraction for erfc.
            let mut f = a;
            for k in (1..60).rev() {
                f = a + (k as f64 / 2.0) / f;
            }
            let erfc = (-a * a).exp() / (f * std::f64::consts::PI.sqrt());
            x.signum() * (1.0 - erfc)
        }
    }
}
