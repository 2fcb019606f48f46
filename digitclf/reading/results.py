"""What reading an image gives: one DigitResult per digit, and a NumberResult for a number."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import softmax

MIN_CONFIDENCE = 0.5  # below this the model cannot name the digit: report "not a digit"


@dataclass(frozen=True)
class DigitResult:
    digit: int
    confidence: float
    probabilities: np.ndarray  # float32 (10,), sums to 1
    model_input: np.ndarray  # float32 (28, 28), exactly what the model saw
    is_digit: bool = True  # False: letters, scribbles, shapes, crossed-out marks, smudges

    def to_dict(self) -> dict[str, Any]:
        return {
            "digit": self.digit,
            "confidence": round(self.confidence, 6),
            "probabilities": [round(float(p), 6) for p in self.probabilities],
            "is_digit": self.is_digit,
        }


@dataclass(frozen=True)
class NumberResult:
    text: str
    digits: tuple[DigitResult, ...]
    boxes: tuple[tuple[int, int, int, int], ...]  # (x, y, width, height) in the input image
    confidence: float  # the probability that the whole reading is exactly right

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "confidence": round(self.confidence, 6),
            "digits": [digit.to_dict() for digit in self.digits],
            "boxes": [list(box) for box in self.boxes],
        }


def digit_results(model_inputs: np.ndarray, probabilities: np.ndarray, margins: np.ndarray,
                  log_prior: np.ndarray | None = None) -> list[DigitResult]:
    """One DigitResult per prepared input from what `Predictor.score` made of them.
    `log_prior` (N, 10): evidence from elsewhere (read_number's pair reader), added to the
    classifier's log-probabilities."""
    if log_prior is not None:
        probabilities = softmax(np.log(np.maximum(probabilities, 1e-12)) + log_prior, axis=1)
        probabilities = probabilities.astype(np.float32)
    digits = probabilities.argmax(axis=1)
    return [
        DigitResult(int(d), float(p[d]), p, x, bool(margin >= 0 and p[d] >= MIN_CONFIDENCE))
        for d, p, x, margin in zip(digits, probabilities, model_inputs, margins)
    ]
