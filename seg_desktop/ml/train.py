"""The training engine: `train(config, listener, stop) -> Run`, the one code path behind the GUI, the CLI and tests.

It opens the dataset, prepares its inputs (ml/inputs.py: the scale, whole images or full-resolution crops, and the
labelled images decoded into memory or streamed from disk when they would not fit), builds (or resumes) a UNet/SegNet
inside the chosen tf.distribute strategy and runs `model.fit` on a tf.data pipeline (ml/data.py). Keras callbacks
(ml/callbacks.py) do the rest: report each batch and honour the stop flag within one batch, score the epoch's training
batches and the validation split with `core.metrics` (one IoU definition: the numbers the GUI and metrics.json show),
append an EpochRecord to history.csv, keep `last.keras` and `best.keras` (by validation mean IoU), and schedule the
learning rate (ml/schedule.py: lower it and stop early on a plateau, or warm up and decay it over the epochs or a
time budget, which also ends the run). Every failure the user can fix ends as one sentence (ml/errors.py): DatasetError
for bad files, TrainingError for NaN or out-of-memory, ValueError for impossible settings.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from ..core.atomic import atomic_write_text  # noqa: E402
from ..core.dataset import Dataset, open_dataset  # noqa: E402
from ..core.errors import DatasetError  # noqa: E402
from ..core.project import load_project  # noqa: E402
from ..core.writeguard import claim_run_folder, release_run_folder  # noqa: E402
from . import models  # noqa: E402
from .callbacks import EpochRecorder, Progress, State, remove_stale_temporaries, save_atomically  # noqa: E402
from .config import TrainConfig, architecture_fields  # noqa: E402
from .config_file import load_config  # noqa: E402
from .data import choose_policy, steps_per_epoch, train_dataset  # noqa: E402
from .distribute import describe, fit_across_workers, is_chief, select_strategy  # noqa: E402
from .errors import TrainingError, user_message  # noqa: E402
from .inputs import RARE_POINTS, Stream, class_census, prepare_inputs, split_samples  # noqa: E402
from .listener import TrainListener  # noqa: E402
from .losses import SegmentationLoss, class_weights  # noqa: E402
from .precision import Float32Saver, policy, with_precision  # noqa: E402
from .precision import resolve as resolve_precision  # noqa: E402
from .runs import best_val_mean_iou, new_run_dir, read_history, runs_dir, write_history  # noqa: E402
from .schedule import resolved, schedule_parts  # noqa: E402

# A run resumed on its parent's dataset draws the parent's split: with another fraction, seed or rule some of its
# validation images would be images the parent trained on, and its scores would flatter.
SPLIT_FIELDS = ("val_split", "seed", "split_rule")

# Gradient norm clipping: SegNet from scratch (no skip connections) sometimes stalls or jumps in its first epochs
# at Adam's default rate; clipping made three seeds on the sample data land within 0.01 val mIoU of each other
# (0.81-0.82 after 15 epochs) where unclipped runs ranged 0.62-0.85.
_CLIPNORM = 1.0


@dataclass
class Run:
    folder: Path
    config: TrainConfig
    history: list[dict]
    stopped: bool
    best_val_mean_iou: float | None


def train(config: TrainConfig, listener: TrainListener | None = None, stop=None) -> Run:
    """Train `config.model` on `config.data`; see the module docstring. The listener's on_error receives the
    message of any failure just before it is raised."""
    listener = listener or TrainListener()
    unstarted: list[tuple[Path, bool]] = []  # run folders claimed for a run that has not reached fit() yet
    scratch: list[Path] = []  # a multi-worker run's non-chief copy, removed whatever happens
    try:
        try:
            return _train(config, listener, stop, unstarted, scratch)
        except (tf.errors.ResourceExhaustedError, tf.errors.InvalidArgumentError, MemoryError) as exc:
            if not _out_of_memory(exc):
                raise
            raise TrainingError(
                f"Out of memory while training {config.model} at {config.size[0]}x{config.size[1]} with batch "
                f"{config.batch}; use a smaller batch or training size, or a smaller model (fewer base filters, a "
                f"lower SegNet width).") from None
    except Exception as exc:
        for folder, created in unstarted:  # a failed start (bad resume, bad data) leaves --out reusable
            release_run_folder(folder, created)
        listener.on_error(user_message(exc))
        raise
    finally:
        for folder in scratch:
            shutil.rmtree(folder, ignore_errors=True)


def _out_of_memory(exc: Exception) -> bool:
    """Whether an error means an allocation failed. Besides the errors that say so, TensorFlow's graph optimiser
    reports a constant it could not allocate as "Cannot parse tensor from proto" (seen at a memory cap with a
    1024 px batch of 16)."""
    return not isinstance(exc, tf.errors.InvalidArgumentError) or "Cannot parse tensor from proto" in str(exc)


def _train(config: TrainConfig, listener: TrainListener, stop, unstarted: list[tuple[Path, bool]],
           scratch: list[Path]) -> Run:
    config.validate()
    # First of all: a multi-worker strategy can only be created before TensorFlow runs anything (ml/distribute.py).
    strategy = select_strategy(config.strategy)
    parent, prior_history = _resume_source(config)
    if parent is not None:
        config = replace(config, **{name: getattr(parent, name) for name in architecture_fields()})
        if _same_folder(parent.data, config.data):  # validate on the images the parent held out, never its training
            config = replace(config, **{name: getattr(parent, name) for name in SPLIT_FIELDS})
    dataset = open_dataset(config.data, val_fraction=config.val_split, seed=config.seed,
                           split_rule=config.split_rule)
    config = _with_classes(config, dataset)
    problems = [str(p) for p in dataset.problems]
    config, inputs = prepare_inputs(dataset, config, problems)  # resolves the scale that config.json records
    config, augmentation = choose_policy(config, inputs.train)  # and the augmentation policy, from the masks
    config = resolved(config)  # and the learning-rate schedule (auto: cosine over a time budget)
    config = replace(config, precision=resolve_precision(config.precision))

    where, warning = describe(strategy, config.strategy, config.batch)
    if warning:
        problems.append(warning)
    # The chief writes the run folder. Another worker of a cluster trains in step but writes nothing there: it gets
    # a temporary folder (its listener's run_dir) that train() removes at the end. Saving a .keras checkpoint
    # involves no collective op (measured: the chief saves alone and the workers carry on in step).
    chief = is_chief(config.strategy)
    if chief:
        run_dir = _prepare_run_dir(config, dataset, unstarted)
    else:
        run_dir = Path(tempfile.mkdtemp(prefix="seg-desktop-worker-"))
        scratch.append(run_dir)

    keras.utils.set_random_seed(config.seed)
    # one pass over the training masks when class weights or rare-class crops need their counts
    census = class_census(inputs.train, config.num_classes, config.seed, RARE_POINTS if config.rare_crops else 0) \
        if config.class_weights != "none" or config.rare_crops else None
    weights = None if census is None else class_weights(config.class_weights, census.class_pixels,
                                                        census.image_pixels)
    loss = SegmentationLoss(config.loss, None if weights is None else weights.tolist())
    steps = steps_per_epoch(inputs.views, config.batch, config.min_epoch_images)
    monitor = "val_mean_iou" if len(inputs.val) else "mean_iou"
    rate, schedule = schedule_parts(config, steps, monitor)  # ml/schedule.py: plateau, or cosine over epochs/time
    with strategy.scope():
        model, build = _model(config, parent)
        # Only its confusion matrix is used: EpochRecorder scores it with core.metrics, as validation is scored.
        train_iou = keras.metrics.MeanIoU(config.num_classes, ignore_class=config.ignore_index, sparse_y_pred=False,
                                          name="mean_iou")
        model.compile(
            optimizer=keras.optimizers.Adam(rate, clipnorm=_CLIPNORM),
            loss=loss,
            metrics=[train_iou],
            jit_compile=models.model_supports_jit(config.model) and bool(tf.config.list_physical_devices("GPU")),
        )
    fit_across_workers(model, strategy)

    # Written only once the model is built, so a failed resume (damaged checkpoint, other classes) never
    # rewrites the config of the run it resumes.
    if chief:
        atomic_write_text(run_dir / "config.json", config.to_json())
        if prior_history and not _in_place(config, run_dir):
            write_history(run_dir, prior_history)
        project = load_project(dataset.root)
        project.add_run(run_dir)
        try:
            project.save()
        except OSError as exc:  # a read-only dataset folder (a lab share) trains fine with --out elsewhere
            problems.append(f"{project.path} cannot be written ({exc.strerror or exc}); the run is not listed in "
                            f"the folder's project, open it from {run_dir}.")

    initial_epoch = len(prior_history)
    total_epochs = initial_epoch + config.epochs
    unstarted.clear()  # started: from here on the run folder is kept whatever happens
    listener.on_train_begin({
        "run_dir": str(run_dir), "epochs": total_epochs, "steps_per_epoch": steps,
        "num_train": len(inputs.train), "num_val": len(inputs.val), "initial_epoch": initial_epoch,
        "input": f"{inputs.describe()}; {augmentation}", "minutes": config.minutes,
        "config": asdict(config), "problems": problems, "strategy": where, "chief": chief,
    })
    prior_best = best_val_mean_iou(prior_history) if _in_place(config, run_dir) else None
    state = State(best=-math.inf if prior_best is None else prior_best)
    history: list[dict] = []
    callbacks = [
        Progress(listener, stop, state),
        EpochRecorder(run_dir, inputs, loss, train_iou, config, listener, state, history, monitor, chief,
                      Float32Saver(build, save_atomically)),
        *schedule,
    ]
    data = train_dataset(inputs.train, config.batch, config.augment, config.ignore_index, config.seed,
                         inputs.scale, inputs.cache, inputs.crops_per_read, augment_policy=config.augment_policy,
                         rare=census.rare_points() if config.rare_crops else None, rare_crops=config.rare_crops)
    try:
        model.fit(data, epochs=total_epochs, initial_epoch=initial_epoch, steps_per_epoch=steps,
                  callbacks=callbacks, shuffle=False, verbose=0)  # the tf.data pipeline shuffles
    except tf.errors.OpError:
        if isinstance(inputs.train, Stream) and inputs.train.fatal is not None:  # no streamed file was readable
            raise inputs.train.fatal from None
        raise
    if state.diverged_epoch is not None:
        lr = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
        kept = " (the last good checkpoint is kept in the run folder)" if (run_dir / "last.keras").exists() else ""
        raise TrainingError(f"Training diverged: the loss became NaN at epoch {state.diverged_epoch}; lower the "
                            f"learning rate (now {lr:g}){kept}.")
    if chief and not state.stopped:
        _write_metrics(run_dir, dataset, config)
    full_history = read_history(run_dir) if chief else prior_history + history
    run = Run(run_dir, config, full_history, state.stopped, best_val_mean_iou(full_history))
    listener.on_train_end(run)
    return run


# ---------------------------------------------------------------- setup


def _resume_source(config: TrainConfig) -> tuple[TrainConfig | None, list[dict]]:
    """The parent run's config and history when resuming; (None, []) otherwise."""
    if not config.resume:
        return None, []
    folder = Path(config.resume).expanduser()
    if not (folder / "last.keras").is_file() and not (folder / "best.keras").is_file():
        raise DatasetError(f"{folder} holds no last.keras or best.keras, so there is nothing to resume; pass a "
                           "run folder made by `seg-desktop train`.", folder)
    try:
        parent = load_config(folder / "config.json")
    except (OSError, ValueError, TypeError) as exc:
        raise DatasetError(f"{folder / 'config.json'} cannot be read ({exc}); resume from another run.",
                           folder) from None
    if parent.model != config.model:  # resuming takes the parent's network, so it would silently train that one
        raise ValueError(f"{folder} is a {parent.model} run, so it cannot be resumed as {config.model}; choose "
                         f"{parent.model} to continue it, or train {config.model} from scratch without resuming.")
    return parent, read_history(folder)


def _with_classes(config: TrainConfig, dataset: Dataset) -> TrainConfig:
    """Record the dataset's classes in the config so the run can be evaluated and repeated without the dataset."""
    classes = dataset.classes
    k = classes.num_classes
    if k < 2:
        raise DatasetError(f"{dataset.root} has fewer than two classes in its masks; a segmentation model needs "
                           "at least background and one class.", dataset.root)
    return replace(config, num_classes=k, class_names=classes.names,
                   class_colors=[list(classes.color_of(i)) for i in range(k)], ignore_index=classes.ignore_index)


def _prepare_run_dir(config: TrainConfig, dataset: Dataset, unstarted: list[tuple[Path, bool]]) -> Path:
    """The run folder, claimed through the write guard (core.writeguard) before anything is written in it: --out
    must be new, empty, or the run being resumed in place; never a folder of the user's or the dataset's. A
    folder this run claims (not one it continues) is added to `unstarted`, to be released if the start fails."""
    try:
        if config.out:
            folder = Path(config.out).expanduser()
            continuing = _in_place(config, folder)
            created = claim_run_folder(folder, continuing=continuing, dataset=dataset)
        else:
            folder, created, continuing = new_run_dir(dataset.root, config.model), True, False
    except OSError as exc:
        where = runs_dir(dataset.root)
        raise DatasetError(f"Cannot create the run folder in {where} ({exc.strerror or exc}); choose a writable "
                           "folder with --out (in the app: a dataset folder you can write to).", where) from None
    if not continuing:
        unstarted.append((folder, created))
    remove_stale_temporaries(folder)
    return folder


def _same_folder(a: str, b: str) -> bool:
    try:
        return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()
    except OSError:
        return False


def _in_place(config: TrainConfig, run_dir: Path) -> bool:
    """Whether a resumed run writes into its parent's own folder (continuing it) rather than a new one."""
    return bool(config.resume) and _same_folder(str(run_dir), config.resume)


def _model(config: TrainConfig, parent: TrainConfig | None) -> tuple[keras.Model, Callable[[], keras.Model]]:
    """(a new model, or the parent run's last (else best) checkpoint when resuming, at the config's precision;
    a builder of the same network without weights, for ml.precision's float32 twin)."""
    options = {"unet": {"base_filters": config.base_filters}, "segnet": {"width": config.width}}[config.model]

    def build(**extra) -> keras.Model:
        return models.build_model(config.model, config.num_classes, (None, None, 3), **options, **extra)

    if parent is not None:
        folder = Path(config.resume).expanduser()
        path = folder / "last.keras" if (folder / "last.keras").is_file() else folder / "best.keras"
        try:
            model = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as exc:  # keras raises many types for damaged files
            raise DatasetError(f"{path} cannot be loaded ({str(exc).splitlines()[0][:160]}); resume from another "
                               "run.", path) from None
        if int(model.output_shape[-1]) != config.num_classes:
            raise DatasetError(f"{path} predicts {model.output_shape[-1]} classes but {config.data} has "
                               f"{config.num_classes}; resume on the data set it was trained for.", path)
        return with_precision(model, config.precision, build), build
    encoder = {"encoder_weights": config.encoder_weights} if config.encoder_weights else {}
    try:
        with policy(config.precision):
            return build(**encoder), build
    except FileNotFoundError as exc:
        raise ValueError(str(exc)) from None


def _write_metrics(run_dir: Path, dataset: Dataset, config: TrainConfig) -> None:
    """metrics.json: the best model scored by predict.evaluate_dataset on the validation split (the training
    split when there is none, said so under "split"), at the images' own resolution."""
    from .inference import load_run
    from .predict import evaluate_dataset, write_metrics

    train_samples, val_samples = split_samples(dataset, config.val_split, config.seed, config.split_rule)
    split, samples = ("val", val_samples) if val_samples else ("train", train_samples)
    metrics = evaluate_dataset(load_run(run_dir), dataset, samples)
    metrics["split"] = split
    write_metrics(run_dir, metrics)
