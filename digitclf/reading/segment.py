"""Segmentation: the ink's connected components joined into pieces, one per digit, and the
ways to read each piece.

Strokes a pen skipped apart, pieces above one another (a 5's bar, a 7's stem) and small
fragments (a dotted stroke) belong together; stray specks are dropped. A piece about as wide
as a digit or wider may hold touching digits, so it is also offered cut in two or more along
near-vertical seams (cuts.py): its parts lie between any two of its seams, and a reading is
any chain of parts across it (Ways). Neighbours that may be one digit drawn in two pieces are
also offered read as one (at a price search.py weighs: each piece is a digit of its own
unless the evidence says otherwise).

find_pieces finds the pieces, cut the ways to read them: between the two, a reader may say
which pieces are only read whole (number.py: those the pair reader is sure hold one digit).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from itertools import count
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from digitclf.errors import NoDigitError
from digitclf.reading.cuts import EIGHT_NEIGHBOURS, between, cuts

# Sizes are fractions of the typical digit height of the image.
JOIN_GAP = 0.07  # strokes closer than this are one piece: a pen skip, not a gap between digits
STACK_OVERLAP = 0.5  # pieces sharing this share of the narrower one's columns are one digit
FRAGMENT_HEIGHT = 0.5  # a piece shorter than this is part of a digit: it joins the nearest
FRAGMENT_REACH = 0.4  # ... piece within this distance
NOISE_SIZE = 0.25  # what stays smaller than this both ways is a stray mark
SPLIT_WIDTH = 0.55  # a piece at least this wide may hold several digits
NEIGHBOUR_GAP = 0.15  # neighbours this close, one of them a stroke
STROKE_WIDTH = 0.35  # ... at most this wide, are also offered read as one digit


class Piece(NamedTuple):
    """Connected components (their label ids) taken as one digit, and their bounding box."""

    ids: tuple[int, ...]
    top: int
    left: int
    bottom: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left


class Part(NamedTuple):
    """One digit of a candidate reading: its ink cropped to its box, the box (x, y, w, h), and
    its number among the parts of its segmentation (readings that share a part share it)."""

    ink: np.ndarray
    box: tuple[int, int, int, int]
    key: int


class Reading(NamedTuple):
    """One way to read a piece of ink: its digits left to right, and what its cuts cross."""

    parts: tuple[Part, ...]
    cut_ink: tuple[float, ...]  # per cut, the ink it crosses over the piece's height (0..1)


class Ways(NamedTuple):
    """The ways to read a piece (or two neighbours as one): every chain of at most `most`
    parts from its left edge (bound 0) to its right (bound `last`). parts[i, j] is the part
    between bounds i and j (parts[0, last] the whole piece), cut_ink[j] the ink a cut along
    bound j crosses over the piece's height (0 at the edges)."""

    parts: dict[tuple[int, int], Part]
    cut_ink: tuple[float, ...]
    most: int

    @property
    def last(self) -> int:
        return len(self.cut_ink) - 1

    @property
    def whole(self) -> Part:
        return self.parts[0, self.last]

    def reading(self, bounds: Sequence[int]) -> Reading:
        """The reading whose parts lie between these bounds (0 first, `last` last)."""
        return Reading(tuple(self.parts[i, j] for i, j in zip(bounds, bounds[1:])),
                       tuple(self.cut_ink[b] for b in bounds[1:-1]))


Span = tuple[int, int]  # pieces[start:stop], read as one


class Segmentation(NamedTuple):
    """For each piece of ink that holds digits, left to right, the ways to read it; the
    typical digit height in pixels; and for neighbours that may be one digit drawn in two
    pieces (by the first's index), the ways to read the two as one."""

    pieces: list[Ways]
    height: float
    joined: dict[int, Ways]

    def spans(self) -> dict[Span, Ways]:
        """The ways to read each piece, and each pair of neighbours as one, by their span."""
        return {**{(i, i + 1): ways for i, ways in enumerate(self.pieces)},
                **{(i, i + 2): ways for i, ways in self.joined.items()}}


# ----- pieces of ink -----------------------------------------------------------------------
def _components(mask: np.ndarray) -> tuple[np.ndarray, list[Piece]]:
    labels, _ = ndimage.label(mask, structure=EIGHT_NEIGHBOURS)
    pieces = [
        Piece((i + 1,), rows.start, cols.start, rows.stop, cols.stop)
        for i, (rows, cols) in enumerate(ndimage.find_objects(labels))
    ]
    return labels, pieces


def _digit_height(pieces: list[Piece]) -> float:
    """The typical digit height: the median of the pieces at least half as tall as the tallest."""
    heights = np.array([piece.height for piece in pieces])
    return float(np.median(heights[heights >= 0.5 * heights.max()]))


def _pieces(ink: np.ndarray) -> tuple[np.ndarray, list[Piece], float]:
    """Label the ink, strokes less than JOIN_GAP apart as one piece: the labels (0 off the
    ink), the pieces that hold digits (joined by _join, left to right) and the typical digit
    height."""
    mask = ink > 0
    _, components = _components(mask)
    if not components:
        raise NoDigitError("no digit found: the image is blank")
    height = _digit_height(components)
    reach = max(1, int(JOIN_GAP * height)) | 1
    labels, pieces = _components(ndimage.maximum_filter(mask, size=reach))
    labels[~mask] = 0
    boxes = ndimage.find_objects(labels, max_label=len(pieces))
    pieces = [Piece(p.ids, rows.start, cols.start, rows.stop, cols.stop)
              for p, (rows, cols) in zip(pieces, boxes)]
    return labels, _join(pieces, height), height


def _union(a: Piece, b: Piece) -> Piece:
    return Piece(a.ids + b.ids, min(a.top, b.top), min(a.left, b.left),
                 max(a.bottom, b.bottom), max(a.right, b.right))


def _boxes(pieces: list[Piece]) -> tuple[np.ndarray, ...]:
    top, left, bottom, right = np.array([piece[1:] for piece in pieces]).T
    return top, left, bottom, right


def _stacked_pair(pieces: list[Piece]) -> tuple[int, int] | None:
    """Two pieces one above the other (sharing most of the narrower one's columns)."""
    _, left, _, right = _boxes(pieces)
    shared = np.minimum(right[:, None], right) - np.maximum(left[:, None], left)
    narrower = np.minimum((right - left)[:, None], right - left)
    pairs = np.argwhere(np.triu(shared >= STACK_OVERLAP * narrower, k=1))
    return (int(pairs[0, 0]), int(pairs[0, 1])) if len(pairs) else None


def _fragment_pair(pieces: list[Piece], height: float) -> tuple[int, int] | None:
    """The smallest piece too short to be a digit, with the nearest piece within reach."""
    top, left, bottom, right = _boxes(pieces)
    gap_x = np.maximum(0, np.maximum(left[:, None] - right, left - right[:, None]))
    gap_y = np.maximum(0, np.maximum(top[:, None] - bottom, top - bottom[:, None]))
    distance = np.hypot(gap_x, gap_y)
    np.fill_diagonal(distance, np.inf)
    heights = bottom - top
    for i in np.argsort(heights, kind="stable"):
        if heights[i] >= FRAGMENT_HEIGHT * height:
            break
        j = int(distance[i].argmin())
        if distance[i, j] <= FRAGMENT_REACH * height:
            return int(i), j
    return None


def _join(pieces: list[Piece], height: float) -> list[Piece]:
    """Join the pieces of each digit; drop stray marks; order left to right."""
    while len(pieces) > 1:
        pair = _stacked_pair(pieces) or _fragment_pair(pieces, height)
        if pair is None:
            break
        i, j = pair
        pieces = [p for k, p in enumerate(pieces) if k not in pair] + [_union(pieces[i], pieces[j])]
    pieces = [p for p in pieces if max(p.height, p.width) >= NOISE_SIZE * height]
    return sorted(pieces, key=lambda p: p.left + p.right)


def _crop(ink: np.ndarray, labels: np.ndarray, piece: Piece) -> np.ndarray:
    """A piece's own ink, cropped to its box."""
    rows, cols = slice(piece.top, piece.bottom), slice(piece.left, piece.right)
    return np.where(np.isin(labels[rows, cols], piece.ids), ink[rows, cols], 0.0)


def may_hold_several(piece: Piece, height: float) -> bool:
    """Whether a piece is wide enough to hold touching digits (it is offered cuts)."""
    return piece.width >= SPLIT_WIDTH * height


def _may_be_one(a: Piece, b: Piece, height: float) -> bool:
    """Whether neighbours may be one digit drawn in two pieces (a stroke beside the rest)."""
    return (b.left - a.right <= NEIGHBOUR_GAP * height
            and min(a.width, b.width) <= STROKE_WIDTH * height)


# ----- the ways to read a piece --------------------------------------------------------------
def _part(ink: np.ndarray, top: int, left: int, key: int) -> Part:
    """A part of a crop whose corner is at (top, left) in the image, cropped to its ink."""
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    if len(rows) == 0:
        return Part(ink[:0, :0], (left, top, 0, 0), key)
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return Part(crop, (left + int(cols[0]), top + int(rows[0]), crop.shape[1], crop.shape[0]), key)


class Pieces(NamedTuple):
    """The pieces of an ink map that hold digits, before any is cut: each span's piece (a
    piece, or two neighbours that may be one digit, joined), its ink cropped to its box and
    read whole as one part; how many pieces there are, and the typical digit height."""

    spans: dict[Span, tuple[Piece, np.ndarray, Part]]
    piece_count: int
    height: float

    def wide(self) -> dict[Span, np.ndarray]:
        """The ink of each span wide enough to hold touching digits (offered cuts)."""
        return {span: whole.ink for span, (piece, _, whole) in self.spans.items()
                if may_hold_several(piece, self.height)}


def find_pieces(ink: np.ndarray) -> Pieces:
    """The pieces of an ink map (float (H, W) 0..1) that hold digits, left to right, and the
    neighbours that may be one digit."""
    labels, pieces, height = _pieces(ink)
    keys = count()
    spans: dict[Span, tuple[Piece, np.ndarray, Part]] = {}
    joined = {(i, i + 2): _union(a, b) for i, (a, b) in enumerate(zip(pieces, pieces[1:]))
              if _may_be_one(a, b, height)}
    for span, piece in [*joined.items(), *(((i, i + 1), piece) for i, piece in enumerate(pieces))]:
        crop = _crop(ink, labels, piece)
        spans[span] = piece, crop, _part(crop, piece.top, piece.left, next(keys))
    return Pieces(spans, len(pieces), height)


def _ways(piece: Piece, crop: np.ndarray, whole: Part, height: float, keys: Iterator[int]) -> Ways:
    """The ways to read a piece: whole, and cut along its cheapest seams into several digits
    when it is wide enough. Its cut parts are numbered from `keys`."""
    if not may_hold_several(piece, height):
        return Ways({(0, 1): whole}, (0.0, 0.0), 1)
    bounds, cut_ink, spans, most = cuts(crop)
    last = len(bounds) - 1
    parts: dict[tuple[int, int], Part] = {}
    for i, j in spans:
        if (i, j) == (0, last):
            parts[i, j] = whole
        else:
            ink_between, start = between(crop, bounds[i], bounds[j])
            parts[i, j] = _part(ink_between, piece.top, piece.left + start, next(keys))
    return Ways(parts, cut_ink, most)


def cut(pieces: Pieces, whole: Collection[Span] = ()) -> Segmentation:
    """The ways to read each span of pieces; those in `whole` are read only whole (known to
    hold one digit), never cut."""
    keys = count(len(pieces.spans))  # find_pieces numbered the wholes 0, 1, ...: cut parts come after
    ways = {span: Ways({(0, 1): part}, (0.0, 0.0), 1) if span in whole
            else _ways(piece, crop, part, pieces.height, keys)
            for span, (piece, crop, part) in pieces.spans.items()}
    return Segmentation([ways[i, i + 1] for i in range(pieces.piece_count)], pieces.height,
                        {a: w for (a, b), w in ways.items() if b == a + 2})


def segment(ink: np.ndarray) -> Segmentation:
    """The pieces of an ink map (float (H, W) 0..1) that hold digits, left to right, and the
    ways to read each, and each pair of neighbours that may be one digit."""
    return cut(find_pieces(ink))
