"""The config dataclasses: one per section of a JSON config.

A config has three sections, one dataclass each::

    {"data": {...DataConfig...}, "model": {...ModelConfig...}, "train": {...TrainConfig...}}

plus an optional fourth, "pretrain" (`PretrainConfig`), read only by
`aesthetics pretrain` (self-supervised pretext pretraining).

Every field has a default, so a JSON file only names what it changes.
Constructing a dataclass checks nothing; `aesthetics.config.load_config` and
`config_from_dict` validate every value (`aesthetics.config.validation`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from aesthetics.errors import ConfigError


@dataclass
class DataConfig:
    """Where the data is and how images become tensors.

    image_size: side of the square model input (pixels).
    resize_to: training images are resized to this square size, then randomly
        cropped to `image_size` (NIMA: 256 -> 224). Set equal to `image_size`
        to disable cropping.
    random_crop, hflip: training-time augmentation switches.
    eval_resize: "resize" squashes the whole image to image_size (NIMA; the
        whole composition counts), "center_crop" (resize_to, then crop) or
        "native": validation and scoring see the whole photo at its own
        resolution (shrunk only above `max_side`), and training sees random
        image_size x image_size crops of it (no resize: the pixel scale the
        quality is judged at stays the photo's own).
    max_side: long-side cap of "native" photos (pixels).
    label_format: "auto" or one of `aesthetics.data.labels.LABEL_FORMATS`.
    score_range: [low, high] of a MOS label file, mapped onto 1..10.
    val_fraction / split_file: validation split (a split file wins);
        split_seed fixes it independently of train.seed, so several training
        seeds can be compared on one split.
    group_pattern: regex whose first group names an image's group (e.g. its
        reference photo); groups never straddle the split.
    max_pixels: decompression-bomb guard; larger images are skipped.
    cache: keep decoded, resized images in memory after the first epoch.
    """

    images: Optional[str] = None
    labels: Optional[str] = None
    label_format: str = "auto"
    score_range: Optional[list] = None
    image_size: int = 224
    resize_to: int = 256
    random_crop: bool = True
    hflip: bool = True
    eval_resize: str = "resize"  # or "center_crop", "native"
    max_side: int = 1024
    batch_size: int = 32
    val_fraction: float = 0.2
    split_seed: int = 42
    group_pattern: Optional[str] = None
    split_file: Optional[str] = None
    max_pixels: int = 89_478_485  # Pillow's own default bomb limit
    cache: bool = True
    shuffle_buffer: int = 2048


@dataclass
class ModelConfig:
    """Which model to build (see `aesthetics.models.build_model`).

    model: registered builder name ("nima", "dual_path", ...).
    backbone: a `keras.applications` name (see `aesthetics.models.backbones`).
    backbone_weights: "imagenet", null, or a local weights file
        (`.weights.h5`, or a Keras 2 HDF5 weights file).
    alpha: width multiplier for MobileNet / MobileNetV2.
    dropout: dropout before the score head (NIMA: 0.75).
    num_bins: number of score bins (10 for scores 1..10).
    options: the model's own options, checked against its schema in
        `aesthetics.catalog.MODELS` (e.g. dual-path ablation switches).
    plugins: Python modules imported before anything is checked or built;
        they register models, losses or backbones (`aesthetics.register_model`,
        ...). Saved with the model, so a model file imports them on load.
    backbone_preset: a KerasHub backbone's preset (`backbone` "clip",
        "siglip", "dinov2", "vit"): a local preset folder, or a KerasHub preset
        name (downloaded once, online). See aesthetics.models.keras_hub_backbones.
    backbone_config: written by the build, not by hand: the KerasHub
        encoder's own config, so a saved model rebuilds without its preset.
    """

    model: str = "nima"
    backbone: str = "mobilenet"
    backbone_weights: Optional[str] = "imagenet"
    backbone_preset: Optional[str] = None
    backbone_config: Optional[dict] = None
    alpha: float = 1.0
    dropout: float = 0.75
    num_bins: int = 10
    options: dict = field(default_factory=dict)
    plugins: list = field(default_factory=list)


@dataclass
class TrainConfig:
    """How to train: two NIMA phases (head only, then all layers).

    loss: a name in `aesthetics.catalog.LOSSES`; loss_options its options (its schema there).
    epochs_head / lr_head: phase 1, backbone frozen.
    epochs_full / lr_full: phase 2, everything trainable at a lower rate.
    early_stopping_patience: epochs without val-loss improvement (phase 2).
    monitor: the validation metric that picks best.keras (= model.keras) and
        drives early stopping: "val_loss" (train.loss; default), "val_emd",
        "val_mae", "val_mse" (lower is better), "val_srcc", "val_plcc",
        "val_accuracy" (higher is better). Image training only: a
        cache_features run selects by val_loss.
    freeze_batchnorm: keep backbone BatchNorm in inference mode in phase 2.
    mixed_precision: use "mixed_bfloat16" / "mixed_float16" policy, or null.
    distribute: "none", "mirrored" (this machine's GPUs), "multi_worker"
        (the cluster in TF_CONFIG) or "tpu"; see aesthetics.training.distribute.
    stages: null (the two phases above) or a list of stages, each {"epochs",
        "lr", and optionally "name", "optimizer", "lr_schedule",
        "weight_decay", "loss" or "loss_cycle" + "switch_every", "train"
        ("head" | "all"), "early_stopping_patience"}; replaces epochs_head,
        lr_head, epochs_full, lr_full and early_stopping_patience. See
        aesthetics.training.stages.
    progressive_sizes / progressive_epochs: training image sizes and the
        run epoch each starts at (e.g. [160, 192, 224] / [0, 4, 8]); the last
        size is data.image_size, at which validation always runs.
    trainable_backbone_layers: in stages that train "all", only the last N
        backbone layers that hold weights train (null: all of them).
    cache_features: train the head on features the frozen backbone computes
        once per photo (cached in RUN_DIR/features_<fingerprint>.npz; the LAION-predictor way:
        seconds per epoch instead of a backbone pass per photo). Only for a
        head-only plan (epochs_full 0, or every stage "train": "head");
        photos are prepared as for scoring, without augmentation.
    """

    loss: str = "emd"
    loss_options: dict = field(default_factory=dict)
    optimizer: str = "adam"
    weight_decay: float = 0.0
    epochs_head: int = 5
    lr_head: float = 1e-3
    epochs_full: int = 15
    lr_full: float = 3e-5
    lr_schedule: str = "constant"  # or "cosine" (decays over phase 2)
    early_stopping_patience: int = 5
    monitor: str = "val_loss"
    freeze_batchnorm: bool = True
    seed: int = 42
    mixed_precision: Optional[str] = None
    distribute: str = "none"
    accuracy_threshold: float = 5.0
    stages: Optional[list] = None
    progressive_sizes: Optional[list] = None
    progressive_epochs: Optional[list] = None
    trainable_backbone_layers: Optional[int] = None
    cache_features: bool = False


@dataclass
class PretrainConfig:
    """Self-supervised pretext pretraining (`aesthetics pretrain`, issue 3).

    The encoder is the `model` section's backbone (any registered model with
    a "backbone" sub-model: nima, dual_path, ...), so a pretrained run plugs
    into `train --init-from`. See docs/PRETRAINING.md.

    images: folder of unlabelled photos (recursive); --images overrides it.
    crop_size: side of the square crops the network sees (multiple of 32).
    working_size: photos are decoded once and downscaled (never upscaled) so
        their short side is at most this; crops are cut from that. null: the
        photos' native resolution (the fine distortions that matter for
        authentic quality survive; memory: 3 bytes a pixel, held in RAM).
        Photos whose short side is below crop_size are skipped and reported.
    images_per_batch, crops_per_image, levels_per_group: one batch holds
        images_per_batch * crops_per_image groups of levels_per_group images
        (the same crop, one random degradation kind, distinct levels 0..5
        sorted ascending; 0 = clean appears with probability L / 6).
    kinds: degradation names to draw from (null: all of DEGRADATION_NAMES).
    steps_per_epoch, epochs, lr, weight_decay, lr_schedule: optimisation
        ("constant" or "cosine" over all steps).
    ranking_weight, classification_weight, regression_weight,
    reconstruction_weight: loss weights; 0 switches a head off (not built).
        The ranking head is the zero-shot score of RUN_DIR/model.keras.
    contrastive_weight: weight of the supervised contrastive loss on a
        projection of the pooled features (CONTRIQUE / Re-IQA style: crops
        with the same degradation kind and level, from any photo, are
        positives); > 0 also pairs the groups of a batch (group g + G/2
        repeats group g's kind and levels on another crop), so every class
        has a positive. Needs an even number of groups per batch.
    contrastive_temperature, contrastive_dim: its temperature and the
        projection's width.
    distill_weight: weight of the cosine distance between the pooled
        features and those of a frozen copy of the starting backbone (keeps
        the ImageNet features while the pretext losses add distortion
        sensitivity; one more forward pass per step).
    trainable_backbone_layers: only the backbone's last N layers with
        weights train (null: all); the early blocks keep their filters.
    shared_randomness: the rows of a group share one draw of the kind's
        random parameters (motion-blur angle, hue / gamma / colour
        direction, noise pattern): they differ only in the level.
    mix_probability: share of groups with a second degradation kind, at a
        random level, under every row (mixed distortions as in authentic
        photos; the rows still differ only in the graded kind).
    margin: hinge margin of the pairwise ranking loss.
    decoder: build the reconstruction decoder (needs reconstruction_weight > 0).
    decoder_skips: U-Net skip connections from intermediate backbone maps.
    decoder_width: channels of the finest decoder stage (doubling per stage
        up to 4x).
    freeze_batchnorm: keep the backbone BatchNorm layers in inference mode
        (ImageNet statistics); groups of near-identical crops make batch
        statistics unrepresentative. Ignored (BatchNorm trains) when
        model.backbone_weights is null: random init has no statistics to keep.
    hflip: random horizontal flip of each crop.
    seed: data (crops, kinds, levels, noise) and weight initialisation.
    mixed_precision: "mixed_bfloat16" / "mixed_float16" or null; losses stay
        float32.
    jit_compile: XLA-compile the train step (off by default: on CPU the
        compile takes minutes and the steps were slower, not faster).
    distribute: as train.distribute ("none", "mirrored", "multi_worker", "tpu").
    """

    images: Optional[str] = None
    crop_size: int = 224
    working_size: Optional[int] = 320
    images_per_batch: int = 4
    crops_per_image: int = 2
    levels_per_group: int = 4
    kinds: Optional[list] = None
    steps_per_epoch: int = 200
    epochs: int = 10
    lr: float = 1e-4
    weight_decay: float = 0.0
    lr_schedule: str = "cosine"
    ranking_weight: float = 1.0
    classification_weight: float = 0.2
    regression_weight: float = 1.0
    reconstruction_weight: float = 1.0
    contrastive_weight: float = 0.0
    contrastive_temperature: float = 0.1
    contrastive_dim: int = 128
    distill_weight: float = 0.0
    trainable_backbone_layers: Optional[int] = None
    mix_probability: float = 0.0
    shared_randomness: bool = True
    margin: float = 0.25
    decoder: bool = True
    decoder_skips: bool = True
    decoder_width: int = 32
    freeze_batchnorm: bool = True
    hflip: bool = True
    seed: int = 42
    mixed_precision: Optional[str] = None
    jit_compile: bool = False
    distribute: str = "none"
    max_pixels: int = 89_478_485


@dataclass
class Config:
    """A whole config: the four sections."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self, path) -> None:
        """Writes the config as strict JSON (no NaN / Infinity: a ConfigError
        naming the key instead)."""
        values = self.to_dict()
        try:
            text = json.dumps(values, indent=2, allow_nan=False)
        except ValueError:
            key = _first_non_finite(values)
            raise ConfigError(f"{key or 'config'}: expected a finite number (the config is written as JSON)") from None
        Path(path).write_text(text + "\n")


SECTIONS = {
    "data": DataConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "pretrain": PretrainConfig,
}


def _first_non_finite(value, key: str = "") -> str:
    """The dotted key of the first NaN / infinite float in nested dicts and lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return key
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple)) else ()
    for k, v in items:
        found = _first_non_finite(v, f"{key}.{k}" if key and isinstance(k, str) else f"{key}[{k}]" if key else str(k))
        if found:
            return found
    return ""
