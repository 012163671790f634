"""PyTorch side of the autoencoder-fit benchmark (issue #16): the apt-llm network
(crates/autoencoders: the authors' Keras model) trained on the same unweighted random rows,
batch 256, Adam 1e-3, on the CPU, so that its seconds per epoch compare with

    cargo run --release -p apt-llm-autoencoders --example bench_fit -- --epochs 5

run in the same session. Needs torch (e.g. the sentence-transformers venv of
../shared/bench/st_bench.py):

    python3 scripts/bench_autoencoder.py [--rows 30000] [--dim 384] [--epochs 5]
        [--threads 2] [--variants ae,vae,dae]

Prints one line per fit: variant, seconds per epoch (median over the epochs after the
first, which warms up the allocator), final loss.
"""
import argparse, statistics, time

import numpy as np
import torch
from torch import nn


class Attention(nn.Module):
    """Feature attention: the 64-wide hidden vector as 8 tokens of 8 features."""

    def __init__(self, width, tokens=8, dim=64, heads=2, dropout=0.1):
        super().__init__()
        self.tokens, self.dim = tokens, dim
        self.embed = nn.Linear(width // tokens, dim)
        self.position = nn.Parameter(torch.randn(tokens, dim) * 0.02)
        self.mha = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(dim, eps=1e-5)

    def forward(self, x):
        b = x.shape[0]
        t = self.embed(x.reshape(b, self.tokens, -1)) + self.position
        attended, _ = self.mha(t, t, t, need_weights=False)
        return self.norm(t + self.drop(attended)).reshape(b, self.tokens * self.dim)


class Net(nn.Module):
    def __init__(self, d, variant, attention):
        super().__init__()
        self.variant = variant
        enc = [nn.Linear(d, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU()]
        if attention:
            enc.append(Attention(64))
            width = 8 * 64
        else:
            width = 64
        enc += [nn.Linear(width, 32), nn.ReLU()]
        self.encoder = nn.Sequential(*enc)
        self.mean = nn.Linear(32, 16)
        self.log_var = nn.Linear(32, 16) if variant == "vae" else None
        self.decoder = nn.Sequential(
            nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 64), nn.ReLU(),
            nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, d), nn.Sigmoid(),
        )

    def loss(self, noisy, clean, kl_weight):
        h = self.encoder(noisy)
        mu = self.mean(h)
        if self.log_var is not None:
            lv = self.log_var(h)
            z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
            kl = 0.5 * (lv.exp() + mu.pow(2) - lv - 1).sum(1) * (kl_weight / clean.shape[1])
        else:
            z, kl = mu, 0.0
        rows = (self.decoder(z) - clean).pow(2).mean(1) + kl
        return rows.mean()


def fit(x, variant, attention, epochs, batch=256):
    torch.manual_seed(42)
    net = Net(x.shape[1], variant, attention)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-5)
    times, loss = [], float("nan")
    n = x.shape[0]
    for epoch in range(epochs):
        start = time.perf_counter()
        perm = torch.randperm(n)
        total, batches = 0.0, 0
        for i in range(0, n, batch):
            clean = x[perm[i : i + batch]]
            noisy = clean + 0.1 * torch.randn_like(clean) if variant == "dae" else clean
            l = net.loss(noisy, clean, min(1.0, (epoch + 1) / max(1, epochs // 4)))
            opt.zero_grad(set_to_none=True)
            l.backward()
            opt.step()
            total += l.item()
            batches += 1
        times.append(time.perf_counter() - start)
        loss = total / batches
    return times, loss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=30000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--variants", default="ae,vae,dae")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    x = torch.from_numpy(np.random.default_rng(0).random((a.rows, a.dim), dtype=np.float32))
    print(f"torch {torch.__version__}, rows {a.rows}, dim {a.dim}, epochs {a.epochs}, batch 256, threads {torch.get_num_threads()}")
    for variant in a.variants.split(","):
        for attention in (False, True):
            times, loss = fit(x, variant, attention, a.epochs)
            per_epoch = statistics.median(times[1:] or times)
            name = variant.upper() + ("+attn" if attention else "")
            print(f"{name:<9} torch {per_epoch:8.3f} s/epoch  loss {loss:.5f}", flush=True)


if __name__ == "__main__":
    main()
