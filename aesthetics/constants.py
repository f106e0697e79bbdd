"""Names and numbers shared across the package, in one place.

This module imports nothing heavy: config validation and the CLI use it
before TensorFlow is imported. The registries that implement these names
(`aesthetics.data.labels`, `aesthetics.inference`, ...) are checked against
these tuples by the tests, so the two never drift apart. Models, losses and
backbones are not listed here: their one list is the registries of
`aesthetics.catalog`, which carry their option schemas.
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
# A photo whose long side is more than this many times its short side cannot
# be both shrunk to NATIVE_MAX_SIDE and enlarged to NATIVE_MIN_SIDE; enlarging
# a 1 x 100000 strip instead made a 3-megapixel-wide input (minutes per file).
# Such a file is an error record on every path (decode, arrays, every backend).
MAX_ASPECT_RATIO = NATIVE_MAX_SIDE // NATIVE_MIN_SIDE
# NIMA's training resize: 256 px, random 224 crops.
NIMA_RESIZE_TO = 256
NIMA_IMAGE_SIZE = 224

# Pillow's own decompression-bomb limit; ours is configurable.
DEFAULT_MAX_PIXELS = 89_478_485
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")

LABEL_FORMATS = ("ava", "idealo_json", "mos_csv", "tid2013")
OPTIMIZERS = ("adam", "adamw", "sgd")
LR_SCHEDULES = ("constant", "cosine")
# train.monitor: the validation metric that picks best.keras and drives early
# stopping, and whether lower or higher is better.
MONITORS = {"val_loss": "min", "val_emd": "min", "val_mae": "min", "val_mse": "min",
            "val_srcc": "max", "val_plcc": "max", "val_accuracy": "max"}
MIXED_PRECISION_POLICIES = ("mixed_bfloat16", "mixed_float16")
DISTRIBUTE_STRATEGIES = ("none", "mirrored", "multi_worker", "tpu")  # aesthetics.training.distribute
# train.stages (aesthetics.training.stages): what a stage trains, the head only
# (the backbone frozen, NIMA phase 1) or everything (subject to
# train.freeze_batchnorm and train.trainable_backbone_layers); a stage's keys.
STAGE_TRAINS = ("head", "all")
STAGE_KEYS = ("name", "epochs", "optimizer", "lr", "lr_schedule", "weight_decay", "loss",
              "loss_cycle", "switch_every", "train", "early_stopping_patience")

DEGRADATION_NAMES = (
    "gaussian_blur", "motion_blur", "gaussian_noise", "jpeg",
    "brightness_up", "brightness_down", "contrast_up", "contrast_down",
    "saturation_up", "saturation_down", "hue_shift", "color_temperature",
    "gamma", "vignette", "pixelate", "oversharpen", "haze",
)
NUM_DEGRADATION_LEVELS = 5

# The scoring loop's pixel budget per model call: a batch is cut when its
# photos' pixels would pass it, so activation memory is bounded whatever the
# photo sizes (8 photos of 500 px, 2 of 1024 x 768; 224 px inputs keep 32).
# Measured on 2 cores (benchmarks/RESULTS.md): against an 8 MP budget it cut
# peak memory 3.4x and was faster too, on 500 px and on 12 MP photos.
DEFAULT_BATCH_PIXELS = 2_000_000

# predict / export
PREDICT_BACKENDS = ("auto", "keras", "onnx", "savedmodel", "tflite")
EXPORT_FORMATS = ("savedmodel", "onnx", "tflite")
QUANTIZE_MODES = ("dynamic",)
EXPLAIN_METHODS = ("auto", "attention", "gradcam", "gradient")

# Limits shared by config validation and a model's recipe. A value past these
# is a typo, and would otherwise end in an out-of-memory crash or an int64
# overflow deep inside TensorFlow instead of a message naming the key.
MIN_IMAGE_SIZE = 32  # the backbones downsample by 32
MAX_SIDE = 4096  # model input side, resize_to
MAX_BINS = 1000
CROP_MULTIPLE = 32  # pretext crops feed the decoder's skip connections
SEED_LIMIT = 2**32  # keras.utils.set_random_seed seeds numpy's legacy generator
MAX_BATCH = 65_536
MAX_EPOCHS = 1_000_000
MAX_STEPS = 1_000_000_000
MAX_BUFFER = 2**31 - 1
MAX_PIXELS = 2**62
MAX_ALPHA = 10.0
MAX_DECODER_WIDTH = 1024
