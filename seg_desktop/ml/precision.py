"""Training precision (TrainConfig.precision): float32, or Keras' mixed bfloat16 policy (bfloat16 compute,
float32 weights, softmax and loss) where the processor has bfloat16 arithmetic.

A checkpoint is always saved as a float32 model (`Float32Saver`): a mixed-precision .keras file would make every
later use (prediction on a laptop without bfloat16 instructions, where it is emulated and slow; ONNX export; a
resume in float32) inherit the training machine's policy. Weights are float32 variables under both policies, so
the float32 twin takes them one to one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import keras
import tensorflow as tf

POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}


def bfloat16_hardware() -> bool:
    """Whether this machine computes bfloat16 natively: an x86 CPU with AVX512-BF16 or AMX, or a GPU of compute
    capability 8.0 or later (Ampere). Elsewhere bfloat16 is emulated and slower than float32."""
    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0))
        if tuple(capability) >= (8, 0):
            return True
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve(precision: str) -> str:
    """"auto" -> "bfloat16" where the hardware has it, else "float32"; other values unchanged."""
    if precision != "auto":
        return precision
    return "bfloat16" if bfloat16_hardware() else "float32"


@contextlib.contextmanager
def policy(precision: str) -> Iterator[None]:
    """Layers built inside take `precision`'s dtype policy; the global policy is restored afterwards."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(POLICIES[precision])
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def with_precision(model: keras.Model, precision: str, build: Callable[[], keras.Model]) -> keras.Model:
    """`model` when it already computes at `precision`; else `build()` under that policy with `model`'s weights
    (a float32 checkpoint resumed in bfloat16)."""
    if model.dtype_policy.name == POLICIES[precision]:
        return model
    with policy(precision):
        twin = build()
    twin.set_weights(model.get_weights())
    return twin


class Float32Saver:
    """Saves a (possibly mixed-precision) training model as a float32 .keras file through `save(model, path)`."""

    def __init__(self, build: Callable[[], keras.Model], save: Callable[[keras.Model, Path], None]) -> None:
        self._build, self._save = build, save
        self._twin: keras.Model | None = None

    def __call__(self, model: keras.Model, path: Path) -> None:
        if model.dtype_policy.name == "float32":
            self._save(model, path)
            return
        if self._twin is None:
            with policy("float32"):
                self._twin = self._build()
            # the training model's optimizer (the same object), so the checkpoint carries its state (step count,
            # moments) as a float32 run's does; its variables line up with the twin's, being the same network's
            self._twin.compile(optimizer=model.optimizer, loss=model.loss)
        self._twin.set_weights(model.get_weights())
        self._save(self._twin, path)
