#!/usr/bin/env python3
"""sentence-transformers vs an apt-llm encoder on the same sentences, in one run.

Alternates the two tools (st, ours, st, ours, ...) --rounds times, keeps each tool's best
tokens/s, and prints every round and the ratio ours / sentence-transformers. Both count
real tokens of the distinct sentences after truncation, so the figures compare one to one.

Usage (from the repository root):
  cargo build --release -p apt-llm-embed --example bench_encode
  OMP_WAIT_POLICY=PASSIVE TOKENIZERS_PARALLELISM=false \\
    python3 scripts/bench_encoders.py [--python /work/st-venv/bin/python] \\
      [--model ~/.cache/apt-llm/models/all-MiniLM-L6-v2] \\
      [--sentences ../shared/bench/minilm-sentences-2000.txt] [--rounds 3] \\
      [--st-batch 32] [--batch 16] [--kernels fast] [--backend burn|tch] [--workers N] [--precision f32|bf16]

--batch 0 lets the fast path batch by its token budget. `--backend tch` times the
rust-bert + libtorch encoder: build the example with `--features tch` (LIBTORCH set, see
scripts/setup_libtorch.py); LD_LIBRARY_PATH gets $LIBTORCH/lib. The venv needs torch 2.4 and
sentence-transformers 3.0.1 (see the header of ../shared/bench/st_bench.py).
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
ap = argparse.ArgumentParser()
ap.add_argument("--python", default="/work/st-venv/bin/python")
ap.add_argument("--model", default=str(Path.home() / ".cache/apt-llm/models/all-MiniLM-L6-v2"))
ap.add_argument("--sentences", default=str(root.parent / "shared/bench/minilm-sentences-2000.txt"))
ap.add_argument("--st-script", default=str(root.parent / "shared/bench/st_bench.py"))
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--runs", type=int, default=2, help="timed runs per tool per round")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--st-batch", type=int, default=32)
ap.add_argument("--batch", type=int, default=16)
ap.add_argument("--kernels", default="fast", choices=["fast", "burn"])
ap.add_argument("--backend", default="burn", choices=["burn", "tch"])
ap.add_argument("--workers", type=int, default=0, help="tch workers (0: the default)")
ap.add_argument("--precision", default="f32", choices=["f32", "bf16"], help="tch only")
a = ap.parse_args()

ours_bin = root / "target/release/examples/bench_encode"
if not ours_bin.exists():
    sys.exit(f"{ours_bin} missing: cargo build --release -p apt-llm-embed --example bench_encode")
env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", TOKENIZERS_PARALLELISM="false",
           RAYON_NUM_THREADS=str(a.threads))
if a.backend == "tch" and os.environ.get("LIBTORCH"):
    lib = str(Path(os.environ["LIBTORCH"]) / "lib")
    env["LD_LIBRARY_PATH"] = ":".join(p for p in (lib, env.get("LD_LIBRARY_PATH")) if p)


def last_json(cmd):
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


st_cmd = [a.python, a.st_script, a.model, a.sentences, "--threads", str(a.threads),
          "--batch", str(a.st_batch), "--runs", str(a.runs)]
ours_cmd = [str(ours_bin), a.model, a.sentences, "--runs", str(a.runs), "--kernels", a.kernels]
if a.batch > 0:
    ours_cmd += ["--batch", str(a.batch)]
if a.backend == "tch":
    ours_cmd += ["--backend", "tch"]
    if a.workers > 0:
        ours_cmd += ["--workers", str(a.workers)]
    ours_cmd += ["--precision", a.precision]

best = {"st": 0.0, "ours": 0.0}
for r in range(a.rounds):
    for name, cmd in (("st", st_cmd), ("ours", ours_cmd)):
        res = last_json(cmd)
        tps = float(res.get("tokens_per_s") or res["st_tok_per_s_distinct"])
        best[name] = max(best[name], tps)
        print(f"round {r + 1} {name:4s} {tps:9.1f} tok/s  {json.dumps(res)}", flush=True)
print(json.dumps({
    "sentence_transformers_tok_s": round(best["st"], 1),
    "apt_llm_tok_s": round(best["ours"], 1),
    "ratio": round(best["ours"] / best["st"], 3),
    "backend": a.backend,
    "precision": a.precision,
    "kernels": a.kernels if a.backend == "burn" else None,
    "batch": a.batch or "token budget",
    "st_batch": a.st_batch,
    "rounds": a.rounds,
    "loadavg_after": os.getloadavg(),
}))
