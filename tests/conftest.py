"""Shared fixtures: the shipped default model, a tiny freshly trained model, and isolated stores."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytest_plugins = ["browser"]  # the dashboard, browser and page fixtures of the browser tests


def run_cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m digitclf ARGS` as a user runs it, from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "digitclf", *args], cwd=REPO, capture_output=True, text=True,
        env={**os.environ, **(env or {})}, timeout=timeout,
    )


@pytest.fixture(scope="session")
def default_predictor():
    """The shipped default model, read from the repository's store."""
    from digitclf.reading.predictor import load_predictor
    from digitclf.store.model_store import ModelStore

    return load_predictor("default", ModelStore(REPO / "models"))


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory) -> Path:
    """A store holding one tiny model ('tiny') trained for real, in seconds."""
    root = tmp_path_factory.mktemp("models")
    result = run_cli("train", "--preset", "fast", "--name", "tiny", "--train-subset", "1000",
                     "--epochs", "1", "--batch-size", "32", "--no-augment", env={"DIGITCLF_MODELS": str(root)})
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture
def store_env(tmp_path, tiny_store, monkeypatch) -> Path:
    """A private copy of the tiny store, selected through DIGITCLF_MODELS."""
    root = tmp_path / "models"
    shutil.copytree(tiny_store, root)
    monkeypatch.setenv("DIGITCLF_MODELS", str(root))
    return root


# What damage_store breaks, folder by folder, and the words of the reason each is named with.
DAMAGE = {
    "no-card": "card.json is missing",
    "bad-json": "card.json is not valid JSON",
    "cut-card": "card.json is not valid JSON",
    "unreadable-card": "card.json cannot be read",
    "no-model": "model.keras is missing",
    "cut-keras": "model.keras is damaged or cut short",
    "cut-onnx": "model.onnx is damaged or cut short",
    "wide-keras": "model.keras takes inputs of shape (N, 32, 32), not 28x28 images",
    "wide-onnx": "model.onnx takes inputs of shape (N, 32, 32), not 28x28 images",
}


def damage_store(root: Path, good: str = "tiny") -> None:
    """Beside the good model `good`, a broken copy of it per DAMAGE entry, and strays: a
    file, a folder of notes, an empty folder with a name no model may have, and a dead
    writer's temporary folder."""
    import keras
    from onnx import TensorProto, helper

    for name in DAMAGE:
        shutil.copytree(root / good, root / name)

    def cut(path: Path) -> None:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    (root / "no-card" / "card.json").unlink()
    (root / "bad-json" / "card.json").write_text("{")
    cut(root / "cut-card" / "card.json")
    (root / "unreadable-card" / "card.json").unlink()
    (root / "unreadable-card" / "card.json").mkdir()  # unreadable even for root, unlike chmod 000
    (root / "no-model" / "model.keras").unlink()
    (root / "no-model" / "model.onnx").unlink()
    cut(root / "cut-keras" / "model.keras")
    cut(root / "cut-onnx" / "model.onnx")
    wide = keras.Input((32, 32))
    keras.Model(wide, keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(wide))).save(
        root / "wide-keras" / "model.keras")
    (root / "wide-keras" / "model.onnx").unlink()
    graph = helper.make_graph(
        [helper.make_node("Identity", ["image"], ["out"])], "wide",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 32, 32])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 32, 32])])
    (root / "wide-onnx" / "model.onnx").write_bytes(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())
    (root / "notes.txt").write_text("not a model")
    (root / "stuff").mkdir()
    (root / "stuff" / "readme.md").write_text("nor is this")
    (root / "has space").mkdir()
    (root / ".tmp-p999999999-half-x1y2z3").mkdir()  # pid beyond pid_max: its writer is gone
