"""MNIST digits rendered the way people deliver them: on a big canvas, at any size and place,
with another pen, slanted, and encoded as a canvas, a screen, a scan or a phone photo.

Tests and benchmarks use these to check `predict_image` against known labels.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage


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
    big = np.asarray(Image.fromarray(crop).resize((box_w, box_h), Image.BICUBIC)).clip(0, 1)
    if pen is not None:
        skeleton = big > 0.5
        distance = ndimage.distance_transform_edt(skeleton)
        ridge = skeleton & (distance >= ndimage.maximum_filter(distance, size=3) - 0.5)
        big = (ndimage.distance_transform_edt(~ridge) <= pen / 2).astype(np.float32)
        big = ndimage.gaussian_filter(big, 0.6)
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
