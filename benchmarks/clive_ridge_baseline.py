"""Ridge regression on frozen ImageNet MobileNet features: the floor any trained
model must clear on the CLIVE dev split (same split as `aesthetics train`).

    python benchmarks/clive_ridge_baseline.py
"""

from __future__ import annotations

import json
import time

import numpy as np

from common import MOBILENET_WEIGHTS, clive_split, require_shared


def features(model, paths, batch_size=32):
    from aesthetics.data.pipeline import PipelineOptions, make_eval_dataset

    ds = make_eval_dataset(paths, None, PipelineOptions(cache=False), batch_size)
    return np.concatenate([np.asarray(model(x, training=False)) for (x,) in ds])


def main():
    require_shared()
    import keras
    from scipy import stats

    from aesthetics.layers.preprocess import BackbonePreprocess
    from aesthetics.models.backbones import build_backbone

    train, val = clive_split()
    inp = keras.Input((224, 224, 3))
    bb = build_backbone("mobilenet", (224, 224, 3), weights=str(MOBILENET_WEIGHTS))
    out = keras.layers.GlobalAveragePooling2D()(bb(BackbonePreprocess("tf")(inp)))
    model = keras.Model(inp, out)
    t0 = time.time()
    xtr, xva = features(model, list(train["filepath"])), features(model, list(val["filepath"]))
    ytr, yva = train["mos_mapped"].to_numpy(), val["mos_mapped"].to_numpy()
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-6
    xtr, xva = (xtr - mu) / sd, (xva - mu) / sd
    # Ridge alpha by 5-fold CV on the training part only.
    rng = np.random.default_rng(0)
    folds = np.array_split(rng.permutation(len(xtr)), 5)

    def fit(x, y, alpha):
        xm, ym = x.mean(0), y.mean()
        w = np.linalg.solve((x - xm).T @ (x - xm) + alpha * np.eye(x.shape[1]), (x - xm).T @ (y - ym))
        return lambda z: (z - xm) @ w + ym

    best = None
    for alpha in [1, 10, 100, 1e3, 3e3, 1e4, 3e4, 1e5]:
        scores = []
        for k in range(5):
            te = folds[k]
            tr = np.concatenate([folds[j] for j in range(5) if j != k])
            scores.append(stats.spearmanr(ytr[te], fit(xtr[tr], ytr[tr], alpha)(xtr[te])).statistic)
        if best is None or np.mean(scores) > best[1]:
            best = (alpha, float(np.mean(scores)))
    pred = fit(xtr, ytr, best[0])(xva)
    result = {
        "baseline": "ridge on frozen ImageNet MobileNet GAP features (224x224 resize)",
        "ridge_alpha": best[0],
        "cv_srcc_train": round(best[1], 4),
        "n_train": len(xtr),
        "n_val": len(xva),
        "val_srcc": round(float(stats.spearmanr(yva, pred).statistic), 4),
        "val_plcc": round(float(stats.pearsonr(yva, pred).statistic), 4),
        "seconds": round(time.time() - t0, 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
