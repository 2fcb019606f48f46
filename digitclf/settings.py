"""Where digitclf keeps things: the one place that reads the `DIGITCLF_*` environment.

Everything else receives paths (a ModelStore its root, load_mnist its folder); the defaults
they fall back to come from `settings()`. A relative path is taken from the current folder.

| variable | default | what |
|---|---|---|
| `DIGITCLF_DATA` | `data/mnist/` | the four MNIST IDX files |
| `DIGITCLF_MODELS` | `models/` | the model store |
| `DIGITCLF_MY_DIGITS` | `my_digits/` | the "my digits" set of corrected drawings |
| `DIGITCLF_JOBS` | `.jobs/` in the model store | background training runs |
| `DIGITCLF_API_KEYS` | none: no key needed | the API keys file `serve` requires keys from (`--api-keys`) |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSET_DIR = Path(__file__).resolve().parent / "assets"  # the shipped detector and pair reader
DETECTOR_KERAS = ASSET_DIR / "not_a_digit.keras"  # the not-a-digit detector (training.train_detector)
DETECTOR_ONNX = ASSET_DIR / "not_a_digit.onnx"  # ... translated, as predictions run it
DETECTOR_INFO = ASSET_DIR / "not_a_digit.json"  # ... its threshold and figures
PAIR_READER_ONNX = ASSET_DIR / "pair_reader.onnx"  # the pair reader (training.train_pair_reader)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    models_dir: Path
    my_digits_dir: Path
    jobs_dir: Path | None  # None: `.jobs/` inside whichever store the runs train into
    api_keys_file: Path | None  # None: the HTTP API serves anyone

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        def path(variable: str, default: Path) -> Path:
            value = environ.get(variable)
            return Path(value).absolute() if value else default

        jobs, api_keys = environ.get("DIGITCLF_JOBS"), environ.get("DIGITCLF_API_KEYS")
        return cls(
            data_dir=path("DIGITCLF_DATA", REPO_ROOT / "data" / "mnist"),
            models_dir=path("DIGITCLF_MODELS", REPO_ROOT / "models"),
            my_digits_dir=path("DIGITCLF_MY_DIGITS", REPO_ROOT / "my_digits"),
            jobs_dir=Path(jobs).absolute() if jobs else None,
            api_keys_file=Path(api_keys).absolute() if api_keys else None,
        )


def settings() -> Settings:
    """The settings as the environment says now (read afresh: tests and the dashboard's
    training runs change it)."""
    return Settings.from_env()
