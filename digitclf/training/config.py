"""Training hyperparameters: one dataclass, and the presets as instances of it.

Kept free of TensorFlow so the CLI can describe and check a config before loading it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digitclf.errors import ConfigError
from digitclf.store.names import NAME_PATTERN

ARCHITECTURE_NAMES = ("mlp", "cnn", "slim", "vgg")  # built by models.ARCHITECTURES
SCHEDULES = ("onecycle", "cosine", "constant")
OPTIMIZERS = ("adam", "adamw", "sgd")
DISTRIBUTE = ("none", "mirrored")


@dataclass
class TrainConfig:
    """Every hyperparameter of a training run; a preset is one of these."""

    architecture: str = "cnn"
    epochs: int = 3
    batch_size: int = 128
    learning_rate: float = 3e-3  # the peak rate for 'onecycle' and 'cosine'
    schedule: str = "onecycle"
    optimizer: str = "adam"
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    augment: bool = True
    augment_strength: float = 1.0
    val_fraction: float = 0.1
    train_subset: int | None = None  # use only this many training examples
    patience: int | None = None  # stop after this many epochs without a better validation score
    target_accuracy: float | None = None  # stop once validation accuracy reaches this
    seed: int = 0
    base_model: str | None = None  # fine-tune: start from this stored model's weights
    my_digits: bool = False  # add the "my digits" set (oversampled) to the training data
    handwriting: int = 0  # add this many digits rendered from the training families' handwriting
    # fonts (training.handwriting), and a twelfth as many from the validation families to the
    # validation split
    number_parts: int = 0  # add this many digits cut out of whole numbers of the training
    # families as read_number cuts them (training.number_parts)
    distribute: str = "none"  # 'mirrored': tf.distribute over all local GPUs (or the one CPU)

    def validate(self) -> TrainConfig:
        checks = [
            (self.architecture in ARCHITECTURE_NAMES,
             f"architecture must be one of {', '.join(ARCHITECTURE_NAMES)}, not {self.architecture!r}"),
            (self.schedule in SCHEDULES,
             f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}"),
            (self.optimizer in OPTIMIZERS,
             f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {self.optimizer!r}"),
            (1 <= self.epochs <= 1000, f"epochs must be 1..1000, not {self.epochs}"),
            (1 <= self.batch_size <= 8192, f"batch size must be 1..8192, not {self.batch_size}"),
            (0 < self.learning_rate <= 10, f"learning rate must be in (0, 10], not {self.learning_rate}"),
            (0 <= self.weight_decay < 1, f"weight decay must be in [0, 1), not {self.weight_decay}"),
            (0 <= self.label_smoothing < 1,
             f"label smoothing must be in [0, 1), not {self.label_smoothing}"),
            (0 <= self.augment_strength <= 2,
             f"augmentation strength must be 0..2, not {self.augment_strength}"),
            (0 < self.val_fraction < 0.5,
             f"validation fraction must be in (0, 0.5), not {self.val_fraction}"),
            (self.train_subset is None or self.train_subset >= 100,
             f"training subset must be at least 100 examples, not {self.train_subset}"),
            (self.patience is None or self.patience >= 1, f"patience must be >= 1, not {self.patience}"),
            (self.target_accuracy is None or 0 < self.target_accuracy <= 1,
             f"target accuracy must be in (0, 1], not {self.target_accuracy}"),
            (0 <= self.seed < 2**31, f"seed must be 0..2^31-1, not {self.seed}"),
            (0 <= self.handwriting <= 500_000,
             f"handwriting digits must be 0..500000, not {self.handwriting}"),
            (0 <= self.number_parts <= 500_000,
             f"number parts must be 0..500000, not {self.number_parts}"),
            (self.distribute in DISTRIBUTE,
             f"distribute must be one of {', '.join(DISTRIBUTE)}, not {self.distribute!r}"),
            (self.base_model is None or bool(NAME_PATTERN.fullmatch(self.base_model)),
             f"invalid base model name {self.base_model!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        return self


PRESETS: dict[str, TrainConfig] = {
    # A quick retrain: one epoch of a small convnet at a high one-cycle peak, >= 99.0% test
    # accuracy in about the time of one epoch of the Keras MNIST example.
    "fast": TrainConfig(architecture="cnn", epochs=1, batch_size=128, learning_rate=1.2e-2,
                        augment=False),
    # A slim VGG-style net, handwriting augmentation, >= 99.6% test accuracy on MNIST. The shipped
    # default is this, fine-tuned with handwriting typefaces (README: "The shipped default").
    "best": TrainConfig(architecture="slim", epochs=18, batch_size=128, learning_rate=3e-3,
                        optimizer="adamw", weight_decay=5e-4, label_smoothing=0.05,
                        augment=True, augment_strength=0.8, val_fraction=1 / 12),
}


MNIST_TRAIN_IMAGES = 60_000
MIN_STEPS = 50  # fewer training steps than this do not learn digits (see too_small_to_learn)


def too_small_to_learn(config: TrainConfig) -> str | None:
    """Why a run this short will not learn to read digits, else None: said before a run.

    Measured with the fast preset (no augmentation): 15 training steps (2,000 examples in
    batches of 128, one epoch) read 14.9% of the test digits, 31 steps 87.4%, 46 steps
    92.8%, 100 steps 96.9%. Fine-tuning starts from a trained network and is not judged."""
    if config.base_model is not None:
        return None
    examples = config.train_subset or round(MNIST_TRAIN_IMAGES * (1 - config.val_fraction))
    examples += config.handwriting + config.number_parts
    steps = examples // config.batch_size * config.epochs
    if steps >= MIN_STEPS:
        return None
    epochs = f"{config.epochs} epoch{'s' if config.epochs > 1 else ''}"
    return (f"{examples:,} training examples in batches of {config.batch_size} for {epochs} make "
            f"only {steps} training steps, too few to learn digits reliably (the model may read "
            "far below 90% of the test digits): use more examples, more epochs or smaller batches")


def config_for(preset: str, **overrides: Any) -> TrainConfig:
    """The preset's config with the given fields replaced (None values leave a field alone)."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(overrides) - fields
    if unknown:
        raise ConfigError(f"unknown hyperparameter(s): {', '.join(sorted(unknown))}")
    changes = {k: v for k, v in overrides.items() if v is not None}
    return dataclasses.replace(PRESETS[preset], **changes).validate()


def write_config_file(path: Path, config: TrainConfig, preset: str | None = None) -> None:
    """The config as a JSON file that `train --config FILE` reads back (a background run's
    hyperparameters travel this way); `preset` names the preset it started from."""
    path.write_text(json.dumps({"preset": preset, "hyperparameters": dataclasses.asdict(config)},
                               indent=2))


def read_config_file(path: Path) -> tuple[TrainConfig, str | None]:
    """The config and preset name written by write_config_file, validated."""
    try:
        data = json.loads(Path(path).read_text())
        fields = data["hyperparameters"]
        preset = data.get("preset")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ConfigError(f"config file {path} cannot be read: {e}") from None
    if not isinstance(fields, dict):
        raise ConfigError(f"config file {path}: 'hyperparameters' is not an object")
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(fields) - known
    if unknown:
        raise ConfigError(f"config file {path}: unknown hyperparameter(s) {', '.join(sorted(unknown))}")
    try:
        config = TrainConfig(**fields).validate()
    except TypeError:  # a value of the wrong type, e.g. "3" for epochs
        raise ConfigError(f"config file {path}: a hyperparameter has a value of the wrong type") from None
    return config, preset if isinstance(preset, str) else None
