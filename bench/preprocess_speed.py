"""Preprocessing speed: digitclf.preprocess.preprocess next to a floor, in one process.

  canvas array   a 280x280 RGBA drawing as the dashboard's canvas delivers it (numpy, uint8)
  PNG drawing    the same kind of drawing as PNG bytes, as posted to the HTTP service

The floor is the least any preprocessing must do: PIL reads the image and resizes its alpha
channel to 28x28 (for the PNG that includes decoding it, which is most of the time). Calls
alternate between ours and the floor, each on 20 different MNIST test digits, and the median
of --repeats calls is printed; the glibc allocator is tuned as the Predictor tunes it.

    python bench/preprocess_speed.py [--repeats 2000]
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable

import numpy as np
from PIL import Image

from digitclf.imaging.decode import decode_pixels
from digitclf.imaging.preprocess import preprocess
from digitclf.reading.allocator import keep_buffers_on_heap
from digitclf.training import synth
from digitclf.training.data import load_mnist


def canvases(count: int) -> list[np.ndarray]:
    """As bench/latency.py draws them."""
    images, _ = load_mnist("test")
    return [synth.canvas_rgba(synth.render(images[i], pen=14)) for i in range(count)]


def pngs(count: int) -> list[bytes]:
    """As bench/service_load.py posts them."""
    return [synth.canvas_png(synth.render(digit)) for digit in load_mnist("test")[0][:count]]


def floor(source: np.ndarray | bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(source)) if isinstance(source, bytes) else Image.fromarray(source)
    return np.asarray(image.getchannel("A").resize((28, 28), Image.BOX))


def medians_ms(calls: dict[str, Callable], sources: list, repeats: int) -> dict[str, float]:
    """Median time of each call, the calls taking turns on the same sources."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for i in range(repeats + 1):
        for name, call in calls.items():
            source = sources[i % len(sources)]
            start = time.perf_counter()
            call(source)
            if i:  # the first round warms up
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) * 1000 for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2000)
    args = parser.parse_args()
    keep_buffers_on_heap()

    canvas = medians_ms({"ours": preprocess, "floor": floor}, canvases(20), args.repeats)
    png = medians_ms({"ours": preprocess, "floor": floor, "decode": decode_pixels}, pngs(20),
                     args.repeats)
    print(f"preprocessing, median of {args.repeats} calls")
    print(f"280x280 canvas array: ours {canvas['ours']:6.3f} ms   floor {canvas['floor']:6.3f} ms")
    print(f"PNG drawing (bytes):  ours {png['ours']:6.3f} ms   floor {png['floor']:6.3f} ms   "
          f"(decoding alone: {png['decode']:.3f} ms)")


if __name__ == "__main__":
    main()
