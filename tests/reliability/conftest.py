import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # hostile_inputs

# Modules whose tests only read files, configs and ONNX models: they build no
# Keras model, so the per-test `clear_session` of tests/conftest.py (a good
# part of this suite's time, over some 300 small tests) is skipped for them.
NO_KERAS_MODULES = {"test_hostile_labels", "test_hostile_configs", "test_hostile_images"}


@pytest.fixture(autouse=True)
def _reset_keras_state(request):
    import keras

    yield
    keras.config.set_dtype_policy("float32")
    if request.module.__name__.rsplit(".", 1)[-1] not in NO_KERAS_MODULES or "capsys" in request.fixturenames:
        keras.backend.clear_session()
