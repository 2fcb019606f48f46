"""The `fast` preset against one epoch of the Keras "simple MNIST convnet" example.

Ours:      `python -m digitclf train --preset fast --name NAME` as a user runs it, the whole
           process timed (imports, data, training, evaluation, saving) into a temporary store.
Reference: the keras-io example (Conv32-pool-Conv64-pool-dropout-dense, Adam, batch 128,
           validation_split 0.1) for one epoch on the same MNIST files, the whole process
           timed the same way (imports, data, training, evaluation); its fit() alone is shown too.
Both run here, one after the other, in fresh processes, so the ratio compares like with like.

    python bench/train_fast.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def reference_epoch() -> None:
    """One epoch of the Keras example; prints a JSON line with its fit() time and accuracy."""
    import digitclf.tf_setup  # noqa: F401  (quiets TensorFlow: before it loads)

    import keras
    import numpy as np
    from keras import layers

    from digitclf.training.data import load_mnist

    (x_train, y_train), (x_test, y_test) = load_mnist("train"), load_mnist("test")
    x_train = np.expand_dims(x_train.astype("float32") / 255, -1)
    x_test = np.expand_dims(x_test.astype("float32") / 255, -1)
    y_train, y_test = keras.utils.to_categorical(y_train, 10), keras.utils.to_categorical(y_test, 10)
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=128, epochs=1, validation_split=0.1, verbose=0)
    seconds = time.perf_counter() - start
    accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    print(json.dumps({"seconds": seconds, "test_accuracy": accuracy}))


def main() -> None:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--reference"], capture_output=True, text=True,
                         check=True, cwd=REPO)
    reference_seconds = time.perf_counter() - start
    reference = json.loads(out.stdout.strip().splitlines()[-1])
    with tempfile.TemporaryDirectory() as store:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "digitclf", "train", "--preset", "fast", "--name", "bench"],
                       check=True, cwd=REPO, env={**os.environ, "DIGITCLF_MODELS": store},
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ours_seconds = time.perf_counter() - start
        card = json.loads((Path(store) / "bench" / "card.json").read_text())
    ratio = ours_seconds / reference_seconds
    print(f"Keras example, one epoch (whole process): {reference_seconds:6.1f} s "
          f"(fit alone {reference['seconds']:.1f} s), test accuracy {reference['test_accuracy'] * 100:.2f}%")
    print(f"digitclf train --preset fast (whole process): {ours_seconds:6.1f} s, "
          f"test accuracy {card['test_accuracy'] * 100:.2f}%, {card['epochs_run']} epochs")
    print(f"ratio ours / the reference process: {ratio:.2f}x (target <= 1.0x at >= 99.0%)")


if __name__ == "__main__":
    reference_epoch() if "--reference" in sys.argv else main()
