#!/usr/bin/env python3
"""scikit-learn's timings for the baselines criterion bench (crates/baselines/benches),
on data of the same shapes and distributions (standard normal rows; the values differ
from the Rust bench's ChaCha draws, the sizes and settings do not). Best of --runs.

    /work/st-venv/bin/python scripts/bench_sklearn_baselines.py [--runs 3]

Run beside `cargo bench -p apt-llm-baselines`, on a quiet machine, in one session.
"""
import argparse, json, time
import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.svm import OneClassSVM

ap = argparse.ArgumentParser()
ap.add_argument("--runs", type=int, default=3)
a = ap.parse_args()
rng = np.random.default_rng(0)


def best(f):
    t = float("inf")
    for _ in range(a.runs):
        s = time.perf_counter()
        f()
        t = min(t, time.perf_counter() - s)
    return round(t, 4)


x30 = rng.standard_normal((30_000, 384), dtype=np.float32)
x5 = rng.standard_normal((5_000, 384), dtype=np.float32)
print(json.dumps({
    "iforest_fit_score_30000x384_n_jobs1": best(
        lambda: IsolationForest(n_estimators=100, max_samples=256, random_state=0).fit(x30).score_samples(x30)),
    "ocsvm_fit_5000x384": best(lambda: OneClassSVM(nu=0.1, kernel="rbf", gamma=1 / 384).fit(x5)),
}))
