"""The Predictor: a stored model and the not-a-digit detector, for arrays and real images.

Both networks run on ONNX Runtime (runtime.py) from the files the store and the assets
keep, so making predictions imports neither TensorFlow nor Keras. The Keras model itself
loads only when asked for (`Predictor.model`).
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from digitclf.errors import DigitclfError, ModelStoreError
from digitclf.imaging.decode import ImageSource
from digitclf.imaging.preprocess import preprocess, preprocess_placed
from digitclf.reading.allocator import keep_buffers_on_heap
from digitclf.reading.explain import Explanation, explain_input, logits_net
from digitclf.reading.number import read_number
from digitclf.reading.results import DigitResult, NumberResult, digit_results
from digitclf.reading.scoring import rows_logsumexp
from digitclf.runtime import Net, OnnxNet, run_batched, run_together
from digitclf.settings import DETECTOR_INFO, DETECTOR_ONNX
from digitclf.store.model_store import ModelStore

if TYPE_CHECKING:
    import keras

class Predictor:
    def __init__(self, name: str, store: ModelStore | None = None) -> None:
        """The stored model `name` (see load_predictor for the usual way in)."""
        keep_buffers_on_heap()  # a predictor reads many images: reuse their buffers
        self.store = store or ModelStore()
        self.name = name
        self.card = self.store.card(name)
        self._classifier: Net = _classifier(self.store, name)
        self._detector, self._digit_threshold = _not_a_digit_detector()

    @functools.cached_property
    def model(self) -> keras.Model:
        """The Keras model (loads TensorFlow on first use)."""
        return self.store.load(self.name)

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
        return run_batched(self._classifier, x)

    def predict_image(self, image: ImageSource) -> DigitResult:
        """One digit as a person delivers it: path, bytes, PIL image or array of any size."""
        return self.classify(preprocess(image)[None])[0]

    def explain(self, image: ImageSource, against: int | None = None) -> Explanation:
        """Which ink argued for the digit predict_image reads and which for the runner-up (or
        the digit `against`), as a map over the 28x28 input and over the image itself
        (digitclf/reading/explain.py says how). Raises as predict_image does."""
        model_input, placement = preprocess_placed(image)
        return explain_input(self._logits, model_input, against, placement)

    def explain_input(self, model_input: np.ndarray, against: int | None = None) -> Explanation:
        """explain for an input already prepared (float32 (28, 28), as classify takes them)."""
        return explain_input(self._logits, model_input, against)

    @functools.cached_property
    def _logits(self) -> Net:
        path = self.store.onnx_path(self.name)
        if path is None:
            raise ModelStoreError(f"model {self.name!r} has no ONNX translation (model.onnx), "
                                  "which explanations need: publish it again to make one")
        return logits_net(path)

    def read_number(self, image: ImageSource) -> NumberResult:
        """Several digits side by side, as one number: its text, digits and their boxes."""
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

    def score(self, model_inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Prepared inputs, float32 (N, 28, 28) -> the probabilities (N, 10) and the
        not-a-digit detector's margin (N,): below 0, the input does not look like a digit."""
        probabilities, detected = run_together([self._classifier, self._detector], model_inputs)
        return probabilities, digit_logit(detected) - self._digit_threshold

    def classify(self, model_inputs: np.ndarray) -> list[DigitResult]:
        """Prepared inputs, float32 (N, 28, 28) as `preprocess` makes them -> one DigitResult
        each, with the not-a-digit check."""
        return digit_results(model_inputs, *self.score(model_inputs))


def _classifier(store: ModelStore, name: str) -> Net:
    """The stored model as predictions run it: its ONNX file on ONNX Runtime when it has
    one (TensorFlow never loads), else the Keras model through TensorFlow."""
    path = store.onnx_path(name)
    if path is None:
        from digitclf.convert.onnx_graph import keras_net

        return keras_net(store.load(name))
    try:
        return OnnxNet(path)
    except Exception as e:  # a corrupt file: say which, not a traceback
        raise ModelStoreError(f"model file {path} cannot be loaded: {e}") from None


def digit_logit(detected: np.ndarray) -> np.ndarray:
    """The not-a-digit detector's outputs, (N, 11) logits for the ten digits and "none", -> how
    digit-like each input is (N,): the log-odds of any digit against none."""
    return rows_logsumexp(detected[:, :10]) - detected[:, 10]


@functools.cache
def _not_a_digit_detector() -> tuple[Net, float]:
    """The shipped detector (one session, shared by every predictor) and its threshold on
    the logit: below it, not a digit."""
    return OnnxNet(DETECTOR_ONNX), float(json.loads(DETECTOR_INFO.read_text())["threshold_logit"])


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
    return Predictor(name, store)
