"""The one place that maps a model name (from a config, the CLI or the GUI) to its builder."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import NamedTuple

import keras

from .segnet import build_segnet
from .unet import build_unet


class _Entry(NamedTuple):
    build: Callable[..., keras.Model]
    supports_jit: bool  # False when a layer has no XLA kernel (SegNet's MaxPoolWithArgmax)


_REGISTRY: dict[str, _Entry] = {
    "unet": _Entry(build_unet, True),
    "segnet": _Entry(build_segnet, False),
}

MODEL_NAMES: tuple[str, ...] = tuple(_REGISTRY)


def _entry(name: str) -> _Entry:
    try:
        return _REGISTRY[name.lower()]
    except KeyError:
        raise ValueError(f"Unknown model {name!r}; choose one of: {', '.join(MODEL_NAMES)}.") from None


def model_supports_jit(name: str) -> bool:
    """Whether the named model may be compiled with XLA (``jit_compile=True``)."""
    return _entry(name).supports_jit


def build_model(
    name: str, num_classes: int, input_shape: tuple[int | None, int | None, int], **options
) -> keras.Model:
    """Build model ``name`` ("unet" or "segnet", any case) giving per-pixel softmax probabilities.

    ``input_shape`` is (height, width, channels); height and width may be None. The output is
    (batch, height, width, num_classes) float32, also under a mixed-precision policy. ``options`` go to the
    builder: unet takes base_filters, dropout, encoder_weights; segnet takes width, base_filters, encoder_weights.
    """
    entry = _entry(name)
    if num_classes < 2:
        raise ValueError(
            f"A segmentation model needs at least 2 classes (binary masks are classes 0/1), got {num_classes}."
        )
    if len(input_shape) != 3 or not input_shape[2] or any(s is not None and s < 1 for s in input_shape[:2]):
        raise ValueError(f"input_shape must be (height, width, channels) with channels set, got {input_shape}.")
    known = set(inspect.signature(entry.build).parameters) - {"num_classes", "input_shape"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(
            f"Model {name!r} has no option {', '.join(unknown)}; its options are: {', '.join(sorted(known))}."
        )
    return entry.build(num_classes, tuple(input_shape), **options)
