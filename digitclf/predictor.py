"""The Predictor: a stored model behind a compiled call, for arrays and for real images."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import tf_setup  # noqa: F401
import keras
import tensorflow as tf

from .imageio import ImageSource
from .preprocess import preprocess
from .store import ModelStore
from .errors import ModelStoreError

BATCH = 1024


@dataclass(frozen=True)
class DigitResult:
    digit: int
    confidence: float
    probabilities: np.ndarray  # float32 (10,), sums to 1
    model_input: np.ndarray  # float32 (28, 28), exactly what the model saw

    def to_dict(self) -> dict[str, Any]:
        return {
            "digit": self.digit,
            "confidence": round(self.confidence, 6),
            "probabilities": [round(float(p), 6) for p in self.probabilities],
        }


class Predictor:
    def __init__(self, model: keras.Model, name: str = "", card: dict | None = None):
        self.model = model
        self.name = name
        self.card = card or {}
        # A compiled graph call: Keras' predict() costs tens of ms per call in overhead.
        self._infer = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec((None, 28, 28), tf.float32)],
        )

    def predict(self, x: np.ndarray) -> np.ndarray:
        """uint8 (N, 28, 28) in MNIST convention -> float32 (N, 10) probabilities."""
        x = np.asarray(x)
        if x.ndim == 2:
            x = x[None]
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise ValueError(f"expected images of shape (N, 28, 28), got {x.shape}")
        x = x.astype(np.float32, copy=False)
        if len(x) == 0:
            return np.zeros((0, 10), dtype=np.float32)
        return np.concatenate(
            [self._infer(x[i : i + BATCH]).numpy() for i in range(0, len(x), BATCH)]
        )

    def predict_image(self, image: ImageSource) -> DigitResult:
        """One digit as a person delivers it: path, bytes, PIL image or array of any size."""
        model_input = preprocess(image)
        probs = self._infer(model_input[None]).numpy()[0]
        digit = int(probs.argmax())
        return DigitResult(digit, float(probs[digit]), probs, model_input)


def load_predictor(name: str | None = None, store: ModelStore | None = None) -> Predictor:
    """The named model, else the store's active model, else the shipped 'default'."""
    store = store or ModelStore()
    name = name or store.active_name()
    if name is None:
        raise ModelStoreError(
            f"no model in {store.root}: train one with 'python -m digitclf train'"
        )
    return Predictor(store.load(name), name, store.card(name))
