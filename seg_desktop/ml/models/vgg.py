"""Initialise a model's encoder from a Keras VGG16 "notop" weights file the user already has on disk.

Nothing is downloaded: the app must work offline and on clusters without internet. The file is read by building
``keras.applications.VGG16(include_top=False, weights=PATH)``, so every format Keras accepts there works (the
legacy ``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`` and ``*.weights.h5``). Its conv layers are named
``block{b}_conv{i}``; each model names the encoder convs that mirror VGG16 the same way, and those are copied.
"""

from __future__ import annotations

from pathlib import Path

import keras

# Convs per VGG16 block and the channels of each block at full width: the encoder shape SegNet copies and
# whose first four blocks UNet's contracting path matches.
VGG16_BLOCK_CONVS = (2, 2, 3, 3, 3)
VGG16_BLOCK_FILTERS = (64, 128, 256, 512, 512)


def load_vgg16_encoder(model: keras.Model, path: str | Path) -> int:
    """Copy the VGG16 conv kernels and biases in ``path`` into ``model``'s same-named convs; returns how many.

    Raises FileNotFoundError when the file is absent and ValueError when it cannot be read as VGG16 weights or
    a kernel shape differs (a width multiplier other than 1, or images without 3 channels), each naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"VGG16 encoder weights file {path} not found; download it on a machine with internet "
            "or train from scratch."
        )
    try:
        vgg = keras.applications.VGG16(include_top=False, weights=str(path), input_shape=(None, None, 3))
    except (ValueError, OSError, KeyError) as exc:
        raise ValueError(
            f"VGG16 encoder weights file {path} could not be loaded as Keras VGG16 'notop' weights ({exc}); "
            "use vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 or train from scratch."
        ) from exc

    pairs = []
    for source in vgg.layers:
        if not isinstance(source, keras.layers.Conv2D):
            continue
        try:
            target = model.get_layer(source.name)
        except ValueError:
            continue
        for src_w, dst_w in zip(source.weights, target.weights):
            if tuple(src_w.shape) != tuple(dst_w.shape):
                raise ValueError(
                    f"VGG16 encoder weights file {path} does not fit {model.name}: layer {source.name} needs "
                    f"{tuple(dst_w.shape)} but the file has {tuple(src_w.shape)}; use full width (64 base "
                    "filters) with 3-channel images, or train from scratch."
                )
        pairs.append((source, target))
    if not pairs:
        raise ValueError(f"VGG16 encoder weights file {path}: {model.name} has no VGG16-shaped encoder convs.")
    for source, target in pairs:
        target.set_weights(source.get_weights())
    return len(pairs)
