"""Training: the loop from MNIST files to a served model and its card.

    config = config_for("fast", epochs=2)         # digitclf.training.config
    trained = train(config, store=store)          # a TrainedModel: .model (served) and .card
    publish(trained, store, "my-model")           # digitclf.training.publish

The validation split drives model selection, early stopping and the temperature fit;
the test set is touched once, for the final report in the card.
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import digitclf.tf_setup  # noqa: F401  (quiets TensorFlow: before it loads)

import keras
import numpy as np
import tensorflow as tf

from digitclf import __version__
from digitclf.convert.keras_graph import compile_inference, predict_in_batches
from digitclf.convert.onnx_graph import keras_net
from digitclf.errors import ConfigError
from digitclf.runtime import run_batched
from digitclf.store.card import ModelCard, accuracy_warning
from digitclf.store.model_store import ModelStore
from digitclf.training import mydigits
from digitclf.training.architectures import TEMPERATURE_LAYER, build_model, with_softmax
from digitclf.training.augment import augment_batch
from digitclf.training.config import TrainConfig
from digitclf.training.data import fingerprint, load_mnist
from digitclf.training.metrics import classification_report, cross_entropy, fit_temperature
from digitclf.training.progress import EventHandler, TrainingEvent

PREPARE_WORKERS = min(2, os.cpu_count() or 1)  # processes that render typeface digits and cut number parts


@dataclass
class TrainedModel:
    model: keras.Model  # the served model: MNIST-convention images in, probabilities out
    card: ModelCard


class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from peak/25 to the peak, then cosine decay to peak/1000."""

    def __init__(self, peak: float, total_steps: int, warmup_fraction: float):
        self.peak = peak
        self.total_steps = max(total_steps, 1)
        self.warmup_fraction = warmup_fraction
        self.warmup_steps = max(int(total_steps * warmup_fraction), 1)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        start, end = self.peak / 25.0, self.peak / 1000.0
        warm = start + (self.peak - start) * step / self.warmup_steps
        progress = tf.clip_by_value(
            (step - self.warmup_steps) / max(self.total_steps - self.warmup_steps, 1), 0.0, 1.0
        )
        decay = end + (self.peak - end) * 0.5 * (1.0 + tf.cos(math.pi * progress))
        return tf.where(step < self.warmup_steps, warm, decay)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps,
                "warmup_fraction": self.warmup_fraction}


def _learning_rate(config: TrainConfig, total_steps: int):
    if config.schedule == "constant":
        return config.learning_rate
    warmup = 0.25 if config.schedule == "onecycle" else 0.0
    return OneCycle(config.learning_rate, total_steps, warmup)


def _optimizer(config: TrainConfig, total_steps: int) -> keras.optimizers.Optimizer:
    lr = _learning_rate(config, total_steps)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(lr, momentum=0.9, nesterov=True)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=config.weight_decay)
    return keras.optimizers.Adam(lr)


def split_train_val(config: TrainConfig) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """A seeded random split of the MNIST training set, optionally subsampled."""
    images, labels = load_mnist("train")
    order = np.random.default_rng(config.seed).permutation(len(images))
    n_val = int(round(len(images) * config.val_fraction))
    if config.train_subset is not None:
        n_val = max(int(round(config.train_subset * config.val_fraction)), 10)
        if config.train_subset + n_val > len(images):
            raise ConfigError(
                f"training subset of {config.train_subset} plus its validation split is more "
                f"than the {len(images)} training images: choose at most "
                f"{int(len(images) / (1 + config.val_fraction))}"
            )
        order = order[: config.train_subset + n_val]
    val_idx, train_idx = order[:n_val], order[n_val:]
    return (images[train_idx], labels[train_idx]), (images[val_idx], labels[val_idx])


def _add_my_digits(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Append the "my digits" set, repeated until it is about 5% of the data (at most 50x)."""
    extra_x, extra_y = mydigits.load()
    if len(extra_x) == 0:
        raise ConfigError("the \"my digits\" set is empty: correct some drawings first")
    repeats = int(np.clip(round(0.05 * len(x) / len(extra_x)), 1, 50))
    extra_x = np.clip(np.round(extra_x), 0, 255).astype(np.uint8)
    return (np.concatenate([x, np.tile(extra_x, (repeats, 1, 1))]),
            np.concatenate([y, np.tile(extra_y, repeats)]))


def _add_handwriting(config: TrainConfig, train: tuple[np.ndarray, np.ndarray],
                     val: tuple[np.ndarray, np.ndarray]) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Digits in handwriting typefaces: the training families' to the training data, the
    validation families' to the validation split (a twelfth as many), so that model selection
    and the temperature look at both kinds of writing."""
    from digitclf.training.handwriting import digit_set

    extra_train = digit_set("train", config.handwriting, seed=config.seed, workers=PREPARE_WORKERS)
    extra_val = digit_set("validation", max(config.handwriting // 12, 100), seed=config.seed, workers=PREPARE_WORKERS)
    return tuple((np.concatenate([a[0], b[0]]), np.concatenate([a[1], b[1]]))
                 for a, b in ((train, extra_train), (val, extra_val)))


def _initial_model(config: TrainConfig, store: ModelStore) -> keras.Model:
    """A fresh network, or a stored model's network (up to its logits) to fine-tune."""
    if config.base_model is None:
        return build_model(config.architecture)
    served = store.load(config.base_model)
    return keras.Model(served.input, served.get_layer(TEMPERATURE_LAYER).input, name=served.name)


def _train_dataset(x: np.ndarray, y: np.ndarray, config: TrainConfig) -> tf.data.Dataset:
    """Batches of (images, one-hot labels) gathered from tensors held in memory, reshuffled
    each epoch. Only whole batches, so the training step is traced once. tf.data's autotuner
    is off: with it, about every other run here waited some 20 s after its last step (the
    fast preset: 0.6 s against 19-20 s), and without it the batches come as fast (the
    augmented ones: 10-11 ms a batch either way, far under a training step)."""
    images = tf.constant(x, dtype=tf.float32)
    labels = tf.one_hot(y.astype(np.int32), 10)
    ds = tf.data.Dataset.range(len(x)).shuffle(len(x), seed=config.seed, reshuffle_each_iteration=True)
    ds = ds.repeat(config.epochs).batch(config.batch_size, drop_remainder=True)
    ds = ds.map(lambda index: (tf.gather(images, index), tf.gather(labels, index)))
    if config.augment and config.augment_strength > 0:
        seed, strength = config.seed, config.augment_strength
        ds = ds.enumerate().map(
            lambda step, batch: augment_batch(step, batch[0], batch[1], seed, strength),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.prefetch(tf.data.AUTOTUNE).with_options(options)


class _Progress(keras.callbacks.Callback):
    """Forwards Keras' progress to an EventHandler, scores each epoch on the validation
    split, keeps the best epoch's weights (and its validation logits, for the temperature
    fit), and stops on patience or on reaching the target accuracy."""

    def __init__(self, config: TrainConfig, steps: int, validation: tuple[np.ndarray, np.ndarray],
                 on_event: EventHandler | None):
        super().__init__()
        self.config, self.steps, self.on_event = config, steps, on_event
        self.x_val, self.y_val = validation
        self.epoch = 0
        self.history: list[dict[str, float]] = []
        self.best_score: tuple[float, float] | None = None
        self.best_weights: list | None = None
        self.best_val_logits: np.ndarray | None = None
        self.best_epoch = 0
        self._logits: Callable[[np.ndarray], Any] | None = None

    def set_model(self, model):
        super().set_model(model)
        self._logits = compile_inference(model)

    def _emit(self, kind: str, step: int = 0, logs: dict | None = None) -> None:
        if self.on_event is not None:
            self.on_event(TrainingEvent(kind, self.epoch, self.config.epochs, step, self.steps,
                                        dict(logs or {})))

    def on_train_begin(self, logs=None):
        self._emit("start")

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        self._emit("batch", batch + 1, {k: float(v) for k, v in (logs or {}).items()})

    def on_epoch_end(self, epoch, logs=None):
        assert self._logits is not None, "Keras calls set_model before training"
        val_logits = predict_in_batches(self._logits, self.x_val)
        record = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()},
                  "val_loss": cross_entropy(val_logits, self.y_val),
                  "val_accuracy": float((val_logits.argmax(axis=1) == self.y_val).mean())}
        record["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self.history.append(record)
        # Loss first: with handwriting typefaces in the validation split, accuracy moves by a few
        # dozen hard digits from epoch to epoch, and picked a noisy early epoch over the final one.
        score = (-record["val_loss"], record["val_accuracy"])
        if self.best_score is None or score > self.best_score:
            self.best_score, self.best_epoch = score, epoch + 1
            self.best_weights = self.model.get_weights()
            self.best_val_logits = val_logits
        self._emit("epoch", self.steps, record)
        patience = self.config.patience
        if patience is not None and epoch + 1 - self.best_epoch >= patience:
            self.model.stop_training = True
        target = self.config.target_accuracy
        if target is not None and record["val_accuracy"] >= target:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


def _versions() -> dict[str, str]:
    return {
        "digitclf": __version__,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


def train(config: TrainConfig, *, store: ModelStore, on_event: EventHandler | None = None,
          preset: str | None = None) -> TrainedModel:
    """Train, select on validation, calibrate, report on test. Returns the model and its card
    (to be saved with digitclf.training.publish). `store` holds the base model to fine-tune."""
    config.validate()
    started = time.perf_counter()
    base_seen: dict[str, int] = {}
    if config.base_model is not None:  # fine-tuning keeps the base model's architecture
        base = store.card(config.base_model)
        config = dataclasses.replace(config, architecture=base.architecture)
        base_seen = {f"base_model.{key}": count for key, count in base.training_data.items()}
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()

    (x_train, y_train), (x_val, y_val) = split_train_val(config)
    seen = {"mnist_train": len(x_train), "mnist_validation": len(x_val)}
    if config.handwriting:
        from digitclf.training import handwriting  # scipy and scikit-image load only when needed

        (x_train, y_train), (x_val, y_val) = _add_handwriting(config, (x_train, y_train), (x_val, y_val))
        seen |= {"handwriting_train_families": config.handwriting,
                 "handwriting_validation_families": len(x_val) - seen["mnist_validation"],
                 "handwriting_version": handwriting.VERSION}
    if config.number_parts:
        from digitclf.training import number_parts

        parts = number_parts.part_set(config.number_parts, config.seed, workers=PREPARE_WORKERS)
        x_train, y_train = np.concatenate([x_train, parts[0]]), np.concatenate([y_train, parts[1]])
        seen |= {"number_parts": config.number_parts, "number_parts_version": number_parts.VERSION}
    if config.my_digits:
        before = len(x_train)
        x_train, y_train = _add_my_digits(x_train, y_train)
        seen["my_digits"] = len(x_train) - before
    seen |= base_seen  # what the base model saw, and its base (base_model.base_model.*), before this run
    steps = len(x_train) // config.batch_size
    if steps == 0:
        raise ConfigError(f"batch size {config.batch_size} is larger than the "
                          f"{len(x_train)} training examples")
    strategy = (tf.distribute.MirroredStrategy() if config.distribute == "mirrored"
                else tf.distribute.get_strategy())
    with strategy.scope():
        model = _initial_model(config, store)
        model.compile(
            optimizer=_optimizer(config, steps * config.epochs),
            loss=keras.losses.CategoricalCrossentropy(from_logits=True,
                                                      label_smoothing=config.label_smoothing),
            metrics=["accuracy"],
        )
    progress = _Progress(config, steps, (x_val.astype(np.float32), y_val), on_event)
    model.fit(_train_dataset(x_train, y_train, config), epochs=config.epochs,
              steps_per_epoch=steps, callbacks=[progress], shuffle=False, verbose=0)

    val_logits = progress.best_val_logits
    assert val_logits is not None, "every run has at least one epoch"
    temperature = fit_temperature(val_logits, y_val)
    served = with_softmax(model, temperature)
    x_test, y_test = load_mnist("test")
    report = classification_report(
        y_test, run_batched(keras_net(served), x_test.astype(np.float32))  # as it will be served
    )
    seconds = time.perf_counter() - started

    card = ModelCard(
        name="",  # set by the store when it is saved
        architecture=config.architecture,
        preset=preset,
        hyperparameters=dataclasses.asdict(config),
        epochs_run=len(progress.history),
        best_epoch=progress.best_epoch,
        training_seconds=round(seconds, 1),
        test_accuracy=report["accuracy"],
        test_errors=report["errors"],
        accuracy_warning=accuracy_warning(report["accuracy"]),
        val_accuracy=float((val_logits.argmax(axis=1) == y_val).mean()),
        temperature=temperature,
        ece=report["ece"],
        per_class=report["per_class"],
        confusion_matrix=report["confusion_matrix"],
        reliability=report["reliability"],
        history=progress.history,
        parameters=int(model.count_params()),
        train_examples=int(len(x_train)),
        training_data=seen,
        val_examples=int(len(x_val)),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        versions=_versions(),
        data_fingerprint=fingerprint("train"),
    )
    if on_event is not None:
        on_event(TrainingEvent("done", len(progress.history), config.epochs, steps, steps,
                               {"test_accuracy": report["accuracy"]}))
    return TrainedModel(served, card)
