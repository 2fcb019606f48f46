"""Whole numbers: several handwritten digits side by side -> their text, digit by digit.

    segment.py    the ink's connected components joined into pieces, one per digit: strokes a
                  pen skipped apart, pieces above one another (a 5's bar, a 7's stem) and small
                  fragments (a dotted stroke) belong together; stray specks are dropped. A
                  piece about as wide as a digit or wider may hold touching digits, so it is
                  also offered cut in two or more along near-vertical seams (cuts.py).
    candidates    every candidate crop goes through the same `to_mnist` as a single digit, all
                  in one batch, and is scored as a whole digit from the classifier's
                  confidence, the not-a-digit detector's margin and its size (scoring.py:
                  part_features), less a fitted price for the ink its cuts cross (touching
                  digits part where their strokes meet; a cut through one digit crosses
                  more). The pair reader (pair_view.py) reads each piece that may hold
                  several digits whole as well.
    search.py     the pieces are read the way that scores highest in all: how many digits the
                  pair reader sees in a piece weighs on each way to read it, and where it is
                  read as two digits, its view of each joins the classifier's.
    read_number   the chosen parts as DigitResults, their text and boxes (results.py).

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
from digitclf.reading.scoring import PART_WEIGHTS, part_features
from digitclf.reading.search import Candidates, best_readings, pair_priors
from digitclf.reading.segment import Part, segment


class Scorer(Protocol):
    """What reading a number needs of a predictor (Predictor is one)."""

    def score(self, model_inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Prepared inputs, float32 (N, 28, 28) -> the probabilities (N, 10) and the
        not-a-digit detector's margin (N,): below 0, the input does not look like a digit."""
        ...


def _model_input(part: Part) -> np.ndarray | None:
    """The part as the model sees it; None when it holds too little ink to be a digit."""
    pad = max(part.ink.shape) // 2 + 1  # room around the ink, so a bare stroke is not 'all ink'
    try:
        return to_mnist(np.pad(part.ink, pad))
    except NoDigitError:
        return None


def candidates(scorer: Scorer, image: ImageSource) -> Candidates:
    """Every part of every way to read an image's pieces, scored as a whole digit, and the
    pair reader's view of the pieces that may hold several."""
    segmentation = segment(ink_map(decode_image(image)))
    parts = {part.key: part for readings in segmentation.spans().values()
             for reading in readings for part in reading.parts}
    inputs = {key: x for key, part in parts.items() if (x := _model_input(part)) is not None}
    if not inputs:
        raise NoDigitError("no digit found: no mark is large enough to be a digit")
    x = np.stack(list(inputs.values()))
    probabilities, margins = scorer.score(x)
    boxes = [parts[key].box for key in inputs]
    base = [part_features(p, m, box, segmentation.height) @ PART_WEIGHTS
            for p, m, box in zip(probabilities, margins, boxes)]
    return Candidates(segmentation, list(inputs), x, probabilities, margins, np.array(base),
                      read_pairs(segmentation))


def read_number(scorer: Scorer, image: ImageSource) -> NumberResult:
    """The number written in an image: one DigitResult per digit, left to right, and boxes."""
    found = candidates(scorer, image)
    chosen = best_readings(found)
    parts = [part for _, reading in chosen for part in reading.parts]
    if not parts:
        raise NoDigitError("no digit found: no mark is large enough to be a digit")
    row = {key: i for i, key in enumerate(found.keys)}
    rows = [row[part.key] for part in parts]
    digits = digit_results(found.inputs[rows], found.probabilities[rows], found.margins[rows],
                           log_prior=pair_priors(found, chosen))
    return NumberResult("".join(str(d.digit) for d in digits), tuple(digits),
                        tuple(part.box for part in parts))
