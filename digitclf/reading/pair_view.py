"""The pair reader at reading time: each piece that may hold touching digits, read whole.

The network (trained by digitclf.training.train_pair_reader, shipped as
settings.PAIR_READER_ONNX) sees a piece fitted into PAIR_SHAPE and gives three heads of
logits (PAIR_HEADS): how many digits it holds (1, 2, 3+), its first and its second digit.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
from scipy.special import log_softmax

from digitclf.imaging.preprocess import fit_ink
from digitclf.reading.segment import Span
from digitclf.runtime import OnnxNet, run_batched
from digitclf.settings import PAIR_READER_ONNX

PAIR_HEADS = (3, 10, 10)  # the pair reader's logits: digits held (1, 2, 3+), first, second
PAIR_DIGIT_WEIGHT = 4.0  # weight of its log-probabilities of two digits, added to the classifier's
# (chosen on 1,500 numbers of held-out training digits: the middle of a plateau that spans
# 3-8; the weight of its count of digits is fitted with the reading's, scoring.py)
PAIR_VIEW_CUT_INK = 0.05  # its view of the two digits weighs only where the cut between them crosses
# at least this much ink (over the piece's height): where it crosses almost none, each part is a
# digit as it was written, and the classifier reads it alone. On validation-typeface numbers read
# in pairs, 6 of 364 digits came out right that the pair reader had turned wrong (it learned from
# MNIST alone, and calls a 1 with a flag a 7), and none of 1,182 digits of touching pairs of
# held-out MNIST digits changed (chosen among 0.05-0.3: higher thresholds cost MNIST pairs)
PAIR_SHAPE = (28, 56)  # a piece as the pair reader sees it: this size,
PAIR_MARGIN = 2  # ... its ink fitted within this many pixels of the edge


class PairView(NamedTuple):
    """The pair reader's log-probabilities for a piece: of the digits it holds (1, 2, 3+),
    and of its first and of its second digit."""

    held: np.ndarray  # (3,)
    first: np.ndarray  # (10,)
    second: np.ndarray  # (10,)


def digit_priors(view: PairView, cut_ink: float) -> np.ndarray:
    """The pair reader's view of a pair's two digits as log-priors added to the classifier's:
    (2, 10), its log-probabilities x PAIR_DIGIT_WEIGHT; none (zeros) where the cut between the
    two crosses less than PAIR_VIEW_CUT_INK of ink."""
    if cut_ink < PAIR_VIEW_CUT_INK:
        return np.zeros((2, 10))
    return PAIR_DIGIT_WEIGHT * np.stack([view.first, view.second])


def pair_input(crop: np.ndarray) -> np.ndarray:
    """A piece's ink as the pair reader sees it: float32 PAIR_SHAPE."""
    return fit_ink(crop, PAIR_SHAPE, PAIR_MARGIN)


@functools.cache
def _pair_reader() -> OnnxNet:
    return OnnxNet(PAIR_READER_ONNX)


def read_pairs(several: dict[Span, np.ndarray]) -> dict[Span, PairView]:
    """The pair reader's view of each span of pieces given, by its ink (Pieces.wide)."""
    if not several:
        return {}
    whole = np.stack([pair_input(ink) for ink in several.values()])
    heads = np.split(run_batched(_pair_reader(), whole), np.cumsum(PAIR_HEADS)[:-1], axis=1)
    held, first, second = (log_softmax(logits, axis=1) for logits in heads)
    return {span: PairView(*views) for span, views in zip(several, zip(held, first, second))}
