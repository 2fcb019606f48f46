"""Any decoded image -> the 28x28 input MNIST itself would have made of it.

    ink_map:        which pixels are ink, 0..1 (alpha on a canvas; dark or bright strokes
                    against the background otherwise, with uneven paper flattened out)
    to_mnist:       crop to the ink, bring the stroke to MNIST thickness, fit into 20x20
                    keeping the aspect ratio, centre by centre of mass in 28x28
    preprocess:     both, for one image of a digit; it finds the ink on a coarse grid
                    first and tells specks from strokes only in the region around it
    preprocess_placed: the same, with the Placement of the 28x28 input in the image

Images without a digit (blank, all ink, a speck) raise NoDigitError.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from digitclf.errors import NoDigitError
from digitclf.imaging.decode import ImageSource, decode_pixels, to_unit

BLANK = "no digit found: the image is blank (no contrast between ink and background)"
MIN_CONTRAST = 0.08  # ink and background must differ by at least this (0..1 scale)
MAX_INK_FRACTION = 0.6  # more ink than this is not a digit on a background
MIN_INK_PIXELS = 6
MIN_EXTENT_PX = 4  # the ink's bounding box must be at least this long on its long side
SPECK_THRESHOLD = 0.2  # ink above this forms the pieces that specks are told apart by
WORK_SIZE = 80  # the crop is normalised at this resolution (4x the 20-pixel box)
WORK_PAD = WORK_SIZE // 8  # background around the crop while it is normalised
MNIST_STROKE = 2.8  # median MNIST stroke width, in pixels of the 28x28 image
PEN_SKIP = 0.075  # a gap narrower than this share of the long side, in ink of several pieces,
# is where the pen skipped: it is closed (as JOIN_GAP in numbers joins such pieces)
FIT_BOX = 20
COARSE_SIZE = 64  # preprocess locates the ink on a grid about this many blocks across
# 4- and 8-neighbourhoods, made once (scipy makes them anew per call otherwise)
CROSS = ndimage.generate_binary_structure(2, 1)
SQUARE = ndimage.generate_binary_structure(2, 2)


def _luminance(image: np.ndarray) -> np.ndarray:
    image = to_unit(image)
    if image.ndim == 2:
        return image
    return image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114


def _median(values: np.ndarray) -> float:
    """np.median of a 1-D array without its overhead, which shows on small arrays."""
    half = len(values) // 2
    if len(values) % 2:
        return float(np.partition(values, half)[half])
    low, high = np.partition(values, (half - 1, half))[half - 1 : half + 1]
    return float((low + high) / 2)


def _border(array: np.ndarray) -> np.ndarray:
    return np.concatenate([array[0], array[-1], array[:, 0], array[:, -1]])


def _flatten_background(signal: np.ndarray) -> np.ndarray:
    """Subtract a smooth background (uneven paper, shadows) estimated by a morphological
    opening on a reduced copy: structures thinner than a fifth of the image are ink."""
    height, width = signal.shape
    factor = max(1, max(height, width) // 96)
    size = (max(1, width // factor), max(1, height // factor))
    small = np.asarray(Image.fromarray(signal.astype(np.float32)).resize(size, Image.Resampling.BOX))
    window = max(3, max(small.shape) // 5)
    background = ndimage.grey_opening(small, size=(window, window))
    background = ndimage.uniform_filter(background, size=window)
    background = np.asarray(Image.fromarray(background).resize((width, height), Image.Resampling.BILINEAR))
    return signal - background


def _block_mean(array: np.ndarray) -> np.ndarray:
    """2x2 block means: single-pixel noise halves, while any stroke keeps its level."""
    h, w = array.shape[0] // 2 * 2, array.shape[1] // 2 * 2
    if h == 0 or w == 0:
        return array
    a = array[:h, :w]
    return (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]) * 0.25


def _ink_signal(image: np.ndarray) -> np.ndarray:
    """float32 (H, W): how much ink each pixel holds, about 0 on the background.
    Raises NoDigitError for blank images and those too small to hold a digit."""
    height, width = image.shape[:2]
    if max(height, width) < MIN_EXTENT_PX:
        raise NoDigitError(f"no digit found: the image is only {width}x{height} pixels, too small to hold one")
    if image.ndim == 3 and image.shape[2] == 4:
        alpha = to_unit(image[..., 3])
        if alpha.max() - alpha.min() >= MIN_CONTRAST:
            background = _median(_border(alpha))
            return alpha - background if background else alpha
        image = image[..., :3]
    grey = _luminance(image)
    smooth = _block_mean(grey)
    low, high = float(smooth.min()), float(smooth.max())
    if high - low < MIN_CONTRAST:
        raise NoDigitError(BLANK)
    border = _border(grey)
    dark_ink = _median(border) > (low + high) / 2
    signal = (1.0 - grey) if dark_ink else grey
    border_signal = _border(signal)
    if np.percentile(border_signal, 90) - np.percentile(border_signal, 10) > 0.05:
        return _flatten_background(signal)  # uneven background: estimate it locally
    return signal - _median(border_signal)


def _scale_ink(signal: np.ndarray) -> np.ndarray:
    """float32 in 0..1, scaled so a typical stroke pixel is 1."""
    peak = float(_block_mean(signal).max())
    if peak < MIN_CONTRAST:
        raise NoDigitError(BLANK)
    top = _median(signal[signal >= 0.5 * peak])
    ink = np.multiply(signal, np.float32(1.0 / top), dtype=np.float32)
    return np.clip(ink, 0.0, 1.0, out=ink)


def _keep(sizes: np.ndarray) -> np.ndarray:
    """Which pieces of ink are kept, by their sizes: pieces far smaller than the largest are
    specks of noise (anti-aliased edges belong to their stroke)."""
    return sizes >= max(3, 0.02 * sizes.max())


def _drop_specks(ink: np.ndarray) -> np.ndarray:
    """The ink without specks; faint noise outside every stroke goes too."""
    mask = ink > SPECK_THRESHOLD
    labels, count = ndimage.label(mask, CROSS)
    if count > 1:  # one piece alone is kept (to_mnist refuses it if it is a speck)
        keep = _keep(np.bincount(labels.ravel())[1:])
        if not keep.all():
            mask = np.concatenate([[False], keep])[labels]
    return np.where(mask, ink, np.float32(0))


def ink_map(image: np.ndarray) -> np.ndarray:
    """float32 (H, W) in 0..1: 1 where there is ink. `image` as decode_image or decode_pixels
    make it. Raises NoDigitError for blank images."""
    return _drop_specks(_scale_ink(_ink_signal(image)))


def _ink_region(ink: np.ndarray) -> tuple[slice, slice]:
    """A box around every piece of ink that _drop_specks would keep, found on a coarse copy:
    the count of ink pixels in each block of a grid. Touching blocks with ink form coarse
    pieces; one with fewer than 3 ink pixels can hold no piece that is kept."""
    cell = max(1, max(ink.shape) // COARSE_SIZE)
    mask = Image.fromarray((ink > SPECK_THRESHOLD).astype(np.float32))
    counts = np.asarray(mask.reduce(cell)) * cell**2
    labels, _ = ndimage.label(counts > 0, CROSS)
    sizes = np.bincount(labels.ravel(), counts.ravel())
    sizes[0] = 0
    rows, cols = np.nonzero((sizes >= 3)[labels])
    if len(rows) == 0:
        return slice(None), slice(None)
    return (slice(max(0, rows.min() - 1) * cell, (rows.max() + 2) * cell),
            slice(max(0, cols.min() - 1) * cell, (cols.max() + 2) * cell))


def _check_is_digit(ink: np.ndarray, image_pixels: float | None = None) -> tuple[slice, slice]:
    """The ink's bounding box; NoDigitError when there is too little, too much (a share of
    the image, of image_pixels in the map's pixels: the map may be a part of it) or it is
    too small."""
    mask = ink > 0.5
    count = int(np.count_nonzero(mask))
    if count < MIN_INK_PIXELS:
        raise NoDigitError(f"no digit found: only {count} pixel(s) of ink")
    image_pixels = image_pixels or mask.size
    if count > MAX_INK_FRACTION * image_pixels:
        raise NoDigitError(
            f"no digit found: {100 * count / image_pixels:.0f}% of the image is ink"
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
    resample = Image.Resampling.BOX if width <= array.shape[1] else Image.Resampling.BILINEAR
    image = Image.fromarray(np.ascontiguousarray(array, dtype=np.float32))
    return np.asarray(image.resize((width, height), resample))


def _scaled(crop: np.ndarray, scale: float) -> np.ndarray:
    """The crop resized by `scale` (at least a pixel each way), its darkest ink at 1."""
    height, width = (max(1, round(side * scale)) for side in crop.shape)
    fitted = _resize(crop, width, height)
    return np.clip(fitted / np.float32(max(float(fitted.max()), 1e-6)), 0.0, 1.0)


def fit_ink(ink: np.ndarray, shape: tuple[int, int], margin: int) -> np.ndarray:
    """The ink cropped to its box and scaled, keeping its aspect ratio, to fit `shape` less
    `margin` pixels on every side; centred, float32 0..255 (darkest ink 255)."""
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = min((shape[0] - 2 * margin) / crop.shape[0], (shape[1] - 2 * margin) / crop.shape[1])
    fitted = _scaled(crop, scale)
    top, left = (shape[0] - fitted.shape[0]) // 2, (shape[1] - fitted.shape[1]) // 2
    out = np.zeros(shape, dtype=np.float32)
    out[top : top + fitted.shape[0], left : left + fitted.shape[1]] = fitted * np.float32(255)
    return out


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a binary mask: 4x the mean distance to the background
    (for a band of width w, the distance averages w/4)."""
    if not mask.any():
        return 0.0
    return 4.0 * float(ndimage.distance_transform_edt(mask)[mask].mean())


def _stroke_width_estimate(mask: np.ndarray) -> float:
    """stroke_width from chamfer distances, at half the cost: between the chessboard and
    the taxicab distance, where the Euclidean one lies (exact along the axes and the
    diagonals; on drawn digits within about 1% of stroke_width)."""
    pixels = np.count_nonzero(mask)
    if pixels == 0:
        return 0.0
    # the background's distances are 0: sums over the image are sums over the ink
    chessboard = float(ndimage.distance_transform_cdt(mask, SQUARE).sum()) / pixels
    taxicab = float(ndimage.distance_transform_cdt(mask, CROSS).sum()) / pixels
    return 4.0 * (chessboard + (np.sqrt(2) - 1) * (taxicab - chessboard))


def _dilate_disk(image: np.ndarray, radius: float) -> np.ndarray:
    """Grey dilation by the disk of integer offsets within radius (+0.5 in squares), as
    one 1-D maximum filter per row width: cheaper than a 2-D footprint. Needs a zero
    border wider than the radius."""
    reach = int(radius) + 1
    out = np.zeros_like(image)
    spans: dict[int, np.ndarray] = {}
    for dy in range(-reach, reach + 1):
        room = radius**2 + 0.5 - dy**2
        if room < 0:
            continue
        half = int(np.sqrt(room))
        if half not in spans:
            spans[half] = ndimage.maximum_filter1d(image, 2 * half + 1, axis=1)
        shifted = spans[half][max(0, -dy) : image.shape[0] - max(0, dy)]
        target = out[max(0, dy) : image.shape[0] - max(0, -dy)]
        np.maximum(target, shifted, out=target)
    return out


def _normalise_stroke(crop: np.ndarray) -> np.ndarray:
    """Rescale the crop so its long side is WORK_SIZE and thicken thin strokes to the
    width MNIST strokes have after the 20-pixel fit."""
    resized = _scaled(crop, WORK_SIZE / max(crop.shape))
    pad = WORK_PAD
    work = np.zeros((resized.shape[0] + 2 * pad, resized.shape[1] + 2 * pad), np.float32)
    work[pad:-pad, pad:-pad] = resized
    target = MNIST_STROKE * WORK_SIZE / FIT_BOX
    # Measured inside a one-pixel ring of background, where every pixel's nearest background
    # lies: the same distances as on the whole padded image, for fewer pixels.
    width_now = _stroke_width_estimate(work[pad - 1 : 1 - pad, pad - 1 : 1 - pad] > 0.5)
    if width_now < target:
        work = _dilate_disk(work, (target - width_now) / 2)
    return _close_pen_skips(work)


def _close_pen_skips(work: np.ndarray) -> np.ndarray:
    """Bridge the gaps where a pen skipped (a 0 open at the top reads as a 6): where two
    pieces of ink come within PEN_SKIP of each other, a grey closing by a disk that wide
    fills the gap between them. Within one piece nothing changes, so narrow loops stay open
    and a digit in one piece is left exactly as it was."""
    pieces, count = ndimage.label(work > 0.5, SQUARE)
    if count < 2:
        return work
    radius = PEN_SKIP * WORK_SIZE / 2
    region = _where_pieces_meet(pieces, radius)
    if region is None:
        return work
    # Maxima over the disk by _dilate_disk; minima and the closing's erosion as maxima of
    # complements. Near the region's edge these miss what lies outside it, but every pixel
    # between two pieces lies two radii inside, where they equal a closing of the whole.
    ids, ink = pieces[region], work[region]
    highest = _dilate_disk(ids.astype(np.float32), radius)
    reversed_ids = np.where(ids > 0, count + 1 - ids, 0).astype(np.float32)
    lowest = count + 1 - _dilate_disk(reversed_ids, radius)
    between = (lowest <= count) & (lowest != highest)  # within reach of two pieces
    closed = 1 - _dilate_disk(1 - _dilate_disk(ink, radius), radius)
    out = work.copy()
    out[region] = np.where(between, closed, ink)
    return out


def _where_pieces_meet(pieces: np.ndarray, radius: float) -> tuple[slice, slice] | None:
    """The box around every place within `radius` of two labelled pieces (where their
    boxes, grown by it, overlap), grown by twice the radius more; None if there is none."""
    boxes = np.array([(rows.start, cols.start, rows.stop, cols.stop)
                      for rows, cols in ndimage.find_objects(pieces)], dtype=float)
    grown = boxes + radius * np.array([-1, -1, 1, 1])
    top, left = (np.maximum(grown[:, None, i], grown[None, :, i]) for i in (0, 1))
    bottom, right = (np.minimum(grown[:, None, i], grown[None, :, i]) for i in (2, 3))
    meet = (top < bottom) & (left < right) & ~np.eye(len(boxes), dtype=bool)
    if not meet.any():
        return None
    room = 2 * radius
    return (slice(max(0, int(top[meet].min() - room)), int(np.ceil(bottom[meet].max() + room))),
            slice(max(0, int(left[meet].min() - room)), int(np.ceil(right[meet].max() + room))))


def _centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    total = float(image.sum(dtype=np.float64))
    rows = float(image.sum(axis=1, dtype=np.float64) @ np.arange(image.shape[0]))
    cols = float(image.sum(axis=0, dtype=np.float64) @ np.arange(image.shape[1]))
    return rows / total, cols / total


@dataclass(frozen=True)
class Placement:
    """Where a 28x28 input lies in the image it was made from: the input's pixel edges
    (row, col) fall on (top + row * row_scale, left + col * col_scale) in the image's pixels
    (pixel edges too, so pixel r of the input spans [top + r * row_scale, top + (r + 1) *
    row_scale)). The steps of to_mnist only crop, pad and scale each axis, so this one map
    is all of them."""

    top: float
    left: float
    row_scale: float
    col_scale: float
    image_shape: tuple[int, int]  # (height, width) of the image


IDENTITY = Placement(0.0, 0.0, 1.0, 1.0, (28, 28))  # an input that is its own image


def _to_mnist(ink: np.ndarray, image_pixels: float | None = None) -> tuple[np.ndarray, Placement]:
    """to_mnist of an ink map that may be a part of a larger image (see _check_is_digit),
    and where the result lies in the map."""
    rows, cols = _check_is_digit(ink, image_pixels)
    first = ink[rows, cols]
    work = _normalise_stroke(first)
    to_first = (first.shape[0] / (work.shape[0] - 2 * WORK_PAD), first.shape[1] / (work.shape[1] - 2 * WORK_PAD))
    rows2, cols2 = _check_is_digit(work)
    crop = work[rows2, cols2]
    height, width = crop.shape
    fitted = _scaled(crop, FIT_BOX / max(height, width))
    com_y, com_x = _centre_of_mass(fitted)
    top = min(max(round(14 - com_y), 0), 28 - fitted.shape[0])
    left = min(max(round(14 - com_x), 0), 28 - fitted.shape[1])
    out = np.zeros((28, 28), dtype=np.float32)
    out[top : top + fitted.shape[0], left : left + fitted.shape[1]] = fitted * np.float32(255)
    to_work = (height / fitted.shape[0], width / fitted.shape[1])
    placement = Placement(
        top=float(rows.start + (rows2.start - top * to_work[0] - WORK_PAD) * to_first[0]),
        left=float(cols.start + (cols2.start - left * to_work[1] - WORK_PAD) * to_first[1]),
        row_scale=to_work[0] * to_first[0], col_scale=to_work[1] * to_first[1],
        image_shape=(ink.shape[0], ink.shape[1]))
    return out, placement


def to_mnist(ink: np.ndarray, image_pixels: float | None = None) -> np.ndarray:
    """Ink map -> float32 (28, 28) in 0..255, MNIST style. `image_pixels`: the size of the
    image the map is cut from, where it is a part of one (no more than MAX_INK_FRACTION of
    that may be ink); the map's own size by default."""
    return _to_mnist(ink, image_pixels)[0]


def preprocess_placed(source: ImageSource) -> tuple[np.ndarray, Placement]:
    """preprocess, and the Placement of its result in the decoded image (decode_pixels'
    pixels: upright, and reduced if the image was over decode.WORK_PIXELS)."""
    ink = _scale_ink(_ink_signal(decode_pixels(source)))
    region = _ink_region(ink)
    out, placement = _to_mnist(_drop_specks(ink[region]), image_pixels=ink.size)
    top = float(placement.top + (region[0].start or 0))
    left = float(placement.left + (region[1].start or 0))
    return out, dataclasses.replace(placement, top=top, left=left, image_shape=(ink.shape[0], ink.shape[1]))


def preprocess(source: ImageSource) -> np.ndarray:
    """Any image of one digit -> float32 (28, 28), ink 0..255 on 0 background: exactly
    to_mnist(ink_map(image)), with specks looked for only in the region around the ink."""
    return preprocess_placed(source)[0]
