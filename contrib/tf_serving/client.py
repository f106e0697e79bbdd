#!/usr/bin/env python3
"""Score image files with the aesthetics model behind TensorFlow Serving.

    python client.py photo1.jpg photo2.png                      # REST, localhost:8501
    python client.py --url http://host:8501 --model aesthetics *.jpg
    python client.py --grpc localhost:8500 *.jpg                # needs tensorflow-serving-api
    python client.py --json photo.jpg                           # machine-readable output

REST needs only the Python standard library (urllib, base64, json); Pillow,
when installed, is used to rotate images whose EXIF orientation tag says so
(the served graph decodes pixels as stored, `aesthetics predict` rotates).

The request/response helpers are pure functions (`build_rest_request`,
`parse_rest_response`, `rows_from_columns`, `build_grpc_inputs`) so they can
be tested against the exported SavedModel without a server.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

SIGNATURE = "serving_default"
INPUT_NAME = "image_bytes"
OUTPUT_NAMES = ("mean_score", "std_score", "distribution")


class ServingError(RuntimeError):
    """The server answered with an error (e.g. an image it could not decode)."""


# --------------------------------------------------------------------------
# images


def read_image_bytes(path, fix_orientation: bool = True, draft=None) -> bytes:
    """The file's bytes; if it carries an EXIF orientation other than
    "upright" and Pillow is installed, the upright image re-encoded as PNG
    (lossless, so the served score equals `aesthetics predict`'s).

    draft: for such a JPEG, the `(width, height) -> size or None` rule that
    `aesthetics predict` decodes large JPEGs with (with the aesthetics
    package: `lambda w, h: aesthetics.data.resize.draft_size(recipe, w, h)`);
    without it a large rotated JPEG is sent at full size and its score can
    differ slightly from predict's, which decodes it at a reduced DCT scale."""
    data = Path(path).read_bytes()
    if not fix_orientation:
        return data
    try:
        from PIL import Image, ImageOps
    except ImportError:
        return data
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.getexif().get(0x0112, 1) in (1, None):
                return data
            if draft is not None and img.format == "JPEG":
                need = draft(*img.size)
                if need is not None:
                    img.draft("RGB" if img.mode == "RGB" else None, need)
            upright = ImageOps.exif_transpose(img)
            buf = io.BytesIO()
            upright.save(buf, format="PNG")
            return buf.getvalue()
    except Exception:  # not an image Pillow knows: let the server say why
        return data


# --------------------------------------------------------------------------
# REST


def build_rest_request(images, signature_name: str = SIGNATURE, named: bool = False) -> dict:
    """A TF Serving REST predict body in row ("instances") format.

    The signature has one input, so an instance may be the bare value
    {"b64": ...}; with `named`, each instance is {"image_bytes": {"b64": ...}}.
    Both decode to the same string tensor [len(images)] on the server.
    """
    instances = []
    for data in images:
        value = {"b64": base64.b64encode(bytes(data)).decode("ascii")}
        instances.append({INPUT_NAME: value} if named else value)
    return {"signature_name": signature_name, "instances": instances}


def rows_from_columns(columns) -> list[dict]:
    """{"mean_score": [..], "std_score": [..], "distribution": [[..]..]} (or a
    bare list: a single-output model's mean scores) -> one dict per image."""
    if not isinstance(columns, dict):
        return [{"mean_score": float(v)} for v in columns]
    names = [n for n in OUTPUT_NAMES if n in columns] or list(columns)
    n = len(columns[names[0]])
    return [{name: _plain(columns[name][i]) for name in names} for i in range(n)]


def _plain(value):
    if isinstance(value, (list, tuple)):
        return [float(v) for v in value]
    return float(value)


def parse_rest_response(response) -> list[dict]:
    """A TF Serving REST predict response -> one dict per image with
    mean_score (and std_score, distribution for a distribution model).

    Row requests answer {"predictions": [{name: value}, ...]}, or, when the
    signature has a single output, {"predictions": [value, ...]}; column
    requests answer {"outputs": {name: [...]}} or {"outputs": [...]}.
    """
    if isinstance(response, (str, bytes)):
        response = json.loads(response)
    if "error" in response:
        raise ServingError(response["error"])
    if "predictions" in response:
        rows = response["predictions"]
        if rows and not isinstance(rows[0], dict):
            return [{"mean_score": float(v)} for v in rows]
        return [{k: _plain(v) for k, v in row.items()} for row in rows]
    if "outputs" in response:
        return rows_from_columns(response["outputs"])
    raise ServingError(f"unexpected response: keys {sorted(response)}")


def predict_rest(url: str, model: str, images, signature_name: str = SIGNATURE, timeout: float = 60.0):
    """POSTs the images to http(s)://HOST:PORT/v1/models/MODEL:predict."""
    endpoint = f"{url.rstrip('/')}/v1/models/{model}:predict"
    body = json.dumps(build_rest_request(images, signature_name)).encode("utf-8")
    request = urllib.request.Request(endpoint, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return parse_rest_response(reply.read().decode("utf-8"))
    except urllib.error.HTTPError as e:  # TF Serving puts {"error": ...} in the body
        text = e.read().decode("utf-8", "replace")
        try:
            return parse_rest_response(text)
        except (ValueError, ServingError) as parsed:
            raise ServingError(f"HTTP {e.code}: {parsed}") from None


# --------------------------------------------------------------------------
# gRPC


GRPC_HELP = (
    "gRPC needs the TF Serving API package: pip install tensorflow-serving-api "
    "(it brings grpcio and tensorflow); or use REST (--url)"
)


def build_grpc_inputs(images) -> dict:
    """The PredictRequest inputs as plain data: {name: (dtype, shape, values)}."""
    return {INPUT_NAME: ("DT_STRING", [len(images)], [bytes(d) for d in images])}


def predict_grpc(target: str, model: str, images, signature_name: str = SIGNATURE, timeout: float = 60.0):
    try:
        import grpc
        from tensorflow.core.framework import types_pb2
        from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc
    except ImportError:
        raise SystemExit(f"client.py: {GRPC_HELP}") from None

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature_name
    for name, (dtype, shape, values) in build_grpc_inputs(images).items():
        tensor = request.inputs[name]
        tensor.dtype = getattr(types_pb2, dtype)
        for size in shape:
            tensor.tensor_shape.dim.add().size = size
        tensor.string_val.extend(values)
    channel = grpc.insecure_channel(target, options=[("grpc.max_send_message_length", 512 << 20)])
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    try:
        reply = stub.Predict(request, timeout)
    except grpc.RpcError as e:
        raise ServingError(f"{e.code().name}: {e.details()}") from None
    columns = {}
    for name, tensor in reply.outputs.items():
        values = list(tensor.float_val)
        dims = [d.size for d in tensor.tensor_shape.dim]
        if len(dims) == 2:
            width = dims[1]
            values = [values[i * width:(i + 1) * width] for i in range(dims[0])]
        columns[name] = values
    return rows_from_columns(columns)


# --------------------------------------------------------------------------
# command line


def format_rows(paths, rows) -> str:
    lines = []
    for path, row in zip(paths, rows):
        if "std_score" in row:
            lines.append(f"{row['mean_score']:7.3f} ± {row['std_score']:.3f}  {path}")
        else:
            lines.append(f"{row['mean_score']:7.3f}          {path}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Score images with the aesthetics model on TF Serving.")
    p.add_argument("images", nargs="+", help="image files (JPEG, PNG, GIF, BMP)")
    p.add_argument("--url", default="http://localhost:8501", help="REST base URL (default %(default)s)")
    p.add_argument("--grpc", metavar="HOST:PORT", help="use gRPC at HOST:PORT (e.g. localhost:8500)")
    p.add_argument("--model", default="aesthetics", help="served model name (default %(default)s)")
    p.add_argument("--signature", default=SIGNATURE)
    p.add_argument("--batch-size", type=int, default=16, help="images per request")
    p.add_argument("--no-fix-orientation", action="store_true", help="send files as they are")
    p.add_argument("--json", action="store_true", help="print JSON records instead of a table")
    args = p.parse_args(argv)

    def send(images):
        if args.grpc:
            return predict_grpc(args.grpc, args.model, images, args.signature)
        return predict_rest(args.url, args.model, images, args.signature)

    records, failed = [], 0
    for start in range(0, len(args.images), args.batch_size):
        paths = args.images[start:start + args.batch_size]
        try:
            images = [read_image_bytes(f, fix_orientation=not args.no_fix_orientation) for f in paths]
            pairs = list(zip(paths, send(images)))
        except ServingError:
            # One undecodable file fails its whole request: retry one by one.
            pairs = []
            for path, data in zip(paths, images):
                try:
                    pairs.append((path, send([data])[0]))
                except ServingError as e:
                    failed += 1
                    print(f"client.py: {path}: {e}", file=sys.stderr)
        except (urllib.error.URLError, OSError) as e:
            print(f"client.py: error: {e}", file=sys.stderr)
            return 1
        if args.json:
            records += [{"path": str(f), **row} for f, row in pairs]
        elif pairs:
            print(format_rows(*zip(*pairs)))
    if args.json:
        print(json.dumps(records, indent=2))
    return 1 if failed == len(args.images) else 0


if __name__ == "__main__":
    sys.exit(main())
