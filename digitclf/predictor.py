"""The Predictor: a stored model behind a compiled call, for arrays and for real images."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import numpy as np

from . import tf_setup  # noqa: F401
import keras
import tensorflow as tf

from .allocator import keep_buffers_on_heap
from .detector import load_detector
from .imageio import ImageSource
from .models import IMAGE_BATCH, compile_inference, predict_in_batches
from .preprocess import preprocess
from .errors import DigitclfError, ModelStoreError
from .store import ModelStore

if TYPE_CHECKING:
    from .numbers import NumberResult

MIN_CONFIDENCE = 0.5  # below this the model cannot name the digit: report "not a digit"


@dataclass(frozen=True)
class DigitResult:
    digit: int
    confidence: float
    probabilities: np.ndarray  # float32 (10,), sums to 1
    model_input: np.ndarray  # float32 (28, 28), exactly what the model saw
    is_digit: bool = True  # False: letters, scribbles, shapes, crossed-out marks, smudges

    def to_dict(self) -> dict[str, Any]:
        return {
            "digit": self.digit,
            "confidence": round(self.confidence, 6),
            "probabilities": [round(float(p), 6) for p in self.probabilities],
            "is_digit": self.is_digit,
        }


class Predictor:
    def __init__(self, model: keras.Model, name: str = "", card: dict | None = None):
        keep_buffers_on_heap()  # a predictor reads many images: reuse their buffers
        self.model = model
        self.name = name
        self.card = card or {}
        self._infer = compile_inference(model)
        detector, self._digit_threshold = load_detector()
        self._infer_with_detector = tf.function(  # one compiled call for both networks
            lambda x: (model(x, training=False), detector(x, training=False)[:, 0]),
            input_signature=[IMAGE_BATCH],
        )

    def predict(self, x: np.ndarray) -> np.ndarray:
        """uint8 (N, 28, 28) in MNIST convention -> float32 (N, 10) probabilities."""
        x = np.asarray(x)
        if x.ndim == 2:
            x = x[None]
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise ValueError(f"expected images of shape (N, 28, 28), got {x.shape}")
        x = x.astype(np.float32, copy=False)
        if len(x) == 0:
            return np.zeros((0, 10), dtype=np.float32)
        return predict_in_batches(self._infer, x)

    def predict_image(self, image: ImageSource) -> DigitResult:
        """One digit as a person delivers it: path, bytes, PIL image or array of any size."""
        return self.classify(preprocess(image)[None])[0]

    def read_number(self, image: ImageSource) -> NumberResult:
        """Several digits side by side, as one number: its text, digits and their boxes."""
        from .numbers import read_number

        return read_number(self, image)

    def predict_images(
        self, images: Iterable[ImageSource], chunk: int = 64, workers: int = 2
    ) -> Iterator[DigitResult | DigitclfError]:
        """Many images, streamed in order: preprocessing runs on `workers` threads while
        the model takes a chunk at a time, so memory stays bounded by the chunk size.
        Yields a DigitResult, or the DigitclfError that image raised."""
        with ThreadPoolExecutor(workers) as pool:
            pending = iter(images)
            while batch := list(itertools.islice(pending, chunk)):
                prepared = list(pool.map(_try_preprocess, batch))
                good = [p for p in prepared if not isinstance(p, DigitclfError)]
                results = iter(self.classify(np.stack(good)) if good else [])
                for item in prepared:
                    yield item if isinstance(item, DigitclfError) else next(results)

    def classify(self, model_inputs: np.ndarray) -> list[DigitResult]:
        """Prepared inputs, float32 (N, 28, 28) as `preprocess` makes them -> one DigitResult
        each, with the not-a-digit check."""
        probs, digit_scores = self._infer_with_detector(model_inputs)
        probs, digit_scores = probs.numpy(), digit_scores.numpy()
        digits = probs.argmax(axis=1)
        return [
            DigitResult(int(d), float(p[d]), p, x,
                        bool(score >= self._digit_threshold and p[d] >= MIN_CONFIDENCE))
            for d, p, x, score in zip(digits, probs, model_inputs, digit_scores)
        ]


def _try_preprocess(image: ImageSource) -> np.ndarray | DigitclfError:
    try:
        return preprocess(image)
    except DigitclfError as e:
        return e


def load_predictor(name: str | None = None, store: ModelStore | None = None) -> Predictor:
    """The named model, else the store's active model, else the shipped 'default'."""
    store = store or ModelStore()
    name = name or store.active_name()
    if name is None:
        raise ModelStoreError(
            f"no model in {store.root}: train one with 'python -m digitclf train'"
        )
    return Predictor(store.load(name), name, store.card(name))
