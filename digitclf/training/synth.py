"""MNIST digits rendered the way people deliver them: on a big canvas, at any size and place,
with another pen, slanted, and encoded as a canvas, a screen, a scan or a phone photo.

Tests and benchmarks use these to check `predict_image` against known labels.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image
from scipy import ndimage
from skimage.morphology import skeletonize

from digitclf.imaging.preprocess import stroke_width


def redraw(ink: np.ndarray, pen: float) -> np.ndarray:
    """The same strokes drawn again with a round pen `pen` pixels wide (anti-aliased).
    Thicker: grow the shape; thinner: shrink it, keeping its centre line so no stroke breaks
    (shrinking rather than re-tracing keeps filled loops filled, as the writer left them)."""
    mask = ink > 0.5
    width = stroke_width(mask)
    if pen >= width:
        stroke = ndimage.distance_transform_edt(~mask) <= (pen - width) / 2
    else:
        centre_line = ndimage.distance_transform_edt(~skeletonize(mask)) <= pen / 2
        stroke = (ndimage.distance_transform_edt(mask) > (width - pen) / 2) | centre_line
    return ndimage.gaussian_filter(stroke.astype(np.float32), 0.6)


def render(
    digit: np.ndarray,
    canvas: tuple[int, int] = (280, 280),
    height: float = 0.7,
    centre: tuple[float, float] = (0.5, 0.5),
    pen: float | None = None,
    slant_deg: float = 0.0,
) -> np.ndarray:
    """An MNIST digit (28x28 uint8) drawn on a canvas (H, W) as ink 0..1.

    height: the digit's box height as a fraction of the canvas height.
    centre: where the box centre goes, as fractions of (width, height).
    pen: stroke width in canvas pixels (None keeps MNIST's own, scaled).
    slant_deg: italic slant, positive leans right.
    """
    rows = np.flatnonzero(digit.max(axis=1) > 0)
    cols = np.flatnonzero(digit.max(axis=0) > 0)
    crop = digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.float32) / 255.0
    canvas_h, canvas_w = canvas
    box_h = max(4, int(round(height * canvas_h)))
    factor = box_h / crop.shape[0]
    box_w = max(2, int(round(crop.shape[1] * factor)))
    big = np.asarray(Image.fromarray(crop).resize((box_w, box_h), Image.Resampling.BICUBIC)).clip(0, 1)
    if pen is not None:
        big = redraw(big, pen)
    if slant_deg:
        shear = np.tan(np.radians(slant_deg))
        pad = int(abs(shear) * box_h) + 2
        big = np.pad(big, ((0, 0), (pad, pad)))
        # Input column = output column + shear * (row - middle): the top leans right.
        big = ndimage.affine_transform(
            big, np.array([[1.0, 0.0], [shear, 1.0]]), offset=(0.0, -shear * box_h / 2), order=1
        )
    out = np.zeros(canvas, dtype=np.float32)
    top = int(round(centre[1] * canvas_h - big.shape[0] / 2))
    left = int(round(centre[0] * canvas_w - big.shape[1] / 2))
    src_top, src_left = max(0, -top), max(0, -left)
    top, left = max(0, top), max(0, left)
    h = min(big.shape[0] - src_top, canvas_h - top)
    w = min(big.shape[1] - src_left, canvas_w - left)
    out[top : top + h, left : left + w] = big[src_top : src_top + h, src_left : src_left + w]
    return out


def canvas_rgba(ink: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """A drawing canvas: transparent background, the alpha channel carries the ink."""
    out = np.zeros((*ink.shape, 4), dtype=np.uint8)
    out[..., :3] = (20, 20, 20)
    out[..., 3] = np.round(ink * 255)
    return out


def canvas_png(ink: np.ndarray) -> bytes:
    """The drawing as a browser canvas exports it: a PNG with the ink in the alpha channel."""
    buffer = io.BytesIO()
    Image.fromarray(canvas_rgba(ink)).save(buffer, format="PNG")
    return buffer.getvalue()


def white_on_black(ink: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """White pen on a black screen, greyscale."""
    return np.round(ink * 255).astype(np.uint8)


def ink_on_paper(ink: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """A greyscale scan: dark ink on white paper."""
    return np.round(255 - ink * 225).astype(np.uint8)


def ballpoint_photo(ink: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """A phone photo: blue ballpoint on off-white paper lit unevenly, with sensor noise."""
    rng = rng or np.random.default_rng(0)
    h, w = ink.shape
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    angle = rng.uniform(0, 2 * np.pi)
    light = 0.82 + 0.13 * (np.cos(angle) * xx + np.sin(angle) * yy) / 1.4
    paper = np.stack([light * 0.98, light * 0.95, light * 0.86], axis=-1)
    pen = np.array([0.12, 0.18, 0.55])
    strength = ink[..., None] * rng.uniform(0.75, 0.95)
    photo = paper * (1 - strength) + pen * strength
    photo += rng.normal(0, 0.025, photo.shape)
    return np.round(np.clip(photo, 0, 1) * 255).astype(np.uint8)


ENCODINGS = {
    "canvas_rgba": canvas_rgba,
    "white_on_black": white_on_black,
    "ink_on_paper": ink_on_paper,
    "ballpoint_photo": ballpoint_photo,
}


def _tile(digit: np.ndarray, height: int) -> np.ndarray:
    """An MNIST digit drawn exactly `height` pixels tall, cropped to its box."""
    rows = np.flatnonzero(digit.max(axis=1) > 0)
    cols = np.flatnonzero(digit.max(axis=0) > 0)
    width = max(2, int(round((cols[-1] - cols[0] + 1) * height / (rows[-1] - rows[0] + 1))))
    return render(digit, canvas=(height, width), height=1.0)


def _break(tile: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Erase a thin band across the middle of the digit, as a pen lifted mid-stroke does."""
    h, w = tile.shape
    yy, xx = np.mgrid[0:h, 0:w]
    angle = np.radians(rng.uniform(-35, 35))
    centre_y, centre_x = rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w
    distance = np.abs((yy - centre_y) * np.cos(angle) - (xx - centre_x) * np.sin(angle))
    return np.where(distance < max(1.0, 0.025 * h), 0.0, tile).astype(np.float32)


def _ink_edges(tile: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of a tile: whether it holds ink, its first and its last ink column."""
    mask = tile > 0.5
    has_ink = mask.any(axis=1)
    first = mask.argmax(axis=1)
    last = tile.shape[1] - 1 - mask[:, ::-1].argmax(axis=1)
    return np.asarray(has_ink), first, last


def _touching_left(previous: tuple[int, int, np.ndarray], top: int, tile: np.ndarray,
                   overlap: int) -> int | None:
    """The left edge that makes `tile` (placed at row `top`) overlap the previous digit's ink
    by `overlap` pixels in their closest row; None when no row holds ink of both."""
    prev_top, prev_left, prev_tile = previous
    start, stop = max(top, prev_top), min(top + tile.shape[0], prev_top + prev_tile.shape[0])
    if start >= stop:
        return None
    prev_ink, _, prev_last = (e[start - prev_top : stop - prev_top] for e in _ink_edges(prev_tile))
    ink, first, _ = (e[start - top : stop - top] for e in _ink_edges(tile))
    both = prev_ink & ink
    if not both.any():
        return None
    reach = int((prev_left + prev_last - first)[both].max())
    return max(reach - overlap + 1, prev_left + prev_tile.shape[1] // 2)


def render_number(
    digits28: np.ndarray,
    labels: Sequence[int] | np.ndarray,
    rng: np.random.Generator,
    digit_height: int | None = None,
    gap: tuple[float, float] = (0.08, 0.5),
    size_jitter: float = 0.15,
    vertical_jitter: float = 0.08,
    max_slope_deg: float = 6.0,
    touch_prob: float = 0.05,
    break_prob: float = 0.05,
) -> tuple[np.ndarray, str]:
    """MNIST digits (N, 28, 28) written side by side as one number: ink (H, W) 0..1 and its text.

    digit_height: the typical digit height in pixels (None draws one in 48..160).
    gap: the blank between neighbours, as fractions of the digit height.
    size_jitter, vertical_jitter: each digit's height and position vary by this fraction.
    max_slope_deg: the baseline slopes by up to this angle.
    touch_prob: chance that a digit touches the one before it (their strokes overlap a little).
    break_prob: chance that a digit is drawn in two pieces (a thin band erased across it).
    """
    size = digit_height or int(rng.integers(48, 161))
    slope = np.tan(np.radians(rng.uniform(-max_slope_deg, max_slope_deg)))
    placed: list[tuple[int, int, np.ndarray]] = []  # (top, left, tile), baseline at row 0
    x = 0
    for digit in digits28:
        tile = _tile(digit, int(round(size * rng.uniform(1 - size_jitter, 1 + size_jitter))))
        if rng.random() < break_prob:
            tile = _break(tile, rng)
        baseline = slope * x + rng.uniform(-1, 1) * vertical_jitter * size
        top, left = int(round(baseline)) - tile.shape[0], x
        if placed and rng.random() < touch_prob:
            overlap = int(rng.integers(1, max(1, size // 25) + 1))
            left = _touching_left(placed[-1], top, tile, overlap) or left
        placed.append((top, left, tile))
        x = left + tile.shape[1] + int(round(rng.uniform(*gap) * size))
    margin = size // 3
    first_row = min(top for top, _, _ in placed) - margin
    height = max(top + tile.shape[0] for top, _, tile in placed) - first_row + margin
    width = max(left + tile.shape[1] for _, left, tile in placed) + 2 * margin
    canvas = np.zeros((height, width), dtype=np.float32)
    for top, left, tile in placed:
        region = canvas[top - first_row : top - first_row + tile.shape[0],
                        left + margin : left + margin + tile.shape[1]]
        np.maximum(region, tile, out=region)
    return canvas, "".join(str(int(label)) for label in labels)
