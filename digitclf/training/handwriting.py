"""Handwriting that is not MNIST: digits, letters and numbers rendered from the handwriting-style
typefaces in data/fonts/handwriting, varied the way hands vary (pen, pressure, slant, wobble).

The fonts are split by family, once and for all (data/fonts/README.md says the same):
"train" families for training, "validation" for thresholds and model selection, "benchmark"
only for bench/realworld.py. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import functools
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage
from skimage.morphology import skeletonize

from digitclf.errors import NoDigitError
from digitclf.imaging.preprocess import preprocess, stroke_width
from digitclf.settings import REPO_ROOT
from digitclf.store.atomic import replace_atomically
from digitclf.training import strokes, synth

FONT_DIR = REPO_ROOT / "data" / "fonts" / "handwriting"
CACHE_DIR = REPO_ROOT / "data" / "cache"  # prepared sets (digit_set, number_parts.part_set), as .npz
VERSION = 2  # bump whenever rendering changes: cached digit sets are keyed by it
STROKE_SHARE = 0.4  # of the training split's 1s and 7s, drawn by training.strokes instead of a typeface
DIGITS = "0123456789"
_MEASURE_SIZE = 200  # font size at which a font's digit height is measured
LEAN = (-20.0, 25.0)  # vary keeps a glyph's lean (degrees right of upright) within these
CANVAS = (280, 280)  # (H, W) a character is placed on, as the Draw page's pad
MIN_ASPECT = 0.5  # digits narrower than this (width / height, median of a font) are widened to it


def _npm(*names: str) -> tuple[str, ...]:
    return tuple(f"{name}-latin-400-normal.woff" for name in names)


SPLITS: dict[str, tuple[str, ...]] = {  # by family; data/fonts/README.md lists the same
    "train": (
        *_npm("alex-brush", "allura", "amatic-sc", "balsamiq-sans", "birthstone", "cookie", "corinthia", "ephesis",
              "great-vibes", "herr-von-muellerhoff", "italianno", "licorice", "liu-jian-mao-cao", "montecarlo",
              "mr-de-haviland", "ms-madi", "parisienne", "pinyon-script", "sacramento", "smooch", "twinkle-star",
              "whisper", "yellowtail", "yusei-magic", "zhi-mang-xing"),
        "Bajaderka-Regular.otf", "kiloji.ttf", "KleeOne-Regular.ttf", "kouzan-mouhitsu.ttf", "TomsonTalks.ttf",
        "BMKIRANGHAERANG-TTF.ttf", "Karumbi-Regular.ttf",
    ),
    # Seto Font, Courgette, Damion, Havana, BM Yeonsung, Satisfy, Finger Paint
    "validation": ("setofont.ttf", *_npm("courgette", "damion"), "Havana-Regular.otf", "BMYEONSUNG_ttf.ttf",
                   *_npm("satisfy", "finger-paint")),
    # Purisa, YOzFont, Freehand, Dancing Script, Kaushan Script, Vibur, Long Cang, Oooh Baby: bench/realworld.py only
    "benchmark": ("Purisa.ttf", "YOzRS_.ttf",
                  *_npm("freehand", "dancing-script", "kaushan-script", "vibur", "long-cang", "oooh-baby")),
}


def fonts(split: str) -> list[Path]:
    """The font files of one split ("train", "validation" or "benchmark"), sorted."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")
    return sorted(FONT_DIR / name for name in SPLITS[split])


_font = functools.lru_cache(maxsize=512)(ImageFont.truetype)  # (str(path), size) -> the loaded font


def _draw(path: Path, char: str, size: int) -> tuple[np.ndarray, int, int]:
    """The character's ink cropped to its box, float32 0..1, and the box's left and top
    relative to the pen's origin on the baseline (empty ink for a blank character)."""
    font = _font(str(path), size)
    left, top, right, bottom = (int(v) for v in font.getbbox(char, anchor="ls"))
    pad = size // 2  # some glyphs draw outside the box their font declares
    image = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad))
    ImageDraw.Draw(image).text((pad - left, pad - top), char, font=font, fill=255, anchor="ls")
    ink, (row, col) = _crop(np.asarray(image, dtype=np.float32) / np.float32(255), 0.0)
    return ink, col - pad + left, row - pad + top


@functools.cache
def _measure(path: Path) -> tuple[float, float]:
    """The font's median digit height per unit of font size, and how much it is widened: 1, or
    more when its digits (but 1) are narrower than MIN_ASPECT (Amatic SC's: 0.23, and at MNIST
    size its 7 reads as a 1)."""
    inks = [_draw(path, d, _MEASURE_SIZE)[0] for d in DIGITS]
    aspect = float(np.median([ink.shape[1] / ink.shape[0] for ink in inks[:1] + inks[2:]]))
    return float(np.median([ink.shape[0] for ink in inks])) / _MEASURE_SIZE, max(1.0, MIN_ASPECT / aspect)


@functools.lru_cache(maxsize=4096)
def _glyph(path: Path, char: str, height: int) -> tuple[np.ndarray, int, int, float]:
    """glyph(), the ink's left and top relative to the pen's origin, and the advance width."""
    per_size, widen = _measure(path)
    size = max(4, round(height / per_size))
    ink, left, top = _draw(path, char, size)
    advance = float(_font(str(path), size).getlength(char))
    if widen > 1 and ink.size:
        ink = np.clip(_resize(ink, ink.shape[0], round(ink.shape[1] * widen)), 0, 1)
        left, advance = round(left * widen), advance * widen
    ink.flags.writeable = False
    return ink, left, top, advance


def glyph(font: Path, char: str, height: int = 96) -> np.ndarray:
    """The character's ink, float32 0..1, cropped to its ink box; a digit is about `height`
    pixels tall (letters at the same font size)."""
    return _glyph(Path(font), char, height)[0].copy()


def _field(shape: tuple[int, int], rng: np.random.Generator, cells: int = 4) -> np.ndarray:
    """A smooth random field over `shape`, about unit variance: cubic-interpolated noise."""
    coarse = rng.standard_normal((cells, cells)).astype(np.float32)
    return np.asarray(Image.fromarray(coarse).resize(shape[::-1], Image.Resampling.BICUBIC))


def _pen(ink: np.ndarray, rng: np.random.Generator, strength: float, size: int) -> np.ndarray:
    """Redrawn with another pen: each stroke grown or shrunk by a width that drifts along it
    (thinning keeps the centre line, so no stroke breaks)."""
    mask = ink > 0.5
    inside = ndimage.distance_transform_edt(mask)
    width = 4.0 * float(inside[mask].mean()) if mask.any() else 1.0  # as stroke_width measures it
    # a signed distance to the outline (> 0 inside), smoothed so the new outline is not jagged
    signed = ndimage.gaussian_filter(inside - ndimage.distance_transform_edt(~mask), 1.0)
    base = rng.uniform(-0.35 * width, min(0.05 * size, 1.2 * width + 1)) * strength / 2
    drift = _field(ink.shape, rng) * rng.uniform(0, 0.15 * width + 0.3) * strength
    out = np.clip(signed + base + drift + 0.5, 0, 1).astype(np.float32)
    if base < 0:
        out = np.maximum(out, ndimage.gaussian_filter(skeletonize(mask).astype(np.float32), 0.7) * 2)
    return np.minimum(out, 1)


def _slant_deg(ink: np.ndarray) -> float:
    """How far the ink leans right of upright, in degrees (its second moments, as deskewing uses)."""
    rows, cols = np.mgrid[0 : ink.shape[0], 0 : ink.shape[1]]
    total = max(float(ink.sum()), 1e-6)
    dy, dx = rows - float((rows * ink).sum()) / total, cols - float((cols * ink).sum()) / total
    return float(np.degrees(np.arctan(-float((dx * dy * ink).sum()) / max(float((dy * dy * ink).sum()), 1e-6))))


def _warp(ink: np.ndarray, rng: np.random.Generator, strength: float, size: int) -> np.ndarray:
    """Slanted, rotated, stretched and wobbled: one affine map plus a smooth displacement."""
    turn = rng.uniform(-10, 10) * strength  # degrees; > 0 turns clockwise (the top leans right)
    shear = rng.uniform(-10, 15) * strength
    # the lean of the result (the glyph's own slant, the shear and the turn) stays within LEAN
    lean = _slant_deg(ink)
    shear = float(np.clip(shear, LEAN[0] - lean - turn, LEAN[1] - lean - turn)) if strength else 0.0
    slant, angle = np.tan(np.radians(shear)), np.radians(turn)
    sx, sy = np.exp(rng.uniform(-0.18, 0.18) * strength), np.exp(rng.uniform(-0.1, 0.1) * strength)
    cos, sin = np.cos(angle), np.sin(angle)
    # (row, col) out = forward @ (row, col) in: stretch, then shear (top leans right), then rotate
    forward = np.array([[cos, sin], [-sin, cos]]) @ np.array([[1, 0], [-slant, 1]]) @ np.diag([sy, sx])
    h, w = ink.shape
    corners = forward @ np.array([[0, 0, h, h], [0, w, 0, w]], dtype=float)
    grow = 0.04 * size * strength + 2
    low, high = corners.min(axis=1) - grow, corners.max(axis=1) + grow
    out_h, out_w = (int(np.ceil(n)) for n in high - low)
    rows, cols = np.mgrid[0:out_h, 0:out_w].astype(np.float32)
    source = np.tensordot(np.linalg.inv(forward), np.stack([rows + low[0], cols + low[1]]), axes=1)
    for axis in (0, 1):  # the wobble: a smooth random displacement field
        source[axis] += _field((out_h, out_w), rng) * 0.025 * size * strength
    return ndimage.map_coordinates(ink, source, order=1, cval=0.0).astype(np.float32)


def _cut(ink: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """A small gap cut across a stroke, as where the pen skipped."""
    skeleton = np.argwhere(skeletonize(ink > 0.5))
    if len(skeleton) < 10:
        return ink
    point = skeleton[rng.integers(len(skeleton))]
    near = skeleton[np.abs(skeleton - point).max(axis=1) <= max(3, size // 20)] - point
    direction = np.linalg.eigh(near.T @ near)[1][:, -1]  # along the stroke (row, col)
    rows, cols = np.ogrid[0 : ink.shape[0], 0 : ink.shape[1]]
    along = (rows - point[0]) * direction[0] + (cols - point[1]) * direction[1]
    across = (rows - point[0]) * direction[1] - (cols - point[1]) * direction[0]
    gap = rng.uniform(0.02, 0.045) * size
    reach = stroke_width(ink > 0.5) + 2
    return np.where((np.abs(along) < gap / 2) & (np.abs(across) < reach), 0, ink).astype(np.float32)


def _crop(ink: np.ndarray, level: float = 0.02) -> tuple[np.ndarray, tuple[int, int]]:
    """The ink cropped to where it exceeds `level` (empty if nowhere), and the crop's top left."""
    rows, cols = np.flatnonzero((ink > level).any(axis=1)), np.flatnonzero((ink > level).any(axis=0))
    if len(rows) == 0:
        return np.zeros((0, 0), np.float32), (0, 0)
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], (int(rows[0]), int(cols[0]))


def _resize(ink: np.ndarray, height: int, width: int) -> np.ndarray:
    image = Image.fromarray(np.ascontiguousarray(ink, dtype=np.float32))
    return np.asarray(image.resize((max(1, width), max(1, height)), Image.Resampling.BILINEAR))


def vary(ink: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Handwriting-like variation of a glyph's ink: pen width and pressure, slant, rotation,
    stretch, elastic wobble, blur, sometimes low resolution and pen skips. `strength` scales
    every effect (0: unchanged). Returns ink 0..1 cropped to its box."""
    if strength <= 0 or ink.size == 0:
        return ink.astype(np.float32, copy=True)
    size = max(ink.shape)
    out = _warp(_pen(np.pad(ink.astype(np.float32), int(0.1 * size) + 3), rng, strength, size), rng, strength, size)
    if rng.random() < 0.15 * strength:
        for _ in range(rng.integers(1, 3)):
            out = _cut(out, rng, size)
    out *= 1 - rng.uniform(0, 0.4) * strength * np.abs(_field(out.shape, rng, 3)).clip(0, 1.5) / 1.5  # pressure
    sigma = rng.uniform(0, 0.012) * size * strength
    if sigma > 0.3:
        out = ndimage.gaussian_filter(out, sigma)
    low = rng.uniform(18, 32) / size  # sometimes seen at low resolution: down to 18-32 px and up again
    if rng.random() < 0.2 * strength and low < 0.67:
        out = _resize(_resize(out, round(out.shape[0] * low), round(out.shape[1] * low)), *out.shape)
    out = _crop(np.clip(out, 0, 1).astype(np.float32))[0]
    return np.minimum(out / max(float(out.max(initial=0)), 1e-6), 1)  # the darkest ink stays dark


def render_char(font: Path, char: str, rng: np.random.Generator, canvas: tuple[int, int] = CANVAS,
                strength: float = 1.0) -> np.ndarray:
    """One character drawn on a canvas (H, W) as ink 0..1, as synth.render places an MNIST digit:
    its box a random 0.2..0.9 of the canvas height, anywhere inside it."""
    ink = vary(glyph(font, char), rng, strength)
    if ink.size == 0:
        raise ValueError(f"{char!r} draws no ink")
    return place(ink, rng, canvas)


def place(ink: np.ndarray, rng: np.random.Generator, canvas: tuple[int, int] = CANVAS) -> np.ndarray:
    """Ink 0..1 cropped to where it exceeds 0.02 and put on a canvas (H, W) as a person puts a
    character: its box a random 0.2..0.9 of the canvas height, anywhere inside it."""
    ink = _crop(np.asarray(ink, dtype=np.float32))[0]
    canvas_h, canvas_w = canvas
    box_h = rng.uniform(0.2, 0.9) * canvas_h
    scale = min(box_h / ink.shape[0], 0.95 * canvas_w / ink.shape[1])
    big = np.clip(_resize(ink, round(ink.shape[0] * scale), round(ink.shape[1] * scale)), 0, 1)
    top = int(rng.integers(0, canvas_h - big.shape[0] + 1))
    left = int(rng.integers(0, canvas_w - big.shape[1] + 1))
    out = np.zeros(canvas, dtype=np.float32)
    out[top : top + big.shape[0], left : left + big.shape[1]] = big
    return out


def _touching_left(prev: tuple[int, int, np.ndarray], top: int, tile: np.ndarray, gap: float) -> int:
    """The left edge that leaves `gap` pixels (negative: an overlap) between the previous tile's
    ink and this one's in their closest shared row; `gap` beside its box when no row is shared."""
    prev_top, prev_left, prev_tile = prev
    start, stop = max(top, prev_top), min(top + tile.shape[0], prev_top + prev_tile.shape[0])
    left = prev_left + prev_tile.shape[1] + gap
    if start < stop:
        a, b = prev_tile[start - prev_top : stop - prev_top] > 0.15, tile[start - top : stop - top] > 0.15
        both = a.any(axis=1) & b.any(axis=1)
        if both.any():
            last = a.shape[1] - 1 - a[:, ::-1].argmax(axis=1)
            reach = prev_left + last - b.argmax(axis=1)
            left = int(reach[both].max()) + 1 + gap
    # the boxes overlap by at most 35% of the narrower one: the digits do not nest into each other
    return max(int(round(left)), prev_left + prev_tile.shape[1] - int(0.35 * min(prev_tile.shape[1], tile.shape[1])))


def render_number(font: Path, text: str, rng: np.random.Generator, spacing: str = "natural", height: int = 64,
                  strength: float = 1.0) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """`text` written in one font, each character varied on its own, digits about `height` px
    tall. spacing "natural": the font's advance widths with a little jitter; "tight": neighbours
    pushed together until they touch or overlap slightly (or nearly touch). Returns ink 0..1 on a
    canvas with a margin, and each non-blank character's box (x, y, w, h), left to right."""
    if spacing not in ("natural", "tight"):
        raise ValueError(f"unknown spacing {spacing!r}: expected 'natural' or 'tight'")
    path = Path(font)
    slope = np.tan(np.radians(rng.uniform(-3, 3) * strength))
    placed: list[tuple[int, int, np.ndarray]] = []  # (top, left, tile), the baseline at row 0
    pen = 0.0
    for char in text:
        clean, left, top, advance = _glyph(path, char, height)
        if clean.size == 0:
            pen += advance if spacing == "natural" else height / 2
            continue
        tile = vary(clean, rng, strength)
        centre_x = pen + left + clean.shape[1] / 2 + rng.uniform(-0.04, 0.04) * height * strength
        centre_y = top + clean.shape[0] / 2 + slope * pen + rng.uniform(-0.04, 0.04) * height * strength
        tile_top, tile_left = int(round(centre_y - tile.shape[0] / 2)), int(round(centre_x - tile.shape[1] / 2))
        if placed:
            if spacing == "tight":
                tile_left = _touching_left(placed[-1], tile_top, tile, rng.uniform(-0.04, 0.02) * height)
            tile_left = max(tile_left, placed[-1][1] + 1)
        placed.append((tile_top, tile_left, tile))
        pen = (pen if spacing == "natural" else tile_left - left) + advance
    if not placed:
        raise ValueError(f"nothing to draw in {text!r}")
    margin = height // 3
    first_row, first_col = min(top for top, _, _ in placed) - margin, min(left for _, left, _ in placed) - margin
    boxes = [(left - first_col, top - first_row, tile.shape[1], tile.shape[0]) for top, left, tile in placed]
    canvas = np.zeros((max(y + h for _, y, _, h in boxes) + margin, max(x + w for x, _, w, _ in boxes) + margin),
                      dtype=np.float32)
    for (x, y, w, h), (_, _, tile) in zip(boxes, placed):
        np.maximum(canvas[y : y + h, x : x + w], tile, out=canvas[y : y + h, x : x + w])
    return canvas, boxes


def _prepared(split: str, seed: int, start: int, stop: int) -> np.ndarray:
    """Digits start..stop-1 of a digit set as the model sees them: rendered (in the training split
    STROKE_SHARE of the 1s and 7s drawn by training.strokes), encoded by a random synth
    encoding and preprocessed by the product (a render it refuses is drawn again). Each digit has
    its own seed: it does not depend on which process prepares it."""
    paths, encodings = fonts(split), list(synth.ENCODINGS.values())
    out = np.zeros((stop - start, 28, 28), dtype=np.uint8)
    for i in range(start, stop):
        rng = np.random.default_rng([VERSION, list(SPLITS).index(split), seed, i])
        char = DIGITS[i % 10]
        while True:
            if split == "train" and char in "17" and rng.random() < STROKE_SHARE:
                ink = place(vary(strokes.draw(char, rng), rng), rng)
            else:
                ink = render_char(paths[(i // 10) % len(paths)], char, rng)
            try:
                out[i - start] = np.round(preprocess(encodings[rng.integers(len(encodings))](ink, rng))).clip(0, 255)
                break
            except NoDigitError:
                continue
    return out


T = TypeVar("T")
Arrays = tuple[np.ndarray, np.ndarray]  # prepared digits uint8 (N, 28, 28) and their labels uint8 (N,)


def cached_set(path: Path | None, make: Callable[[], Arrays]) -> Arrays:
    """A prepared set kept as .npz at `path`: read when it is there, else made and written
    atomically (None: made, neither read nor written)."""
    if path is not None and path.exists():
        with np.load(path) as data:
            return data["x"], data["y"]
    x, y = make()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_atomically(path, lambda tmp: np.savez_compressed(tmp, x=x, y=y))
    return x, y


def spawned_map(func: Callable[..., T], tasks: list[tuple], workers: int) -> list[T]:
    """func(*task) for each task, in order: here, or in `workers` spawned processes when more than
    one (spawned, not forked: the caller may have TensorFlow's threads running)."""
    if workers <= 1 or len(tasks) <= 1:
        return [func(*task) for task in tasks]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(func, *zip(*tasks)))


def digit_set(split: str, count: int, seed: int, cache_dir: Path | None = CACHE_DIR,
              workers: int = 1) -> Arrays:
    """`count` prepared digits from the split's fonts: uint8 (N, 28, 28) in MNIST convention and
    uint8 labels (N,); digits balanced, fonts cycled evenly, shuffled; the same seed gives the same
    arrays. Kept as .npz under `cache_dir` (None: neither read nor written). `workers` > 1 prepares
    them in that many spawned processes, the same arrays: worth it only with idle cores (a script
    run as a file then needs the `if __name__ == "__main__":` guard)."""
    fonts(split)  # ValueError for an unknown split
    if count < 0 or seed < 0:
        raise ValueError("count and seed must be >= 0")

    def make() -> Arrays:
        starts = list(range(0, count, 500))
        chunks = spawned_map(_prepared, [(split, seed, start, min(start + 500, count)) for start in starts], workers)
        x = np.concatenate(chunks) if chunks else np.zeros((0, 28, 28), np.uint8)
        order = np.random.default_rng([VERSION, list(SPLITS).index(split), seed]).permutation(count)
        return x[order], (np.arange(count) % 10).astype(np.uint8)[order]

    return cached_set(cache_dir / f"handwriting-{split}-{count}-{seed}-v{VERSION}.npz" if cache_dir else None, make)
