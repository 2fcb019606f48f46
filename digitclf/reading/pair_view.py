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
PAIR_SHAPE = (28, 56)  # a piece as the pair reader sees it: this size,
PAIR_MARGIN = 2  # ... its ink fitted within this many pixels of the edge


class PairView(NamedTuple):
    """The pair reader's log-probabilities for a piece: of the digits it holds (1, 2, 3+),
    and of its first and of its second digit."""

    held: np.ndarray  # (3,)
    first: np.ndarray  # (10,)
    second: np.ndarray  # (10,)


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
