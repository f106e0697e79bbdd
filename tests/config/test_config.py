import json

import pytest

from aesthetics.config import Config, ConfigError, load_config

ROOT_CONFIGS = __import__("pathlib").Path(__file__).resolve().parents[2] / "configs"


def test_defaults_and_overrides():
    cfg = load_config(None, ["train.epochs_full=3", "model.backbone=mobilenet_v2",
                             "data.score_range=[0, 100]", "model.options.use_adain=false"])
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
