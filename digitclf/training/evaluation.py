"""A model's behaviour on the MNIST test set: predictions, metrics and its mistakes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from digitclf.training.data import load_mnist
from digitclf.training.metrics import classification_report


@dataclass
class Evaluation:
    images: np.ndarray  # uint8 (N, 28, 28)
    labels: np.ndarray  # (N,)
    probabilities: np.ndarray  # float32 (N, 10)

    @cached_property
    def predictions(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    @cached_property
    def report(self) -> dict:
        return classification_report(self.labels, self.probabilities)

    def misclassified(self) -> np.ndarray:
        """Indices of the test digits the model gets wrong."""
        return np.flatnonzero(self.predictions != self.labels)


def evaluate(predictor, split: str = "test") -> Evaluation:
    images, labels = load_mnist(split)
    return Evaluation(images, labels, predictor.predict(images))
