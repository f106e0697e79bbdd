"""`aesthetics tune`: hyper-parameter and architecture search (keras-tuner)."""

from __future__ import annotations

import json

from aesthetics.cli.common import add_data_arguments, add_run_arguments, positive_int, require_path
from aesthetics.cli.train import check as check_train
from aesthetics.cli.train import collect_overrides


def register(sub, parents=()):
    p = sub.add_parser(
        "tune",
        parents=list(parents),
        help="search hyper-parameters and architecture switches (keras-tuner)",
        description="Train one model per trial with values from a search space (--space: dotted config "
        "keys -> ranges) applied to the base config; maximise the validation SRCC. Writes "
        "RUN_DIR/trials/<id>/ (one run folder per trial), trials.jsonl and best_config.json "
        "(a config `aesthetics train --config` takes). Re-running the same command resumes the search.",
    )
    p.add_argument("--space", required=True, help="search-space JSON: {\"train.lr_full\": {\"type\": \"float\", "
                   "\"min\": 1e-5, \"max\": 1e-3, \"sampling\": \"log\"}, ...} (types int, float, choice, boolean)")
    p.add_argument("--algorithm", choices=("random", "bayesian", "hyperband"), default="bayesian",
                   help="keras-tuner oracle (default: bayesian, which needs scikit-learn: the [tune] extra); "
                   "hyperband varies train.epochs_full up to the base config's value")
    p.add_argument("--max-trials", type=positive_int, help="trials in all (random/bayesian; default 10); "
                   "hyperband derives its trials from train.epochs_full")
    add_data_arguments(p, ' (the same split for every trial)')
    p.add_argument("--epochs", type=int, help="train.epochs_full of the base config (hyperband: the most "
                   "epochs a trial gets)")
    p.add_argument("--batch-size", type=int, help="data.batch_size")
    p.add_argument("--seed", type=int, help="train.seed (also the oracle's seed)")
    add_run_arguments(p, "runs/tune", "model.dropout=0.5")
    p.set_defaults(func=run, check=check, init_from=None, init_head=False)


def check(args) -> None:
    """Base config, paths and the search space, before TensorFlow is imported."""
    import importlib.util

    from aesthetics.errors import AestheticsError, ConfigError
    from aesthetics.training.tune import load_space

    if importlib.util.find_spec("keras_tuner") is None:
        raise AestheticsError("aesthetics tune needs keras-tuner: pip install 'aesthetics[tune]'")
    if args.algorithm == "bayesian" and not all(importlib.util.find_spec(m) for m in ("sklearn", "scipy")):
        raise AestheticsError("--algorithm bayesian needs scikit-learn and scipy: pip install "
                              "'keras-tuner[bayesian]' (or use --algorithm random or hyperband)")
    if args.max_trials is not None and args.algorithm == "hyperband":
        raise ConfigError("--max-trials: hyperband decides the number of trials from train.epochs_full "
                          "(its most epochs per trial); leave --max-trials out, or use random/bayesian")
    check_train(args)  # base config, data paths, run folder
    require_path(args.space, "--space", "file")
    overrides = collect_overrides(args)
    args.space_raw, _ = load_space(args.space, args.config, overrides, args.algorithm)
    config = args.config_obj
    if args.algorithm == "hyperband" and config.train.stages is not None:
        raise ConfigError("train.stages: hyperband sets train.epochs_full, which a staged plan does not use; "
                          "use --algorithm random or bayesian")


def run(args) -> int:
    from aesthetics.training.run_folder import json_safe
    from aesthetics.training.tune import search

    summary = search(args.config, collect_overrides(args), args.space_raw, args.output,
                     algorithm=args.algorithm, max_trials=args.max_trials,
                     resume=not args.no_resume, verbose=args.verbose)
    print(json.dumps(json_safe(summary), indent=2))
    if summary.get("best_trial") is None:
        import sys

        print("aesthetics: no trial finished; see RUN_DIR/trials.jsonl for the errors", file=sys.stderr)
        return 1
    return 0
