"""The model card: what a stored model is, what data it saw and how well it does.

Written as `card.json` beside each model. `version` says which layout a card has; a card
written before versions existed (no `version` key) is version 1 and reads as it is.
Version 2 added `accuracy_warning`; an older card gets it from its test accuracy as it is
read. Reading checks every field's type, so a damaged card is named with its reason
instead of failing later, somewhere else.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from digitclf.errors import ModelStoreError

CARD_VERSION = 2
USEFUL_ACCURACY = 0.90  # on the MNIST test digits: a model below this is not fit to be active

_NUMBER = (int, float)
# Each field's JSON types (None allowed where a field may be unknown).
_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,), "architecture": (str,), "preset": (str, type(None)),
    "hyperparameters": (dict,), "epochs_run": (int,), "best_epoch": (int,),
    "training_seconds": _NUMBER, "test_accuracy": (*_NUMBER, type(None)),
    "test_errors": (int, type(None)), "val_accuracy": (*_NUMBER, type(None)),
    "temperature": _NUMBER, "ece": (*_NUMBER, type(None)), "per_class": (dict,),
    "confusion_matrix": (list,), "reliability": (dict, type(None)), "history": (list,),
    "parameters": (int,), "train_examples": (int,), "val_examples": (int,),
    "model_bytes": (int,), "created_at": (str,), "versions": (dict,),
    "data_fingerprint": (str,), "training_data": (dict,), "accuracy_warning": (str, type(None)),
    "version": (int,),
}


def accuracy_warning(test_accuracy: float | None) -> str | None:
    """The warning a model far below a useful accuracy carries in its card, else None; it
    reads after the model's name ("quick reads only ...")."""
    if test_accuracy is None or test_accuracy >= USEFUL_ACCURACY:
        return None
    return (f"reads only {100 * test_accuracy:.1f}% of the MNIST test digits, far below the "
            f"{100 * USEFUL_ACCURACY:.0f}% of a useful model")


@dataclass(frozen=True)
class ModelCard:
    name: str
    architecture: str
    preset: str | None = None  # the preset the run started from
    hyperparameters: dict[str, Any] = field(default_factory=dict)  # the whole TrainConfig
    epochs_run: int = 0
    best_epoch: int = 0  # the epoch whose weights were kept (best on validation)
    training_seconds: float = 0.0
    test_accuracy: float | None = None  # on the 10,000 MNIST test digits
    test_errors: int | None = None
    val_accuracy: float | None = None
    temperature: float = 1.0  # the calibration temperature fitted on the validation split
    ece: float | None = None  # expected calibration error on the test set
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)  # "0".."9" -> metrics
    confusion_matrix: list[list[int]] = field(default_factory=list)  # rows: true digit
    reliability: dict[str, Any] | None = None  # the reliability diagram's bins
    history: list[dict[str, float]] = field(default_factory=list)  # one record per epoch
    parameters: int = 0
    train_examples: int = 0
    val_examples: int = 0
    model_bytes: int = 0
    created_at: str = ""  # ISO 8601, UTC
    versions: dict[str, str] = field(default_factory=dict)  # library versions it was made with
    data_fingerprint: str = ""  # SHA-256 of the MNIST training data
    # what the model saw, by source: examples of MNIST, of the handwriting typefaces' training
    # and validation families, of "my digits" (empty: a card from before this was recorded)
    training_data: dict[str, int] = field(default_factory=dict)
    # set when the model reads under USEFUL_ACCURACY of the test digits: it is kept, but is
    # made active only by force (version 2)
    accuracy_warning: str | None = None
    version: int = CARD_VERSION

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: Any, source: str = "model card") -> ModelCard:
        """A card from its JSON object; a ModelStoreError names what is wrong with it."""
        if not isinstance(data, dict):
            raise ModelStoreError(f"{source} is not a JSON object")
        version = data.get("version", 1)
        if not isinstance(version, int) or version > CARD_VERSION:
            raise ModelStoreError(f"{source} has version {version!r}: this digitclf reads cards "
                                  f"up to version {CARD_VERSION} (upgrade digitclf)")
        for key in ("name", "architecture"):
            if key not in data:
                raise ModelStoreError(f"{source} has no {key!r}")
        known = {k: v for k, v in data.items() if k in _TYPES}  # unknown keys: from elsewhere
        for key, value in known.items():
            if not isinstance(value, _TYPES[key]) or isinstance(value, bool) and bool not in _TYPES[key]:
                raise ModelStoreError(f"{source}: {key!r} should be "
                                      f"{' or '.join(t.__name__ for t in _TYPES[key])}, "
                                      f"not {type(value).__name__}")
        if version < 2:  # written before cards carried the warning
            known["accuracy_warning"] = accuracy_warning(known.get("test_accuracy"))
        return cls(**{**known, "version": CARD_VERSION})

    @classmethod
    def from_json(cls, text: str, source: str = "model card") -> ModelCard:
        try:
            data = json.loads(text)
        except ValueError as e:
            raise ModelStoreError(f"{source} is not valid JSON: {e}") from None
        return cls.from_dict(data, source)
