"""Accuracy on MNIST test digits delivered the way people deliver them.

Each digit is re-drawn on a 280x280 canvas: box height from a fifth to all of the canvas,
anywhere on it, pen from thin to very thick, slant up to 15 degrees, then encoded as a
transparent canvas, white on black, black ink on white paper, or a blue ballpoint photo.
On the same model and images it prints the accuracy of
  ours      predict_image (digitclf.preprocess)
  textbook  the MNIST recipe alone: grey, invert if the paper is light, box, 20x20, centre of mass
  naive     the whole image resized to 28x28

    python bench/drawn.py --count 2000
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from PIL import Image
from scipy import ndimage

from digitclf.errors import NoDigitError
from digitclf.imaging.decode import decode_image
from digitclf.reading.predictor import load_predictor
from digitclf.training import synth
from digitclf.training.data import load_mnist


def grey_ink(image: np.ndarray) -> np.ndarray:
    """Ink as bright on dark, the plain way: alpha if transparent, else inverted luminance."""
    if image.ndim == 3 and image.shape[2] == 4 and image[..., 3].min() < image[..., 3].max():
        return image[..., 3]
    grey = image if image.ndim == 2 else image[..., :3] @ np.array([0.299, 0.587, 0.114])
    return 1.0 - grey if np.median(grey) > 0.5 else grey


def naive(image: np.ndarray) -> np.ndarray:
    ink = grey_ink(image).astype(np.float32)
    return np.asarray(Image.fromarray(ink).resize((28, 28), Image.BILINEAR)) * 255.0


def textbook(image: np.ndarray) -> np.ndarray:
    ink = grey_ink(image).astype(np.float32)
    mask = ink > 0.5 * ink.max()
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = 20 / max(crop.shape)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    fitted = np.asarray(Image.fromarray(crop).resize(size, Image.BOX))
    cy, cx = ndimage.center_of_mass(fitted)
    out = np.zeros((28, 28), np.float32)
    top = int(np.clip(round(14 - cy), 0, 28 - fitted.shape[0]))
    left = int(np.clip(round(14 - cx), 0, 28 - fitted.shape[1]))
    out[top : top + fitted.shape[0], left : left + fitted.shape[1]] = fitted
    return out / max(out.max(), 1e-6) * 255.0


def drawn_cases(count: int, seed: int):
    images, labels = load_mnist("test")
    rng = np.random.default_rng(seed)
    encodings = list(synth.ENCODINGS.items())
    for i in rng.choice(len(images), count, replace=False):
        height = rng.uniform(0.2, 1.0)
        slack = (1 - height) / 2  # keep the digit on the canvas (digits are rarely wider than tall)
        centre = (rng.uniform(0.5 - slack, 0.5 + slack), rng.uniform(0.5 - slack, 0.5 + slack))
        pen = rng.choice([None, rng.uniform(2, 6), rng.uniform(6, 16), rng.uniform(16, 30)])
        pen = None if pen is None else min(pen, 0.15 * height * 280)  # a pen can't outgrow the digit
        ink = synth.render(images[i], height=height, centre=centre, pen=pen,
                           slant_deg=rng.uniform(-15, 15))
        name, encode = encodings[rng.integers(len(encodings))]
        yield name, encode(ink, rng), int(labels[i])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()

    predictor = load_predictor(args.model)
    started = time.perf_counter()
    rows = []  # (encoding, label, ours, textbook, naive)
    for name, image, label in drawn_cases(args.count, args.seed):
        decoded = decode_image(image)
        try:
            ours = predictor.predict_image(image).digit
        except NoDigitError:
            ours = -1
        rest = predictor.predict(np.stack([textbook(decoded), naive(decoded)])).argmax(axis=1)
        rows.append((name, label, ours, int(rest[0]), int(rest[1])))
    names = np.array([r[0] for r in rows])
    results = np.array([r[1:] for r in rows])
    correct = results[:, 1:] == results[:, :1]
    print(f"model {predictor.name}: {len(rows)} drawn MNIST test digits "
          f"({time.perf_counter() - started:.0f} s)")
    print(f"{'encoding':<16} {'count':>5} {'ours':>8} {'textbook':>9} {'naive':>8}")
    for name in sorted(set(names)) + ["all"]:
        sel = np.ones(len(rows), bool) if name == "all" else names == name
        ours, book, nav = correct[sel].mean(axis=0) * 100
        print(f"{name:<16} {sel.sum():>5} {ours:>7.2f}% {book:>8.2f}% {nav:>7.2f}%")


if __name__ == "__main__":
    main()
