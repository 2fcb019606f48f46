"""How well a reading fits: the features of its parts (each as a whole digit) and of its cuts,
and the weights that make a path's score in search.py's graph (features @ WEIGHTS).

The weights are fitted by digitclf.training.fit_reader (python -m digitclf.training.fit_reader):
a conditional log-linear model over all the readings the graph holds, its log-partition by
the same dynamic programming, maximising the likelihood of the right reading of whole
numbers. Refit them when the classifier, the detector or the pair reader change.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PART_FEATURES = 8
CUT_FEATURES = 3
SPAN_FEATURES = 3
# Provisional: from a development run of fit_reader on a small sample, against the networks of
# that moment; refit against the shipped ones (python -m digitclf.training.fit_reader).
PART_WEIGHTS = np.array([2.914, 0.243, 0.249, -5.699, -1.951, 2.207, 4.253, -4.970])
CUT_WEIGHTS = np.array([-4.113, 5.625, -2.428])
PAIR_COUNT_WEIGHT = 0.297  # of the pair reader's log-probability of a span's count of digits
PAIR_AGREEMENT_WEIGHT = 0.182  # of how well it and the classifier agree on a pair's digits
JOIN_WEIGHT = -1.333  # of reading two neighbouring pieces as one digit
SPAN_WEIGHTS = np.array([5.545, -0.471, 1.738])  # of span_features
WEIGHTS = np.concatenate([PART_WEIGHTS, CUT_WEIGHTS, [PAIR_COUNT_WEIGHT, PAIR_AGREEMENT_WEIGHT, JOIN_WEIGHT],
                          SPAN_WEIGHTS])
SEAM_INK = 0.25  # a cut crossing more ink than this pays again for the rest


def rows_logsumexp(x: np.ndarray) -> np.ndarray:
    """log sum exp of each row of `x` (N, K) -> (N,): scipy's logsumexp without its overhead
    (0.2 ms a call), which counts on one input or ten numbers."""
    top = x.max(axis=1)
    return top + np.log(np.exp(x - top[:, None]).sum(axis=1))


def part_features(probabilities: np.ndarray, margins: np.ndarray, boxes: np.ndarray,
                  height: float) -> np.ndarray:
    """What speaks for and against candidate parts being whole digits: their probabilities
    (N, 10), the detector's margins (N,) and boxes (N, 4: x, y, w, h) -> (N, PART_FEATURES).
    No constant: a part costs nothing for being there, so no reading gains by having fewer."""
    probabilities = np.atleast_2d(probabilities)
    boxes = np.atleast_2d(boxes).astype(float)
    margins = np.atleast_1d(margins).astype(float)
    width, tall = boxes[:, 2] / height, boxes[:, 3] / height
    return np.stack([
        np.log(np.maximum(probabilities.max(axis=1).astype(float), 1e-9)),
        np.minimum(margins, 0.0),
        np.clip(margins, 0.0, 8.0),
        np.maximum(width - 0.7, 0.0),
        np.maximum(width - 1.0, 0.0),
        np.maximum(width - 1.3, 0.0),
        np.maximum(0.3 - width, 0.0),
        np.maximum(0.7 - tall, 0.0),
    ], axis=1)


def span_features(width: float, digits: int, height: float) -> np.ndarray:
    """What speaks for and against reading a span of ink (`width` pixels wide) as `digits`
    digits: how wide they are on average over the typical digit height (its square, and
    how far it passes 1: a wide piece read as one digit holds touching digits, one cut into
    slivers does not)."""
    aspect = width / (digits * height)
    return np.array([aspect, aspect**2, max(aspect - 1.0, 0.0)])


def cut_features(cut_ink: Sequence[float]) -> np.ndarray:
    """What speaks against cuts (each: the ink it crosses over the piece's height): the ink
    they cross, the ink beyond SEAM_INK, and how many they are. Touching digits part where
    their strokes meet; a cut through a digit crosses more."""
    ink = np.asarray(cut_ink, dtype=float)
    return np.array([ink.sum(), np.maximum(ink - SEAM_INK, 0.0).sum(), float(len(ink))])


# The confidence that a whole reading is exactly right: a logistic regression on
# confidence_features, fitted by fit_reader on numbers of the validation handwriting families
# and of held-out MNIST digits. Fitted for the classifier before the shipped one and kept for
# it: on 900 other validation numbers read with the shipped classifier, 236 readings got 0.99
# or more and 99.6% of those were exact (a refit for it gave none 0.99: its fit tops out at
# 0.988). The weights above stayed for it as well: no refit read the validation numbers better.
CONFIDENCE_WEIGHTS = np.array([-1.194, -0.361, -0.376, 0.484])
CONFIDENCE_SHIFT = 0.0  # subtracted from the logit: a margin of caution near 0.99
PATH_DOUBT_FLOOR = 3e-4  # the least doubt a path is given. A piece the pair reader is sure of
# is read whole, without the cuts whose small share of the readings made this doubt before
# (its median was e^-6.4, numbers read right and wrong alike): below the floor the fit above
# would extrapolate. Chosen by fit_reader on half of its 900 validation numbers, the lowest floor
# whose readings at 0.99 or more are exact 99.5% of the time (100% there, 123 readings; 99.3% of
# 137 on the other half). With the detector before the present one it chose 1e-3.


def confidence_features(path_log_probability: float, digits_log_confidence: float,
                        lowest_margin: float, doubt_floor: float = PATH_DOUBT_FLOOR) -> np.ndarray:
    """What a reading's confidence builds on: 1; the log of the doubt in its path (minus its
    log-probability among all readings, under the fitted model: about the chance that another
    reading is right, where that is small; at least doubt_floor) and in its digits (minus the sum of their
    log-confidences); and the lowest detector margin of its parts (clipped)."""
    path_doubt = max(-path_log_probability, doubt_floor)
    return np.array([1.0, np.log(path_doubt), np.log(max(-digits_log_confidence, 1e-6)),
                     float(np.clip(lowest_margin, -5.0, 5.0))])


def confidence(features: np.ndarray) -> float:
    """The probability that a reading is exactly right, from its confidence_features."""
    return float(1.0 / (1.0 + np.exp(-(features @ CONFIDENCE_WEIGHTS - CONFIDENCE_SHIFT))))
