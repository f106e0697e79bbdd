"""`aesthetics export`: a trained model as SavedModel (TF Serving), ONNX or TFLite."""

from __future__ import annotations

import json

from aesthetics.constants import EXPORT_FORMATS, QUANTIZE_MODES


def register(sub, parents=()):
    p = sub.add_parser(
        "export",
        parents=list(parents),
        help="export a model for serving: SavedModel, ONNX, TFLite",
        description="Export a trained .keras model. savedmodel: a folder for TF Serving with "
        "signatures serving_default (encoded image bytes) and serving_images (float32 "
        "images); use a numbered version folder, e.g. exports/aesthetics/1. onnx / tflite: "
        "one file taking float32 RGB [0, 255] images. Metadata goes to model.json inside "
        "the SavedModel folder, or FILE.json beside a file (e.g. model.onnx.json).",
    )
    p.add_argument("--model", required=True, help="the trained model (.keras) or a shipped model's name")
    p.add_argument("--format", required=True, choices=EXPORT_FORMATS)
    p.add_argument("--output", required=True, help="SavedModel folder, or the .onnx / .tflite file")
    p.add_argument("--quantize", choices=QUANTIZE_MODES,
                   help="tflite only: dynamic-range quantisation (int8 weights, float math)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    p.set_defaults(func=run, check=check)


def check(args) -> None:
    from aesthetics.errors import ConfigError
    from aesthetics import zoo
    from aesthetics.inference.loading import check_model_path

    args.model = str(zoo.resolve(args.model))  # a shipped model's name, or a path
    check_model_path(args.model)
    if args.quantize and args.format != "tflite":
        raise ConfigError("--quantize is only supported for --format tflite")
    if args.opset < 1:
        raise ConfigError(f"--opset {args.opset}: expected a positive ONNX opset (default 17)")
    if args.format != "savedmodel":
        from pathlib import Path

        output = Path(args.output)
        if output.exists() and Path(args.model).exists() and output.samefile(args.model):
            raise ConfigError(f"--output {output} is the model being exported; choose another name")
        if output.suffix.lower() != f".{args.format}":
            raise ConfigError(f"--output {output}: a {args.format} export is a .{args.format} file "
                              f"(e.g. model.{args.format})")


def run(args) -> int:
    from aesthetics.export import export_model
    from aesthetics.inference.loading import load_model

    model = load_model(args.model)
    meta = export_model(
        model, args.output, args.format, quantize=args.quantize,
        model_path=args.model, opset=args.opset,
    )
    shown = {
        "output": args.output,
        "format": meta["format"],
        "quantization": meta["quantization"],
        "size_bytes": meta["size_bytes"],
        "image_size": meta["input"]["image_size"],
        "outputs": meta["outputs"],
    }
    print(json.dumps(shown, indent=2))
    return 0
