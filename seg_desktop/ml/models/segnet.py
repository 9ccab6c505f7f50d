"""SegNet (Badrinarayanan et al. 2017): VGG16 encoder whose max-pooling indices drive the decoder's unpooling."""

from __future__ import annotations

from pathlib import Path

import keras

from .layers import MaxPoolingWithArgmax2D, MaxUnpooling2D, conv_bn_relu
from .vgg import VGG16_BLOCK_CONVS, VGG16_BLOCK_FILTERS, load_vgg16_encoder


def build_segnet(
    num_classes: int,
    input_shape: tuple[int | None, int | None, int],
    width: float = 1.0,
    base_filters: int | None = None,
    encoder_weights: str | Path | None = None,
) -> keras.Model:
    """SegNet: 13 conv3x3+BN+ReLU in VGG16 blocks (2,2,3,3,3), 5 pools that keep argmax indices, mirrored decoder.

    Each decoder block unpools with the indices of its encoder block into that block's pre-pool shape (so odd
    sizes round-trip), then applies the mirrored convs; a 1x1 conv + softmax gives class probabilities. There is
    no UpSampling2D and no transposed conv. ``width`` scales VGG16's channels (1.0 = the paper, ~29.5M
    parameters); ``base_filters`` is the same knob expressed as first-block channels (``width = base_filters/64``)
    so callers can size UNet and SegNet alike. ``encoder_weights`` copies a VGG16 notop file into the 13 encoder
    convs (width 1.0 and 3 input channels only). The model has ``supports_jit = False`` (see the pooling layer).
    """
    if base_filters is not None:
        width = base_filters / VGG16_BLOCK_FILTERS[0]
    if width <= 0:
        raise ValueError(f"SegNet width must be positive, got {width}.")
    filters = [max(1, round(f * width)) for f in VGG16_BLOCK_FILTERS]

    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    pooled = []  # (pre-pool tensor, argmax indices) per encoder block
    for block, (n_convs, block_filters) in enumerate(zip(VGG16_BLOCK_CONVS, filters), start=1):
        for i in range(1, n_convs + 1):
            x = conv_bn_relu(x, block_filters, f"block{block}_conv{i}")
        pre_pool = x
        x, indices = MaxPoolingWithArgmax2D(2, name=f"block{block}_pool")(x)
        pooled.append((pre_pool, indices))

    for block in range(len(VGG16_BLOCK_CONVS), 0, -1):
        pre_pool, indices = pooled[block - 1]
        x = MaxUnpooling2D(name=f"decoder{block}_unpool")([x, indices, pre_pool])
        # Mirror the encoder block (convs n..1); its first conv maps to the previous block's channels.
        # Decoder block 1's last conv is the classifier below.
        for i in range(VGG16_BLOCK_CONVS[block - 1], 1 if block == 1 else 0, -1):
            out_filters = filters[block - 2] if i == 1 else filters[block - 1]
            x = conv_bn_relu(x, out_filters, f"decoder{block}_conv{i}")

    logits = keras.layers.Conv2D(num_classes, 1, name="logits")(x)
    outputs = keras.layers.Activation("softmax", dtype="float32", name="probabilities")(logits)
    model = keras.Model(inputs, outputs, name="segnet")
    model.supports_jit = False
    if encoder_weights is not None:
        load_vgg16_encoder(model, encoder_weights)
    return model
