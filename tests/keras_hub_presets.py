"""Tiny KerasHub presets with random weights, written to a folder (no download):
what a user's `backbone.save_to_preset(DIR)` writes, at test size."""

from pathlib import Path

import numpy as np

WORDS = ("a", "good", "bad", "photo", "high", "low", "quality", "of")


def tiny_bpe():
    """A CLIP-style BPE vocabulary and merges for WORDS: the last character
    of a word carries "</w>"; both halves of every merge are in the
    vocabulary; <|endoftext|> has the largest id (CLIP's text pooler finds the
    end of a prompt by argmax over the token ids)."""
    vocab, merges = {"!": 0}, []
    for word in WORDS:
        symbols = list(word[:-1]) + [word[-1] + "</w>"]
        for s in symbols:
            vocab.setdefault(s, len(vocab))
        current = symbols[0]
        for s in symbols[1:]:
            if f"{current} {s}" not in merges:
                merges.append(f"{current} {s}")
            current += s
            vocab.setdefault(current, len(vocab))
    vocab.setdefault("<|startoftext|>", len(vocab))
    vocab.setdefault("<|endoftext|>", len(vocab))
    return vocab, merges


def tiny_clip_preset(folder, image_size=32, patch=8, hidden=32, projection=16, seed=0) -> Path:
    """A CLIP preset (vision + text encoders, tokenizer, image converter)."""
    import keras
    import keras_hub

    keras.utils.set_random_seed(seed)
    vocab, merges = tiny_bpe()
    vision = keras_hub.models.CLIPVisionEncoder(patch_size=patch, hidden_dim=hidden, num_layers=2, num_heads=2,
                                                intermediate_dim=2 * hidden, image_shape=(image_size, image_size, 3))
    # a freshly built encoder has every position id 0; the released presets hold arange
    vision.embedding.position_ids.assign(np.arange(vision.embedding.num_positions)[None])
    text = keras_hub.models.CLIPTextEncoder(vocabulary_size=len(vocab), embedding_dim=hidden, hidden_dim=hidden,
                                            num_layers=2, num_heads=2, intermediate_dim=2 * hidden,
                                            max_sequence_length=8)
    backbone = keras_hub.models.CLIPBackbone(vision_encoder=vision, text_encoder=text, projection_dim=projection)
    mean, std = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
    converter = keras_hub.layers.CLIPImageConverter(image_size=(image_size, image_size),
                                                   scale=[1 / (255 * s) for s in std],
                                                   offset=[-m / s for m, s in zip(mean, std)])
    tokenizer = keras_hub.models.CLIPTokenizer(vocabulary=vocab, merges=merges)
    preprocessor = keras_hub.models.CLIPPreprocessor(tokenizer=tokenizer, image_converter=converter,
                                                     sequence_length=8)
    folder = Path(folder)
    backbone.save_to_preset(str(folder))
    preprocessor.save_to_preset(str(folder))
    return folder


def tiny_dinov2_preset(folder, image_size=32, patch=8, hidden=32, seed=0) -> Path:
    import keras
    import keras_hub

    keras.utils.set_random_seed(seed)
    backbone = keras_hub.models.DINOV2Backbone(patch_size=patch, num_layers=2, hidden_dim=hidden, num_heads=2,
                                               intermediate_dim=2 * hidden, image_shape=(image_size, image_size, 3),
                                               position_embedding_shape=(image_size, image_size, 3))
    backbone.save_to_preset(str(folder))
    return Path(folder)


def tiny_siglip_vision_preset(folder, image_size=32, patch=8, hidden=32, seed=0) -> Path:
    """A vision-only SigLIP preset (what `vision_encoder.save_to_preset` writes)."""
    import keras
    import keras_hub

    keras.utils.set_random_seed(seed)
    encoder = keras_hub.models.SigLIPVisionEncoder(patch_size=patch, hidden_dim=hidden, num_layers=2, num_heads=2,
                                                   intermediate_dim=2 * hidden,
                                                   image_shape=(image_size, image_size, 3))
    encoder.save_to_preset(str(folder))
    return Path(folder)


def tiny_vit_preset(folder, image_size=32, patch=8, hidden=32, seed=0) -> Path:
    import keras
    import keras_hub

    keras.utils.set_random_seed(seed)
    backbone = keras_hub.models.ViTBackbone(image_shape=(image_size, image_size, 3), patch_size=patch, num_layers=2,
                                            num_heads=2, hidden_dim=hidden, mlp_dim=2 * hidden)
    backbone.save_to_preset(str(folder))
    return Path(folder)
