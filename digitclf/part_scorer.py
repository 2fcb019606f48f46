"""A learned correction to read_number's score of a candidate part, for touching digits.

The hand-weighted part score (numbers.PART_WEIGHTS) cannot tell a touching pair such as "10"
or "91" from one wide digit: the classifier and the not-a-digit detector are sure of both.
This small convnet sees the part as the model does and gives three numbers, which weigh
(1, width, height) of the part relative to the number's digit height into a correction added
to the part's score (numbers.score_corrections; a plain chain of layers, so it runs on ONNX
Runtime). It is trained on numbers of the MNIST training digits the default model held out
for validation, piece by piece, the way read_number decides: the readings of a piece that
spell the true text against the others (a conditional logit, a reading scoring the sum of
its parts' scores and its cuts' ink, numbers.cut_features, whose weights are learned
alongside and saved as part_scorer.json). Digits touch and break in the training numbers
more often than in the benchmark, so there are many pieces to learn from. Its last layer
starts at zero, so training starts from the hand-weighted scores. Retrain with
`python -m digitclf.part_scorer` (about 10 minutes on two cores).
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import tf_setup  # noqa: F401
import keras
import tensorflow as tf

from . import synth
from .config import TrainConfig
from .errors import NoDigitError
from .imageio import decode_image
from .numbers import PART_SCORER_ONNX, Candidates, candidates, cut_features
from .onnx_export import to_onnx
from .predictor import Predictor, load_predictor
from .train import split_train_val

GROUPS_PER_BATCH = 32  # pieces per training step
# The training numbers: (how many, chance a digit touches the one before it, chance it is
# drawn in two pieces, seed). Numbers like the benchmark's, and ones with many more
# touching pairs to learn from; each set is written on a process of its own.
NUMBER_SETS = ((2500, 0.05, 0.05, 3), (2000, 0.25, 0.1, 4))


def build_scorer() -> keras.Model:
    """Model input (N, 28, 28) 0..255 -> the weights of (1, width, height) (N, 3)."""
    image = keras.Input((28, 28))
    x = keras.layers.Rescaling(1 / 255)(keras.layers.Reshape((28, 28, 1))(image))
    for filters in (16, 32, 32):
        x = keras.layers.Conv2D(filters, 3, activation="relu", padding="same")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Dense(64, activation="relu")(keras.layers.Flatten()(x))
    return keras.Model(image, keras.layers.Dense(3, kernel_initializer="zeros")(x))


# ----- training --------------------------------------------------------------------------------
class TrainingPiece(NamedTuple):
    """One piece of a training number that can be read in several ways, some of them right."""

    inputs: np.ndarray  # its candidate parts' model inputs (P, 28, 28)
    sizes: np.ndarray  # (P, 2)
    base: np.ndarray  # the hand-weighted part scores (P,)
    readings: list[list[int]]  # each reading's parts, as indices into the above
    cuts: np.ndarray  # each reading's numbers.cut_features (R, 2)
    right: np.ndarray  # bool (R,): the readings that spell the true digits


def spelling_readings(pieces: list[list[tuple[str, ...] | None]],
                      text: str) -> list[set[int]] | None:
    """For each piece, the readings (given as their parts' digits, None when unreadable) that
    lie on some way of reading all pieces that spells `text`; None when there is none."""
    reachable = [{0}] + [set() for _ in pieces]  # positions in text reached after each piece
    steps: list[list[tuple[int, int, int]]] = [[] for _ in pieces]
    for i, readings in enumerate(pieces):
        for start in reachable[i]:
            for r, digits in enumerate(readings):
                end = start + len(digits or ())
                if digits is not None and text[start:end] == "".join(digits):
                    reachable[i + 1].add(end)
                    steps[i].append((start, r, end))
    if len(text) not in reachable[-1]:
        return None
    right: list[set[int]] = [set() for _ in pieces]
    good = {len(text)}
    for i in range(len(pieces) - 1, -1, -1):
        right[i] = {r for start, r, end in steps[i] if end in good}
        good = {start for start, _, end in steps[i] if end in good}
    return right


def model_split(predictor: Predictor) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """The predictor's model's split of the MNIST training digits: those it learned from, and
    those it kept for validation and never learned from. On digits it learned from, the
    classifier is surer than on new ones, so what learns from its confidences trains on
    the held-out digits, to carry over to the test digits."""
    hyperparameters = predictor.card["hyperparameters"]
    config = TrainConfig(seed=hyperparameters["seed"], val_fraction=hyperparameters["val_fraction"])
    return split_train_val(config)


def training_pieces(count: int, touch_prob: float, break_prob: float,
                    seed: int) -> list[TrainingPiece]:
    """The ambiguous pieces of `count` numbers of five held-out training digits, written as
    a scan and as a photo (the other encodings give the same ink), as the shipped default
    model reads them."""
    predictor = load_predictor("default")
    _, (images, labels) = model_split(predictor)
    rng = np.random.default_rng(seed)
    out: list[TrainingPiece] = []
    for _ in range(count):
        chosen = rng.choice(len(images), 5, replace=False)
        ink, text = synth.render_number(images[chosen], labels[chosen], rng,
                                        touch_prob=touch_prob, break_prob=break_prob)
        for encode in (synth.ink_on_paper, synth.ballpoint_photo):
            try:
                found = candidates(predictor, decode_image(encode(ink, rng)))
            except NoDigitError:
                continue
            out += _ambiguous_pieces(found, text)
    return out


def _ambiguous_pieces(found: Candidates, text: str) -> list[TrainingPiece]:
    """The pieces with both right and wrong readings; parts given by their index in `found`."""
    index = {key: i for i, key in enumerate(found.keys)}
    pieces = [[[index.get(id(part), -1) for part in reading.parts] for reading in readings]
              for readings in found.segmentation.pieces]
    digits = found.probabilities.argmax(axis=1)
    spelled = [[None if min(r) < 0 else tuple(str(digits[j]) for j in r) for r in readings]
               for readings in pieces]
    out = []
    for readings, options, good in zip(pieces, found.segmentation.pieces,
                                       spelling_readings(spelled, text) or []):
        valid = [r for r, parts in enumerate(readings) if min(parts) >= 0]
        if not good or len(good) == len(valid):
            continue
        used = sorted({j for r in valid for j in readings[r]})
        local = {j: k for k, j in enumerate(used)}
        out.append(TrainingPiece(found.inputs[used], found.sizes[used], found.base_scores[used],
                         [[local[j] for j in readings[r]] for r in valid],
                         np.array([cut_features(options[r]) for r in valid]),
                         np.array([r in good for r in valid])))
    return out


def _batch(pieces: list[TrainingPiece]) -> tuple:
    """Pieces flattened for one step: parts, then which reading and piece each belongs to."""
    part_reading, reading_part, reading_piece, right, cuts = [], [], [], [], []
    parts = readings = 0
    for p, piece in enumerate(pieces):
        cuts.append(piece.cuts)
        for reading, ok in zip(piece.readings, piece.right):
            part_reading += [readings] * len(reading)
            reading_part += [parts + k for k in reading]
            reading_piece.append(p)
            right.append(ok)
            readings += 1
        parts += len(piece.inputs)
    return (np.concatenate([p.inputs for p in pieces]).astype(np.float32),
            np.concatenate([p.sizes for p in pieces]).astype(np.float32),
            np.concatenate([p.base for p in pieces]).astype(np.float32),
            np.array(part_reading, np.int32), np.array(reading_part, np.int32),
            np.array(reading_piece, np.int32), np.concatenate(cuts).astype(np.float32),
            np.array(right), len(pieces), readings)


def _segment_logsumexp(values: tf.Tensor, segments: tf.Tensor, count: tf.Tensor) -> tf.Tensor:
    top = tf.math.unsorted_segment_max(values, segments, count)
    total = tf.math.unsorted_segment_sum(tf.exp(values - tf.gather(top, segments)), segments, count)
    return top + tf.math.log(total)


def _loss(model: keras.Model, cut_weights: tf.Variable, x, size, base, part_reading,
          reading_part, reading_piece, cuts, right, n_pieces, n_readings) -> tf.Tensor:
    """-log P(a right reading) per piece, readings scored by the sum of their parts' scores
    and their cuts'."""
    weights = model(x, training=True)
    part = base + weights[:, 0] + tf.reduce_sum(weights[:, 1:] * size, axis=1)
    reading = tf.math.unsorted_segment_sum(tf.gather(part, reading_part), part_reading, n_readings)
    reading += tf.linalg.matvec(cuts, cut_weights)
    wrong_out = tf.where(right, reading, -1e9)
    return tf.reduce_mean(_segment_logsumexp(reading, reading_piece, n_pieces)
                          - _segment_logsumexp(wrong_out, reading_piece, n_pieces))


def train_scorer(pieces: list[TrainingPiece], epochs: int = 3,
                 seed: int = 0) -> tuple[keras.Model, np.ndarray]:
    """The part scorer and the weights of numbers.cut_features, trained together."""
    keras.utils.set_random_seed(seed)
    model = build_scorer()
    cut_weights = tf.Variable(tf.zeros(2))
    steps = max(1, epochs * (len(pieces) // GROUPS_PER_BATCH))
    optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-3, steps))
    # Two plain weights that start at zero and have far to go: a faster rate of their own.
    cut_optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(3e-2, steps))
    vector = tf.TensorSpec([None], tf.int32)
    signature = [tf.TensorSpec([None, 28, 28]), tf.TensorSpec([None, 2]), tf.TensorSpec([None]),
                 vector, vector, vector, tf.TensorSpec([None, 2]), tf.TensorSpec([None], tf.bool),
                 tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32)]

    @tf.function(input_signature=signature)
    def step(*batch):
        with tf.GradientTape() as tape:
            loss = _loss(model, cut_weights, *batch)
        net_grads, cut_grads = tape.gradient(loss, [model.trainable_variables, cut_weights])
        optimizer.apply_gradients(zip(net_grads, model.trainable_variables))
        cut_optimizer.apply_gradients([(cut_grads, cut_weights)])
        return loss

    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        order = rng.permutation(len(pieces))
        losses = [float(step(*_batch([pieces[k] for k in order[i : i + GROUPS_PER_BATCH]])))
                  for i in range(0, len(order) - GROUPS_PER_BATCH + 1, GROUPS_PER_BATCH)]
        print(f"epoch {epoch + 1}/{epochs}: loss {np.mean(losses):.4f}", flush=True)
    return model, cut_weights.numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description="Train read_number's part scorer.")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=PART_SCORER_ONNX,
                        help="the ONNX file to write; the cut weights go beside it (.json)")
    args = parser.parse_args()
    started = time.perf_counter()
    with ProcessPoolExecutor(len(NUMBER_SETS)) as pool:
        pieces = [p for chunk in pool.map(training_pieces, *zip(*NUMBER_SETS)) for p in chunk]
    print(f"{len(pieces)} ambiguous pieces in {time.perf_counter() - started:.0f} s", flush=True)
    model, cut_weights = train_scorer(pieces, epochs=args.epochs)
    args.out.write_bytes(to_onnx(model).SerializeToString())
    args.out.with_suffix(".json").write_text(json.dumps({"cut_weights": cut_weights.tolist()}))
    print(f"saved {args.out} after {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
