"""Issue 14's pretraining parts: native-resolution crops, mixed degradations,
paired groups with the supervised contrastive loss, distillation from a
frozen copy of the starting backbone, and trainable_backbone_layers."""

import numpy as np
import pytest
from synthetic_photos import gradient_photo
from harness import check_model, randomize_weights
from PIL import Image

from aesthetics.config import load_config
from aesthetics.errors import ConfigError
from aesthetics.pretext.batches import PretextOptions, bank_tensors, load_photo_bank, pretext_batch
from aesthetics.pretext.degrade import DEGRADATION_NAMES, NUM_LEVELS
from aesthetics.pretext.losses import supervised_contrastive_loss
from aesthetics.pretext.model import build_pretext_model, enabled_heads
from aesthetics.pretext.training import compile_pretext

TINY = [
    "model.alpha=0.25", "model.backbone_weights=null",
    "pretrain.crop_size=64", "pretrain.working_size=null",
    "pretrain.images_per_batch=2", "pretrain.crops_per_image=1", "pretrain.levels_per_group=3",
    "pretrain.steps_per_epoch=2", "pretrain.epochs=1", "pretrain.lr=1e-3",
    "pretrain.decoder=false", "pretrain.classification_weight=0",
    "pretrain.contrastive_weight=1", "pretrain.distill_weight=1", "pretrain.contrastive_dim=16",
]


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    d = tmp_path_factory.mktemp("photos")
    for i, (h, w) in enumerate([(150, 200), (96, 130), (300, 120)]):
        Image.fromarray(gradient_photo(h, w, i)).save(d / f"p{i}.png")
    paths = sorted(str(p) for p in d.iterdir())
    return load_photo_bank(paths, working_size=None, min_size=64)


def _batch(bank, options, seed=3, step=0):
    x, t = pretext_batch(*bank_tensors(bank), step, seed, options)
    return x.numpy(), {k: v.numpy() for k, v in t.items()}


def test_native_resolution_keeps_every_pixel(bank):
    assert sorted(map(tuple, bank.sizes)) == [(96, 130), (150, 200), (300, 120)]


def test_paired_groups_share_kind_and_levels_and_give_contrastive_classes(bank):
    opt = PretextOptions(crop_size=64, images_per_batch=2, crops_per_image=2, levels_per_group=3,
                         paired_groups=True, hflip=False)
    x, t = _batch(bank, opt)
    L, G = opt.levels_per_group, opt.groups
    levels, kinds = t["score"].reshape(G, L), t["kind"].reshape(G, L)
    np.testing.assert_array_equal(levels[: G // 2], levels[G // 2:])
    np.testing.assert_array_equal(kinds[: G // 2], kinds[G // 2:])
    contrast = t["contrast"].ravel()
    flat_levels, flat_kinds = t["score"].ravel(), t["kind"].ravel()
    expected = np.where(flat_levels > 0, 1 + flat_kinds * NUM_LEVELS + flat_levels - 1, 0)
    np.testing.assert_array_equal(contrast, expected)
    assert contrast.max() < 1 + len(DEGRADATION_NAMES) * NUM_LEVELS
    # every class of the batch has a positive (another row with the same class)
    values, counts = np.unique(contrast, return_counts=True)
    assert (counts >= 2).all(), dict(zip(values, counts))
    assert not np.allclose(t["restored"][0], t["restored"][(G // 2) * L])  # another crop
    with pytest.raises(ValueError, match="even number of groups"):
        PretextOptions(crop_size=64, images_per_batch=3, crops_per_image=1, paired_groups=True)


def test_mixed_groups_degrade_every_row_and_keep_the_ranking(bank):
    opt = PretextOptions(crop_size=64, images_per_batch=3, crops_per_image=2, levels_per_group=4,
                         mix_probability=1.0, hflip=False)
    plain = PretextOptions(crop_size=64, images_per_batch=3, crops_per_image=2, levels_per_group=4, hflip=False)
    (x, t), (_, t0) = _batch(bank, opt, step=2), _batch(bank, plain, step=2)
    np.testing.assert_array_equal(t["score"], t0["score"])  # the same crops, kinds and levels
    np.testing.assert_array_equal(t["kind"], t0["kind"])
    clean_rows = t["score"].ravel() == 0
    assert clean_rows.any()
    # a mixed group's level-0 row carries the second kind: not the clean crop, no contrastive class
    assert np.abs(x[clean_rows] - t["restored"][clean_rows] * 255).mean() > 0.5
    assert (t["contrast"].ravel()[clean_rows] == -1).all()
    assert np.isfinite(x).all() and 0 <= x.min() and x.max() <= 255


def _supcon_reference(labels, z, t):
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    total, anchors = 0.0, 0
    for i in range(len(labels)):
        if labels[i] < 0:
            continue
        others = [a for a in range(len(labels)) if a != i and labels[a] >= 0]
        pos = [p for p in others if labels[p] == labels[i]]
        if not pos:
            continue
        log_den = np.log(sum(np.exp(z[i] @ z[a] / t) for a in others))
        total += -np.mean([z[i] @ z[p] / t - log_den for p in pos])
        anchors += 1
    return total / max(anchors, 1)


def test_supervised_contrastive_loss_matches_its_definition():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(8, 5)).astype("float32")
    labels = np.array([0, 1, 1, 2, 0, -1, 3, 2])
    got = float(supervised_contrastive_loss(labels[:, None], z, 0.2))
    assert got == pytest.approx(_supcon_reference(labels, z, 0.2), rel=1e-4)
    assert float(supervised_contrastive_loss(np.array([[0], [1], [-1]]), z[:3], 0.2)) == 0.0  # no positives
    # pulling the positives together lowers it
    tight = z.copy()
    tight[2], tight[7] = tight[1], tight[3]
    assert float(supervised_contrastive_loss(labels[:, None], tight, 0.2)) < got


def test_contrast_and_distill_heads_train_while_the_teacher_stays(bank):
    cfg = load_config(None, TINY + ["pretrain.mix_probability=0.5"])
    assert enabled_heads(cfg.pretrain) == ("score", "level", "contrast", "distill")
    model = build_pretext_model(cfg.model, cfg.pretrain)
    options = PretextOptions.from_config(cfg.pretrain)
    assert options.paired_groups and options.mix_probability == 0.5
    x, t = _batch(bank, options)
    student, teacher_model = model.get_layer("backbone"), model.get_layer("teacher")
    assert all(np.array_equal(a, b) for a, b in zip(student.get_weights(), teacher_model.get_weights()))
    # a random-init alpha=0.25 MobileNet's features vanish (~1e-17): give both
    # the same non-degenerate weights, as an ImageNet start has
    randomize_weights(student, seed=1, scale=0.2)
    teacher_model.set_weights(student.get_weights())
    out = model.predict(x, verbose=0)
    assert out["contrast"].shape == (len(x), 16)
    np.testing.assert_allclose(out["distill"], 0.0, atol=1e-5)  # the teacher starts as the backbone
    compile_pretext(model, cfg.pretrain, group_size=options.levels_per_group)
    model.run_eagerly = True
    teacher = [w.copy() for w in model.get_layer("teacher").get_weights()]
    backbone = [w.copy() for w in model.get_layer("backbone").get_weights()]
    for _ in range(2):
        logs = model.train_on_batch(x, {h: t[h] for h in model.output}, return_dict=True)
    assert np.isfinite(logs["loss"]) and logs["contrast_loss"] > 0
    assert all(np.array_equal(a, b) for a, b in zip(teacher, model.get_layer("teacher").get_weights()))
    assert any(not np.array_equal(a, b) for a, b in zip(backbone, model.get_layer("backbone").get_weights()))
    assert float(model.predict(x, verbose=0)["distill"].mean()) > 0  # the backbone moved away


def test_trainable_backbone_layers_freezes_the_early_blocks():
    cfg = load_config(None, TINY + ["pretrain.trainable_backbone_layers=4", "pretrain.distill_weight=0"])
    backbone = build_pretext_model(cfg.model, cfg.pretrain).get_layer("backbone")
    leaves = [layer for layer in backbone._flatten_layers(include_self=False) if layer.weights]
    assert [layer.trainable for layer in leaves[-4:]] == [True] * 4
    assert not any(layer.trainable for layer in leaves[:-4])


def test_pretext_model_with_contrast_and_distill_through_harness():
    cfg = load_config(None, TINY)
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    check_model(lambda: build_pretext_model(cfg.model, cfg.pretrain), x,
                {"score": (2, 1), "level": (2, 1), "contrast": (2, 16), "distill": (2, 1)})


@pytest.mark.parametrize("sets, key", [
    (["pretrain.contrastive_weight=1", "pretrain.images_per_batch=3", "pretrain.crops_per_image=1"],
     "pretrain.contrastive_weight"),
    (["pretrain.mix_probability=0.5", 'pretrain.kinds=["jpeg"]'], "pretrain.mix_probability"),
    (["pretrain.mix_probability=1.5"], "pretrain.mix_probability"),
    (["pretrain.contrastive_temperature=0"], "pretrain.contrastive_temperature"),
    (["pretrain.distill_weight=-1"], "pretrain.distill_weight"),
    (["pretrain.trainable_backbone_layers=-2"], "pretrain.trainable_backbone_layers"),
])
def test_bad_pretrain_settings_name_their_key(sets, key):
    with pytest.raises(ConfigError) as e:
        load_config(None, sets)
    assert str(e.value).startswith(key + ":"), str(e.value)


def _psnr_to_clean(x, t):
    mse = ((x / 255.0 - t["restored"]) ** 2).mean(axis=(1, 2, 3))
    return -10 * np.log10(np.maximum(mse, 1e-12))


@pytest.mark.parametrize("shared", [True, False])
def test_shared_randomness_gives_a_group_one_draw(bank, shared):
    """With one draw per group (the default) the rows of a motion-blur group
    differ only in length: every longer blur is further from the clean crop."""
    opt = PretextOptions(crop_size=64, images_per_batch=3, crops_per_image=2, levels_per_group=4, hflip=False,
                         kind_ids=(DEGRADATION_NAMES.index("motion_blur"),), shared_randomness=shared)
    orders = []
    for step in range(4):
        x, t = _batch(bank, opt, step=step)
        psnr = _psnr_to_clean(x, t).reshape(opt.groups, opt.levels_per_group)
        orders.extend(np.diff(psnr, axis=1).ravel() < 0)
    if shared:
        assert all(orders)
    assert np.mean(orders) > 0.5


def test_example_seeds_fix_the_random_parameters():
    import tensorflow as tf

    from aesthetics.pretext.degrade import degrade_batch

    x = tf.constant(np.stack([gradient_photo(48, 48, 5)] * 2).astype("float32") / 255.0)
    kinds = tf.fill([2], DEGRADATION_NAMES.index("gaussian_noise"))
    same = tf.constant([[3, 4], [3, 4]], tf.int32)
    y = degrade_batch(x, kinds, tf.constant([2, 2]), seed=[1, 1], example_seeds=same).numpy()
    np.testing.assert_allclose(y[0], y[1])  # one noise pattern
    z = degrade_batch(x, kinds, tf.constant([2, 2]), seed=[1, 1]).numpy()
    assert not np.allclose(z[0], z[1])
