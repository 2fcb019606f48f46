"""Running the HTTP API (digitclf.service) on uvicorn, in one or several processes.

Each process loads the model itself; `serve` checks the model name first, so a typo fails
at once with a clear message instead of in every process.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from digitclf.errors import DigitclfError, ModelStoreError
from digitclf.store.model_store import ModelStore

if TYPE_CHECKING:
    from fastapi import FastAPI

_MODEL_ENV, _THREADS_ENV = "DIGITCLF_SERVE_MODEL", "DIGITCLF_SERVE_THREADS"


def worker_app() -> FastAPI:
    """The app of one server process, configured by serve() through the environment."""
    from digitclf.service.app import create_app

    return create_app(os.environ[_MODEL_ENV], int(os.environ[_THREADS_ENV]))


def serve(host: str = "127.0.0.1", port: int = 8000, model_name: str | None = None,
          threads: int | None = None, workers: int | None = None) -> None:
    """Run the API until interrupted: `workers` processes (default: one per core), each
    preprocessing `threads` images at once (default: the cores shared out among them)."""
    import uvicorn

    workers = (os.cpu_count() or 1) if workers is None else workers
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
