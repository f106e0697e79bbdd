"""Distribution strategies without GPUs: AESTHETICS_VIRTUAL_CPUS=2 splits the
CPU into two replicas (mirrored), and two local processes form a
multi-worker cluster on loopback ports."""

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from aesthetics.errors import ConfigError
from aesthetics.training import distribute

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--backbone-weights", "none", "--batch-size", "8", "--verbose", "0",
        "--set", "model.alpha=0.25", "--set", "data.image_size=64", "--set", "data.resize_to=72",
        "--set", "data.val_fraction=0.3334", "--set", "train.epochs_full=0"]


@pytest.fixture()
def clive24(shared_dir, tmp_path):
    """24 real CLIVE photos and their MOS: 16 train (two full batches of 8), 8 val."""
    src = shared_dir / "data" / "clive"
    lines = (src / "labels.csv").read_text().splitlines()
    (tmp_path / "images").mkdir()
    for line in lines[1:25]:
        name = line.split(",")[0]
        shutil.copy(src / "images" / name, tmp_path / "images" / name)
    (tmp_path / "labels.csv").write_text("\n".join(lines[:25]) + "\n")
    return tmp_path


def _train(cwd, out, *extra, env=None, timeout=600):
    args = [sys.executable, "-m", "aesthetics", "train", "--images", "images", "--labels", "labels.csv",
            "--score-range", "0", "100", "--output", out, *TINY, *extra]
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    p = subprocess.run(args, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, p.stderr[-3000:]
    return p


def _losses(run):
    with open(run / "history.csv") as f:
        return [(float(r["loss"]), float(r["val_loss"])) for r in csv.DictReader(f)]


def test_mirrored_on_two_virtual_cpus_matches_one_device(clive24):
    env = {"AESTHETICS_VIRTUAL_CPUS": "2"}
    # no dropout, augmentation or shuffling: dropout masks are drawn per
    # replica, and the seeded shuffle gives another (fixed) order under the
    # strategy than on one device (measured; both runs are deterministic), so
    # the losses would differ. The shipped model's
    # backbone (offline): its features depend on the photo, a random one's do not.
    same = ["--epochs", "2", "--set", "train.epochs_head=2", "--set", "model.dropout=0",
            "--set", "data.random_crop=false", "--set", "data.hflip=false", "--set", "data.shuffle_buffer=1",
            "--backbone-weights", "bundled", "--set", "model.alpha=1.0", "--set", "train.lr_head=0.02",
            "--set", "train.optimizer=\"sgd\""]  # Adam amplifies float rounding in its first steps
    _train(clive24, "one", *same, env=env)
    _train(clive24, "two", *same, "--distribute", "mirrored", env=env)
    one, two = _losses(clive24 / "one"), _losses(clive24 / "two")
    assert len(one) == len(two) == 2
    for (a, va), (b, vb) in zip(one, two):
        # float summation order differs (two batches of 4, not one of 8); a
        # wrong split (a doubled gradient, a replica's data lost, an extra
        # step) moved these by >10% while this was built
        assert b == pytest.approx(a, rel=1e-3) and vb == pytest.approx(va, rel=1e-3)
    assert abs(one[1][1] - one[0][1]) > 1e-3  # it trained: the comparison is not of constants
    metrics = json.loads((clive24 / "two" / "metrics.json").read_text())
    assert metrics["n"] == 8  # validation saw each photo once, not once per replica


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _loopback_env(tf_config):
    """TF_CONFIG for one worker, and gRPC kept off any proxy a CI machine sets
    (gRPC honours http_proxy/grpc_proxy even for 127.0.0.1)."""
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "grpc_proxy", "all_proxy")}
    env.update(TF_CONFIG=tf_config, no_proxy="127.0.0.1,localhost", NO_PROXY="127.0.0.1,localhost",
               PYTHONPATH=str(ROOT))
    return env


def test_multi_worker_on_two_local_processes_writes_one_run_folder(clive24):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    args = [sys.executable, "-m", "aesthetics", "train", "--images", "images", "--labels", "labels.csv",
            "--score-range", "0", "100", "--output", "run", *TINY, "--epochs", "1",
            "--set", "train.epochs_head=1", "--distribute", "multi_worker"]
    procs, logs = [], []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        # output to files, not pipes: a worker blocked on a full pipe would
        # stall the other one inside a collective
        log_file = open(clive24 / f"worker{index}.log", "w")
        logs.append(log_file)
        procs.append(subprocess.Popen(args, cwd=clive24, env=_loopback_env(tf_config),
                                      stdout=log_file, stderr=subprocess.STDOUT, text=True))
    deadline = time.monotonic() + 480
    try:
        while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
            if any(p.poll() not in (None, 0) for p in procs):
                break  # one failed: its peer would wait for it forever
            time.sleep(0.5)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        for f in logs:
            f.close()
    outputs = [(clive24 / f"worker{i}.log").read_text()[-2500:] for i in range(2)]
    report = "\n".join(f"--- worker {i} (exit {p.returncode}):\n{out}"
                        for i, (p, out) in enumerate(zip(procs, outputs)))
    assert all(p.returncode == 0 for p in procs), report
    run = clive24 / "run"
    assert (run / "checkpoints" / "last.keras").is_file() and (run / "model.keras").is_file()
    assert len(_losses(run)) == 1  # one history row: only the chief wrote the folder
    assert not list(run.glob(".write-probe*"))


def test_bad_settings_fail_before_tensorflow(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="needs the TF_CONFIG"):
        distribute.check_strategy_name("multi_worker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="TF_CONFIG is not valid"):
        distribute.check_strategy_name("multi_worker")
    with pytest.raises(ConfigError, match="unknown strategy"):
        distribute.check_strategy_name("horovod")
    for bad in ("two", "0", "1000"):
        monkeypatch.setenv(distribute.VIRTUAL_CPUS_ENV, bad)
        with pytest.raises(ConfigError, match="AESTHETICS_VIRTUAL_CPUS"):
            distribute.virtual_cpus()


def test_cli_refuses_a_bad_distribute_value(tmp_path):
    from aesthetics.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--images", ".", "--labels", "x.csv", "--distribute", "horovod"])


def test_pretrain_mirrored_on_two_virtual_cpus_keeps_groups_whole(shared_dir, tmp_path):
    """Pretext batches (2 photos x 3 levels) split over 2 replicas by whole
    groups: the run trains and writes its outputs; a batch that cannot be
    split by groups is refused with the keys to change."""
    photos = sorted((shared_dir / "data" / "pristine").glob("*.jpg"))[:2]
    folder = tmp_path / "photos"
    folder.mkdir()
    for p in photos:
        shutil.copy(p, folder / p.name)
    sets = ["model.alpha=0.25", "model.backbone_weights=null", "pretrain.crop_size=64",
            "pretrain.working_size=80", "pretrain.images_per_batch=2", "pretrain.crops_per_image=1",
            "pretrain.levels_per_group=3", "pretrain.decoder_width=8", "pretrain.steps_per_epoch=2",
            "pretrain.epochs=1"]
    env = dict(os.environ, PYTHONPATH=str(ROOT), AESTHETICS_VIRTUAL_CPUS="2")

    def pretrain(out, *more):
        args = [sys.executable, "-m", "aesthetics", "pretrain", "--images", str(folder), "--output", out,
                "--verbose", "0", "--distribute", "mirrored"]
        for s in sets + list(more):
            args += ["--set", s]
        return subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)

    p = pretrain("run")
    assert p.returncode == 0, p.stderr[-3000:]
    assert (tmp_path / "run" / "model.keras").is_file() and len(_losses_pretext(tmp_path / "run")) == 1
    p = pretrain("odd", "pretrain.images_per_batch=3")
    assert p.returncode == 2 and "multiple of 2" in p.stderr


def _losses_pretext(run):
    with open(run / "history.csv") as f:
        return [float(r["loss"]) for r in csv.DictReader(f)]


def test_mixed_float16_under_a_mirrored_strategy(clive24):
    """Mixed precision inside the strategy's scope: loss scaling for float16,
    the head's scores in float32, the checkpoint resumable."""
    env = {"AESTHETICS_VIRTUAL_CPUS": "2"}
    _train(clive24, "mp", "--epochs", "1", "--set", "train.epochs_head=1", "--set", "train.epochs_full=1",
           "--set", 'train.mixed_precision="mixed_float16"', "--distribute", "mirrored", env=env)
    import keras

    from aesthetics.inference.loading import load_model

    model = load_model(clive24 / "mp" / "model.keras")
    backbone = model.get_layer("backbone")
    assert {layer.dtype_policy.name for layer in backbone.layers[1:]} == {"mixed_float16"}
    assert keras.backend.standardize_dtype(model.output.dtype) == "float32"  # scores stay float32
    last = keras.saving.load_model(clive24 / "mp" / "checkpoints" / "last.keras")
    assert isinstance(last.optimizer, keras.optimizers.LossScaleOptimizer)
    losses = _losses(clive24 / "mp")
    assert len(losses) == 2 and all(np.isfinite(v) for row in losses for v in row)
