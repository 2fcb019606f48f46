"""Ink that is not a digit: letters from fonts (printed and hand-drawn style), scribbles,
geometric shapes, crossed-out digits and smudges. The not-a-digit detector trains on these;
its benchmark draws fresh ones with another seed and held-out fonts.
"""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from digitclf.training.synth import redraw, render

CANVAS = 112
LETTERS = string.ascii_letters
FONT_DIRS = ("/usr/share/fonts/truetype", "/usr/share/fonts/opentype")


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


def letter(rng: np.random.Generator, fonts: list[Path], handwritten: bool) -> np.ndarray:
    char = LETTERS[rng.integers(len(LETTERS))]
    font = ImageFont.truetype(str(fonts[rng.integers(len(fonts))]), int(rng.uniform(50, 80)))
    img = Image.new("L", (CANVAS, CANVAS), 0)
    ImageDraw.Draw(img).text((CANVAS / 2, CANVAS / 2), char, fill=255, font=font, anchor="mm")
    img = img.rotate(rng.uniform(-15, 15), resample=Image.Resampling.BILINEAR)
    ink = np.asarray(img, dtype=np.float32) / 255.0
    if handwritten:
        ink = redraw(_elastic(ink, rng, rng.uniform(20, 60)), pen=rng.uniform(2.0, 9.0))
    return ink


def _draw_lines(points: np.ndarray, width: float, closed: bool = False) -> np.ndarray:
    img = Image.new("L", (CANVAS, CANVAS), 0)
    pts = [tuple(p) for p in points] + ([tuple(points[0])] if closed else [])
    ImageDraw.Draw(img).line(pts, fill=255, width=max(1, int(round(width))), joint="curve")
    return np.asarray(img, dtype=np.float32) / 255.0


def scribble(rng: np.random.Generator) -> np.ndarray:
    """A random wandering stroke with many turns."""
    steps = rng.integers(6, 18)
    velocity = rng.normal(0, 1, (steps * 6, 2)).cumsum(axis=0)
    path = ndimage.gaussian_filter1d(velocity, 2, axis=0)
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


def smudge(rng: np.random.Generator) -> np.ndarray:
    """An irregular blot of smeared ink."""
    noise = ndimage.gaussian_filter(rng.normal(0, 1, (CANVAS, CANVAS)), rng.uniform(6, 14))
    yy, xx = np.mgrid[0:CANVAS, 0:CANVAS] - CANVAS / 2
    falloff = np.exp(-(xx**2 + yy**2) / (2 * rng.uniform(15, 30) ** 2))
    blot = noise / noise.std() * 0.5 + falloff * 2.0 - 1.0
    return np.clip(blot, 0, 1).astype(np.float32)


def generate(rng: np.random.Generator, fonts: list[Path], mnist_digits: np.ndarray) -> tuple[str, np.ndarray]:
    """One non-digit: (its kind, ink 0..1 on a CANVAS x CANVAS square)."""
    kind = rng.choice(["letter", "handwritten_letter", "scribble", "shape", "crossed_out", "smudge"],
                      p=[0.2, 0.25, 0.25, 0.1, 0.1, 0.1])
    if kind == "letter":
        return kind, letter(rng, fonts, handwritten=False)
    if kind == "handwritten_letter":
        return kind, letter(rng, fonts, handwritten=True)
    if kind == "scribble":
        return kind, scribble(rng)
    if kind == "shape":
        return kind, shape(rng)
    if kind == "crossed_out":
        digit = mnist_digits[rng.integers(len(mnist_digits))]
        return kind, crossed_out(rng, render(digit, canvas=(CANVAS, CANVAS), height=0.75))
    return kind, smudge(rng)
