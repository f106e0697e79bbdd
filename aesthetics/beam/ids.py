"""Image ids across workers: the same ids `predict` gives the same files.

`aesthetics.inference.records.image_ids` makes an id the file's stem where
that is unique in the run, else a path relative to the common folder of
the colliding files. Uniqueness is a property of the whole run, which no
single worker sees, so it is computed with Beam: group the matched paths by
stem, keep the groups with more than one path (usually none, always few),
and give only those to `image_ids`. Applied to just the colliding paths,
`image_ids` returns exactly what it returns for them in the whole list (all
of them collide, and their common folder is the same), so every record's id
equals `predict`'s. The result is one small dict, used as a side input.
"""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam

from aesthetics.inference.records import image_ids


def stem(path: str) -> str:
    """The id of a file whose stem is unique in the run (as `image_ids`)."""
    return Path(path).stem


def _colliding(group) -> list:
    _, paths = group
    paths = list(paths)
    return paths if len(paths) > 1 else []


def colliding_ids(paths: list) -> dict:
    """{path: id} for paths whose stems collide (their `image_ids`)."""
    paths = sorted(set(paths))
    return dict(zip(paths, image_ids(paths)))


def image_id(path: str, colliding: dict) -> str:
    """The run-wide id of `path`, given the `CollidingIds` side input."""
    return colliding.get(path) or stem(path)


class CollidingIds(beam.PTransform):
    """PCollection of paths -> one-element PCollection: {path: id} for the
    paths whose stem is not unique (empty dict when all are)."""

    def expand(self, paths):
        return (
            paths
            | "ByStem" >> beam.Map(lambda p: (stem(p), p))
            | "GroupByStem" >> beam.GroupByKey()
            | "Colliding" >> beam.FlatMap(_colliding)
            | "Gather" >> beam.combiners.ToList()
            | "Ids" >> beam.Map(colliding_ids)
        )
