"""How well a candidate reading fits: its parts' scores as whole digits, and its cuts' price.

A reading's score is the sum of its parts' (part_features @ PART_WEIGHTS) and its cuts'
(cut_features @ CUT_WEIGHTS); search.py adds the pair reader's view and picks the best.
"""

from __future__ import annotations

import numpy as np

from digitclf.reading.segment import Reading

# The weights of part_features in a part's score; a reading's score is the sum of its parts'.
# Fitted (conditional logit: the right reading of each piece against the others) on numbers
# of MNIST *training* digits. The classifier is about as sure of a squashed pair or half a
# digit as of a real digit, so the detector's margin and the part's size carry the decision.
PART_WEIGHTS = np.array([7.477, 1.493, 0.597, -6.791, 3.634, -10.535, -6.696])
# The weights of cut_features in a reading's score, fitted the same way on numbers of the
# training digits the default model held out, with more touching pairs.
CUT_WEIGHTS = np.array([-0.794, -2.968])


def part_features(probabilities: np.ndarray, detector_margin: float,
                  box: tuple[int, int, int, int], height: float) -> np.ndarray:
    """What speaks for and against a candidate part being one whole digit (see PART_WEIGHTS)."""
    _, _, w, h = box
    width, tall = w / height, h / height
    return np.array([
        np.log(max(float(probabilities.max()), 1e-9)),
        min(detector_margin, 0.0),
        min(max(detector_margin, 0.0), 8.0),
        max(width - 1.0, 0.0),
        max(width - 1.3, 0.0),
        max(0.7 - tall, 0.0),
        1.0,
    ])


def cut_features(reading: Reading) -> np.ndarray:
    """What speaks against a reading's cuts: the ink they cross in all and at most in one.
    Touching digits part where their strokes meet; a cut through a digit crosses more."""
    return np.array([sum(reading.cut_ink), max(reading.cut_ink, default=0.0)])
