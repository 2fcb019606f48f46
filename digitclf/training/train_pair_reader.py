"""The pair reader: a wide piece of a number read whole, for digits that touch.

read_number cuts a piece that may hold touching digits along seams and reads each part on
its own. Where the digits overlap, no seam parts them cleanly, and a part is misread ("97"
as "57") or the piece is read as the wrong number of digits. The pair reader sees the
whole piece (reading.pair_view.pair_input, 28x56) and gives three heads of logits (PAIR_HEADS): how
many digits the piece holds (1, 2, 3 or more), and its first and second digit. read_number
weighs each way to read the piece by the count's log-probability and, where it reads the
piece as two digits, combines the heads' view of each digit with the classifier's
(reading.scoring.PAIR_COUNT_WEIGHT, reading.pair_view.PAIR_DIGIT_WEIGHT).

It learns from pieces, as clean ink or as a photo, of numbers written with the MNIST training
digits the default model learned from (single wide digits, touching pairs and triples, some
drawn broken); with --hand-numbers N also of N numbers written in the *training* handwriting
families (handwriting.fonts("train")) with tight spacing, so neighbours touch: single wide
digits, 2 and 3 touching digits, and some of 4-5 (read as "3 or more"). The shipped reader
saw MNIST only: one that also saw 24,000 handwriting numbers named the validation families'
touching digits far better (first / second digit 97.8% / 97.7% against 94.6% / 91.6%) and
read their numbers better (natural spacing 89.3 -> 90.7%), but MNIST numbers worse (held-out
98.3 -> 97.0%; bench/read_numbers.py 94.8 -> 93.8% on 400 reads), under what must hold.
Its accuracy is shown on pieces of the MNIST digits the model held out and of the validation
families, and written with what it saw into its card (pair_reader.json beside it). Retrain
with `python -m digitclf.training.train_pair_reader` (about 40 minutes on two cores; 45 with
the handwriting numbers), then refit the reading's weights (python -m digitclf.training.fit_reader).
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import digitclf.tf_setup  # noqa: F401  (quiets TensorFlow: before it loads)

import keras
import numpy as np
import tensorflow as tf

from digitclf.convert.onnx_graph import to_onnx
from digitclf.imaging.decode import decode_image
from digitclf.imaging.preprocess import ink_map
from digitclf.reading.pair_view import PAIR_HEADS, PAIR_SHAPE, pair_input
from digitclf.reading.predictor import Predictor, load_predictor
from digitclf.reading.segment import find_pieces
from digitclf.settings import PAIR_READER_ONNX
from digitclf.store.atomic import replace_atomically
from digitclf.store.model_store import ModelStore
from digitclf.training import handwriting, synth
from digitclf.training.architectures import build_slim
from digitclf.training.config import TrainConfig
from digitclf.training.train import split_train_val

DIGITS_PER_PIECE = (1, 2, 3)  # how many digits a training piece of MNIST digits holds,
DIGITS_SHARES = (0.3, 0.6, 0.1)  # ... in these shares
HAND_DIGITS_PER_PIECE = (1, 2, 3, 4, 5)  # ... and one in the handwriting families,
HAND_DIGITS_SHARES = (0.3, 0.45, 0.15, 0.06, 0.04)  # ... in these
NUMBERS = 120_000  # training numbers of MNIST digits written (those that come out as one wide piece are kept)
HAND_NUMBERS = 0  # ... and of the handwriting families (see above)
UNKNOWN = -1  # a head's target where the piece has no such digit


def model_split(predictor: Predictor) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """The predictor's model's split of the MNIST training digits: those it learned from, and
    those it kept for validation and never saw."""
    hyperparameters = predictor.card.hyperparameters
    config = TrainConfig(seed=hyperparameters["seed"], val_fraction=hyperparameters["val_fraction"])
    return split_train_val(config)


def _piece(ink: np.ndarray, digits: list[int], rng: np.random.Generator) -> tuple[np.ndarray, list[int]] | None:
    """A number's ink, sometimes as a photo, as one piece: its pair input and targets (digits
    held - 1 (3 or more: 2), first digit, second digit: UNKNOWN where there is none, or for
    three or more); None when it does not come out as one piece wide enough to be cut."""
    if rng.random() < 0.5:
        ink = ink_map(decode_image(synth.ballpoint_photo(ink, rng)))
    pieces = find_pieces(ink)
    wide = list(pieces.wide().values())
    if pieces.piece_count != 1 or not wide:
        return None  # the digits did not touch, or a digit too narrow to be offered cuts
    held = len(digits)
    named = digits[:2] if held < 3 else []
    return pair_input(wide[0]), [min(held, 3) - 1, *named, *[UNKNOWN] * (2 - len(named))]


def _stacked(pieces: list[tuple[np.ndarray, list[int]] | None]) -> tuple[np.ndarray, np.ndarray]:
    kept = [piece for piece in pieces if piece is not None]
    return (np.stack([x for x, _ in kept]).reshape(-1, *PAIR_SHAPE),
            np.array([y for _, y in kept], dtype=np.int32).reshape(-1, 3))


def training_pieces(count: int, seed: int, held_out: bool = False,
                    store: ModelStore | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pieces of `count` numbers of 1-3 touching MNIST digits that the default model learned
    from (or, `held_out`, never saw): the pair inputs (N, 28, 56) and targets (N, 3) (_piece)."""
    images, labels = model_split(load_predictor("default", store))[held_out]
    rng = np.random.default_rng(seed)
    pieces = []
    for _ in range(count):
        held = int(rng.choice(DIGITS_PER_PIECE, p=DIGITS_SHARES))
        chosen = rng.choice(len(images), held, replace=False)
        ink, _ = synth.render_number(images[chosen], labels[chosen], rng, touch_prob=1.0)
        pieces.append(_piece(ink, [int(d) for d in labels[chosen]], rng))
    return _stacked(pieces)


def handwriting_pieces(count: int, seed: int, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Pieces of `count` numbers of 1-5 digits written tightly (neighbours touch) in the
    handwriting families of `split`: as training_pieces."""
    paths = handwriting.fonts(split)
    rng = np.random.default_rng([seed, 15])
    pieces = []
    for _ in range(count):
        digits = [int(d) for d in rng.integers(0, 10, rng.choice(HAND_DIGITS_PER_PIECE, p=HAND_DIGITS_SHARES))]
        font = paths[rng.integers(len(paths))]
        ink, _ = handwriting.render_number(font, "".join(map(str, digits)), rng, spacing="tight")
        pieces.append(_piece(ink, digits, rng))
    return _stacked(pieces)


def _loss(targets: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Cross-entropy of each head, over the pieces it has a target for."""
    total = 0.0
    start = 0
    for head, size in enumerate(PAIR_HEADS):
        target = tf.cast(targets[:, head], tf.int32)
        known = target != UNKNOWN
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
            tf.where(known, target, 0), logits[:, start : start + size])
        total += tf.reduce_sum(tf.where(known, loss, 0.0)) / tf.maximum(
            tf.reduce_sum(tf.cast(known, tf.float32)), 1.0)
        start += size
    return total


def train_reader(x: np.ndarray, y: np.ndarray, epochs: int, seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = build_slim(PAIR_SHAPE, sum(PAIR_HEADS), name="pair_reader")
    steps = max(1, epochs * (len(x) // 128))
    model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)), _loss)
    model.fit(x, y, batch_size=128, epochs=epochs, validation_split=0.05, verbose=2)
    return model


def head_accuracy(model: keras.Model, x: np.ndarray, y: np.ndarray) -> list[float]:
    """Each head's accuracy over the pieces it has a target for."""
    logits = model.predict(x, batch_size=1024, verbose=0)
    bounds = np.cumsum((0, *PAIR_HEADS))
    return [float((logits[:, a:b].argmax(axis=1) == y[:, h])[y[:, h] != UNKNOWN].mean())
            for h, (a, b) in enumerate(zip(bounds, bounds[1:]))]


def all_pieces(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    """The training pieces: MNIST's and the handwriting families', made on two processes
    (kept in and read back from args.pieces, an .npz, when given)."""
    if args.pieces and args.pieces.exists():
        with np.load(args.pieces) as data:
            return data["x"], data["y"]
    store = ModelStore(args.store) if args.store else None
    with ProcessPoolExecutor(2) as pool:
        mnist = pool.map(training_pieces, [args.numbers // 2] * 2, [5, 6], [False] * 2, [store] * 2)
        hand = pool.map(handwriting_pieces, [args.hand_numbers // 2] * 2, [5, 6]) if args.hand_numbers else []
        parts = [*mnist, *hand]
    x, y = (np.concatenate(arrays) for arrays in zip(*parts))
    if args.pieces:
        np.savez_compressed(args.pieces, x=x, y=y)
    return x, y


def card_of(args: argparse.Namespace, x: np.ndarray, y: np.ndarray, accuracy: dict[str, dict[str, float]],
            seconds: float) -> dict[str, object]:
    """What the pair reader saw and how well it reads pieces nothing trained it on (written
    beside it as pair_reader.json)."""
    return {
        "pieces": len(x),
        "pieces_by_digits_held": {held: int((y[:, 0] == head).sum()) for head, held in enumerate(("1", "2", "3+"))},
        "data": {
            "mnist": f"{args.numbers} numbers of 1-3 touching MNIST training digits the default model "
                     "learned from (its split of the training set)",
            "handwriting": f"{args.hand_numbers} numbers of 1-5 digits written tightly (neighbours touch) "
                           "in the training handwriting families" if args.hand_numbers else "none",
            "encoded": "half as clean ink, half as a ballpoint photo; kept where the number comes out as "
                       "one piece wide enough to be cut",
        },
        "epochs": args.epochs,
        "head_accuracy": accuracy,
        "training_seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Train read_number's pair reader.")
    parser.add_argument("--numbers", type=int, default=NUMBERS, help="numbers of MNIST digits written")
    parser.add_argument("--hand-numbers", type=int, default=HAND_NUMBERS, help="numbers in handwriting written")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--out", type=Path, default=PAIR_READER_ONNX)
    parser.add_argument("--store", help="the store whose 'default' model's split of MNIST to use (default: the usual)")
    parser.add_argument("--pieces", type=Path, help="keep the training pieces in this .npz, and reuse them")
    args = parser.parse_args()
    started = time.perf_counter()
    x, y = all_pieces(args)
    print(f"{len(x)} pieces in {time.perf_counter() - started:.0f} s", flush=True)
    model = train_reader(x, y, args.epochs)
    store = ModelStore(args.store) if args.store else None
    accuracy = {}
    for name, pieces in (("heldout_mnist", training_pieces(4000, 7, held_out=True, store=store)),
                         ("validation_families", handwriting_pieces(3000, 7, "validation"))):
        accuracy[name] = dict(zip(("count", "first", "second"), head_accuracy(model, *pieces)))
        print(f"on pieces of {name}: " + ", ".join(f"{head} {value:.2%}" for head, value in accuracy[name].items()))
    replace_atomically(args.out, lambda tmp: tmp.write_bytes(to_onnx(model).SerializeToString()))
    card = card_of(args, x, y, accuracy, time.perf_counter() - started)
    replace_atomically(args.out.with_suffix(".json"), lambda tmp: tmp.write_text(json.dumps(card, indent=2)))
    print(f"saved {args.out} and its card after {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
