"""Inference on ONNX Runtime: a fraction of TensorFlow's per-call cost, and no TensorFlow.

A Keras call costs about a millisecond of dispatch even for one small image; ONNX Runtime
runs our whole net in about a tenth of that, and importing it takes a tenth of a second
where TensorFlow takes three. Models get here as ONNX graphs written by digitclf.convert.onnx_graph.

    net = OnnxNet(path_or_bytes)               # float32 (N, 28, 28) -> numpy (N, outputs)
    probabilities = run_batched(net, images)   # many images, both cores
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort

CHUNK = 128  # images per call in run_batched: small enough to stay in cache
WORKERS = 2  # calls at once in run_batched (one thread each): one per core
TOGETHER_MIN = 8  # images from which run_together hands nets to threads (at 4 the hand-over costs more than it saves)

Net = Callable[[np.ndarray], np.ndarray]


class OnnxNet:
    """An ONNX graph on ONNX Runtime: float32 images (N, 28, 28) (or the size the graph
    takes) in, numpy (N, outputs) out."""

    def __init__(self, model: bytes | Path):
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one image is too little work to share out
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        source = str(model) if isinstance(model, Path) else model
        self._session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self._output = self._session.get_outputs()[0].name

    def __call__(self, images: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(images, dtype=np.float32)
        return self._session.run([self._output], {self._input: x})[0]


_pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="digitclf-inference")


def run_batched(net: Net, images: np.ndarray) -> np.ndarray:
    """`net` over many images, CHUNK at a time on WORKERS threads (ONNX Runtime releases
    the GIL while it computes)."""
    chunks = [images[i : i + CHUNK] for i in range(0, len(images), CHUNK)]
    if len(chunks) <= 1:
        return net(images)
    return np.concatenate(list(_pool.map(net, chunks)))


def run_together(nets: Sequence[Net], images: np.ndarray) -> list[np.ndarray]:
    """Each of `nets` on the same images: at once on WORKERS threads when there are at least
    TOGETHER_MIN images (a number's candidate parts), else one after the other."""
    if len(images) < TOGETHER_MIN:
        return [net(images) for net in nets]
    return list(_pool.map(lambda net: net(images), nets))
