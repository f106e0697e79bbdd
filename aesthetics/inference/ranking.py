"""Ranking scored photos: the best N, a score threshold, and copying or
linking the chosen files into a folder (`predict --top-k/--min-score
--copy-to/--link-to`), best first, so a file browser shows them in order.

Standard library only.
"""

from __future__ import annotations

import heapq
import logging
import os
import shutil
from pathlib import Path
from typing import Iterable, Optional

from aesthetics.errors import OutputError
from aesthetics.inference.records import by_score, is_scored, rank_key

log = logging.getLogger("aesthetics")


def select(records: Iterable[dict], top_k: Optional[int] = None,
           min_score: Optional[float] = None) -> list[dict]:
    """Scored records with mean >= `min_score`, best first, at most `top_k`
    (memory: a heap of `top_k` records when it is given)."""
    chosen = (r for r in records if is_scored(r)
              and (min_score is None or r["mean_score_prediction"] >= min_score))
    if top_k is not None:
        return heapq.nsmallest(top_k, chosen, key=rank_key)
    return by_score(chosen)


def ranked_name(rank: int, total: int, path: str) -> str:
    """`0007_IMG_1234.jpg`: the rank, zero-padded so names sort as ranks do."""
    width = max(4, len(str(total)))
    return f"{rank:0{width}d}_{Path(path).name}"


def place_files(ranked: list[dict], folder, mode: str = "copy") -> tuple[int, list[str]]:
    """Copies (or symlinks, `mode="link"`) each ranked record's file into
    `folder` as `ranked_name`. A file that has gone away or cannot be copied
    is reported, never the end of the run.

    Returns (files placed, ["path: reason" for the ones that failed]).
    """
    if mode not in ("copy", "link"):
        raise ValueError(f"mode must be 'copy' or 'link', not {mode!r}")
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create {folder} ({e.strerror or e})") from None
    placed, failed = 0, []
    for rank, rec in enumerate(ranked, 1):
        source = Path(rec["path"])
        target = folder / ranked_name(rank, len(ranked), rec["path"])
        tmp = target.with_name(f".{target.name}.tmp")
        try:
            if mode == "copy":
                shutil.copy2(source, tmp)
            else:
                if not source.exists():
                    raise FileNotFoundError(f"no such file: {source}")
                tmp.unlink(missing_ok=True)
                os.symlink(source.resolve(), tmp)
            os.replace(tmp, target)  # an earlier run's file of that rank is replaced whole
            placed += 1
        except OSError as e:
            tmp.unlink(missing_ok=True)
            failed.append(f"{source}: {e.strerror or e}")
    for line in failed[:10]:
        log.warning("could not %s %s", mode, line)
    return placed, failed
