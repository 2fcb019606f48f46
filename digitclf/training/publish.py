"""Publishing a trained model: into the store with its ONNX translation, which predictions
run on, and optionally made the active model."""

from __future__ import annotations

from pathlib import Path

from digitclf.convert.onnx_graph import UnsupportedModel, to_onnx
from digitclf.store.model_store import ModelStore
from digitclf.training.train import TrainedModel


def publish(trained: TrainedModel, store: ModelStore, name: str, *, overwrite: bool = False,
            activate: bool = False) -> Path:
    """Save the model and its card as `name` (and make it active); returns its folder.
    A model `to_onnx` cannot translate is saved without one and runs on TensorFlow. A model
    far below a useful accuracy is saved but not made active: RefusedError, after saving."""
    try:
        onnx = to_onnx(trained.model).SerializeToString()
    except UnsupportedModel:
        onnx = None
    path = store.save(name, trained.model, trained.card, onnx=onnx, overwrite=overwrite)
    if activate:
        store.set_active(name)
    return path
