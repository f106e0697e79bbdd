"""In-graph pieces of the SavedModel: encoded bytes -> the pixels `predict`
feeds the model, and model output -> named score tensors."""

from __future__ import annotations

# First bytes of the formats the bytes signature decodes (tf.io.decode_image).
_MAGIC = {
    "JPEG": [b"\xff\xd8\xff"],
    "PNG": [b"\x89PNG\r\n\x1a\n"],
    "GIF": [b"GIF87a", b"GIF89a"],
    "BMP": [b"BM"],
}


def score_outputs(pred, scalar: bool):
    """Model output -> {"mean_score", "std_score", "distribution"} (float32)."""
    import tensorflow as tf

    if isinstance(pred, (list, tuple)):
        pred = pred[0]
    pred = tf.cast(pred, tf.float32)
    if scalar:
        return {"mean_score": tf.reshape(pred, [-1])}
    bins = tf.range(1, tf.shape(pred)[-1] + 1, dtype=tf.float32)
    mean = tf.reduce_sum(pred * bins, axis=-1)
    var = tf.reduce_sum(pred * tf.square(bins), axis=-1) - tf.square(mean)
    std = tf.sqrt(tf.maximum(var, 0.0))
    return {"mean_score": mean, "std_score": std, "distribution": pred}


def _check_magic(image_bytes):
    """Asserts every element starts like a JPEG/PNG/GIF/BMP file: the error
    names the rule and the offending batch positions instead of a decoder
    message about one anonymous element."""
    import tensorflow as tf

    head = tf.strings.substr(image_bytes, 0, 8)
    ok = tf.zeros_like(image_bytes, dtype=tf.bool)
    for prefixes in _MAGIC.values():
        for prefix in prefixes:
            ok = ok | tf.equal(tf.strings.substr(head, 0, len(prefix)), prefix)
    bad = tf.reshape(tf.where(tf.logical_not(ok)), [-1])
    return tf.debugging.Assert(
        tf.reduce_all(ok),
        [
            "image_bytes must hold encoded JPEG, PNG, GIF or BMP files (REST: "
            '{"b64": base64 of the file}); elements at these batch positions are not:',
            bad,
        ],
        name="check_image_bytes",
    )


def _jpeg_draft_ratio(data, recipe):
    """The DCT scale (1, 2, 4 or 8) `load_image` decodes this JPEG at for
    `recipe`: `aesthetics.data.resize.draft_size` and Pillow's
    `JpegImageFile.draft` (scale = min(w // need_w, h // need_h), the largest
    power of two <= it, at most 8), in graph ops. Index 0..3 into (1, 2, 4, 8)."""
    import math

    import tensorflow as tf

    from aesthetics.constants import NATIVE_MIN_SIDE
    from aesthetics.data.resize import DRAFT_MARGIN

    shape = tf.cast(tf.image.extract_jpeg_shape(data), tf.float64)
    h, w = shape[0], shape[1]
    margin = float(DRAFT_MARGIN)
    if recipe.native:
        scale = tf.minimum(tf.constant(1.0, tf.float64), recipe.max_side / tf.maximum(w, h))
        possible = tf.minimum(w, h) * scale >= NATIVE_MIN_SIDE
        need_w, need_h = tf.math.ceil(w * scale * margin), tf.math.ceil(h * scale * margin)
    else:
        side = float(math.ceil(recipe.input_side * DRAFT_MARGIN))  # as draft_size rounds it
        possible = tf.constant(True)
        need_w = need_h = tf.constant(side, tf.float64)
    possible = possible & (need_w * 2 <= w) & (need_h * 2 <= h)
    need_w, need_h = tf.maximum(need_w, 1.0), tf.maximum(need_h, 1.0)
    scale = tf.minimum(tf.math.floordiv(w, need_w), tf.math.floordiv(h, need_h))
    index = tf.cast(scale >= 2, tf.int32) + tf.cast(scale >= 4, tf.int32) + tf.cast(scale >= 8, tf.int32)
    return tf.where(possible, index, 0)


def decode_image_bytes(data, recipe=None):
    """One encoded image -> (H, W, 3) uint8 RGB, the pixels `load_image`
    (Pillow) gives:

    - JPEG with the accurate integer IDCT, libjpeg's ISLOW that Pillow uses
      (TF's default, INTEGER_FAST on x86, differs by up to ~20 levels); with
      a `recipe`, at the reduced DCT scale `load_image(draft=...)` picks for
      a large photo (libjpeg's scaled decode, as Pillow's draft mode);
    - PNG: gray expanded to RGB, transparency composited on white (Pillow's
      alpha_composite over white, in exact arithmetic);
    - GIF first frame, BMP via tf.io.decode_image;
    - with a legacy recipe (idealo's `load_img`), full-scale JPEG decoding and
      PNG transparency dropped, as `Image.convert("RGB")` does.

    Not reproduced: EXIF orientation (the graph cannot read the EXIF tag; send
    upright images), GIF transparency, TIFF/WebP (not decodable in the graph).
    """
    import tensorflow as tf

    head = tf.strings.substr(data, 0, 8)

    def png():
        # Natural channels (1 gray, 2 gray+alpha, 3 RGB or palette, 4 RGBA or
        # palette with tRNS): channels=4 gives garbage alpha for a palette PNG
        # without transparency in TF 2.21.
        raw = tf.io.decode_png(data, channels=0)
        c = tf.shape(raw)[-1]
        rgb = tf.cond(c < 3, lambda: tf.image.grayscale_to_rgb(raw[..., :1]), lambda: raw[..., :3])
        a = tf.cond(
            tf.equal(c % 2, 0),
            lambda: raw[..., -1:],
            lambda: tf.fill(tf.concat([tf.shape(raw)[:2], [1]], 0), tf.constant(255, raw.dtype)),
        )
        if recipe is not None and recipe.legacy:
            return rgb  # idealo's load_img: Image.convert("RGB") drops the alpha channel
        rgb, a = tf.cast(rgb, tf.float32), tf.cast(a, tf.float32)
        # Pillow's alpha_composite over opaque white, in exact arithmetic
        # (exactly rgb where a = 255).
        out = tf.round((rgb * a + 255.0 * (255.0 - a)) / 255.0)
        return tf.cast(out, tf.uint8)

    def jpeg():
        def at(ratio):
            return lambda: tf.io.decode_jpeg(data, channels=3, ratio=ratio, dct_method="INTEGER_ACCURATE")

        if recipe is None or recipe.legacy:
            return at(1)()
        return tf.switch_case(_jpeg_draft_ratio(data, recipe), [at(r) for r in (1, 2, 4, 8)])

    def other():
        return tf.io.decode_image(data, channels=3, expand_animations=False)

    image = tf.case(
        [
            (tf.equal(head, _MAGIC["PNG"][0]), png),
            (tf.equal(tf.strings.substr(head, 0, 3), _MAGIC["JPEG"][0]), jpeg),
        ],
        default=other,
        exclusive=True,
    )
    image.set_shape([None, None, 3])
    return image


def _pillow_nearest_indices(n_in, n_out: int):
    """The source rows (or columns) Pillow's NEAREST resize reads: it walks
    the source in float64 steps of n_in / n_out from half a step, adding the
    step once per output pixel (accumulated rounding included), and
    truncates. tf.image.resize(method="nearest") computes (x + 0.5) * step
    directly and picks another pixel where that lands on an integer (20 of
    224 columns for a 640-pixel side)."""
    import tensorflow as tf

    # Grappler rewrites x / constant as x * (1 / constant), which rounds
    # differently; a PlaceholderWithDefault is never folded, so this divides
    out = tf.raw_ops.PlaceholderWithDefault(input=tf.constant(float(n_out), tf.float64), shape=[])
    step = tf.cast(n_in, tf.float64) / out
    first = step * 0.5
    rest = tf.scan(lambda acc, _: acc + step, tf.zeros([n_out - 1], tf.float64), initializer=first)
    positions = tf.concat([tf.reshape(first, [1]), rest], 0)
    return tf.minimum(tf.cast(tf.floor(positions), tf.int32), tf.cast(n_in, tf.int32) - 1)


def pillow_nearest_resize(image, size: int):
    """(H, W, C) -> (size, size, C) picking the pixels `Image.resize((size,
    size), Image.NEAREST)` picks (idealo's `load_img`)."""
    import tensorflow as tf

    shape = tf.shape(image)
    rows = tf.gather(image, _pillow_nearest_indices(shape[0], size), axis=0)
    return tf.gather(rows, _pillow_nearest_indices(shape[1], size), axis=1)


def bytes_to_model_input(image_bytes, recipe):
    """A batch of encoded images -> float32 [B, S, S, 3] (S = recipe.image_size),
    the pixels the `predict` pipeline feeds the model: the same resize
    function, rounding and centre crop (`recipe.resize`), or idealo's
    nearest resize for a legacy recipe."""
    import tensorflow as tf

    from aesthetics.data.pipeline import resize_image

    size = recipe.image_size
    side = recipe.input_side
    off = (side - size) // 2

    with tf.control_dependencies([_check_magic(image_bytes)]):
        image_bytes = tf.identity(image_bytes)

    def one(data):
        if recipe.legacy:  # idealo's nearest resize straight to the input size
            return tf.cast(pillow_nearest_resize(decode_image_bytes(data, recipe), size), tf.float32)
        resized = resize_image(decode_image_bytes(data, recipe), side)
        pixels = tf.cast(tf.cast(tf.round(resized), tf.uint8), tf.float32)
        return pixels[off : off + size, off : off + size]

    return tf.map_fn(
        one, image_bytes, fn_output_signature=tf.TensorSpec([size, size, 3], tf.float32)
    )


def native_model_input(data, recipe):
    """One encoded image -> float32 (h, w, 3) for a native-resolution recipe:
    the photo at its own size, shrunk to `recipe.max_side` (enlarged to 32 px
    on the short side), like `aesthetics.data.resize.fit_photo`."""
    import tensorflow as tf

    from aesthetics.constants import NATIVE_MIN_SIDE

    image = decode_image_bytes(data, recipe)
    hw = tf.cast(tf.shape(image)[:2], tf.float64)
    one = tf.constant(1.0, tf.float64)
    scale = tf.minimum(one, float(recipe.max_side) / tf.reduce_max(hw))
    scale = tf.maximum(scale, float(NATIVE_MIN_SIDE) / tf.reduce_min(hw))
    size = tf.cast(tf.maximum(one, tf.round(hw * scale)), tf.int32)

    def resized():
        out = tf.image.resize(tf.cast(image, tf.float32), size, method="bilinear", antialias=True)
        return tf.round(tf.clip_by_value(out, 0.0, 255.0))

    return tf.cond(tf.equal(scale, one), lambda: tf.cast(image, tf.float32), resized)


