""""My digits": drawings a person corrected, kept as PNG files named by their true label.

Root: `settings().my_digits_dir` (`DIGITCLF_MY_DIGITS`, else `my_digits/`). Each file is
`<label>-<timestamp>.png` holding the original drawing, so it is preprocessed afresh on use.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
from PIL import Image

from digitclf.errors import DigitclfError, ImageError
from digitclf.imaging.decode import ImageSource, decode_image
from digitclf.imaging.preprocess import preprocess
from digitclf.settings import settings
from digitclf.store.atomic import replace_atomically

FILE_PATTERN = re.compile(r"([0-9])-[0-9]+\.png")


def my_digits_dir() -> Path:
    return settings().my_digits_dir


def add(image: ImageSource, label: int, root: Path | None = None) -> Path:
    """Save a drawing with its true label; returns the file written."""
    if not (isinstance(label, (int, np.integer)) and 0 <= int(label) <= 9):
        raise DigitclfError(f"label must be a digit 0-9, not {label!r}")
    preprocess(image)  # refuse images without a digit before keeping them
    pixels = np.round(decode_image(image) * 255).astype(np.uint8)
    root = root or my_digits_dir()
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{int(label)}-{time.time_ns()}.png"
    replace_atomically(path, lambda tmp: Image.fromarray(pixels).save(tmp, format="PNG"))
    return path


def files(root: Path | None = None) -> list[Path]:
    root = root or my_digits_dir()
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if FILE_PATTERN.fullmatch(p.name))


def load(root: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The set as model inputs: float32 (N, 28, 28) in 0..255 and labels (N,).
    Files that no longer decode are skipped."""
    images, labels = [], []
    for path in files(root):
        try:
            images.append(preprocess(path))
        except (ImageError, DigitclfError):
            continue
        labels.append(int(path.name[0]))  # files() kept only names FILE_PATTERN matches
    if not images:
        return np.zeros((0, 28, 28), np.float32), np.zeros((0,), np.uint8)
    return np.stack(images), np.array(labels, dtype=np.uint8)


def accuracy(predictor, root: Path | None = None) -> tuple[float | None, int]:
    """The predictor's accuracy on the set, and the set's size (None when empty)."""
    images, labels = load(root)
    if len(images) == 0:
        return None, 0
    predicted = predictor.predict(images).argmax(axis=1)
    return float((predicted == labels).mean()), len(labels)
