"""The epoch plan of supervised training: stages, loss cycles, progressive sizes.

A run is a list of *stages* (`train.stages`), each with its own optimizer,
learning rate, schedule, what trains (the head only, or the backbone too)
and either one loss or a *loss cycle* that switches every `switch_every`
epochs. NIMA's two phases are the special case this module derives when
`train.stages` is null:

    [{"name": "head", "epochs": epochs_head, "lr": lr_head, "train": "head"},
     {"name": "full", "epochs": epochs_full, "lr": lr_full, "train": "all",
      "early_stopping_patience": early_stopping_patience}]

The recipe of the 6th-place AIIJC CLIP solution, as stages::

    [{"optimizer": "adamw", "lr": 1e-4, "epochs": 6,
      "loss_cycle": ["mse", "l1", "mixed_mean"], "switch_every": 2},
     {"optimizer": "adam", "lr": 1e-5, "epochs": 4, "loss": "mixed_mean"},
     {"optimizer": "sgd", "lr": 1e-6, "epochs": 2, "loss": "emd"}]

*Progressive resizing* (`train.progressive_sizes` with
`train.progressive_epochs`, the run epoch at which each size starts) is
orthogonal to stages: the training crops grow while the model stays the same
(the backbones are fully convolutional); validation always runs at
`data.image_size`, the size the model ships with.

Within a stage, consecutive epochs that share a loss and a size form one
*segment*: one `model.fit` call. The optimizer is made once per stage (its
moments survive a loss switch) and restored from the checkpoint when a run
resumes mid-stage. This module is pure Python (no TensorFlow): validation and
tests use it without the heavy imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional

from aesthetics.constants import STAGE_KEYS, STAGE_TRAINS  # noqa: F401  (re-exported)


@dataclass(frozen=True)
class Stage:
    """One resolved stage (every field set; see the module docstring)."""

    name: str
    epochs: int
    optimizer: str
    lr: float
    lr_schedule: str
    weight_decay: float
    losses: tuple  # one loss, or the cycle
    switch_every: int
    train: str
    early_stopping_patience: int = 0

    def loss_at(self, stage_epoch: int) -> str:
        """The loss of the stage's `stage_epoch`-th epoch (0-based)."""
        return self.losses[(stage_epoch // self.switch_every) % len(self.losses)]

    def describe(self) -> str:
        losses = "/".join(self.losses) + (f" every {self.switch_every}" if len(self.losses) > 1 else "")
        return (f"{self.name}: {self.epochs} epoch(s), {self.optimizer} lr {self.lr:g} "
                f"({self.lr_schedule}), {losses}, trains {self.train}")


@dataclass(frozen=True)
class Segment:
    """Consecutive epochs of one stage with one loss and one training size:
    run epochs [start, stop) (0-based, counted over the whole run)."""

    stage_index: int
    start: int
    stop: int
    stage_start: int  # the stage epoch that `start` is
    loss: str
    image_size: int


def plan_stages(train) -> list:
    """The stages of a TrainConfig (validated): `train.stages`, or NIMA's two
    phases derived from epochs_head / lr_head / epochs_full / lr_full."""
    if train.stages is None:
        stages = []
        if train.epochs_head > 0:
            stages.append(Stage("head", train.epochs_head, train.optimizer, train.lr_head, train.lr_schedule,
                                train.weight_decay, (train.loss,), 1, "head", 0))
        if train.epochs_full > 0:
            stages.append(Stage("full", train.epochs_full, train.optimizer, train.lr_full, train.lr_schedule,
                                train.weight_decay, (train.loss,), 1, "all", train.early_stopping_patience))
        return stages
    out = []
    for i, s in enumerate(train.stages):
        losses = tuple(s["loss_cycle"]) if s.get("loss_cycle") else (s.get("loss") or train.loss,)
        out.append(Stage(
            name=s.get("name") or f"stage{i + 1}",
            epochs=int(s["epochs"]),
            optimizer=s.get("optimizer", train.optimizer),
            lr=float(s["lr"]),
            lr_schedule=s.get("lr_schedule", train.lr_schedule),
            weight_decay=float(s.get("weight_decay", train.weight_decay)),
            losses=losses,
            switch_every=int(s.get("switch_every", 1)),
            train=s.get("train", "all"),
            early_stopping_patience=int(s.get("early_stopping_patience", 0)),
        ))
    return out


def total_epochs(stages) -> int:
    return sum(s.epochs for s in stages)


def size_at(train, final_size: int, epoch: int) -> int:
    """The training image size of run epoch `epoch` (0-based)."""
    if not train.progressive_sizes:
        return final_size
    size = train.progressive_sizes[0]
    for s, start in zip(train.progressive_sizes, train.progressive_epochs):
        if epoch >= start:
            size = s
    return int(size)


def resize_for(size: int, image_size: int, resize_to: int) -> int:
    """`data.resize_to` scaled to a progressive `size` (the crop keeps the
    share of the photo it covers at the final size), never below `size`."""
    return max(int(size), int(round(resize_to * size / image_size)))


def segments(stage_index: int, stage: Stage, stage_start: int, run_start: int, train,
             final_size: int) -> Iterator[Segment]:
    """The segments of `stage` from its epoch `stage_start` on, the first of
    them at run epoch `run_start`."""
    j = stage_start
    while j < stage.epochs:
        epoch = run_start + (j - stage_start)
        loss, size = stage.loss_at(j), size_at(train, final_size, epoch)
        k = j + 1
        while k < stage.epochs and stage.loss_at(k) == loss and \
                size_at(train, final_size, run_start + (k - stage_start)) == size:
            k += 1
        yield Segment(stage_index, epoch, epoch + (k - j), j, loss, size)
        j = k


@dataclass
class StageProgress:
    """Where a run is in its plan (kept in state.json): the stage, epochs done
    in it, and its early-stopping record."""

    stage: int = 0
    stage_epochs_done: int = 0
    stage_best: Optional[float] = None
    stage_wait: int = 0
    stage_stopped: bool = False

    @classmethod
    def from_state(cls, state: dict, stages) -> "StageProgress":
        if "stage" not in state and "phase" in state:
            # a run folder of a version with two fixed phases: phase 1 or 2 is
            # stage 0 or 1 of the derived plan
            stage = int(state["phase"]) - 1
            before = sum(s.epochs for s in stages[:stage])
            stage = max(0, min(stage, len(stages) - 1))
            return cls(stage=stage, stage_epochs_done=max(0, int(state.get("epochs_done", 0)) - before))
        return cls(
            stage=int(state.get("stage", 0)),
            stage_epochs_done=int(state.get("stage_epochs_done", 0)),
            stage_best=state.get("stage_best"),
            stage_wait=int(state.get("stage_wait", 0)),
            stage_stopped=bool(state.get("stage_stopped", False)),
        )

    def to_state(self) -> dict:
        return {"stage": self.stage, "stage_epochs_done": self.stage_epochs_done,
                "stage_best": self.stage_best, "stage_wait": self.stage_wait,
                "stage_stopped": self.stage_stopped}
