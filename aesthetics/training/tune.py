"""Hyper-parameter and architecture search on keras-tuner (`aesthetics tune`).

A search space maps dotted config keys to ranges::

    {"train.lr_full": {"type": "float", "min": 1e-5, "max": 1e-3, "sampling": "log"},
     "train.loss": {"type": "choice", "values": ["emd", "combined"]},
     "model.options.use_adain": {"type": "boolean"}}

Each trial is one `aesthetics.training.supervised.train` run in
``RUN_DIR/trials/<trial_id>/`` with the trial's values applied to the base
config as ``key=value`` overrides; its objective is the validation SRCC
(maximised). keras-tuner's oracles (random, Bayesian, Hyperband) pick the
values; their state lives in ``RUN_DIR/search/``, so re-running the command
resumes (finished trials are kept, an interrupted one resumes from its
checkpoint). Every finished trial appends one JSON line to
``RUN_DIR/trials.jsonl``; the best trial's config is written to
``RUN_DIR/best_config.json``.

The space parsing and checks here import no TensorFlow (the CLI runs them
before TensorFlow starts); keras and keras_tuner are imported inside the
functions that search.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from aesthetics.errors import ConfigError, RunFolderError

log = logging.getLogger("aesthetics")

SPACE_TYPES = ("int", "float", "choice", "boolean")
ALGORITHMS = ("random", "bayesian", "hyperband")
SAMPLINGS = ("linear", "log", "reverse_log")
OBJECTIVE = "srcc"
DEFAULT_MAX_TRIALS = 10
HYPERBAND_FACTOR = 3
PROJECT = "search"  # keras-tuner's project folder under RUN_DIR
EPOCHS_KEY = "train.epochs_full"  # what hyperband's tuner/epochs sets
_FIELDS = {
    "int": {"type", "min", "max", "step", "sampling"},
    "float": {"type", "min", "max", "step", "sampling"},
    "choice": {"type", "values"},
    "boolean": {"type"},
}


@dataclass(frozen=True)
class Param:
    """One dimension of the search space: a dotted config key and its range."""

    key: str
    type: str
    min: Any = None
    max: Any = None
    step: Any = None
    sampling: str = "linear"
    values: tuple = ()

    def samples(self) -> list:
        """Values that stand for the range (its ends, every choice) when
        checking the space against the config."""
        if self.type == "boolean":
            return [False, True]
        if self.type == "choice":
            return list(self.values)
        return [self.min, self.max]

    def declare(self, hp) -> None:
        """Adds this dimension to keras-tuner `HyperParameters` `hp`."""
        if self.type == "int":
            hp.Int(self.key, self.min, self.max, step=self.step, sampling=self.sampling)
        elif self.type == "float":
            hp.Float(self.key, self.min, self.max, step=self.step, sampling=self.sampling)
        elif self.type == "choice":
            hp.Choice(self.key, list(self.values))
        else:
            hp.Boolean(self.key)


def _error(where: str, key: str, message: str) -> ConfigError:
    e = ConfigError(f"{key}: {message} (in {where})")
    e.key = key
    return e


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _param(key: str, entry: Any, where: str) -> Param:
    if not isinstance(entry, dict):
        raise _error(where, key, f"expected an object with a 'type' ({', '.join(SPACE_TYPES)}), got {entry!r}")
    kind = entry.get("type")
    if kind not in SPACE_TYPES:
        raise _error(where, key, f"unknown type {kind!r}; expected one of {', '.join(SPACE_TYPES)}")
    extra = sorted(set(entry) - _FIELDS[kind])
    if extra:
        raise _error(where, key, f"unknown field {extra[0]!r} for type {kind!r}; "
                     f"valid: {', '.join(sorted(_FIELDS[kind]))}")
    if kind == "boolean":
        return Param(key, kind)
    if kind == "choice":
        values = entry.get("values")
        if not isinstance(values, list) or not values:
            raise _error(where, key, "'values' must be a non-empty list")
        if all(isinstance(v, bool) for v in values):
            raise _error(where, key, "true/false choices: use {\"type\": \"boolean\"}")
        if all(isinstance(v, str) for v in values):
            pass
        elif all(_is_number(v) for v in values):
            if not all(isinstance(v, int) for v in values):
                values = [float(v) for v in values]  # keras-tuner wants one type
        else:
            raise _error(where, key, f"'values' must be all strings or all numbers, got {values!r}")
        if len(set(values)) != len(values):
            raise _error(where, key, f"'values' has duplicates: {values!r}")
        return Param(key, kind, values=tuple(values))
    lo, hi = entry.get("min"), entry.get("max")
    for name, v in (("min", lo), ("max", hi)):
        if not _is_number(v) or (kind == "int" and not isinstance(v, int)):
            raise _error(where, key, f"'{name}' must be {'an integer' if kind == 'int' else 'a number'}, got {v!r}")
    if lo >= hi:
        raise _error(where, key, f"min ({lo}) must be less than max ({hi}); set a fixed value in the config instead"
                     if lo == hi else f"min ({lo}) > max ({hi})")
    sampling = entry.get("sampling", "linear")
    if sampling not in SAMPLINGS:
        raise _error(where, key, f"unknown sampling {sampling!r}; expected one of {', '.join(SAMPLINGS)}")
    if sampling != "linear" and lo <= 0:
        raise _error(where, key, f"sampling {sampling!r} needs min > 0, got {lo}")
    step = entry.get("step")
    if step is not None:
        if not _is_number(step) or step <= 0 or (kind == "int" and not isinstance(step, int)):
            raise _error(where, key, f"'step' must be a positive {'integer' if kind == 'int' else 'number'}, "
                         f"got {step!r}")
    return Param(key, kind, float(lo) if kind == "float" else lo, float(hi) if kind == "float" else hi,
                 step, sampling)


def parse_space(raw: Any, where: str = "the search space") -> list[Param]:
    """The dimensions of a search space (the JSON object); ConfigError naming
    the key for anything malformed. Does not look at the config."""
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{where}: expected a non-empty JSON object of dotted config keys "
                          f"(e.g. \"train.lr_full\") to ranges")
    params = []
    for key, entry in raw.items():
        if not isinstance(key, str) or key.count(".") < 1 or key.startswith("tuner/"):
            raise _error(where, str(key), "expected a dotted config key such as train.lr_full")
        params.append(_param(key, entry, where))
    return params


def read_space(path) -> dict:
    """The search-space file's JSON object (not yet checked)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        from aesthetics.errors import InputNotFoundError

        raise InputNotFoundError(f"--space: file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the search space ({e})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None


def check_space(params: list[Param], config_path, base_overrides=(), where: str = "the search space",
                algorithm: str = "random") -> None:
    """ConfigError naming the key unless every sample value of every
    dimension, applied to the base config alone, gives a valid config (so an
    unknown key or an impossible value fails here, before any training)."""
    from aesthetics.config import load_config

    for p in params:
        if algorithm == "hyperband" and p.key == EPOCHS_KEY:
            raise _error(where, p.key, "hyperband sets the epochs itself (its budget is the base config's "
                         f"{EPOCHS_KEY}); leave it out of the space or use --algorithm random/bayesian")
        for value in p.samples():
            try:
                load_config(config_path, list(base_overrides) + [f"{p.key}={json.dumps(value)}"])
            except ConfigError as e:
                text = str(e) if str(e).startswith(p.key) else f"{p.key}: {e}"
                raise _error(f"{where}, value {json.dumps(value)}", p.key, text[len(p.key) + 2:]) from None


def load_space(path, config_path, base_overrides=(), algorithm: str = "random") -> tuple[dict, list[Param]]:
    """Reads, parses and checks a search-space file: (raw JSON, dimensions)."""
    raw = read_space(path)
    params = parse_space(raw, str(path))
    check_space(params, config_path, base_overrides, str(path), algorithm)
    return raw, params


def _plain(v):
    """A JSON-able Python value from a keras-tuner / numpy value."""
    return v.item() if hasattr(v, "item") else v


def trial_overrides(values: dict) -> list[str]:
    """``key=json`` overrides for a trial's hyper-parameter values;
    hyperband's ``tuner/epochs`` becomes train.epochs_full, its other
    ``tuner/`` bookkeeping values are dropped."""
    out = []
    for key, value in values.items():
        if key == "tuner/epochs":
            out.append(f"{EPOCHS_KEY}={int(value)}")
        elif not key.startswith("tuner/"):
            out.append(f"{key}={json.dumps(_plain(value))}")
    return out


def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by a crash
    return rows


def _make_oracle(algorithm: str, params: list[Param], max_trials: Optional[int], seed, epochs: int):
    import keras_tuner as kt

    hp = kt.HyperParameters()
    for p in params:
        p.declare(hp)
    # every trial may fail (a NaN loss, an impossible combination): the search goes on
    common = dict(objective=kt.Objective(OBJECTIVE, direction="max"), seed=seed, hyperparameters=hp,
                  allow_new_entries=False, max_consecutive_failed_trials=10 ** 6)
    if algorithm == "hyperband":
        return kt.oracles.HyperbandOracle(max_epochs=max(1, int(epochs)), factor=HYPERBAND_FACTOR, **common)
    cls = kt.oracles.BayesianOptimizationOracle if algorithm == "bayesian" else kt.oracles.RandomSearchOracle
    return cls(max_trials=max_trials, **common)


class _Search:
    """Runs trials for a keras-tuner `Tuner` and logs them."""

    def __init__(self, config_path, base_overrides, run_dir: Path, verbose: int):
        self.config_path = config_path
        self.base_overrides = list(base_overrides)
        self.run_dir = run_dir
        self.verbose = verbose
        self.log_path = run_dir / "trials.jsonl"
        self.seconds: dict = {}
        self.errors: dict = {}
        self.srcc: dict = {}

    def trial_config(self, values: dict):
        from aesthetics.config import load_config

        return load_config(self.config_path, self.base_overrides + trial_overrides(values))

    def run_trial(self, trial) -> dict:
        import keras
        import keras_tuner as kt

        from aesthetics.training.supervised import train

        values = dict(trial.hyperparameters.values)
        t0 = time.time()
        log.info("trial %s: %s", trial.trial_id, " ".join(trial_overrides(values)))
        try:
            config = self.trial_config(values)
            folder = self.run_dir / "trials" / trial.trial_id
            if config.train.cache_features:  # the trials share the backbone's features
                from aesthetics.training.cached_head import train_cached_head

                metrics = train_cached_head(config, folder, resume=True, verbose=self.verbose,
                                            cache_dir=self.run_dir / "features")
            else:
                metrics = train(config, folder, resume=True, verbose=self.verbose)
            srcc = float(metrics.get(OBJECTIVE, float("nan")))
            if not math.isfinite(srcc):
                raise RuntimeError(f"validation SRCC is {srcc} (a diverged or constant model)")
        except Exception as e:  # noqa: BLE001 - any failure fails this trial only
            self.errors[trial.trial_id] = f"{type(e).__name__}: {e}"
            log.warning("trial %s failed: %s", trial.trial_id, self.errors[trial.trial_id])
            raise kt.errors.FailedTrialError(self.errors[trial.trial_id]) from e
        finally:
            self.seconds[trial.trial_id] = round(time.time() - t0, 1)
            keras.backend.clear_session()
        self.srcc[trial.trial_id] = srcc
        return {OBJECTIVE: srcc}

    def record(self, trial) -> None:
        """One JSON line for a finished trial (once, even across resumes)."""
        if any(r.get("trial_id") == trial.trial_id for r in _read_jsonl(self.log_path)):
            return
        status = str(getattr(trial.status, "value", trial.status)).lower()
        values = {k: _plain(v) for k, v in trial.hyperparameters.values.items()}
        row = {"trial_id": trial.trial_id, "status": status, "values": values,
               OBJECTIVE: self.srcc.get(trial.trial_id) if status == "completed" else None,
               "seconds": self.seconds.get(trial.trial_id)}
        if status != "completed":
            lines = (trial.message or "").strip().splitlines()
            row["error"] = self.errors.get(trial.trial_id) or (lines[-1] if lines else status)
        with open(self.log_path, "a") as f:
            f.write(json.dumps(row, allow_nan=False, default=str) + "\n")


def _tuner(search: _Search, oracle, overwrite: bool):
    import keras_tuner as kt

    class ConfigTuner(kt.Tuner):
        """Trains one aesthetics config per trial; returns its validation SRCC."""

        def run_trial(self, trial, *args, **kwargs):
            return search.run_trial(trial)

        def on_trial_end(self, trial):
            super().on_trial_end(trial)
            search.record(self.oracle.get_trial(trial.trial_id))

        def save_model(self, trial_id, model, step=0):  # models live in the trial run folders
            pass

    return ConfigTuner(oracle=oracle, directory=str(search.run_dir), project_name=PROJECT, overwrite=overwrite)


def _check_resume(run_dir: Path, meta: dict, resume: bool) -> None:
    """RunFolderError if RUN_DIR holds a search with another space, base
    config or algorithm (a resume would mix them); --no-resume clears it."""
    path = run_dir / "tune.json"
    if not resume:
        for name in ("trials", PROJECT):
            shutil.rmtree(run_dir / name, ignore_errors=True)
        for name in ("trials.jsonl", "best_config.json", "tune.json"):
            (run_dir / name).unlink(missing_ok=True)
        return
    if not path.exists():
        return
    old = json.loads(path.read_text())
    for part in ("algorithm", "space", "base_config"):
        if old.get(part) != meta[part]:
            raise RunFolderError(f"{run_dir} holds a search with a different {part.replace('_', ' ')}; "
                                 f"use another --output, or --no-resume to start over")


def search(config_path, base_overrides, space: dict, run_dir, algorithm: str = "random",
           max_trials: Optional[int] = None, resume: bool = True, verbose: int = 0) -> dict:
    """Runs (or resumes) a search; returns its summary (also written as
    RUN_DIR/best_config.json for the best trial, when one finished)."""
    from aesthetics.config import load_config

    if algorithm not in ALGORITHMS:
        raise ConfigError(f"--algorithm: expected one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
    run_dir = Path(run_dir)
    params = parse_space(space)
    check_space(params, config_path, base_overrides, algorithm=algorithm)
    base = load_config(config_path, base_overrides)
    if algorithm == "hyperband" and base.train.stages is not None:
        raise ConfigError(f"train.stages: hyperband sets {EPOCHS_KEY}, which a staged plan does not use; "
                          "use --algorithm random or bayesian")
    max_trials = None if algorithm == "hyperband" else (max_trials or DEFAULT_MAX_TRIALS)
    run_dir.mkdir(parents=True, exist_ok=True)
    meta = {"algorithm": algorithm, "space": space, "base_config": base.to_dict(), "max_trials": max_trials}
    _check_resume(run_dir, meta, resume)
    (run_dir / "tune.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")

    oracle = _make_oracle(algorithm, params, max_trials, base.train.seed, base.train.epochs_full)
    runner = _Search(config_path, base_overrides, run_dir, verbose)
    t0 = time.time()
    # keras-tuner prints its progress on stdout; keep stdout for the summary
    with contextlib.redirect_stdout(sys.stderr):
        tuner = _tuner(runner, oracle, overwrite=False)
        tuner.search(verbose=1 if verbose else 0)
    return _finish(runner, tuner, base, algorithm, time.time() - t0)


def _finish(runner: _Search, tuner, base, algorithm: str, seconds: float) -> dict:
    trials = list(tuner.oracle.trials.values())
    status = lambda t: str(getattr(t.status, "value", t.status)).upper()  # noqa: E731
    completed = [t for t in trials if status(t) == "COMPLETED" and t.score is not None]
    summary = {"run_dir": str(runner.run_dir), "algorithm": algorithm, "trials": len(trials),
               "completed": len(completed), "failed": sum(status(t) in ("FAILED", "INVALID") for t in trials),
               "search_seconds": round(seconds, 1)}
    if not completed:
        summary["best_trial"] = None
        return summary
    best = max(completed, key=lambda t: t.score)
    values = {k: _plain(v) for k, v in best.hyperparameters.values.items()}
    config = runner.trial_config(values)
    d = config.to_dict()
    d["description"] = (f"Best trial {best.trial_id} of `aesthetics tune` in {runner.run_dir} "
                        f"(validation SRCC {best.score:.4f}): " + " ".join(trial_overrides(values)))
    path = runner.run_dir / "best_config.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(d, indent=2, allow_nan=False) + "\n")
    tmp.replace(path)
    summary.update({"best_trial": best.trial_id, "best_srcc": round(float(best.score), 4),
                    "best_values": {k: v for k, v in values.items() if not k.startswith("tuner/")},
                    "best_config": str(path),
                    "best_run": str(runner.run_dir / "trials" / best.trial_id)})
    return summary
