"""Decoding: any image a person delivers -> a float array in 0..1 (grey, RGB or RGBA).

Accepts a file path, bytes, a PIL image or a numpy array. Applies the EXIF orientation,
reads 16-bit, CMYK and palette images (and the first frame of an animation), and refuses
decompression bombs before decoding. Whatever comes in, memory stays bounded: files and data
over MAX_BYTES and images over MAX_PIXELS are refused before their pixels are decoded, and
images over WORK_PIXELS are reduced by an integer factor (block averages) as they are decoded,
since a digit needs no more. Anything that cannot be read is an ImageError saying why.
Plain 8-bit PNGs (what drawing canvases and screenshots make) are decoded by libspng
(pyspng), in about half Pillow's time; every other file by Pillow.
`decode_pixels` does the same but leaves 8-bit images as uint8: a caller that needs only
one channel in float (the alpha of a drawing) converts only that one, with `to_unit`.
"""

from __future__ import annotations

import io
import math
import os
import stat
import warnings

import numpy as np
import pyspng
from PIL import Image, UnidentifiedImageError

from digitclf.errors import ImageError

ORIENTATION_TAG = 0x0112
# what each EXIF orientation asks for to show the picture upright (as ImageOps.exif_transpose)
UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
           4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
           6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}
MAX_PIXELS = 40_000_000  # larger images are refused before their pixels are decoded
WORK_PIXELS = 4_000_000  # larger images are reduced as they are decoded (a 2000x2000 digit is plenty)
MAX_BYTES = 256 * 2**20  # larger files and data are refused before they are read
# Pillow's readers for these formats only: fewer decoders of hostile files (and no Ghostscript for EPS)
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM")
REDUCIBLE_MODES = ("L", "LA", "RGB", "RGBA", "CMYK", "I", "F")  # what Image.reduce averages correctly
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_HEADER_BYTES = 33  # the signature and the IHDR chunk (size, colour type): what _plain_png reads
PLAIN_PNG_COLOUR_TYPES = (0, 2, 6)  # grey, RGB, RGBA: decoded to exactly what Pillow gives
PNG_CHUNKS_FOR_PILLOW = (b"tRNS", b"eXIf", b"Raw profile type exif")  # transparency key, EXIF

ImageSource = str | os.PathLike[str] | bytes | bytearray | Image.Image | np.ndarray


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info


def _reduction(width: int, height: int) -> int:
    """The integer factor that brings an image to at most WORK_PIXELS (1: kept as it is)."""
    return max(1, math.ceil(math.sqrt(width * height / WORK_PIXELS)))


def _reduced(img: Image.Image) -> Image.Image:
    """The image, reduced by _reduction in block averages if it is over WORK_PIXELS."""
    factor = _reduction(*img.size)
    if factor == 1:
        return img
    if img.mode not in REDUCIBLE_MODES or "transparency" in img.info:  # palette, 1-bit, 16-bit
        img = img.convert("I" if img.mode.startswith("I;16") else "L" if img.mode == "1"
                          else "RGBA" if _has_alpha(img) else "RGB")
    return img.reduce(factor)


def _from_pil(img: Image.Image, label: str) -> np.ndarray:
    width, height = img.size
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"{label} is {width}x{height} pixels, more than the {MAX_PIXELS:,} allowed"
        )
    if width == 0 or height == 0:
        raise ImageError(f"{label} is empty (0 pixels)")
    orientation = img.getexif().get(ORIENTATION_TAG, 1)
    img = _reduced(img)
    if orientation in UPRIGHT:  # transposing copies: only when needed
        img = img.transpose(UPRIGHT[orientation])
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return np.asarray(img)
    if mode in ("1", "L"):
        return np.asarray(img if mode == "L" else img.convert("L"))
    wanted = "RGBA" if _has_alpha(img) else "RGB"
    # uint8 from PIL's buffer: asking numpy for float32 directly is several times slower
    return np.asarray(img if mode == wanted else img.convert(wanted))


def _scale_to_unit(array: np.ndarray) -> np.ndarray:
    """Integers by their type's range, floats as 0..1 when they are, else by their own range."""
    if array.dtype == bool:
        return array.astype(np.float32)
    if array.dtype == np.uint8:
        return np.multiply(array, np.float32(1 / 255), dtype=np.float32)
    if np.issubdtype(array.dtype, np.integer):
        top = 65535.0 if array.max(initial=0) > 255 else 255.0
        return np.clip(array.astype(np.float32) / top, 0.0, 1.0)
    if not np.isfinite(array).all():
        raise ImageError("image array holds NaN or infinite values")
    low, high = float(array.min()), float(array.max())
    if low >= 0.0 and high <= 1.0:
        return array.astype(np.float32, copy=False)
    if low >= 0.0 and high <= 255.0:
        return np.divide(array, 255.0, dtype=np.float32)
    # in float64 and over the largest magnitude first: the span of the values can overflow
    # (-3e38 .. 3e38 in float32, -1e308 .. 1e308 in float64)
    top = max(abs(low), abs(high))
    span = high / top - low / top if top else 0.0
    if span == 0.0:
        return np.zeros(array.shape, np.float32)
    return ((array.astype(np.float64) / top - low / top) / span).astype(np.float32)


def _from_array(array: np.ndarray) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise ImageError(
            f"image array has shape {array.shape}: expected (H, W), (H, W, 3) or (H, W, 4)"
        )
    if array.shape[0] * array.shape[1] > MAX_PIXELS:
        raise ImageError(f"image array has {array.shape[0] * array.shape[1]:,} pixels, too many")
    if array.size == 0:
        raise ImageError("image array is empty")
    if array.dtype.kind not in "buif":  # bool, unsigned, signed, float
        raise ImageError(f"image array has dtype {array.dtype}, expected real numbers")
    factor = _reduction(array.shape[0], array.shape[1])
    return array if factor == 1 else _reduce_array(array, factor)


def _reduce_array(array: np.ndarray, factor: int) -> np.ndarray:
    """Block averages of factor x factor pixels (the last ones may be smaller), as
    Image.reduce makes them; integers keep their dtype."""
    sums = array
    for axis in (0, 1):
        starts = np.arange(0, array.shape[axis], factor)
        sums = np.add.reduceat(sums, starts, axis=axis, dtype=np.float32)
    counts = [np.diff(np.arange(0, array.shape[axis], factor), append=array.shape[axis])
              for axis in (0, 1)]
    area = np.outer(*counts)
    means = sums / (area[:, :, None] if array.ndim == 3 else area)
    if array.dtype.kind in "ui":
        return np.rint(means).astype(array.dtype)
    return means.astype(np.float32)


def decode_image(source: ImageSource) -> np.ndarray:
    """float32 (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA, all in 0..1."""
    return _scale_to_unit(_read(source))


def decode_pixels(source: ImageSource) -> np.ndarray:
    """Like decode_image, but 8-bit images stay uint8 in 0..255 (scale them with `to_unit`).
    The array may be read-only, or the caller's own array: do not write to it."""
    pixels = _read(source)
    return pixels if pixels.dtype == np.uint8 else _scale_to_unit(pixels)


def to_unit(pixels: np.ndarray) -> np.ndarray:
    """float32 in 0..1 from decode_pixels' output (or a part of it, such as one channel)."""
    if pixels.dtype == np.uint8:
        return np.multiply(pixels, np.float32(1 / 255), dtype=np.float32)
    return pixels.astype(np.float32, copy=False)


def _plain_png(data: bytes) -> np.ndarray | None:
    """The pixels of an 8-bit grey, RGB or RGBA PNG of at most WORK_PIXELS without a
    transparency key or EXIF, decoded by libspng; None for any other file (Pillow reads it,
    and words any error)."""
    if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR" or len(data) < PNG_HEADER_BYTES:
        return None
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    bit_depth, colour_type = data[24], data[25]
    if (bit_depth != 8 or colour_type not in PLAIN_PNG_COLOUR_TYPES
            or not 0 < width * height <= WORK_PIXELS
            or any(chunk in data for chunk in PNG_CHUNKS_FOR_PILLOW)):
        return None
    try:
        return pyspng.load(data)
    except RuntimeError:
        return None


def _check_data(head: bytes, size: int, label: str) -> None:
    """Refuse, from its first bytes and its size, what is no image or too large to read."""
    if size == 0:
        raise ImageError(f"{label} is empty (0 bytes)")
    if size > MAX_BYTES:
        raise ImageError(f"{label} is {size / 2**20:,.0f} MB, more than the {MAX_BYTES // 2**20} MB "
                         "an image may have")
    if head.startswith(b"%PDF"):
        raise ImageError(f"{label} is a PDF document, not an image: save the page as PNG or JPEG")


def _png_file_bytes(path: str | os.PathLike[str]) -> bytes | None:
    """A PNG file's bytes, for _plain_png; None for any other file (Pillow reads it from disk
    as far as it needs, so a large file that is no image is not read into memory). Refuses
    what is no readable file of a sensible size."""
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise ImageError(f"{path} is a folder, not an image file")
        if not stat.S_ISREG(info.st_mode):
            raise ImageError(f"{path} is not a regular file (a device or a pipe?)")
        with open(path, "rb") as file:
            head = file.read(len(PNG_SIGNATURE))
            _check_data(head, info.st_size, str(path))
            return head + file.read() if head == PNG_SIGNATURE else None
    except FileNotFoundError:
        raise ImageError(f"no such file: {path}") from None
    except PermissionError:
        raise ImageError(f"cannot read {path}: permission denied") from None
    except OSError as e:
        raise ImageError(f"cannot read {path}: {e.strerror or e}") from None


def _read(source: ImageSource) -> np.ndarray:
    """The pixels as stored (reduced if over WORK_PIXELS): (H, W), (H, W, 3) or (H, W, 4),
    any numeric dtype, checked."""
    if isinstance(source, np.ndarray):
        return _from_array(source)
    data: bytes | None
    opened: str | os.PathLike[str] | io.BytesIO | Image.Image
    if isinstance(source, Image.Image):
        data, label, opened = None, "the image", source
    elif isinstance(source, (bytes, bytearray)):
        data, label = bytes(source), "the data"
        _check_data(data[:16], len(data), label)
        opened = io.BytesIO(data)
    elif isinstance(source, (str, os.PathLike)):
        data, label = _png_file_bytes(source), str(source)  # None: not a PNG
        opened = io.BytesIO(data) if data is not None else source
    else:
        raise ImageError(
            f"cannot read an image from {type(source).__name__}: give a path, bytes, "
            "a PIL image or a numpy array"
        )
    if data is not None and (pixels := _plain_png(data)) is not None:
        return pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if isinstance(opened, Image.Image):
                return _from_pil(opened, label)
            with Image.open(opened, formats=FORMATS) as img:
                return _from_pil(img, label)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{label} is not an image in a format we read ({', '.join(FORMATS)})") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{label} is too large to decode safely (decompression bomb?)") from None
    except Exception as e:  # Pillow's decoders fail on damaged files in many ways: say which file
        if "truncated" in str(e):
            raise ImageError(f"{label} is cut short (truncated) and cannot be decoded") from None
        raise ImageError(f"{label} is damaged and cannot be decoded ({e})") from None
