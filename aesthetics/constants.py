"""Names and numbers shared across the package, in one place.

This module imports nothing heavy: config validation and the CLI use it
before TensorFlow is imported. The registries that implement these names
(`aesthetics.losses`, `aesthetics.models`, ...) are checked against these
tuples by the tests, so the two never drift apart.
"""

from __future__ import annotations

# Score bins: a distribution over scores 1..NUM_BINS (NIMA).
NUM_BINS = 10

# How a photo becomes the model's input (the model's recipe, `resize` field):
#   resize       squash the whole photo to image_size x image_size (NIMA);
#   center_crop  resize to resize_to x resize_to, then crop the centre.
RESIZE_POLICIES = ("resize", "center_crop")
#   native       the whole photo at its own size (fully convolutional models),
#                only shrunk when its long side exceeds the recipe's max_side.
RECIPE_RESIZE_POLICIES = RESIZE_POLICIES + ("native",)
NATIVE_MAX_SIDE = 1024
NATIVE_MIN_SIDE = 32  # below this, a photo is enlarged (the backbone needs 32 px)
# NIMA's training resize: 256 px, random 224 crops.
NIMA_RESIZE_TO = 256
NIMA_IMAGE_SIZE = 224

# Pillow's own decompression-bomb limit; ours is configurable.
DEFAULT_MAX_PIXELS = 89_478_485
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")

LABEL_FORMATS = ("ava", "idealo_json", "mos_csv", "tid2013")
MODEL_NAMES = ("nima", "dual_path")
LOSS_NAMES = ("emd", "emd_r1", "cdf", "mixed_mean", "combined", "mse", "l1")
OPTIMIZERS = ("adam", "adamw", "sgd")
LR_SCHEDULES = ("constant", "cosine")
MIXED_PRECISION_POLICIES = ("mixed_bfloat16", "mixed_float16")
DISTRIBUTE_STRATEGIES = ("none", "mirrored", "multi_worker", "tpu")  # aesthetics.training.distribute

BACKBONE_NAMES = (
    "mobilenet", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large",
    "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_v2_b0",
    "resnet50", "resnet50_v2", "inception_v3", "inception_resnet_v2", "xception",
    "densenet121", "convnext_tiny", "vgg16",
)

DEGRADATION_NAMES = (
    "gaussian_blur", "motion_blur", "gaussian_noise", "jpeg",
    "brightness_up", "brightness_down", "contrast_up", "contrast_down",
    "saturation_up", "saturation_down", "hue_shift", "color_temperature",
    "gamma", "vignette", "pixelate", "oversharpen", "haze",
)
NUM_DEGRADATION_LEVELS = 5

# predict / export
PREDICT_BACKENDS = ("auto", "keras", "onnx", "savedmodel", "tflite")
EXPORT_FORMATS = ("savedmodel", "onnx", "tflite")
QUANTIZE_MODES = ("dynamic",)
EXPLAIN_METHODS = ("auto", "attention", "gradcam")
