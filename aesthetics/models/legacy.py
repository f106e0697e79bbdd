"""Loading Keras 2 HDF5 weight files (idealo's NIMA releases, old backbone files).

Keras 2 wrote weights as ``/<layer_name>/<weight_name>`` groups (under
``model_weights/`` for a whole-model file) with the layer order in the root
attribute ``layer_names``. Our models nest the backbone in a sub-model and add a
preprocessing layer, so loading by topology would fail; we match by layer name,
then give the remaining file layers to the remaining model layers in order when
their weight shapes agree (this is how the head's ``dense_1`` becomes ``scores``).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import keras
import numpy as np


from aesthetics.errors import ModelFileError


class WeightsFormatError(ModelFileError):
    """A Keras 2 HDF5 weights file that does not fit the model."""


def _decode(names):
    return [n.decode("utf8") if isinstance(n, bytes) else str(n) for n in names]


def read_hdf5_weights(path) -> list[tuple[str, list[np.ndarray]]]:
    """Returns [(layer_name, [arrays in file order])] for layers with weights."""
    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise WeightsFormatError(f"{path}: not a readable HDF5 file ({e})") from e
    with f:
        root = f["model_weights"] if "model_weights" in f else f
        if "layer_names" not in root.attrs:
            raise WeightsFormatError(
                f"{path}: no 'layer_names' attribute; not a Keras 2 HDF5 weights "
                f"file (Keras 3 files end in .weights.h5)"
            )
        out = []
        for name in _decode(root.attrs["layer_names"]):
            group = root[name]
            weight_names = _decode(group.attrs.get("weight_names", []))
            if weight_names:
                out.append((name, [np.asarray(group[w]) for w in weight_names]))
        return out


def _layers_with_weights(model: keras.Model):
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if layer.weights and not isinstance(layer, keras.Model):
            yield layer


def load_hdf5_weights_by_name(model: keras.Model, path) -> list[str]:
    """Loads a Keras 2 HDF5 weights file into `model`; returns a log of matches.

    Every weight in the file must find a home and every weighted layer of the
    model must be filled; otherwise a WeightsFormatError lists what is left.
    """
    file_layers = read_hdf5_weights(path)
    model_layers = list(_layers_with_weights(model))
    by_name = {layer.name: layer for layer in model_layers}
    used, log, leftovers = set(), [], []
    for name, arrays in file_layers:
        layer = by_name.get(name)
        if layer is not None and _shapes_match(layer, arrays):
            layer.set_weights(arrays)
            used.add(id(layer))
            log.append(f"{name} -> {layer.name}")
        else:
            leftovers.append((name, arrays))
    free = [layer for layer in model_layers if id(layer) not in used]
    for name, arrays in leftovers:
        match = next((lyr for lyr in free if _shapes_match(lyr, arrays)), None)
        if match is None:
            shapes = [a.shape for a in arrays]
            raise WeightsFormatError(
                f"{path}: no layer of the model fits file layer {name!r} "
                f"with weight shapes {shapes}; is this the right backbone/alpha?"
            )
        match.set_weights(arrays)
        free.remove(match)
        log.append(f"{name} -> {match.name} (by order)")
    if free:
        raise WeightsFormatError(
            f"{path}: the file has no weights for model layer(s) "
            f"{[lyr.name for lyr in free][:5]}"
        )
    return log


def _shapes_match(layer, arrays) -> bool:
    shapes = [tuple(w.shape) for w in layer.weights]
    return shapes == [tuple(a.shape) for a in arrays]
