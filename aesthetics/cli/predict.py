"""`aesthetics predict`: score image files, folders and globs."""

from __future__ import annotations

import sys

from aesthetics.cli.common import positive_int, require_path
from aesthetics.constants import PREDICT_BACKENDS
from aesthetics.errors import ConfigError


def register(sub, parents=()):
    p = sub.add_parser(
        "predict",
        parents=list(parents),
        help="score images (files, folders, globs)",
        description="Score images, with the default shipped model unless --model or --weights "
        "says otherwise. Files that cannot be read get an 'error' entry instead of a score; the "
        "exit status is 0 when at least one image was scored.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders or glob patterns")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--model", help="a shipped model's name (`aesthetics models`; default: the "
                     "default model), a trained model (.keras) or an exported one "
                     "(.onnx, .tflite, SavedModel folder; see `aesthetics export`)")
    src.add_argument("--weights", help="idealo NIMA Keras 2 HDF5 weights (with --backbone)")
    p.add_argument("--backbone", default="mobilenet", help="backbone for --weights (default mobilenet)")
    p.add_argument("--alpha", type=float, default=1.0, help="MobileNet width for --weights")
    p.add_argument("--legacy-preprocessing", dest="legacy", action="store_true", default=None,
                   help="idealo's preprocessing: nearest resize straight to 224, no EXIF rotation "
                   "(default with --weights; otherwise the model's recipe decides)")
    p.add_argument("--no-legacy-preprocessing", dest="legacy", action="store_false")
    p.add_argument("--output", help="write results to .json (list, idealo-compatible) or .csv")
    p.add_argument("--recursive", action="store_true", help="descend into sub-folders")
    p.add_argument("--backend", default="auto", choices=PREDICT_BACKENDS,
                   help="runtime for --model (default auto: by extension, a folder is a "
                   "SavedModel); onnx runs in onnxruntime without importing TensorFlow")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--max-pixels", type=positive_int, help="refuse images with more pixels (bomb guard)")
    p.add_argument("--explain", metavar="OUT_DIR", help="also write OUT_DIR/<image_id>.png: the "
                   "attention (dual_path) or Grad-CAM map over the photo (.keras/--weights only)")
    p.set_defaults(func=run, check=check)


def check(args) -> None:
    """Model path, backend and inputs, before TensorFlow is imported."""
    from aesthetics import zoo
    from aesthetics.data.images import find_images
    from aesthetics.errors import InputNotFoundError

    if args.weights:
        require_path(args.weights, "--weights", "file")
    elif args.model is None or zoo.is_name(args.model):
        path, args.backend = zoo.shipped_file(args.model, args.backend, need_keras=bool(args.explain))
        args.model = str(path)
    else:
        require_path(args.model, "--model")
    backend = choose_backend(args)
    if backend == "keras" and not args.weights:
        from aesthetics.inference.loading import check_model_path

        check_model_path(args.model)
    # the ONNX (and litert) paths never need TensorFlow
    args.needs_tensorflow = backend in ("keras", "savedmodel") or bool(args.explain)
    args.backend_resolved = backend
    args.image_paths = find_images(args.paths, recursive=args.recursive)
    if not args.image_paths:
        raise InputNotFoundError(f"no images found in {' '.join(args.paths)}")
    if args.output:
        from aesthetics.inference.scoring import check_output_path

        check_output_path(args.output)  # before any work, not after all of it


def run(args) -> int:
    from aesthetics.inference.scoring import format_table, write_records

    paths = args.image_paths
    backend = args.backend_resolved
    legacy = args.legacy  # None: as the model's recipe says
    model = load_keras_model(args) if backend == "keras" else None
    explain = prepare_explain(args, backend, model, legacy)  # fails before the (long) scoring
    if model is not None:
        from aesthetics.inference.scoring import score_files

        records = score_files(model, paths, batch_size=args.batch_size, legacy=legacy,
                              max_pixels=args.max_pixels)
    else:
        from aesthetics.inference.backends import score_with_exported

        records = score_with_exported(backend, args.model, paths, batch_size=args.batch_size,
                                      legacy=legacy, max_pixels=args.max_pixels)
    if explain:
        explain(records)
    write_error = None
    if args.output:  # written before printing: a closed pipe (`| head`) cannot lose it
        try:
            write_records(records, args.output)
        except OSError as e:
            write_error = e
    print(format_table(records))  # if writing failed, the scores are not lost
    if write_error is not None:
        from aesthetics.errors import OutputError

        raise OutputError(f"could not write {args.output} ({write_error}); the scores are printed above")
    scored = sum("error" not in r for r in records)
    failed = len(records) - scored
    print(f"aesthetics: scored {scored} image(s), {failed} failed", file=sys.stderr)
    return 0 if scored else 1


def choose_backend(args) -> str:
    backend = getattr(args, "backend", "auto")
    if args.weights:
        if backend not in ("auto", "keras"):
            raise ConfigError("--weights (idealo HDF5) runs on the keras backend only")
        return "keras"
    from aesthetics.inference.backends import resolve_backend

    return resolve_backend(args.model, backend)


def load_keras_model(args):
    """The Keras model for the keras backend (its recipe says how to feed it;
    idealo weights get idealo's legacy preprocessing)."""
    from aesthetics.inference.loading import load_idealo_nima, load_model

    if args.weights:
        return load_idealo_nima(args.weights, backbone=args.backbone, alpha=args.alpha)
    return load_model(args.model)


def prepare_explain(args, backend, model, legacy):
    """None without --explain, else a function adding "explanation" PNGs to records."""
    if not getattr(args, "explain", None):
        return None
    if model is None:
        raise ConfigError(
            "--explain needs a .keras model (explanations use the Keras graph); "
            f"{args.model} would run on the {backend} backend"
        )
    from aesthetics.inference.explain import cli_explainer

    return cli_explainer(args, model, legacy)
