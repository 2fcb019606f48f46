"""The not-a-digit detector: a small convnet (build_cnn, FILTERS wide) scoring how digit-like a
prepared 28x28 input is. It works on the preprocessed model input, so it serves every classifier
in the store. It learns eleven classes, the ten digits and "none" (the non-digits), and scores an
input by the log-odds of any digit against none (predictor.digit_logit): learning what tells the
digits apart teaches it their shapes better than a yes-or-no network learns them, so letters
that are almost a digit stand out more.

What it sees (DATA, written into not_a_digit.json as its card), every input prepared as the
model sees it:
- digits: N_RAW MNIST training digits as they are, N_DRAWN more re-drawn through our own pipeline
  (size, pen, slant, then to_mnist), and N_HANDWRITING digits in the *training* handwriting families
  (handwriting.digit_set: rendered, encoded as a canvas, screen, scan or photo, preprocessed);
- non-digits: N_NEGATIVE from negatives.generate in the NEGATIVE_MIX shares (letters but "OoIl"
  in the training handwriting families and in two of every three of the machine's fonts, zigzags,
  outlined and filled polygons and ovals, other shapes, scribbles, crossed-out MNIST and handwriting
  digits, smudges), each encoded as one of synth.ENCODINGS and preprocessed.
The threshold on its logit is the highest that flags at most FLAGGED_DIGITS of each of two sets
of digits it never saw: held-out MNIST training digits (half raw, half re-drawn) and digits in the
*validation* handwriting families. The benchmark families are never used here.

Retrain with `python -m digitclf.training.train_detector` (about 30 minutes on two cores,
the first run a few more to render and cache the handwriting digits in data/cache); it writes
digitclf/assets/not_a_digit.{keras,onnx,json}, each atomically. With `--recalibrate` it keeps
the network and only chooses the threshold again (after FLAGGED_DIGITS changes), rewriting the json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import digitclf.tf_setup  # noqa: F401  (quiets TensorFlow: before it loads)

import keras
import numpy as np
import tensorflow as tf

from digitclf.convert.onnx_graph import to_onnx
from digitclf.errors import NoDigitError
from digitclf.imaging.preprocess import preprocess, to_mnist
from digitclf.reading.predictor import digit_logit
from digitclf.settings import ASSET_DIR, DETECTOR_INFO, DETECTOR_KERAS, DETECTOR_ONNX
from digitclf.store.atomic import replace_atomically
from digitclf.training import handwriting, negatives, synth
from digitclf.training.architectures import build_cnn
from digitclf.training.augment import augment_batch
from digitclf.training.data import load_mnist

# The share of held-out digits the threshold may flag, in each set (MNIST, validation families).
# The targets allow 1% of unseen digits. On validation data 0.8% flagged 2.6 points more letters
# and 1.3 more shapes than 0.6%; 1% would leave no margin for digits unlike the held-out ones.
FLAGGED_DIGITS = 0.008
NONE = 10  # the non-digits' class
FILTERS = (32, 64, 96)  # the fast preset's 16-32-64 made wider: about 6.7M multiply-adds, as many as the classifier
EPOCHS = 12
N_RAW, N_DRAWN, N_HANDWRITING, N_NEGATIVE = 20000, 10000, 30000, 60000
NEGATIVE_MIX: Mapping[str, float] = {  # handwriting letters the largest share: users' most common non-digits
    "handwriting_letter": 0.42, "letter": 0.05, "handwritten_letter": 0.06, "zigzag": 0.06, "polygon": 0.09,
    "oval": 0.10, "shape": 0.04, "scribble": 0.10, "crossed_out": 0.06, "smudge": 0.02,
}
SHAPE_KINDS = ("zigzag", "polygon", "oval", "shape", "scribble")  # reported as "shapes"
CALIBRATION = slice(30000, 40000)  # training digits the detector never sees, in the seed's order
N_VALIDATION_DIGITS, N_REPORT = 5000, 2000  # validation-family digits for the threshold; letters, shapes reported
CHUNK = 1000  # non-digits per task: each chunk has its own seed, so workers never change the result
DATA = {
    "digits": {"mnist_train_raw": N_RAW, "mnist_train_redrawn": N_DRAWN,
               "handwriting_train_families": N_HANDWRITING},
    "non_digits": {"count": N_NEGATIVE, "mix": dict(NEGATIVE_MIX),
                   "letters": "ASCII but OoIl: training handwriting families and system fonts (every third held out)",
                   "encoded": "as synth.ENCODINGS (canvas, screen, scan, photo), then preprocess"},
    "threshold_set_on": "held-out MNIST training digits (half re-drawn) and validation-family handwriting digits",
}


def drawn_digit(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An MNIST digit re-drawn as a person might (size, pen, slant) and prepared by to_mnist."""
    ink = synth.render(digit, canvas=(112, 112), height=rng.uniform(0.4, 0.9),
                       pen=None if rng.uniform() < 0.3 else rng.uniform(2, 12),
                       slant_deg=rng.uniform(-15, 15))
    return to_mnist(ink)


def _prepare(inks: Sequence[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Inks encoded as a random synth encoding and preprocessed, uint8 (N, 28, 28); those that
    preprocess refuses (no digit-sized mark) are left out."""
    encodings = list(synth.ENCODINGS.values())
    out = []
    for ink in inks:
        try:
            out.append(preprocess(encodings[rng.integers(len(encodings))](ink, rng)))
        except NoDigitError:
            continue
    return np.round(np.array(out, np.float32).reshape(-1, 28, 28)).clip(0, 255).astype(np.uint8)


def _non_digit_chunk(seed: int, chunk: int, count: int, mix: Mapping[str, float], fonts: Sequence[Path],
                     hand_fonts: Sequence[Path], digits: np.ndarray) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng([seed, 7, chunk])
    images: list[np.ndarray] = []
    kinds: list[str] = []
    while len(images) < count:
        kind, ink = negatives.generate(rng, fonts, digits, hand_fonts, mix)
        prepared = _prepare([ink], rng)
        if len(prepared):
            images.append(prepared[0])
            kinds.append(kind)
    return np.stack(images), kinds


def non_digits(count: int, seed: int, fonts: Sequence[Path], hand_fonts: Sequence[Path], digits: np.ndarray,
               mix: Mapping[str, float] = NEGATIVE_MIX, workers: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """`count` prepared non-digits, uint8 (N, 28, 28), and their kinds; the same for any `workers`
    (> 1: in spawned processes)."""
    sizes = [min(CHUNK, count - start) for start in range(0, count, CHUNK)]
    args = [(seed, i, n, dict(mix), list(fonts), list(hand_fonts), digits) for i, n in enumerate(sizes)]
    if workers > 1 and len(sizes) > 1:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            parts = list(pool.map(_non_digit_chunk, *zip(*args)))
    else:
        parts = [_non_digit_chunk(*a) for a in args]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _dataset(seed: int, rng: np.random.Generator, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    images, labels = load_mnist("train")
    raw, drawn = order[:N_RAW], order[N_RAW : N_RAW + N_DRAWN]
    hand, hand_labels = handwriting.digit_set("train", N_HANDWRITING, seed=seed, workers=2)
    train_fonts, _ = negatives.split_fonts(negatives.font_files())
    negative, _ = non_digits(N_NEGATIVE, seed, train_fonts, handwriting.fonts("train"), images[order[-5000:]])
    redrawn = np.round(np.stack([drawn_digit(images[i], rng) for i in drawn])).clip(0, 255).astype(np.uint8)
    x = np.concatenate([images[raw], redrawn, hand, negative])
    y = np.concatenate([labels[raw], labels[drawn], hand_labels, np.full(len(negative), NONE)]).astype(np.int32)
    return x, y


def _scores(model: keras.Model, x: np.ndarray) -> np.ndarray:
    return digit_logit(model.predict(x.astype(np.float32), batch_size=1000, verbose=0))


def calibrate_threshold(model: keras.Model, seed: int) -> tuple[float, dict[str, float]]:
    """The highest logit threshold that flags at most FLAGGED_DIGITS of each held-out digit set
    (held-out MNIST training digits, half raw and half re-drawn; validation-family digits), and
    the share of each set it flags."""
    images, _ = load_mnist("train")
    rng = np.random.default_rng(seed + 1)
    held_out = np.random.default_rng(seed).permutation(len(images))[CALIBRATION]
    half = len(held_out) // 2
    mnist = _scores(model, np.concatenate([images[held_out[:half]].astype(np.float32),
                                           np.stack([drawn_digit(images[i], rng) for i in held_out[half:]])]))
    hand = _scores(model, handwriting.digit_set("validation", N_VALIDATION_DIGITS, seed=seed + 2, workers=2)[0])
    threshold = float(min(np.quantile(mnist, FLAGGED_DIGITS), np.quantile(hand, FLAGGED_DIGITS)))
    return threshold, {"validation_family_digits_flagged": float((hand < threshold).mean()),
                       "heldout_mnist_digits_flagged": float((mnist < threshold).mean())}


def non_digits_flagged(model: keras.Model, threshold: float, seed: int) -> dict[str, float]:
    """Shares flagged of fresh non-digits drawn with the validation families: letters, and shapes
    (SHAPE_KINDS in equal shares, all together and one by one). Inks preprocess refuses are left out."""
    rng = np.random.default_rng([seed, 11])
    letters = [negatives.handwriting_letter(rng, handwriting.fonts("validation")) for _ in range(N_REPORT)]
    report = {"validation_family_letters_flagged": float((_scores(model, _prepare(letters, rng)) < threshold).mean())}
    per_kind = N_REPORT // len(SHAPE_KINDS)
    flagged = {kind: _scores(model, _prepare([getattr(negatives, kind)(rng) for _ in range(per_kind)], rng)) < threshold
               for kind in SHAPE_KINDS}
    report["shapes_flagged"] = float(np.concatenate(list(flagged.values())).mean())
    return report | {f"{kind}_flagged": float(f.mean()) for kind, f in flagged.items()}


def threshold_figures(model: keras.Model, seed: int) -> dict:
    """The threshold for FLAGGED_DIGITS and the card's figures that depend on it: the held-out
    digits and the fresh non-digits it flags (what a training run and a recalibration share)."""
    threshold, digits_flagged = calibrate_threshold(model, seed)
    return {"threshold_logit": threshold, "flagged_digits_target": FLAGGED_DIGITS, **digits_flagged,
            **non_digits_flagged(model, threshold, seed)}


def train_detector(seed: int = 0, epochs: int = EPOCHS) -> tuple[keras.Model, dict]:
    started = time.perf_counter()
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x, y = _dataset(seed, rng, rng.permutation(60000))
    order = rng.permutation(len(x))
    n_val = len(x) // 20
    val, train = order[:n_val], order[n_val:]
    ds = (tf.data.Dataset.from_tensor_slices((x[train], y[train]))
          .shuffle(len(train), seed=seed).batch(128).enumerate()
          .map(lambda step, b: augment_batch(step, tf.cast(b[0], tf.float32), b[1], seed, 0.6))
          .prefetch(tf.data.AUTOTUNE))
    model = build_cnn(outputs=NONE + 1, filters=FILTERS)
    steps = epochs * int(np.ceil(len(train) / 128))
    model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(3e-3, steps)),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(ds, epochs=epochs, verbose=2)
    chosen = threshold_figures(model, seed)
    threshold = chosen["threshold_logit"]
    scores = _scores(model, x[val])
    info = {
        **chosen,
        "val_digits_flagged": float((scores[y[val] != NONE] < threshold).mean()),
        "val_non_digits_flagged": float((scores[y[val] == NONE] < threshold).mean()),
        "examples": int(len(x)),
        "epochs": epochs,
        "filters": list(FILTERS),
        "outputs": "logits of the ten digits and none; scored as predictor.digit_logit",
        "training_seconds": round(time.perf_counter() - started, 1),
        "seed": seed,
        "data": DATA,
    }
    return model, info


STALE_ON_RECALIBRATION = ("val_digits_flagged", "val_non_digits_flagged")  # the training run's own split, not kept


def recalibrate(model: keras.Model, info: dict) -> dict:
    """The shipped detector's card with its threshold chosen again for today's FLAGGED_DIGITS,
    and the figures that depend on it; the network and what it learned from stay as they are."""
    kept = {key: value for key, value in info.items() if key not in STALE_ON_RECALIBRATION}
    return {**kept, **threshold_figures(model, int(info["seed"]))}


def main() -> None:
    parser = argparse.ArgumentParser(description="Train the not-a-digit detector (digitclf/assets/not_a_digit.*).")
    parser.add_argument("--recalibrate", action="store_true",
                        help="keep the shipped network; only choose its threshold again (a few minutes)")
    args = parser.parse_args()
    ASSET_DIR.mkdir(exist_ok=True)
    if args.recalibrate:
        info = recalibrate(keras.models.load_model(DETECTOR_KERAS), json.loads(DETECTOR_INFO.read_text()))
    else:
        model, info = train_detector()
        replace_atomically(DETECTOR_KERAS, model.save)
        replace_atomically(DETECTOR_ONNX, lambda tmp: tmp.write_bytes(to_onnx(model).SerializeToString()))
    replace_atomically(DETECTOR_INFO, lambda tmp: tmp.write_text(json.dumps(info, indent=2)))
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()
