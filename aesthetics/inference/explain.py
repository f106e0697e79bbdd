"""Explanation maps: where in the photo the model looked.

Two kinds of map, both returned as (B, h, w) float32 in [0, 1] on the model's
feature grid (h = w = input size / 16 or / 32):

* "attention": for a dual-path model with attention pooling, the local path's
  `SpatialAttention` softmax map (stride 16), via
  `aesthetics.models.dual_path.attention_model`. It is the actual weighting
  the model used to pool the local features, min-max normalised per image
  (a uniform map, e.g. an untrained zero-init attention, becomes all ones).
* "gradcam": for any other model with a "backbone" sub-model (plain NIMA, or
  a dual-path ablation without attention), Grad-CAM (Selvaraju et al. 2017)
  of the predicted mean score  m = sum_i i * p_i  w.r.t. the backbone's last
  feature map A (B, h, w, K)::

      w_k  = mean over (h, w) of dm/dA_k          (channel importance)
      cam  = ReLU(sum_k w_k A_k), divided by its per-image maximum

  (all zeros where no position raises the score). For a model whose backbone
  has two outputs (dual path) the last one, the stride-32 global map, is used.
* "gradient": for a backbone with no feature map (a KerasHub ViT / CLIP
  encoder outputs a pooled vector), the gradient saliency of the same score
  w.r.t. the pixels, |dm/dx| summed over colours and averaged over 16 x 16
  cells (a ViT's patch grid), divided by its per-image maximum.

Drawing: `upsample_map` makes the grid map smooth at the photo's size
(bicubic, not the grid's blocks); `overlay` blends it, colour-mapped, over
the photo; `render_explanation` draws what `predict --explain` writes, a
figure meant to be read: the photo beside the map over a dimmed grey copy of
it, in a perceptually uniform colormap (inferno: dark = low, bright = high;
jet's bands suggest edges that are not there), with a colorbar and the score
(mean ± std) in the title. `explain_records` does that for the records of
`aesthetics predict` and writes OUT_DIR/<image_id>.png, recording the file as
``record["explanation"]``. The maps are relative (each normalised to its own
peak): they say where a photo's score came from, not how much.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Optional

import numpy as np

from aesthetics.constants import EXPLAIN_METHODS
from aesthetics.errors import ConfigError, ModelFileError

log = logging.getLogger("aesthetics")

METHODS = EXPLAIN_METHODS


# ----------------------------------------------------------------------------- maps


def has_attention(model) -> bool:
    """Whether `model` has a dual-path "local_attention" layer returning its map."""
    try:
        layer = model.get_layer("local_attention")
    except ValueError:
        return False
    return bool(getattr(layer, "return_attention", False))


def resolve_method(model, method: str = "auto") -> str:
    """The method for `model`: "attention", "gradcam" or "gradient" (ValueError if impossible)."""
    if method not in METHODS:
        raise ConfigError(f"unknown explanation method {method!r}; choose one of {METHODS}")
    if method == "auto":
        if has_attention(model):
            return "attention"
        return "gradcam" if _has_feature_map(model) else "gradient"
    if method == "attention" and not has_attention(model):
        raise ModelFileError("the model has no attention map (not a dual_path model with use_attention)")
    return method


def _normalise(maps: np.ndarray, constant_value: float) -> np.ndarray:
    """Per-image min-max to [0, 1]; a constant map becomes `constant_value`."""
    maps = np.asarray(maps, np.float64)
    lo = maps.min(axis=(1, 2), keepdims=True)
    hi = maps.max(axis=(1, 2), keepdims=True)
    span = hi - lo
    flat = span <= 1e-12 * np.maximum(np.abs(hi), 1e-30)
    out = np.where(flat, constant_value, (maps - lo) / np.where(flat, 1.0, span))
    return np.clip(out, 0.0, 1.0).astype(np.float32)


class _Explainer:
    """Caches the derived Keras models for one scoring model."""

    def __init__(self, model, method: str = "auto"):
        import keras

        self.model = model
        self.method = resolve_method(model, method)
        if self.method == "attention":
            from aesthetics.models.dual_path import attention_model

            self._net = attention_model(model)
        elif self.method == "gradient":
            self._net = model
        else:
            features = _backbone_output(model)
            self._net = keras.Model(model.inputs, [features, model.outputs[0]], name="gradcam")

    def __call__(self, images) -> np.ndarray:
        images = np.asarray(images, np.float32)
        if self.method == "attention":
            _, attention = self._net(images, training=False)
            maps = np.asarray(attention, np.float32)[..., 0]
            return _normalise(maps, constant_value=1.0)
        if self.method == "gradient":
            return self._gradient(images)
        return self._gradcam(images)

    def _gradient(self, images, cell: int = 16) -> np.ndarray:
        import tensorflow as tf

        x = tf.convert_to_tensor(images)
        with tf.GradientTape() as tape:
            tape.watch(x)
            target = _score(tf.cast(self._net(x, training=False), tf.float32))
        saliency = tf.reduce_sum(tf.abs(tape.gradient(target, x)), axis=-1, keepdims=True)
        cell = max(1, min(cell, int(x.shape[1]), int(x.shape[2])))
        grid = tf.nn.avg_pool2d(saliency, cell, cell, "VALID").numpy()[..., 0]
        peak = grid.max(axis=(1, 2), keepdims=True)
        return np.where(peak > 0, grid / np.where(peak > 0, peak, 1.0), 0.0).astype(np.float32)

    def _gradcam(self, images) -> np.ndarray:
        import tensorflow as tf

        x = tf.convert_to_tensor(images)
        with tf.GradientTape() as tape:
            features, scores = self._net(x, training=False)
            target = _score(tf.cast(scores, tf.float32))
        grads = tape.gradient(target, features)  # per image: images are independent
        if grads is None:
            raise ModelFileError("the score does not depend on the backbone's last feature map")
        features = tf.cast(features, tf.float32)
        weights = tf.reduce_mean(tf.cast(grads, tf.float32), axis=(1, 2), keepdims=True)
        cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1)).numpy()
        peak = cam.max(axis=(1, 2), keepdims=True)
        return np.where(peak > 0, cam / np.where(peak > 0, peak, 1.0), 0.0).astype(np.float32)


def _score(scores):
    """The mean score m = sum_i i * p_i, or a one-score model's score."""
    import tensorflow as tf

    if scores.shape[-1] == 1:  # a model predicting one quality score
        return scores[:, 0]
    bins = tf.range(1, scores.shape[-1] + 1, dtype=tf.float32)
    return tf.reduce_sum(scores * bins, axis=-1)


def _has_feature_map(model) -> bool:
    try:
        return len(model.get_layer("backbone").outputs[-1].shape) == 4
    except ValueError:
        return True  # Grad-CAM's own error names what is missing


def _backbone_output(model):
    """The symbolic tensor (in `model`'s own graph) of the backbone's last output."""
    try:
        backbone = model.get_layer("backbone")
    except ValueError:
        raise ModelFileError("Grad-CAM needs a model with a sub-model named 'backbone'") from None
    for node in backbone._inbound_nodes:
        outputs = node.output_tensors
        if outputs and _in_graph(model, outputs[-1]):
            return outputs[-1]
    raise ModelFileError("could not find the backbone's output in the model graph")


def _in_graph(model, tensor) -> bool:
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return False
    operation = history[0]
    return any(operation is layer for layer in model.layers)


def explain_maps(model, images, method: str = "auto", batch_size: int = 32) -> np.ndarray:
    """(B, h, w) float32 explanation maps in [0, 1] for `images`.

    images: (B, S, S, 3) float32 RGB in [0, 255] at the model's input size
    (what `score_files` feeds it). method: "auto" (attention when the model
    has it, else Grad-CAM), "attention" or "gradcam".
    """
    explainer = _Explainer(model, method)
    images = np.asarray(images, np.float32)
    parts = [explainer(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, 0, 0), np.float32)


# ----------------------------------------------------------------------------- drawing

DEFAULT_CMAP = "inferno"  # perceptually uniform, dark = low: it reads as "light where it looked"
METHOD_LABELS = {
    "attention": ("attention weight, relative to its peak", "where it looked (attention of the local path)"),
    "gradcam": ("Grad-CAM, relative to its peak", "what raised the score (Grad-CAM)"),
}


def upsample_map(heatmap, height: int, width: int) -> np.ndarray:
    """The (h, w) feature-grid map at H x W: bicubic (pixel centres aligned),
    clipped to [0, 1] (bicubic overshoots slightly at sharp peaks). Smooth,
    not the 7x7 blocks of the grid, which would suggest edges that are not
    in the model."""
    from PIL import Image

    heatmap = np.clip(np.asarray(heatmap, np.float32), 0.0, 1.0)
    if heatmap.ndim != 2:
        raise ValueError(f"heatmap must be (h, w), got {heatmap.shape}")
    big = Image.fromarray(heatmap, "F").resize((int(width), int(height)), Image.BICUBIC)
    return np.clip(np.asarray(big, np.float32), 0.0, 1.0)


def overlay(photo, heatmap, alpha: float = 0.45, cmap: str = DEFAULT_CMAP) -> np.ndarray:
    """Blends a colour-mapped `heatmap` over `photo`.

    photo: (H, W, 3) uint8 RGB; heatmap: (h, w) in [0, 1] covering the whole
    photo. The map is upsampled to H x W (`upsample_map`), coloured with
    `cmap` (a matplotlib colormap; perceptually uniform inferno by default)
    and blended: out = (1 - alpha) * photo + alpha * colour.
    Returns (H, W, 3) uint8 RGB.
    """
    import matplotlib

    photo = np.asarray(photo)
    if photo.ndim != 3 or photo.shape[2] != 3:
        raise ValueError(f"photo must be (H, W, 3), got {photo.shape}")
    if np.asarray(heatmap).ndim != 2:
        raise ValueError(f"heatmap must be (h, w), got {np.asarray(heatmap).shape}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    height, width = photo.shape[:2]
    colour = matplotlib.colormaps[cmap](upsample_map(heatmap, height, width))[..., :3] * 255.0
    out = (1.0 - alpha) * photo.astype(np.float32) + alpha * colour
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _muted(photo: np.ndarray) -> np.ndarray:
    """The photo in dimmed grey: under the colour map its own colours would
    read as heat; its shapes stay visible."""
    grey = photo.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.repeat((40.0 + 0.6 * grey)[..., None], 3, axis=-1).astype(np.uint8)


def score_title(record: Optional[dict]) -> str:
    """"<id>  ·  score 5.31 ± 1.42" (what the figure's title says)."""
    if not record:
        return ""
    name = str(record.get("image_id") or Path(str(record.get("path", ""))).stem)
    mean, std = record.get("mean_score_prediction"), record.get("std_score_prediction")
    if mean is None:
        return name
    score = f"{mean:.2f} ± {std:.2f}" if std is not None else f"{mean:.2f}"
    return f"{name}  ·  score {score}"


def render_explanation(
    photo,
    heatmap,
    title: str = "",
    method: str = "gradcam",
    cmap: str = DEFAULT_CMAP,
    alpha: float = 0.6,
    panel_px: int = 560,
) -> np.ndarray:
    """A figure a person can read: the photo (left) beside the map over a
    dimmed grey copy of it (right), a colorbar saying what the colours mean,
    the title (the file and its score) on top. Rendered with matplotlib's Agg
    canvas (no pyplot state, no display needed).

    photo: (H, W, 3) uint8; heatmap: (h, w) in [0, 1] over the whole photo;
    panel_px: the longest side of each panel in the figure, in pixels.
    Returns the figure as (height, width, 3) uint8 RGB.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    photo = np.asarray(photo)
    if photo.ndim != 3 or photo.shape[2] != 3:
        raise ValueError(f"photo must be (H, W, 3), got {photo.shape}")
    h, w = photo.shape[:2]
    heat = upsample_map(heatmap, h, w)
    colorbar_label, caption = METHOD_LABELS.get(method, ("relative importance", method))
    dpi = 100
    scale = panel_px / max(h, w)
    panel_w, panel_h = w * scale / dpi, h * scale / dpi  # inches
    margin_l, gap, bar_w, bar_gap, margin_r = 0.15, 0.15, 0.16, 0.12, 0.75
    top, bottom = 0.75, 0.35
    fig_w = margin_l + 2 * panel_w + gap + bar_gap + bar_w + margin_r
    fig_h = top + panel_h + bottom
    fig = Figure(figsize=(fig_w, fig_h), dpi=dpi, facecolor="white")
    FigureCanvasAgg(fig)

    def axes(left, width):
        return fig.add_axes([left / fig_w, bottom / fig_h, width / fig_w, panel_h / fig_h])

    left = axes(margin_l, panel_w)
    left.imshow(photo, interpolation="antialiased")
    left.set_title("photo", fontsize=11, color="#333333")
    right = axes(margin_l + panel_w + gap, panel_w)
    right.imshow(_muted(photo), interpolation="antialiased")
    image = right.imshow(heat, cmap=matplotlib.colormaps[cmap], vmin=0.0, vmax=1.0, alpha=alpha,
                         interpolation="antialiased")
    right.set_title(caption, fontsize=11, color="#333333")
    for ax in (left, right):
        ax.set_axis_off()
    bar_ax = axes(margin_l + 2 * panel_w + gap + bar_gap, bar_w)
    bar = fig.colorbar(image, cax=bar_ax)
    bar.solids.set_alpha(1.0)  # the legend shows the colours at full strength
    bar.set_ticks([0.0, 0.5, 1.0], labels=["low", "", "high"])
    bar.ax.tick_params(labelsize=9)
    if panel_h >= 2.5:  # a vertical label longer than a short (panorama) bar would be cut off
        bar.set_label(colorbar_label, fontsize=9)
    if title:
        fig.suptitle(title, x=margin_l / fig_w, y=1 - 0.22 / fig_h, ha="left", va="top",
                     fontsize=14, fontweight="bold")
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def _shrink(photo: np.ndarray, max_side: Optional[int]) -> np.ndarray:
    from PIL import Image

    if not max_side or max(photo.shape[:2]) <= max_side:
        return photo
    h, w = photo.shape[:2]
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(photo).resize(size, Image.BILINEAR))


def _model_input(photo: np.ndarray, path, recipe) -> np.ndarray:
    """The image as `score_files` feeds it, per the model's recipe."""
    size = recipe.image_size
    if recipe.legacy:
        from aesthetics.data.images import load_image_legacy

        return load_image_legacy(path, size).astype(np.float32)
    from aesthetics.data.resize import prepare_photo

    return prepare_photo(photo, recipe).astype(np.float32)


def _seen_region(photo: np.ndarray, recipe) -> np.ndarray:
    """The part of the photo the model sees (its centre for centre-crop
    recipes), so the map is drawn over the pixels it explains."""
    if recipe.legacy or recipe.resize != "center_crop":
        return photo
    h, w = photo.shape[:2]
    frac = recipe.image_size / recipe.resize_to
    ch, cw = max(1, round(h * frac)), max(1, round(w * frac))
    top, left = (h - ch) // 2, (w - cw) // 2
    return photo[top : top + ch, left : left + cw]


def _unique_name(image_id: str, used: set) -> str:
    """A flat file name for an id (`day1/IMG_1` -> `day1__IMG_1`), unique in `used`."""
    image_id = image_id.replace("/", "__").replace("\\", "__")
    name, k = image_id, 1
    while name in used:
        name = f"{image_id}_{k}"
        k += 1
    used.add(name)
    return name


def explain_records(
    model,
    records: list[dict],
    out_dir,
    method: str = "auto",
    batch_size: int = 16,
    legacy: Optional[bool] = None,
    max_pixels: Optional[int] = None,
    max_side: Optional[int] = 1024,
    alpha: Optional[float] = None,
    cmap: str = DEFAULT_CMAP,
    figure: bool = True,
) -> int:
    """Writes OUT_DIR/<image_id>.png for every scored record and sets
    ``record["explanation"]`` to its path. Records with an "error" get no file.

    figure=True (what `predict --explain` writes): `render_explanation`'s
    figure: the photo beside the smooth map over it, a colorbar, the file and
    its score (mean ± std) as the title. figure=False: the bare blend of the
    map over the photo (`overlay`), at the photo's size, for programs that
    want pixels aligned with the photo. alpha: the map's opacity (default 0.6
    in the figure, 0.45 in the bare blend).

    The photo is shrunk to `max_side` (longest side) before drawing. Two files
    with the same stem get <id>.png, <id>_1.png, ... Returns the number of
    files written.
    """
    from PIL import Image

    from aesthetics.data.images import DEFAULT_MAX_PIXELS, ImageDecodeError, load_image
    from aesthetics.models.scorer import recipe_of

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    explainer = _Explainer(model, method)
    recipe = recipe_of(model)
    if legacy is not None:
        recipe = dataclasses.replace(recipe, legacy=bool(legacy))
    used: set = set()
    pending: list = []  # (record, photo for drawing, model input)
    written = 0

    def flush():
        nonlocal written
        if not pending:
            return
        maps = explainer(np.stack([p[2] for p in pending]))
        for (rec, photo, _), heat in zip(pending, maps):
            path = out_dir / f"{_unique_name(rec['image_id'], used)}.png"
            if figure:
                picture = render_explanation(photo, heat, score_title(rec), explainer.method, cmap=cmap,
                                             alpha=0.6 if alpha is None else alpha)
            else:
                picture = overlay(photo, heat, alpha=0.45 if alpha is None else alpha, cmap=cmap)
            Image.fromarray(picture).save(path, optimize=True)
            rec["explanation"] = str(path)
            written += 1
        pending.clear()

    for rec in records:
        if "error" in rec:
            continue
        try:
            # legacy preprocessing ignores EXIF rotation; draw on the same geometry
            photo = load_image(rec["path"], max_pixels=max_pixels or DEFAULT_MAX_PIXELS,
                               exif_transpose=not recipe.legacy)
        except ImageDecodeError as e:
            log.warning("no explanation for %s: %s", rec["path"], e)
            continue
        model_input = _model_input(photo, rec["path"], recipe)
        if pending and model_input.shape != pending[0][2].shape:
            flush()  # native-resolution recipes: one batch per photo size
        pending.append((rec, _shrink(_seen_region(photo, recipe), max_side), model_input))
        if len(pending) >= batch_size:
            flush()
    flush()
    return written


def records_explainer(model, out_dir, batch_size: int = 16, legacy: Optional[bool] = None,
                      max_pixels: Optional[int] = None):
    """Checks that `model` (a Keras scoring model) can be explained and
    returns ``f(records)`` that writes each record's overlay into `out_dir`
    (what `predict --explain` runs on every batch before it is written)."""
    _Explainer(model)  # a model without attention or backbone fails here, before scoring

    def run(records):
        n = explain_records(model, records, out_dir, batch_size=batch_size, legacy=legacy,
                            max_pixels=max_pixels)
        log.info("wrote %d explanation image(s) to %s", n, out_dir)

    return run
