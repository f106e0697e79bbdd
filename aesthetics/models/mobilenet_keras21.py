"""MobileNet v1 as Keras 2.1 built it: the backbone of idealo's NIMA weights.

Keras 2.1.x padded every 3x3 convolution symmetrically (``ZeroPadding2D(1)``
then a "valid" convolution). From Keras 2.2 on, and in tf.keras and Keras 3,
the five stride-2 convolutions (conv1, conv_dw_2/4/6/12) pad only the bottom
and right edges instead. The output shapes and weights are the same, so
idealo's Keras 2.1.6 files load into today's MobileNet without an error,
but every stride-2 layer then samples the photo one pixel off from how the
model was trained: the mean scores of idealo's aesthetic model move by up
to 0.46 on its own five published test photos. With this backbone they are
reproduced to within 6e-5 on four of them (the fifth, a 4:2:0 JPEG, is
decoded differently by libjpeg-turbo than by the IJG libjpeg 9 of Pillow
5.0: 0.033). See `aesthetics/zoo/nima-ava-mobilenet/MODEL_CARD.md`.

Layer names are Keras' own (conv1, conv_dw_N, conv_pw_N, their _bn and
_relu), so ImageNet MobileNet weights and Keras 2 HDF5 files load by name or
by order, as for `keras.applications.MobileNet`.
"""

from __future__ import annotations

import keras
from keras import layers

# (pointwise filters, stride) of the 13 depthwise-separable blocks
BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1),
          (512, 1), (512, 1), (1024, 2), (1024, 1))


def MobileNetKeras21(include_top: bool = False, weights=None, input_shape=None, alpha: float = 1.0,
                     pooling=None, **kwargs) -> keras.Model:
    """The convolutional part of MobileNet v1 with Keras 2.1's padding.

    Args:
        include_top: must be False (a feature backbone).
        weights: None (random) or "imagenet" (Keras' ImageNet MobileNet
            weights, copied in by layer name); a local file is loaded by the
            caller (`aesthetics.models.backbones.build_backbone`).
        input_shape: (height, width, 3); height and width may be None.
        alpha: width multiplier.
        pooling: None (the feature map), "avg" or "max".

    Input: float (B, H, W, 3) preprocessed as MobileNet expects ([-1, 1]).
    Output: (B, ceil(H / 32), ceil(W / 32), 1024 * alpha) (or pooled).
    """
    if include_top:
        raise ValueError("MobileNetKeras21 is a feature backbone: include_top must be False")
    inputs = keras.Input(tuple(input_shape or (None, None, 3)))
    x = layers.ZeroPadding2D(1, name="conv1_pad")(inputs)
    x = layers.Conv2D(int(32 * alpha), 3, strides=2, padding="valid", use_bias=False, name="conv1")(x)
    x = layers.BatchNormalization(name="conv1_bn")(x)
    x = layers.ReLU(6.0, name="conv1_relu")(x)
    for block, (filters, stride) in enumerate(BLOCKS, start=1):
        x = layers.ZeroPadding2D(1, name=f"conv_pad_{block}")(x)
        x = layers.DepthwiseConv2D(3, strides=stride, padding="valid", use_bias=False, name=f"conv_dw_{block}")(x)
        x = layers.BatchNormalization(name=f"conv_dw_{block}_bn")(x)
        x = layers.ReLU(6.0, name=f"conv_dw_{block}_relu")(x)
        x = layers.Conv2D(int(filters * alpha), 1, padding="same", use_bias=False, name=f"conv_pw_{block}")(x)
        x = layers.BatchNormalization(name=f"conv_pw_{block}_bn")(x)
        x = layers.ReLU(6.0, name=f"conv_pw_{block}_relu")(x)
    if pooling == "avg":
        x = layers.GlobalAveragePooling2D()(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D()(x)
    model = keras.Model(inputs, x, name=f"mobilenet_keras21_{alpha:g}")
    if weights == "imagenet":
        reference = keras.applications.MobileNet(include_top=False, weights="imagenet",
                                                 input_shape=tuple(input_shape or (224, 224, 3)), alpha=alpha)
        for layer in model.layers:
            if layer.weights:
                layer.set_weights(reference.get_layer(layer.name).get_weights())
    elif weights is not None:
        raise ValueError(f"weights: expected None or 'imagenet', got {weights!r}")
    return model
