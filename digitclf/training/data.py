"""MNIST from the four standard IDX files, checked as they are read.

The files come from `DIGITCLF_DATA` when set, else from `data/mnist/` in the repository,
so a fresh clone works offline.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
from functools import lru_cache
from pathlib import Path

import numpy as np

from digitclf.errors import DataError
from digitclf.settings import settings

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def data_dir() -> Path:
    return settings().data_dir


def _read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    if not path.is_file():
        raise DataError(f"MNIST file not found: {path} (set DIGITCLF_DATA to the folder holding it)")
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"MNIST file {path} is not a readable gzip file: {e}") from None
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DataError(f"MNIST file {path} is truncated: {len(raw)} bytes, no complete header")
    found_magic, *dims = struct.unpack(f">{1 + ndim}I", raw[:header_size])
    if found_magic != magic:
        raise DataError(f"MNIST file {path} has magic number {found_magic}, expected {magic}")
    if ndim == 3 and dims[1:] != [28, 28]:
        raise DataError(f"MNIST file {path} holds {dims[1]}x{dims[2]} images, expected 28x28")
    expected = header_size + int(np.prod(dims))
    if len(raw) != expected:
        raise DataError(f"MNIST file {path} has {len(raw)} bytes, its header promises {expected}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(dims)


@lru_cache(maxsize=4)
def _load_cached(folder: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    image_file, label_file = SPLIT_FILES[split]
    images = _read_idx(Path(folder) / image_file, IMAGE_MAGIC, 3)
    labels = _read_idx(Path(folder) / label_file, LABEL_MAGIC, 1)
    if len(images) != len(labels):
        raise DataError(f"MNIST {split} split has {len(images)} images but {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise DataError(f"MNIST file {Path(folder) / label_file} holds labels above 9")
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load_mnist(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 (N, 28, 28) and labels uint8 (N,) of the 'train' or 'test' split (read-only)."""
    if split not in SPLIT_FILES:
        raise DataError(f"unknown split {split!r}: choose 'train' or 'test'")
    return _load_cached(str(data_dir()), split)


def fingerprint(split: str = "train") -> str:
    """SHA-256 over the decoded images and labels of a split: it names the exact training data."""
    images, labels = load_mnist(split)
    digest = hashlib.sha256()
    digest.update(images.tobytes())
    digest.update(labels.tobytes())
    return digest.hexdigest()
