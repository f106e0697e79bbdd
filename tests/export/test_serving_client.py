"""contrib/tf_serving/client.py against the exported SavedModel, with the
model run locally in place of TF Serving: request JSON -> decoded the way TF
Serving does ({"b64"} -> bytes) -> serving_default -> wrapped the way its REST
API answers ({"predictions": [...]}, rows) -> the client's parser -> the same
scores as `aesthetics predict`."""

import base64
import importlib.util
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import numpy as np
import pytest
from deploy_helpers import ROOT, export_path, generated_images, real_photos, trained_run

# The served bytes signature resizes in the graph with TF's op, predict with
# Pillow (the resize every predict backend shares): up to 12 of 12,288 values
# differ by one level, which this hypersensitive random 64x64 model turns into
# up to ~0.01 of mean score (see BYTES_PATH_TOL in test_export.py).
TOL = 0.02


def _load_client():
    spec = importlib.util.spec_from_file_location("tfs_client", ROOT / "contrib" / "tf_serving" / "client.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


client = _load_client()


@pytest.fixture(scope="module")
def signature():
    import tensorflow as tf

    return tf.saved_model.load(str(export_path("savedmodel"))).signatures["serving_default"]


@pytest.fixture(scope="module")
def predict_scores():
    from aesthetics.inference.loading import load_model
    from aesthetics.inference.scoring import score_files

    files = list(generated_images()) + real_photos()
    return {r["path"]: r for r in score_files(load_model(trained_run()), files, batch_size=8)}


def fake_tf_serving(signature, body: str) -> tuple:
    """What TF Serving's REST predict does with a row-format body for a
    single-input signature: (HTTP status, response JSON text)."""
    import tensorflow as tf

    request = json.loads(body)
    assert request.get("signature_name", "serving_default") == "serving_default"

    def value(instance):
        if set(instance) == {"b64"}:
            return base64.b64decode(instance["b64"])
        (name, inner), = instance.items()
        assert name == "image_bytes"
        return base64.b64decode(inner["b64"])

    try:
        out = signature(image_bytes=tf.constant([value(i) for i in request["instances"]]))
    except tf.errors.InvalidArgumentError as e:
        return 400, json.dumps({"error": e.message})
    out = {k: v.numpy().tolist() for k, v in out.items()}
    if len(out) == 1:  # single named output: bare values
        predictions = next(iter(out.values()))
    else:
        n = len(out["mean_score"])
        predictions = [{k: out[k][i] for k in out} for i in range(n)]
    return 200, json.dumps({"predictions": predictions})


def _check(files, rows, predict_scores):
    assert len(rows) == len(files)
    for f, row in zip(files, rows):
        ref = predict_scores[str(f)]
        assert abs(row["mean_score"] - ref["mean_score_prediction"]) < TOL
        assert abs(row["std_score"] - ref["std_score_prediction"]) < TOL
        np.testing.assert_allclose(row["distribution"], ref["distribution"], atol=TOL)


@pytest.mark.parametrize("named", [False, True])
def test_rest_round_trip_generated(signature, predict_scores, named):
    files = list(generated_images())
    body = client.build_rest_request([Path(f).read_bytes() for f in files], named=named)
    assert body["signature_name"] == "serving_default"
    first = body["instances"][0]
    assert set(first) == ({"image_bytes"} if named else {"b64"})
    status, text = fake_tf_serving(signature, json.dumps(body))
    assert status == 200
    _check(files, client.parse_rest_response(text), predict_scores)


def test_rest_round_trip_real_photos(shared_dir, signature, predict_scores):
    files = real_photos()
    body = json.dumps(client.build_rest_request([client.read_image_bytes(f) for f in files]))
    status, text = fake_tf_serving(signature, body)
    assert status == 200
    _check(files, client.parse_rest_response(text), predict_scores)


def test_other_response_shapes():
    rows = client.parse_rest_response({"outputs": {"mean_score": [5.0, 6.0], "std_score": [1.0, 2.0],
                                                   "distribution": [[0.5, 0.5], [0.25, 0.75]]}})
    assert rows[1] == {"mean_score": 6.0, "std_score": 2.0, "distribution": [0.25, 0.75]}
    assert client.parse_rest_response({"predictions": [4.5, 7.25]}) == [{"mean_score": 4.5}, {"mean_score": 7.25}]
    assert client.parse_rest_response('{"outputs": [3.0]}') == [{"mean_score": 3.0}]
    with pytest.raises(client.ServingError, match="bad things"):
        client.parse_rest_response({"error": "bad things"})


def test_malformed_image_gives_error_response(signature):
    status, text = fake_tf_serving(signature, json.dumps(client.build_rest_request([b"not an image"])))
    assert status == 400
    with pytest.raises(client.ServingError, match="JPEG, PNG, GIF or BMP"):
        client.parse_rest_response(text)


def test_exif_rotated_photo_is_sent_upright(signature, tmp_path):
    """predict applies EXIF orientation; the graph cannot, so the client
    sends such files upright (lossless PNG) and the scores agree."""
    from PIL import Image

    from aesthetics.inference.loading import load_model
    from aesthetics.inference.scoring import score_files

    src = Image.open(generated_images()[0])
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    src.save(path, quality=92, exif=exif.tobytes())
    from aesthetics.data.resize import draft_size
    from aesthetics.models.scorer import recipe_of

    model = load_model(trained_run())
    recipe = recipe_of(model)
    assert draft_size(recipe, *src.size) is not None  # a photo predict decodes at a reduced scale
    data = client.read_image_bytes(path, draft=lambda w, h: draft_size(recipe, w, h))
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    ref = score_files(model, [str(path)])[0]
    _, text = fake_tf_serving(signature, json.dumps(client.build_rest_request([data])))
    assert abs(client.parse_rest_response(text)[0]["mean_score"] - ref["mean_score_prediction"]) < TOL
    assert client.read_image_bytes(path, fix_orientation=False) == path.read_bytes()


def test_client_cli_over_http(signature, predict_scores, tmp_path, capsys):
    """The whole client (urllib, batching, retry of a failed batch one by one)
    against a local HTTP server that answers like TF Serving."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            assert self.path == "/v1/models/aesthetics:predict"
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            status, text = fake_tf_serving(signature, body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(text.encode())

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        files = list(generated_images())[:4]
        bad = tmp_path / "bad.jpg"
        bad.write_bytes(b"garbage")
        url = f"http://127.0.0.1:{server.server_address[1]}"
        rc = client.main([*files[:2], str(bad), *files[2:], "--url", url, "--batch-size", "3", "--json"])
    finally:
        server.shutdown()
    assert rc == 0
    captured = capsys.readouterr()
    records = json.loads(captured.out)
    assert [r["path"] for r in records] == files
    _check(files, records, predict_scores)
    assert "bad.jpg" in captured.err and "JPEG, PNG, GIF or BMP" in captured.err


def test_grpc_request_inputs():
    inputs = client.build_grpc_inputs([b"a", b"bc"])
    assert inputs == {"image_bytes": ("DT_STRING", [2], [b"a", b"bc"])}
    if importlib.util.find_spec("tensorflow_serving") is None:
        with pytest.raises(SystemExit, match="tensorflow-serving-api"):
            client.predict_grpc("localhost:1", "aesthetics", [b"x"])
