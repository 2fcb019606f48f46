"""Ink that is not a digit, as people hand it in: letters (in handwriting typefaces, and in the
machine's printed fonts, plain or warped), zigzags, scribbles, shapes (outlined and filled polygons
and ovals, stars, crosses, hearts, spirals, waves), crossed-out digits and smudges. Each generator
takes a numpy Generator and returns ink 0..1 on a CANVAS x CANVAS square; `generate` draws one of a
mix of kinds. The not-a-digit detector (training.train_detector) trains on these with the training
handwriting families; bench/not_a_digit.py draws fresh ones with another seed and held-out fonts.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from digitclf.training import handwriting
from digitclf.training.synth import redraw, render

CANVAS = 112
DIGIT_LIKE_LETTERS = "OoIl"  # written by hand these are a 0 and a 1: never drawn as non-digits
LETTERS = "".join(c for c in string.ascii_letters if c not in DIGIT_LIKE_LETTERS)
FONT_DIRS = ("/usr/share/fonts/truetype", "/usr/share/fonts/opentype")
KINDS = ("handwriting_letter", "letter", "handwritten_letter", "zigzag", "polygon", "oval", "shape", "scribble",
         "crossed_out", "smudge")  # what generate draws (train_detector.NEGATIVE_MIX: in what shares)


def font_files() -> list[Path]:
    """The TrueType fonts on this machine (Debian: fonts-dejavu-core, fonts-liberation)."""
    found = []
    for folder in FONT_DIRS:
        if Path(folder).is_dir():
            found += sorted(Path(folder).rglob("*.ttf"))
    return found


def split_fonts(fonts: list[Path]) -> tuple[list[Path], list[Path]]:
    """(fonts to train on, fonts held out for the benchmark): every third font is held out."""
    return [f for i, f in enumerate(fonts) if i % 3], [f for i, f in enumerate(fonts) if i % 3 == 0]


def _elastic(ink: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """A smooth random warp: printed shapes wobble like a hand-drawn stroke."""
    h, w = ink.shape
    dy = ndimage.gaussian_filter(rng.normal(0, 1, (h, w)), 8) * amount
    dx = ndimage.gaussian_filter(rng.normal(0, 1, (h, w)), 8) * amount
    yy, xx = np.mgrid[0:h, 0:w]
    return ndimage.map_coordinates(ink, [yy + dy, xx + dx], order=1)


def _place(ink: np.ndarray, rng: np.random.Generator, low: float = 0.5, high: float = 0.9) -> np.ndarray:
    """Ink cropped to its box, scaled to `low`..`high` of the canvas (its longer side) and put
    near the middle of a CANVAS square."""
    rows, cols = np.flatnonzero((ink > 0.02).any(axis=1)), np.flatnonzero((ink > 0.02).any(axis=0))
    crop = np.ascontiguousarray(ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], dtype=np.float32)
    scale = rng.uniform(low, high) * CANVAS / max(crop.shape)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    big = np.clip(np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.BILINEAR)), 0, 1)
    top, left = ((CANVAS - side) // 2 + int(rng.integers(-(CANVAS - side) // 4, (CANVAS - side) // 4 + 1))
                 for side in big.shape)
    out = np.zeros((CANVAS, CANVAS), np.float32)
    out[top : top + big.shape[0], left : left + big.shape[1]] = big
    return out


def _by_hand(ink: np.ndarray, rng: np.random.Generator, strength: float = 0.8) -> np.ndarray:
    """Ink drawn again as a hand would (handwriting.vary: pen, slant, wobble, skips) and placed."""
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return _place(handwriting.vary(ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], rng, strength), rng)


def letter(rng: np.random.Generator, fonts: Sequence[Path], handwritten: bool) -> np.ndarray:
    """A letter in one of the machine's printed fonts; `handwritten`: warped and re-drawn."""
    char = LETTERS[rng.integers(len(LETTERS))]
    font = ImageFont.truetype(str(fonts[int(rng.integers(len(fonts)))]), int(rng.uniform(50, 80)))
    img = Image.new("L", (CANVAS, CANVAS), 0)
    ImageDraw.Draw(img).text((CANVAS / 2, CANVAS / 2), char, fill=255, font=font, anchor="mm")
    img = img.rotate(rng.uniform(-15, 15), resample=Image.Resampling.BILINEAR)
    ink = np.asarray(img, dtype=np.float32) / 255.0
    if handwritten:
        ink = redraw(_elastic(ink, rng, rng.uniform(20, 60)), pen=rng.uniform(2.0, 9.0))
    return ink


def handwriting_letter(rng: np.random.Generator, fonts: Sequence[Path]) -> np.ndarray:
    """A letter (not one of DIGIT_LIKE_LETTERS) in a handwriting typeface, varied as hands vary."""
    char = LETTERS[rng.integers(len(LETTERS))]
    return _place(handwriting.vary(handwriting.glyph(fonts[int(rng.integers(len(fonts)))], char), rng), rng)


def _draw_lines(points: np.ndarray, width: float, closed: bool = False, filled: bool = False) -> np.ndarray:
    img = Image.new("L", (CANVAS, CANVAS), 0)
    pts = [tuple(p) for p in points] + ([tuple(points[0])] if closed else [])
    if filled:
        ImageDraw.Draw(img).polygon(pts, fill=255)
    else:
        ImageDraw.Draw(img).line(pts, fill=255, width=max(1, int(round(width))), joint="curve")
    return np.asarray(img, dtype=np.float32) / 255.0


def _turned(points: np.ndarray, degrees: float) -> np.ndarray:
    """Points (x, y) turned about the canvas centre."""
    a = np.radians(degrees)
    centred = points - CANVAS / 2
    return centred @ np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]]) + CANVAS / 2


def polygon(rng: np.random.Generator, filled: bool | None = None) -> np.ndarray:
    """A triangle to hexagon, its corners jittered, outlined or filled (None: either, half each).
    Outlined ones with four or more corners are never tall: a tall box is a square-drawn 0."""
    filled = bool(rng.uniform() < 0.5) if filled is None else filled
    n = int(rng.integers(3, 7))
    a = np.linspace(0, 2 * np.pi, n, endpoint=False) + rng.uniform(0, 2 * np.pi) + rng.normal(0, 0.15, n)
    r = rng.uniform(25, 45) * rng.uniform(0.8, 1.0, n)
    squash = rng.uniform(0.4, 1.0)
    points = np.c_[CANVAS / 2 + r * np.cos(a), CANVAS / 2 + r * squash * np.sin(a)]
    turn = rng.uniform(0, 360) if filled or n == 3 else rng.uniform(-20, 20)
    points = _turned(points, turn)
    return _by_hand(_draw_lines(points, rng.uniform(2, 8), closed=True, filled=filled), rng)


def oval(rng: np.random.Generator, filled: bool | None = None) -> np.ndarray:
    """An ellipse, outlined or filled (None: either, half each). Filled: any aspect and angle;
    outlined: only wide ones (height 0.25..0.75 of the width, near level), as a tall ring is a 0."""
    filled = bool(rng.uniform() < 0.5) if filled is None else filled
    t = np.linspace(0, 2 * np.pi, 120, endpoint=False)
    r = rng.uniform(25, 45)
    squash = rng.uniform(0.4, 1.0) if filled else rng.uniform(0.25, 0.75)
    points = np.c_[CANVAS / 2 + r * np.cos(t), CANVAS / 2 + r * squash * np.sin(t)]
    points = _turned(points, rng.uniform(0, 360) if filled else rng.uniform(-25, 25))
    return _by_hand(_draw_lines(points, rng.uniform(2, 8), closed=True, filled=filled), rng)


def zigzag(rng: np.random.Generator) -> np.ndarray:
    """One stroke going back and forth 3 to 8 times (a W, an M, a saw), at any angle; near
    upright it turns at least 5 times, since a pointed 3 is an upright zigzag with 3 turns."""
    turn = rng.uniform(0, 180)
    upright = abs(turn - 90) < 50  # the axis within 50 degrees of vertical
    turns = int(rng.integers(5 if upright else 3, 9))
    length = rng.uniform(60, 95)
    x = np.linspace(-length / 2, length / 2, turns + 2) + rng.normal(0, length / (turns + 1) * 0.12, turns + 2)
    height = length * rng.uniform(0.25, 1.2) * rng.uniform(0.85, 1.15, turns + 2)
    y = np.where(np.arange(turns + 2) % 2, 0.5, -0.5) * height * rng.choice([-1, 1])
    points = _turned(np.c_[x, y] + CANVAS / 2, turn)
    return _by_hand(_draw_lines(points, rng.uniform(2, 8)), rng, strength=0.6)


def scribble(rng: np.random.Generator) -> np.ndarray:
    """A random wandering stroke with many turns: at least twice as long as its longer side (a
    walk nearer straight is a 1 or a 7, drawn again)."""
    while True:
        walk = rng.normal(0, 1, (rng.integers(6, 18) * 6, 2)).cumsum(axis=0)
        path = ndimage.gaussian_filter1d(walk, 2, axis=0)
        if np.linalg.norm(np.diff(path, axis=0), axis=1).sum() >= 2 * np.ptp(path, axis=0).max():
            break
    path -= path.min(axis=0)
    path = path / max(path.max(), 1e-6) * rng.uniform(50, 100) + rng.uniform(5, 20, 2)
    return _draw_lines(path, rng.uniform(2, 8))


def shape(rng: np.random.Generator) -> np.ndarray:
    """Triangles, squares, stars, crosses, arrows, hearts, ellipses, spirals, waves."""
    kind = rng.integers(9)
    c = CANVAS / 2
    r = rng.uniform(25, 45)
    width = rng.uniform(2, 8)
    t = np.linspace(0, 2 * np.pi, 200)
    if kind <= 2:  # regular polygons: triangle, square, pentagon
        n = 3 + kind
        a = np.linspace(0, 2 * np.pi, n, endpoint=False) + rng.uniform(0, np.pi)
        return _draw_lines(np.c_[c + r * np.cos(a), c + r * np.sin(a)], width, closed=True)
    if kind == 3:  # star
        a = np.linspace(0, 2 * np.pi, 10, endpoint=False)
        radius = np.where(np.arange(10) % 2 == 0, r, r * 0.45)
        return _draw_lines(np.c_[c + radius * np.cos(a), c + radius * np.sin(a)], width, closed=True)
    if kind == 4:  # cross or plus
        angle = rng.choice([0, np.pi / 4])
        img = np.zeros((CANVAS, CANVAS), np.float32)
        for a in (angle, angle + np.pi / 2):
            d = r * np.array([np.cos(a), np.sin(a)])
            img = np.maximum(img, _draw_lines(np.array([[c, c] - d, [c, c] + d]), width))
        return img
    if kind == 5:  # heart
        x = 16 * np.sin(t) ** 3
        y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
        return _draw_lines(np.c_[c + x * r / 17, c + y * r / 17], width)
    if kind == 6:  # wide ellipse (a tall one would be a zero)
        return _draw_lines(np.c_[c + r * np.cos(t), c + r * rng.uniform(0.3, 0.6) * np.sin(t)], width)
    if kind == 7:  # spiral
        s = np.linspace(0, rng.uniform(3, 5) * np.pi, 300)
        radius = r * s / s.max()
        return _draw_lines(np.c_[c + radius * np.cos(s), c + radius * np.sin(s)], width)
    x = np.linspace(c - r, c + r, 100)  # wave
    return _draw_lines(np.c_[x, c + r * 0.3 * np.sin((x - c) / r * rng.uniform(2, 5) * np.pi)], width)


def crossed_out(rng: np.random.Generator, digit_ink: np.ndarray) -> np.ndarray:
    """A digit struck through by a zigzag or a heavy X."""
    xs = np.linspace(15, CANVAS - 15, rng.integers(4, 9))
    ys = CANVAS / 2 + np.where(np.arange(len(xs)) % 2, 1, -1) * rng.uniform(15, 40, len(xs))
    zig = np.c_[xs, ys]
    strike = _draw_lines(zig, rng.uniform(4, 10))
    if rng.uniform() < 0.4:
        strike = np.maximum(_draw_lines(np.array([[15, 15], [CANVAS - 15, CANVAS - 15]]), 8),
                            _draw_lines(np.array([[CANVAS - 15, 15], [15, CANVAS - 15]]), 8))
    return np.maximum(digit_ink, strike)


def handwriting_digit(rng: np.random.Generator, fonts: Sequence[Path]) -> np.ndarray:
    """A digit in a handwriting typeface, varied, filling most of the canvas (to be crossed out)."""
    digit = handwriting.DIGITS[rng.integers(10)]
    ink = handwriting.vary(handwriting.glyph(fonts[int(rng.integers(len(fonts)))], digit), rng)
    return _place(ink, rng, 0.6, 0.85)


def smudge(rng: np.random.Generator) -> np.ndarray:
    """An irregular blot of smeared ink."""
    noise = ndimage.gaussian_filter(rng.normal(0, 1, (CANVAS, CANVAS)), rng.uniform(6, 14))
    yy, xx = np.mgrid[0:CANVAS, 0:CANVAS] - CANVAS / 2
    falloff = np.exp(-(xx**2 + yy**2) / (2 * rng.uniform(15, 30) ** 2))
    blot = noise / noise.std() * 0.5 + falloff * 2.0 - 1.0
    return np.clip(blot, 0, 1).astype(np.float32)


def generate(rng: np.random.Generator, fonts: Sequence[Path], mnist_digits: np.ndarray,
             hand_fonts: Sequence[Path] | None = None,
             mix: Mapping[str, float] | None = None) -> tuple[str, np.ndarray]:
    """One non-digit: (its kind, ink 0..1 on a CANVAS x CANVAS square), the kind drawn from `mix`
    (kind -> share; None: every one of KINDS equally often).
    `fonts`: printed fonts for "letter" and "handwritten_letter"; `hand_fonts`: handwriting
    typefaces for "handwriting_letter" and half the crossed-out digits (None: the validation
    families, never trained on); `mnist_digits`: uint8 (N, 28, 28), the other half."""
    mix = mix or dict.fromkeys(KINDS, 1.0)
    kinds = list(mix)
    kind = kinds[rng.choice(len(kinds), p=np.array([mix[k] for k in kinds]) / sum(mix.values()))]
    hand = handwriting.fonts("validation") if hand_fonts is None else hand_fonts
    if kind in ("letter", "handwritten_letter"):
        return kind, letter(rng, fonts, handwritten=kind == "handwritten_letter")
    if kind == "handwriting_letter":
        return kind, handwriting_letter(rng, hand)
    if kind == "crossed_out":
        if rng.uniform() < 0.5:
            return kind, crossed_out(rng, handwriting_digit(rng, hand))
        digit = mnist_digits[rng.integers(len(mnist_digits))]
        return kind, crossed_out(rng, render(digit, canvas=(CANVAS, CANVAS), height=0.75))
    simple = {"zigzag": zigzag, "polygon": polygon, "oval": oval, "scribble": scribble, "shape": shape,
              "smudge": smudge}
    if kind not in simple:
        raise ValueError(f"unknown kind {kind!r}")
    return kind, simple[kind](rng)
