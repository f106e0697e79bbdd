"""Hostile configs (JSON files and --set overrides): every bad value is one
ConfigError starting with the dotted key (or the file and line) and ends in
one line on the command line, before TensorFlow starts training."""

import pytest

from aesthetics.config import load_config
from aesthetics.errors import AestheticsError, ConfigError

import hostile_inputs as h

N30 = "9" * 30
# file name -> (text, needle); the message must also be one line
BAD_FILES = {
    "empty": ("", "invalid JSON"), "blank": ("  \n", "invalid JSON"), "list": ("[1]", "expected a JSON object"),
    "null": ("null", "expected a JSON object"), "string": ('"x"', "expected a JSON object"),
    "number": ("3", "expected a JSON object"), "truncated": ('{"data": {', "invalid JSON"),
    "deep_list": ("[" * 100000 + "]" * 100000, "nested too deeply"),
    "deep_object": ('{"data": ' * 50000 + "1" + "}" * 50000, "nested too deeply"),
    "digits": ('{"data": {"image_size": ' + "9" * 5000 + "}}", "too many digits"),
    "binary": (b"\xff\xfe\x00\x01", "not UTF-8"),
    "nan_literal": ('{"train": {"lr_head": NaN}}', "train.lr_head"), "inf_literal": ('{"train": {"lr_full": Infinity}}', "train.lr_full"),
    "minus_inf": ('{"train": {"lr_full": -Infinity}}', "train.lr_full"),
    "huge_image_size": ('{"data": {"image_size": ' + "9" * 50 + "}}", "data.image_size"),
    "huge_lr": ('{"train": {"lr_head": ' + "9" * 400 + "}}", "train.lr_head"),
    "overflow_float": ('{"train": {"lr_head": 1e999}}', "train.lr_head"),
    "huge_epochs": ('{"train": {"epochs_head": ' + N30 + "}}", "train.epochs_head"),
    "huge_batch": ('{"data": {"batch_size": ' + N30 + "}}", "data.batch_size"),
    "huge_side": ('{"data": {"image_size": 100000, "resize_to": 100000}}', "data.image_size"),
    "huge_alpha": ('{"model": {"alpha": 1e300}}', "model.alpha"), "huge_bins": ('{"model": {"num_bins": 1000000000}}', "model.num_bins"),
    "huge_shuffle": ('{"data": {"shuffle_buffer": ' + N30 + "}}", "data.shuffle_buffer"),
    "huge_patience": ('{"train": {"early_stopping_patience": ' + N30 + "}}", "train.early_stopping_patience"),
    "huge_seed": ('{"train": {"seed": ' + N30 + "}}", "train.seed"),
    "huge_max_pixels": ('{"data": {"max_pixels": ' + "9" * 400 + "}}", "data.max_pixels"),
    "huge_decoder": ('{"pretrain": {"decoder_width": 100000000}}', "pretrain.decoder_width"),
    "huge_steps": ('{"pretrain": {"steps_per_epoch": ' + N30 + "}}", "pretrain.steps_per_epoch"),
    "huge_working_size": ('{"pretrain": {"working_size": 100000000}}', "pretrain.working_size"),
    "huge_crop": ('{"pretrain": {"crop_size": 65536, "working_size": 65536}}', "pretrain.crop_size"),
    "unknown_section": ('{"dta": {}}', "did you mean 'data'"), "unknown_key": ('{"data": {"imagesize": 3}}', "data.imagesize"),
    "section_list": ('{"data": []}', "data:"), "section_null": ('{"model": null}', "model:"),
    "duplicate_keys": ('{"data": {"image_size": 64}, "data": {"image_size": "x"}}', "data.image_size"),
    "numeric_section": ('{"1": {}}', "unknown section"),
    "nested_nan_option": ('{"model": {"options": {"a": {"b": {"c": [1, {"d": NaN}]}}}}}', "model.options.a.b.c[1].d"),
    "options_list": ('{"model": {"options": [1]}}', "model.options"),
    "emd_below_1": ('{"train": {"loss_options": {"r": 0.5}}}', "train.loss_options.r"),
    "loss_options_text": ('{"train": {"loss_options": "r=2"}}', "train.loss_options"),
    "description_number": ('{"description": 3}', "description"),
    "score_range_object": ('{"data": {"score_range": {"a": 1}}}', "data.score_range"),
    "score_range_nested": ('{"data": {"score_range": [[0], [100]]}}', "data.score_range"),
    "score_range_bools": ('{"data": {"score_range": [false, true]}}', "data.score_range"),
    "score_range_equal": ('{"data": {"score_range": [5, 5]}}', "data.score_range"),
    "kinds_nested": ('{"pretrain": {"kinds": [["jpeg"]]}}', "pretrain.kinds"),
    "group_pattern_number": ('{"data": {"group_pattern": 3}}', "data.group_pattern"),
    "group_pattern_no_group": ('{"data": {"group_pattern": "^a"}}', "data.group_pattern"),
    "weights_empty": ('{"model": {"backbone_weights": " "}}', "model.backbone_weights"),
    "weights_list": ('{"model": {"backbone_weights": ["a"]}}', "model.backbone_weights"),
    "mixed_precision": ('{"train": {"mixed_precision": "fp8"}}', "train.mixed_precision"),
    "backbone_number": ('{"model": {"backbone": 5}}', "model.backbone"),
    "val_fraction_1": ('{"data": {"val_fraction": 1}}', "data.val_fraction"),
    "lr_negative": ('{"train": {"lr_head": -1}}', "train.lr_head"), "dropout_1": ('{"model": {"dropout": 1.0}}', "model.dropout"),
    "images_number": ('{"data": {"images": 5}}', "data.images"), "bool_as_int": ('{"data": {"batch_size": true}}', "data.batch_size"),
    "float_as_int": ('{"data": {"batch_size": 8.0}}', "data.batch_size"),
    "int_as_bool": ('{"data": {"cache": 1}}', "data.cache"), "string_as_list": ('{"pretrain": {"kinds": "jpeg"}}', "pretrain.kinds"),
}

BAD_OVERRIDES = {
    "data.image_size=abc": "data.image_size", "data.image_size=1e3": "data.image_size", "data.image_size=64.0": "data.image_size",
    "data": "section.key=value", "=3": "key must start", "foo.bar=1": "key must start", "data.=3": "unknown key",
    "model.alpha=.": "model.alpha", "train.lr_head=nan": "train.lr_head", "train.lr_head=NaN": "train.lr_head",
    "train.lr_head=Infinity": "train.lr_head", "train.lr_head=-0": "train.lr_head", "train.epochs_head=-1": "train.epochs_head",
    "data.batch_size=0": "data.batch_size", "data.shuffle_buffer=0": "data.shuffle_buffer",
    "data.group_pattern=(": "data.group_pattern", "data.group_pattern=[": "data.group_pattern",
    "data.score_range=[0]": "data.score_range", "data.score_range=0,100": "data.score_range",
    "model.backbone=../../x": "model.backbone", "train.loss_options.r=0.5": "train.loss_options.r",
    'train.loss_options={"r":NaN}': "train.loss_options.r", "model.options=null": "model.options",
    "data.images.x=1": "data.images", "data.image_size=" + "9" * 5000: "data.image_size",
    "data.image_size=" + "[" * 5000: "data.image_size", "data.label_format=csv": "data.label_format",
    "train.loss=huber": "train.loss", "train.optimizer=lion": "train.optimizer", "model.model=vit": "model.model",
    "data.eval_resize=stretch": "data.eval_resize", "pretrain.crop_size=100": "pretrain.crop_size",
    "pretrain.levels_per_group=7": "pretrain.levels_per_group", "pretrain.kinds=[]": "pretrain.kinds",
    'pretrain.kinds=["jpeg","foo"]': "pretrain.kinds", "data.val_fraction=0": "data.val_fraction",
    "data.split_seed=-1": "data.split_seed", "data.max_pixels=0": "data.max_pixels", "model.num_bins=1": "model.num_bins",
    "data.random_crop=yes": "data.random_crop", "data.random_crop=1": "data.random_crop", "description=x": "key must start",
    "data.resize_to=8": "data.resize_to", "train.epochs_full=1e400": "train.epochs_full",
}


def _write(tmp_path, name, text):
    path = tmp_path / f"{name}.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_bad_config_file_is_one_config_error_naming_the_key(tmp_path, name):
    text, needle = BAD_FILES[name]
    path = _write(tmp_path, name, text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    message = str(e.value)
    assert needle in message and path.name in message and "\n" not in message and len(message) < 400


@pytest.mark.parametrize("item", sorted(BAD_OVERRIDES), ids=lambda s: s[:40])
def test_a_bad_override_is_one_config_error_naming_the_key(item):
    with pytest.raises(ConfigError) as e:
        load_config(None, [item])
    message = str(e.value)
    assert BAD_OVERRIDES[item] in message and "\n" not in message and len(message) < 600


@pytest.mark.parametrize("text, check", [
    ('\ufeff{"data": {"image_size": 64, "resize_to": 64}}', lambda c: c.data.image_size == 64),
    ('{"model": {"backbone": "MobileNetV2"}}', lambda c: c.model.backbone == "MobileNetV2"),
    ('{"train": {"lr_head": 1}}', lambda c: c.train.lr_head == 1.0 and isinstance(c.train.lr_head, float)),
    ('{"description": "\\ud800 odd text"}', lambda c: True),
    ('{"data": {"score_range": [100, 0]}}', lambda c: c.data.score_range == [100, 0]),
], ids=["bom", "backbone_spelling", "int_lr", "lone_surrogate", "flipped_range"])
def test_odd_but_valid_configs_load(tmp_path, text, check):
    config = load_config(_write(tmp_path, "ok", text))
    assert check(config)
    config.to_json(tmp_path / "round_trip.json")
    assert load_config(tmp_path / "round_trip.json") == config


def test_a_folder_as_config(tmp_path):
    (tmp_path / "c.json").mkdir()
    with pytest.raises(AestheticsError):
        load_config(tmp_path / "c.json")


@pytest.mark.parametrize("args, needle", [
    (["--set", "data.image_size=abc"], "data.image_size"),
    (["--set", "data.image_size=" + "[" * 3000], "nested too deeply"),
    (["--set", "data.batch_size=" + "9" * 30], "data.batch_size"),
    (["--set", "model.alpha=1e300"], "model.alpha"),
    (["--set", "train.epochs_head=" + "9" * 30], "train.epochs_head"),
    (["--epochs", "-1"], "train.epochs_full"),
    (["--batch-size", "0", "--set", "data.batch_size=0"], "data.batch_size"),
    (["--set", "data.shuffle_buffer=0"], "data.shuffle_buffer"),
    (["--set", "data.group_pattern=("], "data.group_pattern"),
    (["--score-range", "5", "5"], "data.score_range"),
    (["--score-range", "nan", "100"], "data.score_range"),
    (["--config", "CONFIG_DEEP"], "nested too deeply"),
    (["--config", "CONFIG_BINARY"], "not UTF-8"),
    (["--config", "NOPE.json"], "NOPE.json"),
], ids=lambda v: str(v)[:30])
def test_train_refuses_a_bad_config_in_one_line(tmp_path, capsys, args, needle):
    images, labels = h.tiny_labelled_set(tmp_path, 2)
    _write(tmp_path, "CONFIG_DEEP", "[" * 100000 + "]" * 100000)
    _write(tmp_path, "CONFIG_BINARY", b"\xff\xfe")
    args = [str(tmp_path / f"{a}.json") if a.startswith("CONFIG_") else str(tmp_path / a) if a == "NOPE.json" else a
            for a in args]
    result = h.run_cli(capsys, "train", "--images", images, "--labels", labels, "--output", tmp_path / "run", *args)
    h.assert_clear_error(result, needle)
    assert not (tmp_path / "run").exists()  # refused before anything was written


@pytest.mark.parametrize("args, needle", [
    (["--set", "pretrain.crop_size=100"], "pretrain.crop_size"),
    (["--set", "pretrain.decoder_width=100000000"], "pretrain.decoder_width"),
    (["--steps", "0"], "pretrain.steps_per_epoch"),
    (["--epochs", "-3"], "pretrain.epochs"),
    (["--seed", "-1"], "pretrain.seed"),
])
def test_pretrain_refuses_a_bad_config_in_one_line(tmp_path, capsys, args, needle):
    images, _ = h.tiny_labelled_set(tmp_path, 2)
    result = h.run_cli(capsys, "pretrain", "--images", images, "--output", tmp_path / "run", *args)
    h.assert_clear_error(result, needle)


@pytest.mark.parametrize("options, needle", [
    ({"model.options.use_adain": "maybe"}, "use_adain"),
    ({"model.model": "dual_path", "model.options.use_adain": "maybe"}, "use_adain"),
])
def test_bad_model_options_are_one_line_when_the_model_is_built(tmp_path, capsys, options, needle):
    images, labels = h.tiny_labelled_set(tmp_path, 4)
    sets = [x for k, v in options.items() for x in ("--set", f"{k}={v}")]
    result = h.run_cli(capsys, "train", "--images", images, "--labels", labels, "--output", tmp_path / "run",
                       *h.TINY_TRAIN, "--epochs", "1", *sets)
    h.assert_clear_error(result, needle)
    assert not (tmp_path / "run" / "model.keras").exists()
