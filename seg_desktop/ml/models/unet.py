"""UNet (Ronneberger et al. 2015) for any image size, with optional VGG16-initialised contracting path."""

from __future__ import annotations

from pathlib import Path

import keras

from .layers import CropToMatch, PadToMultiple, conv_bn_relu
from .vgg import load_vgg16_encoder

_LEVELS = 4
_DIVISOR = 2**_LEVELS


def build_unet(
    num_classes: int,
    input_shape: tuple[int | None, int | None, int],
    base_filters: int = 64,
    dropout: float = 0.0,
    encoder_weights: str | Path | None = None,
) -> keras.Model:
    """UNet: 4 down / 4 up levels of 2x(conv3x3+BN+ReLU), skip concatenation, 2x2 stride-2 transposed convs.

    ``base_filters`` 64 is the paper's network (~31M parameters). The image is padded to a multiple of 16 inside
    the model and the output cropped back, so any size works. ``dropout`` > 0 adds dropout at the bottleneck (the
    end of the contracting path, as in the paper). The contracting convs carry VGG16's names
    (``block{level}_conv{i}``) so ``encoder_weights`` can initialise them from a VGG16 notop file; that needs
    ``base_filters`` 64 and 3 input channels.
    """
    if base_filters < 1:
        raise ValueError(f"UNet base_filters must be a positive integer, got {base_filters}.")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"UNet dropout must be in [0, 1), got {dropout}.")
    inputs = keras.Input(shape=input_shape, name="image")
    x = PadToMultiple(_DIVISOR, name="pad_to_multiple")(inputs)

    skips = []
    for level in range(1, _LEVELS + 1):
        filters = base_filters * 2 ** (level - 1)
        x = conv_bn_relu(x, filters, f"block{level}_conv1")
        x = conv_bn_relu(x, filters, f"block{level}_conv2")
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"block{level}_pool")(x)

    x = conv_bn_relu(x, base_filters * _DIVISOR, "bottleneck_conv1")
    x = conv_bn_relu(x, base_filters * _DIVISOR, "bottleneck_conv2")
    if dropout:
        x = keras.layers.Dropout(dropout, name="bottleneck_dropout")(x)

    for level in range(_LEVELS, 0, -1):
        filters = base_filters * 2 ** (level - 1)
        x = keras.layers.Conv2DTranspose(filters, 2, strides=2, name=f"up{level}_upconv")(x)
        x = keras.layers.Concatenate(name=f"up{level}_concat")([skips[level - 1], x])
        x = conv_bn_relu(x, filters, f"up{level}_conv1")
        x = conv_bn_relu(x, filters, f"up{level}_conv2")

    logits = keras.layers.Conv2D(num_classes, 1, name="logits")(x)
    logits = CropToMatch(name="crop_to_input")([logits, inputs])
    outputs = keras.layers.Activation("softmax", dtype="float32", name="probabilities")(logits)
    model = keras.Model(inputs, outputs, name="unet")
    if encoder_weights is not None:
        load_vgg16_encoder(model, encoder_weights)
    return model
