import json

import pytest

from aesthetics.config import Config, ConfigError, load_config

ROOT_CONFIGS = __import__("pathlib").Path(__file__).resolve().parents[2] / "configs"


def test_defaults_and_overrides():
    cfg = load_config(None, ["train.epochs_full=3", "model.backbone=mobilenet_v2",
                             "data.score_range=[0, 100]", "model.model=dual_path", "model.options.use_adain=false"])
    assert cfg.train.epochs_full == 3
    assert cfg.model.backbone == "mobilenet_v2"
    assert cfg.data.score_range == [0, 100]
    assert cfg.model.options == {"use_adain": False}


def test_unknown_keys_are_errors(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"train": {"epoch": 3}}))
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(path)
    with pytest.raises(ConfigError):
        load_config(None, ["nosection.x=1"])


def test_bad_json_names_line(tmp_path):
    path = tmp_path / "c.json"
    path.write_text('{\n "train": {\n  "epochs_full": ,\n }\n}')
    with pytest.raises(ConfigError, match=r"c.json:3"):
        load_config(path)


def test_roundtrip(tmp_path):
    cfg = load_config(None, ["train.lr_full=0.001"])
    cfg.to_json(tmp_path / "c.json")
    assert load_config(tmp_path / "c.json") == cfg


@pytest.mark.parametrize("path", sorted(ROOT_CONFIGS.glob("*.json")), ids=lambda p: p.name)
def test_shipped_configs_load(path):
    assert isinstance(load_config(path), Config)


# ------------------------------------------------------------- validation

import math
import subprocess
import sys

from aesthetics.config import (
    DataConfig,
    ModelConfig,
    PretrainConfig,
    TrainConfig,
    apply_overrides,
    config_from_dict,
)
from aesthetics.catalog import BACKBONES, LOSSES
from aesthetics.checks import field_type
from aesthetics.config.validation import canonical_backbone_name
from aesthetics.errors import AestheticsError
from aesthetics.errors import ConfigError as ErrorsConfigError

REPO = ROOT_CONFIGS.parent


def assert_rejected(overrides, key, fragment=None):
    """load_config(None, overrides) fails with a ConfigError naming `key` first."""
    with pytest.raises(ConfigError) as info:
        load_config(None, list(overrides))
    message = str(info.value)
    assert message.startswith(f"{key}:"), message
    if fragment is not None:
        assert fragment in message, message
    return message


def test_config_error_is_the_shared_one():
    assert ConfigError is ErrorsConfigError
    assert issubclass(ConfigError, AestheticsError) and issubclass(ConfigError, ValueError)


def test_every_field_has_a_type_check():
    for cls in (DataConfig, ModelConfig, TrainConfig, PretrainConfig):
        for f in __import__("dataclasses").fields(cls):
            field_type(f.type)  # raises TypeError for an annotation with no check


def test_defaults_are_valid():
    assert config_from_dict({}) == Config()


@pytest.mark.parametrize("override, key, fragment", [
    ("data.image_size=big", "data.image_size", "expected an integer, got 'big'"),
    ("data.image_size=2.5", "data.image_size", "expected an integer, got 2.5"),
    ("data.image_size=224.0", "data.image_size", "expected an integer, got 224.0"),
    ("data.batch_size=true", "data.batch_size", "expected an integer, got true"),
    ("data.batch_size=null", "data.batch_size", "expected an integer, got null"),
    ("train.seed=[1]", "train.seed", "expected an integer"),
    ("data.val_fraction=lots", "data.val_fraction", "expected a number, got 'lots'"),
    ("model.dropout=false", "model.dropout", "expected a number, got false"),
    ("data.random_crop=1", "data.random_crop", "expected true or false, got 1"),
    ("data.hflip=yes", "data.hflip", "expected true or false, got 'yes'"),
    ("pretrain.jit_compile=null", "pretrain.jit_compile", "expected true or false"),
    ("data.images=3", "data.images", "expected a string, got 3"),
    ("model.backbone=7", "model.backbone", "expected a string"),
    ("model.options=[1]", "model.options", "expected an object"),
    ("train.loss_options=2", "train.loss_options", "expected an object"),
    ("pretrain.kinds=jpeg", "pretrain.kinds", "expected a list"),
    ("data.score_range=100", "data.score_range", "expected a list"),
    ("train.lr_full=NaN", "train.lr_full", "finite"),
    ("train.lr_head=Infinity", "train.lr_head", "finite"),
    ("train.accuracy_threshold=-Infinity", "train.accuracy_threshold", "finite"),
    ("pretrain.margin=NaN", "pretrain.margin", "finite"),
    ("model.options.x=NaN", "model.options.x", "finite"),
    ('model.options.pool_layers=[1, Infinity]', "model.options.pool_layers[1]", "finite"),
    ("model.options.x=1", "model.options.x", "unknown option of 'nima'; it takes 'pooling', 'pool_layers'"),
    ("model.options.pooling=max", "model.options.pooling", "one of 'avg', 'mean_std'"),
    ("model.options.pool_layers=[1]", "model.options.pool_layers[0]", "expected a string"),
])
def test_type_errors_name_the_key(override, key, fragment):
    message = assert_rejected([override], key, fragment)
    assert f"(from override {override})" in message  # says where the value came from


def test_optional_fields_accept_null_and_floats_accept_ints():
    cfg = load_config(None, ["data.images=null", "model.backbone_weights=null", "data.score_range=null",
                             "data.group_pattern=null", "train.mixed_precision=null", "pretrain.kinds=null",
                             "train.lr_head=1", "model.alpha=1", "train.weight_decay=0"])
    assert cfg.data.images is None and cfg.model.backbone_weights is None and cfg.pretrain.kinds is None
    assert cfg.train.lr_head == 1.0 and isinstance(cfg.train.lr_head, float)
    assert isinstance(cfg.model.alpha, float) and isinstance(cfg.train.weight_decay, float)


@pytest.mark.parametrize("override, key, choice", [
    ("data.eval_resize=squash", "data.eval_resize", "'center_crop'"),
    ("data.label_format=csv", "data.label_format", "'mos_csv'"),
    ("model.model=vit", "model.model", "'dual_path'"),
    ("model.backbone=resnet", "model.backbone", "'resnet50'"),
    ("model.backbone=mobile_net_v9", "model.backbone", "'mobilenet_v2'"),
    ("train.loss=huber", "train.loss", "'combined'"),
    ("train.optimizer=rmsprop", "train.optimizer", "'sgd'"),
    ("train.lr_schedule=linear", "train.lr_schedule", "'cosine'"),
    ("pretrain.lr_schedule=step", "pretrain.lr_schedule", "'constant'"),
    ("train.mixed_precision=float16", "train.mixed_precision", "'mixed_bfloat16'"),
    ("pretrain.mixed_precision=bf16", "pretrain.mixed_precision", "'mixed_float16'"),
    ('pretrain.kinds=["nope"]', "pretrain.kinds", "'jpeg'"),
    ('pretrain.kinds=["jpeg", 3]', "pretrain.kinds", "strings"),
    ("pretrain.kinds=[]", "pretrain.kinds", "non-empty"),
    ('model.backbone_weights=""', "model.backbone_weights", "'imagenet'"),
])
def test_choice_errors_list_the_choices(override, key, choice):
    assert_rejected([override], key, choice)


def test_unknown_degradation_message():
    assert_rejected(['pretrain.kinds=["jpeg", "nope"]'], "pretrain.kinds", "unknown degradation 'nope'")


@pytest.mark.parametrize("override", [
    "data.eval_resize=center_crop", "data.label_format=auto", "data.label_format=tid2013",
    "model.model=dual_path", "train.loss=combined", "train.optimizer=sgd", "train.lr_schedule=cosine",
    "pretrain.lr_schedule=constant", "train.mixed_precision=mixed_float16",
    "pretrain.mixed_precision=mixed_bfloat16", 'pretrain.kinds=["jpeg", "haze"]',
    "model.backbone_weights=imagenet", "model.backbone_weights=bundled",
    "model.backbone_weights=/no/such/file.weights.h5",  # existence is the CLI's check
])
def test_valid_choices(override):
    load_config(None, [override])


@pytest.mark.parametrize("spelling, canonical", [
    ("mobilenet", "mobilenet"), ("MobileNetV2", "mobilenet_v2"), ("mobilenetv2", "mobilenet_v2"),
    ("efficientnetb0", "efficientnet_b0"), ("EfficientNet-B0", "efficientnet_b0"),
    ("mobilenet-v3-small", "mobilenet_v3_small"), ("ResNet50V2", "resnet50_v2"), ("VGG16", "vgg16"),
])
def test_forgiving_backbone_spellings(spelling, canonical):
    assert canonical_backbone_name(spelling) == canonical
    assert load_config(None, [f"model.backbone={spelling}"]).model.backbone == spelling  # kept as written


@pytest.mark.parametrize("overrides, key, fragment", [
    (["data.image_size=16", "data.resize_to=16"], "data.image_size", ">= 32"),
    (["data.image_size=256", "data.resize_to=224"], "data.resize_to", "data.image_size (256)"),
    (["data.random_crop=false", "data.eval_resize=center_crop", "data.resize_to=200"], "data.resize_to",
     "center_crop"),
    (["data.resize_to=0", "data.random_crop=false"], "data.resize_to", ">= 1"),
    (["data.batch_size=0"], "data.batch_size", ">= 1"),
    (["data.val_fraction=0"], "data.val_fraction", "> 0 and < 1"),
    (["data.val_fraction=1"], "data.val_fraction", "> 0 and < 1"),
    (["data.val_fraction=-0.1"], "data.val_fraction", "> 0 and < 1"),
    (["data.shuffle_buffer=0"], "data.shuffle_buffer", ">= 1"),
    (["data.max_pixels=0"], "data.max_pixels", ">= 1"),
    (["data.split_seed=-1"], "data.split_seed", ">= 0"),
    (["model.num_bins=1"], "model.num_bins", ">= 2"),
    (["model.dropout=1"], "model.dropout", ">= 0 and < 1"),
    (["model.dropout=-0.1"], "model.dropout", ">= 0 and < 1"),
    (["model.alpha=0"], "model.alpha", "> 0"),
    (["train.lr_head=0"], "train.lr_head", "> 0"),
    (["train.lr_full=-1e-4"], "train.lr_full", "> 0"),
    (["train.weight_decay=-0.1"], "train.weight_decay", ">= 0"),
    (["train.epochs_head=-1"], "train.epochs_head", ">= 0"),
    (["train.epochs_full=-1"], "train.epochs_full", ">= 0"),
    (["train.epochs_head=0", "train.epochs_full=0"], "train.epochs_full", ">= 1"),
    (["train.early_stopping_patience=-1"], "train.early_stopping_patience", ">= 0"),
    (["train.seed=4294967296"], "train.seed", "<= 4294967295"),
    (["pretrain.crop_size=16", "pretrain.working_size=16"], "pretrain.crop_size", "multiple of 32"),
    (["pretrain.crop_size=70"], "pretrain.crop_size", "multiple of 32"),
    (["pretrain.crop_size=256", "pretrain.working_size=224"], "pretrain.working_size", "pretrain.crop_size (256)"),
    (["pretrain.images_per_batch=0"], "pretrain.images_per_batch", ">= 1"),
    (["pretrain.crops_per_image=0"], "pretrain.crops_per_image", ">= 1"),
    (["pretrain.steps_per_epoch=0"], "pretrain.steps_per_epoch", ">= 1"),
    (["pretrain.epochs=0"], "pretrain.epochs", ">= 1"),
    (["pretrain.levels_per_group=1"], "pretrain.levels_per_group", ">= 2 and <= 6"),
    (["pretrain.levels_per_group=7"], "pretrain.levels_per_group", ">= 2 and <= 6"),
    (["pretrain.lr=0"], "pretrain.lr", "> 0"),
    (["pretrain.weight_decay=-1"], "pretrain.weight_decay", ">= 0"),
    (["pretrain.ranking_weight=-0.5"], "pretrain.ranking_weight", ">= 0"),
    (["pretrain.reconstruction_weight=-1"], "pretrain.reconstruction_weight", ">= 0"),
    ([f"pretrain.{n}_weight=0" for n in ("ranking", "classification", "regression", "reconstruction")],
     "pretrain.ranking_weight", "at least one"),
    (["pretrain.margin=-0.1"], "pretrain.margin", ">= 0"),
    (["pretrain.decoder_width=0"], "pretrain.decoder_width", ">= 1"),
    (["pretrain.max_pixels=0"], "pretrain.max_pixels", ">= 1"),
    (["data.score_range=[0]"], "data.score_range", "[low, high]"),
    (["data.score_range=[0, 50, 100]"], "data.score_range", "[low, high]"),
    (['data.score_range=[0, "100"]'], "data.score_range", "finite"),
    (["data.score_range=[0, NaN]"], "data.score_range", "finite"),
    (["data.score_range=[5, 5]"], "data.score_range", "low != high"),
])
def test_range_errors_name_the_key(overrides, key, fragment):
    assert_rejected(overrides, key, fragment)


@pytest.mark.parametrize("overrides", [
    ["data.image_size=32", "data.resize_to=32"],
    ["data.random_crop=false", "data.resize_to=100"],  # resize_to unused: eval squashes, no crop
    ["train.epochs_head=0", "train.epochs_full=1"],
    ["model.dropout=0"],
    ["pretrain.crop_size=32", "pretrain.working_size=32", "pretrain.levels_per_group=6"],
    ["pretrain.ranking_weight=0", "pretrain.classification_weight=0", "pretrain.regression_weight=0"],
    ["data.score_range=[-1.5, 2]", "train.accuracy_threshold=-3"],
])
def test_boundary_values_are_accepted(overrides):
    load_config(None, overrides)


@pytest.mark.parametrize("pattern, fragment", [
    ("(", "invalid regular expression"),
    ("[a-", "invalid regular expression"),
    ("abc", "capturing group"),
    ("(?:abc)_q", "capturing group"),
    ("", "capturing group"),
])
def test_group_pattern_must_compile_with_a_group(pattern, fragment):
    assert_rejected([f"data.group_pattern={json.dumps(pattern)}"], "data.group_pattern", fragment)
    assert load_config(None, ['data.group_pattern="^(i\\\\d+)_"']).data.group_pattern == "^(i\\d+)_"


@pytest.mark.parametrize("loss, options, key, fragment", [
    ("emd", {"r": 0.5}, "train.loss_options.r", ">= 1"),
    ("emd", {"r": "two"}, "train.loss_options.r", "expected a number"),
    ("emd", {"r": True}, "train.loss_options.r", "expected a number"),
    ("emd", {"normalize": True}, "train.loss_options.normalize", "'r'"),
    ("emd_r1", {"r": 2}, "train.loss_options.r", "no options"),
    ("cdf", {"r": 2}, "train.loss_options.r", "no options"),
    ("mixed_mean", {"normalize": "yes"}, "train.loss_options.normalize", "true or false"),
    ("mixed_mean", {"r": 2}, "train.loss_options.r", "'normalize'"),
    ("combined", {"r": 0.9}, "train.loss_options.r", ">= 1"),
    ("combined", {"mean_weight": -1}, "train.loss_options.mean_weight", ">= 0"),
    ("combined", {"distribution_weight": 0, "mean_weight": 0}, "train.loss_options", "at least one"),
    ("combined", {"lambda": 1}, "train.loss_options.lambda", "'distribution_weight'"),
])
def test_loss_options_are_checked_per_loss(loss, options, key, fragment):
    assert_rejected([f"train.loss={loss}", f"train.loss_options={json.dumps(options)}"], key, fragment)


@pytest.mark.parametrize("loss, options", [
    ("emd", {}), ("emd", {"r": 1}), ("emd", {"r": 2.5}), ("emd_r1", {}), ("cdf", {}),
    ("mixed_mean", {"normalize": False}),
    ("combined", {"distribution_weight": 1, "mean_weight": 0.05, "r": 2, "normalize": False}),
    ("combined", {"distribution_weight": 0}),
])
def test_valid_loss_options(loss, options):
    cfg = load_config(None, [f"train.loss={loss}", f"train.loss_options={json.dumps(options)}"])
    assert cfg.train.loss_options == options


def test_loss_option_overrides_by_key():
    cfg = load_config(None, ["train.loss=combined", "train.loss_options.r=3", "train.loss_options.normalize=false"])
    assert cfg.train.loss_options == {"r": 3.0, "normalize": False}
    assert_rejected(["train.loss_options.r=0.5"], "train.loss_options.r", "NaN")


def test_every_loss_has_a_schema_and_an_implementation():
    for name in LOSSES:
        entry = LOSSES.get(name)
        assert entry.description and isinstance(entry.target, str), name
        assert entry.module.startswith("aesthetics.losses.")
        assert entry.load()().get_config()  # importable, constructible with its defaults


def test_unknown_keys_name_the_key(tmp_path):
    assert_rejected(["train.epoch=3"], "train.epoch", "unknown key")
    assert "did you mean 'epochs_head'" in assert_rejected(["train.epoch=3"], "train.epoch")
    with pytest.raises(ConfigError, match="^bogus: unknown section"):
        config_from_dict({"bogus": {}})
    with pytest.raises(ConfigError, match="^data: expected an object"):
        config_from_dict({"data": 3})
    with pytest.raises(ConfigError, match="^description: expected a string"):
        config_from_dict({"description": 3})
    assert config_from_dict({"description": "anything"}) == Config()
    assert_rejected(["data.image_size.x=1"], "data.image_size")
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"data": {"image_size": 224}}))
    with pytest.raises(ConfigError, match="^data.image_size: not an object"):
        load_config(path, ["data.image_size.x=1"])
    with pytest.raises(ConfigError, match="expected section.key=value"):
        load_config(None, ["data.image_size"])


def test_file_errors_name_the_key_and_the_file(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"data": {"eval_resize": "squash"}}))
    with pytest.raises(ConfigError, match=r"^data\.eval_resize: .*'squash'.*c\.json"):
        load_config(path)
    path.write_text('{"train": {"lr_full": NaN}}')  # Python's json reads NaN: rejected
    with pytest.raises(ConfigError, match=r"^train\.lr_full: expected a finite number"):
        load_config(path)
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="expected a JSON object"):
        load_config(path)
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.json")


def test_overrides_can_fix_a_file_value_and_blame_the_override(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"data": {"image_size": 224, "resize_to": 256}}))
    assert load_config(path, ["data.image_size=256"]).data.image_size == 256
    message = assert_rejected(["data.image_size=299"], "data.resize_to")
    assert "override data.image_size=299" in message


def test_apply_overrides_and_config_from_dict_validate():
    cfg = load_config(None)
    with pytest.raises(ConfigError, match="^data.image_size: expected an integer, got 'big'"):
        apply_overrides(cfg, ["data.image_size=big"])
    changed = apply_overrides(cfg, ["model.model=dual_path", "model.options.use_adain=false"])
    assert changed.model.options == {"use_adain": False}
    assert cfg.model.options == {}  # the input is not changed
    values = {"train": {"loss_options": {"r": 2}}}
    config_from_dict(values)
    assert values == {"train": {"loss_options": {"r": 2}}}
    with pytest.raises(ConfigError, match="^model.alpha: must be > 0"):
        config_from_dict({"model": {"alpha": -1}})


def test_nested_option_overrides():
    cfg = load_config(None, ["model.model=dual_path", "model.options.use_adain=false",
                             "model.options.use_attention=true", "model.options.non_local_blocks=2"])
    assert cfg.model.options == {"use_adain": False, "use_attention": True, "non_local_blocks": 2}
    assert_rejected(["model.model=dual_path", "model.options.use_adain=maybe"], "model.options.use_adain",
                    "true or false")
    assert_rejected(["model.model=dual_path", "model.options.non_local_blocks=-1"],
                    "model.options.non_local_blocks", ">= 0")
    assert_rejected(["model.model=dual_path", "model.options.adain_on=map", "model.options.use_attention=false"],
                    "model.options.adain_on", "needs use_attention")


def test_to_json_writes_no_nan(tmp_path):
    cfg = load_config(None)
    cfg.train.lr_full = math.nan  # only possible by assigning after validation
    with pytest.raises(ConfigError, match="^train.lr_full"):
        cfg.to_json(tmp_path / "c.json")
    cfg = load_config(None, ["train.loss_options.r=3"])
    cfg.to_json(tmp_path / "c.json")
    assert "NaN" not in (tmp_path / "c.json").read_text()
    assert load_config(tmp_path / "c.json") == cfg


def test_shipped_configs_exist():
    names = {p.name for p in ROOT_CONFIGS.glob("*.json")}
    assert {"sample.json", "nima_mobilenet.json", "pretrain_mobilenet.json"} <= names


def test_loading_imports_nothing_heavy():
    code = ("import aesthetics.config, sys; c=aesthetics.config.load_config('configs/sample.json'); "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules; "
            "assert 'pandas' not in sys.modules, 'pandas imported'")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_failed_validation_imports_nothing_heavy():
    code = ("import aesthetics.config, sys\n"
            "try:\n"
            "    aesthetics.config.load_config('configs/sample.json', ['data.image_size=big'])\n"
            "except aesthetics.config.ConfigError as e:\n"
            "    assert str(e).startswith('data.image_size:'), e\n"
            "else:\n"
            "    raise SystemExit('no error')\n"
            "assert not {'tensorflow', 'keras', 'pandas'} & set(sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


# --------------------------------------------- agreement with the registries


def test_backbone_spellings_match_the_registry():
    from aesthetics.models.backbones import canonical_backbone_name as registry_name

    assert len(BACKBONES) == 21  # 17 keras.applications + 4 KerasHub families
    spellings = [n for name in BACKBONES
                 for n in (name, name.upper(), name.replace("_", ""), name.replace("_", "-"))]
    for spelling in spellings:
        assert canonical_backbone_name(spelling) == registry_name(spelling), spelling
    for bad in ("resnet", "mobilenet_v9", "vit_huge"):
        assert canonical_backbone_name(bad) is None
        with pytest.raises(ValueError):
            registry_name(bad)


def test_loss_schemas_match_the_loss_classes():
    """Each loss's option schema names exactly its class's keyword arguments,
    with the class's defaults; every loss builds from its defaults."""
    import inspect

    from aesthetics.losses import get_loss

    for name in LOSSES:
        entry = LOSSES.get(name)
        params = inspect.signature(LOSSES[name].__init__).parameters
        names = set(params) - {"self", "name", "kwargs"}
        if name == "emd_r1":
            assert names == {"r"} and not entry.options  # r is fixed to 1 by the name in configs
        else:
            assert names == set(entry.options), name
        for option, schema in entry.options.items():
            assert params[option].default == schema.default, (name, option)
        get_loss(name, **{k: o.default for k, o in entry.options.items()})


def test_a_flipped_score_range_is_a_dmos_and_loads():
    from aesthetics.config import load_config

    assert load_config(None, ["data.score_range=[100, 0]"]).data.score_range == [100, 0]
