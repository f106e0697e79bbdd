import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # tests are CPU-only and deterministic
sys.path.insert(0, str(Path(__file__).parent))  # tests/harness.py

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir():
    if not SHARED.is_dir():
        pytest.skip(f"real data folder {SHARED} is absent (it sits beside the project in CI)")
    return SHARED


@pytest.fixture(autouse=True)
def _reset_keras_state():
    import keras

    yield
    keras.config.set_dtype_policy("float32")
    keras.backend.clear_session()
