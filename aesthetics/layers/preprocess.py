"""Backbone-specific input preprocessing as a layer, so a saved model takes raw RGB."""

import keras
from keras import ops

# Channel statistics used by keras.applications' "caffe" and "torch" modes.
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)
# OpenAI CLIP's image statistics (its preprocessor's mean and std over [0, 1] RGB)
_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

PREPROCESS_MODES = ("tf", "caffe", "torch", "clip", "none")


@keras.saving.register_keras_serializable(package="aesthetics")
class BackbonePreprocess(keras.layers.Layer):
    """Maps RGB pixels in [0, 255] to what an ImageNet backbone expects.

    Putting this inside the model (instead of in the data pipeline) means every
    exported artefact (`.keras`, SavedModel, ONNX, TFLite) takes plain RGB in
    [0, 255] and no consumer has to know the backbone's convention.

    Args:
        mode: one of
            "tf": x / 127.5 - 1 (MobileNet, MobileNetV2, Inception, Xception);
            "caffe": RGB->BGR, minus the ImageNet BGR mean (ResNet50, VGG);
            "torch": x / 255, minus mean, divided by std per channel (DenseNet);
            "clip": the same with CLIP's mean and std (KerasHub CLIP encoders);
            "none": identity (EfficientNet, ConvNeXt, MobileNetV3 carry their
                own rescaling).

    Input shape: (batch, height, width, 3), RGB in [0, 255].
    Output shape: same as the input.
    """

    def __init__(self, mode="tf", **kwargs):
        super().__init__(**kwargs)
        if mode not in PREPROCESS_MODES:
            raise ValueError(f"mode must be one of {PREPROCESS_MODES}, got {mode!r}")
        self.mode = mode

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "caffe":
            x = ops.flip(x, axis=-1)  # RGB -> BGR
            return x - ops.convert_to_tensor(_CAFFE_BGR_MEAN, dtype=x.dtype)
        if self.mode in ("torch", "clip"):
            mean = ops.convert_to_tensor(_TORCH_MEAN if self.mode == "torch" else _CLIP_MEAN, dtype=x.dtype)
            std = ops.convert_to_tensor(_TORCH_STD if self.mode == "torch" else _CLIP_STD, dtype=x.dtype)
            return (x / 255.0 - mean) / std
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode})
        return config
