#!/usr/bin/env python3
"""Every speed ratio of issue #16 in one run, each tool alternated with its Python
counterpart on this machine:

- encoder: sentence-transformers vs the burn fast path (token budget), vs the tch backend
  (batch 16, f32) and, with `--bf16`, vs the tch backend in bf16 (scripts/bench_encoders.py);
- autoencoder fit: PyTorch (scripts/bench_autoencoder.py) vs the `bench_fit` example, seconds
  per epoch on 30,000 unweighted rows, AE/VAE/DAE with and without attention;
- grid: one cold `apt-llm evaluate --no-cache` against the Python reference's 434 s (issue
  #16; that pipeline is not in this repository and is not rerun).

Usage (from the repository root, on a quiet machine):

    cargo build --release -p apt-llm-embed --example bench_encode [--features tch]
    cargo build --release -p apt-llm-autoencoders --example bench_fit
    cargo build --release -p apt-llm-cli
    python3 scripts/bench_all.py [--python /work/st-venv/bin/python] [--rounds 2] [--bf16]
        [--skip encoder,autoencoder,grid]

The tch rows run when `bench_encode` was built with `--features tch` (LIBTORCH set; see
scripts/setup_libtorch.py). Prints each comparison as it ends, then one JSON summary line.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

root = Path(__file__).resolve().parent.parent
ap = argparse.ArgumentParser()
ap.add_argument("--python", default="/work/st-venv/bin/python")
ap.add_argument("--rounds", type=int, default=2)
ap.add_argument("--bf16", action="store_true", help="also time the tch backend in bf16")
ap.add_argument("--epochs", type=int, default=5)
ap.add_argument("--skip", default="", help="comma-separated: encoder, autoencoder, grid")
ap.add_argument("--data", default=str(root.parent / "shared/datasets/adapt-e2"))
a = ap.parse_args()
skip = set(filter(None, a.skip.split(",")))
PYTHON_GRID_SECONDS = 434.0
env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", TOKENIZERS_PARALLELISM="false")
if os.environ.get("LIBTORCH"):
    lib = str(Path(os.environ["LIBTORCH"]) / "lib")
    env["LD_LIBRARY_PATH"] = ":".join(p for p in (lib, env.get("LD_LIBRARY_PATH")) if p)
summary = {"loadavg_before": os.getloadavg()}


def run(cmd):
    print("+", " ".join(map(str, cmd)), file=sys.stderr, flush=True)
    return subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout


def has_tch():
    exe = root / "target/release/examples/bench_encode"
    probe = subprocess.run([str(exe), "x", "y", "--backend", "tch"], env=env,
                           capture_output=True, text=True)
    return "when built with --features tch" not in probe.stderr + probe.stdout


if "encoder" not in skip:
    configs = [("burn fast path", ["--batch", "0", "--st-batch", "16"])]
    if has_tch():
        configs.append(("tch f32", ["--backend", "tch", "--batch", "16", "--st-batch", "16"]))
        if a.bf16:
            configs.append(("tch bf16", ["--backend", "tch", "--precision", "bf16",
                                         "--batch", "16", "--st-batch", "16"]))
    else:
        print("bench_encode has no tch backend: tch rows skipped", flush=True)
    for name, extra in configs:
        out = run([sys.executable, root / "scripts/bench_encoders.py", "--python", a.python,
                   "--rounds", str(a.rounds)] + extra)
        res = json.loads(out.strip().splitlines()[-1])
        summary[f"encoder {name}"] = res
        print(f"encoder  {name:15s} sentence-transformers {res['sentence_transformers_tok_s']:8.1f} "
              f"tok/s, apt-llm {res['apt_llm_tok_s']:8.1f} tok/s: {res['ratio']:.2f}x", flush=True)

if "autoencoder" not in skip:
    line = re.compile(r"^(\S+)\s+(torch|fast)\s+([0-9.]+) s/epoch")
    best = {"torch": {}, "fast": {}}
    for _ in range(a.rounds):
        for cmd in ([a.python, root / "scripts/bench_autoencoder.py", "--epochs", str(a.epochs)],
                    [root / "target/release/examples/bench_fit", "--epochs", str(a.epochs),
                     "--kernels", "fast"]):
            for m in filter(None, map(line.match, run(cmd).splitlines())):
                name, tool, secs = m.group(1), m.group(2), float(m.group(3))
                best[tool][name] = min(best[tool].get(name, secs), secs)
    for name, torch_s in best["torch"].items():
        ours = best["fast"].get(name)
        if ours:
            summary[f"autoencoder {name}"] = {"torch_s_per_epoch": torch_s,
                                              "apt_llm_s_per_epoch": ours,
                                              "ratio": round(torch_s / ours, 2)}
            print(f"autoencoder {name:9s} torch {torch_s:.3f} s/epoch, apt-llm {ours:.3f}: "
                  f"{torch_s / ours:.2f}x", flush=True)

if "grid" not in skip:
    out = root / "target/bench-all-grid"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    start = time.perf_counter()
    run([root / "target/release/apt-llm", "evaluate", "--data", a.data, "--out", out,
         "--quiet", "--no-cache"])
    secs = time.perf_counter() - start
    summary["grid"] = {"seconds": round(secs, 1), "python_reference_s": PYTHON_GRID_SECONDS,
                       "ratio": round(PYTHON_GRID_SECONDS / secs, 2)}
    print(f"grid     cold evaluate {secs:.1f} s vs the Python reference's {PYTHON_GRID_SECONDS:.0f} s "
          f"(not rerun): {PYTHON_GRID_SECONDS / secs:.2f}x", flush=True)

summary["loadavg_after"] = os.getloadavg()
print(json.dumps(summary))
