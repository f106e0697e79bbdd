"""A per-photo cache of model outputs (features, embeddings) in one .npz file:
rows by file path, valid for one fingerprint (what the rows depend on: the
model's weights, the recipe, the layers); another fingerprint starts empty."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

log = logging.getLogger("aesthetics")


class RowCache:
    def __init__(self, path: Path, fingerprint: str):
        self.path, self.fingerprint, self.rows = Path(path), fingerprint, {}
        if self.path.exists():
            try:
                with np.load(self.path, allow_pickle=False) as z:
                    if str(z["fingerprint"]) == fingerprint:
                        self.rows = dict(zip(z["paths"].tolist(), z["rows"]))
            except (OSError, ValueError, KeyError):
                log.warning("%s is unreadable; computing its rows again", self.path)

    def add(self, rows: dict) -> None:
        """Adds rows and rewrites the file atomically."""
        self.rows.update(rows)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.stem}.tmp.npz")
        np.savez(tmp, paths=np.array(list(self.rows), dtype=str), rows=np.stack(list(self.rows.values())),
                 fingerprint=np.array(self.fingerprint))
        os.replace(tmp, self.path)
