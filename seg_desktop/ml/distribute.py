"""Which tf.distribute strategy a run uses: one device, all local GPUs, or a cluster described by TF_CONFIG.

The same `train()` runs on a laptop, a multi-GPU box and a cluster; only this choice differs, and the model is
built and compiled inside `strategy.scope()` so its variables are placed (and mirrored) accordingly.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf


def select_strategy(name: str) -> tf.distribute.Strategy:
    """'auto': MirroredStrategy when more than one GPU is visible, else the default (single-device) strategy;
    'mirrored': MirroredStrategy on all local devices; 'multiworker': MultiWorkerMirroredStrategy from TF_CONFIG.

    Raises ValueError with one sentence when 'multiworker' is asked for without a usable TF_CONFIG.
    """
    if name == "auto":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        raw = os.environ.get("TF_CONFIG", "")
        try:
            cluster = json.loads(raw).get("cluster") if raw else None
        except (ValueError, AttributeError):
            cluster = None
        if not cluster:
            raise ValueError("--strategy multiworker needs the TF_CONFIG environment variable describing the "
                             "cluster (see the TensorFlow multi-worker guide); set it on every worker.")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"strategy must be auto, mirrored or multiworker, not {name!r}.")


def is_chief() -> bool:
    """Whether this process writes the run's files: always outside a cluster; in a TF_CONFIG cluster, the
    'chief' task, or worker 0 when the cluster has no chief (the other workers train the same model in step)."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG", "") or "{}")
        task, cluster = config.get("task") or {}, config.get("cluster") or {}
    except (ValueError, AttributeError):
        return True
    if not task:
        return True
    if "chief" in cluster:
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0
