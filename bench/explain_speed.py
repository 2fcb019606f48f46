"""Speed of "Why this digit?": Predictor.explain next to a plain prediction and to the
gradient method it was chosen over, in one process.

  explain          a 280x280 RGBA canvas drawing, end to end (decode, preprocess, the
                   occlusion batch, the map drawn onto the canvas), median over the drawings
  model time       explain_input on the prepared input: the occlusion batch (one ONNX
                   Runtime call) and little else, what the 100 ms budget is about
  predict_image    the same drawings read, as the Draw page does on every stroke
  Keras IG         integrated gradients of the same logit margin (32 steps, one batched
                   TensorFlow gradient call) on the prepared input

    python bench/explain_speed.py
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable

import numpy as np
from latency import median_ms  # bench/ is the script's folder, first on sys.path

from digitclf.reading.explain import MASKS
from digitclf.reading.predictor import Predictor, load_predictor
from digitclf.training import synth
from digitclf.training.data import load_mnist

IG_STEPS = 32


def integrated_gradients(predictor: Predictor) -> Callable[[np.ndarray], np.ndarray]:
    """Integrated gradients of logit[digit] - logit[runner-up] from a blank input, on the
    Keras model's logits (the input of its final softmax)."""
    import keras
    import tensorflow as tf

    model = predictor.model
    logits = keras.Model(model.input, model.layers[-1].input)

    def explain(x: np.ndarray) -> np.ndarray:
        z = logits(x[None], training=False).numpy()[0]
        digit, other = np.argsort(z)[-1], np.argsort(z)[-2]
        path = tf.constant(np.linspace(1 / IG_STEPS, 1, IG_STEPS, dtype=np.float32)[:, None, None] * x)
        with tf.GradientTape() as tape:
            tape.watch(path)
            out = logits(path, training=False)
            margin = tf.reduce_sum(out[:, digit] - out[:, other])
        return x * tape.gradient(margin, path).numpy().mean(axis=0)

    return explain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--drawings", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=100)
    args = parser.parse_args()

    predictor = load_predictor(args.model)
    images, _ = load_mnist("test")
    canvases = [synth.canvas_rgba(synth.render(images[i], pen=14)) for i in range(args.drawings)]
    prepared = [predictor.predict_image(c).model_input for c in canvases]
    copies = [int(((MASKS @ x.ravel()) > 0).sum()) for x in prepared]

    turn = iter(range(10**9))
    ours = median_ms(lambda: predictor.explain(canvases[next(turn) % len(canvases)]), args.repeats)
    model_time = median_ms(lambda: predictor.explain_input(prepared[next(turn) % len(prepared)]), args.repeats)
    plain = median_ms(lambda: predictor.predict_image(canvases[next(turn) % len(canvases)]), args.repeats)
    ig = integrated_gradients(predictor)
    keras_ig = median_ms(lambda: ig(prepared[next(turn) % len(prepared)]), max(args.repeats // 5, 10))

    print(f"model {predictor.name}, {len(canvases)} drawings (280x280 canvas), "
          f"{statistics.median(copies):.0f} occluded copies each (median)")
    print(f"explain, end to end:            {ours:7.1f} ms median")
    print(f"  of which model time:          {model_time:7.1f} ms median (budget 100 ms)")
    print(f"predict_image, same drawings:   {plain:7.1f} ms median  -> explain/predict_image = {ours / plain:.1f}x")
    print(f"Keras integrated gradients:     {keras_ig:7.1f} ms median  -> explain/IG = {ours / keras_ig:.2f}x")


if __name__ == "__main__":
    main()
