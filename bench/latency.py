"""Inference speed, ours next to Keras' own calls on the same model, in one process.

  predict_image   a 280x280 RGBA canvas drawing, end to end (decode, preprocess, model,
                  not-a-digit detector), median over repeated calls
  model.predict   Keras' predict() on the already-prepared (1, 28, 28) input
  model(x)        a direct eager call on the same input
  predict(10k)    the 10,000 MNIST test digits through Predictor.predict, vs model.predict

It also checks that our compiled call gives the Keras model's answers (same argmax,
probabilities within 1e-4).

    python bench/latency.py
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from digitclf.reading.predictor import load_predictor
from digitclf.training import synth
from digitclf.training.data import load_mnist


def median_ms(call: Callable[[], object], repeats: int) -> float:
    """The median of `repeats` timed calls in milliseconds, after one warm-up call."""
    call()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()

    predictor = load_predictor(args.model)
    images, labels = load_mnist("test")
    canvases = [synth.canvas_rgba(synth.render(images[i], pen=14)) for i in range(20)]
    prepared = predictor.predict_image(canvases[0]).model_input[None]
    model = predictor.model

    turn = iter(range(10**9))
    ours = median_ms(lambda: predictor.predict_image(canvases[next(turn) % 20]), args.repeats)
    keras_predict = median_ms(lambda: model.predict(prepared, verbose=0), max(args.repeats // 4, 20))
    eager = median_ms(lambda: model(prepared, training=False), args.repeats)
    print(f"model {predictor.name}")
    print(f"predict_image, 280x280 canvas: {ours:8.2f} ms median")
    print(f"model.predict, prepared input: {keras_predict:8.2f} ms median  -> ours/predict = "
          f"{ours / keras_predict:.3f}x")
    print(f"model(x) eager, prepared input: {eager:7.2f} ms median")

    start = time.perf_counter()
    probs = predictor.predict(images)
    batch_ours = time.perf_counter() - start
    start = time.perf_counter()
    reference = model.predict(images.astype(np.float32), batch_size=1024, verbose=0)
    batch_keras = time.perf_counter() - start
    print(f"predict, 10,000 test digits:   {batch_ours:8.2f} s   (model.predict: {batch_keras:.2f} s)")
    same_argmax = bool((probs.argmax(1) == reference.argmax(1)).all())
    max_diff = float(np.abs(probs - reference).max())
    print(f"same answers as Keras: argmax identical={same_argmax}, max |prob diff|={max_diff:.2e}, "
          f"accuracy {(probs.argmax(1) == labels).mean() * 100:.2f}%")


if __name__ == "__main__":
    main()
