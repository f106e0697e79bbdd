"""Fine-tuning the last backbone blocks on cached intermediate maps.

Full fine-tuning runs the whole backbone forward and backward on every step:
minutes per epoch on two CPU cores. The early blocks of an ImageNet backbone
change least when fine-tuned (and are kept frozen anyway when data is
scarce), so their output can be computed once per photo and cached:

    photo --stem (frozen: preprocess + backbone up to `at`)--> map   (cached, float16)
    map --top (trainable blocks after `at` + pooling + head)--> distribution

`split_model` cuts an `AestheticsModel` in two. The two parts share the
model's layer objects, so training `top` trains the model itself, which is
then saved as an ordinary model: `stem(x) -> top` computes exactly what the
model computes (tested). `cache_maps` runs the stem over photo files, the
scoring loop's way (the model's recipe prepares them; a mirrored copy too,
since a convolution of a flipped photo is not the flipped map).
`fit_top` trains the top: random crops of the maps (`crop` cells, about
crop x stride pixels) and flips, BatchNorm in inference mode, the blocks and
the head at separate learning rates, the best epoch on a validation set
restored, epoch 0 (the model as it came) included, so the result is never
worse than the start on that validation set (the restored state includes the
moving statistics of a BatchNormalization in the head, e.g. the dual-path
model's local path, which trains in training mode).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import keras
import numpy as np

from aesthetics.errors import ConfigError, DataError


@dataclass
class SplitModel:
    """The two halves of a model (see the module docstring).

    stem: image (B, H, W, 3) RGB 0..255 -> map (B, h, w, C).
    top: map -> the model's output.
    block_layers: the backbone layers in `top` (their weights train at the
        blocks' rate); head_layers: the layers after the backbone.
    features: map -> the pooled features the head reads (the input of
        "head_dropout"), to fit a head on (`aesthetics.training.frozen_head`).
    layer_outputs: layer name -> that layer's output(s) in `top`'s graph (the
        blocks after the cut and the head layers), to probe the top with
        `keras.Model(top.input, ...)` (a shared layer's `.output` is the
        model's tensor, not the top's).
    """

    stem: keras.Model
    top: keras.Model
    block_layers: list = field(default_factory=list)
    head_layers: list = field(default_factory=list)
    features: Optional[keras.Model] = None
    layer_outputs: dict = field(default_factory=dict)

    def block_variables(self):
        return [v for layer in self.block_layers for v in layer.trainable_weights]

    def head_variables(self):
        return [v for layer in self.head_layers for v in layer.trainable_weights]


class _BackboneOutputs(dict):
    """id(tensor) -> new tensor; a tensor the backbone produced maps to the
    new graph's tensor of the same backbone output."""

    def __init__(self, backbone, outputs_by_index):
        super().__init__()
        self.backbone, self.outputs_by_index = backbone, outputs_by_index

    def lookup(self, tensor):
        if id(tensor) in self:
            return self[id(tensor)]
        operation, _, index = tensor._keras_history
        if operation is self.backbone:
            return self.outputs_by_index[index]
        raise KeyError(id(tensor))


def _map_structure(value, mapping):
    if isinstance(value, (list, tuple)):
        return type(value)(_map_structure(v, mapping) for v in value)
    if isinstance(value, dict):
        return {k: _map_structure(v, mapping) for k, v in value.items()}
    if isinstance(value, keras.KerasTensor):
        try:
            return mapping.lookup(value)
        except KeyError:
            raise ConfigError("split_model: the head reads a tensor from before the split point") from None
    return value


def split_model(model, at: str = "conv_pw_11_relu", freeze_batchnorm: bool = True) -> SplitModel:
    """Cuts `model` (a NIMA-style model: "preprocess" -> nested "backbone"
    -> pooling and head) after the backbone layer `at`.

    The backbone must be a chain after `at` (MobileNet, VGG: each layer reads
    the previous one), and every backbone output the head pools must be `at`
    or a layer after it. BatchNorm layers of the top are set non-trainable
    (inference mode, ImageNet statistics) unless `freeze_batchnorm` is False.
    """
    try:
        backbone = model.get_layer("backbone")
        preprocess = model.get_layer("preprocess")
    except ValueError:
        raise ConfigError("split_model needs a model with 'preprocess' and 'backbone' layers (NIMA-style)") from None
    names = [layer.name for layer in backbone.layers]
    if at not in names:
        raise ConfigError(f"split_model: the backbone has no layer {at!r}")
    start = names.index(at)
    split_layer = backbone.layers[start]
    chain, prev = backbone.layers[start + 1:], split_layer
    for layer in chain:
        if layer.input is not prev.output:
            raise ConfigError(f"split_model: the backbone is not a chain after {at!r} ({layer.name!r} "
                              f"does not read {prev.name!r}); cached-map training needs one")
        prev = layer

    image = keras.Input((None, None, 3), name="image")
    stem = keras.Model(image, keras.Model(backbone.inputs, split_layer.output, name="stem_backbone")(
        preprocess(image)), name="stem")

    channels = split_layer.output.shape[-1]
    map_input = keras.Input((None, None, channels), name="map")
    by_name, x = {at: map_input}, map_input
    for layer in chain:
        if freeze_batchnorm and isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
        x = layer(x)
        by_name[layer.name] = x

    # the backbone's outputs, as the head reads them (by output index) -> the new tensors
    outputs_by_index = {}
    for k, inner in enumerate(backbone.outputs):
        source = inner._keras_history[0].name
        if source not in by_name:
            raise ConfigError(f"split_model: the head pools {source!r}, which comes before {at!r}")
        outputs_by_index[k] = by_name[source]
    mapping = _BackboneOutputs(backbone, outputs_by_index)
    layers = list(model.layers)
    head_layers = layers[layers.index(backbone) + 1:]
    features = None
    for layer in head_layers:
        node = layer._inbound_nodes[0]
        args = _map_structure(node.arguments.args, mapping)
        if layer.name == "head_dropout":
            features = keras.Model(map_input, args[0], name="top_features")
        out = layer(*args, **_map_structure(node.arguments.kwargs, mapping))
        by_name[layer.name] = out
        for old, new in zip(node.output_tensors, keras.tree.flatten(out)):
            mapping[id(old)] = new
    outputs = [mapping.lookup(t) for t in keras.tree.flatten(model.outputs)]
    top = keras.Model(map_input, outputs[0] if len(outputs) == 1 else outputs, name="top")
    by_name.pop(at)
    return SplitModel(stem, top, list(chain), head_layers, features, by_name)


def cache_maps(stem, recipe, paths: Sequence[str], flip: bool = False, batch_size: int = 8):
    """The stem's map of each photo, prepared as `recipe` says (the scoring
    loop `predict` runs); `flip` mirrors each photo first. Returns (list of
    float16 (h, w, C) arrays, or None for a file that failed; {index: reason})."""
    from aesthetics.inference.scoring import iter_outputs

    model = stem
    if flip:
        image = keras.Input((None, None, 3), name="image")
        model = keras.Model(image, stem(keras.ops.flip(image, axis=2)), name="stem_flipped")
    maps, failures = [None] * len(paths), {}
    scorer = _MapScorer(model, recipe)
    for batch in iter_outputs(scorer, list(paths), batch_size=batch_size, workers=2):
        for i, row, error in batch:
            if error is None:  # the loop flattens rows; a batch is yielded right after its call
                maps[i] = np.asarray(row, np.float16).reshape(scorer.last_shape)
            else:
                failures[i] = error
    return maps, failures


class _MapScorer:
    """The scoring loop's model interface; remembers the last call's map
    shape (the loop hands rows on flattened)."""

    def __init__(self, model, recipe):
        self.model, self.recipe, self.last_shape = model, recipe, None

    def __call__(self, images):
        out = np.asarray(self.model.predict_on_batch(images), np.float32)
        self.last_shape = out.shape[1:]
        return out


def _shapes_groups(maps):
    groups = {}
    for i, m in enumerate(maps):
        groups.setdefault(m.shape, []).append(i)
    return groups.values()


def predict_top(top, maps: Sequence[np.ndarray], batch_size: int = 32) -> np.ndarray:
    """A map model's outputs (the top's, or `features`) for whole maps (maps
    of one shape batched together), in input order."""
    out = [None] * len(maps)
    for group in _shapes_groups(maps):
        for s in range(0, len(group), batch_size):
            part = group[s:s + batch_size]
            pred = np.asarray(top(np.stack([maps[i] for i in part]).astype(np.float32), training=False))
            for i, row in zip(part, pred):
                out[i] = row
    return np.stack(out)


def _random_crops(variants, rows, crop: Optional[int], rng) -> np.ndarray:
    """A batch of float32 crops: for each row, a random variant (plain or
    flipped map) and a random `crop` x `crop` window (None: the whole map;
    maps of other sizes are cut to the first map's size)."""
    chosen = [variants[rng.integers(len(variants))][i] for i in rows]
    h = crop or min(m.shape[0] for m in chosen)
    w = crop or min(m.shape[1] for m in chosen)
    out = np.empty((len(rows), h, w, chosen[0].shape[-1]), np.float32)
    for k, m in enumerate(chosen):
        if m.shape[0] < h or m.shape[1] < w:
            raise DataError(f"a map of {m.shape[:2]} is smaller than the crop of {h}x{w} cells")
        y, x = rng.integers(m.shape[0] - h + 1), rng.integers(m.shape[1] - w + 1)
        out[k] = m[y:y + h, x:x + w]
    return out


@dataclass
class TopFit:
    """What `fit_top` did: per-epoch validation losses (index 0: before any
    training), the epoch restored, seconds per epoch."""

    val_losses: list
    best_epoch: int
    seconds_per_epoch: float
    train_losses: list


def fit_top(
    split: SplitModel,
    variants: Sequence[Sequence[np.ndarray]],
    targets: np.ndarray,
    val_maps: Sequence[np.ndarray],
    val_targets: np.ndarray,
    loss: Callable,
    *,
    epochs: int = 10,
    block_lr: float = 3e-5,
    head_lr: float = 3e-4,
    batch_size: int = 16,
    crop: Optional[int] = None,
    patience: int = 3,
    seed: int = 0,
    log: Optional[Callable[[str], None]] = None,
    on_epoch: Optional[Callable[[int], None]] = None,
) -> TopFit:
    """Trains `split.top` on cached maps; restores the epoch with the lowest
    validation loss (epoch 0, the untrained start, included).

    variants: one list of maps per augmentation variant (e.g. [plain,
        flipped]), each aligned with `targets` (N, num_bins).
    val_maps, val_targets: whole maps scored for the choice of epoch (the
        loss over the whole set at once, so batch-level terms see it all).
        None: no validation; exactly `epochs` epochs are trained and kept
        (a final model on every photo, with the epoch count a
        cross-validation chose).
    loss: a Keras loss (y_true, y_pred) -> scalar.
    on_epoch: called with the epoch number (0: the start) once its
        validation loss is known, before any weights are restored (to probe
        the model as each epoch left it).
    """
    import tensorflow as tf

    top = split.top
    targets = np.asarray(targets, np.float32)
    validate = val_maps is not None
    val_targets = np.asarray(val_targets, np.float32) if validate else None
    if len(targets) < batch_size:
        raise DataError(f"need at least batch_size={batch_size} training maps, got {len(targets)}")
    blocks, head = split.block_variables(), split.head_variables()
    opt_blocks = keras.optimizers.Adam(block_lr) if blocks and block_lr > 0 else None
    opt_head = keras.optimizers.Adam(head_lr) if head and head_lr > 0 else None
    trained = (blocks if opt_blocks else []) + (head if opt_head else [])
    if not trained:
        raise ConfigError("fit_top: nothing to train (both learning rates are 0 or no trainable weights)")

    @tf.function(reduce_retracing=True)
    def step(x, y):
        with tf.GradientTape() as tape:
            value = loss(y, top(x, training=True))
        grads = tape.gradient(value, trained)
        nb = len(blocks) if opt_blocks else 0
        if opt_blocks:
            opt_blocks.apply_gradients(zip(grads[:nb], blocks))
        if opt_head:
            opt_head.apply_gradients(zip(grads[nb:], head))
        return value

    def val_loss():
        return float(loss(val_targets, predict_top(top, val_maps))) if validate else float("nan")

    # what an epoch changes: the trained weights and the state of the layers that run in
    # training mode (a head BatchNormalization's moving statistics), restored with the best epoch
    state, seen = [], set()
    for v in trained + [v for layer in split.block_layers + split.head_layers for v in layer.non_trainable_weights]:
        if id(v) not in seen:
            seen.add(id(v))
            state.append(v)

    def snapshot():
        return [np.array(v) for v in state]

    rng = np.random.default_rng(seed)
    losses, train_losses = [val_loss()], []
    if on_epoch:
        on_epoch(0)
    best, best_weights, waited, seconds = 0, snapshot(), 0, []
    for epoch in range(1, epochs + 1):
        t0 = time.time()
        order = rng.permutation(len(targets))
        values = []
        for s in range(0, len(order) - batch_size + 1, batch_size):  # full batches only
            rows = order[s:s + batch_size]
            values.append(float(step(_random_crops(variants, rows, crop, rng), targets[rows])))
        seconds.append(time.time() - t0)
        train_losses.append(float(np.mean(values)))
        losses.append(val_loss())
        if on_epoch:
            on_epoch(epoch)
        if log:
            log(f"epoch {epoch}: train {train_losses[-1]:.4f} val {losses[-1]:.4f} ({seconds[-1]:.0f} s)")
        if not validate:
            best = epoch
        elif losses[-1] < losses[best]:
            best, best_weights, waited = epoch, snapshot(), 0
        else:
            waited += 1
            if waited >= patience:
                break
    if validate:
        for v, w in zip(state, best_weights):
            v.assign(w)
    return TopFit(losses if validate else [], best, float(np.mean(seconds)) if seconds else 0.0, train_losses)
