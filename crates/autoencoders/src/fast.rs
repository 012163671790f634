//! The CPU fast path for training: the network of [`crate::network::Network`] with its
//! forward and backward passes written out on host buffers and `gemm`, and burn's Adam.
//!
//! burn's autodiff records a graph, allocates every intermediate and materialises
//! transposes on each of the 400+ optimiser steps of a fit; on the autoencoders' small
//! layers (batch 256, widths 384 → 16) that overhead was most of a fit's time and half of
//! the whole grid's (issue #16). Here every buffer is allocated once per fit, transposes
//! are strides, and a step is a fixed sequence of products.
//!
//! The initial weights come from the burn network (same seed, same values) and the trained
//! ones go back into it, so scoring, saving and loading are burn's, unchanged. The tests
//! check the forward pass, every gradient and whole training runs against burn.

use crate::config::{AutoencoderConfig, OutputActivation};
use crate::network::Network;
use apt_llm_kernels::matmul_threaded as mm;
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Tensor, TensorData};

/// LayerNorm's ε in the attention block (burn's `LayerNormConfig` default).
const LN_EPS: f32 = 1e-5;
/// burn's `AdamConfig` defaults.
const BETA_1: f32 = 0.9;
const BETA_2: f32 = 0.999;
const ADAM_EPS: f32 = 1e-5;

/// Where one parameter tensor lives in the flat buffer.
#[derive(Debug, Clone, Copy)]
struct Slot {
    off: usize,
    len: usize,
}

impl Slot {
    fn of(self, v: &[f32]) -> &[f32] {
        &v[self.off..self.off + self.len]
    }
    fn of_mut(self, v: &mut [f32]) -> &mut [f32] {
        &mut v[self.off..self.off + self.len]
    }
}

/// `y = x W + b`, `W` row-major `[din, dout]` (burn's layout).
#[derive(Debug, Clone, Copy)]
struct Dense {
    w: Slot,
    b: Slot,
    din: usize,
    dout: usize,
}

#[derive(Debug, Clone, Copy)]
struct Attention {
    embed: Dense,
    pos: Slot,
    q: Dense,
    k: Dense,
    v: Dense,
    o: Dense,
    gamma: Slot,
    beta: Slot,
    tokens: usize,
    dm: usize,
    heads: usize,
}

/// The layers over one flat parameter buffer, in the order burn visits the parameters.
#[derive(Debug, Clone)]
struct Layout {
    encoder: Vec<Dense>,
    attention: Option<Attention>,
    bottleneck: Vec<Dense>,
    mean: Dense,
    log_var: Option<Dense>,
    decoder: Vec<Dense>,
    output: Dense,
    sigmoid: bool,
    shapes: Vec<Vec<usize>>,
    total: usize,
}

#[derive(Default)]
struct Builder {
    shapes: Vec<Vec<usize>>,
    total: usize,
}

impl Builder {
    fn slot(&mut self, shape: &[usize]) -> Slot {
        let len = shape.iter().product();
        let s = Slot {
            off: self.total,
            len,
        };
        self.total += len;
        self.shapes.push(shape.to_vec());
        s
    }
    fn dense(&mut self, din: usize, dout: usize) -> Dense {
        Dense {
            w: self.slot(&[din, dout]),
            b: self.slot(&[dout]),
            din,
            dout,
        }
    }
}

impl Layout {
    /// Mirrors [`Network::new`] field by field.
    fn new(input: usize, cfg: &AutoencoderConfig) -> Layout {
        let mut p = Builder::default();
        let mut width = input;
        let mut encoder = Vec::new();
        for &h in &cfg.encoder_widths {
            encoder.push(p.dense(width, h));
            width = h;
        }
        let attention = cfg.attention.then(|| {
            let (t, dm) = (cfg.attention_tokens, cfg.attention_dim);
            let a = Attention {
                embed: p.dense(width / t, dm),
                pos: p.slot(&[t, dm]),
                q: p.dense(dm, dm),
                k: p.dense(dm, dm),
                v: p.dense(dm, dm),
                o: p.dense(dm, dm),
                gamma: p.slot(&[dm]),
                beta: p.slot(&[dm]),
                tokens: t,
                dm,
                heads: cfg.attention_heads,
            };
            width = t * dm;
            a
        });
        let mut bottleneck = Vec::new();
        for &h in &cfg.bottleneck_widths {
            bottleneck.push(p.dense(width, h));
            width = h;
        }
        let mean = p.dense(width, cfg.latent);
        let log_var = cfg
            .variant
            .is_variational()
            .then(|| p.dense(width, cfg.latent));
        let mut decoder = Vec::new();
        let mut width = cfg.latent;
        for h in cfg.decoder_widths() {
            decoder.push(p.dense(width, h));
            width = h;
        }
        let output = p.dense(width, input);
        Layout {
            encoder,
            attention,
            bottleneck,
            mean,
            log_var,
            decoder,
            output,
            sigmoid: cfg.output == OutputActivation::Sigmoid,
            shapes: p.shapes,
            total: p.total,
        }
    }

    fn input(&self) -> usize {
        self.output.dout
    }

    /// Widest activation, for the backward pass's two delta buffers.
    fn widest(&self) -> usize {
        let dense = self
            .encoder
            .iter()
            .chain(&self.bottleneck)
            .chain(&self.decoder)
            .chain([&self.mean, &self.output])
            .map(|d| d.din.max(d.dout))
            .max()
            .unwrap_or(0);
        let att = self.attention.map_or(0, |a| a.tokens * a.dm);
        dense.max(att)
    }
}

/// Reads every parameter of a burn module, in visiting order.
#[derive(Default)]
struct Collect(Vec<(Vec<usize>, Vec<f32>)>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        let dims = t.dims().to_vec();
        let values = t.into_data().try_into_vec::<f32>().unwrap_or_default();
        self.0.push((dims, values));
    }
}

/// Replaces every parameter of a burn module, in visiting order.
struct Replace<'a> {
    params: &'a [f32],
    layout: &'a Layout,
    next: usize,
    off: usize,
}

impl ModuleMapper for Replace<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let shape = self.layout.shapes[self.next].clone();
        let len: usize = shape.iter().product();
        let values = self.params[self.off..self.off + len].to_vec();
        self.next += 1;
        self.off += len;
        param.map(|t| {
            let device = t.device();
            Tensor::from_data(TensorData::new(values, shape), &device)
        })
    }
}

/// Activations of one batch, kept for the backward pass. Sized for the largest batch once.
#[derive(Default)]
struct Activations {
    encoder: Vec<Vec<f32>>,
    att: AttentionActivations,
    bottleneck: Vec<Vec<f32>>,
    mean: Vec<f32>,
    log_var: Vec<f32>,
    z: Vec<f32>,
    decoder: Vec<Vec<f32>>,
    out: Vec<f32>,
    // Backward scratch: two deltas of the widest activation, and the latent heads'.
    d0: Vec<f32>,
    d1: Vec<f32>,
    dmean: Vec<f32>,
    dlog_var: Vec<f32>,
}

/// The attention block's activations (`[rows·tokens, dm]` unless said) and its deltas.
#[derive(Default)]
struct AttentionActivations {
    /// Token embeddings plus positions.
    t: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    /// Softmax weights, `[rows, heads, tokens, tokens]`.
    p: Vec<f32>,
    ctx: Vec<f32>,
    /// Projected context, before dropout.
    a: Vec<f32>,
    /// Normalised residual, and 1/σ per token (`[rows·tokens]`).
    xhat: Vec<f32>,
    rstd: Vec<f32>,
    /// The block's output.
    y: Vec<f32>,
    d_t: Vec<f32>,
    d_a: Vec<f32>,
    d_ctx: Vec<f32>,
    d_q: Vec<f32>,
    d_k: Vec<f32>,
    d_v: Vec<f32>,
    /// One head's `[tokens, tokens]` softmax delta.
    d_p: Vec<f32>,
}

/// One training batch, prepared by the caller (the same draws as burn's path).
pub(crate) struct Batch<'a> {
    pub rows: usize,
    /// Network input (corrupted for the DAE), `[rows, input]`.
    pub input: &'a [f32],
    /// Reconstruction target, `[rows, input]`.
    pub target: &'a [f32],
    /// VAE noise `[rows, latent]`.
    pub eps: Option<&'a [f32]>,
    /// Attention dropout mask `[rows, tokens, dim]` (0 or 1/(1-p)).
    pub keep: Option<&'a [f32]>,
    /// Per-row loss weight (already divided by the normaliser).
    pub weights: &'a [f32],
    /// VAE: β of this epoch.
    pub kl_weight: f32,
}

/// An autoencoder being trained on the CPU fast path.
pub(crate) struct FastTrainer {
    layout: Layout,
    params: Vec<f32>,
    grads: Vec<f32>,
    m1: Vec<f32>,
    m2: Vec<f32>,
    time: i32,
    acts: Activations,
    capacity: usize,
    variational: bool,
}

impl FastTrainer {
    /// Take the (initialised) weights of `net`; `None` if its parameters do not have the
    /// shapes this path expects (it then cannot train it, and the caller uses burn's).
    pub fn from_network(net: &Network, input: usize, cfg: &AutoencoderConfig) -> Option<Self> {
        let layout = Layout::new(input, cfg);
        let mut c = Collect::default();
        net.visit(&mut c);
        if c.0.len() != layout.shapes.len() {
            return None;
        }
        let mut params = Vec::with_capacity(layout.total);
        for ((dims, values), shape) in c.0.iter().zip(&layout.shapes) {
            if dims != shape || values.len() != shape.iter().product::<usize>() {
                return None;
            }
            params.extend_from_slice(values);
        }
        let total = layout.total;
        Some(FastTrainer {
            layout,
            params,
            grads: vec![0.0; total],
            m1: vec![0.0; total],
            m2: vec![0.0; total],
            time: 0,
            acts: Activations::default(),
            capacity: 0,
            variational: cfg.variant.is_variational(),
        })
    }

    /// The current weights, to keep the best epoch's.
    pub fn weights(&self) -> Vec<f32> {
        self.params.clone()
    }

    /// Write `weights` (from [`FastTrainer::weights`]) into `net`, a network of the same
    /// configuration.
    pub fn write_into(&self, weights: &[f32], net: Network) -> Network {
        net.map(&mut Replace {
            params: weights,
            layout: &self.layout,
            next: 0,
            off: 0,
        })
    }

    fn reserve(&mut self, rows: usize) {
        if rows <= self.capacity {
            return;
        }
        let l = &self.layout;
        let a = &mut self.acts;
        let buf = |w: usize| vec![0.0f32; rows * w];
        a.encoder = l.encoder.iter().map(|d| buf(d.dout)).collect();
        a.bottleneck = l.bottleneck.iter().map(|d| buf(d.dout)).collect();
        a.decoder = l.decoder.iter().map(|d| buf(d.dout)).collect();
        if let Some(at) = l.attention {
            let n = rows * at.tokens * at.dm;
            let b = &mut a.att;
            for v in [&mut b.t, &mut b.q, &mut b.k, &mut b.v, &mut b.ctx, &mut b.a] {
                *v = vec![0.0; n];
            }
            for v in [&mut b.xhat, &mut b.y, &mut b.d_t, &mut b.d_a, &mut b.d_ctx] {
                *v = vec![0.0; n];
            }
            for v in [&mut b.d_q, &mut b.d_k, &mut b.d_v] {
                *v = vec![0.0; n];
            }
            b.p = vec![0.0; rows * at.heads * at.tokens * at.tokens];
            b.rstd = vec![0.0; rows * at.tokens];
            b.d_p = vec![0.0; at.tokens * at.tokens];
        }
        let latent = l.mean.dout;
        for v in [
            &mut a.mean,
            &mut a.log_var,
            &mut a.z,
            &mut a.dmean,
            &mut a.dlog_var,
        ] {
            *v = vec![0.0; rows * latent];
        }
        a.out = buf(l.input());
        a.d0 = buf(l.widest());
        a.d1 = buf(l.widest());
        self.capacity = rows;
    }

    /// Forward pass over `rows` rows of `x`; `eps`/`keep` as in [`Batch`] (none when
    /// scoring: the VAE then decodes its posterior mean). Leaves the reconstruction in
    /// `self.acts.out`.
    #[inline(always)] // into the SIMD dispatch of `step`
    fn forward(&mut self, x: &[f32], rows: usize, eps: Option<&[f32]>, keep: Option<&[f32]>) {
        self.reserve(rows);
        let (l, p, a) = (&self.layout, &self.params[..], &mut self.acts);
        for (i, d) in l.encoder.iter().enumerate() {
            let (prev, rest) = a.encoder.split_at_mut(i);
            let input = prev.last().map_or(x, |v| &v[..]);
            dense_forward(d, p, input, rows, &mut rest[0], true);
        }
        if let Some(at) = &l.attention {
            let input = a.encoder.last().map_or(x, |v| &v[..]);
            attention_forward(at, p, input, rows, keep, &mut a.att);
        }
        for (i, d) in l.bottleneck.iter().enumerate() {
            let (prev, rest) = a.bottleneck.split_at_mut(i);
            let input = match prev.last() {
                Some(v) => &v[..],
                None => before_bottleneck(l, &a.encoder, &a.att, x),
            };
            dense_forward(d, p, input, rows, &mut rest[0], true);
        }
        let h = latent_input(l, &a.encoder, &a.att, &a.bottleneck, x);
        dense_forward(&l.mean, p, h, rows, &mut a.mean, false);
        let latent = l.mean.dout;
        let n = rows * latent;
        match (&l.log_var, eps) {
            (Some(lv), Some(eps)) => {
                dense_forward(lv, p, h, rows, &mut a.log_var, false);
                let z = a.z[..n].iter_mut().zip(&a.mean[..n]);
                for ((z, m), (lv, e)) in z.zip(a.log_var[..n].iter().zip(eps)) {
                    *z = m + (lv * 0.5).exp() * e;
                }
            }
            _ => a.z[..n].copy_from_slice(&a.mean[..n]),
        }
        for (i, d) in l.decoder.iter().enumerate() {
            let (prev, rest) = a.decoder.split_at_mut(i);
            let input = prev.last().map_or(&a.z[..], |v| &v[..]);
            dense_forward(d, p, input, rows, &mut rest[0], true);
        }
        let h = a.decoder.last().map_or(&a.z[..], |v| &v[..]);
        dense_forward(&l.output, p, h, rows, &mut a.out, false);
        if l.sigmoid {
            for v in &mut a.out[..rows * l.input()] {
                *v = 1.0 / (1.0 + (-*v).exp());
            }
        }
    }

    /// Mean squared reconstruction error per row of scaled inputs (VAE: of the posterior
    /// mean), as [`crate::model`]'s scoring computes it.
    pub fn reconstruction_errors(&mut self, x: &[f32], n: usize) -> Vec<f32> {
        let d = self.layout.input();
        let chunk = self.capacity.max(256);
        let mut out = Vec::with_capacity(n);
        for start in (0..n).step_by(chunk) {
            let rows = chunk.min(n - start);
            let xs = &x[start * d..(start + rows) * d];
            simd(
                #[inline(always)]
                || self.forward(xs, rows, None, None),
            );
            let diff = &mut self.acts.d0;
            for (g, (o, t)) in diff.iter_mut().zip(self.acts.out.iter().zip(xs)) {
                *g = o - t;
            }
            for r in 0..rows {
                let e = &diff[r * d..(r + 1) * d];
                out.push(dot(e, e) / d as f32);
            }
        }
        out
    }

    /// One optimiser step on `batch`; returns the batch loss (Σ weight · row loss).
    pub fn step(&mut self, batch: &Batch<'_>, learning_rate: f64) -> f32 {
        let rows = batch.rows;
        let eps = batch.eps.filter(|_| self.variational);
        let loss = simd(
            #[inline(always)]
            || {
                self.forward(batch.input, rows, eps, batch.keep);
                self.backward(batch, eps)
            },
        );
        self.adam(learning_rate as f32);
        loss
    }

    /// Gradients of the batch loss into `self.grads`; returns the loss.
    #[inline(always)] // into the SIMD dispatch of `step`
    fn backward(&mut self, batch: &Batch<'_>, eps: Option<&[f32]>) -> f32 {
        let rows = batch.rows;
        let (l, p, a, g) = (
            &self.layout,
            &self.params[..],
            &mut self.acts,
            &mut self.grads[..],
        );
        let d = l.input();
        let latent = l.mean.dout;
        let kl_scale = batch.kl_weight / d as f32;
        // Loss and d loss / d output.
        let mut loss = 0.0f32;
        let mut delta = std::mem::take(&mut a.d0);
        let inv_d = 1.0 / d as f32;
        for r in 0..rows {
            let w = batch.weights[r];
            let out = &a.out[r * d..(r + 1) * d];
            let dr = &mut delta[r * d..(r + 1) * d];
            for ((g, o), t) in dr
                .iter_mut()
                .zip(out)
                .zip(&batch.target[r * d..(r + 1) * d])
            {
                *g = o - t;
            }
            let se = dot(dr, dr);
            let k = w * 2.0 * inv_d;
            if l.sigmoid {
                for (g, o) in dr.iter_mut().zip(out) {
                    *g *= k * o * (1.0 - o);
                }
            } else {
                for g in dr.iter_mut() {
                    *g *= k;
                }
            }
            let mut row = se * inv_d;
            if eps.is_some() {
                let kl: f32 = (0..latent)
                    .map(|j| {
                        let (m, lv) = (a.mean[r * latent + j], a.log_var[r * latent + j]);
                        lv.exp() + m * m - lv - 1.0
                    })
                    .sum::<f32>()
                    * 0.5;
                row += kl * kl_scale;
            }
            loss += row * w;
        }
        let mut spare = std::mem::take(&mut a.d1);
        // Output layer and decoder, back to the latent code.
        let h = a.decoder.last().map_or(&a.z[..], |v| &v[..]);
        dense_backward(&l.output, p, g, (h, &delta, rows), Some(&mut spare), false);
        std::mem::swap(&mut delta, &mut spare);
        for i in (0..l.decoder.len()).rev() {
            let dl = &l.decoder[i];
            relu_backward(&mut delta[..rows * dl.dout], &a.decoder[i]);
            let input = if i == 0 {
                &a.z[..]
            } else {
                &a.decoder[i - 1][..]
            };
            dense_backward(dl, p, g, (input, &delta, rows), Some(&mut spare), false);
            std::mem::swap(&mut delta, &mut spare);
        }
        // Latent: reparameterisation and KL for the VAE.
        let n = rows * latent;
        match eps {
            Some(eps) => {
                for r in 0..rows {
                    let w = batch.weights[r];
                    for j in 0..latent {
                        let i = r * latent + j;
                        let (m, lv, dz) = (a.mean[i], a.log_var[i], delta[i]);
                        a.dmean[i] = dz + w * kl_scale * m;
                        a.dlog_var[i] = dz * 0.5 * (0.5 * lv).exp() * eps[i]
                            + w * 0.5 * kl_scale * (lv.exp() - 1.0);
                    }
                }
            }
            None => a.dmean[..n].copy_from_slice(&delta[..n]),
        }
        let h = latent_input(l, &a.encoder, &a.att, &a.bottleneck, batch.input);
        dense_backward(&l.mean, p, g, (h, &a.dmean, rows), Some(&mut delta), false);
        match (&l.log_var, eps) {
            (Some(lv), Some(_)) => {
                dense_backward(lv, p, g, (h, &a.dlog_var, rows), Some(&mut delta), true)
            }
            (Some(lv), None) => {
                // A VAE batch without noise does not reach the log-variance head.
                lv.w.of_mut(g).fill(0.0);
                lv.b.of_mut(g).fill(0.0);
            }
            _ => {}
        }
        // Bottleneck, back to the attention output (or the encoder's).
        for i in (0..l.bottleneck.len()).rev() {
            let dl = &l.bottleneck[i];
            relu_backward(&mut delta[..rows * dl.dout], &a.bottleneck[i]);
            let input = match i {
                0 => before_bottleneck(l, &a.encoder, &a.att, batch.input),
                _ => &a.bottleneck[i - 1][..],
            };
            let first = i == 0 && l.attention.is_none() && l.encoder.is_empty();
            let dx = (!first).then_some(&mut spare[..]);
            dense_backward(dl, p, g, (input, &delta, rows), dx, false);
            std::mem::swap(&mut delta, &mut spare);
        }
        if let Some(at) = &l.attention {
            let x = a.encoder.last().map_or(batch.input, |v| &v[..]);
            attention_backward(
                at, p, g, x, rows, batch.keep, &mut a.att, &delta, &mut spare,
            );
            std::mem::swap(&mut delta, &mut spare);
        }
        for i in (0..l.encoder.len()).rev() {
            let dl = &l.encoder[i];
            relu_backward(&mut delta[..rows * dl.dout], &a.encoder[i]);
            let input = if i == 0 {
                batch.input
            } else {
                &a.encoder[i - 1][..]
            };
            let dx = (i > 0).then_some(&mut spare[..]);
            dense_backward(dl, p, g, (input, &delta, rows), dx, false);
            std::mem::swap(&mut delta, &mut spare);
        }
        a.d0 = delta;
        a.d1 = spare;
        loss
    }

    /// burn's Adam (`AdamConfig` defaults, no weight decay): ε is scaled by the second
    /// moment's bias correction, as burn does.
    fn adam(&mut self, lr: f32) {
        self.time += 1;
        let c2 = (1.0 - BETA_2.powi(self.time)).sqrt();
        let factor = c2 / (1.0 - BETA_1.powi(self.time));
        let eps = ADAM_EPS * c2;
        let (params, grads, m1, m2) = (&mut self.params, &self.grads, &mut self.m1, &mut self.m2);
        simd(
            #[inline(always)]
            || {
                for (((p, g), m), v) in params.iter_mut().zip(grads).zip(m1).zip(m2) {
                    *m = BETA_1 * *m + (1.0 - BETA_1) * g;
                    *v = BETA_2 * *v + (1.0 - BETA_2) * g * g;
                    *p -= lr * (*m * factor) / (v.sqrt() + eps);
                }
            },
        );
    }

    #[cfg(test)]
    pub(crate) fn gradients(&mut self, batch: &Batch<'_>) -> (f32, Vec<Vec<f32>>) {
        let eps = batch.eps.filter(|_| self.variational);
        self.forward(batch.input, batch.rows, eps, batch.keep);
        let loss = self.backward(batch, eps);
        let mut out = Vec::new();
        let mut off = 0;
        for s in &self.layout.shapes {
            let len: usize = s.iter().product();
            out.push(self.grads[off..off + len].to_vec());
            off += len;
        }
        (loss, out)
    }
}

/// `out[rows, dout] = input W + b`, then ReLU if `relu`.
#[inline(always)] // into the SIMD dispatch of `step`
fn dense_forward(d: &Dense, p: &[f32], input: &[f32], rows: usize, out: &mut [f32], relu: bool) {
    let out = &mut out[..rows * d.dout];
    let b = d.b.of(p);
    for row in out.chunks_exact_mut(d.dout) {
        row.copy_from_slice(b);
    }
    mm(
        rows,
        d.dout,
        d.din,
        out,
        d.dout,
        true,
        1.0,
        (input, d.din, 1),
        (d.w.of(p), d.dout, 1),
    );
    if relu {
        for v in out {
            *v = v.max(0.0);
        }
    }
}

/// Gradients of `W` and `b` from the output delta `dy [rows, dout]` and the layer's input;
/// the input's delta into `dx` when given (added to it when `accumulate`: a second layer
/// reading the same input).
#[inline(always)] // into the SIMD dispatch of `step`
fn dense_backward(
    d: &Dense,
    p: &[f32],
    g: &mut [f32],
    (input, dy, rows): (&[f32], &[f32], usize),
    dx: Option<&mut [f32]>,
    accumulate: bool,
) {
    weight_gradients(d, g, input, dy, rows);
    if let Some(dx) = dx {
        mm(
            rows,
            d.din,
            d.dout,
            &mut dx[..rows * d.din],
            d.din,
            accumulate,
            1.0,
            (dy, d.dout, 1),
            (d.w.of(p), 1, d.dout),
        );
    }
}

#[inline(always)] // into the SIMD dispatch of `step`
fn weight_gradients(d: &Dense, g: &mut [f32], input: &[f32], dy: &[f32], rows: usize) {
    mm(
        d.din,
        d.dout,
        rows,
        d.w.of_mut(g),
        d.dout,
        false,
        1.0,
        (input, 1, d.din),
        (dy, d.dout, 1),
    );
    let gb = d.b.of_mut(g);
    gb.fill(0.0);
    for row in dy[..rows * d.dout].chunks_exact(d.dout) {
        for (s, v) in gb.iter_mut().zip(row) {
            *s += v;
        }
    }
}

/// `delta *= (h > 0)`: ReLU's derivative from its output.
#[inline(always)]
fn relu_backward(delta: &mut [f32], h: &[f32]) {
    for (d, &v) in delta.iter_mut().zip(h) {
        if v <= 0.0 {
            *d = 0.0;
        }
    }
}

/// What the bottleneck reads: the attention output, else the encoder's, else the input.
fn before_bottleneck<'a>(
    l: &Layout,
    encoder: &'a [Vec<f32>],
    att: &'a AttentionActivations,
    x: &'a [f32],
) -> &'a [f32] {
    if l.attention.is_some() {
        &att.y
    } else {
        encoder.last().map_or(x, |v| &v[..])
    }
}

/// What the latent heads read: the bottleneck's output, else [`before_bottleneck`].
fn latent_input<'a>(
    l: &Layout,
    encoder: &'a [Vec<f32>],
    att: &'a AttentionActivations,
    bottleneck: &'a [Vec<f32>],
    x: &'a [f32],
) -> &'a [f32] {
    match bottleneck.last() {
        Some(v) => v,
        None => before_bottleneck(l, encoder, att, x),
    }
}

/// [`crate::network::FeatureAttention::forward`]: tokens from chunks of `x [rows, w]`,
/// multi-head self-attention, dropout, residual, LayerNorm. Output in `a.y`.
#[inline(always)] // into the SIMD dispatch of `step`
fn attention_forward(
    at: &Attention,
    p: &[f32],
    x: &[f32],
    rows: usize,
    keep: Option<&[f32]>,
    a: &mut AttentionActivations,
) {
    let (t, dm, heads) = (at.tokens, at.dm, at.heads);
    let n = rows * t;
    let dk = dm / heads;
    let scale = 1.0 / (dk as f32).sqrt();
    dense_forward(&at.embed, p, x, n, &mut a.t, false);
    let pos = at.pos.of(p);
    for (r, row) in a.t[..n * dm].chunks_exact_mut(dm).enumerate() {
        let tok = r % t;
        for (v, q) in row.iter_mut().zip(&pos[tok * dm..(tok + 1) * dm]) {
            *v += q;
        }
    }
    let tt = &a.t[..];
    dense_forward(&at.q, p, tt, n, &mut a.q, false);
    dense_forward(&at.k, p, tt, n, &mut a.k, false);
    dense_forward(&at.v, p, tt, n, &mut a.v, false);
    for b in 0..rows {
        for h in 0..heads {
            let probs = &mut a.p[(b * heads + h) * t * t..(b * heads + h + 1) * t * t];
            for i in 0..t {
                let qi = &a.q[(b * t + i) * dm + h * dk..][..dk];
                let row = &mut probs[i * t..(i + 1) * t];
                for (j, s) in row.iter_mut().enumerate() {
                    let kj = &a.k[(b * t + j) * dm + h * dk..][..dk];
                    *s = dot(qi, kj) * scale;
                }
                softmax(row);
            }
            for i in 0..t {
                let c = &mut a.ctx[(b * t + i) * dm + h * dk..][..dk];
                c.fill(0.0);
                for j in 0..t {
                    let w = probs[i * t + j];
                    let vj = &a.v[(b * t + j) * dm + h * dk..][..dk];
                    for (c, v) in c.iter_mut().zip(vj) {
                        *c += w * v;
                    }
                }
            }
        }
    }
    dense_forward(&at.o, p, &a.ctx, n, &mut a.a, false);
    let (gamma, beta) = (at.gamma.of(p), at.beta.of(p));
    for r in 0..n {
        let res = &mut a.xhat[r * dm..(r + 1) * dm];
        for j in 0..dm {
            let mut att = a.a[r * dm + j];
            if let Some(k) = keep {
                att *= k[r * dm + j];
            }
            res[j] = a.t[r * dm + j] + att;
        }
        let mean = sum(res) / dm as f32;
        res.iter_mut().for_each(|v| *v -= mean);
        let var = dot(res, res) / dm as f32;
        let rstd = 1.0 / (var + LN_EPS).sqrt();
        a.rstd[r] = rstd;
        for j in 0..dm {
            let xh = res[j] * rstd;
            res[j] = xh;
            a.y[r * dm + j] = xh * gamma[j] + beta[j];
        }
    }
}

/// Backward of [`attention_forward`]: `dy [rows, tokens·dm]` in, the delta of its input
/// `x [rows, w]` into `dx`.
#[allow(clippy::too_many_arguments)]
#[inline(always)] // into the SIMD dispatch of `step`
fn attention_backward(
    at: &Attention,
    p: &[f32],
    g: &mut [f32],
    x: &[f32],
    rows: usize,
    keep: Option<&[f32]>,
    a: &mut AttentionActivations,
    dy: &[f32],
    dx: &mut [f32],
) {
    let (t, dm, heads) = (at.tokens, at.dm, at.heads);
    let n = rows * t;
    let dk = dm / heads;
    let scale = 1.0 / (dk as f32).sqrt();
    // LayerNorm: γ and β, then the residual's delta (into d_t) and dropout's (into d_a).
    let gamma = at.gamma.of(p);
    let mut d_gamma = vec![0.0f32; dm];
    let mut d_beta = vec![0.0f32; dm];
    for r in 0..n {
        let xh = &a.xhat[r * dm..(r + 1) * dm];
        let dyr = &dy[r * dm..(r + 1) * dm];
        let (mut mean_d, mut mean_dx) = (0.0f32, 0.0f32);
        for j in 0..dm {
            d_gamma[j] += dyr[j] * xh[j];
            d_beta[j] += dyr[j];
            let v = dyr[j] * gamma[j];
            mean_d += v;
            mean_dx += v * xh[j];
        }
        mean_d /= dm as f32;
        mean_dx /= dm as f32;
        for j in 0..dm {
            let dr = a.rstd[r] * (dyr[j] * gamma[j] - mean_d - xh[j] * mean_dx);
            a.d_t[r * dm + j] = dr;
            a.d_a[r * dm + j] = keep.map_or(dr, |k| dr * k[r * dm + j]);
        }
    }
    at.gamma.of_mut(g).copy_from_slice(&d_gamma);
    at.beta.of_mut(g).copy_from_slice(&d_beta);
    // Output projection: d context.
    dense_backward(&at.o, p, g, (&a.ctx, &a.d_a, n), Some(&mut a.d_ctx), false);
    // Scaled dot-product attention, per row and head: dQ, dK, dV.
    for b in 0..rows {
        for h in 0..heads {
            let probs = &a.p[(b * heads + h) * t * t..(b * heads + h + 1) * t * t];
            let at_tok = |i: usize| (b * t + i) * dm + h * dk;
            // dP = dC Vᵀ; dV = Pᵀ dC.
            for i in 0..t {
                let dc = &a.d_ctx[at_tok(i)..][..dk];
                for j in 0..t {
                    a.d_p[i * t + j] = dot(dc, &a.v[at_tok(j)..][..dk]);
                }
            }
            for j in 0..t {
                let dvj = &mut a.d_v[at_tok(j)..][..dk];
                dvj.fill(0.0);
                for i in 0..t {
                    axpy(probs[i * t + j], &a.d_ctx[at_tok(i)..][..dk], dvj);
                }
            }
            // Softmax: dS = P ⊙ (dP − Σⱼ dP P), times the scale.
            for i in 0..t {
                let pr = &probs[i * t..(i + 1) * t];
                let dpr = &mut a.d_p[i * t..(i + 1) * t];
                let s = dot(pr, dpr);
                for (d, p) in dpr.iter_mut().zip(pr) {
                    *d = p * (*d - s) * scale;
                }
            }
            // dQ = dS K; dK = dSᵀ Q.
            for i in 0..t {
                let dqi = &mut a.d_q[at_tok(i)..][..dk];
                dqi.fill(0.0);
                for j in 0..t {
                    axpy(a.d_p[i * t + j], &a.k[at_tok(j)..][..dk], dqi);
                }
            }
            for j in 0..t {
                let dkj = &mut a.d_k[at_tok(j)..][..dk];
                dkj.fill(0.0);
                for i in 0..t {
                    axpy(a.d_p[i * t + j], &a.q[at_tok(i)..][..dk], dkj);
                }
            }
        }
    }
    // Projections: d_t += dQ Wqᵀ + dK Wkᵀ + dV Wvᵀ (it holds the residual's part already).
    dense_backward(&at.q, p, g, (&a.t, &a.d_q, n), Some(&mut a.d_t), true);
    dense_backward(&at.k, p, g, (&a.t, &a.d_k, n), Some(&mut a.d_t), true);
    dense_backward(&at.v, p, g, (&a.t, &a.d_v, n), Some(&mut a.d_t), true);
    // Positions: summed over rows, per token.
    let gp = at.pos.of_mut(g);
    gp.fill(0.0);
    for (r, row) in a.d_t[..n * dm].chunks_exact(dm).enumerate() {
        let tok = r % t;
        for (s, v) in gp[tok * dm..(tok + 1) * dm].iter_mut().zip(row) {
            *s += v;
        }
    }
    // Token embedding: x seen as [rows·tokens, chunk].
    dense_backward(&at.embed, p, g, (x, &a.d_t, n), Some(dx), false);
}

/// `y += α x`.
#[inline(always)]
fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += alpha * x;
    }
}

/// Run `f` with the CPU's widest SIMD instructions enabled (AVX2/AVX-512 where present):
/// the loops inlined into it vectorise for them. Element-wise results do not change (no
/// operation is fused or reordered), so fits repeat across machines.
#[inline(always)]
fn simd<R>(f: impl pulp::NullaryFnOnce<Output = R>) -> R {
    pulp::Arch::new().dispatch(f)
}

/// `Σ aᵢ bᵢ` over eight lanes, so the loop vectorises (a plain `sum` is one dependent
/// chain of adds).
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut acc = [0f32; 8];
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `Σ aᵢ`, vectorised as [`dot`].
#[inline(always)]
fn sum(a: &[f32]) -> f32 {
    let c = a.chunks_exact(8);
    let tail: f32 = c.remainder().iter().sum();
    let mut acc = [0f32; 8];
    for x in c {
        for i in 0..8 {
            acc[i] += x[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[inline(always)]
fn softmax(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in row.iter_mut() {
        *v /= sum;
    }
}

#[cfg(test)]
mod tests {
    //! The fast path against burn's autodiff on the same weights and batch: loss, every
    //! parameter's gradient, the reconstruction, and weights after Adam steps.

    use super::*;
    use crate::config::{Noise, Scaling, Variant};
    use crate::model::row_losses;
    use burn::optim::{AdamConfig, GradientsParams};
    use burn::tensor::Device;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    struct GradsOf<'a> {
        grads: &'a burn::tensor::Gradients,
        out: Vec<Vec<f32>>,
    }

    impl ModuleVisitor for GradsOf<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let g = param
                .val()
                .grad(self.grads)
                .expect("every parameter has a gradient");
            self.out.push(g.into_data().try_into_vec::<f32>().unwrap());
        }
    }

    fn configs() -> Vec<AutoencoderConfig> {
        let small = AutoencoderConfig {
            encoder_widths: vec![16, 8],
            bottleneck_widths: vec![6],
            latent: 3,
            attention_tokens: 4,
            attention_dim: 6,
            attention_heads: 2,
            ..AutoencoderConfig::ae()
        };
        let mut out = Vec::new();
        for variant in [
            Variant::Ae,
            Variant::Vae { beta: 0.7 },
            Variant::Dae {
                noise: Noise::Gaussian { std: 0.1 },
            },
        ] {
            for attention in [false, true] {
                for output in [OutputActivation::Sigmoid, OutputActivation::Linear] {
                    out.push(AutoencoderConfig {
                        variant,
                        attention,
                        output,
                        scaling: Scaling::None,
                        ..small.clone()
                    });
                }
            }
        }
        // No bottleneck: the heads read the attention (or encoder) output directly.
        out.push(AutoencoderConfig {
            bottleneck_widths: vec![],
            attention: true,
            ..small.clone()
        });
        out.push(AutoencoderConfig {
            bottleneck_widths: vec![],
            ..small
        });
        out
    }

    struct Data {
        input: Vec<f32>,
        target: Vec<f32>,
        eps: Vec<f32>,
        keep: Vec<f32>,
        weights: Vec<f32>,
    }

    fn data(rows: usize, d: usize, cfg: &AutoencoderConfig, seed: u64) -> Data {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let target: Vec<f32> = (0..rows * d).map(|_| rng.random::<f32>()).collect();
        Data {
            input: target
                .iter()
                .map(|v| v + 0.05 * rng.random::<f32>())
                .collect(),
            eps: (0..rows * cfg.latent)
                .map(|_| rng.random::<f32>() * 2.0 - 1.0)
                .collect(),
            keep: (0..rows * cfg.attention_tokens * cfg.attention_dim)
                .map(|_| if rng.random::<f32>() < 0.2 { 0.0 } else { 1.25 })
                .collect(),
            weights: (0..rows).map(|_| 0.1 + rng.random::<f32>()).collect(),
            target,
        }
    }

    fn batch<'a>(x: &'a Data, rows: usize, cfg: &AutoencoderConfig) -> Batch<'a> {
        Batch {
            rows,
            input: &x.input,
            target: &x.target,
            eps: cfg.variant.is_variational().then_some(&x.eps[..]),
            keep: cfg.attention.then_some(&x.keep[..]),
            weights: &x.weights,
            kl_weight: 0.8,
        }
    }

    fn burn_loss(
        net: &Network,
        cfg: &AutoencoderConfig,
        x: &Data,
        rows: usize,
        d: usize,
        device: &Device,
    ) -> Tensor<1> {
        let t2 = |v: &[f32], c: usize| {
            Tensor::<2>::from_data(TensorData::new(v.to_vec(), [rows, c]), device)
        };
        let losses = row_losses(
            net,
            cfg,
            t2(&x.input, d),
            t2(&x.target, d),
            cfg.variant.is_variational().then(|| t2(&x.eps, cfg.latent)),
            cfg.attention.then(|| {
                Tensor::<3>::from_data(
                    TensorData::new(
                        x.keep.clone(),
                        [rows, cfg.attention_tokens, cfg.attention_dim],
                    ),
                    device,
                )
            }),
            0.8,
        );
        (losses * Tensor::<1>::from_data(TensorData::new(x.weights.clone(), [rows]), device)).sum()
    }

    fn assert_close(what: &str, a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-3);
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= 1e-4 * scale + 1e-6,
                "{what}[{i}]: fast {x} vs burn {y} (scale {scale})"
            );
        }
    }

    fn network(d: usize, cfg: &AutoencoderConfig) -> (Network, Device) {
        let device = Device::flex().autodiff();
        device.seed(7);
        (Network::new(d, cfg, &device), device)
    }

    #[test]
    fn loss_and_gradients_match_burn() {
        let (rows, d) = (5, 12);
        for cfg in configs() {
            let (net, device) = network(d, &cfg);
            let x = data(rows, d, &cfg, 3);
            let loss = burn_loss(&net, &cfg, &x, rows, d, &device);
            let burn_value = loss
                .clone()
                .detach()
                .into_data()
                .try_into_vec::<f32>()
                .unwrap()[0];
            let grads = loss.backward();
            let mut visitor = GradsOf {
                grads: &grads,
                out: Vec::new(),
            };
            net.visit(&mut visitor);
            let mut fast = FastTrainer::from_network(&net, d, &cfg).expect("layout matches");
            let (value, fast_grads) = fast.gradients(&batch(&x, rows, &cfg));
            let name = format!(
                "{} {:?}{}",
                cfg.name(),
                cfg.output,
                if cfg.bottleneck_widths.is_empty() {
                    " no bottleneck"
                } else {
                    ""
                }
            );
            assert!(
                (value - burn_value).abs() <= 1e-5 * burn_value.abs().max(1.0),
                "{name}: loss {value} vs {burn_value}"
            );
            assert_eq!(
                fast_grads.len(),
                visitor.out.len(),
                "{name}: parameter count"
            );
            for (i, (f, b)) in fast_grads.iter().zip(&visitor.out).enumerate() {
                assert_close(
                    &format!(
                        "{name}: gradient of parameter {i} {:?}",
                        fast.layout.shapes[i]
                    ),
                    f,
                    b,
                );
            }
        }
    }

    #[test]
    fn adam_steps_and_reconstruction_match_burn() {
        let (rows, d) = (6, 12);
        for cfg in configs() {
            let (net, device) = network(d, &cfg);
            let x = data(rows, d, &cfg, 5);
            let mut fast = FastTrainer::from_network(&net, d, &cfg).expect("layout matches");
            let mut optim = AdamConfig::new().init();
            let mut burn_net = net.clone();
            for _ in 0..3 {
                let loss = burn_loss(&burn_net, &cfg, &x, rows, d, &device);
                let grads = GradientsParams::from_grads(loss.backward(), &burn_net);
                burn_net = optim.step(1e-2, burn_net, grads);
                fast.step(&batch(&x, rows, &cfg), 1e-2);
            }
            let mut expected = Collect::default();
            burn_net.visit(&mut expected);
            let moved = fast.write_into(&fast.weights(), net);
            let mut got = Collect::default();
            moved.visit(&mut got);
            for (i, (g, e)) in got.0.iter().zip(&expected.0).enumerate() {
                assert_eq!(g.0, e.0, "shape of parameter {i}");
                assert_close(
                    &format!("{}: parameter {i} after 3 Adam steps", cfg.name()),
                    &g.1,
                    &e.1,
                );
            }
            // Scoring: the fast forward's errors equal burn's on the written-back network.
            let errors = fast.reconstruction_errors(&x.target, rows);
            let valid = moved.valid();
            let expected =
                crate::model::reconstruction_errors(&valid, &x.target, rows, d, &Device::flex());
            assert_close(
                &format!("{}: reconstruction errors", cfg.name()),
                &errors,
                &expected,
            );
        }
    }

    #[test]
    fn a_foreign_network_is_refused() {
        let cfg = AutoencoderConfig::ae();
        let (net, _) = network(12, &cfg);
        // Another input width: the shapes differ, so the caller falls back to burn.
        assert!(FastTrainer::from_network(&net, 13, &cfg).is_none());
        let other = AutoencoderConfig { latent: 4, ..cfg };
        assert!(FastTrainer::from_network(&net, 12, &other).is_none());
    }
}
