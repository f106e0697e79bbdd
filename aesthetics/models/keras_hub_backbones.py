"""KerasHub vision encoders (CLIP, SigLIP, DINOv2, ViT) as backbones.

A config names the family in `model.backbone` ("clip", "siglip", "dinov2",
"vit") and the weights in `model.backbone_preset`: a local preset folder
(`backbone.save_to_preset(DIR)` in KerasHub: config.json, metadata.json,
model.weights.h5, ...) or a KerasHub preset name, which KerasHub downloads
once online (offline, it fails with a message naming the folder to pass).

The backbone built here maps preprocessed pixels (the family's
normalisation is `BackbonePreprocess` mode, inside the scoring model) to a
pooled image vector, (B, D):

    clip     the CLS token after the final layer norm; with
             `clip_projection` the projected, CLIP-space image embedding
    siglip   the attention-pooled vector of the SigLIP head
    dinov2   [CLS, mean of the patch tokens] (2 x hidden, as DINOv2's linear probes)
    vit      the CLS token

The encoder's own config (KerasHub serialisation) is kept with the scoring
model (`ModelConfig.backbone_config`), so a saved `.keras` file loads and
scores without the preset folder; the input size is the preset's image size
(position embeddings are learnt for it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import keras

from aesthetics.errors import ConfigError, InputNotFoundError, WeightsUnavailableError

FAMILIES = {  # backbone name -> the KerasHub classes a preset of it may hold (the full model first)
    "clip": ("CLIPBackbone", "CLIPVisionEncoder"),
    "siglip": ("SigLIPBackbone", "SigLIPVisionEncoder"),
    "dinov2": ("DINOV2Backbone",),
    "vit": ("ViTBackbone",),
}


def keras_hub():
    try:
        import keras_hub as hub
    except ImportError:
        raise ConfigError("KerasHub backbones need keras-hub: pip install 'aesthetics[clip]'") from None
    return hub


def _family(name: str) -> str:
    if name not in FAMILIES:
        raise ConfigError(f"model.backbone: {name!r} is not a KerasHub family ({', '.join(FAMILIES)})")
    return name


def load_preset_backbone(preset: str, family: str, load_weights: bool = True):
    """The KerasHub backbone of `preset` (a folder or a preset name)."""
    hub = keras_hub()
    cls = getattr(hub.models, FAMILIES[_family(family)][0])
    local = Path(preset).expanduser()
    if preset is None:
        raise ConfigError("model.backbone_preset: give the KerasHub preset folder (or preset name)")
    if local.exists() and not (local / "config.json").is_file():
        raise InputNotFoundError(f"model.backbone_preset: {local} is not a KerasHub preset folder (no config.json)")
    source = str(local) if local.exists() else preset
    try:
        backbone = hub.models.Backbone.from_preset(source, load_weights=load_weights)
    except OSError as e:  # requests' ConnectionError is an OSError: no network
        raise WeightsUnavailableError(
            f"model.backbone_preset: cannot download KerasHub preset {preset!r} (no network?): {e}. "
            f"Online, run `keras_hub.models.{cls.__name__}.from_preset({preset!r}).save_to_preset('DIR')` "
            f"once, then pass model.backbone_preset: DIR (a local folder works offline)") from None
    except ValueError as e:
        if "Unknown preset" in str(e) or "no config.json" in str(e):
            raise InputNotFoundError(f"model.backbone_preset: {preset!r} is neither a folder nor a KerasHub "
                                     f"preset name ({str(e)[:200]})") from None
        raise
    if type(backbone).__name__ not in FAMILIES[family]:
        raise ConfigError(f"model.backbone_preset: {preset} holds a {type(backbone).__name__}, not a {family} "
                          f"backbone ({' or '.join(FAMILIES[family])})")
    return backbone


def encoder_of(backbone, family: str):
    """The image encoder inside a KerasHub backbone (a full CLIP or SigLIP
    holds one beside its text encoder; a vision-only preset, DINOv2 and ViT
    are one)."""
    return getattr(backbone, "vision_encoder", None) or backbone


def encoder_config(encoder) -> dict:
    """A JSON-able record of the encoder that rebuilds it (`encoder_from_config`)."""
    return keras.saving.serialize_keras_object(encoder)


def encoder_from_config(config: dict):
    """The encoder a saved model's record describes (a broken record: ModelFileError)."""
    from aesthetics.errors import ModelFileError

    keras_hub()  # registers KerasHub's classes
    try:
        return keras.saving.deserialize_keras_object(config)
    except Exception as e:  # noqa: BLE001 - any malformed record
        raise ModelFileError(f"model.backbone_config: cannot rebuild the KerasHub encoder "
                             f"({type(e).__name__}: {str(e)[:200]})") from None


def image_size_of(encoder) -> int:
    shape = getattr(encoder, "image_shape", None) or encoder.inputs[0].shape[1:]
    if isinstance(encoder.input, dict):
        shape = encoder.input["images"].shape[1:]
    size = shape[0]
    if size is None or shape[0] != shape[1]:
        raise ConfigError(f"model.backbone_preset: a KerasHub encoder with a fixed square input is needed, "
                          f"got {tuple(shape)}")
    return int(size)


def build_hub_backbone(family: str, image_size: Optional[int], preset: Optional[str] = None,
                       config: Optional[dict] = None, load_weights: bool = True,
                       projection: bool = True) -> keras.Model:
    """(B, S, S, 3) preprocessed pixels -> (B, D) pooled vector, named
    "backbone"; from `config` (a saved model's encoder record) or `preset`.
    `projection`: CLIP's vector is its projected image embedding (the space
    its text embeddings share; what LAION's predictor reads), else the CLS.
    `image_size` None: the preset's own size; another size is refused (the
    position embeddings are learnt for the preset's)."""
    family = _family(family)
    projection_layer = None
    if config is not None:
        if not isinstance(config, dict) or not isinstance(config.get("encoder"), dict):
            from aesthetics.errors import ModelFileError

            raise ModelFileError("model.backbone_config: not a KerasHub encoder record")
        encoder = encoder_from_config(config["encoder"])
        if config.get("projection"):
            projection_layer = keras.saving.deserialize_keras_object(config["projection"])
    elif preset is not None:
        hub_backbone = load_preset_backbone(preset, family, load_weights=load_weights)
        encoder = encoder_of(hub_backbone, family)
        if projection and family == "clip" and hasattr(hub_backbone, "vision_projection"):
            projection_layer = hub_backbone.vision_projection  # a vision-only preset has none: the CLS
    else:
        raise ConfigError(f"model.backbone_preset: backbone {family!r} comes from a KerasHub preset; give its "
                          "folder (or a KerasHub preset name)")
    size = image_size_of(encoder)
    if image_size is not None and int(image_size) != size:
        raise ConfigError(f"data.image_size: the {family} preset takes {size} x {size} photos, not {image_size} "
                          f"(set data.image_size: {size})")
    pixels = keras.Input((size, size, 3), name="pixels")
    out = encoder({"images": pixels}) if isinstance(encoder.input, dict) else encoder(pixels)
    if family == "clip":
        pooled = out[:, 0, :]  # CLS after the final layer norm (CLIP's vision pooler)
        if projection_layer is not None:
            pooled = projection_layer(pooled)
    elif family == "siglip":
        pooled = out  # its attention-pooling head
    elif family == "dinov2":
        patches = out[:, 1 + getattr(encoder, "num_register_tokens", 0):, :]
        pooled = keras.layers.Concatenate(name="cls_and_patches")([out[:, 0, :], keras.ops.mean(patches, axis=1)])
    else:
        pooled = out[:, 0, :]
    model = keras.Model(pixels, pooled, name="backbone")
    model.hub_config = {"family": family, "encoder": encoder_config(encoder),
                        "projection": keras.saving.serialize_keras_object(projection_layer)
                        if projection_layer is not None else None}
    return model
