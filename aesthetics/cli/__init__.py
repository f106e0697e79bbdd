"""The `aesthetics` command: one module per subcommand.

Each subcommand module has `register(subparsers)` (adds its parser, sets
`func`, and optionally `check`). `main` runs in this order:

1. parse the arguments (`-q` / `-v` are accepted anywhere on the line);
2. `check(args)`: config validation and path checks, without TensorFlow, so
   a typo fails in a fraction of a second instead of after its start-up;
3. `func(args)`: the work; heavy imports happen inside it (TensorFlow's
   start-up log lines are hidden unless `-v`).

Expected failures (`AestheticsError`: bad config, labels, paths, model
files) print one line and exit 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from aesthetics.errors import AestheticsError

# Subcommand modules, in the order `aesthetics --help` lists them.
SUBCOMMANDS = ["predict", "report", "models", "train", "evaluate", "export", "pretrain", "tune", "index", "zero-shot"]
EXIT_USAGE = 2  # argparse's own code for bad arguments; also ours for AestheticsError


def _verbosity_parser(default) -> argparse.ArgumentParser:
    """-q/-v, on the main parser (default False) and on every subcommand
    (default SUPPRESS, so an option given before the subcommand survives)."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_mutually_exclusive_group()
    g.add_argument("-q", "--quiet", action="store_true", default=default, help="only warnings and errors")
    g.add_argument("-v", "--verbose-logs", dest="verbose_logs", action="store_true", default=default,
                   help="also TensorFlow's start-up and debug log lines")
    return p


def build_parser() -> argparse.ArgumentParser:
    from aesthetics import __version__

    parser = argparse.ArgumentParser(
        prog="aesthetics",
        description="Score how good photos look: train, evaluate, predict, export.",
        parents=[_verbosity_parser(False)],
    )
    parser.add_argument("--version", action="version", version=f"aesthetics {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _verbosity_parser(argparse.SUPPRESS)
    for name in SUBCOMMANDS:
        importlib.import_module(f"aesthetics.cli.{name.replace('-', '_')}").register(sub, [common])
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    verbose = bool(getattr(args, "verbose_logs", False))
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TF's C++ INFO/WARNING lines
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING if args.quiet else logging.INFO,
        format="aesthetics: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        # tf.function retracing notices and similar: not actionable for a user
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        check = getattr(args, "check", None)
        if check is not None:
            check(args)  # before TensorFlow: config and paths
        from aesthetics.cli.quiet import quiet_tensorflow_import

        if getattr(args, "needs_tensorflow", True):
            quiet_tensorflow_import(verbose)
            from aesthetics.training.distribute import apply_virtual_cpus

            apply_virtual_cpus()  # AESTHETICS_VIRTUAL_CPUS, before TensorFlow places anything
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("aesthetics: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`aesthetics predict ... | head`): stop quietly, as
        # other Unix tools do; point stdout at devnull so the exit flush cannot fail
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except AestheticsError as e:
        if os.environ.get("AESTHETICS_DEBUG"):
            raise
        print(f"aesthetics: error: {e}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
