"""A run folder: what `train` and `pretrain` write, and how they resume.

    RUN_DIR/config.json            the resolved config of the run
    RUN_DIR/state.json             progress (stage/epochs done, best val loss, finished)
    RUN_DIR/checkpoints/last.keras model + optimizer after the last finished epoch
    RUN_DIR/history.csv            one row per finished epoch
    ... plus each loop's own outputs (model.keras, metrics.json, ...)

Every model and JSON file is written atomically (temporary file + rename), so
a kill never leaves half a file where a good one was. A run resumes only with
the config it was started with: anything else is refused with a message
saying how to start over, before any file is touched.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
from pathlib import Path
from typing import Iterable, Optional

from aesthetics.errors import OutputError, RunFolderError

log = logging.getLogger("aesthetics")

LAST_CHECKPOINT = "checkpoints/last.keras"


def json_safe(value):
    """`value` with NaN/inf floats replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return json_safe(value.item())
    return value


def write_json(path, value) -> None:
    """Writes strict JSON (NaN -> null) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(json_safe(value), indent=2, allow_nan=False) + "\n")
    os.replace(tmp, path)


def save_model_atomic(model, path) -> None:
    """`model.save(path)` through a temporary file in the same folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)


def config_differences(old: dict, new: dict, prefix: str = "") -> list:
    """Dotted keys whose values differ between two config dicts."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        name = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_differences(a, b, name + ".")
        elif a != b:
            out.append(f"{name}: {json.dumps(a)} -> {json.dumps(b)}")
    return out


class RunFolder:
    """The files of one run and the rules for resuming it.

    Args:
        path: the run folder (created).
        sections: config sections that define this kind of run (e.g.
            ("data", "model", "train")); only those are compared on resume.
        outputs: file names the run writes when it finishes (removed by
            `start_over`).
        results: the outputs a finished run must still have to count as
            finished (metrics.json among them); a finished run missing one is
            trained again.
    """

    def __init__(self, path, sections: Iterable[str], outputs: Iterable[str] = (),
                 results: Iterable[str] = ("metrics.json",)):
        self.path = Path(path)
        self.sections = tuple(sections)
        self.outputs = tuple(outputs)
        self.results = tuple(results)

    # ---- files
    @property
    def last_checkpoint(self) -> Path:
        return self.path / LAST_CHECKPOINT

    def file(self, name: str) -> Path:
        return self.path / name

    def read_state(self) -> dict:
        """state.json, checked: a hand-edited or damaged file is a
        RunFolderError naming it (never a traceback, never a silent restart
        that would delete the run's results)."""
        path = self.path / "state.json"
        if not path.exists():
            return {}
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError, RecursionError) as e:
            reason = "nested too deeply" if isinstance(e, RecursionError) else e
            raise RunFolderError(f"{path}: unreadable ({reason}); start over with --no-resume") from None
        problem = _state_problem(state)
        if problem:
            raise RunFolderError(f"{path}: {problem}; start over with --no-resume")
        return state

    def write_state(self, state: dict) -> None:
        write_json(self.path / "state.json", state)

    def update_state(self, **values) -> dict:
        state = self.read_state()
        state.update(values)
        self.write_state(state)
        return state

    def save_checkpoint(self, model) -> None:
        save_model_atomic(model, self.last_checkpoint)

    # ---- resume rules
    def _relevant(self, config_dict: dict) -> dict:
        return {k: config_dict.get(k, {}) for k in self.sections}

    def prepare(self, config, resume: bool = True) -> dict:
        """Decides between a fresh start and a resume, before anything is
        written: returns the state to resume from ({} for a fresh start).

        Refuses (RunFolderError) to resume or reuse a run whose config.json
        differs from `config` in the run's sections."""
        self._check_folder()
        if not resume:
            self.start_over()
            return {}
        state = self.read_state()
        config_file = self.path / "config.json"
        if state and config_file.exists():
            try:
                old = json.loads(config_file.read_text())
            except (OSError, ValueError, RecursionError):
                old = None
            if not isinstance(old, dict):
                # without it the resume rule cannot be checked: refuse, touch nothing
                raise RunFolderError(
                    f"{config_file} is unreadable, so whether this run used the same config cannot "
                    f"be checked. To start over in this folder pass --no-resume; to keep it, "
                    f"choose another --output")
            if old is not None:
                diff = config_differences(self._relevant(old), self._relevant(config.to_dict()))
                if diff:
                    shown = "; ".join(diff[:5]) + (f"; and {len(diff) - 5} more" if len(diff) > 5 else "")
                    what = "finished" if state.get("finished") else "was started"
                    raise RunFolderError(
                        f"{self.path} {what} with a different config ({shown}). To start over "
                        f"in this folder pass --no-resume; to keep it, choose another --output"
                    )
        if state.get("finished"):
            if all((self.path / name).exists() for name in self.results):
                return state
            log.warning("%s finished, but its results are gone; training again", self.path)
        elif state and self.last_checkpoint.exists():
            return state
        elif state:
            log.warning("%s has state.json but no checkpoint; starting over", self.path)
        self.start_over()
        return {}

    def _check_folder(self) -> None:
        """The run folder is (or can be made) a writable folder: an OutputError
        now, not a traceback after the data is read."""
        if self.path.exists() and not self.path.is_dir():
            raise OutputError(f"run folder {self.path} is a file; choose another --output")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            # one name per process: workers of a multi-worker run probe the
            # same folder at once, and a shared name let one unlink the other's
            probe = self.path / f".write-probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise OutputError(f"run folder {self.path}: cannot write there ({e.strerror or e})") from None

    def finished_metrics(self) -> dict:
        """The metrics.json of a finished run (after `prepare` said finished)."""
        log.info("run in %s already finished with this config; nothing to do", self.path)
        path = self.path / "metrics.json"
        try:
            metrics = json.loads(path.read_text())
        except (OSError, ValueError, RecursionError) as e:
            reason = "nested too deeply" if isinstance(e, RecursionError) else e
            raise RunFolderError(f"{path}: unreadable ({reason}); the run finished, but its metrics "
                                 f"are damaged: pass --no-resume to train again") from None
        if not isinstance(metrics, dict):
            raise RunFolderError(f"{path}: expected a JSON object of metrics; pass --no-resume to train again")
        return metrics

    def start(self, config) -> None:
        """Creates the folder and records the config (after `prepare`)."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.path / "config.json", config.to_dict())

    def start_over(self) -> None:
        for name in ("state.json", "history.csv", *self.outputs):
            (self.path / name).unlink(missing_ok=True)
        self.last_checkpoint.unlink(missing_ok=True)

    def trim_history(self, epochs_done: int) -> None:
        """Drops history.csv rows of epochs after `epochs_done` (written by an
        epoch whose checkpoint never landed), so a resume adds no duplicates."""
        path = self.path / "history.csv"
        if not path.exists():
            return
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
        if not rows or "epoch" not in rows[0]:
            return
        col = rows[0].index("epoch")
        keep = [rows[0]] + [r for r in rows[1:] if r and _int(r[col]) is not None and _int(r[col]) < epochs_done]
        if len(keep) != len(rows):
            tmp = path.with_name(".history.csv.tmp")
            with tmp.open("w", newline="") as f:
                csv.writer(f).writerows(keep)
            os.replace(tmp, path)


def _int(text) -> Optional[int]:
    try:
        return int(float(text))
    except (ValueError, OverflowError):  # "x", "nan", "inf"
        return None


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10**9


def _state_problem(state) -> Optional[str]:
    """Why a state.json value cannot be resumed from, or None."""
    if not isinstance(state, dict):
        return f"expected a JSON object, got {type(state).__name__}"
    for key in ("epochs_done", "best_epoch", "step", "steps_done", "stage", "stage_epochs_done", "stage_wait"):
        if key in state and state[key] is not None and not _is_count(state[key]):
            return f"{key} must be a whole number of epochs/steps, got {state[key]!r}"
    if "phase" in state and state["phase"] not in (1, 2):
        return f"phase must be 1 or 2, got {state['phase']!r}"
    for key in ("finished", "stage_stopped"):
        if key in state and not isinstance(state[key], bool):
            return f"{key} must be true or false, got {state[key]!r}"
    best = state.get("stage_best")
    if best is not None and (isinstance(best, bool) or not isinstance(best, (int, float)) or not math.isfinite(best)):
        return f"stage_best must be a finite number, got {best!r}"
    for key, value in state.items():
        if key.startswith("best_") and key != "best_epoch" and value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                return f"{key} must be a finite number, got {value!r}"
    return None
