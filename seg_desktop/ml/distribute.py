"""Which tf.distribute strategy a run uses: one device, all local GPUs, or a cluster described by TF_CONFIG.

The same `train()` runs on a laptop, a multi-GPU box and a cluster; only this choice differs, and the model is
built and compiled inside `strategy.scope()` so its variables are placed (and mirrored) accordingly.

MultiWorkerMirroredStrategy configures TensorFlow's collective ops, which TensorFlow allows only before the
process has run any op ("Collective ops must be configured at program startup"). So the training child creates
it first, through `start_strategy`, before anything else starts TensorFlow; it is created once per process and
`select_strategy` hands back that same object to `train()`. In a cluster the batch is the GLOBAL batch: Keras
splits each batch across all replicas of all workers, so the workers together take one step per batch.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import tensorflow as tf

_multiworker: tf.distribute.Strategy | None = None  # the one MultiWorkerMirroredStrategy a process may create


@dataclass(frozen=True)
class ClusterTask:
    """This process's place in a TF_CONFIG cluster: its type ("worker"/"chief"), index, and the number of
    processes that train (workers plus the chief)."""

    type: str
    index: int
    count: int


def cluster_task() -> ClusterTask | None:
    """This process's task from TF_CONFIG, or None when TF_CONFIG is absent or does not describe a cluster."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG", "") or "{}")
        cluster, task = config.get("cluster") or {}, config.get("task") or {}
        count = sum(len(cluster.get(kind) or []) for kind in ("chief", "worker"))
        return ClusterTask(str(task["type"]), int(task.get("index", 0)), count) if cluster and task else None
    except (ValueError, AttributeError, KeyError, TypeError):
        return None


def start_strategy(name: str) -> None:
    """Call first in a process that will train with strategy `name`: for 'multiworker' it creates the
    MultiWorkerMirroredStrategy before TensorFlow runs anything else (and before the caller's other TensorFlow
    work), with TensorFlow's native start-up lines silenced; for the other strategies it only starts TensorFlow
    quietly. Raises ValueError with one sentence when TF_CONFIG is missing or malformed."""
    from .quiet import native_stderr_silenced, start_tensorflow_quietly

    if name != "multiworker":
        start_tensorflow_quietly()
        return
    with native_stderr_silenced():
        select_strategy(name)


def select_strategy(name: str) -> tf.distribute.Strategy:
    """'auto': MirroredStrategy when more than one GPU is visible, else the default (single-device) strategy;
    'mirrored': MirroredStrategy on all local devices; 'multiworker': MultiWorkerMirroredStrategy from TF_CONFIG
    (the process's one instance: created by the first call, returned by the later ones).

    Raises ValueError with one sentence when 'multiworker' is asked for without a usable TF_CONFIG, or after
    TensorFlow has already run in this process (possible only when `train()` is called in-process).
    """
    global _multiworker
    if name == "auto":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name != "multiworker":
        raise ValueError(f"strategy must be auto, mirrored or multiworker, not {name!r}.")
    if _multiworker is not None:
        return _multiworker
    task = cluster_task()
    if task is None or task.count < 1:
        raise ValueError("--strategy multiworker needs the TF_CONFIG environment variable describing the cluster "
                         "and this node's task, e.g. {\"cluster\": {\"worker\": [\"host1:12345\", \"host2:12345\"]}, "
                         "\"task\": {\"type\": \"worker\", \"index\": 0}}; set it on every node.")
    try:
        _multiworker = tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as exc:
        if "program startup" not in str(exc):
            raise
        raise ValueError("--strategy multiworker must be set up before TensorFlow runs anything in the process; "
                         "start it with `seg-desktop train`, which trains in a fresh process.") from None
    return _multiworker


def is_chief(name: str = "multiworker") -> bool:
    """Whether this process writes the run's files: always, unless it trains with strategy `name` =
    'multiworker' as a TF_CONFIG task that is not the chief ('chief', or worker 0 when the cluster has none).
    The other workers train the same model in step and keep their copies in a temporary folder."""
    task = cluster_task()
    if name != "multiworker" or task is None:
        return True
    try:
        has_chief = bool(json.loads(os.environ["TF_CONFIG"])["cluster"].get("chief"))
    except (KeyError, ValueError, AttributeError, TypeError):
        has_chief = False
    return task.type == "chief" if has_chief else (task.type == "worker" and task.index == 0)


def describe(strategy: tf.distribute.Strategy, name: str, batch: int) -> tuple[str, str | None]:
    """(one line saying where the run trains, a warning or None). The warning says when 'mirrored' found a single
    device (nothing to mirror), and the line how a multi-worker run splits its global batch.

    Raises ValueError when the global batch is smaller than the number of replicas that must share it."""
    replicas = int(strategy.num_replicas_in_sync)
    if batch < replicas:
        raise ValueError(f"batch {batch} cannot be split across {replicas} replicas; use a batch of at least "
                         f"{replicas} (the batch is global: each replica takes its share).")
    share = f"global batch {batch}, {batch / replicas:g} per replica"
    if name == "multiworker":
        task = cluster_task()
        where = f"{task.type} {task.index} of {task.count} workers" if task else "a cluster"
        return f"multi-worker training as {where}, {replicas} replicas in all, {share}", None
    devices = list(strategy.extended.worker_devices) if isinstance(strategy, tf.distribute.MirroredStrategy) else []
    if name == "mirrored" and len(devices) <= 1:
        device = devices[0].split("/")[-1].removeprefix("device:") if devices else "one device"
        return (f"mirrored training on {device}",
                f"--strategy mirrored found one device ({device}), so there is nothing to mirror: the run trains "
                "on it alone.")
    if replicas > 1:
        return f"mirrored training on {replicas} devices, {share}", None
    return "training on one device", None


def fit_across_workers(model, strategy: tf.distribute.Strategy) -> None:
    """Let `model.fit` run under MultiWorkerMirroredStrategy in Keras 3, which breaks it twice
    (keras-team/keras#20585, tensorflow/tensorflow#72388); with any other strategy nothing changes.

    1. Before its first step, fit() averages the first distributed batch across workers only to learn the input
       shapes, and that reduction fails on an (images, masks) pair ("Attempt to convert a value (PerReplica...)").
       The shapes are the same on every replica, so this model takes them from its own first replica's batch.
    2. After each step, fit() averages the step's logs across workers along axis 0, which a scalar lacks
       ("Invalid reduction dimension 0 for input with 0 dimensions"). The train step here returns each log as a
       one-element vector, which that reduction turns back into a scalar: the mean over the replicas of each
       replica's running value (Keras metrics keep their state per replica and sum it when read outside).
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return

    def local(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def maybe_symbolic_build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(local, next(batches))
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    train_step = model.train_step

    def vector_logs_step(data):
        return tf.nest.map_structure(lambda log: tf.reshape(log, [-1]), train_step(data))

    model._maybe_symbolic_build = maybe_symbolic_build
    model.train_step = vector_logs_step
