"""The 1 and the 7 drawn stroke by stroke, as hands in much of Europe write them: a 1 with a
long flag (sometimes a base), a 7 with a flat bar (sometimes crossed). The typefaces show this
pair too rarely for the model to learn the difference: in a 1 the flag falls steeply away from
the top of an upright stem, in a 7 the bar runs flat into a stem that leans down to the left.
handwriting.digit_set draws some of its training 1s and 7s here. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

HEIGHT = 96  # a digit's height in pixels, as handwriting.glyph draws them
FLAG_ANGLE = (25.0, 65.0)  # a 1's flag, degrees below the horizontal
BAR_ANGLE = (-10.0, 10.0)  # a 7's bar: flat, give or take


def _curve(start: np.ndarray, end: np.ndarray, bow: float, steps: int = 12) -> np.ndarray:
    """Points (x, y) on a quadratic curve from start to end, bulging `bow` of its length to one side."""
    middle = (start + end) / 2 + bow * np.array([end[1] - start[1], start[0] - end[0]])
    t = np.linspace(0, 1, steps)[:, None]
    return (1 - t) ** 2 * start + 2 * t * (1 - t) * middle + t**2 * end


def _ink(strokes: list[np.ndarray], width: float) -> np.ndarray:
    """The strokes (each a polyline of (x, y) points) drawn with a round pen, cropped to their box, 0..1."""
    points = np.concatenate(strokes)
    pad = int(width) + 2
    shift = pad - points.min(axis=0)
    size = np.ceil(points.max(axis=0) + shift + pad).astype(int)
    image = Image.new("L", (int(size[0]), int(size[1])), 0)
    draw = ImageDraw.Draw(image)
    for stroke in strokes:
        xy = [tuple(p) for p in stroke + shift]
        draw.line(xy, fill=255, width=max(1, round(width)), joint="curve")
        for x, y in (xy[0], xy[-1]):  # round ends
            draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
    ink = np.asarray(image, dtype=np.float32) / 255
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def one(rng: np.random.Generator) -> np.ndarray:
    """A 1: a flag falling steeply to the left from the top of a nearly upright stem; a base one time in four."""
    foot = np.array([0.0, HEIGHT])
    top = np.array([rng.uniform(-0.05, 0.2) * HEIGHT, 0.0])  # > 0: the stem leans right
    angle, length = np.radians(rng.uniform(*FLAG_ANGLE)), rng.uniform(0.2, 0.55) * HEIGHT
    flag = top + length * np.array([-np.cos(angle), np.sin(angle)])
    strokes = [np.concatenate([_curve(flag, top, rng.uniform(-0.15, 0.15)),
                               _curve(top, foot, rng.uniform(-0.04, 0.04))[1:]])]
    if rng.random() < 0.25:
        half = rng.uniform(0.15, 0.35) * HEIGHT
        strokes.append(_curve(foot - [half, 0], foot + [half, 0], rng.uniform(-0.05, 0.05)))
    return _ink(strokes, rng.uniform(0.05, 0.12) * HEIGHT)


def seven(rng: np.random.Generator) -> np.ndarray:
    """A 7: a flat bar into a stem leaning down to the left; crossed one time in three, a tick
    at the bar's start one time in five."""
    width = rng.uniform(0.4, 0.75) * HEIGHT
    corner = np.array([width, 0.0])
    start = corner - width * np.array([1.0, np.tan(np.radians(rng.uniform(*BAR_ANGLE)))])
    foot = np.array([width - rng.uniform(0.05, 0.45) * HEIGHT, HEIGHT])
    bar = _curve(start, corner, rng.uniform(-0.08, 0.08))
    stroke = np.concatenate([bar, _curve(corner, foot, rng.uniform(-0.1, 0.1))[1:]])
    if rng.random() < 0.2:
        stroke = np.concatenate([[start + [rng.uniform(-0.05, 0.05) * HEIGHT, rng.uniform(0.08, 0.2) * HEIGHT]],
                                 stroke])
    strokes = [stroke]
    if rng.random() < 0.33:
        middle = corner + (foot - corner) * rng.uniform(0.4, 0.6)
        half = rng.uniform(0.12, 0.25) * HEIGHT
        strokes.append(_curve(middle - [half, 0], middle + [half, 0], rng.uniform(-0.05, 0.05)))
    return _ink(strokes, rng.uniform(0.05, 0.12) * HEIGHT)


def draw(char: str, rng: np.random.Generator) -> np.ndarray:
    """The digit's ink, float32 0..1 cropped to its box, about HEIGHT pixels tall."""
    if char == "1":
        return one(rng)
    if char == "7":
        return seven(rng)
    raise ValueError(f"strokes draws 1 and 7, not {char!r}")
