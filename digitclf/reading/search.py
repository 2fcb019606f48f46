"""The search over readings: the pieces read the way that scores highest in all (dynamic
programming over the pieces, left to right), and the pair reader's evidence for the digits
of the chosen readings."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from digitclf.reading.pair_view import PAIR_COUNT_WEIGHT, PAIR_DIGIT_WEIGHT, PairView
from digitclf.reading.scoring import CUT_WEIGHTS, cut_features
from digitclf.reading.segment import Reading, Segmentation, Span


class Candidates(NamedTuple):
    """Every part of every way to read an image's pieces, with what the networks make of it.
    The arrays hold the parts large enough to read, in the order of `keys` (Part.key)."""

    segmentation: Segmentation
    keys: list[int]
    inputs: np.ndarray  # float32 (N, 28, 28), as the model sees them
    probabilities: np.ndarray  # (N, 10)
    margins: np.ndarray  # (N,): the not-a-digit detector's (Predictor.score)
    scores: np.ndarray  # (N,): part_features @ PART_WEIGHTS
    pairs: dict[Span, PairView]  # the pair reader's view of each span that may hold several


def best_readings(found: Candidates) -> list[tuple[Span, Reading]]:
    """The pieces read the way that scores highest in all, each on its own or two
    neighbours as one. A reading scores its parts' scores, its cuts' (cut_features @
    CUT_WEIGHTS) and the pair reader's log-probability of its count of digits (x
    PAIR_COUNT_WEIGHT). A piece whose every reading has a part too small to read (no
    score) is left out."""
    by_part = dict(zip(found.keys, found.scores.tolist()))

    def score(span: Span, reading: Reading) -> float:
        if any(part.key not in by_part for part in reading.parts):
            return -np.inf
        total = sum(by_part[part.key] for part in reading.parts)
        total += cut_features(reading) @ CUT_WEIGHTS
        if span in found.pairs:
            total += PAIR_COUNT_WEIGHT * found.pairs[span].held[min(len(reading.parts), 3) - 1]
        return total

    # best[i]: the highest total for pieces[:i], and the span and reading (None: nothing to
    # read) that end it
    best: list[tuple[float, Span, Reading | None]] = [(0.0, (0, 0), None)]
    spans = found.segmentation.spans()
    for stop in range(1, len(found.segmentation.pieces) + 1):
        options: list[tuple[float, Span, Reading | None]] = [
            (best[start][0] + score((start, stop), reading), (start, stop), reading)
            for start in (stop - 1, stop - 2) for reading in spans.get((start, stop), [])]
        if all(total == -np.inf for total, (start, _), _ in options if start == stop - 1):
            options.append((best[stop - 1][0], (stop - 1, stop), None))  # nothing to read
        best.append(max(options, key=lambda option: option[0]))
    chosen = []
    stop = len(best) - 1
    while stop > 0:
        _, (start, _), reading = best[stop]
        if reading is not None:
            chosen.append(((start, stop), reading))
        stop = start
    return chosen[::-1]


def pair_priors(found: Candidates, chosen: list[tuple[Span, Reading]]) -> np.ndarray:
    """For each chosen part: the pair reader's log-probabilities of its digit (x
    PAIR_DIGIT_WEIGHT) where its span is read as two digits, else zeros: (N, 10)."""
    rows = []
    for span, reading in chosen:
        view = found.pairs.get(span)
        if view is not None and len(reading.parts) == 2:
            rows += [PAIR_DIGIT_WEIGHT * view.first, PAIR_DIGIT_WEIGHT * view.second]
        else:
            rows += [np.zeros(10)] * len(reading.parts)
    return np.array(rows, dtype=np.float32)
