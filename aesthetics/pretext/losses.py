"""Losses and metrics of the self-supervised pretext heads (issue 3).

All compute in float32 whatever the model's dtype policy, and all are
registered for `.keras` serialisation (a pretext checkpoint reloads compiled,
optimizer state included, for resume).

Targets follow `aesthetics.pretext.batches`: a batch is made of consecutive
groups of `group_size` rows (one crop at several levels); "score" targets are
the levels (0 = clean, lower is better), "kind" targets are degradation ids
with -1 for clean rows (no kind: excluded from the classification loss);
"contrast" targets are contrastive classes (0 clean, 1 + kind * 5 + level - 1,
-1 for rows that belong to no class).
"""

from __future__ import annotations

import keras
import tensorflow as tf


def _pairs(levels, scores, group_size):
    """(G, L, L) hinge-ready score differences and the mask of ordered pairs.

    mask[g, i, j] = 1 where row i of group g is less degraded than row j
    (level_i < level_j), i.e. where score_i should exceed score_j.
    """
    levels = tf.reshape(tf.cast(levels, tf.float32), [-1, group_size])
    scores = tf.reshape(tf.cast(scores, tf.float32), [-1, group_size])
    diff = scores[:, :, None] - scores[:, None, :]  # s_i - s_j
    mask = tf.cast(levels[:, :, None] < levels[:, None, :], tf.float32)
    return diff, mask


def margin_ranking_loss(levels, scores, group_size: int, margin: float = 0.25):
    """Pairwise hinge over all ordered pairs of every group, averaged over pairs.

    For rows i, j of one group with level_i < level_j (i less degraded):
    max(0, margin - (score_i - score_j)). Zero when every less degraded row
    scores at least `margin` above every more degraded one. Rows of equal
    level form no pair. Returns a float32 scalar.
    """
    diff, mask = _pairs(levels, scores, group_size)
    hinge = tf.nn.relu(margin - diff) * mask
    return tf.reduce_sum(hinge) / tf.maximum(tf.reduce_sum(mask), 1.0)


def reconstruction_loss(clean, restored):
    """Per-image L1 + (1 - SSIM), images in [0, 1]; float32 (B,).

    SSIM is `tf.image.ssim` (11x11 Gaussian window, max_val 1); both terms are
    0 for identical images. Images must be at least 11 px on a side.
    """
    clean = tf.cast(clean, tf.float32)
    restored = tf.cast(restored, tf.float32)
    l1 = tf.reduce_mean(tf.abs(clean - restored), axis=[1, 2, 3])
    ssim = tf.image.ssim(clean, restored, max_val=1.0)
    return l1 + (1.0 - ssim)


def supervised_contrastive_loss(labels, embeddings, temperature: float = 0.1):
    """Supervised contrastive loss (Khosla et al. 2020, "SupCon"), the
    distortion-aware objective of CONTRIQUE / Re-IQA: rows with the same
    class (degradation kind and level) are positives, all others negatives.

    For each anchor i with at least one positive: -mean over positives p of
    log(exp(z_i . z_p / t) / sum over a != i of exp(z_i . z_a / t)), with
    z the L2-normalised embeddings; averaged over those anchors. Rows with a
    negative label are neither anchors nor candidates. Returns a float32
    scalar (0 when no row has a positive).
    """
    labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
    z = tf.math.l2_normalize(tf.cast(embeddings, tf.float32), axis=-1)
    valid = labels >= 0
    n = tf.shape(labels)[0]
    not_self = 1.0 - tf.eye(n)
    candidates = not_self * tf.cast(valid[:, None] & valid[None, :], tf.float32)
    positives = candidates * tf.cast(tf.equal(labels[:, None], labels[None, :]), tf.float32)
    logits = tf.matmul(z, z, transpose_b=True) / temperature
    logits = logits - tf.stop_gradient(tf.reduce_max(logits, axis=1, keepdims=True))
    log_denominator = tf.math.log(tf.reduce_sum(tf.exp(logits) * candidates, axis=1) + 1e-12)
    n_pos = tf.reduce_sum(positives, axis=1)
    mean_log_prob = tf.reduce_sum(positives * logits, axis=1) / tf.maximum(n_pos, 1.0) - log_denominator
    anchors = tf.cast(n_pos > 0, tf.float32)
    return -tf.reduce_sum(mean_log_prob * anchors) / tf.maximum(tf.reduce_sum(anchors), 1.0)


@keras.saving.register_keras_serializable(package="aesthetics")
class SupervisedContrastiveLoss(keras.losses.Loss):
    """`supervised_contrastive_loss` as a Keras loss: y_true classes (B, 1),
    y_pred embeddings (B, D). The whole batch is one set of candidates."""

    def __init__(self, temperature: float = 0.1, name="supervised_contrastive", **kwargs):
        super().__init__(name=name, **kwargs)
        self.temperature = float(temperature)

    def call(self, y_true, y_pred):
        return supervised_contrastive_loss(y_true, y_pred, self.temperature)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}


@keras.saving.register_keras_serializable(package="aesthetics")
class MeanOutputLoss(keras.losses.Loss):
    """The mean of y_pred, y_true ignored: for an output that is itself a
    distance to drive to 0 (the distillation output, `CosineDistance`)."""

    def __init__(self, name="mean_distance", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        return tf.reduce_mean(tf.cast(y_pred, tf.float32), axis=-1)


@keras.saving.register_keras_serializable(package="aesthetics")
class MarginRankingLoss(keras.losses.Loss):
    """`margin_ranking_loss` as a Keras loss: y_true levels (B, 1), y_pred
    scores (B, 1); B must be a multiple of `group_size`."""

    def __init__(self, group_size: int, margin: float = 0.25, name="margin_ranking", **kwargs):
        super().__init__(name=name, **kwargs)
        self.group_size = int(group_size)
        self.margin = float(margin)

    def call(self, y_true, y_pred):
        return margin_ranking_loss(y_true, y_pred, self.group_size, self.margin)

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size, "margin": self.margin}


@keras.saving.register_keras_serializable(package="aesthetics")
class MaskedKindCrossEntropy(keras.losses.Loss):
    """Sparse categorical cross-entropy over degradation kinds, averaged over
    the rows with a kind (y_true >= 0); clean rows (-1) are left out."""

    def __init__(self, name="masked_kind_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        y_true = tf.reshape(tf.cast(y_true, tf.int32), [-1])
        y_pred = tf.cast(y_pred, tf.float32)
        mask = tf.cast(y_true >= 0, tf.float32)
        ce = keras.losses.sparse_categorical_crossentropy(tf.maximum(y_true, 0), y_pred)
        return tf.reduce_sum(ce * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)


@keras.saving.register_keras_serializable(package="aesthetics")
class ReconstructionLoss(keras.losses.Loss):
    """`reconstruction_loss` (L1 + 1 - SSIM) as a Keras loss, mean over the batch."""

    def __init__(self, name="l1_ssim", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        return reconstruction_loss(y_true, y_pred)


class _MaskedRatio(keras.metrics.Metric):
    """Hits over counted items across an epoch; subclasses say what a hit is."""

    def __init__(self, name, **kwargs):
        super().__init__(name=name, **kwargs)
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def hits_and_mask(self, y_true, y_pred):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        hits, mask = self.hits_and_mask(y_true, y_pred)
        self.correct.assign_add(tf.reduce_sum(hits * mask))
        self.total.assign_add(tf.reduce_sum(mask))

    def result(self):
        return self.correct / tf.maximum(self.total, 1.0)

    def reset_state(self):
        self.correct.assign(0.0)
        self.total.assign(0.0)


@keras.saving.register_keras_serializable(package="aesthetics")
class PairwiseRankAccuracy(_MaskedRatio):
    """Share of ordered pairs (level_i < level_j in one group) with
    score_i > score_j: 1.0 = every group perfectly ordered."""

    def __init__(self, group_size: int, name="pair_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.group_size = int(group_size)

    def hits_and_mask(self, y_true, y_pred):
        diff, mask = _pairs(y_true, y_pred, self.group_size)
        return tf.cast(diff > 0, tf.float32), mask

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size}


@keras.saving.register_keras_serializable(package="aesthetics")
class MaskedKindAccuracy(_MaskedRatio):
    """Top-1 accuracy of the kind classifier over degraded rows (y_true >= 0)."""

    def __init__(self, name="kind_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)

    def hits_and_mask(self, y_true, y_pred):
        y_true = tf.reshape(tf.cast(y_true, tf.int32), [-1])
        mask = tf.cast(y_true >= 0, tf.float32)
        hit = tf.cast(tf.equal(tf.argmax(y_pred, axis=-1, output_type=tf.int32), y_true), tf.float32)
        return hit, mask
