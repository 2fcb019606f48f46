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
