"""`python -m aesthetics.beam`: score a file pattern with Apache Beam.

    python -m aesthetics.beam --input 'photos/*.jpg' --output out/scores
    python -m aesthetics.beam --input 'photos/*.jpg' --model technical,aesthetic --output out/both
    python -m aesthetics.beam --input 'gs://b/photos/*' --model gs://b/m/model.onnx \
        --output gs://b/scores --format csv \
        --runner DataflowRunner --project P --region europe-west1 \
        --temp_location gs://b/tmp --setup_file ./setup.py

Options this command does not know are Beam pipeline options and go to
Beam unchanged (`--runner`, `--project`, `--flink_master`, ...); see
docs/BEAM.md. Expected failures (bad pattern, missing model) print one
line and exit 2, like the `aesthetics` command.
"""

from __future__ import annotations

import argparse
import logging
import sys

from aesthetics.errors import AestheticsError

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    from aesthetics.beam.handler import DEFAULT_BATCH_SIZE
    from aesthetics.beam.sinks import FORMATS
    from aesthetics.constants import DEFAULT_MAX_PIXELS

    p = argparse.ArgumentParser(
        prog="python -m aesthetics.beam",
        description="Score photos with an exported ONNX model on any Apache Beam runner. "
                    "Unknown options are passed to Beam as pipeline options.")
    p.add_argument("--input", required=True, help="file pattern: 'photos/*.jpg', 'gs://bucket/photos/**'")
    p.add_argument("--model", default=None,
                   help="shipped model name, .onnx path or gs:// URI (default: the shipped technical model); "
                        "several, comma-separated (technical,aesthetic): each photo decoded once, "
                        "one record with a group of fields per model")
    p.add_argument("--output", required=True, help="output prefix; shards are PREFIX-00000-of-0000N.FORMAT")
    p.add_argument("--format", default="jsonl", choices=FORMATS)
    p.add_argument("--num-shards", type=int, default=0, help="output files (default: the runner decides)")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="most photos per model call")
    p.add_argument("--threads", type=int, default=None, help="onnxruntime threads per model copy")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                   help="refuse larger images (decompression bombs)")
    p.add_argument("--no-wait", action="store_true",
                   help="return once the job is submitted (Dataflow) instead of waiting for it")
    return p


def main(argv=None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args, beam_args = build_parser().parse_known_args(argv)
    try:
        from aesthetics.beam.pipeline import run_pipeline

        result = run_pipeline(args.input, args.model, args.output, args.format, beam_args,
                              num_shards=args.num_shards, batch_size=args.batch_size,
                              threads=args.threads, max_pixels=args.max_pixels, wait=not args.no_wait)
    except AestheticsError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{result.state}: {args.output}-*-of-*.{args.format}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
