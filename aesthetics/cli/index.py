"""`aesthetics index`: reference indexes for reference-based scoring.

    aesthetics index build --model M --images DIR --labels FILE [--score-range LOW HIGH] --output INDEX
    aesthetics index add INDEX --images DIR --labels FILE        (no rebuild: the new rows are appended)
    aesthetics index info INDEX

See docs/REFERENCES.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from aesthetics.cli.common import finite_float, positive_int, require_path
from aesthetics.errors import ConfigError


def register(sub, parents=()):
    p = sub.add_parser("index", parents=list(parents), help="build and inspect reference indexes",
                       description="Reference indexes: rated photos embedded by a model's backbone (content "
                       "and style), searched by nearest neighbours, for `predict --references`.")
    commands = p.add_subparsers(dest="index_command", required=True, metavar="ACTION")

    build = commands.add_parser("build", parents=list(parents), help="embed rated photos into a new index")
    build.add_argument("--model", default="clive-mobilenet", help="the embedder: a shipped model's name or a "
                       ".keras file (default clive-mobilenet: ImageNet features)")
    _add_source_arguments(build)
    build.add_argument("--output", required=True, help="the index folder to write")
    build.add_argument("--search", choices=("flat", "hnsw"), default="flat",
                       help="flat: exact (default); hnsw: approximate FAISS graph for millions of references")
    build.add_argument("--style-layer", help="backbone layer of the style statistics (default: per backbone)")
    build.add_argument("--overwrite", action="store_true", help="replace an existing index at --output")
    build.set_defaults(func=run_build, check=check_build)

    add = commands.add_parser("add", parents=list(parents), help="append rated photos to an index")
    add.add_argument("index", help="the index folder")
    _add_source_arguments(add)
    add.set_defaults(func=run_add, check=check_add)

    info = commands.add_parser("info", parents=list(parents), help="what an index holds")
    info.add_argument("index", help="the index folder")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(func=run_info, check=check_info, needs_tensorflow=False)


def _add_source_arguments(p) -> None:
    p.add_argument("--images", required=True, help="folder of the rated photos")
    p.add_argument("--labels", required=True, help="their labels (any format `aesthetics train` reads)")
    p.add_argument("--label-format", default="auto")
    p.add_argument("--score-range", nargs=2, type=finite_float, metavar=("LOW", "HIGH"),
                   help="a MOS label file's range, mapped onto 1..10")
    p.add_argument("--batch-size", type=positive_int, default=8)


def _check_sources(args) -> None:
    require_path(args.images, "--images", "dir")
    require_path(args.labels, "--labels", "file")
    if args.score_range and not args.score_range[0] < args.score_range[1]:
        raise ConfigError(f"--score-range: LOW must be below HIGH, got {args.score_range}")


def check_build(args) -> None:
    from aesthetics.cli.common import check_writable_folder
    from aesthetics.zoo import resolve_model

    _check_sources(args)
    resolve_model(args.model, "keras", need_keras=True, what="--model")
    out = Path(args.output)
    if (out / "index.json").exists() and not args.overwrite:
        raise ConfigError(f"--output {out} already holds an index: `aesthetics index add` appends to it, "
                          "--overwrite replaces it")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--output {out} is a file; an index is a folder")
    if args.search == "hnsw":
        from aesthetics.references.index import _require_faiss

        _require_faiss("--search hnsw")
    check_writable_folder(out, "--output")


def check_add(args) -> None:
    _check_sources(args)
    require_path(Path(args.index) / "index.json", "INDEX (its index.json)", "file")


def check_info(args) -> None:
    require_path(Path(args.index) / "index.json", "INDEX (its index.json)", "file")


def _labelled(args):
    """(ids, distributions, file paths) of the labelled photos found on disk."""
    import logging

    import numpy as np

    from aesthetics.data.files import resolve_images
    from aesthetics.data.labels import read_labels
    from aesthetics.errors import InputNotFoundError

    table = read_labels(args.labels, fmt=args.label_format, score_range=args.score_range)
    found, missing = resolve_images(table, args.images)
    if len(missing):
        logging.getLogger("aesthetics").warning("%d of %d labelled photos are missing under %s (first: %s)",
                                                len(missing), len(table), args.images, missing["path"].iloc[0])
    if not len(found):
        raise InputNotFoundError(f"none of the {len(table)} labelled photos exist under {args.images}")
    return (list(found["image_id"]), np.stack(found["distribution"].to_numpy()).astype(np.float32),
            [str(p) for p in found["filepath"]])


def _embed_references(args, embedder, source: str):
    from aesthetics.references.embed import public_recipe
    from aesthetics.references.index import ReferenceIndex

    ids, dists, paths = _labelled(args)
    vectors, ok, failures = embedder.embed_paths(paths)
    for path, reason in failures.items():
        print(f"aesthetics: skipped {path}: {reason}", file=sys.stderr)
    if not len(ok):
        raise ConfigError(f"none of the {len(paths)} photos could be embedded")
    content, style = embedder.split(vectors)
    return ReferenceIndex([ids[i] for i in ok], dists[ok], content, style, public_recipe(embedder.recipe),
                          sources=[source]), len(failures)


def run_build(args) -> int:
    from aesthetics.references.embed import Embedder

    embedder = Embedder(args.model, style_layer=args.style_layer, batch_size=args.batch_size)
    index, failed = _embed_references(args, embedder, f"{args.labels} ({args.images})")
    index.search = args.search
    out = Path(args.output)
    if args.overwrite and out.exists():
        for name in ("gcn.keras", "content.faiss", "style.faiss"):  # they belong to the old index
            (out / name).unlink(missing_ok=True)
    index.save(out)
    embedder.keep_with_index(out)
    print(f"aesthetics: indexed {len(index)} reference(s) in {out}"
          + (f"; {failed} photo(s) could not be used" if failed else ""), file=sys.stderr)
    return 0


def run_add(args) -> int:
    from aesthetics.references.embed import index_embedder
    from aesthetics.references.index import ReferenceIndex

    index = ReferenceIndex.load(args.index)
    embedder = index_embedder(index.embedding, args.index)
    embedder.batch_size = args.batch_size
    new, failed = _embed_references(args, embedder, f"{args.labels} ({args.images})")
    merged = index.add(new)
    merged.save(args.index)
    print(f"aesthetics: added {len(new)} reference(s) to {args.index} ({len(merged)} in all)"
          + (f"; {failed} photo(s) could not be used" if failed else ""), file=sys.stderr)
    return 0


def run_info(args) -> int:
    from aesthetics.references.index import ReferenceIndex

    index = ReferenceIndex.load(args.index)
    info = index.describe()
    info["gcn"] = (Path(args.index) / "gcn.keras").is_file()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    emb = index.embedding
    print(f"{args.index}: {len(index)} references, {index.num_bins} score bins, {index.search} search")
    print(f"  embedder: {emb.get('model')} (sha256 {str(emb.get('model_sha256'))[:12]}…)")
    print(f"  content:  {emb.get('content_dim')} dims, pooled {emb.get('content_layer')}")
    print(f"  style:    {emb.get('style_dim')} dims, mean and std of {emb.get('style_layer')}")
    if info["mean_score"]:
        m = info["mean_score"]
        print(f"  scores:   {m['min']:.2f} .. {m['max']:.2f} (mean {m['mean']:.2f})")
    print(f"  model:    {'gcn.keras (trained reference model)' if info['gcn'] else 'none: k-NN scoring'}")
    for source in index.sources:
        print(f"  source:   {source}")
    return 0
