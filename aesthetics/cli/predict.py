"""`aesthetics predict`: score image files, folders and globs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from aesthetics.cli.common import finite_float, positive_int, require_path
from aesthetics.constants import PREDICT_BACKENDS
from aesthetics.errors import ConfigError

REPORT_LIMIT = 500  # --report of a larger library shows the best and the worst 500
# `aesthetics predict DIR`: both judgements, each photo decoded once (docs: the cost)
DEFAULT_MODELS = "technical,aesthetic"


def register(sub, parents=()):
    p = sub.add_parser(
        "predict",
        parents=list(parents),
        help="score images (files, folders, globs)",
        description="Score images; by default with both shipped models (technical quality and "
        "aesthetic appeal: a group of fields per model), unless --model or --weights says otherwise. Files that cannot be read get an 'error' entry instead of a score; the "
        "exit status is 0 when at least one image was scored. --output is written as batches "
        "finish: after Ctrl-C, kill or a crash, run the same command with --resume.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders or glob patterns")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--model", help="a shipped model's name or alias (`aesthetics models`), a "
                     "trained model (.keras) or an exported one (.onnx, .tflite, SavedModel folder; "
                     "see `aesthetics export`); several, comma-separated, score in one pass with a "
                     f"group of fields per model (default: {DEFAULT_MODELS})")
    src.add_argument("--weights", help="idealo NIMA Keras 2 HDF5 weights (with --backbone)")
    p.add_argument("--backbone", default="mobilenet", help="backbone for --weights (default mobilenet)")
    p.add_argument("--alpha", type=float, default=1.0, help="MobileNet width for --weights")
    p.add_argument("--legacy-preprocessing", dest="legacy", action="store_true", default=None,
                   help="idealo's preprocessing: nearest resize straight to 224, no EXIF rotation "
                   "(default with --weights; otherwise the model's recipe decides)")
    p.add_argument("--no-legacy-preprocessing", dest="legacy", action="store_false")
    p.add_argument("--output", help="write results to .csv, .jsonl or .json (a list, "
                   "idealo-compatible), streamed batch by batch: a killed run keeps what it scored")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="--output exists: keep its scores "
                       "and score only the files it lacks (files that failed are tried again)")
    again.add_argument("--overwrite", action="store_true", help="--output exists: start it again")
    p.add_argument("--recursive", action="store_true", help="descend into sub-folders")
    p.add_argument("--backend", default="auto", choices=PREDICT_BACKENDS,
                   help="runtime for --model (default auto: by extension, a folder is a "
                   "SavedModel); onnx runs in onnxruntime without importing TensorFlow")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--workers", type=positive_int, help="decoding threads (default: CPUs, at most 8)")
    p.add_argument("--max-pixels", type=positive_int, help="refuse images with more pixels (bomb guard)")
    p.add_argument("--max-batch-pixels", type=positive_int, metavar="N",
                   help="pixels per model call at most (default 2000000): bounds memory on large photos, "
                   "whatever --batch-size says (a larger photo is scored alone)")
    rank = p.add_argument_group("ranking (the --output file always holds every photo)")
    rank.add_argument("--sort", action="store_true", help="print (and write --output) best first")
    rank.add_argument("--sort-by", metavar="NAME", help="with several models: whose score ranks, "
                      "selects and copies (default: the first)")
    rank.add_argument("--top-k", type=positive_int, metavar="N", help="print only the N best")
    rank.add_argument("--min-score", type=finite_float, metavar="S", help="print only photos scoring >= S")
    place = rank.add_mutually_exclusive_group()
    place.add_argument("--copy-to", metavar="DIR", help="copy the chosen photos into DIR, named "
                       "by rank (0001_name.jpg: best first)")
    place.add_argument("--link-to", metavar="DIR", help="as --copy-to, with symbolic links")
    p.add_argument("--report", metavar="HTML", help="also write a self-contained HTML page: "
                   "thumbnails best first, a histogram, failed files (see `aesthetics report`)")
    p.add_argument("--explain", metavar="OUT_DIR", help="also write OUT_DIR/<image_id>.png: the "
                   "attention (dual_path) or Grad-CAM map over the photo (.keras/--weights only)")
    refs = p.add_argument_group("reference-based scoring (docs/REFERENCES.md)")
    refs.add_argument("--references", metavar="INDEX", help="also score each photo against the rated photos "
                      "of INDEX (`aesthetics index build`, or a reference_gcn run's references/): adds the "
                      "reference score and the ids of the references it was compared with (loads TensorFlow)")
    refs.add_argument("--reference-model", metavar="FILE", help="a trained reference_gcn model (.keras) for "
                      "--references (default: the index's gcn.keras, else k-NN over the neighbours)")
    refs.add_argument("--reference-method", choices=("auto", "gcn", "knn"), default="auto",
                      help="auto: the GCN when there is one; knn: similarity-weighted neighbours")
    p.set_defaults(func=run, check=check)


def check(args) -> None:
    """Model path, backend and inputs, before TensorFlow is imported."""
    from aesthetics.data.images import find_images
    from aesthetics.errors import InputNotFoundError
    from aesthetics.zoo import resolve_model

    args.models = None
    if args.weights:
        require_path(args.weights, "--weights", "file")
        if args.sort_by:
            raise ConfigError("--sort-by names one of several --model models")
    elif len(labels := model_labels(args.model)) > 1:
        check_model_group(args, labels)
    else:  # a shipped model's name or alias, or a path
        if args.sort_by:
            raise ConfigError("--sort-by names one of several --model models (this run scores one)")
        resolved = resolve_model(labels[0], args.backend, need_keras=bool(args.explain), what="--model")
        if resolved.shipped:
            args.model_label = resolved.name
        args.model, args.backend = str(resolved.path), resolved.backend
    if args.models is None:
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
    if args.references:
        check_references(args)
    elif args.reference_model or args.reference_method != "auto":
        raise ConfigError("--reference-model and --reference-method go with --references INDEX")
    if args.resume and not args.output:
        raise ConfigError("--resume needs --output (the file to resume)")
    if args.output:
        from aesthetics.inference.outputs import check_output_path

        # before any work, not after all of it
        check_output_path(args.output, resume=args.resume, overwrite=args.overwrite)
    from aesthetics.cli.common import check_writable_file, check_writable_folder

    if args.report:
        check_writable_file(args.report, "--report", (".html", ".htm"))
    folder = args.copy_to or args.link_to
    if folder:
        flag = "--copy-to" if args.copy_to else "--link-to"
        check_outside_inputs(folder, args.paths, args.recursive, flag)
        check_writable_folder(folder, flag)


def check_references(args) -> None:
    """The index folder (and model file) exist; scoring then needs TensorFlow."""
    from pathlib import Path

    require_path(Path(args.references) / "index.json", "--references (its index.json)", "file")
    if args.reference_model:
        require_path(args.reference_model, "--reference-model", "file")
    args.needs_tensorflow = True


def check_outside_inputs(folder, inputs, recursive: bool, flag: str) -> None:
    """Refuses a --copy-to/--link-to folder that a later run over the same
    inputs would score: an input folder itself, or (with --recursive) one
    inside it; the copies would come back as new photos on --resume."""
    target = Path(folder).resolve()
    for item in inputs:
        source = Path(item)
        if not source.is_dir():
            continue
        source = source.resolve()
        if target == source or (recursive and source in target.parents):
            raise ConfigError(f"{flag} {folder} is {'the' if target == source else 'inside the'} scored folder "
                              f"{item}: the next run over it would score the copies as new photos; "
                              "choose a folder outside it")


def model_labels(model) -> list[str]:
    """--model as a list of models: None is the default pair; a value that is
    an existing path is one model even when it holds a comma."""
    if model is None:
        return DEFAULT_MODELS.split(",")
    if os.path.exists(model) or "," not in model:
        return [model]
    labels = [m.strip() for m in model.split(",")]
    if not all(labels):
        raise ConfigError(f"--model {model!r}: an empty name between commas")
    return labels


def check_model_group(args, labels) -> None:
    """Several models: each resolved (with its own backend under "auto"),
    named, and the flags that apply to one model refused."""
    from aesthetics.inference.multi import group_name
    from aesthetics.zoo import resolve_model

    if args.explain:
        raise ConfigError("--explain draws one model's map; pass one --model")
    if args.legacy is not None:
        raise ConfigError("--(no-)legacy-preprocessing overrides one model's recipe; pass one --model")
    args.models = []
    for label in labels:
        resolved = resolve_model(label, args.backend, what="--model")
        if resolved.backend == "keras":
            from aesthetics.inference.loading import check_model_path

            check_model_path(resolved.path)
        args.models.append((group_name(label), resolved))
    names = [name for name, _ in args.models]
    if len({n.casefold() for n in names}) != len(names):
        raise ConfigError(f"--model: the models' names repeat ({', '.join(names)}); give each model once")
    if args.sort_by is not None and args.sort_by not in names:
        raise ConfigError(f"--sort-by {args.sort_by!r}: not one of this run's models ({', '.join(names)})")
    args.sort_group = args.sort_by or names[0]
    args.model_label = ", ".join(names)
    args.needs_tensorflow = any(r.backend in ("keras", "savedmodel") for _, r in args.models)
    args.backend_resolved = "+".join(r.backend for _, r in args.models)


def group_scorer(args):
    """The ScorerGroup of --model A,B,..."""
    from aesthetics.inference.backends import load_scorer
    from aesthetics.inference.multi import ScorerGroup
    from aesthetics.inference.scoring import as_scorer

    named = []
    for name, resolved in args.models:
        if resolved.backend == "keras":
            from aesthetics.inference.loading import load_model

            named.append((name, as_scorer(load_model(resolved.path))))
        else:
            named.append((name, load_scorer(resolved.backend, resolved.path)))
    return ScorerGroup(named)


def run(args) -> int:
    from aesthetics.inference.streaming import stream_to_output

    backend = args.backend_resolved
    legacy = args.legacy  # None: as the model's recipe says
    if args.models:
        model, explain = None, None
        scorer = group_scorer(args)
        bins = scorer.bins
    else:
        model = load_keras_model(args) if backend == "keras" else None
        explain = prepare_explain(args, backend, model, legacy)  # fails before the (long) scoring
        scorer = make_scorer(args, backend, model)
        recipe = scorer.recipe
        bins = recipe.num_bins if recipe.output == "distribution" else 0
    explain = with_references(args, explain)  # loads the index before the (long) scoring
    show = Printer(args)
    with _output_lock(args):  # one writer per output file, from scoring to --sort's rewrite
        return _score_and_finish(args, scorer, legacy, bins, explain, show)


def _output_lock(args):
    """The lock of --output; once held, the output is checked again (another
    run may have written it since `check`)."""
    import contextlib

    if not args.output:
        return contextlib.nullcontext()
    from aesthetics.inference.outputs import OutputLock, check_output_path

    @contextlib.contextmanager
    def locked():
        with OutputLock(args.output):
            check_output_path(args.output, resume=args.resume, overwrite=args.overwrite)
            yield

    return locked()


def _score_and_finish(args, scorer, legacy, bins, explain, show) -> int:
    from aesthetics.inference.streaming import stream_to_output

    restore = _sigterm_as_interrupt()
    try:
        summary = stream_to_output(
            scorer, args.image_paths, output=args.output, resume=args.resume, bins=bins,
            batch_size=args.batch_size, legacy=legacy, max_pixels=args.max_pixels,
            workers=args.workers, batch_pixels=args.max_batch_pixels, on_batch=show.batch,
            before_write=explain, on_plan=show.plan, references=bool(args.references))
    except KeyboardInterrupt as e:
        show.close()
        summary = getattr(e, "summary", None)
        if summary is not None and args.output:
            print(f"aesthetics: interrupted: {summary.kept + summary.scored + summary.failed} "
                  f"record(s) are in {args.output}; run the same command with --resume to finish",
                  file=sys.stderr)
        raise
    finally:
        restore()
    show.close()
    return finish(args, summary, show, bins)


def finish(args, summary, show, bins) -> int:
    """Ranking, copies, the report and the summary line, once all is scored."""
    from aesthetics.errors import OutputError
    from aesthetics.inference.outputs import read_records, write_records
    from aesthetics.inference.records import format_table, is_scored

    if summary.write_error is not None:
        if show.deferred:  # nothing was printed yet: these are not on disk
            print(format_table(summary.unsaved))
        raise OutputError(
            f"could not write {args.output} ({summary.write_error}); {len(summary.unsaved)} "
            f"score(s) that it lacks are printed above; free space and run again with --resume"
        )
    if not (show.deferred or args.copy_to or args.link_to or args.report):
        print(f"aesthetics: {summary.line()}", file=sys.stderr)
        return 0 if summary.scored + summary.kept else 1
    records = read_records(args.output) if args.output else show.records
    group = getattr(args, "sort_group", None)  # several models: whose score ranks
    if args.sort and args.output:
        errors = [r for r in records if not is_scored(r)]
        write_records(select_records(records, group) + errors, args.output, bins=bins)  # atomic
    if show.deferred:
        print_selection(args, records, group)
    if args.copy_to or args.link_to:
        from aesthetics.inference.ranking import place_files

        chosen = select_records(records, group, args.top_k, args.min_score)
        folder = args.copy_to or args.link_to
        placed, failed = place_files(chosen, folder, "copy" if args.copy_to else "link")
        print(f"aesthetics: {'copied' if args.copy_to else 'linked'} {placed} photo(s) into "
              f"{folder}" + (f"; {len(failed)} could not be" if failed else ""), file=sys.stderr)
    if args.report:
        from aesthetics.report import write_report

        scored = sum(is_scored(r) for r in records)
        limit = REPORT_LIMIT if scored > 2 * REPORT_LIMIT else None  # a page a person can open
        label = getattr(args, "model_label", None) or Path(args.model or args.weights).name
        # several models: every model's score on the page, the sheet ordered by the ranking one
        write_report(records, args.report, model=label, source=args.output, limit=limit, sort_by=group)
        shown = f"the best and worst {limit} of {scored} photos" if limit else f"{scored} photos"
        print(f"aesthetics: report of {shown} in {args.report}" + (
            f" (`aesthetics report {args.output} --limit N` shows more)" if limit and args.output else ""),
            file=sys.stderr)
    print(f"aesthetics: {summary.line()}", file=sys.stderr)
    return 0 if summary.scored + summary.kept else 1


def select_records(records, group=None, top_k=None, min_score=None) -> list:
    """The scored records best first (at most `top_k`, at least `min_score`),
    by `group`'s score with several models, else by the score."""
    from aesthetics.inference.ranking import select
    from aesthetics.inference.records import score_view

    views = [score_view(r, group) for r in records]  # one-model records are their own view
    full = {id(v): r for v, r in zip(views, records)}
    return [full[id(v)] for v in select(views, top_k, min_score)]


def print_selection(args, records, group=None) -> None:
    """The table at the end: ranked (--sort/--top-k/--min-score; by `group`'s
    score with several models), then errors."""
    from aesthetics.inference.records import format_table, is_scored

    print(format_table(select_records(records, group, args.top_k, args.min_score)))
    if args.top_k is None and args.min_score is None:
        failed = [r for r in records if not is_scored(r)]
        if failed:
            print(format_table(failed))


class Printer:
    """Prints each batch's table lines as they come (above the progress bar),
    or, when the output is ranked, nothing until the end."""

    def __init__(self, args):
        from tqdm import tqdm

        self.deferred = bool(args.sort or args.top_k or args.min_score is not None)
        self.keep_going = bool(args.output)  # a closed stdout does not stop a run that writes a file
        self.stdout_closed = False
        # ranking, copies or a report without --output: keep the records here
        wanted = self.deferred or args.copy_to or args.link_to or args.report
        self.records = [] if wanted and not args.output else None
        self.bar = tqdm(total=len(args.image_paths), unit="photo", file=sys.stderr,
                        disable=True if args.quiet else None,  # None: off when not a terminal
                        dynamic_ncols=True, leave=False)

    def plan(self, todo: int) -> None:
        self.bar.reset(total=todo)  # a resumed run counts only what is left

    def batch(self, records) -> None:
        from aesthetics.inference.records import format_table

        if self.records is not None:
            self.records.extend(records)
        if not self.deferred and not self.stdout_closed:
            text = format_table(records)
            try:
                if self.bar.disable:
                    print(text, flush=True)
                else:
                    self.bar.write(text, file=sys.stdout)
            except BrokenPipeError:
                if not self.keep_going:
                    raise  # the table was the result: nothing left to do
                # `predict ... --output s.csv | head`: the file still gets every photo
                self.stdout_closed = True
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        self.bar.update(len(records))

    def close(self) -> None:
        self.bar.close()


def _sigterm_as_interrupt():
    """SIGTERM (`kill`, `timeout`, `docker stop`) ends the run as Ctrl-C does:
    the output is closed valid. Returns a function restoring the handler."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    return lambda: signal.signal(signal.SIGTERM, previous)


def with_references(args, before_write):
    """`before_write` followed by adding each record's reference score (--references)."""
    if not args.references:
        return before_write
    from aesthetics.references.scoring import ReferenceScorer, records_referencer

    scorer = ReferenceScorer(args.references, model=args.reference_model, method=args.reference_method)
    print(f"aesthetics: reference scoring: {scorer.describe()}", file=sys.stderr)
    add = records_referencer(scorer, max_pixels=args.max_pixels)
    if before_write is None:
        return add

    def both(records):
        before_write(records)
        add(records)

    return both


def make_scorer(args, backend, model):
    """The scorer for the chosen backend (see aesthetics.inference.backends)."""
    if model is not None:
        from aesthetics.inference.scoring import as_scorer

        return as_scorer(model)
    from aesthetics.inference.backends import load_scorer

    return load_scorer(backend, args.model)


def choose_backend(args) -> str:
    """The backend: keras for --weights, else what `check` resolved --model to."""
    backend = getattr(args, "backend", "auto")
    if args.weights:
        if backend not in ("auto", "keras"):
            raise ConfigError("--weights (idealo HDF5) runs on the keras backend only")
        return "keras"
    from aesthetics.zoo import resolve_backend

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
    from aesthetics.inference.explain import records_explainer

    return records_explainer(model, args.explain, batch_size=min(args.batch_size, 16), legacy=legacy,
                             max_pixels=args.max_pixels)
