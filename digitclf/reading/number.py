"""Whole numbers: several handwritten digits side by side -> their text, digit by digit.

    segment:      the ink's connected components joined into pieces, one per digit: strokes a
                  pen skip apart, pieces above one another (a 5's bar, a 7's stem) and small
                  fragments (a dotted stroke) belong together; stray specks are dropped. A
                  piece about as wide as a digit or wider may hold touching digits, so it is
                  also offered cut in two or more along near-vertical seams.
    read_number:  every candidate crop goes through the same `to_mnist` as a single digit, all
                  in one batch, and is scored as a whole digit from the classifier's
                  confidence, the not-a-digit detector's margin and its size (part_features),
                  less a fitted price for the ink its cuts cross (touching digits part
                  where their strokes meet; a cut through one digit crosses more). The pair
                  reader (digitclf.pair_reader) reads each piece that may hold several
                  digits whole as well: how many digits it holds weighs on each way to read
                  it, and where it is read as two digits, its view of each joins the
                  classifier's. The pieces are read the way that scores highest in all.

Images without ink raise NoDigitError.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from itertools import combinations
from typing import Any, NamedTuple

import numpy as np
from scipy import ndimage
from scipy.special import log_softmax

from digitclf.errors import NoDigitError
from digitclf.imaging.decode import ImageSource, decode_image
from digitclf.settings import ASSET_DIR
from digitclf.reading.predictor import DigitResult, Predictor, digit_results
from digitclf.imaging.preprocess import fit_ink, ink_map, to_mnist
from digitclf.runtime import OnnxNet, run_batched

PAIR_READER_ONNX = ASSET_DIR / "pair_reader.onnx"
PAIR_HEADS = (3, 10, 10)  # the pair reader's logits: digits held (1, 2, 3+), first, second
PAIR_COUNT_WEIGHT = 2.0  # weights of its log-probabilities in a reading's score
PAIR_DIGIT_WEIGHT = 4.0  # ... and added to the classifier's for each of two digits
# (both chosen on 1,500 numbers of held-out training digits: the middle of a plateau that
# spans 1-4 and 3-8)
# Sizes are fractions of the typical digit height of the image unless said otherwise.
EIGHT_NEIGHBOURS = np.ones((3, 3), dtype=bool)
JOIN_GAP = 0.07  # strokes closer than this are one piece: a pen skip, not a gap between digits
STACK_OVERLAP = 0.5  # pieces sharing this share of the narrower one's columns are one digit
FRAGMENT_HEIGHT = 0.5  # a piece shorter than this is part of a digit: it joins the nearest
FRAGMENT_REACH = 0.4  # ... piece within this distance
NOISE_SIZE = 0.25  # what stays smaller than this both ways is a stray mark
SPLIT_WIDTH = 0.55  # a piece at least this wide may hold several digits
# Cutting a piece (these are fractions of the piece's own height):
MIN_DIGIT_WIDTH = 0.42  # it holds at most as many digits as fit at this width,
MAX_DIGITS_PER_PIECE = 4  # ... and at most this many
MAX_DIGIT_WIDTH = 1.6  # no digit is wider than this
CUT_SPACING = 0.1  # cuts are at least this far apart and from the edges,
MIN_PART_INK = 0.05  # ... leave at least this share of the ink on either side,
EXTRA_CUTS = 12  # ... and the cheapest (most digits - 1 + EXTRA_CUTS) seams are tried
SEAM_ROWS = 32  # seams are traced on at most this many bands of rows
SEAM_REACH = 0.2  # a seam stays this close to its bottom column,
SEAM_SLOPE = 2  # ... moves at most this many columns sideways per band,
SEAM_STEP_COST = 0.3  # ... and pays this per column it moves (ink costs 0..1 a band)
SLIVER_INK = 0.1  # a cut part drops the bits apart from the rest holding less of its ink
NEIGHBOUR_GAP = 0.15  # neighbours this close, one of them a stroke
STROKE_WIDTH = 0.35  # ... at most this wide, are also offered read as one digit
PAIR_SHAPE = (28, 56)  # a piece as the pair reader sees it: this size,
PAIR_MARGIN = 2  # ... its ink fitted within this many pixels of the edge


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
    """One digit of a candidate reading: its ink cropped to its box, and the box (x, y, w, h)."""

    ink: np.ndarray
    box: tuple[int, int, int, int]


class Reading(NamedTuple):
    """One way to read a piece of ink: its digits left to right, and what its cuts cross."""

    parts: tuple[Part, ...]
    cut_ink: tuple[float, ...]  # per cut, the ink it crosses over the piece's height (0..1)


Span = tuple[int, int]  # pieces[start:stop], read as one


class Segmentation(NamedTuple):
    """For each piece of ink that holds digits, left to right, the ways to read it (whole
    first); the typical digit height in pixels; and for neighbours that may be one digit
    drawn in two pieces (by the first's index), the ways to read the two as one."""

    pieces: list[list[Reading]]
    height: float
    joined: dict[int, list[Reading]]

    def spans(self) -> dict[Span, list[Reading]]:
        """The ways to read each piece, and each pair of neighbours as one, by their span."""
        return {**{(i, i + 1): readings for i, readings in enumerate(self.pieces)},
                **{(i, i + 2): readings for i, readings in self.joined.items()}}


@dataclass(frozen=True)
class NumberResult:
    text: str
    digits: tuple[DigitResult, ...]
    boxes: tuple[tuple[int, int, int, int], ...]  # (x, y, width, height) in the input image

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "digits": [digit.to_dict() for digit in self.digits],
            "boxes": [list(box) for box in self.boxes],
        }


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


# ----- cutting a piece into digits -----------------------------------------------------------
def _part(ink: np.ndarray, top: int, left: int) -> Part:
    """A part of a crop whose corner is at (top, left) in the image, cropped to its ink."""
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    if len(rows) == 0:
        return Part(ink[:0, :0], (left, top, 0, 0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return Part(crop, (left + int(cols[0]), top + int(rows[0]), crop.shape[1], crop.shape[0]))


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
    cost = window_ink[0]
    steps = np.zeros(window_ink.shape, dtype=np.int8)
    for row in range(1, bands):
        best, step = cost.copy(), steps[row]
        for move in range(1, SEAM_SLOPE + 1):  # from `move` window columns left, then right
            for shift, source, target in ((move, np.s_[:, :-move], np.s_[:, move:]),
                                          (-move, np.s_[:, move:], np.s_[:, :-move])):
                arriving = cost[source] + SEAM_STEP_COST * move
                better = arriving < best[target]
                best[target] = np.where(better, arriving, best[target])
                step[target][better] = shift
        cost = best + window_ink[row]
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


def _cuts(ink: np.ndarray, top: int, left: int) -> list[Reading]:
    """The ways to read a piece as several digits, cut along its cheapest seams."""
    height, width = ink.shape
    most = int(np.clip(width / (MIN_DIGIT_WIDTH * height), 2, MAX_DIGITS_PER_PIECE))
    cost, crossed, paths = _seams(ink)
    share = np.cumsum(ink.sum(axis=0)) / ink.sum()
    spacing = max(1, int(CUT_SPACING * height))
    cuts = _cut_columns(share, cost, spacing, most - 1 + EXTRA_CUTS)
    bounds = [np.zeros(height, int)] + [paths[:, c] for c in cuts] + [np.full(height, width)]
    columns = np.arange(width)
    parts: dict[tuple[int, int], Part] = {}

    def part(i: int, j: int) -> Part:
        if (i, j) not in parts:
            inside = (columns >= bounds[i][:, None]) & (columns < bounds[j][:, None])
            parts[i, j] = _part(_without_slivers(np.where(inside, ink, 0.0)), top, left)
        return parts[i, j]

    readings = []
    for count in range(1, most):
        for chosen in combinations(range(1, len(cuts) + 1), count):
            edges = (0, *chosen, len(cuts) + 1)
            widths = np.diff([0, *(cuts[i - 1] for i in chosen), width])
            if widths.max() <= MAX_DIGIT_WIDTH * height:
                readings.append(Reading(tuple(part(i, j) for i, j in zip(edges, edges[1:])),
                                        tuple(float(crossed[cuts[i - 1]]) for i in chosen)))
    return readings


def _crop(ink: np.ndarray, labels: np.ndarray, piece: Piece) -> np.ndarray:
    """A piece's own ink, cropped to its box."""
    rows, cols = slice(piece.top, piece.bottom), slice(piece.left, piece.right)
    return np.where(np.isin(labels[rows, cols], piece.ids), ink[rows, cols], 0.0)


def piece_crops(ink: np.ndarray) -> tuple[list[tuple[Piece, np.ndarray]], float]:
    """The pieces of an ink map (float (H, W) 0..1) that hold digits, left to right, each
    with its ink cropped to its box; and the typical digit height."""
    labels, pieces, height = _pieces(ink)
    return [(piece, _crop(ink, labels, piece)) for piece in pieces], height


def may_hold_several(piece: Piece, height: float) -> bool:
    """Whether a piece is wide enough to hold touching digits (it is offered cuts)."""
    return piece.width >= SPLIT_WIDTH * height


def _may_be_one(a: Piece, b: Piece, height: float) -> bool:
    """Whether neighbours may be one digit drawn in two pieces (a stroke beside the rest)."""
    return (b.left - a.right <= NEIGHBOUR_GAP * height
            and min(a.width, b.width) <= STROKE_WIDTH * height)


def _readings(ink: np.ndarray, labels: np.ndarray, piece: Piece, height: float) -> list[Reading]:
    """The ways to read a piece: whole first, then cut into several digits when it is wide
    enough."""
    crop = _crop(ink, labels, piece)
    readings = [Reading((_part(crop, piece.top, piece.left),), ())]
    if may_hold_several(piece, height):
        readings += _cuts(crop, piece.top, piece.left)
    return readings


def segment(ink: np.ndarray) -> Segmentation:
    """The pieces of an ink map (float (H, W) 0..1) that hold digits, left to right, and the
    ways to read each, and each pair of neighbours that may be one digit."""
    labels, pieces, height = _pieces(ink)
    joined = {i: _readings(ink, labels, _union(a, b), height)
              for i, (a, b) in enumerate(zip(pieces, pieces[1:])) if _may_be_one(a, b, height)}
    return Segmentation([_readings(ink, labels, piece, height) for piece in pieces], height,
                        joined)


def pair_input(crop: np.ndarray) -> np.ndarray:
    """A piece's ink as the pair reader (digitclf.pair_reader) sees it: float32 PAIR_SHAPE."""
    return fit_ink(crop, PAIR_SHAPE, PAIR_MARGIN)


# ----- reading -----------------------------------------------------------------------------
def _model_input(part: Part) -> np.ndarray | None:
    """The part as the model sees it; None when it holds too little ink to be a digit."""
    pad = max(part.ink.shape) // 2 + 1  # room around the ink, so a bare stroke is not 'all ink'
    try:
        return to_mnist(np.pad(part.ink, pad))
    except NoDigitError:
        return None


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


# The weights of part_features in a part's score; a reading's score is the sum of its parts'.
# Fitted (conditional logit: the right reading of each piece against the others) on numbers
# of MNIST *training* digits. The classifier is about as sure of a squashed pair or half a
# digit as of a real digit, so the detector's margin and the part's size carry the decision.
PART_WEIGHTS = np.array([7.477, 1.493, 0.597, -6.791, 3.634, -10.535, -6.696])
# The weights of cut_features in a reading's score, fitted the same way on numbers of the
# training digits the default model held out, with more touching pairs.
CUT_WEIGHTS = np.array([-0.794, -2.968])


class PairView(NamedTuple):
    """The pair reader's log-probabilities for a piece: of the digits it holds (1, 2, 3+),
    and of its first and of its second digit."""

    held: np.ndarray  # (3,)
    first: np.ndarray  # (10,)
    second: np.ndarray  # (10,)


class Candidates(NamedTuple):
    """Every part of every way to read an image's pieces, with what the networks make of it.
    The arrays hold the parts large enough to read, in the order of `keys` (id(part))."""

    segmentation: Segmentation
    keys: list[int]
    inputs: np.ndarray  # float32 (N, 28, 28), as the model sees them
    probabilities: np.ndarray  # (N, 10)
    margins: np.ndarray  # (N,): the not-a-digit detector's (Predictor.score)
    scores: np.ndarray  # (N,): part_features @ PART_WEIGHTS
    pairs: dict[Span, PairView]  # the pair reader's view of each span that may hold several


def candidates(predictor: Predictor, image: ImageSource) -> Candidates:
    segmentation = segment(ink_map(decode_image(image)))
    parts = {id(part): part for readings in segmentation.spans().values()
             for reading in readings for part in reading.parts}
    inputs = {key: x for key, part in parts.items() if (x := _model_input(part)) is not None}
    if not inputs:
        raise NoDigitError("no digit found: no mark is large enough to be a digit")
    x = np.stack(list(inputs.values()))
    probabilities, margins = predictor.score(x)
    boxes = [parts[key].box for key in inputs]
    base = [part_features(p, m, box, segmentation.height) @ PART_WEIGHTS
            for p, m, box in zip(probabilities, margins, boxes)]
    return Candidates(segmentation, list(inputs), x, probabilities, margins, np.array(base),
                      read_pairs(segmentation))


@functools.cache
def _pair_reader() -> OnnxNet:
    return OnnxNet(PAIR_READER_ONNX)


def read_pairs(segmentation: Segmentation) -> dict[Span, PairView]:
    """The pair reader's view of each span of pieces that is offered cuts."""
    several = {span: readings[0].parts[0].ink
               for span, readings in segmentation.spans().items() if len(readings) > 1}
    if not several:
        return {}
    whole = np.stack([pair_input(ink) for ink in several.values()])
    heads = np.split(run_batched(_pair_reader(), whole), np.cumsum(PAIR_HEADS)[:-1], axis=1)
    held, first, second = (log_softmax(logits, axis=1) for logits in heads)
    return {span: PairView(*views) for span, views in zip(several, zip(held, first, second))}


def cut_features(reading: Reading) -> np.ndarray:
    """What speaks against a reading's cuts: the ink they cross in all and at most in one.
    Touching digits part where their strokes meet; a cut through a digit crosses more."""
    return np.array([sum(reading.cut_ink), max(reading.cut_ink, default=0.0)])


def best_readings(found: Candidates) -> list[tuple[Span, Reading]]:
    """The pieces read the way that scores highest in all, each on its own or two
    neighbours as one. A reading scores its parts' scores, its cuts' (cut_features @
    CUT_WEIGHTS) and the pair reader's log-probability of its count of digits (x
    PAIR_COUNT_WEIGHT). A piece whose every reading has a part too small to read (no
    score) is left out."""
    by_part = dict(zip(found.keys, found.scores.tolist()))

    def score(span: Span, reading: Reading) -> float:
        if any(id(part) not in by_part for part in reading.parts):
            return -np.inf
        total = sum(by_part[id(part)] for part in reading.parts)
        total += cut_features(reading) @ CUT_WEIGHTS
        if span in found.pairs:
            total += PAIR_COUNT_WEIGHT * found.pairs[span].held[min(len(reading.parts), 3) - 1]
        return total

    # best[i]: the highest total for pieces[:i], and the span and reading that end it
    best: list[tuple[float, Span | None, Reading | None]] = [(0.0, None, None)]
    spans = found.segmentation.spans()
    for stop in range(1, len(found.segmentation.pieces) + 1):
        options = [(best[start][0] + score((start, stop), reading), (start, stop), reading)
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


def read_number(predictor: Predictor, image: ImageSource) -> NumberResult:
    """The number written in an image: one DigitResult per digit, left to right, and boxes."""
    found = candidates(predictor, image)
    chosen = best_readings(found)
    parts = [part for _, reading in chosen for part in reading.parts]
    if not parts:
        raise NoDigitError("no digit found: no mark is large enough to be a digit")
    row = {key: i for i, key in enumerate(found.keys)}
    rows = [row[id(part)] for part in parts]
    digits = digit_results(found.inputs[rows], found.probabilities[rows], found.margins[rows],
                           log_prior=pair_priors(found, chosen))
    return NumberResult("".join(str(d.digit) for d in digits), tuple(digits),
                        tuple(part.box for part in parts))
