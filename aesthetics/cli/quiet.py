"""Importing TensorFlow without its start-up chatter.

TensorFlow's C++ runtime and absl print several lines at import (oneDNN
notices, CUDA factory registrations, "Unable to register ..."), written to
file descriptor 2 before Python's logging is involved, so neither
`TF_CPP_MIN_LOG_LEVEL` nor `-q` silences all of them. The import runs with
fd 2 pointed at a temporary file; if the import fails, what it printed is
replayed so the error stays visible.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def stderr_captured():
    """Redirects fd 2 into a temporary file inside the block; yields a
    function returning what was captured."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield lambda: (tmp.seek(0), tmp.read().decode("utf-8", "replace"))[1]
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def quiet_tensorflow_import(verbose: bool = False) -> None:
    """Imports TensorFlow and Keras (and absl's logging setup) quietly unless
    `verbose`."""
    if verbose or "tensorflow" in sys.modules:
        import keras  # noqa: F401
        return
    error, text = None, ""
    with stderr_captured() as captured:
        try:
            import tensorflow as tf

            # CPU-only machines: TF probes for CUDA at the first device query
            # and logs its failure there; do it here, inside the capture.
            tf.config.list_physical_devices()
            import keras  # noqa: F401
        except BaseException as e:  # replayed below, then re-raised
            error, text = e, captured()
    if error is not None:
        sys.stderr.write(text)
        raise error
    import absl.logging

    absl.logging.set_verbosity(absl.logging.ERROR)
