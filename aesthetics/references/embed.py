"""Content and style embeddings of photos, from a scoring model's backbone.

    content = L2-normalised global average of the backbone's last feature map
    style   = L2-normalised [mean, std] over positions of an early feature map
              (per channel: the statistics AdaIN and style transfer call style)

Photos are prepared as the embedder model's recipe says (native resolution
for the shipped CLIVE models), by the scoring loop `predict` runs, so a
photo gets the same embedding whichever command computes it. An index and
its queries must use the same embedder: `Embedder.recipe` names the model (a
shipped name, or a file with its sha256) and the layers, and the index keeps
it (`ReferenceIndex.embedding`).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Optional, Sequence

import keras
import numpy as np

from aesthetics.errors import ConfigError, InputNotFoundError

# the style layer of known backbones (found by layer name): a stride-8 map, where
# colour and texture statistics are still local (VGG's relu3_1 in style transfer)
STYLE_LAYERS = (
    "conv_pw_5_relu",  # MobileNet v1 (and its Keras 2.1 variant)
    "block_5_add",  # MobileNetV2
    "conv3_block4_out",  # ResNet50
    "block3_conv3",  # VGG16
)
EMBEDDER_FILE = "embedder.keras"


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_style_layer(backbone) -> str:
    """The first of `STYLE_LAYERS` the backbone has, else the layer a third of
    the way through its 4-D outputs (an early map)."""
    name = getattr(backbone, "name", "")
    names = {l.name for l in backbone.layers}
    for layer in STYLE_LAYERS:
        if layer in names:
            return layer
    mapped = [l.name for l in backbone.layers[1:] if len(getattr(l.output, "shape", ())) == 4]
    if not mapped:
        raise ConfigError(f"backbone {name!r} has no feature maps to take style statistics from")
    return mapped[len(mapped) // 3]


def embedding_model(model, style_layer: Optional[str] = None) -> tuple[keras.Model, dict]:
    """image (B, H, W, 3) in [0, 255] -> [content, style] concatenated (B,
    Dc + Ds), each part L2-normalised; and the layers/dimensions used."""
    try:
        backbone = model.get_layer("backbone")
        preprocess = model.get_layer("preprocess")
    except ValueError:
        raise ConfigError("reference embeddings need a model with 'preprocess' and 'backbone' layers "
                          "(the shipped models and every model `aesthetics train` builds have them)") from None
    style_layer = style_layer or default_style_layer(backbone)
    try:
        style_map = backbone.get_layer(style_layer).output
    except ValueError:
        raise ConfigError(f"style_layer: the backbone has no layer {style_layer!r}") from None
    content_map = backbone.outputs[-1]
    inner = keras.Model(backbone.inputs, [content_map, style_map], name="embedding_backbone")
    image = keras.Input((None, None, 3), name="image")
    content, style = inner(preprocess(image))
    content = keras.ops.mean(keras.ops.cast(content, "float32"), axis=(1, 2))
    style = keras.ops.cast(style, "float32")
    mean = keras.ops.mean(style, axis=(1, 2))
    std = keras.ops.sqrt(keras.ops.maximum(keras.ops.var(style, axis=(1, 2)), 0.0) + 1e-6)
    style = keras.ops.concatenate([mean, std], axis=-1)

    def unit(x):
        return x / keras.ops.maximum(keras.ops.norm(x, axis=-1, keepdims=True), 1e-30)  # only 0 stays 0

    out = keras.ops.concatenate([unit(content), unit(style)], axis=-1)
    layers = {"content_layer": content_map._keras_history[0].name, "style_layer": style_layer,
              "content_dim": int(content_map.shape[-1]), "style_dim": 2 * int(style_map.shape[-1])}
    return keras.Model(image, out, name="embedder"), layers


class Embedder:
    """Embeds photos (files or decoded RGB arrays) with a model's backbone.

    Args:
        model: a shipped model's name or alias, or a `.keras` file (loaded);
            or a loaded Keras model with `source` naming it.
        style_layer: the backbone layer whose statistics are the style
            vector (None: `default_style_layer`).
        batch_size: photos per model call.
    """

    def __init__(self, model, style_layer: Optional[str] = None, batch_size: int = 8, source=None):
        from aesthetics.models.scorer import recipe_of

        if isinstance(model, (str, Path)):
            model, source = _load(model)
        self.model_source = source or {"model": getattr(model, "name", "model")}
        self.keras_model = model
        self.network, layers = embedding_model(model, style_layer)
        self.model_recipe = recipe_of(model)
        self.batch_size = batch_size
        self.recipe = {**self.model_source, **layers}  # what an index stores as its "embedding"

    @property
    def dims(self) -> tuple[int, int]:
        return self.recipe["content_dim"], self.recipe["style_dim"]

    def split(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dc = self.dims[0]
        return vectors[:, :dc], vectors[:, dc:]

    def embed_paths(self, paths: Sequence, max_pixels: Optional[int] = None, workers: Optional[int] = None):
        """(vectors (N_ok, Dc + Ds), indices of `paths` embedded, {path: reason})."""
        from aesthetics.inference.scoring import as_scorer, output_rows

        return output_rows(as_scorer(self.network, self.model_recipe), list(paths), batch_size=self.batch_size,
                           workers=workers or 2, max_pixels=max_pixels, width=sum(self.dims))

    def embed_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """(N, Dc + Ds) for decoded RGB uint8 photos (prepared by the recipe)."""
        from aesthetics.data.resize import prepare_photo
        from aesthetics.inference.batching import pixel_batches

        prepared = [prepare_photo(img, self.model_recipe).astype(np.float32) for img in images]
        out = np.zeros((len(prepared), sum(self.dims)), np.float32)
        for run in pixel_batches(prepared, self.batch_size, None):
            batch = np.stack([prepared[k] for k in run])
            out[list(run)] = np.asarray(self.network.predict_on_batch(batch), np.float32)
        return out

    def keep_with_index(self, folder) -> None:
        """A file embedder is copied into the index folder, so the index keeps
        working when the original moves (a shipped one is named, not copied)."""
        path = self.model_source.get("path")
        if path is not None:
            target = Path(folder) / EMBEDDER_FILE
            if not target.exists() or file_sha256(target) != self.model_source["model_sha256"]:
                shutil.copyfile(path, target)


def _load(model) -> tuple[keras.Model, dict]:
    """A model name/path -> (loaded model, its source record)."""
    from aesthetics.inference.loading import load_model
    from aesthetics.zoo import resolve_model

    resolved = resolve_model(str(model), "keras", need_keras=True, what="embedder model")
    sha = file_sha256(resolved.path)
    if resolved.shipped:
        source = {"model": resolved.name, "model_sha256": sha}
    else:
        source = {"model": EMBEDDER_FILE, "model_sha256": sha, "path": str(resolved.path)}
    return load_model(resolved.path), source


def index_embedder(embedding: dict, folder, style_layer_check: bool = True) -> "Embedder":
    """The embedder an index was built with (its `embedding` record): a shipped
    model by name, or the index folder's embedder.keras; its sha256 must match."""
    name = embedding.get("model")
    if not name:
        raise ConfigError(f"{folder}: the index does not say which model embedded it")
    path = Path(folder) / EMBEDDER_FILE if name == EMBEDDER_FILE else name
    if name == EMBEDDER_FILE and not Path(path).is_file():
        raise InputNotFoundError(f"{folder}: the index's embedder model ({EMBEDDER_FILE}) is missing")
    embedder = Embedder(path, style_layer=embedding.get("style_layer"))
    if embedder.recipe["model_sha256"] != embedding.get("model_sha256"):
        raise ConfigError(f"{folder}: the index was embedded by {name} with sha256 "
                          f"{str(embedding.get('model_sha256'))[:12]}…, this one is "
                          f"{embedder.recipe['model_sha256'][:12]}… (another version): rebuild the index")
    for key in ("content_layer", "style_layer", "content_dim", "style_dim"):
        if style_layer_check and embedding.get(key) != embedder.recipe.get(key):
            raise ConfigError(f"{folder}: the index's {key} is {embedding.get(key)!r}, the embedder "
                              f"gives {embedder.recipe.get(key)!r}")
    return embedder


def public_recipe(recipe: dict) -> dict:
    """The embedding record an index stores (no local path)."""
    return {k: v for k, v in recipe.items() if k != "path"}
