"""Scoring at scale: streaming predict on big folders, resume, backends, draft decode.

    python benchmarks/bench_scale.py [--quick] [--work /tmp/bench-scale] [--sections 1,2,3,4,5,6]

Sections (each measures its comparisons side by side, in one run):

1. scaling: 300 / 3,000 / 30,000 files (hard links of the CLIVE photos in
   sub-folders of <= 1000) scored by the real
   `aesthetics predict FOLDER --recursive --output X.jsonl -q` as a fresh
   process each; wall time, time per file, the scoring loop's own rate (the
   summary line) and the process's peak RSS (`os.wait4`). Model: a small
   fast one (NIMA MobileNet alpha 0.25, 224x224 whole-photo resize, random
   BatchNorm-calibrated weights, exported with `aesthetics export --format
   onnx`), so the streaming machinery, decoding and I/O dominate. Runs in the
   order 300, 3k, 30k, 3k, 300 (drift check). If the 3k run says 30k would
   take over 15 min, 10k is used instead.
2. kill -9 at about half of 3,000 files (same small model), then `--resume`:
   no file lost, none twice.
3. model-only vs end-to-end throughput per backend (keras, onnx, tflite,
   savedmodel) with the shipped model on 120 CLIVE photos (500x500): the
   scorer on pre-decoded, pre-prepared batches vs `score_paths(scorer,
   paths)`, same batch size, interleaved, best of --reps; one fresh process
   per backend. tflite and savedmodel are exported from the shipped .keras
   with `aesthetics export` (native recipe: dynamic shapes).
4. a naive loop (PIL open, RGB, the recipe's resize, `model.predict(x[None])`
   with the Keras model, one photo at a time) vs `aesthetics predict FOLDER`
   (default backend) and `--backend keras`, on the same 120 photos.
5. cold start for one photo: `aesthetics predict one.jpg --model M --backend
   B -q` per backend and `python -c "import aesthetics;
   aesthetics.load().score('one.jpg')"`, fresh processes, median of --cold-runs
   (interleaved).
6. JPEG draft decode on large photos (CLIVE photos upscaled with Pillow to
   4000x3000, plus 6000x4000, JPEG quality 92): `load_image(draft=None)` vs
   `load_image(draft=draft_size(...))`, then `prepare_photo`, for a 224 resize
   recipe and the native recipe (max_side 1024); the shipped model's score
   change (ONNX).

Writes benchmarks/cache/bench_scale[_quick].json and prints markdown tables.
CPU timings on a shared machine are noisy: compare the ratios measured together.
Before each section it waits (up to 10 min) for running pytest processes to end,
and records whether it had to go ahead with them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CLIVE = SHARED / "data" / "clive" / "images"
ZOO = ROOT / "aesthetics" / "zoo" / "clive-mobilenet"
CACHE = ROOT / "benchmarks" / "cache"
BACKENDS = ("keras", "onnx", "tflite", "savedmodel")
NOSPIN = "onnx-nospin"  # section 3 only: onnx with intra-op spinning off (not the package default)
SUMMARY = re.compile(r"scored (\d+) photo\(s\), (\d+) failed(?:, (\d+) already in .*?)? in ([\d.]+) s")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def env():
    return dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")


def aesthetics_cmd():
    exe = Path(sys.executable).parent / "aesthetics"
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "aesthetics"]


# --------------------------------------------------------------------------- process helpers


def run_measured(cmd, timeout=3600, stdout=subprocess.DEVNULL, cwd=None):
    """Runs `cmd` as a fresh process: (wall s, peak RSS MiB, exit code, stderr text)."""
    with tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=err, env=env(), cwd=cwd or ROOT)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read()
    return wall, usage.ru_maxrss / 1024, proc.returncode, text


def checked(cmd, **kw):
    wall, rss, rc, err = run_measured(cmd, **kw)
    if rc != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {rc}:\n{err[-3000:]}")
    return wall, rss, err


def loop_seconds(stderr: str):
    m = SUMMARY.search(stderr)
    return float(m.group(4)) if m else None


MAX_WAIT = [600]


def wait_quiet(what: str, poll=20) -> dict:
    """Waits until no pytest process runs (the machine's 2 cores are shared)."""
    max_wait = MAX_WAIT[0]
    t0 = time.time()
    while True:
        out = subprocess.run(["pgrep", "-f", "pytest"], capture_output=True, text=True).stdout.split()
        others = [p for p in out if int(p) != os.getpid()]
        if not others:
            waited = time.time() - t0
            if waited > 1:
                log(f"  [{what}] waited {waited:.0f} s for pytest to finish")
            return {"waited_s": round(waited), "contention": False, "load": os.getloadavg()[0]}
        if time.time() - t0 > max_wait:
            log(f"  [{what}] pytest running, waited {max_wait} s: going ahead (contention)")
            return {"waited_s": round(time.time() - t0), "contention": True, "load": os.getloadavg()[0]}
        time.sleep(poll)


def count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def output_check(path: Path, expected: int) -> dict:
    lines = [ln for ln in path.read_text().split("\n") if ln.strip()]
    recs = [json.loads(ln) for ln in lines]
    paths = [r["path"] for r in recs]
    return {"lines": len(lines), "unique_paths": len(set(paths)), "expected": expected,
            "scored": sum("mean_score_prediction" in r for r in recs),
            "ok": len(lines) == len(set(paths)) == expected}


# --------------------------------------------------------------------------- data and models


def clive_photos(square_only=False):
    files = sorted(p for p in CLIVE.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp"))
    if square_only:
        from PIL import Image

        files = [f for f in files if Image.open(f).size == (500, 500)]
    random.Random(0).shuffle(files)  # mixes JPEG and PNG
    return files


def link_tree(root: Path, n: int, photos, per_folder=1000) -> Path:
    """n hard links of the photos (cycled) in sub-folders of <= per_folder."""
    folder = root / f"n{n}"
    if folder.is_dir() and sum(1 for _ in folder.rglob("*.*")) == n:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    for i in range(n):
        src = photos[i % len(photos)]
        sub = folder / f"d{i // per_folder:03d}"
        if i % per_folder == 0:
            sub.mkdir(parents=True)
        os.link(src, sub / f"f{i:06d}_{src.name}")
    return folder


def small_onnx(work: Path) -> Path:
    """NIMA MobileNet alpha 0.25 at 224 (random, BatchNorm-calibrated) as ONNX."""
    out = work / "models" / "small" / "model.onnx"
    if out.is_file():
        return out
    keras_path = out.with_name("model.keras")
    if not keras_path.is_file():
        code = (
            "import sys, numpy as np, keras\n"
            "sys.path.insert(0, %r)\n"
            "from aesthetics.config import ModelConfig\n"
            "from aesthetics.models import build_model\n"
            "from tests.deploy_helpers import calibrate_batchnorm\n"
            "keras.utils.set_random_seed(0)\n"
            "m = build_model(ModelConfig(backbone='mobilenet', alpha=0.25, backbone_weights=None), image_size=224)\n"
            "calibrate_batchnorm(m, np.random.default_rng(0).uniform(0, 255, (8, 224, 224, 3)).astype('float32'))\n"
            "m.save(%r)\n" % (str(ROOT), str(keras_path))
        )
        keras_path.parent.mkdir(parents=True, exist_ok=True)
        checked([sys.executable, "-c", code])
    checked([*aesthetics_cmd(), "export", "-q", "--model", str(keras_path), "--format", "onnx",
             "--output", str(out)])
    return out


def shipped_exports(work: Path, formats) -> dict:
    """The shipped .keras exported to tflite / savedmodel (cached in work)."""
    arts = {"keras": ZOO / "model.keras", "onnx": ZOO / "model.onnx"}
    seconds = {}
    targets = {"tflite": work / "models" / "shipped" / "model.tflite",
               "savedmodel": work / "models" / "shipped" / "savedmodel" / "1"}
    for fmt in formats:
        if fmt not in targets:
            continue
        path = targets[fmt]
        done = path.is_file() if fmt == "tflite" else (path / "saved_model.pb").is_file()
        if not done:
            log(f"  export shipped model -> {fmt} ...")
            path.parent.mkdir(parents=True, exist_ok=True)
            seconds[fmt], _, _ = checked([*aesthetics_cmd(), "export", "-q", "--model", str(arts["keras"]),
                                          "--format", fmt, "--output", str(path)])
        arts[fmt] = path
    return arts, seconds


# --------------------------------------------------------------------------- inner processes


def inner_backend(backend: str, model_path: str, list_file: str, reps: int, batch_size: int) -> None:
    """Section 3, one backend in its own process: model-only vs end-to-end."""
    import numpy as np

    from aesthetics.inference.scoring import load_for_model, score_paths

    t0 = time.perf_counter()
    if backend == "keras":
        from aesthetics.inference.loading import load_model
        from aesthetics.inference.scoring import as_scorer

        scorer = as_scorer(load_model(model_path))
    else:
        from aesthetics.inference.backends import load_scorer

        scorer = load_scorer("onnx" if backend == NOSPIN else backend, model_path)
        if backend == NOSPIN:  # not what the package does: onnxruntime's idle threads do not spin
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            scorer.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    load_s = time.perf_counter() - t0
    paths = Path(list_file).read_text().split("\n")
    paths = [p for p in paths if p]
    t0 = time.perf_counter()
    prepared = [load_for_model(p, scorer.recipe) for p in paths]
    prepare_s = time.perf_counter() - t0  # sequential, one thread
    batches, cur = [], []  # the batches iter_scored forms: consecutive, same shape, <= batch_size
    for x in prepared:
        if cur and (x.shape != cur[0].shape or len(cur) == batch_size):
            batches.append(np.stack(cur))
            cur = []
        cur.append(x)
    if cur:
        batches.append(np.stack(cur))
    scorer(batches[0])  # warm-up: graph tracing, allocator, thread pools
    score_paths(scorer, paths[:batch_size], batch_size=batch_size)
    model_s, e2e_s = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        outs = [scorer(b) for b in batches]
        model_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        records = score_paths(scorer, paths, batch_size=batch_size)
        e2e_s.append(time.perf_counter() - t0)
    bins = np.arange(1, 11)
    direct = np.concatenate(outs) @ bins
    via = np.array([r["mean_score_prediction"] for r in records])
    print(json.dumps({
        "backend": backend, "n": len(paths), "batches": len(batches), "load_s": load_s,
        "prepare_sequential_s": prepare_s, "model_only_s": model_s, "end_to_end_s": e2e_s,
        "max_abs_diff_mean": float(np.abs(direct - via).max()),
        "tensorflow_imported": "tensorflow" in sys.modules,
    }))


def inner_naive(model_path: str, list_file: str) -> None:
    """Section 4: what a typical user script does, one photo at a time."""
    t_start = time.perf_counter()
    import numpy as np
    from PIL import Image

    from aesthetics.inference.loading import load_model
    from aesthetics.models import recipe_of

    model = load_model(model_path)
    recipe = recipe_of(model)
    load_s = time.perf_counter() - t_start
    paths = [p for p in Path(list_file).read_text().split("\n") if p]
    bins = np.arange(1, recipe.num_bins + 1)
    means = {}
    t0 = time.perf_counter()
    for p in paths:
        img = Image.open(p).convert("RGB")
        if recipe.native:  # the recipe's size: long side <= max_side
            scale = min(1.0, recipe.max_side / max(img.size))
            if scale < 1.0:
                img = img.resize((round(img.width * scale), round(img.height * scale)), Image.BILINEAR)
        else:
            img = img.resize((recipe.input_side, recipe.input_side), Image.BILINEAR)
        x = np.asarray(img, dtype=np.float32)
        dist = model.predict(x[None], verbose=0)[0]
        means[str(p)] = float(dist @ bins)
    loop_s = time.perf_counter() - t0
    print(json.dumps({"n": len(paths), "load_s": load_s, "loop_s": loop_s, "means": means}))


def inner(kind, *args):
    cmd = [sys.executable, str(Path(__file__).resolve()), f"--inner-{kind}", *map(str, args)]
    proc = subprocess.run(cmd, env=env(), cwd=ROOT, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"inner {kind} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- sections


def section_scaling(work, photos, model, sizes, batch_size):
    trees = work / "trees"
    out = {"sizes": list(sizes), "runs": [], "quiet": wait_quiet("scaling")}
    order = [sizes[0], sizes[1], sizes[2], sizes[1], sizes[0]]
    for n in sizes[:2]:
        link_tree(trees, n, photos)
    for k, n in enumerate(order):
        if k == 2:  # the big run: is it affordable?
            rate = [r for r in out["runs"] if r["n"] == sizes[1]][0]["files_per_s_wall"]
            if n / rate > 15 * 60:
                n = order[2] = 10_000
                out["sizes"][2] = n
                log(f"  30,000 files would take {30_000 / rate / 60:.0f} min: using 10,000")
        folder = link_tree(trees, n, photos)
        output = work / f"scale_{n}_{k}.jsonl"
        output.unlink(missing_ok=True)
        log(f"  predict {n} files ...")
        samples, stop = [], threading.Event()

        def sample(t0=time.perf_counter()):
            while not stop.wait(0.5):
                samples.append((time.perf_counter() - t0, count_lines(output)))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            wall, rss, err = checked([*aesthetics_cmd(), "predict", str(folder), "--recursive", "--output",
                                      str(output), "-q", "--model", str(model), "--batch-size", str(batch_size)])
        finally:
            stop.set()
            sampler.join()
        loop = loop_seconds(err)
        run = {"n": n, "wall_s": wall, "loop_s": loop, "peak_rss_mib": rss, "load_after": os.getloadavg()[0],
               "rate_first_quarter": quarter_rate(samples, n, 0), "rate_last_quarter": quarter_rate(samples, n, 3),
               "ms_per_file_wall": 1000 * wall / n, "ms_per_file_loop": 1000 * loop / n if loop else None,
               "files_per_s_wall": n / wall, "check": output_check(output, n)}
        log(f"    {wall:.1f} s, {run['ms_per_file_wall']:.2f} ms/file, peak RSS {rss:.0f} MiB, "
            f"check {run['check']['ok']}")
        out["runs"].append(run)
        output.unlink(missing_ok=True)
    return out


def quarter_rate(samples, n, q):
    """Files/s while the output grew through its q-th quarter (None if too few samples)."""
    lo, hi = n * q / 4, n * (q + 1) / 4
    inside = [(t, c) for t, c in samples if lo <= c <= hi]
    if len(inside) < 3 or inside[-1][0] == inside[0][0]:
        return None
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


def section_kill(work, photos, model, n, batch_size):
    out = {"quiet": wait_quiet("kill -9")}
    folder = link_tree(work / "trees", n, photos)
    output = work / "kill.jsonl"
    output.unlink(missing_ok=True)
    cmd = [*aesthetics_cmd(), "predict", str(folder), "--recursive", "--output", str(output), "-q",
           "--model", str(model), "--batch-size", str(batch_size)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env(), cwd=ROOT)
    target = n // 2
    while proc.poll() is None and count_lines(output) < target:
        time.sleep(0.01)
    if proc.poll() is None:
        os.kill(proc.pid, 9)
        proc.wait()
        out["killed"] = True
    else:
        out["killed"] = False  # finished before it could be killed
    out["killed_after_s"] = time.perf_counter() - t0
    raw = output.read_bytes()
    out["lines_at_kill"] = raw.count(b"\n")
    out["cut_last_line"] = bool(raw) and not raw.endswith(b"\n")
    log(f"  killed after {out['killed_after_s']:.1f} s with {out['lines_at_kill']} lines "
        f"(last line cut: {out['cut_last_line']}); resuming ...")
    wall, rss, err = checked(cmd + ["--resume"])
    m = SUMMARY.search(err)
    out.update({"resume_wall_s": wall, "resume_peak_rss_mib": rss,
                "resume_scored": int(m.group(1)) if m else None,
                "resume_kept": int(m.group(3) or 0) if m else None,
                "resume_loop_s": float(m.group(4)) if m else None,
                "check": output_check(output, n)})
    log(f"    resumed in {wall:.1f} s: {out['check']}")
    output.unlink(missing_ok=True)
    return out


def section_backends(work, arts, photos, reps, batch_size):
    out = {"quiet": wait_quiet("backends"), "n": len(photos), "backends": {}}
    lst = work / "bench_photos.txt"
    lst.write_text("\n".join(map(str, photos)) + "\n")
    names = [b for b in BACKENDS if b in arts] + [NOSPIN]
    for b in names:
        log(f"  {b} ...")
        r = inner("backend", b, arts["onnx" if b == NOSPIN else b], lst, reps, batch_size)
        r["ratio"] = min(r["model_only_s"]) / min(r["end_to_end_s"])
        log(f"    model-only {r['n'] / min(r['model_only_s']):.1f} img/s, end-to-end "
            f"{r['n'] / min(r['end_to_end_s']):.1f} img/s, ratio {r['ratio']:.2f}")
        out["backends"][b] = r
    return out


def section_naive(work, photos, reps):
    out = {"quiet": wait_quiet("naive"), "n": len(photos), "runs": []}
    folder = work / "naive_photos"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for p in photos:
        os.link(p, folder / p.name)
    lst = work / "naive_photos.txt"
    lst.write_text("\n".join(str(folder / p.name) for p in photos) + "\n")
    for rep in range(reps):
        row = {}
        t0 = time.perf_counter()
        naive = inner("naive", ZOO / "model.keras", lst)
        row["naive"] = {"wall_s": time.perf_counter() - t0, "loop_s": naive["loop_s"], "load_s": naive["load_s"]}
        for name, extra in (("predict_default", []), ("predict_keras", ["--backend", "keras"])):
            output = work / f"naive_{name}.jsonl"
            output.unlink(missing_ok=True)
            wall, rss, err = checked([*aesthetics_cmd(), "predict", str(folder), "--output", str(output),
                                      "-q", *extra])
            recs = {r["path"]: r["mean_score_prediction"] for r in map(json.loads, output.read_text().splitlines())}
            row[name] = {"wall_s": wall, "loop_s": loop_seconds(err), "peak_rss_mib": rss,
                         "max_abs_diff_vs_naive": max(abs(recs[p] - naive["means"][p]) for p in naive["means"])}
        log("    " + ", ".join(f"{k} {v['wall_s']:.1f} s (loop {v['loop_s']:.1f} s)" for k, v in row.items()))
        out["runs"].append(row)
    return out


def section_cold(work, arts, one, runs):
    out = {"quiet": wait_quiet("cold start"), "runs": runs, "seconds": {}, "peak_rss_mib": {}}
    cmds = {b: [*aesthetics_cmd(), "predict", str(one), "--model", str(arts[b]), "--backend", b, "-q"]
            for b in BACKENDS if b in arts}
    cmds["api"] = [sys.executable, "-c", f"import aesthetics; aesthetics.load().score({str(one)!r})"]
    for r in range(runs):
        for name, cmd in cmds.items():
            wall, rss, _ = checked(cmd)
            out["seconds"].setdefault(name, []).append(wall)
            out["peak_rss_mib"].setdefault(name, []).append(rss)
            log(f"  run {r + 1} {name}: {wall:.2f} s")
    return out


def make_large(work, photos, specs):
    from PIL import Image

    folder = work / "large"
    folder.mkdir(exist_ok=True)
    made = []
    jpgs = [p for p in photos if p.suffix.lower() == ".jpg"]
    for i, (w, h) in enumerate(specs):
        path = folder / f"large_{i}_{w}x{h}.jpg"
        if not path.is_file():
            Image.open(jpgs[i]).convert("RGB").resize((w, h), Image.BICUBIC).save(path, quality=92)
        made.append(path)
    return made


def section_draft(work, photos, specs, reps):
    import numpy as np

    from PIL import Image

    from aesthetics.data.images import load_image
    from aesthetics.data.resize import draft_size, prepare_photo
    from aesthetics.inference.backends import OnnxScorer
    from aesthetics.models.recipe import Recipe

    out = {"quiet": wait_quiet("draft")}
    large = make_large(work, photos, specs)
    out["photos"] = [{"name": p.name, "bytes": p.stat().st_size} for p in large]
    recipes = {"resize224": Recipe(image_size=224, resize="resize"),
               "native1024": Recipe(image_size=224, resize="native", max_side=1024)}
    scorer = OnnxScorer(ZOO / "model.onnx")
    bins = np.arange(1, 11)
    out["recipes"] = {}
    for name, recipe in recipes.items():
        rows = []
        for p in large:
            row = {"name": p.name}
            arrays, ts = {}, {}
            modes = {"full": None, "draft": lambda w, h, r=recipe: draft_size(r, w, h)}
            with Image.open(p) as im:
                if draft_size(recipe, *im.size) is None:  # the package decodes it all: what would 1/2 cost?
                    modes["half"] = lambda w, h: (w // 2, h // 2)
            for _ in range(reps):  # interleaved: load drift hits every mode alike
                for mode, draft in modes.items():
                    t0 = time.perf_counter()
                    img = load_image(p, draft=draft)
                    x = prepare_photo(img, recipe)
                    ts.setdefault(mode, []).append(time.perf_counter() - t0)
                    row[f"{mode}_decoded"] = list(img.shape[:2])
                    arrays[mode] = x.astype(np.float32)
            for mode in modes:
                row[f"{mode}_s"] = statistics.median(ts[mode])
            row["prepared_shape"] = list(arrays["full"].shape[:2])
            row["pixel_mean_abs_diff"] = float(np.abs(arrays["full"] - arrays["draft"]).mean())
            s = {m: float(scorer(a[None])[0] @ bins) for m, a in arrays.items()}
            row["score_full"], row["score_draft"] = s["full"], s["draft"]
            row["abs_diff_mean"] = abs(s["full"] - s["draft"])
            if "half" in s:
                row["abs_diff_mean_half"] = abs(s["full"] - s["half"])
            log(f"  {name} {p.name}: full {row['full_s'] * 1000:.0f} ms, draft {row['draft_s'] * 1000:.0f} ms "
                f"(decoded {row['draft_decoded']}), |dmean| {row['abs_diff_mean']:.4f}")
            rows.append(row)
        out["recipes"][name] = rows
    return out


# --------------------------------------------------------------------------- report


def render(res) -> str:
    L = []
    md = res["machine"]
    L.append(f"bench_scale.py {'--quick ' if res['quick'] else ''}on {md['date']}: {md['cpus']} CPU cores "
             f"(shared), Python {md['python']}; total {res['total_s'] / 60:.1f} min")
    if "scaling" in res:
        s = res["scaling"]
        L += ["", "### 1. Scaling (small ONNX model: NIMA MobileNet a=0.25, 224 resize, random weights)", "",
              "| files | wall | ms/file (wall) | ms/file (scoring loop) | files/s | files/s in 1st / last quarter "
              "| peak RSS | output check |",
              "|---|---|---|---|---|---|---|---|"]
        for r in s["runs"]:
            L.append(f"| {r['n']:,} | {r['wall_s']:.1f} s | {r['ms_per_file_wall']:.2f} | "
                     f"{_f(r['ms_per_file_loop'])} | {r['files_per_s_wall']:.0f} | {_f(r['rate_first_quarter'], 0)} / "
                     f"{_f(r['rate_last_quarter'], 0)} | {r['peak_rss_mib']:.0f} MiB | "
                     f"{r['check']['lines']} lines, {r['check']['unique_paths']} unique |")
        g = scaling_goals(s)
        L += ["", f"largest/smallest: ms/file (wall) {g['time_ratio_wall']:.2f}x, ms/file (loop) "
              f"{_f(g['time_ratio_loop'])}x, peak RSS {g['rss_ratio']:.3f}x (goal <= 1.2x)"]
    if "kill" in res:
        k = res["kill"]
        c = k["check"]
        L += ["", "### 2. kill -9 at about half, then --resume", "",
              "| files | killed after | lines at kill | last line cut | resume: kept / scored | resume wall (loop) "
              "| final lines | unique paths | ok |", "|---|---|---|---|---|---|---|---|---|",
              f"| {c['expected']:,} | {k['killed_after_s']:.1f} s | {k['lines_at_kill']} | {k['cut_last_line']} | "
              f"{k['resume_kept']} / {k['resume_scored']} | {k['resume_wall_s']:.1f} s ({_f(k['resume_loop_s'], 1)} s) | "
              f"{c['lines']} | {c['unique_paths']} | {c['ok']} |"]
    if "backends" in res:
        b = res["backends"]
        L += ["", f"### 3. Model-only vs end-to-end, shipped model, {b['n']} CLIVE photos (best of {res['reps']})", "",
              "| backend | model-only | end-to-end | ratio | decode+prepare alone (1 thread) | imports TF |",
              "|---|---|---|---|---|---|"]
        for name, r in b["backends"].items():
            label = "onnx, intra-op spinning off (not the package default)" if name == NOSPIN else name
            L.append(f"| {label} | {r['n'] / min(r['model_only_s']):.1f} img/s | {r['n'] / min(r['end_to_end_s']):.1f} img/s "
                     f"| {r['ratio']:.2f} | {r['n'] / r['prepare_sequential_s']:.0f} img/s | "
                     f"{'yes' if r['tensorflow_imported'] else 'no'} |")
    if "naive" in res:
        nv = res["naive"]
        L += ["", f"### 4. Naive loop vs predict, shipped model, {nv['n']} CLIVE photos", "",
              "| run | naive loop (process / loop) | predict default = onnx (process / loop) | predict --backend keras "
              "(process / loop) | default vs naive (process / loop) | keras vs naive (process / loop) |",
              "|---|---|---|---|---|---|"]
        for i, r in enumerate(nv["runs"]):
            n, d, k = r["naive"], r["predict_default"], r["predict_keras"]
            L.append(f"| {i + 1} | {n['wall_s']:.1f} / {n['loop_s']:.1f} s | {d['wall_s']:.1f} / {d['loop_s']:.1f} s "
                     f"| {k['wall_s']:.1f} / {k['loop_s']:.1f} s | {n['wall_s'] / d['wall_s']:.2f}x / "
                     f"{n['loop_s'] / d['loop_s']:.2f}x | {n['wall_s'] / k['wall_s']:.2f}x / {n['loop_s'] / k['loop_s']:.2f}x |")
        L.append("")
        L.append("peak RSS of the predict processes: default " + ", ".join(
            f"{r['predict_default']['peak_rss_mib']:.0f}" for r in nv["runs"]) + " MiB; keras " + ", ".join(
            f"{r['predict_keras']['peak_rss_mib']:.0f}" for r in nv["runs"]) + " MiB")
        L.append("")
        L.append(f"max |mean score difference| vs the naive loop: default "
                 f"{max(r['predict_default']['max_abs_diff_vs_naive'] for r in nv['runs']):.1e}, keras "
                 f"{max(r['predict_keras']['max_abs_diff_vs_naive'] for r in nv['runs']):.1e}")
    if "cold" in res:
        c = res["cold"]
        L += ["", f"### 5. Cold start, one photo, fresh process (median of {c['runs']}, interleaved)", "",
              "| command | median | min..max | peak RSS |", "|---|---|---|---|"]
        for name, ts in c["seconds"].items():
            label = "`aesthetics.load().score(one)`" if name == "api" else f"predict --backend {name}"
            L.append(f"| {label} | {statistics.median(ts):.2f} s | {min(ts):.2f}..{max(ts):.2f} s | "
                     f"{statistics.median(c['peak_rss_mib'][name]):.0f} MiB |")
    if "draft" in res:
        d = res["draft"]
        L += ["", "### 6. JPEG draft decode, large photos (decode + prepare, median per photo)", "",
              "| recipe | photo | full decode | draft decode (decoded size) | speed-up | prepared | "
              "mean |pixel diff| | |Δ mean score| (shipped model) |", "|---|---|---|---|---|---|---|---|"]
        for name, rows in d["recipes"].items():
            for r in rows:
                L.append(f"| {name} | {r['name']} | {r['full_s'] * 1000:.0f} ms | {r['draft_s'] * 1000:.0f} ms "
                         f"({r['draft_decoded'][1]}x{r['draft_decoded'][0]}) | {r['full_s'] / r['draft_s']:.2f}x | "
                         f"{r['prepared_shape'][1]}x{r['prepared_shape'][0]} | {r['pixel_mean_abs_diff']:.2f} | "
                         f"{r['abs_diff_mean']:.4f} |")
        half = [(name, r) for name, rows in d["recipes"].items() for r in rows if "half_s" in r]
        if half:
            L += ["", "Where the package decodes the whole photo, a 1/2-scale draft would cost "
                  "(not the package's choice):", "",
                  "| recipe | photo | full decode | 1/2 draft (decoded size) | speed-up | |Δ mean score| |",
                  "|---|---|---|---|---|---|"]
            for name, r in half:
                L.append(f"| {name} | {r['name']} | {r['full_s'] * 1000:.0f} ms | {r['half_s'] * 1000:.0f} ms "
                         f"({r['half_decoded'][1]}x{r['half_decoded'][0]}) | {r['full_s'] / r['half_s']:.2f}x | "
                         f"{r['abs_diff_mean_half']:.4f} |")
    L.append("")
    return "\n".join(L)


def scaling_goals(s):
    runs = s["runs"]
    lo, hi = min(r["n"] for r in runs), max(r["n"] for r in runs)
    pick = lambda n, key: min(r[key] for r in runs if r["n"] == n)  # noqa: E731
    loop_ok = all(r["ms_per_file_loop"] for r in runs)
    return {
        "time_ratio_wall": pick(hi, "ms_per_file_wall") / pick(lo, "ms_per_file_wall"),
        "time_ratio_loop": pick(hi, "ms_per_file_loop") / pick(lo, "ms_per_file_loop") if loop_ok else None,
        "rss_ratio": max(r["peak_rss_mib"] for r in runs if r["n"] == hi)
        / max(r["peak_rss_mib"] for r in runs if r["n"] == lo),
    }


def _f(v, digits=2):
    return "n/a" if v is None else f"{v:.{digits}f}"


# --------------------------------------------------------------------------- main


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes (checks the script works)")
    p.add_argument("--work", default="/tmp/bench-scale", help="work folder (models are cached there)")
    p.add_argument("--sections", default="1,2,3,4,5,6")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-wait", type=int, default=600, help="seconds to wait for running pytest jobs")
    p.add_argument("--inner-backend", nargs=5, help=argparse.SUPPRESS)
    p.add_argument("--inner-naive", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    os.environ.update(TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    if args.inner_backend:
        b, m, lst, reps, bs = args.inner_backend
        inner_backend(b, m, lst, int(reps), int(bs))
        return 0
    if args.inner_naive:
        inner_naive(*args.inner_naive)
        return 0
    if not CLIVE.is_dir():
        print(f"needs {CLIVE}", file=sys.stderr)
        return 1

    q = args.quick
    MAX_WAIT[0] = args.max_wait
    sections = {int(s) for s in args.sections.split(",")}
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    photos = clive_photos()
    bench = clive_photos(square_only=True)[: 16 if q else 120]
    res = {"quick": q, "reps": 1 if q else 2, "batch_size": args.batch_size, "machine": {
        "date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "python": platform.python_version(),
        "load_at_start": os.getloadavg()}}
    t_start = time.perf_counter()
    small = None
    if sections & {1, 2}:
        log("small ONNX model ...")
        small = small_onnx(work)
    if 1 in sections:
        log("1. scaling ...")
        res["scaling"] = section_scaling(work, photos, small, (30, 60, 120) if q else (300, 3000, 30000),
                                         args.batch_size)
        res["scaling"]["goals"] = scaling_goals(res["scaling"])
    if 2 in sections:
        log("2. kill -9 and resume ...")
        res["kill"] = section_kill(work, photos, small, 400 if q else 3000, args.batch_size)
    arts = {}
    if sections & {3, 5}:
        formats = ("keras", "onnx") if q else BACKENDS
        res["export_quiet"] = wait_quiet("exports")
        arts, res["export_seconds"] = shipped_exports(work, formats)
        arts = {k: v for k, v in arts.items() if k in formats}
    if 3 in sections:
        log("3. backends: model-only vs end-to-end ...")
        res["backends"] = section_backends(work, arts, bench, res["reps"], args.batch_size)
    if 4 in sections:
        log("4. naive loop vs predict ...")
        res["naive"] = section_naive(work, bench[:8] if q else bench, res["reps"])
    if 5 in sections:
        log("5. cold start ...")
        one = next(p for p in bench if p.suffix.lower() == ".jpg")
        res["cold"] = section_cold(work, arts, one, 1 if q else 3)
    if 6 in sections:
        log("6. JPEG draft decode ...")
        specs = [(4000, 3000)] if q else [(4000, 3000)] * 4 + [(6000, 4000)] * 2
        res["draft"] = section_draft(work, photos, specs, 1 if q else 3)
    res["total_s"] = time.perf_counter() - t_start
    res["machine"]["load_at_end"] = os.getloadavg()
    CACHE.mkdir(parents=True, exist_ok=True)
    out = CACHE / ("bench_scale_quick.json" if q else "bench_scale.json")
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(render(res))
    log(f"results in {out}")
    for name in ("trees", "naive_photos"):  # links only, but tens of thousands of them
        shutil.rmtree(work / name, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
