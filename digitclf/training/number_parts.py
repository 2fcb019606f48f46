"""Digits as read_number cuts them out of whole numbers, to train the classifier on.

The parts read_number reads carry what a lone digit never does: a sliver of a neighbour, a
cursive joining stroke, a stroke its cut clipped. Of the numbers of the training families
read wrong, most had no reading at all whose digits the classifier got right. So numbers of
3-6 digits are written in the training families' typefaces (natural and tight spacing),
encoded as users deliver them, segmented exactly as read_number does, and the parts whose
columns match one digit's box are kept, labelled with that digit and prepared as the
classifier sees them. Nothing here imports TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from digitclf.errors import NoDigitError
from digitclf.imaging.decode import decode_image
from digitclf.imaging.preprocess import ink_map
from digitclf.reading.number import model_input
from digitclf.reading.segment import segment
from digitclf.training import handwriting, synth

VERSION = 1  # bump whenever the numbers or the matching change: cached sets are keyed by it
MATCH = 0.75  # a part is a digit's when their column ranges overlap this much (intersection over union)
NEIGHBOUR_SHARE = 0.4  # ... and it holds less than this share of any other digit's columns
PER_DIGIT = 2  # parts kept of each digit (of the several ways to cut it out)
BATCH = 250  # numbers per task
PARTS_PER_NUMBER = 6  # about as many parts as a number gives (fewer: more numbers are written)
Box = tuple[int, int, int, int]


def _shared(a: tuple[int, int], b: tuple[int, int]) -> int:
    """How many columns two column ranges [start, stop) share."""
    return max(min(a[1], b[1]) - max(a[0], b[0]), 0)


def labelled_parts(image: np.ndarray, text: str, boxes: list[Box],
                   rng: np.random.Generator) -> tuple[list[np.ndarray], list[int]]:
    """The parts read_number would read in an image of a number whose digits (`text`) lie in
    `boxes` (x, y, w, h) that hold one digit each: at most PER_DIGIT of each digit's, drawn at
    random, as the classifier sees them (float32 (28, 28)), and that digit."""
    try:
        segmentation = segment(ink_map(decode_image(image)))
    except NoDigitError:
        return [], []
    columns = [(x, x + w) for x, _, w, _ in boxes]
    found: dict[int, dict[Box, np.ndarray]] = {}
    for ways in segmentation.spans().values():
        for part in ways.parts.values():
            x, _, w, _ = part.box
            shared = np.array([_shared((x, x + w), digit) for digit in columns])
            best = int(shared.argmax())
            union = max(x + w, columns[best][1]) - min(x, columns[best][0])
            held = shared / np.maximum([stop - start for start, stop in columns], 1)
            if w == 0 or shared[best] < MATCH * union or np.delete(held, best).max(initial=0) >= NEIGHBOUR_SHARE:
                continue
            if part.box not in found.setdefault(best, {}) and (prepared := model_input(part)) is not None:
                found[best][part.box] = prepared
    inputs, labels = [], []
    for digit, parts in found.items():
        prepared_parts = list(parts.values())
        for k in rng.permutation(len(prepared_parts))[:PER_DIGIT]:
            inputs.append(prepared_parts[k])
            labels.append(int(text[digit]))
    return inputs, labels


def _number(rng: np.random.Generator) -> tuple[np.ndarray, str, list[Box]]:
    """One number of 3-6 digits in a training family, natural or tight spacing."""
    paths = handwriting.fonts("train")
    text = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(3, 7))))
    spacing = "tight" if rng.random() < 0.5 else "natural"
    ink, boxes = handwriting.render_number(paths[rng.integers(len(paths))], text, rng, spacing=spacing)
    return ink, text, boxes


def _parts(seed: int, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """The parts of numbers start..stop-1; each number has its own seed, so the parts do not
    depend on which process prepares them."""
    encodings = list(synth.ENCODINGS.values())
    inputs, labels = [], []
    for i in range(start, stop):
        rng = np.random.default_rng([VERSION, seed, i])
        ink, text, boxes = _number(rng)
        x, y = labelled_parts(encodings[rng.integers(len(encodings))](ink, rng), text, boxes, rng)
        inputs += x
        labels += y
    return (np.round(np.array(inputs, dtype=np.float32).reshape(-1, 28, 28)).clip(0, 255).astype(np.uint8),
            np.array(labels, dtype=np.uint8))


def part_set(count: int, seed: int, cache_dir: Path | None = handwriting.CACHE_DIR,
             workers: int = 1) -> handwriting.Arrays:
    """`count` parts cut from numbers of the training families, as uint8 (count, 28, 28) in
    MNIST convention and uint8 labels; shuffled, the same for the same arguments. Kept as .npz
    under `cache_dir` (None: neither read nor written); `workers` as for handwriting.digit_set."""
    if count < 0 or seed < 0:
        raise ValueError("count and seed must be >= 0")

    def make() -> handwriting.Arrays:
        numbers, chunks, found = 0, [], 0
        while found < count:  # a number gives about PARTS_PER_NUMBER parts
            tasks = -(-(count - found) // (PARTS_PER_NUMBER * BATCH))
            starts = [numbers + k * BATCH for k in range(tasks)]
            numbers += tasks * BATCH
            chunks += handwriting.spawned_map(_parts, [(seed, s, s + BATCH) for s in starts], workers)
            found = sum(len(chunk_y) for _, chunk_y in chunks)
        x, y = np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])
        order = np.random.default_rng([VERSION, seed]).permutation(len(x))[:count]
        return x[order], y[order]

    return handwriting.cached_set(cache_dir / f"number-parts-{count}-{seed}-v{VERSION}.npz" if cache_dir else None,
                                  make)
