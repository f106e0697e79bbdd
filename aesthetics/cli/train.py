"""`aesthetics train`: supervised training into a run folder (resumable)."""

from __future__ import annotations

import json

from aesthetics.cli.common import (
    add_data_arguments,
    add_run_arguments,
    load_run_config,
    require_path,
    run_overrides,
)


def check_run_folder(path) -> None:
    """OutputError, before TensorFlow, unless `path` is (or can be made) a
    writable folder (train and pretrain)."""
    from aesthetics.training.run_folder import RunFolder

    RunFolder(path, sections=())._check_folder()


def register(sub, parents=()):
    p = sub.add_parser(
        "train",
        parents=list(parents),
        help="train a scoring model on labelled images",
        description="Train a model (two NIMA phases, or the stages of train.stages) and write RUN_DIR/model.keras, "
        "metrics.json and history.csv. Re-running the same command resumes an "
        "interrupted run from its last checkpoint.",
    )
    add_data_arguments(p)
    p.add_argument("--init-from", help="a .keras model (or a shipped model's name, e.g. "
                   "clive-mobilenet) whose backbone initialises this one")
    p.add_argument("--init-head", action="store_true", help="with --init-from: copy its score head too, so "
                   "training starts from what that model already predicts (same pooling and bins needed)")
    p.add_argument("--epochs", type=int, help="phase-2 epochs (train.epochs_full); "
                   "refused when the config sets train.stages (set each stage's epochs there)")
    p.add_argument("--batch-size", type=int, help="data.batch_size")
    p.add_argument("--seed", type=int, help="train.seed")
    add_run_arguments(p, "runs/latest", "train.lr_full=1e-4")
    p.set_defaults(func=run, check=check)


def collect_overrides(args) -> list[str]:
    return run_overrides(args, {
        "data.images": args.images,
        "data.labels": args.labels,
        "data.label_format": args.label_format,
        "data.split_file": args.split_file,
        "data.batch_size": args.batch_size,
        "data.score_range": list(args.score_range) if args.score_range else None,
        "train.epochs_full": args.epochs,
        "train.seed": args.seed,
    })


def check(args) -> None:
    """Config values and paths, before TensorFlow is imported."""
    config = load_run_config(args, collect_overrides(args))
    if args.epochs is not None and config.train.stages is not None:
        from aesthetics.errors import ConfigError

        raise ConfigError("train.stages: --epochs sets train.epochs_full, which a staged plan does not use; "
                          "set the epochs of each stage in train.stages instead")
    if not config.data.labels or not config.data.images:
        from aesthetics.errors import InputNotFoundError

        raise InputNotFoundError("both data.labels and data.images are required (--labels, --images)")
    require_path(config.data.labels, "data.labels", "file")
    require_path(config.data.images, "data.images", "dir")
    if config.data.split_file:
        require_path(config.data.split_file, "data.split_file", "file")
    if args.init_head and not args.init_from:
        from aesthetics.errors import ConfigError

        raise ConfigError("--init-head copies the head of the --init-from model; give --init-from too")
    if args.init_from:
        from aesthetics import zoo
        from aesthetics.inference.loading import check_model_path

        args.init_from = str(zoo.resolve(args.init_from))  # a shipped model's name, or a path
        check_model_path(args.init_from)
    check_reference_model(args, config)
    check_run_folder(args.output)  # last: the paths it reads are fine


def check_reference_model(args, config) -> None:
    """A reference_gcn run: its embedder exists, and nothing asks for what only
    image models do (before TensorFlow is imported)."""
    from aesthetics.catalog import model_kind

    kind = model_kind(config.model.model)
    if kind == "zero_shot":
        from aesthetics.errors import ConfigError

        raise ConfigError(f"model.model: {config.model.model!r} is not trained; `aesthetics zero-shot` builds it")
    if kind != "reference":
        return
    from aesthetics.errors import ConfigError
    from aesthetics.zoo import resolve_model

    if args.init_from:
        raise ConfigError("--init-from starts an image model's backbone; a reference_gcn model trains on the "
                          "embeddings of model.options.embedder")
    for key, value, default in (("train.distribute", config.train.distribute, "none"),
                                ("train.stages", config.train.stages, None),
                                ("train.progressive_sizes", config.train.progressive_sizes, None),
                                ("train.mixed_precision", config.train.mixed_precision, None)):
        if value not in (default, [], ()):
            raise ConfigError(f"{key}: a reference_gcn model trains in seconds on cached embeddings, "
                              f"without {key} (got {value!r})")
    resolve_model(config.model.options["embedder"], "keras", need_keras=True, what="model.options.embedder")


def run(args) -> int:
    from aesthetics.catalog import model_kind
    from aesthetics.training.run_folder import json_safe

    config = args.config_obj
    if model_kind(config.model.model) == "reference":
        from aesthetics.training.reference import train_reference

        metrics = train_reference(config, args.output, resume=not args.no_resume, verbose=args.verbose)
    elif config.train.cache_features:
        from aesthetics.training.cached_head import train_cached_head

        if args.init_from:
            from aesthetics.errors import ConfigError

            raise ConfigError("--init-from with train.cache_features: start a head-only run from the model's "
                              "own backbone weights instead (model.backbone_weights)")
        metrics = train_cached_head(config, args.output, resume=not args.no_resume, verbose=args.verbose)
    else:
        from aesthetics.training.supervised import train

        metrics = train(
            config, args.output, init_from=args.init_from, init_head=args.init_head,
            resume=not args.no_resume, verbose=args.verbose,
        )
    shown = {k: metrics[k] for k in ("n", "srcc", "plcc", "accuracy", "mae", "emd", "train_seconds") if k in metrics}
    print(json.dumps(json_safe({"run_dir": args.output, **shown}), indent=2))
    return 0
