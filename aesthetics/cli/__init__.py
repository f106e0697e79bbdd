"""The `aesthetics` command: one module per subcommand, each with
`register(subparsers)` (adds its parser, sets `func`) and heavy imports done
lazily inside `run`, so e.g. the ONNX predict path never imports TensorFlow."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

# Subcommand modules, in the order `aesthetics --help` lists them.
SUBCOMMANDS = ["train", "evaluate", "predict", "export", "pretrain"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aesthetics",
        description="Score how good photos look: train, evaluate, predict, export.",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"aesthetics.cli.{name}").register(sub)
    return parser


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's C++ chatter out of CLI output
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="aesthetics: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("aesthetics: interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, RuntimeError, OSError) as e:
        # Expected user-facing failures (bad labels, missing files, offline
        # weights...): one clear line, not a traceback.
        if os.environ.get("AESTHETICS_DEBUG"):
            raise
        print(f"aesthetics: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
