"""Self-supervised pretext model (issue 3): one encoder, up to four heads.

    image (B, S, S, 3) RGB [0, 255]
      -> BackbonePreprocess ("preprocess")
      -> "backbone": the feature extractor of the downstream model the `model`
         config section names (nima: the bare keras.applications backbone;
         dual_path: its [local, global] extractor; any registered builder
         whose model has a "backbone" sub-model), plus, when the decoder uses
         skips, extra outputs: the last feature map at strides 16, 8, 4, 2
      -> last backbone output (stride 32) -> global average pooling ("pool")
         -> "score":    Dense(1)               ranking score (higher = better)
         -> "kind":     Dense(K, softmax)      degradation kind (K = 17)
         -> "level":    Dense(1, sigmoid)      level / 5
         -> "contrast": Dense(512, relu) -> Dense(D)  projection for the
                        supervised contrastive loss (D = contrastive_dim)
      -> decoder (U-Net style) -> "restored": (B, S, S, 3) in [0, 1], the
         clean crop
    preprocessed image -> "teacher" (a frozen copy of the backbone as it
      starts, e.g. ImageNet) -> pool -> "distill": CosineDistance between
      the backbone's and the teacher's pooled features (B, 1)

Every head is optional (a zero loss weight drops it); the outputs form a dict
keyed as above, all float32 (mixed precision keeps the heads, and so the
losses, in float32). Only standard Keras layers besides
`BackbonePreprocess`, so a pretext checkpoint loads anywhere the package is
importable.

The *scoring model* (`build_scoring_model`, `scoring_model_from_pretext`) is
image -> preprocess -> "backbone" -> pool -> "rank_score" (B, 1): exactly the
downstream builder's "backbone" (fresh build, weights copied by layer name),
so `aesthetics train --init-from` copies it with `transfer_backbone_weights`
and `aesthetics predict` reads the (B, 1) output as a quality score.
"""

from __future__ import annotations

import dataclasses

import keras

from aesthetics.config import ModelConfig, PretrainConfig
from aesthetics.pretext.degrade import DEGRADATION_NAMES
from aesthetics.layers.cosine_distance import CosineDistance
from aesthetics.layers.preprocess import BackbonePreprocess
from aesthetics.models.backbones import backbone_preprocess_mode
from aesthetics.models.nima import image_input
from aesthetics.models.registry import build_graph, build_model
from aesthetics.models.recipe import Recipe
from aesthetics.precision import dtype_policy_scope
from aesthetics.training.weights import copy_weights_by_name, freeze_batchnorm, unfreeze_backbone

SKIP_STRIDES = (16, 8, 4, 2)


def enabled_heads(p: PretrainConfig) -> tuple:
    """Names of the outputs a pretext model built from `p` has."""
    heads = []
    if p.ranking_weight > 0:
        heads.append("score")
    if p.classification_weight > 0:
        heads.append("kind")
    if p.regression_weight > 0:
        heads.append("level")
    if p.decoder and p.reconstruction_weight > 0:
        heads.append("restored")
    if p.contrastive_weight > 0:
        heads.append("contrast")
    if p.distill_weight > 0:
        heads.append("distill")
    return tuple(heads)


def base_feature_extractor(model_config: ModelConfig, image_size: int) -> keras.Model:
    """The "backbone" sub-model of `build_model(model_config)`, on its own.

    Built through the registered builder, so it is exactly what the
    downstream model contains (nima: the keras.applications backbone;
    dual_path: its two-output extractor), with `model_config.backbone_weights`
    loaded. Re-wrapped as a fresh functional model over the same layers so it
    can be used in another model without the builder's head.
    """
    full = build_graph(model_config, image_size=image_size)
    try:
        backbone = full.get_layer("backbone")
    except ValueError:
        raise ValueError(
            f"model {model_config.model!r} has no sub-model named 'backbone'; "
            f"it cannot be pretrained with `aesthetics pretrain`"
        ) from None
    return keras.Model(backbone.inputs, backbone.outputs, name="backbone")


def skip_tensors(backbone: keras.Model, image_size: int, strides=SKIP_STRIDES) -> dict:
    """{stride: tensor}: the last 4-D feature map at image_size / stride,
    for each stride in `strides` the backbone has (padding layers ignored)."""
    by_size = {}
    for layer in backbone.layers:
        if isinstance(layer, (keras.layers.InputLayer, keras.layers.ZeroPadding2D)):
            continue
        try:
            out = layer.output
        except (AttributeError, ValueError):
            continue
        if isinstance(out, (list, tuple)) or len(out.shape) != 4 or out.shape[1] is None:
            continue
        by_size[int(out.shape[1])] = out
    return {s: by_size[image_size // s] for s in strides if image_size // s in by_size}


def _decoder(final, skips: dict, width: int):
    """U-Net-style decoder: 5 x (bilinear 2x upsampling, concat the skip at
    that stride if any, separable 3x3 conv + BN + ReLU), then a 3x3 conv to
    RGB with a float32 sigmoid."""
    channels = {16: 4 * width, 8: 2 * width, 4: width, 2: max(width // 2, 8), 1: max(width // 2, 8)}
    x = keras.layers.Conv2D(4 * width, 1, use_bias=False, name="decoder_in")(final)
    x = keras.layers.BatchNormalization(name="decoder_in_bn")(x)
    x = keras.layers.ReLU(name="decoder_in_relu")(x)
    for stride in (16, 8, 4, 2, 1):
        x = keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"decoder_up{stride}")(x)
        if stride in skips:
            x = keras.layers.Concatenate(name=f"decoder_skip{stride}")([x, skips[stride]])
        x = keras.layers.SeparableConv2D(
            channels[stride], 3, padding="same", use_bias=False, name=f"decoder_conv{stride}"
        )(x)
        x = keras.layers.BatchNormalization(name=f"decoder_bn{stride}")(x)
        x = keras.layers.ReLU(name=f"decoder_relu{stride}")(x)
    return keras.layers.Conv2D(
        3, 3, padding="same", activation="sigmoid", dtype="float32", name="restored"
    )(x)


def _check_size(image_size: int):
    if image_size % 32 or image_size < 32:
        raise ValueError(f"pretrain.crop_size must be a multiple of 32 (>= 32), got {image_size}")


def build_pretext_model(model_config: ModelConfig, p: PretrainConfig) -> keras.Model:
    """The multi-head pretext model for crops of side `p.crop_size`.

    Output: a dict with the `enabled_heads(p)` keys ("score" (B, 1), "kind"
    (B, 17) probabilities, "level" (B, 1) in [0, 1], "restored"
    (B, S, S, 3) in [0, 1], "contrast" (B, contrastive_dim), "distill"
    (B, 1)), all float32.

    `p.trainable_backbone_layers` N: only the backbone's last N layers with
    weights train (the early blocks keep their ImageNet filters).
    """
    S = p.crop_size
    _check_size(S)
    heads = enabled_heads(p)
    if not heads:
        raise ValueError("every pretext head is switched off (all loss weights are 0)")
    base = base_feature_extractor(model_config, S)
    n_base = len(base.outputs)
    skips = skip_tensors(base, S) if ("restored" in heads and p.decoder_skips) else {}
    if skips:
        backbone = keras.Model(
            base.inputs, [*base.outputs, *skips.values()], name="backbone"
        )  # base outputs first: the same weight order as `base`
    else:
        backbone = base
    if p.freeze_batchnorm and model_config.backbone_weights is not None:
        # a random-init backbone has no statistics worth keeping (and with
        # its initial ones the activations vanish): its BatchNorm trains
        freeze_batchnorm(backbone)
    if p.trainable_backbone_layers is not None:
        keep_bn = p.freeze_batchnorm and model_config.backbone_weights is not None
        unfreeze_backbone(backbone, keep_batchnorm_frozen=keep_bn, last_layers=p.trainable_backbone_layers)

    inputs = image_input(S)
    x = BackbonePreprocess(backbone_preprocess_mode(model_config.backbone), name="preprocess")(
        inputs
    )
    feats = backbone(x)
    feats = list(feats) if isinstance(feats, (list, tuple)) else [feats]
    final = feats[n_base - 1]
    skip_feats = dict(zip(skips, feats[n_base:]))
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(final)

    outputs = {}
    if "score" in heads:
        outputs["score"] = keras.layers.Dense(1, dtype="float32", name="rank_score")(pooled)
    if "kind" in heads:
        outputs["kind"] = keras.layers.Dense(
            len(DEGRADATION_NAMES), activation="softmax", dtype="float32", name="kind_probs"
        )(pooled)
    if "level" in heads:
        outputs["level"] = keras.layers.Dense(
            1, activation="sigmoid", dtype="float32", name="level_pred"
        )(pooled)
    if "restored" in heads:
        outputs["restored"] = _decoder(final, skip_feats, p.decoder_width)
    if "contrast" in heads:
        hidden = keras.layers.Dense(512, activation="relu", name="projection_hidden")(pooled)
        outputs["contrast"] = keras.layers.Dense(p.contrastive_dim, dtype="float32", name="projection")(hidden)
    if "distill" in heads:
        base_teacher = base_feature_extractor(model_config, S)
        teacher = keras.Model(base_teacher.inputs, base_teacher.outputs, name="teacher")
        teacher.set_weights(base.get_weights())  # the starting point, also for a random-init backbone
        teacher.trainable = False  # also keeps its BatchNorm in inference mode
        t_feats = teacher(x)
        t_final = t_feats[n_base - 1] if isinstance(t_feats, (list, tuple)) else t_feats
        t_pooled = keras.layers.GlobalAveragePooling2D(name="teacher_pool")(t_final)
        outputs["distill"] = CosineDistance(name="distill")([pooled, t_pooled])
    return keras.Model(inputs, outputs, name="pretext")


def build_scoring_model(model_config: ModelConfig, image_size: int, info=None) -> keras.Model:
    """The recipe-carrying `AestheticsModel` (head "ranking") around
    `build_scoring_graph`: image -> (B, 1) quality score."""
    recipe = Recipe(image_size=int(image_size), resize_to=max(256, int(image_size)), output="score")
    return build_model(model_config, recipe=recipe, head="ranking", info=info)


def build_scoring_graph(model_config: ModelConfig, image_size: int) -> keras.Model:
    """image -> preprocess -> "backbone" -> pool -> "rank_score" (B, 1) float32.

    The backbone is the downstream builder's (see `base_feature_extractor`),
    with `model_config.backbone_weights` loaded.
    """
    _check_size(image_size)
    backbone = base_feature_extractor(model_config, image_size)
    inputs = image_input(image_size)
    x = BackbonePreprocess(backbone_preprocess_mode(model_config.backbone), name="preprocess")(
        inputs
    )
    feats = backbone(x)
    final = feats[-1] if isinstance(feats, (list, tuple)) else feats
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(final)
    score = keras.layers.Dense(1, dtype="float32", name="rank_score")(pooled)
    return keras.Model(inputs, score, name="pretext_scorer")




def scoring_model_from_pretext(pretext: keras.Model, model_config: ModelConfig) -> keras.Model:
    """The single-output scoring model carrying `pretext`'s backbone and
    ranking head (a fresh float32 model; weights copied by layer name)."""
    image_size = int(pretext.input_shape[1])
    with dtype_policy_scope("float32"):
        scorer = build_scoring_model(
            dataclasses.replace(model_config, backbone_weights=None), image_size,
            info={"trained_by": "aesthetics pretrain (self-supervised ranking head)"},
        )
    copy_weights_by_name(pretext.get_layer("backbone"), scorer.get_layer("backbone"))
    try:
        head = pretext.get_layer("rank_score")
    except ValueError:
        head = None  # ranking head switched off: the score stays untrained
    if head is not None:
        scorer.get_layer("rank_score").set_weights(head.get_weights())
    return scorer
