"""Running the HTTP API (digitclf.service) on uvicorn, in one or several processes.

Each process loads the model itself; `serve` checks the model name first, so a typo fails
at once with a clear message instead of in every process.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .errors import DigitclfError, ModelStoreError
from .store import ModelStore

if TYPE_CHECKING:
    from fastapi import FastAPI

_MODEL_ENV, _THREADS_ENV = "DIGITCLF_SERVE_MODEL", "DIGITCLF_SERVE_THREADS"


def _single_threaded_tensorflow() -> None:
    """Each process runs one batch at a time through the model, and the processes share the
    cores: TensorFlow's own thread pools would only compete with them (and with preprocessing)."""
    from . import tf_setup  # noqa: F401
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def worker_app() -> FastAPI:
    """The app of one server process, configured by serve() through the environment."""
    from .service import create_app

    _single_threaded_tensorflow()
    return create_app(os.environ[_MODEL_ENV], int(os.environ[_THREADS_ENV]))


def serve(host: str = "127.0.0.1", port: int = 8000, model_name: str | None = None,
          threads: int | None = None, workers: int = 1) -> None:
    """Run the API until interrupted: `workers` processes, each preprocessing `threads` images
    at once (default: the CPU count shared out among the processes)."""
    import uvicorn

    if workers < 1 or (threads is not None and threads < 1):
        raise DigitclfError("--workers and --threads must be at least 1")
    store = ModelStore()
    name = model_name or store.active_name()
    if name is None:
        raise ModelStoreError(f"no model in {store.root}: train one with 'python -m digitclf train'")
    store.path(name)  # an unknown name fails here, before any process starts
    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    os.environ[_MODEL_ENV], os.environ[_THREADS_ENV] = name, str(threads)
    print(f"digitclf: serving model {name!r} on http://{host}:{port} (API docs at /docs)", flush=True)
    uvicorn.run(f"{__name__}:worker_app", factory=True, host=host, port=port, workers=workers,
                access_log=False)
