"""Running the HTTP API (digitclf.service) on uvicorn, in one or several processes.

Each process loads the model itself; `serve` checks the model name and the API key file
first, so a typo fails at once with a clear message instead of in every process.
"""

from __future__ import annotations

import functools
import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digitclf.errors import DigitclfError, ModelStoreError, UsageError
from digitclf.service.auth import load_api_keys
from digitclf.service.deadlines import BODY_TIMEOUT, HEADER_TIMEOUT, DeadlineProtocol
from digitclf.settings import settings
from digitclf.store.model_store import ModelStore

if TYPE_CHECKING:
    from fastapi import FastAPI

# uvicorn starts each worker process afresh from an import string, so serve() hands them its
# choices as one JSON object in the environment: plumbing between serve() and its own processes,
# not a setting (settings.py reads those).
_WORKER_ENV = "_DIGITCLF_WORKER"


def _worker_config() -> dict[str, Any]:
    """serve()'s choices, as its worker process was given them (read once per process, not per connection)."""
    return _parsed(os.environ[_WORKER_ENV])


@functools.lru_cache(maxsize=1)
def _parsed(text: str) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(text)
    return config


def worker_app() -> FastAPI:
    """The app of one server process, configured by serve()."""
    from digitclf.service.app import create_app

    config = _worker_config()
    keys_file = config["api_keys_file"]
    return create_app(config["model"], config["threads"],
                      api_keys=load_api_keys(Path(keys_file)) if keys_file else None,
                      body_timeout=config["body_timeout"])


class WorkerProtocol(DeadlineProtocol):
    """The HTTP protocol of a server process: DeadlineProtocol with the deadlines serve() was given."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        config = _worker_config()
        super().__init__(*args, header_timeout=config["header_timeout"], body_timeout=config["body_timeout"],
                         **kwargs)


def serve(host: str = "127.0.0.1", port: int = 8000, model_name: str | None = None,
          threads: int | None = None, workers: int | None = None, api_keys_file: Path | None = None,
          header_timeout: float = HEADER_TIMEOUT, body_timeout: float = BODY_TIMEOUT) -> None:
    """Run the API until interrupted: `workers` processes (default: one per core), each
    preprocessing `threads` images at once (default: the cores shared out among them).

    api_keys_file: require the keys in it (default: the file DIGITCLF_API_KEYS names, if any).
    header_timeout, body_timeout: seconds a client may take to send a request's headers, and
    then its body (see service.deadlines).
    """
    import uvicorn

    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers < 1 or (threads is not None and threads < 1):
        raise DigitclfError("--workers and --threads must be at least 1")
    if not all(math.isfinite(t) and t > 0 for t in (header_timeout, body_timeout)):
        raise UsageError("--header-timeout and --body-timeout must be more than 0 seconds")
    keys_file = api_keys_file or settings().api_keys_file
    keys = load_api_keys(keys_file) if keys_file else ()  # a bad file fails here, before any process starts
    store = ModelStore()
    name = model_name or store.active_name()
    if name is None:
        raise ModelStoreError(f"no model in {store.root}: train one with 'python -m digitclf train'")
    store.path(name)  # an unknown name fails here, before any process starts
    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    os.environ[_WORKER_ENV] = json.dumps({
        "model": name, "threads": threads, "header_timeout": header_timeout, "body_timeout": body_timeout,
        "api_keys_file": str(keys_file.absolute()) if keys_file else None,
    })
    guard = f"; {len(keys)} API key(s) from {keys_file} required" if keys_file else ""
    print(f"digitclf: serving model {name!r} on http://{host}:{port} (API docs at /docs){guard}", flush=True)
    uvicorn.run(f"{__name__}:worker_app", factory=True, host=host, port=port, workers=workers,
                access_log=False, http=WorkerProtocol, ws="none")
