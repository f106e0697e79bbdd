"""Guards against silent wrong answers and lost results (a start on the
hostile-input suite): non-finite training and predictions, output targets
checked before work, atomic exports."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_a_diverged_loss_stops_training_with_a_clear_error():
    import keras

    from aesthetics.errors import TrainingDivergedError
    from aesthetics.training.callbacks import StopOnNonFinite

    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer=keras.optimizers.SGD(1e30), loss="mse")
    x = np.full((8, 2), 1e20, "float32")
    with pytest.raises(TrainingDivergedError, match="diverged.*learning rate"):
        model.fit(x, x[:, :1], epochs=3, verbose=0, callbacks=[StopOnNonFinite()])


def test_non_finite_model_outputs_become_error_records():
    from aesthetics.inference.records import records_from_outputs

    rows = {0: np.full(10, 0.1, np.float32), 1: np.array([np.nan] * 10, np.float32)}
    good, bad = records_from_outputs(["a.jpg", "b.jpg"], rows, {})
    assert "error" not in good and "mean_score_prediction" in good
    assert "not finite" in bad["error"] and "mean_score_prediction" not in bad


def _probe(args, cwd):
    code = ("import json, sys\nfrom aesthetics.cli import main\nrc = main(sys.argv[1:])\n"
            "print(json.dumps({'rc': rc, 'tf': 'tensorflow' in sys.modules}))\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=300)
    return json.loads(p.stdout.strip().splitlines()[-1]), p.stderr


@pytest.mark.parametrize("output, needle", [("scores.xml", "unknown format"), ("afile/scores.json", "cannot write")])
def test_a_bad_output_target_fails_before_any_scoring(tmp_path, output, needle):
    from aesthetics.sample_data import sample_images_dir

    (tmp_path / "afile").write_text("a file, not a folder")
    result, err = _probe(["predict", str(sample_images_dir()), "--output", output], tmp_path)
    assert result == {"rc": 2, "tf": False}
    assert needle in err and len(err.strip().splitlines()) == 1


def test_written_scores_are_strict_json_and_atomic(tmp_path):
    from aesthetics.inference.outputs import write_records

    write_records([{"image_id": "a", "mean_score_prediction": 5.0}], tmp_path / "s.json")
    assert json.loads((tmp_path / "s.json").read_text())[0]["image_id"] == "a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json"]


def test_a_failed_export_keeps_the_earlier_artefact(tmp_path, monkeypatch):
    from deploy_helpers import tiny_model

    from aesthetics.export import export_model
    from aesthetics.export import writers

    model = tiny_model()
    export_model(model, tmp_path / "m.onnx", "onnx")
    before = (tmp_path / "m.onnx").read_bytes()

    def broken(model, output, *a, **k):
        Path(output).write_bytes(b"half a file")
        raise RuntimeError("killed mid-export")

    monkeypatch.setattr(writers, "export_onnx", broken)
    with pytest.raises(RuntimeError, match="killed"):
        export_model(model, tmp_path / "m.onnx", "onnx")
    assert (tmp_path / "m.onnx").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.onnx.json"]


def test_vote_counts_whose_sum_overflows_are_rejected_with_file_and_line(tmp_path):
    from aesthetics.data.labels import read_labels
    from aesthetics.errors import LabelError

    path = tmp_path / "votes.json"
    path.write_text('[{"image_id": "a", "label": [1,1,1,1,1,1,1,1,1,1]},'
                    ' {"image_id": "b", "label": [1e308, 1e308, 1e308, 1, 1, 1, 1, 1, 1, 1]}]')
    with pytest.raises(LabelError, match="overflows") as e:
        read_labels(path)
    assert "votes.json" in str(e.value)
