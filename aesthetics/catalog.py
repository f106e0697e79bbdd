"""The built-in models, losses and backbones, with their option schemas.

`MODELS`, `LOSSES` and `BACKBONES` are the registries (`aesthetics.registry`)
that config validation, the builders and the CLI read; code outside the
package adds to them with `register_model`, `register_loss` and
`register_backbone`. Implementations are named as "module:attr" strings and
imported only when built: this module is TF-free.
"""

from __future__ import annotations

from aesthetics.checks import config_error
from aesthetics.registry import Option, Registry

MODELS = Registry("model", "model.model")
LOSSES = Registry("loss", "train.loss")
BACKBONES = Registry("backbone", "model.backbone", forgiving=True)
# What an AestheticsModel outputs: graph builders (model_config, image_size).
MODEL_HEADS = Registry("model head", "head")


def register_model(name: str, target=None, *, options=None, rule=None, description: str = "", replace=False,
                   **extra):
    """Registers ``build(config: ModelConfig, image_size: int | None) ->
    keras.Model`` (a functional graph: float32 RGB in [0, 255] -> (B,
    num_bins) probabilities, layer names "backbone" and "scores") under
    `name`, with its `options` schema (name -> `Option`). A decorator when
    `target` is omitted. `extra` holds facts its users read (``kind=
    "reference"``: not an image model, see `model_kind`)."""
    return MODELS.register(name, target, options=options, rule=rule, description=description, replace=replace,
                           **extra)


def register_loss(name: str, target=None, *, options=None, rule=None, description: str = "", replace=False):
    """Registers a Keras loss class (constructed with its options as keyword
    arguments) under `name`. A decorator when `target` is omitted."""
    return LOSSES.register(name, target, options=options, rule=rule, description=description, replace=replace)


def register_backbone(name: str, target=None, *, preprocess: str = "none", accepts_alpha: bool = False,
                      description: str = "", replace=False, **extra):
    """Registers a backbone constructor with `keras.applications`' signature
    (``include_top``, ``weights``, ``input_shape``, and ``alpha`` when
    `accepts_alpha`); `preprocess` is a `BackbonePreprocess` mode ("tf",
    "caffe", "torch" or "none": the model takes [0, 255] as is)."""
    return BACKBONES.register(name, target, description=description, replace=replace,
                              preprocess=preprocess, accepts_alpha=accepts_alpha, **extra)


# ------------------------------------------------------------------- models

POOLINGS = ("avg", "mean_std")

def _nima_rule(options: dict, key: str) -> None:
    for i, width in enumerate(options["head_hidden"]):
        if not 1 <= width <= 65_536:
            raise config_error(f"{key}.head_hidden[{i}]", f"a layer width in [1, 65536], got {width}")


register_model("nima", "aesthetics.models.nima:build_nima", rule=_nima_rule, description="ImageNet backbone + 10-bin softmax (NIMA)",
               options={
                   "pooling": Option("str", "avg", choices=POOLINGS,
                                     doc="avg: global average (NIMA); mean_std: mean and std over positions"),
                   "pool_layers": Option("list", [], item="str",
                                         doc="extra backbone layers pooled the same way and concatenated"),
                   "head_hidden": Option("list", [], item="int", doc="widths of an MLP between the pooled "
                                         "features and the score head (LAION's predictor: [1024, 128, 64, 16])"),
               })


def _dual_path_rule(options: dict, key: str) -> None:
    if options["use_local_path"] and options["use_adain"] and options["adain_on"] == "map" \
            and not options["use_attention"]:
        raise config_error(f"{key}.adain_on", "adain_on='map' needs use_attention=true (average pooling of an "
                           "instance-normalised map discards the local content)", related=(f"{key}.use_attention",))


_WIDTH = dict(nullable=True, low=1, high=65_536)
register_model("dual_path", "aesthetics.models.dual_path:build_dual_path", rule=_dual_path_rule,
               description="non-local global path + attention local path, AdaIN fusion",
               options={
                   "use_local_path": Option("bool", True, doc="false: global path only"),
                   "use_attention": Option("bool", True, doc="false: average pooling on the local path"),
                   "use_adain": Option("bool", True, doc="false: plain concatenation"),
                   "use_non_local": Option("bool", True, doc="false: no non-local blocks"),
                   "non_local_blocks": Option("int", 1, low=0, high=64),
                   "non_local_inter_channels": Option("int", None, **_WIDTH, doc="null: C // 2"),
                   "non_local_subsample": Option("bool", False),
                   "non_local_bn": Option("bool", False),
                   "local_layer": Option("str", None, nullable=True, doc="null: LOCAL_LAYERS[backbone]"),
                   "local_channels": Option("int", None, **_WIDTH, doc="null: min(256, C_local)"),
                   "attention_hidden": Option("int", None, **_WIDTH, doc="null: local_channels // 2"),
                   "adain_on": Option("str", "vector", choices=("vector", "map")),
                   "fusion_normalize_style": Option("bool", False, doc="layer-normalise the global vector "
                                                    "before it drives the fusion (AdaptiveFusion normalize_style)"),
                   "feature_norm": Option("bool", False, doc="layer-normalise the fused feature vector before "
                                          "the score head (bounds the logits whatever the paths' scale)"),
               })

def _reference_rule(options: dict, key: str) -> None:
    retrieve = options["retrieve"]
    if not retrieve or len(set(retrieve)) != len(retrieve) or any(r not in ("content", "style") for r in retrieve):
        raise config_error(f"{key}.retrieve", f"expected a non-empty list of distinct 'content', 'style', "
                           f"got {retrieve}")
    if options["gcn_layers"] and not (options["learned_adjacency"] or options["similarity_prior"]):
        raise config_error(f"{key}.learned_adjacency", "a graph layer needs learned_adjacency or "
                           "similarity_prior (its edges)", related=(f"{key}.similarity_prior",))


# not an image model: trained on the embeddings of a frozen embedder (aesthetics.training.reference)
register_model("reference_gcn", "aesthetics.models.reference_gcn:ReferenceGCN", rule=_reference_rule,
               kind="reference", description="a graph network over rated reference photos retrieved by content "
               "and style (docs/REFERENCES.md)",
               options={
                   "embedder": Option("str", "clive-mobilenet", doc="the model whose backbone embeds photos: "
                                      "a shipped name or a .keras file"),
                   "style_layer": Option("str", None, nullable=True, doc="the backbone layer of the style "
                                         "statistics (null: the embedder's default)"),
                   "k": Option("int", 8, low=1, high=256, doc="references per retrieval kind"),
                   "retrieve": Option("list", ["content", "style"], item="str",
                                      doc="which neighbours: content, style or both"),
                   "hidden": Option("int", 128, low=1, high=4096, doc="node state width"),
                   "gcn_layers": Option("int", 2, low=0, high=8, doc="graph convolution steps (0: the query "
                                        "node and the k-NN estimate only)"),
                   "learned_adjacency": Option("bool", True, doc="attention-style learnt edges"),
                   "similarity_prior": Option("bool", True, doc="edges anchored on embedding similarity"),
                   "temperature": Option("float", 0.05, low=0, low_open=True,
                                         doc="initial softmax temperature of the k-NN estimate"),
               })


def model_kind(name: str) -> str:
    """"image" (built by aesthetics.models.build_model) or "reference"
    (aesthetics.training.reference)."""
    return MODELS.get(name).extra.get("kind", "image")


MODEL_HEADS.register("distribution", "aesthetics.models.registry:build_graph",
                     description="the registered model's (B, num_bins) score distribution")
MODEL_HEADS.register("zero_shot", "aesthetics.models.clip_zero_shot:build_clip_zero_shot",
                     description="CLIP-IQA: image -> (B, 1) score from antonym prompts, no training")
register_model("clip_zero_shot", "aesthetics.models.clip_zero_shot:build_clip_zero_shot", kind="zero_shot",
               description="CLIP-IQA zero-shot score (built by `aesthetics zero-shot`, not trained)",
               options={"prompts": Option("list", ["Good photo.", "Bad photo."], item="str",
                                          doc="antonym prompts; the score is 1 + 9 p(first prompt)")})
MODEL_HEADS.register("ranking", "aesthetics.pretext.model:build_scoring_graph",
                     description="a pretext-pretrained backbone's (B, 1) ranking score")

# ------------------------------------------------------------------- losses

_LOSSES = "aesthetics.losses.distribution"
_NORMALIZE = Option("bool", True, doc="the mean-score error on [0, 1] instead of score units")
_R = Option("float", 2.0, low=1, why=" (the EMD exponent; below 1 its gradient is NaN)")
_WEIGHT = Option("float", 1.0, low=0)


def _combined_rule(options: dict, key: str) -> None:
    weights = {k: options[k] for k in ("distribution_weight", "mean_weight")}
    if not any(w > 0 for w in weights.values()):
        raise config_error(key, f"at least one of 'distribution_weight', 'mean_weight' must be > 0 "
                           f"(the loss would be constant), got {weights}", related=("train.loss",))


register_loss("emd", f"{_LOSSES}:EMDLoss", options={"r": _R}, description="earth mover's distance (NIMA)")
register_loss("emd_r1", f"{_LOSSES}:EMDR1Loss", description="EMD with r = 1 (L1 between CDFs)")
register_loss("cdf", f"{_LOSSES}:CDFLoss", description="TANet's CDF loss")
register_loss("mixed_mean", f"{_LOSSES}:MixedMeanLoss", options={"normalize": _NORMALIZE},
              description="mixed L1/L2/L3 of the mean score")
register_loss("combined", f"{_LOSSES}:CombinedLoss", rule=_combined_rule,
              options={"distribution_weight": _WEIGHT, "mean_weight": _WEIGHT, "r": _R, "normalize": _NORMALIZE},
              description="EMD + mixed mean loss")
register_loss("mse", f"{_LOSSES}:MeanMSELoss", options={"normalize": _NORMALIZE},
              description="squared error of the mean score")
register_loss("l1", f"{_LOSSES}:MeanL1Loss", options={"normalize": _NORMALIZE},
              description="absolute error of the mean score")
register_loss("emd_plcc", "aesthetics.losses.correlation:EMDPLCCLoss",
              options={"r": _R, "plcc_weight": _WEIGHT, "rank_weight": Option("float", 0.0, low=0),
                       "rank_margin": Option("float", 0.0, low=0, high=1)},
              description="EMD + batch PLCC (and optional pairwise ranking) of the mean scores")

# ---------------------------------------------------------------- backbones

for _name, _app, _preprocess, _alpha in (
    ("mobilenet", "MobileNet", "tf", True),
    ("mobilenet_v2", "MobileNetV2", "tf", True),
    ("mobilenet_v3_small", "MobileNetV3Small", "none", True),
    ("mobilenet_v3_large", "MobileNetV3Large", "none", True),
    ("efficientnet_b0", "EfficientNetB0", "none", False),
    ("efficientnet_b1", "EfficientNetB1", "none", False),
    ("efficientnet_b2", "EfficientNetB2", "none", False),
    ("efficientnet_v2_b0", "EfficientNetV2B0", "none", False),
    ("resnet50", "ResNet50", "caffe", False),
    ("resnet50_v2", "ResNet50V2", "tf", False),
    ("inception_v3", "InceptionV3", "tf", False),
    ("inception_resnet_v2", "InceptionResNetV2", "tf", False),
    ("xception", "Xception", "tf", False),
    ("densenet121", "DenseNet121", "torch", False),
    ("convnext_tiny", "ConvNeXtTiny", "none", False),
    ("vgg16", "VGG16", "caffe", False),
):
    register_backbone(_name, f"keras.applications:{_app}", preprocess=_preprocess, accepts_alpha=_alpha)

# MobileNet v1 with Keras 2.1's symmetric padding: what idealo's NIMA weights were trained with
register_backbone("mobilenet_keras21", "aesthetics.models.mobilenet_keras21:MobileNetKeras21", preprocess="tf",
                  accepts_alpha=True, description="MobileNet v1 as Keras 2.1 padded it (idealo's NIMA weights)")

# KerasHub image encoders, from a preset (model.backbone_preset); keras-hub is the [clip] extra
for _name, _preprocess, _what in (
    ("clip", "clip", "CLIP ViT image encoder (the projected image embedding)"),
    ("siglip", "tf", "SigLIP ViT image encoder (its attention-pooled vector)"),
    ("dinov2", "torch", "DINOv2 ViT ([CLS, mean of the patch tokens])"),
    ("vit", "tf", "ViT (the CLS token)"),
):
    register_backbone(_name, "aesthetics.models.keras_hub_backbones:build_hub_backbone", preprocess=_preprocess,
                      description=f"KerasHub: {_what}", source="keras_hub")
