"""The not-a-digit detector: a small convnet scoring how digit-like a prepared 28x28 input is.

It works on the preprocessed model input, so it serves every classifier in the store. It is
trained on MNIST digits (raw and re-drawn through our own pipeline) against synthetic
non-digits (digitclf.negatives), and its threshold is set so that 0.8% of held-out digits
(raw and re-drawn) are flagged. Retrain with `python -m digitclf.detector` (about two minutes).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import digitclf.tf_setup  # noqa: F401  (quiets TensorFlow: before it loads)

import keras
import numpy as np
import tensorflow as tf

from digitclf.convert.onnx_graph import to_onnx
from digitclf.errors import NoDigitError
from digitclf.imaging.preprocess import to_mnist
from digitclf.settings import ASSET_DIR, DETECTOR_INFO, DETECTOR_KERAS, DETECTOR_ONNX
from digitclf.store.atomic import replace_atomically
from digitclf.training.architectures import build_cnn
from digitclf.training.augment import augment_batch
from digitclf.training.data import load_mnist
from digitclf.training.negatives import font_files, generate, split_fonts
from digitclf.training.synth import render

FLAGGED_DIGITS = 0.008  # the share of held-out digits the threshold may flag
N_RAW, N_DRAWN, N_NEGATIVE = 20000, 10000, 30000
CALIBRATION = slice(30000, 40000)  # training digits the detector never sees, in the seed's order


def drawn_digit(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An MNIST digit re-drawn as a person might (size, pen, slant) and prepared by to_mnist."""
    ink = render(digit, canvas=(112, 112), height=rng.uniform(0.4, 0.9),
                 pen=None if rng.uniform() < 0.3 else rng.uniform(2, 12),
                 slant_deg=rng.uniform(-15, 15))
    return to_mnist(ink)


def non_digits(count: int, rng: np.random.Generator, fonts: list[Path],
               digits: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """`count` prepared non-digit inputs and their kinds (inks without a digit-sized mark skipped)."""
    images: list[np.ndarray] = []
    kinds: list[str] = []
    while len(images) < count:
        kind, ink = generate(rng, fonts, digits)
        try:
            images.append(to_mnist(ink))
        except NoDigitError:
            continue
        kinds.append(kind)
    return np.stack(images), kinds


def _dataset(rng: np.random.Generator, order: np.ndarray):
    images, _ = load_mnist("train")
    raw = images[order[:N_RAW]].astype(np.float32)
    drawn = np.stack([drawn_digit(images[i], rng) for i in order[N_RAW : N_RAW + N_DRAWN]])
    train_fonts, _ = split_fonts(font_files())
    negative, _ = non_digits(N_NEGATIVE, rng, train_fonts, images[order[-5000:]])
    x = np.concatenate([raw, drawn, negative])
    y = np.concatenate([np.ones(N_RAW + N_DRAWN), np.zeros(N_NEGATIVE)]).astype(np.float32)
    return x, y


def calibrate_threshold(model: keras.Model, seed: int) -> float:
    """The logit below which FLAGGED_DIGITS of unseen training digits (half raw, half
    re-drawn) fall."""
    images, _ = load_mnist("train")
    rng = np.random.default_rng(seed + 1)
    held_out = np.random.default_rng(seed).permutation(len(images))[CALIBRATION]
    half = len(held_out) // 2
    x = np.concatenate([images[held_out[:half]].astype(np.float32),
                        np.stack([drawn_digit(images[i], rng) for i in held_out[half:]])])
    scores = model.predict(x, batch_size=1000, verbose=0)[:, 0]
    return float(np.quantile(scores, FLAGGED_DIGITS))


def train_detector(seed: int = 0, epochs: int = 8) -> tuple[keras.Model, dict]:
    started = time.perf_counter()
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x, y = _dataset(rng, rng.permutation(60000))
    order = rng.permutation(len(x))
    n_val = len(x) // 10
    val, train = order[:n_val], order[n_val:]
    ds = (tf.data.Dataset.from_tensor_slices((x[train], y[train]))
          .shuffle(len(train), seed=seed).batch(128).enumerate()
          .map(lambda step, b: augment_batch(step, b[0], b[1], seed, 0.6))
          .prefetch(tf.data.AUTOTUNE))
    model = build_cnn(outputs=1)
    steps = epochs * int(np.ceil(len(train) / 128))
    model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(3e-3, steps)),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(ds, epochs=epochs, verbose=2)
    threshold = calibrate_threshold(model, seed)
    scores = model.predict(x[val], batch_size=1000, verbose=0)[:, 0]
    digit_scores = scores[y[val] == 1]
    info = {
        "threshold_logit": threshold,
        "val_digits_flagged": float((digit_scores < threshold).mean()),
        "val_non_digits_flagged": float((scores[y[val] == 0] < threshold).mean()),
        "examples": int(len(x)),
        "training_seconds": round(time.perf_counter() - started, 1),
        "seed": seed,
    }
    return model, info


def main() -> None:
    model, info = train_detector()
    ASSET_DIR.mkdir(exist_ok=True)
    replace_atomically(DETECTOR_KERAS, model.save)
    replace_atomically(DETECTOR_ONNX, lambda tmp: tmp.write_bytes(to_onnx(model).SerializeToString()))
    replace_atomically(DETECTOR_INFO, lambda tmp: tmp.write_text(json.dumps(info, indent=2)))
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()
