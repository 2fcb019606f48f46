"""Cutting a piece of ink that may hold touching digits: where its seams run, which of them
to cut along, and what each part between two cuts keeps.

Sizes are fractions of the piece's own height unless said otherwise. segment.py makes the
parts of a piece from what this module finds; a reading of the piece is any chain of parts
from its left edge to its right (search.py weighs them all by dynamic programming, so a piece
of five touching digits costs no more than its parts).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import ndimage

EIGHT_NEIGHBOURS = np.ones((3, 3), dtype=bool)
MIN_DIGIT_WIDTH = 0.36  # a piece holds at most as many digits as fit at this width (tight handwriting),
MAX_DIGITS_PER_PIECE = 8  # ... and at most this many
MAX_DIGIT_WIDTH = 1.6  # no digit is wider than this
CUT_SPACING = 0.1  # cuts are at least this far apart and from the edges,
MIN_PART_INK = 0.05  # ... leave at least this share of the ink on either side,
EXTRA_CUTS = 12  # ... and the cheapest (most digits - 1 + EXTRA_CUTS) seams are tried
SEAM_ROWS = 32  # seams are traced on at most this many bands of rows
SEAM_REACH = 0.2  # a seam stays this close to its bottom column,
SEAM_SLOPE = 2  # ... moves at most this many columns sideways per band,
SEAM_STEP_COST = 0.3  # ... and pays this per column it moves (ink costs 0..1 a band)
SLIVER_INK = 0.1  # a cut part drops the bits apart from the rest holding less of its ink


class Cuts(NamedTuple):
    """Where a piece may be cut: `bounds` holds, for its left edge, each seam tried (left to
    right) and its right edge, the bound's column in every row; `cut_ink`, per bound, the ink
    a cut along it crosses over the piece's height (0..1; 0 at the edges); `spans`, the pairs
    of bounds (i, j), i < j, that a digit may lie between (not wider than MAX_DIGIT_WIDTH;
    the whole piece always); `most`, the most digits it may hold."""

    bounds: list[np.ndarray]
    cut_ink: tuple[float, ...]
    spans: list[tuple[int, int]]
    most: int


def _seams(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every bottom column c, the top-to-bottom path within SEAM_REACH of c that crosses
    the least ink: the paths' costs (width,), the ink they cross as a share of the height
    (width,) and their columns in every row (height, width).
    They are traced on bands of rows (each band's darkest ink), moving at most SEAM_SLOPE
    columns a band."""
    height, width = ink.shape
    band = -(-height // SEAM_ROWS)
    bands = -(-height // band)
    rows = np.pad(ink, ((0, bands * band - height), (0, 0))).reshape(bands, band, width).max(axis=1)
    reach = max(1, int(SEAM_REACH * height))
    columns = np.arange(width)[:, None] + np.arange(-reach, reach + 1)  # each seam's window
    inside = (columns >= 0) & (columns < width)
    window_ink = np.where(inside, rows[:, np.clip(columns, 0, width - 1)], np.inf)
    # The costs so far, in each seam's window with SEAM_SLOPE columns of inf either side, so
    # that arriving from `shift` columns left of every window column is one slice.
    s, k = SEAM_SLOPE, window_ink.shape[2]
    padded = np.full((width, k + 2 * s), np.inf, dtype=window_ink.dtype)
    cost = padded[:, s : s + k]
    cost[:] = window_ink[0]
    steps = np.zeros(window_ink.shape, dtype=np.int8)
    best, arriving = np.empty_like(cost), np.empty_like(cost)
    better = np.empty(cost.shape, dtype=bool)
    moves = [(shift, window_ink.dtype.type(SEAM_STEP_COST * move))  # ties go to fewer moves
             for move in range(1, s + 1) for shift in (move, -move)]
    for row in range(1, bands):
        best[:] = cost
        for shift, step_cost in moves:
            np.add(padded[:, s - shift : s - shift + k], step_cost, out=arriving)
            np.less(arriving, best, out=better)
            np.copyto(best, arriving, where=better)
            np.copyto(steps[row], shift, where=better)
        np.add(best, window_ink[row], out=cost)
    paths = np.empty((bands, width), dtype=np.int64)
    at = np.full(width, reach)  # each seam ends in its own column, its window's middle
    seams = np.arange(width)
    for row in range(bands - 1, -1, -1):
        paths[row] = columns[seams, at]
        at = at - steps[row, seams, at]
    crossed = np.take_along_axis(rows, paths, axis=1).mean(axis=0)
    return cost[:, reach], crossed, np.repeat(paths, band, axis=0)[:height]


def _cut_columns(share: np.ndarray, cost: np.ndarray, spacing: int, count: int) -> list[int]:
    """The bottom columns of the `count` cheapest seams, `spacing` apart and from the edges,
    leaving MIN_PART_INK of the ink (`share` of it lies left of each column) on either side;
    left to right. Digits that overlap need cuts through ink, so these are not only the
    seams that cross the least ink."""
    usable = (share >= MIN_PART_INK) & (share <= 1 - MIN_PART_INK)
    usable[:spacing] = usable[len(cost) - spacing :] = False
    chosen: list[int] = []
    for column in np.flatnonzero(usable)[np.argsort(cost[usable], kind="stable")]:
        if all(abs(column - c) >= spacing for c in chosen):
            chosen.append(int(column))
            if len(chosen) == count:
                break
    return sorted(chosen)


def _without_slivers(ink: np.ndarray) -> np.ndarray:
    """A cut part without the bits of its neighbour's strokes that the cut left on its side:
    pieces of ink, apart from the rest, that hold less than SLIVER_INK of its ink."""
    labels, count = ndimage.label(ink > 0, structure=EIGHT_NEIGHBOURS)
    if count < 2:
        return ink
    mass = ndimage.sum_labels(ink, labels, np.arange(1, count + 1))
    small = np.flatnonzero(mass < SLIVER_INK * mass.sum()) + 1
    return np.where(np.isin(labels, small), 0.0, ink)


def cuts(ink: np.ndarray) -> Cuts:
    """Where a piece's ink (float (H, W) 0..1, cropped to its box) may be cut into several
    digits: its cheapest seams, and the parts they leave."""
    height, width = ink.shape
    most = int(np.clip(width / (MIN_DIGIT_WIDTH * height), 2, MAX_DIGITS_PER_PIECE))
    cost, crossed, paths = _seams(ink)
    share = np.cumsum(ink.sum(axis=0)) / ink.sum()
    spacing = max(1, int(CUT_SPACING * height))
    columns = _cut_columns(share, cost, spacing, most - 1 + EXTRA_CUTS)
    bounds = [np.zeros(height, int)] + [paths[:, c] for c in columns] + [np.full(height, width)]
    at = [0, *columns, width]
    last = len(at) - 1
    spans = [(i, j) for i in range(last) for j in range(i + 1, last + 1)  # a part between two seams
             if at[j] - at[i] <= MAX_DIGIT_WIDTH * height and (most >= 3 or i == 0 or j == last)]  # needs 3
    spans += [(0, last)] if (0, last) not in spans else []
    return Cuts(bounds, (0.0, *(float(crossed[c]) for c in columns), 0.0), spans, most)


def between(ink: np.ndarray, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, int]:
    """The ink between two bounds (a column in every row: from `left`, up to but not
    including `right`), without slivers, in the columns the bounds reach; and the first of
    those columns."""
    start, stop = int(left.min()), int(right.max())
    columns = np.arange(start, stop)
    inside = (columns >= left[:, None]) & (columns < right[:, None])
    return _without_slivers(np.where(inside, ink[:, start:stop], 0.0)), start
