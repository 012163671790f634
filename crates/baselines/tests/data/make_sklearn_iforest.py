"""Reference scores from scikit-learn's IsolationForest for tests/sklearn_parity.rs.

Data are deterministic (no RNG) so the Rust test rebuilds them bit for bit:
x[i, j] = frac(sin(i * 12.9898 + j * 78.233) * 43758.5453), train rows 0..1000,
test rows 1000..1200, of which rows 1180..1200 are shifted by +1.5 (outliers).
Run: python3 make_sklearn_iforest.py > sklearn_iforest.json
"""
import json, sys
import numpy as np
import sklearn
from sklearn.ensemble import IsolationForest

def data(rows, dim=6):
    i = np.arange(rows)[:, None].astype(np.float64)
    j = np.arange(dim)[None, :].astype(np.float64)
    v = np.sin(i * 12.9898 + j * 78.233) * 43758.5453
    return (v - np.floor(v)).astype(np.float32)

x = data(1200)
train, test = x[:1000], x[1000:].copy()
test[180:] += 1.5
runs = []
for seed in range(5):
    f = IsolationForest(n_estimators=100, max_samples=256, random_state=seed).fit(train)
    runs.append((-f.score_samples(test)).tolist())
json.dump({"sklearn": sklearn.__version__, "scores": np.mean(runs, axis=0).tolist(),
           "seed_std": float(np.mean(np.std(runs, axis=0)))}, sys.stdout)
