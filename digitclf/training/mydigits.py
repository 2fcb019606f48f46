""""My digits": drawings a person corrected, kept as PNG files named by their true label.

Root: `settings().my_digits_dir` (`DIGITCLF_MY_DIGITS`, else `my_digits/`). Each file is
`<label>-<timestamp>.png` holding the original drawing, so it is preprocessed afresh on use.

The set travels as a dataset: a zip of its PNG files and `labels.csv` (columns `file` and
`label`), written by `export_zip` and read back, checked whole before anything is written, by
`import_zip`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import shutil
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from digitclf.errors import DigitclfError, ImageError, NoDigitError
from digitclf.imaging.decode import ImageSource, decode_image
from digitclf.imaging.preprocess import preprocess
from digitclf.settings import settings
from digitclf.store.atomic import TEMP_PREFIX, replace_atomically, write_folder_atomically

FILE_PATTERN = re.compile(r"([0-9])-[0-9]+\.png")
LABELS_FILE = "labels.csv"
MAX_IMPORT_FILES = 10_000  # images in one imported zip
MAX_IMPORT_FILE_BYTES = 4 * 2**20  # one image, unpacked (a drawing is a few kB)
MAX_IMPORT_BYTES = 200 * 2**20  # all of them, unpacked: refuses zip bombs before reading


def my_digits_dir() -> Path:
    return settings().my_digits_dir


def add(image: ImageSource, label: int, root: Path | None = None) -> Path:
    """Save a drawing with its true label; returns the file written."""
    if not (isinstance(label, (int, np.integer)) and 0 <= int(label) <= 9):
        raise DigitclfError(f"label must be a digit 0-9, not {label!r}")
    preprocess(image)  # refuse images without a digit before keeping them
    pixels = _pixels(image)
    root = root or my_digits_dir()
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{int(label)}-{time.time_ns()}.png"
    replace_atomically(path, lambda tmp: Image.fromarray(pixels).save(tmp, format="PNG"))
    return path


def _pixels(image: ImageSource) -> np.ndarray:
    """The image as kept in the set: uint8, as decoded (grey, RGB or RGBA)."""
    return np.round(decode_image(image) * 255).astype(np.uint8)


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


# ----- the set as a dataset: a zip of PNG files and labels.csv --------------------------------
@dataclass(frozen=True)
class Imported:
    """What import_zip did: drawings added, and drawings skipped as already in the set."""
    added: int
    already_there: int


def export_zip(root: Path | None = None) -> bytes:
    """The set as a dataset: a zip of its PNG files and labels.csv (columns file, label).
    Files that no longer decode are left out, as `load` leaves them out."""
    buffer, labels = io.BytesIO(), io.StringIO()
    writer = csv.writer(labels, lineterminator="\n")
    writer.writerow(["file", "label"])
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files(root):
            try:
                data = path.read_bytes()
                decode_image(data)
            except (OSError, DigitclfError):
                continue
            archive.writestr(path.name, data)
            writer.writerow([path.name, path.name[0]])
        archive.writestr(LABELS_FILE, labels.getvalue())
    return buffer.getvalue()


def import_zip(data: bytes, root: Path | None = None) -> Imported:
    """Add a dataset (a zip as export_zip writes it; its files may sit in one top folder) to
    the set. The whole zip is checked before anything is written, and the set is replaced in
    one step (a process killed halfway leaves it as it was): a zip without labels.csv, a bad
    label, a file that is no image or holds no digit, too many or too large files are refused
    with a sentence naming the problem. Drawings already in the set are not added twice."""
    drawings = _read_dataset(data)
    root = root or my_digits_dir()
    known = set()
    for path in files(root):
        try:
            known.add(_digest(int(path.name[0]), _pixels(path)))
        except DigitclfError:
            continue
    new = []
    for label, pixels in drawings:
        digest = _digest(label, pixels)
        if digest not in known:
            known.add(digest)
            new.append((label, pixels))
    if new:
        write_folder_atomically(root, lambda tmp: _write_set(tmp, root, new), overwrite=True)
    return Imported(len(new), len(drawings) - len(new))


def _digest(label: int, pixels: np.ndarray) -> bytes:
    return hashlib.sha256(f"{label}{pixels.shape}".encode() + pixels.tobytes()).digest()


def _write_set(folder: Path, root: Path, new: list[tuple[int, np.ndarray]]) -> None:
    """Fill `folder` with the new drawings, then with the set's files as they are now
    (linked, not copied: last, so that a drawing saved meanwhile is kept)."""
    taken = set(os.listdir(root)) if root.is_dir() else set()
    stamp = time.time_ns()
    for label, pixels in new:
        while (name := f"{label}-{stamp}.png") in taken:
            stamp += 1
        taken.add(name)
        Image.fromarray(pixels).save(folder / name, format="PNG")
    if not root.is_dir():
        return
    for entry in root.iterdir():
        if entry.name.startswith(TEMP_PREFIX) or not entry.is_file():
            continue
        try:
            os.link(entry, folder / entry.name)
        except OSError:  # no hard links on this file system
            shutil.copy2(entry, folder / entry.name)


def _read_dataset(data: bytes) -> list[tuple[int, np.ndarray]]:
    """The zip's drawings as (label, pixels), in labels.csv's order, all checked."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise DigitclfError("this is not a zip file: a dataset is a zip of PNG files and a "
                            f"{LABELS_FILE}, as the export writes it") from None
    with archive:
        members = {info.filename: info for info in archive.infolist()
                   if not info.is_dir() and not _metadata(info.filename)}
        folder = _dataset_folder(members)
        if len(members) - 1 > MAX_IMPORT_FILES:
            raise DigitclfError(f"the zip holds {len(members) - 1:,} files, more than the "
                                f"{MAX_IMPORT_FILES:,} one import takes: split it")
        total = sum(info.file_size for info in members.values())
        if total > MAX_IMPORT_BYTES:
            raise DigitclfError(f"the zip unpacks to {total / 2**20:,.0f} MB, more than the "
                                f"{MAX_IMPORT_BYTES // 2**20} MB one import takes: split it")
        listed = _labels(_unpack(archive, members[folder + LABELS_FILE]))
        for name in members:
            if name != folder + LABELS_FILE and name.removeprefix(folder) not in listed:
                raise DigitclfError(f"{name} is in the zip but not in {LABELS_FILE}: list it "
                                    "with its label, or take it out")
        drawings = []
        for file, label in listed.items():
            info = members.get(folder + file)
            if info is None:
                raise DigitclfError(f"{LABELS_FILE} lists {file}, which is not in the zip")
            if info.file_size > MAX_IMPORT_FILE_BYTES:
                raise DigitclfError(f"{file} unpacks to {info.file_size / 2**20:,.1f} MB, more "
                                    f"than the {MAX_IMPORT_FILE_BYTES // 2**20} MB a drawing may have")
            drawings.append((label, _drawing(file, _unpack(archive, info))))
    return drawings


def _metadata(name: str) -> bool:
    """What archivers add beside the files (macOS resource forks, .DS_Store)."""
    return name.startswith("__MACOSX/") or name.rsplit("/", 1)[-1].startswith(".")


def _dataset_folder(members: dict[str, zipfile.ZipInfo]) -> str:
    """Where labels.csv is: "" at the top of the zip, else "NAME/" for one top folder."""
    if LABELS_FILE in members:
        return ""
    nested = [name for name in members if name.count("/") == 1 and name.endswith("/" + LABELS_FILE)]
    if len(nested) != 1:
        raise DigitclfError(f"the zip has no {LABELS_FILE}: a dataset is PNG files and a "
                            f"{LABELS_FILE} with the columns file and label, as the export writes it")
    return nested[0].removesuffix(LABELS_FILE)


def _unpack(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as e:
        raise DigitclfError(f"{info.filename} cannot be unpacked: the zip is damaged or "
                            f"encrypted ({e})") from None


def _labels(raw: bytes) -> dict[str, int]:
    """labels.csv as {file: label}, every line checked."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DigitclfError(f"{LABELS_FILE} is not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text))
    header = [column.strip().lower() for column in next(reader, [])]
    if "file" not in header or "label" not in header:
        raise DigitclfError(f"{LABELS_FILE} needs a first line naming the columns file and label "
                            f"(it has: {', '.join(header) or 'nothing'})")
    file_column, label_column = header.index("file"), header.index("label")
    labels: dict[str, int] = {}
    for line, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) < len(header):
            raise DigitclfError(f"{LABELS_FILE} line {line} has {len(cells)} of the "
                                f"{len(header)} columns")
        file, label = cells[file_column].strip(), cells[label_column].strip()
        if not file:
            raise DigitclfError(f"{LABELS_FILE} line {line} names no file")
        if not (len(label) == 1 and label in "0123456789"):
            raise DigitclfError(f"{LABELS_FILE} line {line}: the label of {file} is {label!r}, "
                                "not a digit 0-9")
        if file in labels:
            raise DigitclfError(f"{LABELS_FILE} lists {file} twice (line {line})")
        labels[file] = int(label)
        if len(labels) > MAX_IMPORT_FILES:
            raise DigitclfError(f"{LABELS_FILE} lists more than the {MAX_IMPORT_FILES:,} "
                                "drawings one import takes: split it")
    if not labels:
        raise DigitclfError(f"{LABELS_FILE} lists no drawings")
    return labels


def _drawing(file: str, content: bytes) -> np.ndarray:
    """A listed file as the set keeps it, refused unless it is an image holding a digit."""
    try:
        pixels = _pixels(content)
        preprocess(pixels)
    except NoDigitError:
        raise DigitclfError(f"{file} holds no digit (blank, all ink or only a speck): "
                            "take it out of the zip") from None
    except ImageError as e:
        raise ImageError(f"{file} cannot be used: {e}") from None
    return pixels
