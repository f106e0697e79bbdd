"""Zero-shot quality from CLIP: antonym prompts, no training (CLIP-IQA).

Wang, Chan and Loy (CLIP-IQA, AAAI 2023): the image embedding is compared
with the text embeddings of a pair of antonym prompts ("Good photo." /
"Bad photo."); the softmax over the two cosine logits (times CLIP's logit
scale) is the probability that the photo is good. The score here is that
probability on the 1..10 scale of the other models: ``1 + 9 * p(first prompt)``.

The text side runs once, when the model is built: the normalised prompt
embeddings times the logit scale become the kernel of a bias-free Dense
layer ("prompt_logits"), so the saved model is image -> (B, 1) score with
no text encoder, and exports (SavedModel, ONNX, TFLite) like any other.

    aesthetics zero-shot --preset CLIP_PRESET_DIR --output clip_iqa.keras
    aesthetics predict photos/ --model clip_iqa.keras
"""

from __future__ import annotations

from typing import Optional, Sequence

import keras
import numpy as np

from aesthetics.config import ModelConfig
from aesthetics.errors import ConfigError
from aesthetics.layers.preprocess import BackbonePreprocess
from aesthetics.models.backbones import backbone_preprocess_mode, build_backbone

DEFAULT_PROMPTS = ("Good photo.", "Bad photo.")


def prompt_embeddings(preset: str, prompts: Sequence[str]) -> tuple[np.ndarray, float]:
    """(the prompts' L2-normalised CLIP text embeddings (P, E), CLIP's logit scale)."""
    from aesthetics.models.keras_hub_backbones import keras_hub, load_preset_backbone

    hub = keras_hub()
    backbone = load_preset_backbone(preset, "clip")
    if not hasattr(backbone, "get_text_embeddings"):
        raise ConfigError(f"--preset {preset}: a vision-only CLIP preset; zero-shot scoring needs the text "
                          "encoder too (save the whole CLIPBackbone)")
    try:
        preprocessor = hub.models.CLIPPreprocessor.from_preset(str(preset))
    except (ValueError, OSError) as e:
        raise ConfigError(f"--preset {preset}: no CLIP tokenizer in the preset ({str(e)[:200]}); zero-shot "
                          "scoring needs the text side (save the preprocessor with the backbone)") from None
    text = np.asarray(backbone.get_text_embeddings(token_ids_of(preprocessor, prompts)), np.float64)
    text /= np.maximum(np.linalg.norm(text, axis=1, keepdims=True), 1e-12)
    scale = float(np.exp(np.asarray(backbone.clip_head.logit_scale)))
    return text.astype(np.float32), scale


def token_ids_of(preprocessor, prompts: Sequence[str]) -> np.ndarray:
    """(P, sequence_length) int32: start, the prompt's tokens, end, padding
    (the end token where the preset pads with it, as the released CLIPs do)."""
    tokenizer = preprocessor.tokenizer
    length = int(preprocessor.sequence_length)
    pad = tokenizer.end_token_id if getattr(preprocessor, "pad_with_end_token", False) else tokenizer.pad_token_id
    rows = []
    for prompt in prompts:
        ids = [int(i) for i in np.asarray(tokenizer(prompt.lower())).reshape(-1)]
        ids = [tokenizer.start_token_id] + ids[:length - 2] + [tokenizer.end_token_id]
        rows.append(ids + [pad] * (length - len(ids)))
    return np.array(rows, dtype=np.int32)


def build_clip_zero_shot(config: ModelConfig, image_size: Optional[int] = None) -> keras.Model:
    """image (B, S, S, 3) in [0, 255] -> (B, 1) score in [1, 10]. Built from the
    preset (the prompts' embeddings computed now) or, when the model is
    loaded, from its saved encoder record (the prompt kernel comes from the file)."""
    from aesthetics.catalog import MODELS

    options = MODELS.get("clip_zero_shot").resolve_options(config.options, "model.options")
    prompts = options["prompts"]
    if config.backbone != "clip":
        raise ConfigError(f"model.backbone: zero-shot scoring needs a CLIP backbone, got {config.backbone!r}")
    backbone = build_backbone("clip", (image_size, image_size, 3), weights=config.backbone_weights,
                              preset=config.backbone_preset, hub_config=config.backbone_config)
    size = backbone.inputs[0].shape[1]
    inputs = keras.Input((size, size, 3), name="image", dtype="float32")
    x = BackbonePreprocess(backbone_preprocess_mode("clip"), name="preprocess")(inputs)
    embedding = keras.layers.UnitNormalization(name="image_embedding")(backbone(x))
    prompt_logits = keras.layers.Dense(len(prompts), use_bias=False, dtype="float32", name="prompt_logits")
    logits = prompt_logits(embedding)
    if config.backbone_config is None:  # a fresh build: the text side, once
        text, scale = prompt_embeddings(config.backbone_preset, prompts)
        prompt_logits.set_weights([(text * scale).T])
    probabilities = keras.layers.Softmax(dtype="float32", name="prompt_probabilities")(logits)
    score = keras.layers.Dense(1, dtype="float32", name="scores", trainable=False,
                               kernel_initializer=keras.initializers.Constant(
                                   [[9.0]] + [[0.0]] * (len(prompts) - 1)),
                               bias_initializer=keras.initializers.Constant(1.0))(probabilities)
    return keras.Model(inputs, score, name="clip_zero_shot")
