"""Which frozen-feature recipe scores technical quality best on CLIVE dev?
5-fold cross-validated study of pooling variants x score heads, ImageNet
MobileNet v1 (alpha 1.0) frozen, no fine-tuning.

    .venv/bin/python benchmarks/clive_recipe_study.py [--stage features|probes|report|all]

Variants: F224, NATIVE_* (whole photo) and MULTICROP5_224[_S16] (test-time
average over 5 native-resolution 224 crops); see the report for definitions.

Stages (each resumable):
  features  one forward pass per photo and scale, cached per variant in
            benchmarks/cache/clive_study/<variant>.npz (skips cached variants)
  probes    ridge and EMD-softmax heads on every variant, outer 5-fold CV with
            the folds of benchmarks/clive_folds.json; the combined loss and the
            fold ensemble on the best variant; writes
            benchmarks/results_recipe_study.json (per-experiment results are
            cached in benchmarks/cache/clive_study/probes.json)
  report    benchmarks/results_recipe_study.md from the JSON
  all       the three in order

Folds: the 600 image names sorted, `np.random.default_rng(0).permutation(600)`,
`np.array_split(perm, 5)`; each fold's names sorted. Written once to
benchmarks/clive_folds.json and reused (checked) afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

# OpenBLAS's default thread count on these 2 shared cores makes a 384x2048 SVD
# take seconds instead of 0.1 s: one BLAS thread (TensorFlow keeps its own 2).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CLIVE_IMAGES, CLIVE_LABELS, MOBILENET_WEIGHTS, ROOT, require_shared  # noqa: E402

BENCH = ROOT / "benchmarks"
CACHE = BENCH / "cache" / "clive_study"
FOLDS_FILE = BENCH / "clive_folds.json"
RESULTS_JSON = BENCH / "results_recipe_study.json"
RESULTS_MD = BENCH / "results_recipe_study.md"
PROBES_CACHE = CACHE / "probes.json"

BASE_VARIANTS = ["F224", "NATIVE_MEAN", "NATIVE_MEANSTD", "NATIVE_MEANSTD_S16", "NATIVE_2SCALE"]
# Test-time multi-crop: five CROP x CROP crops of the photo at native resolution
# (4 corners + centre, no resize), each through the backbone, per-crop mean+std
# pooling, averaged over the 5 crops (train and test features alike).
MULTICROP_VARIANTS = ["MULTICROP5_224", "MULTICROP5_224_S16"]
VARIANTS = BASE_VARIANTS + MULTICROP_VARIANTS
CROP = 224
FINAL_LAYER = "conv_pw_13_relu"  # the final map of MobileNet v1 (include_top=False output)
S16_LAYER = "conv_pw_11_relu"  # stride-16 map, 512 channels
BATCH = 8
LATENCY_PHOTOS = 20

# Heads
RIDGE_ALPHAS = [10.0 ** k for k in np.arange(-1, 6.01, 0.5)]  # 0.1 .. 1e6, 15 values
EMD_LRS = [1e-3, 3e-3]
EMD_DROPOUTS = [0.0, 0.5, 0.8]
EMD_MAX_EPOCHS = 300
EMD_PATIENCE = 30
EMD_INNER_VAL = 0.2
COMBINED_MEAN_WEIGHT = 0.5


# ---------------------------------------------------------------------------
# data and folds
# ---------------------------------------------------------------------------


def load_table():
    from aesthetics.data.labels import read_labels

    table = read_labels(CLIVE_LABELS, score_range=(0, 100))
    table = table.sort_values("image_id").reset_index(drop=True)
    names = list(table["image_id"])
    assert names == sorted(names) and len(names) == 600, len(names)
    dist = np.stack([np.asarray(d, np.float32) for d in table["distribution"]])
    return names, table["mos"].to_numpy(np.float64), dist, table


def check_targets(table, dist):
    """The table's distribution is gaussian_histogram(map_score_range(mos), mapped std)."""
    from aesthetics.data.labels import gaussian_histogram, map_score_range

    m = map_score_range(table["mos"].to_numpy(), 0, 100)
    s = table["mos_std"].to_numpy() * 9 / 100
    ref = gaussian_histogram(m, s)
    return float(np.abs(ref - dist).max())


def get_folds(names):
    perm = np.random.default_rng(0).permutation(len(names))
    folds = [sorted(names[i] for i in part) for part in np.array_split(perm, 5)]
    if FOLDS_FILE.exists():
        stored = json.loads(FOLDS_FILE.read_text())
        if stored["folds"] != folds or stored["seed"] != 0:
            sys.exit(f"{FOLDS_FILE} differs from the folds this script builds; refusing to continue")
    else:
        FOLDS_FILE.write_text(json.dumps({"seed": 0, "folds": folds}, indent=1) + "\n")
        print(f"wrote {FOLDS_FILE}")
    index = {n: i for i, n in enumerate(names)}
    return [np.array([index[n] for n in f]) for f in folds]


# ---------------------------------------------------------------------------
# features
# ---------------------------------------------------------------------------


def build_extractor():
    import keras

    from aesthetics.layers.mean_std_pooling import MeanStdPooling
    from aesthetics.layers.preprocess import BackbonePreprocess

    bb = keras.applications.MobileNet(alpha=1.0, include_top=False, weights=None, input_shape=(None, None, 3))
    bb.load_weights(str(MOBILENET_WEIGHTS))
    assert bb.output.name.startswith(FINAL_LAYER) or bb.layers[-1].name == FINAL_LAYER, bb.layers[-1].name
    maps = keras.Model(bb.input, [bb.get_layer(FINAL_LAYER).output, bb.get_layer(S16_LAYER).output])
    inp = keras.Input((None, None, 3))
    final, s16 = maps(BackbonePreprocess("tf")(inp))
    # MeanStdPooling is the shipped layer: [mean (C), std (C)], population std, eps 1e-6.
    model = keras.Model(inp, [MeanStdPooling()(final), MeanStdPooling()(s16)])
    return model, bb


def check_weights(bb):
    """The (None, None, 3) backbone holds the same weights as a (224, 224, 3) one."""
    import keras

    ref = keras.applications.MobileNet(alpha=1.0, include_top=False, weights=None, input_shape=(224, 224, 3))
    ref.load_weights(str(MOBILENET_WEIGHTS))
    diffs = [float(np.abs(a - b).max()) for a, b in zip(ref.get_weights(), bb.get_weights())]
    x = np.random.default_rng(0).uniform(-1, 1, (2, 224, 224, 3)).astype(np.float32)
    out_diff = float(np.abs(np.asarray(ref(x)) - np.asarray(bb(x))).max())
    return {"n_weight_tensors": len(diffs), "max_weight_diff": max(diffs), "max_output_diff_224": out_diff,
            "final_map_at_500": list(bb(np.zeros((1, 500, 500, 3), np.float32)).shape)}


def five_crops(im, side=CROP):
    """4 corner crops + the centre crop, side x side, of an image at its own size: (5, side, side, 3)."""
    h, w = im.shape[:2]
    assert h >= side and w >= side, im.shape
    tops = [0, 0, h - side, h - side, (h - side) // 2]
    lefts = [0, w - side, 0, w - side, (w - side) // 2]
    return np.stack([im[t : t + side, l : l + side] for t, l in zip(tops, lefts)])


def run_pass(model, images, prep, label, n_crops=1):
    """Features of every photo for one scale: images grouped by prepared size,
    batches of BATCH photos; returns (final mean+std, s16 mean+std, timings).
    With n_crops > 1, prep returns (n_crops, h, w, 3) per photo; a batch of B
    photos is one forward call on B * n_crops crops, and each photo's features
    are the average of its crops' pooled features (included in the timings)."""
    import tensorflow as tf

    call = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    t0 = time.perf_counter()
    prepped = [prep(im) for im in images]
    prep_s = time.perf_counter() - t0
    groups = {}
    for i, p in enumerate(prepped):
        groups.setdefault(p.shape, []).append(i)
    n = len(images)
    final = np.zeros((n, 2048), np.float32)
    s16 = np.zeros((n, 1024), np.float32)

    def stack(b):  # (len(b) * n_crops, h, w, 3)
        x = np.stack([prepped[i] for i in b]).astype(np.float32)
        return x.reshape((-1,) + x.shape[-3:]) if n_crops > 1 else x

    def forward(x):
        f, m = call(x)
        f, m = f.numpy(), m.numpy()
        if n_crops > 1:
            f = f.reshape(-1, n_crops, f.shape[-1]).mean(1)
            m = m.reshape(-1, n_crops, m.shape[-1]).mean(1)
        return f, m

    batch_times = []  # (seconds, batch size) of full batches after warm-up
    t_all = time.perf_counter()
    for shape, idx in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        call(stack(idx[:BATCH]))  # trace / warm up
        for s in range(0, len(idx), BATCH):
            b = idx[s : s + BATCH]
            x = stack(b)
            t = time.perf_counter()
            f, m = forward(x)
            if len(b) == BATCH:
                batch_times.append(time.perf_counter() - t)
            final[b], s16[b] = f, m
    total = time.perf_counter() - t_all
    # batch-1 latency on the first LATENCY_PHOTOS photos of the main size
    main = sorted(groups.items(), key=lambda kv: -len(kv[1]))[0][1][:LATENCY_PHOTOS]
    call(stack([main[0]]))
    lat = []
    for i in main:
        x = stack([i])
        t = time.perf_counter()
        forward(x)
        lat.append(time.perf_counter() - t)
    timing = {
        "pass": label,
        "sizes": {f"{k[-3]}x{k[-2]}": len(v) for k, v in groups.items()},
        "prep_s_per_photo": prep_s / n,
        "forward_s_per_photo_batch8_median": float(np.median(batch_times)) / BATCH,
        "forward_s_per_photo_batch8_wall": total / n,
        "forward_s_per_photo_batch1_median": float(np.median(lat)),
    }
    if n_crops > 1:
        timing["crops_per_photo"] = n_crops
    print(json.dumps(timing), flush=True)
    return final, s16, timing


def stage_features(args):
    CACHE.mkdir(parents=True, exist_ok=True)
    missing = [v for v in VARIANTS if not (CACHE / f"{v}.npz").exists()]
    if not missing:
        print("features: all variants cached")
        return
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from aesthetics.data.images import load_image
    from aesthetics.data.resize import resize_photo

    names, _, _, _ = load_table()
    model, bb = build_extractor()
    wcheck = check_weights(bb)
    print("weights check:", wcheck, flush=True)
    t0 = time.perf_counter()
    images = [load_image(CLIVE_IMAGES / n) for n in names]
    decode_s = (time.perf_counter() - t0) / len(names)
    assert all(im.shape[0] == im.shape[1] for im in images), "half-resolution pass assumes square photos"
    print(f"decoded {len(images)} photos, {decode_s * 1000:.1f} ms/photo", flush=True)
    meta_common = {"names": np.array(names), "decode_s_per_photo": decode_s,
                   "weights_check": json.dumps(wcheck), "machine": platform.node(),
                   "load_avg_start": json.dumps(os.getloadavg())}
    need_native = any(v.startswith("NATIVE") for v in missing)
    if "F224" in missing:
        f, _, t = run_pass(model, images, lambda im: resize_photo(im, 224), "resize224")
        np.savez(CACHE / "F224.npz", x=f[:, :1024], timing=json.dumps([t]), **meta_common)
    if need_native:
        nf, ns, tn = run_pass(model, images, lambda im: im, "native")
        feats = {
            "NATIVE_MEAN": nf[:, :1024],
            "NATIVE_MEANSTD": nf,
            "NATIVE_MEANSTD_S16": np.concatenate([nf, ns], 1),
        }
        for v, x in feats.items():
            np.savez(CACHE / f"{v}.npz", x=x, timing=json.dumps([tn]), **meta_common)
        if "NATIVE_2SCALE" in missing:
            hf, _, th = run_pass(model, images, lambda im: resize_photo(im, im.shape[0] // 2), "half")
            np.savez(CACHE / "NATIVE_2SCALE.npz", x=np.concatenate([nf, hf], 1),
                     timing=json.dumps([tn, th]), **meta_common)
    if any(v in missing for v in MULTICROP_VARIANTS):
        mf, ms, tm = run_pass(model, images, five_crops, "multicrop5_224", n_crops=5)
        np.savez(CACHE / "MULTICROP5_224.npz", x=mf, timing=json.dumps([tm]), **meta_common)
        np.savez(CACHE / "MULTICROP5_224_S16.npz", x=np.concatenate([mf, ms], 1),
                 timing=json.dumps([tm]), **meta_common)
    print(f"features written to {CACHE}; load average {os.getloadavg()}")


def load_variant(v, names):
    z = np.load(CACHE / f"{v}.npz", allow_pickle=False)
    assert list(z["names"]) == names
    return z["x"].astype(np.float64), json.loads(str(z["timing"])), float(z["decode_s_per_photo"])


# ---------------------------------------------------------------------------
# heads
# ---------------------------------------------------------------------------


def standardize(xtr, *others):
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-6
    return [(xtr - mu) / sd] + [(o - mu) / sd for o in others]


class RidgePath:
    """Ridge on centred data for many alphas at once, closed form in the dual
    (eigendecomposition of the n x n Gram matrix: n <= 480 < d)."""

    def __init__(self, x, y):
        self.xm, self.ym = x.mean(0), y.mean()
        self.xc = x - self.xm
        lam, self.u = np.linalg.eigh(self.xc @ self.xc.T)
        self.lam = np.clip(lam, 0.0, None)
        self.uty = self.u.T @ (y - self.ym)

    def predict(self, z, alphas):
        """Predictions for z, one column per alpha; w = Xc^T (Xc Xc^T + alpha I)^-1 yc."""
        proj = (z - self.xm) @ self.xc.T @ self.u
        coef = self.uty[:, None] / (self.lam[:, None] + np.asarray(alphas, float)[None, :])
        return proj @ coef + self.ym


def inner_folds(n, seed, k=5):
    return np.array_split(np.random.default_rng(seed).permutation(n), k)


def ridge_fit_predict(xtr, ytr, xte, seed):
    """Alpha by inner 5-fold CV (mean inner SRCC) on the train part; refit on it all."""
    from aesthetics.metrics.scores import srcc

    folds = inner_folds(len(xtr), seed)
    cv = np.zeros((len(folds), len(RIDGE_ALPHAS)))
    for k, te in enumerate(folds):
        tr = np.setdiff1d(np.arange(len(xtr)), te)
        a, b = standardize(xtr[tr], xtr[te])
        path = RidgePath(a, ytr[tr])
        preds = path.predict(b, RIDGE_ALPHAS)
        cv[k] = [srcc(ytr[te], preds[:, j]) for j in range(len(RIDGE_ALPHAS))]
    best = int(np.argmax(cv.mean(0)))
    a, b = standardize(xtr, xte)
    pred = RidgePath(a, ytr).predict(b, [RIDGE_ALPHAS[best]])[:, 0]
    return pred, {"alpha": RIDGE_ALPHAS[best], "inner_cv_srcc": float(cv.mean(0)[best]),
                  "alpha_at_grid_edge": best in (0, len(RIDGE_ALPHAS) - 1)}


def ridge_ensemble_predict(xtr, ytr, xte, seed):
    """5 ridges, each on 4 of the 5 inner folds (alpha by CV inside those 4/5), averaged."""
    preds = []
    for k, te in enumerate(inner_folds(len(xtr), seed)):
        tr = np.setdiff1d(np.arange(len(xtr)), te)
        p, _ = ridge_fit_predict(xtr[tr], ytr[tr], xte, seed * 10 + k)
        preds.append(p)
    return np.mean(preds, 0), {}


def _loss_fn(loss):
    from aesthetics.losses.distribution import combined_loss, emd_loss

    if loss == "emd":
        return lambda y, p: emd_loss(y, p, r=2.0)
    if loss == "combined":
        return lambda y, p: combined_loss(y, p, distribution_weight=1.0, mean_weight=COMBINED_MEAN_WEIGHT, r=2.0)
    raise ValueError(loss)


def train_softmax(xtr, ytr, xva, yva, lr, dropout, loss, seed, epochs=None):
    """Dense(10, softmax) (after Dropout) trained full-batch with Adam.
    With validation data: up to EMD_MAX_EPOCHS, early stopping (patience
    EMD_PATIENCE) on the validation loss, best weights restored. Without:
    exactly `epochs` epochs. Returns (model, best_epoch, best_val_loss)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((xtr.shape[1],)), keras.layers.Dropout(dropout),
                              keras.layers.Dense(10, activation="softmax")])
    opt = keras.optimizers.Adam(lr)
    opt.build(model.trainable_variables)
    fn = _loss_fn(loss)
    xt, yt = tf.constant(xtr, tf.float32), tf.constant(ytr, tf.float32)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            l = tf.reduce_mean(fn(yt, model(xt, training=True)))
        opt.apply_gradients(zip(tape.gradient(l, model.trainable_variables), model.trainable_variables))
        return l

    if xva is None:
        for _ in range(epochs):
            step()
        return model, epochs, None
    xv, yv = tf.constant(xva, tf.float32), tf.constant(yva, tf.float32)
    val = tf.function(lambda: tf.reduce_mean(fn(yv, model(xv, training=False))))
    best, best_ep, best_w, wait = np.inf, 0, None, 0
    for ep in range(1, EMD_MAX_EPOCHS + 1):
        step()
        v = float(val())
        if v < best - 1e-7:
            best, best_ep, best_w, wait = v, ep, model.get_weights(), 0
        else:
            wait += 1
            if wait >= EMD_PATIENCE:
                break
    model.set_weights(best_w)
    return model, best_ep, best


def _mean_score(model, x):
    p = np.asarray(model(x.astype(np.float32), training=False), np.float64)
    return p @ np.arange(1, 11)


def emd_select(xtr, dtr, loss, seed):
    """Config (lr, dropout) and epoch count by one inner 80/20 split of the train part."""
    n = len(xtr)
    perm = np.random.default_rng(seed).permutation(n)
    nva = int(round(EMD_INNER_VAL * n))
    va, tr = perm[:nva], perm[nva:]
    a, b = standardize(xtr[tr], xtr[va])
    grid = []
    for lr in EMD_LRS:
        for dr in EMD_DROPOUTS:
            _, ep, vl = train_softmax(a, dtr[tr], b, dtr[va], lr, dr, loss, seed)
            grid.append({"lr": lr, "dropout": dr, "best_epoch": ep, "val_loss": vl})
    best = min(grid, key=lambda g: g["val_loss"])
    return best, grid


def emd_fit_predict(xtr, dtr, xte, seed, loss="emd"):
    """One head on the whole train part: config + epochs from the inner split, then
    retrained on all of the train part for that many epochs."""
    best, grid = emd_select(xtr, dtr, loss, seed)
    a, b = standardize(xtr, xte)
    model, _, _ = train_softmax(a, dtr, None, None, best["lr"], best["dropout"], loss, seed,
                                epochs=best["best_epoch"])
    return _mean_score(model, b), {"lr": best["lr"], "dropout": best["dropout"],
                                   "epochs": best["best_epoch"], "grid": grid}


def emd_ensemble_predict(xtr, dtr, xte, seed, loss="emd"):
    """5 heads, one per inner fold: trained on the other 4 inner folds, early-stopped
    (restore best) on this one; config from the same inner split as the single head;
    predictions (mean scores) averaged."""
    best, _ = emd_select(xtr, dtr, loss, seed)
    preds, eps = [], []
    for k, va in enumerate(inner_folds(len(xtr), seed)):
        tr = np.setdiff1d(np.arange(len(xtr)), va)
        a, b, c = standardize(xtr[tr], xtr[va], xte)
        model, ep, _ = train_softmax(a, dtr[tr], b, dtr[va], best["lr"], best["dropout"], loss, seed * 10 + k)
        preds.append(_mean_score(model, c))
        eps.append(ep)
    return np.mean(preds, 0), {"lr": best["lr"], "dropout": best["dropout"], "member_epochs": eps}


# ---------------------------------------------------------------------------
# probes
# ---------------------------------------------------------------------------


def cross_validate(x, mos, dist, folds, head):
    from aesthetics.metrics.scores import plcc, srcc

    per_fold, oof = [], np.zeros(len(mos))
    for k, te in enumerate(folds):
        tr = np.setdiff1d(np.arange(len(mos)), te)
        t = time.perf_counter()
        if head.startswith("RIDGE"):
            fitter = ridge_ensemble_predict if head.endswith("ENS5") else ridge_fit_predict
            pred, info = fitter(x[tr], mos[tr], x[te], seed=100 + k)
        else:
            loss = "combined" if "COMBINED" in head else "emd"
            fitter = emd_ensemble_predict if head.endswith("ENS5") else emd_fit_predict
            pred, info = fitter(x[tr], dist[tr], x[te], seed=100 + k, loss=loss)
        oof[te] = pred
        per_fold.append({"fold": k, "srcc": srcc(mos[te], pred), "plcc": plcc(mos[te], pred),
                         "fit_s": time.perf_counter() - t, **info})
    s = np.array([f["srcc"] for f in per_fold])
    p = np.array([f["plcc"] for f in per_fold])
    return {"folds": per_fold, "srcc_mean": float(s.mean()), "srcc_sd": float(s.std(ddof=1)),
            "plcc_mean": float(p.mean()), "plcc_sd": float(p.std(ddof=1)),
            "pooled_oof_srcc": srcc(mos, oof), "pooled_oof_plcc": plcc(mos, oof)}


def stage_probes(args):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    names, mos, dist, table = load_table()
    folds = get_folds(names)
    cache = json.loads(PROBES_CACHE.read_text()) if PROBES_CACHE.exists() else {}

    def run(variant, head):
        key = f"{variant}/{head}"
        if key not in cache:
            x, _, _ = load_variant(variant, names)
            t = time.perf_counter()
            cache[key] = cross_validate(x, mos, dist, folds, head)
            cache[key]["wall_s"] = time.perf_counter() - t
            PROBES_CACHE.write_text(json.dumps(cache, indent=1))
        r = cache[key]
        print(f"{key:40s} SRCC {r['srcc_mean']:.3f} ± {r['srcc_sd']:.3f}  PLCC {r['plcc_mean']:.3f} ± "
              f"{r['plcc_sd']:.3f}  ({r['wall_s']:.0f} s)", flush=True)
        return r

    for v in BASE_VARIANTS:
        run(v, "RIDGE")
    for v in BASE_VARIANTS:
        run(v, "EMD_SOFTMAX")
    # the test-time multi-crop variants (added later): the same two heads, same folds
    for v in MULTICROP_VARIANTS:
        run(v, "RIDGE")
        run(v, "EMD_SOFTMAX")
    # best variant / head by mean outer SRCC, among the original variants (the
    # combined-loss, ensemble and all-600 runs below were chosen from these)
    pairs = [(v, h) for v in BASE_VARIANTS for h in ("RIDGE", "EMD_SOFTMAX")]
    best_v, best_h = max(pairs, key=lambda vh: cache[f"{vh[0]}/{vh[1]}"]["srcc_mean"])
    best_emd_v = max(BASE_VARIANTS, key=lambda v: cache[f"{v}/EMD_SOFTMAX"]["srcc_mean"])
    overall = max(((v, h) for v in VARIANTS for h in ("RIDGE", "EMD_SOFTMAX")),
                  key=lambda vh: cache[f"{vh[0]}/{vh[1]}"]["srcc_mean"])
    run(best_emd_v, "EMD_SOFTMAX_COMBINED")
    # fold ensemble vs one model, for the best (variant, head) and, on the same
    # variant, for the other head too (cheap)
    run(best_v, "RIDGE_ENS5")
    run(best_v, "EMD_SOFTMAX_ENS5")
    if best_emd_v != best_v:
        run(best_emd_v, "EMD_SOFTMAX_ENS5")

    # Hyper-parameters for retraining the shipped head on all 600 photos, chosen
    # by the same inner procedures on all 600 (no test fold: nothing to score).
    if "full600" not in cache:
        xb, _, _ = load_variant(best_v, names)
        _, rinfo = ridge_fit_predict(xb, mos, xb[:1], seed=100)
        xe, _, _ = load_variant(best_emd_v, names)
        ebest, egrid = emd_select(xe, dist, "emd", seed=100)
        cache["full600"] = {"ridge": {"variant": best_v, **rinfo},
                            "emd_softmax": {"variant": best_emd_v, **ebest, "grid": egrid}}
        PROBES_CACHE.write_text(json.dumps(cache, indent=1))
    full600 = cache.pop("full600")
    print("hyper-parameters chosen on all 600:", json.dumps(full600))

    timings = {}
    for v in VARIANTS:
        _, t, dec = load_variant(v, names)
        timings[v] = {"decode_s_per_photo": dec, "passes": t,
                      "prep_plus_forward_s_per_photo_batch8": sum(p["prep_s_per_photo"] + p["forward_s_per_photo_batch8_median"] for p in t),
                      "prep_plus_forward_s_per_photo_batch1": sum(p["prep_s_per_photo"] + p["forward_s_per_photo_batch1_median"] for p in t)}
    z = np.load(CACHE / "F224.npz")
    out = {
        "command": " ".join([".venv/bin/python"] + sys.argv),
        "full600_selection": full600,
        "data": {"n": len(names), "labels": str(CLIVE_LABELS.relative_to(CLIVE_LABELS.parents[3])),
                 "target_check_max_abs_diff": check_targets(table, dist)},
        "folds_file": str(FOLDS_FILE.relative_to(ROOT)),
        "weights_check": json.loads(str(z["weights_check"])),
        "best": {"variant": best_v, "head": best_h, "best_emd_variant": best_emd_v,
                 "among": BASE_VARIANTS,
                 "best_including_multicrop": {"variant": overall[0], "head": overall[1]}},
        "settings": {"ridge_alphas": RIDGE_ALPHAS, "ridge_alpha_selection": "inner 5-fold CV, mean SRCC",
                     "emd_lrs": EMD_LRS, "emd_dropouts": EMD_DROPOUTS, "emd_max_epochs": EMD_MAX_EPOCHS,
                     "emd_patience": EMD_PATIENCE, "emd_inner_val": EMD_INNER_VAL,
                     "combined_mean_weight": COMBINED_MEAN_WEIGHT, "batch": BATCH},
        "timings": timings,
        "results": cache,
        "load_avg_end": os.getloadavg(),
    }
    RESULTS_JSON.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {RESULTS_JSON}")


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------


def fmt(r):
    return (f"{r['srcc_mean']:.3f} ± {r['srcc_sd']:.3f}", f"{r['plcc_mean']:.3f} ± {r['plcc_sd']:.3f}")


def stage_report(args):
    """Prints the markdown tables (the prose of results_recipe_study.md is written by hand)."""
    out = json.loads(RESULTS_JSON.read_text())
    res = out["results"]
    print("| variant | head | SRCC mean ± sd | PLCC mean ± sd | SRCC per fold | pooled OOF SRCC / PLCC |")
    print("|---|---|---|---|---|---|")
    for key, r in res.items():
        v, h = key.split("/")
        s, p = fmt(r)
        per = ", ".join(f"{f['srcc']:.3f}" for f in r["folds"])
        print(f"| {v} | {h} | {s} | {p} | {per} | {r['pooled_oof_srcc']:.3f} / {r['pooled_oof_plcc']:.3f} |")
    print()
    print("| variant | head | PLCC per fold | chosen per fold |")
    print("|---|---|---|---|")
    for key, r in res.items():
        v, h = key.split("/")
        per = ", ".join(f"{f['plcc']:.3f}" for f in r["folds"])
        if h.startswith("RIDGE") and "alpha" in r["folds"][0]:
            ch = ", ".join(f"a={f['alpha']:.3g}" for f in r["folds"])
        elif "epochs" in r["folds"][0]:
            ch = ", ".join(f"lr={f['lr']:g} dr={f['dropout']:g} ep={f['epochs']}" for f in r["folds"])
        elif "member_epochs" in r["folds"][0]:
            ch = ", ".join(f"lr={f['lr']:g} dr={f['dropout']:g} ep={f['member_epochs']}" for f in r["folds"])
        else:
            ch = "-"
        print(f"| {v} | {h} | {per} | {ch} |")
    print()
    print("| variant | passes | decode ms/photo | prep+forward ms/photo, batch 8 | batch 1 |")
    print("|---|---|---|---|---|")
    for v, t in out["timings"].items():
        passes = " + ".join(p["pass"] for p in t["passes"])
        print(f"| {v} | {passes} | {t['decode_s_per_photo'] * 1e3:.1f} | "
              f"{t['prep_plus_forward_s_per_photo_batch8'] * 1e3:.1f} | {t['prep_plus_forward_s_per_photo_batch1'] * 1e3:.1f} |")
    # paired per-fold SRCC differences against the best single-model entry
    b = out["best"]
    ref = res[f"{b['variant']}/{b['head']}"]
    print()
    print(f"paired per-fold SRCC difference vs {b['variant']}/{b['head']} (mean ± sd over folds):")
    for key, r in res.items():
        d = np.array([f["srcc"] for f in r["folds"]]) - np.array([f["srcc"] for f in ref["folds"]])
        print(f"  {key:40s} {d.mean():+.3f} ± {d.std(ddof=1):.3f}  (folds better: {(d > 0).sum()}/5)")
    # the multi-crop variants against the whole native photo, paired per fold
    print()
    print("| comparison | ΔSRCC | folds better (SRCC) | ΔPLCC | folds better (PLCC) |")
    print("|---|---|---|---|---|")
    pairs = [("MULTICROP5_224", "NATIVE_MEANSTD"), ("MULTICROP5_224_S16", "NATIVE_MEANSTD_S16"),
             ("MULTICROP5_224_S16", "MULTICROP5_224")]
    for a, b in pairs:
        for h in ("RIDGE", "EMD_SOFTMAX"):
            ra, rb = res.get(f"{a}/{h}"), res.get(f"{b}/{h}")
            if ra is None or rb is None:
                continue
            cells = []
            for m in ("srcc", "plcc"):
                d = np.array([f[m] for f in ra["folds"]]) - np.array([f[m] for f in rb["folds"]])
                cells += [f"{d.mean():+.3f} ± {d.std(ddof=1):.3f}", f"{(d > 0).sum()}/5"]
            print(f"| {a} vs {b}, {h} | " + " | ".join(cells) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", choices=["features", "probes", "report", "all"], default="all")
    args = ap.parse_args()
    require_shared()
    if args.stage in ("features", "all"):
        stage_features(args)
    if args.stage in ("probes", "all"):
        stage_probes(args)
    if args.stage in ("report", "all"):
        stage_report(args)


if __name__ == "__main__":
    main()
