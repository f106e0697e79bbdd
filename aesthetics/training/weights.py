"""Moving weights between models and choosing what trains."""

from __future__ import annotations

import keras

from aesthetics.errors import ModelFileError


def transfer_backbone_weights(source: keras.Model, target: keras.Model) -> int:
    """Copies the weights of `source`'s "backbone" sub-model into `target`'s
    (fine-tuning from a pretrained run). Returns the number of tensors copied."""
    try:
        src, dst = source.get_layer("backbone"), target.get_layer("backbone")
    except ValueError:
        raise ModelFileError("both models need a sub-model named 'backbone'") from None
    src_w, dst_w = src.get_weights(), dst.get_weights()
    if [w.shape for w in src_w] != [w.shape for w in dst_w]:
        raise ModelFileError(
            "the --init-from model's backbone does not match this config's backbone "
            "(different architecture, alpha or input size?)"
        )
    dst.set_weights(src_w)
    return len(src_w)


def transfer_head_weights(source: keras.Model, target: keras.Model) -> int:
    """Copies the weighted layers after the backbone (the score head, e.g.
    "scores") from `source` to the same-named layers of `target`, so training
    starts from what `source` predicts. Returns the number of tensors copied;
    ModelFileError when a layer is missing or its shapes differ (another
    head, pooling or number of bins)."""
    names = [layer.name for layer in target.layers]
    if "backbone" not in names:
        raise ModelFileError("both models need a sub-model named 'backbone'")
    n = 0
    for layer in target.layers[names.index("backbone") + 1:]:
        if not layer.weights:
            continue
        try:
            values = source.get_layer(layer.name).get_weights()
        except ValueError:
            raise ModelFileError(f"the --init-from model has no head layer {layer.name!r}") from None
        if [v.shape for v in values] != [tuple(w.shape) for w in layer.weights]:
            raise ModelFileError(f"the --init-from model's head layer {layer.name!r} has other shapes "
                                 "(different pooling, pool_layers or num_bins?)")
        layer.set_weights(values)
        n += len(values)
    return n


def copy_weights_by_name(source: keras.Model, target: keras.Model) -> int:
    """Copies every weighted layer of `target` from the same-named layer of
    `source` (nested models flattened). Returns the number of tensors copied;
    raises ModelFileError on a missing layer or a shape mismatch."""
    src = {layer.name: layer for layer in source._flatten_layers(include_self=False)}
    n = 0
    for layer in target._flatten_layers(include_self=False):
        if not layer.weights or isinstance(layer, keras.Model):
            continue
        if layer.name not in src:
            raise ModelFileError(f"layer {layer.name!r} is missing from the source model")
        values = src[layer.name].get_weights()
        if [v.shape for v in values] != [tuple(w.shape) for w in layer.weights]:
            raise ModelFileError(f"layer {layer.name!r}: weight shapes differ")
        layer.set_weights(values)
        n += len(values)
    return n


def freeze_batchnorm(model: keras.Model) -> int:
    """Puts every BatchNorm layer inside `model` in inference mode (not
    trained, moving statistics kept). Returns how many there are."""
    n = 0
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
            n += 1
    return n


def unfreeze_backbone(backbone: keras.Model, keep_batchnorm_frozen: bool = True,
                      last_layers=None) -> int:
    """Makes the backbone trainable (NIMA phase 2); returns how many of its
    layers with weights now train. BatchNorm layers can stay frozen: with
    small batches of a small dataset their batch statistics are too noisy to
    replace ImageNet's. `last_layers`: only the last N layers that hold
    weights train (counted in the backbone's order, BatchNorm included);
    None: all of them."""
    backbone.trainable = True
    if keep_batchnorm_frozen:
        freeze_batchnorm(backbone)
    layers = [layer for layer in backbone._flatten_layers(include_self=False)
              if layer.weights and not layer._flatten_layers(include_self=False)]
    if last_layers is not None:
        for layer in layers[:max(0, len(layers) - int(last_layers))]:
            layer.trainable = False
    return sum(1 for layer in layers if layer.trainable)
