"""Self-supervised pretext pretraining (issue 3): data, heads, losses, model,
and `aesthetics pretrain` end to end (interrupt, resume, init-from, predict).

Tiny everywhere: MobileNet alpha 0.25, random init, 64 px crops, a few steps.
"""

import json
import shutil

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from synthetic_photos import gradient_photo
from harness import StopAfterEpochs, check_model
from PIL import Image

from aesthetics.config import load_config
from aesthetics.pretext.degrade import DEGRADATION_NAMES, NUM_LEVELS
from aesthetics.pretext.batches import (
    PretextOptions,
    bank_tensors,
    load_photo_bank,
    make_pretext_dataset,
    pretext_batch,
)
from aesthetics.pretext.model import (
    build_pretext_model,
    enabled_heads,
    scoring_model_from_pretext,
)
from aesthetics.pretext.losses import (
    MarginRankingLoss,
    MaskedKindCrossEntropy,
    PairwiseRankAccuracy,
    ReconstructionLoss,
    margin_ranking_loss,
    reconstruction_loss,
)
from aesthetics.pretext.training import compile_pretext

TINY = [
    "model.alpha=0.25",
    "model.backbone_weights=null",
    "pretrain.crop_size=64",
    "pretrain.working_size=80",
    "pretrain.images_per_batch=2",
    "pretrain.crops_per_image=1",
    "pretrain.levels_per_group=3",
    "pretrain.decoder_width=8",
    "pretrain.steps_per_epoch=2",
    "pretrain.epochs=1",
    "pretrain.lr=1e-3",
]


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("photos")
    (d / "sub").mkdir()
    Image.fromarray(gradient_photo(120, 160, 0)).save(d / "a.png")
    Image.fromarray(gradient_photo(100, 70, 1)).save(d / "sub" / "b.png")  # found recursively
    Image.fromarray(gradient_photo(90, 90, 2)).save(d / "c.jpg", quality=95)
    Image.fromarray(gradient_photo(40, 60, 3)).save(d / "tiny.png")  # below the crop size
    (d / "broken.jpg").write_bytes(b"not a jpeg at all")
    return d


@pytest.fixture(scope="module")
def bank(photo_dir):
    from aesthetics.data.images import find_images

    return load_photo_bank(find_images([photo_dir], recursive=True), working_size=80, min_size=64)


# -------------------------------------------------------------------- data


def test_photo_bank_downscales_and_reports_bad_files(bank, photo_dir):
    assert sorted(p.split("/")[-1] for p in bank.paths) == ["a.png", "b.png", "c.jpg"]
    assert set(bank.report.failures) == {str(photo_dir / "broken.jpg"), str(photo_dir / "tiny.png")}
    assert "too small" in bank.report.failures[str(photo_dir / "tiny.png")]
    sizes = {p.split("/")[-1]: tuple(s) for p, s in zip(bank.paths, bank.sizes)}
    assert sizes == {"a.png": (80, 107), "b.png": (100, 70), "c.jpg": (80, 80)}  # b: never upscaled
    b = [i for i, p in enumerate(bank.paths) if p.endswith("b.png")][0]
    assert bank.image(b).shape == (100, 70, 3) and bank.pixels.dtype == np.uint8


def _eager_batch(bank, options, seed, step):
    x, t = pretext_batch(*bank_tensors(bank), step, seed, options)
    return x.numpy(), {k: v.numpy() for k, v in t.items()}


def test_pretext_batches_shapes_ranges_and_determinism(bank):
    opt = PretextOptions(crop_size=64, images_per_batch=2, crops_per_image=2, levels_per_group=3, hflip=False)
    B, L = opt.batch_size, opt.levels_per_group
    assert B == 12
    batches = [
        (x.numpy(), {k: v.numpy() for k, v in t.items()})
        for x, t in make_pretext_dataset(bank, opt, seed=7, start_step=0, num_steps=2)
    ]
    x, t = batches[0]
    assert x.shape == (B, 64, 64, 3) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 255.0
    assert t["score"].shape == (B, 1) and t["score"].dtype == np.int32
    assert t["kind"].shape == (B, 1) and t["kind"].dtype == np.int32
    assert t["level"].shape == (B, 1) and t["level"].dtype == np.float32
    assert t["restored"].shape == (B, 64, 64, 3) and t["restored"].dtype == np.float32
    assert 0.0 <= t["restored"].min() and t["restored"].max() <= 1.0

    levels = t["score"].reshape(-1, L)
    assert (np.diff(levels, axis=1) > 0).all() and levels.min() >= 0 and levels.max() <= NUM_LEVELS
    np.testing.assert_allclose(t["level"].ravel(), t["score"].ravel() / NUM_LEVELS)
    kinds = t["kind"].reshape(-1, L)
    assert ((kinds == -1) == (levels == 0)).all()
    for g in range(opt.groups):
        degraded = kinds[g][kinds[g] >= 0]
        assert len(set(degraded)) <= 1 and all(0 <= k < len(DEGRADATION_NAMES) for k in degraded)
        clean = t["restored"][g * L : (g + 1) * L]
        assert (clean == clean[0]).all()  # one crop per group
    clean_rows = t["score"].ravel() == 0
    np.testing.assert_allclose(x[clean_rows], t["restored"][clean_rows] * 255.0, atol=1e-3)
    # the clean crop is an exact window of one of the photos (no resampling)
    crop = np.round(t["restored"][0] * 255).astype(np.uint8)
    windows = (
        (img[oy : oy + 64, ox : ox + 64] == crop).all()
        for img in (bank.image(i) for i in range(len(bank)))
        for oy in range(img.shape[0] - 63)
        for ox in range(img.shape[1] - 63)
    )
    assert any(windows)

    # a batch is a pure function of (seed, step): the same eagerly, alone, or
    # as the second step of the stream (what a resumed run relies on)
    x1, t1 = _eager_batch(bank, opt, seed=7, step=1)
    np.testing.assert_allclose(x1, batches[1][0], atol=1e-3)
    for k in t1:
        np.testing.assert_allclose(t1[k], batches[1][1][k], atol=1e-6)
    assert not np.allclose(_eager_batch(bank, opt, seed=8, step=0)[0], x, atol=1.0)


def test_options_validate():
    with pytest.raises(ValueError, match="levels_per_group"):
        PretextOptions(levels_per_group=7)
    cfg = load_config(None, TINY + ['pretrain.kinds=["jpeg", "haze"]'])
    assert PretextOptions.from_config(cfg.pretrain).kind_ids == (
        DEGRADATION_NAMES.index("jpeg"), DEGRADATION_NAMES.index("haze"))
    with pytest.raises(ValueError, match="unknown degradation"):
        PretextOptions.from_config(load_config(None, ['pretrain.kinds=["nope"]']).pretrain)


# ------------------------------------------------------------------ losses


def test_margin_ranking_loss_hand_computed():
    levels = tf.constant([[0], [2], [5]])
    ordered = tf.constant([[3.0], [2.0], [0.0]])  # every gap >= margin 1
    assert float(margin_ranking_loss(levels, ordered, 3, margin=1.0)) == 0.0
    reversed_ = tf.constant([[0.0], [1.0], [2.0]])
    # pairs (0,1): 1-(0-1)=2, (0,2): 1-(0-2)=3, (1,2): 1-(1-2)=2 -> 7/3
    np.testing.assert_allclose(float(margin_ranking_loss(levels, reversed_, 3, margin=1.0)), 7 / 3, rtol=1e-6)
    close = tf.constant([[1.0], [0.8], [0.0]])
    # (0,1): 0.5-0.2=0.3, others satisfied -> 0.3 / 3 pairs
    np.testing.assert_allclose(float(margin_ranking_loss(levels, close, 3, margin=0.5)), 0.1, rtol=1e-5)
    # two groups; equal levels make no pair: group 2 has pairs (0,2), (1,2) only
    lv = tf.constant([0, 1, 2, 1, 1, 3])
    sc = tf.constant([2.0, 1.0, 0.0, 0.0, 5.0, 1.0])
    # group 1: all satisfied (margin 1); group 2: (0,2): 1-(0-1)=2, (1,2): 1-(5-1)<0 -> 0
    np.testing.assert_allclose(float(margin_ranking_loss(lv, sc, 3, margin=1.0)), 2 / 5, rtol=1e-6)
    loss = MarginRankingLoss(group_size=3, margin=1.0)
    np.testing.assert_allclose(float(loss(lv[:, None], sc[:, None])), 2 / 5, rtol=1e-6)
    assert MarginRankingLoss.from_config(loss.get_config()).get_config() == loss.get_config()
    acc = PairwiseRankAccuracy(group_size=3)
    acc.update_state(lv[:, None], sc[:, None])
    np.testing.assert_allclose(float(acc.result()), 4 / 5)  # 3 + 1 of 5 pairs ordered


def test_reconstruction_and_kind_losses():
    rng = np.random.default_rng(0)
    a = tf.constant(rng.uniform(0, 1, (2, 32, 32, 3)), tf.float32)
    np.testing.assert_allclose(reconstruction_loss(a, a).numpy(), 0.0, atol=1e-5)
    assert float(ReconstructionLoss()(a, a)) < 1e-5
    b = tf.clip_by_value(a + 0.1, 0, 1)
    assert (reconstruction_loss(a, b).numpy() > 0.05).all()
    assert reconstruction_loss(a, tf.cast(a, tf.bfloat16)).dtype == tf.float32

    probs = tf.constant([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8], [1 / 3, 1 / 3, 1 / 3]])
    y = tf.constant([[0], [-1], [2]])  # the clean row (-1) is left out
    expected = (-np.log(0.5) - np.log(1 / 3)) / 2
    np.testing.assert_allclose(float(MaskedKindCrossEntropy()(y, probs)), expected, rtol=1e-5)


# ------------------------------------------------------------------ models


@pytest.fixture(scope="module")
def batch(bank):
    cfg = load_config(None, TINY)
    return _eager_batch(bank, PretextOptions.from_config(cfg.pretrain), seed=1, step=0)


# Every head is on in "all" and off in at least one other case.
HEAD_CASES = {
    "all": [],
    "ranking_only": ["pretrain.classification_weight=0", "pretrain.regression_weight=0", "pretrain.decoder=false"],
    "kind_and_decoder_without_skips": [
        "pretrain.ranking_weight=0", "pretrain.regression_weight=0", "pretrain.decoder_skips=false",
    ],
}
HEAD_LAYER = {"score": "rank_score", "kind": "kind_probs", "level": "level_pred", "restored": "restored"}


@pytest.mark.parametrize("case", list(HEAD_CASES))
def test_each_head_builds_and_trains_a_step(case, batch):
    cfg = load_config(None, TINY + HEAD_CASES[case])
    heads = enabled_heads(cfg.pretrain)
    model = build_pretext_model(cfg.model, cfg.pretrain)
    assert tuple(model.output.keys()) == heads
    compile_pretext(model, cfg.pretrain, group_size=3)
    model.run_eagerly = True  # one eager step: no graph tracing in a unit test
    x, t = batch
    before = {h: [w.copy() for w in model.get_layer(HEAD_LAYER[h]).get_weights()] for h in heads}
    logs = model.train_on_batch(x, {h: t[h] for h in heads}, return_dict=True)
    assert np.isfinite(logs["loss"]) and logs["loss"] > 0
    for h in heads:
        after = model.get_layer(HEAD_LAYER[h]).get_weights()
        assert any(not np.array_equal(a, b) for a, b in zip(before[h], after)), h
    if "restored" in heads:
        n_outputs = len(model.get_layer("backbone").outputs)
        assert n_outputs == (1 if case == "kind_and_decoder_without_skips" else 5)  # + strides 16, 8, 4, 2


def test_all_heads_off_is_an_error():
    off = ["pretrain.ranking_weight=0", "pretrain.classification_weight=0", "pretrain.regression_weight=0"]
    cfg = load_config(None, TINY + off + ["pretrain.decoder=false"])
    with pytest.raises(ValueError, match="switched off"):
        build_pretext_model(cfg.model, cfg.pretrain)
    with pytest.raises(ValueError, match="multiple of 32"):
        build_pretext_model(cfg.model, load_config(None, TINY + ["pretrain.crop_size=70"]).pretrain)


def test_pretext_model_through_harness():
    cfg = load_config(None, TINY)
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    check_model(
        lambda: build_pretext_model(cfg.model, cfg.pretrain),
        x,
        {"score": (2, 1), "kind": (2, len(DEGRADATION_NAMES)), "level": (2, 1), "restored": (2, 64, 64, 3)},
    )


def test_scoring_model_carries_backbone_and_ranking_head():
    from aesthetics.models import build_model
    from aesthetics.training.weights import transfer_backbone_weights

    cfg = load_config(None, TINY)
    pretext = build_pretext_model(cfg.model, cfg.pretrain)
    scorer = scoring_model_from_pretext(pretext, cfg.model)
    x = np.random.default_rng(1).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(scorer(x).numpy(), pretext(x)["score"].numpy(), atol=1e-5)
    nima = build_model(cfg.model, image_size=96)  # another input size: conv weights still fit
    assert transfer_backbone_weights(scorer, nima) > 0
    for a, b in zip(scorer.get_layer("backbone").get_weights(), nima.get_layer("backbone").get_weights()):
        np.testing.assert_array_equal(a, b)


def test_dual_path_backbone_can_be_pretrained():
    from aesthetics.models import build_model
    from aesthetics.training.weights import transfer_backbone_weights

    cfg = load_config(None, TINY + ['model.model="dual_path"'])
    pretext = build_pretext_model(cfg.model, cfg.pretrain)
    assert len(pretext.get_layer("backbone").outputs) == 2 + 4  # [local, global] + skips
    scorer = scoring_model_from_pretext(pretext, cfg.model)
    target = build_model(cfg.model, image_size=64)
    assert transfer_backbone_weights(scorer, target) > 0
    for a, b in zip(pretext.get_layer("backbone").get_weights(), target.get_layer("backbone").get_weights()):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------- end to end


def test_pretrain_cli_interrupt_resume_init_from_and_predict(shared_dir, tmp_path, capsys):
    from aesthetics.cli import main
    from aesthetics.pretext.training import pretrain
    from aesthetics.sample_data import sample_images_dir, sample_labels_path

    pristine = shared_dir / "data" / "pristine"
    photos = sorted(pristine.glob("*.jpg"))[:3]
    if len(photos) < 3:
        pytest.skip(f"needs photos in {pristine}")
    folder = tmp_path / "photos"
    (folder / "nested").mkdir(parents=True)
    for i, p in enumerate(photos):
        shutil.copy(p, (folder / "nested" if i else folder) / p.name)
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8 truncated")
    run = tmp_path / "run"
    sets = TINY + ["pretrain.epochs=2"]

    # interrupted after epoch 1 of 2
    with pytest.raises(KeyboardInterrupt):
        pretrain(load_config(None, sets), run, images=str(folder), verbose=0, callbacks=[StopAfterEpochs(1)])
    state = json.loads((run / "state.json").read_text())
    assert state["epochs_done"] == 1 and not state.get("finished")
    assert (run / "checkpoints" / "last.keras").exists() and not (run / "model.keras").exists()

    # re-running the command resumes and finishes
    args = ["pretrain", "--images", str(folder), "--output", str(run), "--verbose", "0"]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["n_photos"] == 3
    history = pd.read_csv(run / "history.csv")
    assert list(history["epoch"]) == [0, 1]  # each epoch once
    assert {"loss", "score_loss", "kind_loss", "level_loss", "restored_loss", "seconds"} <= set(history)
    assert json.loads((run / "state.json").read_text())["finished"]
    for name in ("model.keras", "pretext.keras", "config.json", "metrics.json"):
        assert (run / name).exists(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["n_skipped"] == 1 and "corrupt.jpg" in next(iter(metrics["skipped"]))
    pretext = keras.saving.load_model(run / "pretext.keras", compile=False)
    assert set(pretext.output.keys()) == {"score", "kind", "level", "restored"}
    scorer = keras.saving.load_model(run / "model.keras")
    assert scorer.output_shape == (None, 1) and scorer.get_layer("backbone")

    # supervised training initialised from it (phase 1 only: the backbone stays as pretrained)
    train_run = tmp_path / "train"
    assert main([
        "train", "--images", str(sample_images_dir()), "--labels", str(sample_labels_path()),
        "--score-range", "0", "100", "--output", str(train_run), "--init-from", str(run / "model.keras"),
        "--verbose", "0", "--set", "data.image_size=64", "--set", "data.resize_to=72",
        "--set", "data.batch_size=16", "--set", "model.alpha=0.25", "--set", "model.backbone_weights=null",
        "--set", "train.epochs_head=1", "--set", "train.epochs_full=0",
    ]) == 0
    trained = keras.saving.load_model(train_run / "model.keras")
    for a, b in zip(scorer.get_layer("backbone").get_weights(), trained.get_layer("backbone").get_weights()):
        np.testing.assert_array_equal(a, b)

    # zero-shot scoring with the ranking head
    out = tmp_path / "scores.json"
    capsys.readouterr()
    assert main(["predict", str(folder), "--recursive", "--model", str(run / "model.keras"), "--output", str(out)]) == 0
    records = json.loads(out.read_text())
    scored = [r for r in records if "error" not in r]
    assert len(scored) == 3 and len(records) == 4
    assert all(np.isfinite(r["mean_score_prediction"]) and "distribution" not in r for r in scored)
