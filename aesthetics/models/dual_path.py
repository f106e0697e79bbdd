"""Dual-path aesthetics model: a local (detail) path and a global (layout) path.

One shared backbone gives two feature maps:

* local path: a higher-resolution intermediate map (stride 16) -> 1x1 conv
  reduction (+BN+ReLU) -> `SpatialAttention` pooling (a learned saliency map);
* global path: the deepest map (stride 32) -> `NonLocalBlock` x n (long-range
  context between regions) -> global average pooling;
* fusion: `AdaptiveFusion` (AdaIN/FiLM: the global vector predicts a
  per-channel scale and shift for the local features) -> concatenated with the
  global vector -> the NIMA score head (dropout + 10-bin softmax).

Config (``"model": {"model": "dual_path", "options": {...}}``), all optional:

    use_local_path (true)     false: global path only (NIMA + non-local).
    use_attention (true)      false: global average pooling on the local path.
    use_adain (true)          false: plain concatenation of the two vectors.
    use_non_local (true)      false: no non-local blocks on the global path.
    non_local_blocks (1)      how many non-local blocks are stacked.
    non_local_inter_channels (null -> C // 2)
    non_local_subsample (false)  max-pool keys/values 2x (worth it only on
                              maps much larger than 7x7, i.e. inputs >> 224).
    non_local_bn (false)      zero-gamma BN after W instead of a zero W.
    local_layer (null)        backbone layer whose output is the local map;
                              null -> `LOCAL_LAYERS[backbone]`, or for a
                              backbone not in that table, the last layer with a
                              larger spatial size than the final map. The form
                              "name:input" takes that layer's input instead.
    local_channels (null -> min(256, C_local))  width after the 1x1 reduction.
    attention_hidden (null -> local_channels // 2)  SpatialAttention hidden width.
    adain_on ("vector")       "vector": AdaptiveFusion on the attention-pooled
                              local vector (FiLM); "map": AdaIN on the reduced
                              local map before attention pooling, so the global
                              context also steers the saliency map (needs
                              use_attention: average pooling of an
                              instance-normalised map is just beta(s)).
    fusion_normalize_style (false)  layer-normalise the global vector before
                              it predicts the fusion's scale and shift
                              (`AdaptiveFusion(normalize_style=True)`).
    feature_norm (false)      LayerNormalization ("feature_norm") of the
                              vector the score head sees, so its logits stay
                              bounded however large the global vector grows.

Unknown option keys are an error. Layer names the training code and helpers
rely on: "backbone" (a sub-model with two outputs [local map, global map], or
one output when use_local_path is false), "local_attention", "fusion",
"scores" (the single model output, (B, num_bins) float32).
"""

from __future__ import annotations

import keras

from aesthetics.catalog import MODELS
from aesthetics.config import ModelConfig
from aesthetics.errors import ConfigError, ModelFileError
from aesthetics.layers.adaptive_fusion import AdaptiveFusion
from aesthetics.layers.non_local import NonLocalBlock
from aesthetics.layers.preprocess import BackbonePreprocess
from aesthetics.layers.spatial_attention import SpatialAttention
from aesthetics.models.backbones import (
    backbone_preprocess_mode,
    build_backbone,
    canonical_backbone_name,
)
from aesthetics.models.nima import image_input, score_head

# Backbone -> layer giving the local (stride 16) feature map: the last layer
# before the final stride-2 stage. "name:input" means that layer's input
# (ConvNeXt's residual adds are ops, not named layers).
LOCAL_LAYERS = {
    "mobilenet": "conv_pw_11_relu",
    "mobilenet_keras21": "conv_pw_11_relu",
    "mobilenet_v2": "block_13_expand_relu",
    "mobilenet_v3_small": "expanded_conv_7_add",
    "mobilenet_v3_large": "expanded_conv_11_add",
    "efficientnet_b0": "block6a_expand_activation",
    "efficientnet_b1": "block6a_expand_activation",
    "efficientnet_b2": "block6a_expand_activation",
    "efficientnet_v2_b0": "block6a_expand_activation",
    "resnet50": "conv4_block6_out",
    "resnet50_v2": "conv4_block6_preact_relu",
    "inception_v3": "mixed7",
    "inception_resnet_v2": "block17_20_ac",
    "xception": "block13_sepconv2_act",
    "densenet121": "pool4_relu",
    "convnext_tiny": "convnext_tiny_downsampling_block_2:input",
    "vgg16": "block5_conv3",
}

def resolve_options(options: dict | None) -> dict:
    """The defaults merged with `options`, checked against dual_path's schema
    in `aesthetics.catalog` (unknown keys are an error naming the key)."""
    return MODELS.get("dual_path").resolve_options(options, "model.options")


def _local_tensor(backbone: keras.Model, backbone_name: str, local_layer=None):
    """The symbolic tensor of the backbone's local (higher-resolution) map."""
    spec = local_layer or LOCAL_LAYERS.get(canonical_backbone_name(backbone_name))
    if spec is None:
        return _fallback_local_tensor(backbone)
    name, _, which = spec.partition(":")
    try:
        layer = backbone.get_layer(name)
    except ValueError as e:
        raise ConfigError(
            f"dual_path: backbone {backbone_name!r} has no layer {name!r} "
            f"(model.options.local_layer)"
        ) from e
    if which not in ("", "output", "input"):
        raise ConfigError(f"dual_path: local_layer {spec!r}: suffix must be :input or :output")
    tensor = layer.input if which == "input" else layer.output
    if isinstance(tensor, (list, tuple)) or len(tensor.shape) != 4:
        raise ConfigError(
            f"dual_path: local_layer {spec!r} must give one (B, H, W, C) map, "
            f"got {getattr(tensor, 'shape', tensor)}"
        )
    return tensor


def _fallback_local_tensor(backbone: keras.Model):
    """The last non-padding layer with a larger spatial size than the final map."""
    final_h = backbone.output.shape[1]
    for layer in reversed(backbone.layers):
        if isinstance(layer, keras.layers.ZeroPadding2D):
            continue
        out = layer.output
        if isinstance(out, (list, tuple)) or len(out.shape) != 4:
            continue
        if out.shape[1] is not None and final_h is not None and out.shape[1] > final_h:
            return out
    raise ConfigError(
        "dual_path: could not find a local feature map; set model.options.local_layer"
    )


def build_feature_extractor(
    config: ModelConfig, image_size: int, local_layer=None, with_local=True
) -> keras.Model:
    """The shared backbone as one model named "backbone".

    Outputs [local map (stride 16), global map (stride 32)], or only the
    global map when `with_local` is False. Weights (`config.backbone_weights`:
    "imagenet", None or a local file) are loaded by `build_backbone`.
    """
    backbone = build_backbone(
        config.backbone,
        (image_size, image_size, 3),
        weights=config.backbone_weights,
        alpha=config.alpha,
    )
    if not with_local:
        return backbone
    local = _local_tensor(backbone, config.backbone, local_layer)
    return keras.Model(backbone.inputs, [local, backbone.outputs[0]], name="backbone")


def build_dual_path(config: ModelConfig, image_size: int = 224) -> keras.Model:
    """Builds the dual-path model (see the module docstring for the options).

    Input: (batch, image_size, image_size, 3) float32 RGB in [0, 255].
    Output: "scores", (batch, num_bins) float32 probabilities over scores
    1..num_bins. `attention_model(model)` adds the local attention map.
    """
    opts = resolve_options(config.options)
    inputs = image_input(image_size)
    x = BackbonePreprocess(backbone_preprocess_mode(config.backbone), name="preprocess")(
        inputs
    )
    extractor = build_feature_extractor(
        config, image_size, opts["local_layer"], with_local=opts["use_local_path"]
    )
    if opts["use_local_path"]:
        local_map, global_map = extractor(x)
    else:
        local_map, global_map = None, extractor(x)

    # global path
    g = global_map
    if opts["use_non_local"]:
        for i in range(opts["non_local_blocks"]):
            g = NonLocalBlock(
                inter_channels=opts["non_local_inter_channels"],
                subsample=opts["non_local_subsample"],
                use_bn=opts["non_local_bn"],
                name=f"non_local_{i}",
            )(g)
    global_vec = keras.layers.GlobalAveragePooling2D(name="global_pool")(g)

    if not opts["use_local_path"]:
        features = global_vec
    else:
        channels = opts["local_channels"] or min(256, int(local_map.shape[-1]))
        h = keras.layers.Conv2D(channels, 1, use_bias=False, name="local_reduce")(local_map)
        h = keras.layers.BatchNormalization(name="local_reduce_bn")(h)
        h = keras.layers.ReLU(name="local_reduce_relu")(h)
        adain_map = opts["use_adain"] and opts["adain_on"] == "map"
        if adain_map:
            h = AdaptiveFusion(normalize_style=opts["fusion_normalize_style"], name="fusion")([h, global_vec])
        if opts["use_attention"]:
            local_vec, _ = SpatialAttention(
                hidden_units=opts["attention_hidden"],
                return_attention=True,  # the map stays reachable for attention_model
                name="local_attention",
            )(h)
        else:
            local_vec = keras.layers.GlobalAveragePooling2D(name="local_pool")(h)
        if opts["use_adain"] and not adain_map:
            local_vec = AdaptiveFusion(normalize_style=opts["fusion_normalize_style"],
                                       name="fusion")([local_vec, global_vec])
        features = keras.layers.Concatenate(name="fuse_concat")([local_vec, global_vec])

    if opts["feature_norm"]:
        features = keras.layers.LayerNormalization(name="feature_norm")(features)
    outputs = score_head(features, config.num_bins, config.dropout)
    return keras.Model(inputs, outputs, name="dual_path")


def attention_model(model: keras.Model) -> keras.Model:
    """A model sharing `model`'s weights with outputs [scores, attention_map].

    attention_map: (B, h, w, 1) float32, the local path's softmax saliency
    over the stride-16 grid (sums to 1 per example); upsample it to overlay on
    the image. Raises ModelFileError for models without attention pooling.
    """
    try:
        layer = model.get_layer("local_attention")
    except ValueError:
        raise ModelFileError(
            "model has no 'local_attention' layer (not a dual_path model, or "
            "built with use_local_path/use_attention false)"
        ) from None
    outputs = layer.output
    if not isinstance(outputs, (list, tuple)) or len(outputs) != 2:
        raise ModelFileError("'local_attention' was not built with return_attention=True")
    attention = keras.layers.Identity(name="attention_map", dtype="float32")(outputs[1])
    return keras.Model(model.input, [model.outputs[0], attention], name=f"{model.name}_attention")
