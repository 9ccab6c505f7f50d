"""Segmentation models (UNet, SegNet) behind one registry: ``build_model(name, num_classes, input_shape)``.

Importing this package imports TensorFlow and registers the custom layers, which ``keras.saving.load_model``
needs to read a saved model back.
"""

from .registry import MODEL_NAMES, build_model, model_supports_jit

__all__ = ["MODEL_NAMES", "build_model", "model_supports_jit"]
