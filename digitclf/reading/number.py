"""Whole numbers: several handwritten digits side by side -> their text, digit by digit.

    segment.py    the ink's connected components joined into pieces, one per digit: strokes a
                  pen skipped apart, pieces above one another (a 5's bar, a 7's stem) and small
                  fragments (a dotted stroke) belong together; stray specks are dropped. A
                  piece about as wide as a digit or wider may hold touching digits, so it is
                  also offered cut in two or more along near-vertical seams (cuts.py).
    pair_view.py  the pair reader reads each piece wide enough to hold several digits whole; a
                  piece it is sure holds one digit (ONE_DIGIT) is read only whole, not cut:
                  most of a number's cost is preparing the cut parts.
    candidates    every candidate crop goes through the same `to_mnist` as a single digit, all
                  in one batch, and is scored as a whole digit from the classifier's
                  confidence, the not-a-digit detector's margin and its size (scoring.py:
                  part_features), less a fitted price for the ink its cuts cross (touching
                  digits part where their strokes meet; a cut through one digit crosses
                  more).
    search.py     every way to read the pieces is a path through a graph, scored by a fitted
                  log-linear model (scoring.py: the parts', the cuts', the pair reader's view
                  of how many digits a piece holds, a price for reading two pieces as one);
                  dynamic programming finds the best path and the sum over all of them.
    read_number   the chosen parts as DigitResults, their text and boxes (results.py), and
                  the confidence that the whole reading is exactly right: the best path's
                  probability among all, the digits' confidences and the detector's lowest
                  margin, calibrated (scoring.confidence).

Images without ink raise NoDigitError.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from digitclf.errors import NoDigitError
from digitclf.imaging.decode import ImageSource, decode_image
from digitclf.imaging.preprocess import ink_map, to_mnist
from digitclf.reading.pair_view import read_pairs
from digitclf.reading.results import NumberResult, digit_results
from digitclf.reading.scoring import WEIGHTS, confidence, confidence_features, part_features
from digitclf.reading.search import Candidates, build_graph, chosen_readings, forward, pair_priors
from digitclf.reading.segment import Part, cut, find_pieces

ONE_DIGIT = np.log(0.999)  # a piece the pair reader gives this log-probability of one digit or more is
# read only whole, never cut: on 2,400 numbers of training digits and of the validation families, the
# same text as with every piece cut (also at 0.95), from a fifth of the parts for MNIST digits


class Scorer(Protocol):
    """What reading a number needs of a predictor (Predictor is one)."""

    def score(self, model_inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Prepared inputs, float32 (N, 28, 28) -> the probabilities (N, 10) and the
        not-a-digit detector's margin (N,): below 0, the input does not look like a digit."""
        ...


def model_input(part: Part) -> np.ndarray | None:
    """The part as the model sees it; None when it holds too little ink to be a digit."""
    height, width = part.ink.shape
    pad = max(height, width) // 2 + 1  # weighed as if padded this much, so a bare stroke is not 'all ink'
    try:
        return to_mnist(part.ink, image_pixels=(height + 2 * pad) * (width + 2 * pad))
    except NoDigitError:
        return None


def candidates(scorer: Scorer, image: ImageSource) -> Candidates:
    """Every part of every way to read an image's pieces, with its features as a whole digit,
    and the pair reader's view of the pieces that may hold several."""
    pieces = find_pieces(ink_map(decode_image(image)))
    views = read_pairs(pieces.wide())
    segmentation = cut(pieces, whole={span for span, view in views.items() if view.held[0] >= ONE_DIGIT})
    spans = segmentation.spans()
    parts = {part.key: part for ways in spans.values() for part in ways.parts.values()}
    # Parts whose cuts differ only in empty columns hold the same ink: each ink is prepared
    # and scored once (row: its row in `unique`; None when it is too little to be a digit).
    row_of_ink: dict[tuple[tuple[int, ...], bytes], int | None] = {}
    unique: list[np.ndarray] = []
    rows: dict[int, int] = {}
    for key, part in parts.items():
        ink = (part.ink.shape, part.ink.tobytes())
        if ink not in row_of_ink:
            x = model_input(part)
            row_of_ink[ink] = None if x is None else len(unique)
            if x is not None:
                unique.append(x)
        if (row := row_of_ink[ink]) is not None:
            rows[key] = row
    if not rows:
        raise NoDigitError("no digit found: no mark is large enough to be a digit")
    inputs = np.stack(unique)
    probabilities, margins = scorer.score(inputs)
    index = np.fromiter(rows.values(), dtype=int, count=len(rows))
    inputs, probabilities, margins = inputs[index], probabilities[index], margins[index]
    boxes = np.array([parts[key].box for key in rows])
    return Candidates(segmentation, list(rows), inputs, probabilities, margins,
                      part_features(probabilities, margins, boxes, segmentation.height),
                      {span: view for span, view in views.items() if spans[span].last > 1})


def read_number(scorer: Scorer, image: ImageSource) -> NumberResult:
    """The number written in an image: one DigitResult per digit, left to right, its boxes,
    and the probability that the whole reading is exactly right."""
    found = candidates(scorer, image)
    graph = build_graph(found)
    log_total, best, path = forward(graph, graph.features @ WEIGHTS)
    chosen = chosen_readings(found, graph, path)
    parts = [part for _, reading, _ in chosen for part in reading.parts]
    if not parts:
        raise NoDigitError("no digit found: no mark is large enough to be a digit")
    row = {key: i for i, key in enumerate(found.keys)}
    rows = [row[part.key] for part in parts]
    digits = digit_results(found.inputs[rows], found.probabilities[rows], found.margins[rows],
                           log_prior=pair_priors(found, chosen))
    log_confidence = float(np.log(np.maximum([d.confidence for d in digits], 1e-12)).sum())
    features = confidence_features(best - log_total, log_confidence, float(found.margins[rows].min()))
    return NumberResult("".join(str(d.digit) for d in digits), tuple(digits),
                        tuple(part.box for part in parts), confidence(features))
