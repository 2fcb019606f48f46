"""Decoding: any image a person delivers -> a float array in 0..1 (grey, RGB or RGBA).

Accepts a file path, bytes, a PIL image or a numpy array. Applies the EXIF orientation,
reads 16-bit, CMYK and palette images, and refuses decompression bombs before decoding.
Plain 8-bit PNGs (what drawing canvases and screenshots make) are decoded by libspng
(pyspng), in about half Pillow's time; every other file by Pillow.
`decode_pixels` does the same but leaves 8-bit images as uint8: a caller that needs only
one channel in float (the alpha of a drawing) converts only that one, with `to_unit`.
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
import pyspng
from PIL import Image, ImageOps, UnidentifiedImageError

from digitclf.errors import ImageError

ORIENTATION_TAG = 0x0112
MAX_PIXELS = 40_000_000  # larger images are refused before their pixels are decoded
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PLAIN_PNG_COLOUR_TYPES = (0, 2, 6)  # grey, RGB, RGBA: decoded to exactly what Pillow gives
PNG_CHUNKS_FOR_PILLOW = (b"tRNS", b"eXIf", b"Raw profile type exif")  # transparency key, EXIF

ImageSource = str | os.PathLike[str] | bytes | bytearray | Image.Image | np.ndarray


def _from_pil(img: Image.Image) -> np.ndarray:
    width, height = img.size
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"image is {width}x{height} pixels, more than the {MAX_PIXELS:,} allowed"
        )
    if width == 0 or height == 0:
        raise ImageError("image is empty (0 pixels)")
    if img.getexif().get(ORIENTATION_TAG, 1) != 1:  # transposing copies: only when needed
        img = ImageOps.exif_transpose(img)
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return np.asarray(img)
    if mode in ("1", "L"):
        return np.asarray(img if mode == "L" else img.convert("L"))
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info
    wanted = "RGBA" if has_alpha else "RGB"
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
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise ImageError("image array holds NaN or infinite values")
    low, high = float(array.min()), float(array.max())
    if low >= 0.0 and high <= 1.0:
        return array
    if low >= 0.0 and high <= 255.0:
        return array / 255.0
    return (array - low) / (high - low) if high > low else np.zeros_like(array)


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
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ImageError(f"image array has dtype {array.dtype}, expected numbers")
    return array


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
    """The pixels of an 8-bit grey, RGB or RGBA PNG without a transparency key or EXIF,
    decoded by libspng; None for any other file (Pillow reads it, and words any error)."""
    if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    bit_depth, colour_type = data[24], data[25]
    if (bit_depth != 8 or colour_type not in PLAIN_PNG_COLOUR_TYPES
            or not 0 < width * height <= MAX_PIXELS
            or any(chunk in data for chunk in PNG_CHUNKS_FOR_PILLOW)):
        return None
    try:
        return pyspng.load(data)
    except RuntimeError:
        return None


def _png_file_bytes(path: str | os.PathLike) -> bytes | None:
    """A PNG file's bytes, for _plain_png; None for any other file (Pillow reads it from disk
    as far as it needs, so a large file that is no image is not read into memory)."""
    with open(path, "rb") as file:
        if file.read(len(PNG_SIGNATURE)) != PNG_SIGNATURE:
            return None
        return PNG_SIGNATURE + file.read()


def _read(source: ImageSource) -> np.ndarray:
    """The pixels as stored: (H, W), (H, W, 3) or (H, W, 4), any numeric dtype, checked."""
    if isinstance(source, np.ndarray):
        return _from_array(source)
    if isinstance(source, Image.Image):
        return _from_pil(source)
    data: bytes | None
    if isinstance(source, (bytes, bytearray)):
        data, label = bytes(source), "the given bytes"
        opened: str | os.PathLike[str] | io.BytesIO = io.BytesIO(data)
    elif isinstance(source, (str, os.PathLike)):
        if not os.path.isfile(source):
            raise ImageError(f"no such file: {source}")
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
            with Image.open(opened) as img:
                return _from_pil(img)
    except UnidentifiedImageError:
        raise ImageError(f"{label} is not an image in a format we read (PNG, JPEG, ...)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{label} is too large to decode safely (decompression bomb?)") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"{label} cannot be decoded: {e}") from None
