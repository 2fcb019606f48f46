"""Any decoded image -> the 28x28 input MNIST itself would have made of it.

    ink_map:        which pixels are ink, 0..1 (alpha on a canvas; dark or bright strokes
                    against the background otherwise, with uneven paper flattened out)
    to_mnist:       crop to the ink, bring the stroke to MNIST thickness, fit into 20x20
                    keeping the aspect ratio, centre by centre of mass in 28x28

Images without a digit (blank, all ink, a speck) raise NoDigitError.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from .errors import NoDigitError
from .imageio import ImageSource, decode_image

BLANK = "no digit found: the image is blank (no contrast between ink and background)"
MIN_CONTRAST = 0.08  # ink and background must differ by at least this (0..1 scale)
MAX_INK_FRACTION = 0.6  # more ink than this is not a digit on a background
MIN_INK_PIXELS = 6
MIN_EXTENT_PX = 4  # the ink's bounding box must be at least this long on its long side
WORK_SIZE = 80  # the crop is normalised at this resolution (4x the 20-pixel box)
MNIST_STROKE = 2.8  # median MNIST stroke width, in pixels of the 28x28 image
FIT_BOX = 20


def _luminance(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    return image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114


def _border(array: np.ndarray) -> np.ndarray:
    return np.concatenate([array[0], array[-1], array[:, 0], array[:, -1]])


def _flatten_background(signal: np.ndarray) -> np.ndarray:
    """Subtract a smooth background (uneven paper, shadows) estimated by a morphological
    opening on a reduced copy: structures thinner than a fifth of the image are ink."""
    height, width = signal.shape
    factor = max(1, max(height, width) // 96)
    size = (max(1, width // factor), max(1, height // factor))
    small = np.asarray(Image.fromarray(signal.astype(np.float32)).resize(size, Image.BOX))
    window = max(3, max(small.shape) // 5)
    background = ndimage.grey_opening(small, size=(window, window))
    background = ndimage.uniform_filter(background, size=window)
    background = np.asarray(Image.fromarray(background).resize((width, height), Image.BILINEAR))
    return signal - background


def _block_mean(array: np.ndarray) -> np.ndarray:
    """2x2 block means: single-pixel noise halves, while any stroke keeps its level."""
    h, w = array.shape[0] // 2 * 2, array.shape[1] // 2 * 2
    if h == 0 or w == 0:
        return array
    a = array[:h, :w]
    return (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]) * 0.25


def ink_map(image: np.ndarray) -> np.ndarray:
    """float32 (H, W) in 0..1: 1 where there is ink. Raises NoDigitError for blank images."""
    if image.ndim == 3 and image.shape[2] == 4:
        alpha = image[..., 3]
        if alpha.max() - alpha.min() >= MIN_CONTRAST:
            return _normalise(alpha - float(np.median(_border(alpha))))
        image = image[..., :3]
    grey = _luminance(image)
    smooth = _block_mean(grey)
    low, high = float(smooth.min()), float(smooth.max())
    if high - low < MIN_CONTRAST:
        raise NoDigitError(BLANK)
    border = _border(grey)
    dark_ink = float(np.median(border)) > (low + high) / 2
    signal = (1.0 - grey) if dark_ink else grey
    border_signal = _border(signal)
    if np.percentile(border_signal, 90) - np.percentile(border_signal, 10) > 0.05:
        signal = _flatten_background(signal)  # uneven background: estimate it locally
    else:
        signal = signal - float(np.median(border_signal))
    return _normalise(signal)


def _normalise(signal: np.ndarray) -> np.ndarray:
    """Scale the ink signal so a typical stroke pixel is 1, and drop specks of noise:
    components far smaller than the largest piece of ink (anti-aliased edges belong to
    their stroke)."""
    peak = float(_block_mean(signal).max())
    if peak < MIN_CONTRAST:
        raise NoDigitError(BLANK)
    top = float(np.median(signal[signal >= 0.5 * peak]))
    ink = np.multiply(signal, np.float32(1.0 / top), dtype=np.float32)
    np.clip(ink, 0.0, 1.0, out=ink)
    labels, _ = ndimage.label(ink > 0.2)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0  # the background: faint noise outside every stroke goes too
    keep = sizes >= max(3, 0.02 * sizes.max())
    ink[~keep[labels]] = 0.0
    return ink


def _check_is_digit(ink: np.ndarray) -> tuple[slice, slice]:
    mask = ink > 0.5
    count = int(np.count_nonzero(mask))
    if count < MIN_INK_PIXELS:
        raise NoDigitError(f"no digit found: only {count} pixel(s) of ink")
    if count > MAX_INK_FRACTION * mask.size:
        raise NoDigitError(
            f"no digit found: {100 * count / mask.size:.0f}% of the image is ink"
        )
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    if max(bottom - top, right - left) < MIN_EXTENT_PX:
        raise NoDigitError(
            f"no digit found: the ink covers only {bottom - top}x{right - left} pixels"
        )
    return slice(top, bottom), slice(left, right)


def _resize(array: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area-averaging resize of a float image (anti-aliased, like MNIST's)."""
    resample = Image.BOX if width <= array.shape[1] else Image.BILINEAR
    return np.asarray(Image.fromarray(array.astype(np.float32)).resize((width, height), resample))


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a binary mask: 4x the mean distance to the background
    (for a band of width w, the distance averages w/4)."""
    if not mask.any():
        return 0.0
    return 4.0 * float(ndimage.distance_transform_edt(mask)[mask].mean())


def _normalise_stroke(crop: np.ndarray) -> np.ndarray:
    """Rescale the crop so its long side is WORK_SIZE and thicken thin strokes to the
    width MNIST strokes have after the 20-pixel fit."""
    height, width = crop.shape
    scale = WORK_SIZE / max(height, width)
    work = _resize(crop, max(1, round(width * scale)), max(1, round(height * scale)))
    work = np.pad(work / max(float(work.max()), 1e-6), WORK_SIZE // 8)
    target = MNIST_STROKE * WORK_SIZE / FIT_BOX
    width_now = stroke_width(work > 0.5)
    if width_now < target:
        radius = (target - width_now) / 2
        yy, xx = np.mgrid[-int(radius) - 1 : int(radius) + 2, -int(radius) - 1 : int(radius) + 2]
        disk = (yy**2 + xx**2) <= radius**2 + 0.5
        work = ndimage.grey_dilation(work, footprint=disk)
    return work


def to_mnist(ink: np.ndarray) -> np.ndarray:
    """Ink map -> float32 (28, 28) in 0..255, MNIST style."""
    rows, cols = _check_is_digit(ink)
    work = _normalise_stroke(ink[rows, cols])
    rows, cols = _check_is_digit(work)
    crop = work[rows, cols]
    height, width = crop.shape
    scale = FIT_BOX / max(height, width)
    fitted = _resize(crop, max(1, round(width * scale)), max(1, round(height * scale)))
    fitted = np.clip(fitted / max(float(fitted.max()), 1e-6), 0.0, 1.0)
    com_y, com_x = ndimage.center_of_mass(fitted)
    top = int(np.clip(round(14 - com_y), 0, 28 - fitted.shape[0]))
    left = int(np.clip(round(14 - com_x), 0, 28 - fitted.shape[1]))
    out = np.zeros((28, 28), dtype=np.float32)
    out[top : top + fitted.shape[0], left : left + fitted.shape[1]] = fitted * 255.0
    return out


def preprocess(source: ImageSource) -> np.ndarray:
    """Any image of one digit -> float32 (28, 28), ink 0..255 on 0 background."""
    return to_mnist(ink_map(decode_image(source)))
