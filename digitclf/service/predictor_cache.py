"""Predictors by model name, each loaded from the store once and then kept (thread-safe)."""

from __future__ import annotations

import threading

from digitclf.errors import ModelStoreError
from digitclf.reading.predictor import Predictor, load_predictor
from digitclf.store.model_store import ModelStore


class PredictorCache:
    def __init__(self, default_name: str | None = None, store: ModelStore | None = None):
        """Loads the default model at once: the named one, else the store's active one."""
        self.store = store or ModelStore()
        self.default = load_predictor(default_name, self.store)
        self._predictors = {self.default.name: self.default}
        self._lock = threading.Lock()

    def get(self, name: str | None = None) -> Predictor:
        """The named model, else the default one; raises ModelStoreError for an unknown name
        and BrokenModelError, with why, for a broken one."""
        if name is None:
            return self.default
        predictor = self._predictors.get(name)
        if predictor is None:
            known = self.store.names()
            if name not in known:  # said without the store's folder, which clients need not see
                if self.store.exists(name):
                    self.store.card(name)  # broken: raises BrokenModelError with the reason
                raise ModelStoreError(f"no model named {name!r} (models: {', '.join(known) or 'none'})")
            with self._lock:
                if name not in self._predictors:
                    self._predictors[name] = load_predictor(name, self.store)
                predictor = self._predictors[name]
        return predictor
