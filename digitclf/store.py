"""The model store: one folder per model (`NAME/model.keras` + `NAME/card.json`, and
`NAME/model.onnx`, the same network for ONNX Runtime, which predictions use).

Root: `DIGITCLF_MODELS` when set, else `models/` in the repository. A model is written into a
hidden temporary folder inside the root and renamed into place only when complete, so a
training killed at any moment leaves the store as it was. The active model's name is kept
in `active.json` at the root, written the same way.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .atomic import TEMP_PREFIX, replace_atomically
from .errors import ModelStoreError
from .paths import REPO_ROOT

NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
DEFAULT_MODEL = "default"
MODEL_FILE = "model.keras"
ONNX_FILE = "model.onnx"
CARD_FILE = "card.json"
ACTIVE_FILE = "active.json"


def models_dir() -> Path:
    return Path(os.environ.get("DIGITCLF_MODELS") or REPO_ROOT / "models")


def check_name(name: str) -> str:
    """Return the name if it is a valid model name, else raise a clear error."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ModelStoreError(
            f"invalid model name {name!r}: use 1-64 letters, digits, '-' or '_'"
        )
    return name


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 with RENAME_EXCHANGE); False if unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def _write_onnx(model, path: Path) -> None:
    """The ONNX translation beside the Keras file, where the model has one."""
    from .onnx_export import UnsupportedModel, to_onnx

    try:
        path.write_bytes(to_onnx(model).SerializeToString())
    except UnsupportedModel:
        pass  # predictions fall back to the Keras model


class ModelStore:
    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else models_dir()

    # ----- reading -------------------------------------------------------------------
    def names(self) -> list[str]:
        """Complete models only: temporary folders and strays are skipped."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir()
            if NAME_PATTERN.fullmatch(p.name) and (p / MODEL_FILE).is_file()
            and (p / CARD_FILE).is_file()
        )

    def exists(self, name: str) -> bool:
        return check_name(name) in self.names()

    def path(self, name: str) -> Path:
        check_name(name)
        folder = self.root / name
        if not (folder / MODEL_FILE).is_file():
            known = ", ".join(self.names()) or "none"
            raise ModelStoreError(f"no model named {name!r} in {self.root} (models: {known})")
        return folder

    def card(self, name: str) -> dict[str, Any]:
        path = self.path(name) / CARD_FILE
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise ModelStoreError(f"model card {path} cannot be read: {e}") from None

    def cards(self) -> list[dict[str, Any]]:
        """Every model's card (name included), skipping none: an unreadable card raises."""
        return [self.card(name) for name in self.names()]

    def load(self, name: str):
        """The Keras model, loaded in safe mode (no arbitrary code from the file)."""
        from . import tf_setup  # noqa: F401
        import keras

        path = self.path(name) / MODEL_FILE
        try:
            return keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as e:  # a corrupt or foreign file: say which, not a traceback
            raise ModelStoreError(f"model file {path} cannot be loaded: {e}") from None

    def load_net(self, name: str):
        """The model as a runtime.Net for predictions: its ONNX file on ONNX Runtime when it
        has one (TensorFlow never loads), else the Keras model."""
        path = self.path(name) / ONNX_FILE
        if path.is_file():
            from .runtime import OnnxNet

            try:
                return OnnxNet(path)
            except Exception as e:
                raise ModelStoreError(f"model file {path} cannot be loaded: {e}") from None
        from .onnx_export import keras_net

        return keras_net(self.load(name))

    # ----- the active model ----------------------------------------------------------
    def active_name(self) -> str | None:
        """The chosen model, else 'default' when present, else None."""
        try:
            name = json.loads((self.root / ACTIVE_FILE).read_text())["active"]
            if name in self.names():
                return name
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return DEFAULT_MODEL if DEFAULT_MODEL in self.names() else None

    def set_active(self, name: str) -> None:
        self.path(name)
        replace_atomically(self.root / ACTIVE_FILE,
                           lambda tmp: tmp.write_text(json.dumps({"active": name}, indent=2)))

    # ----- writing -------------------------------------------------------------------
    def save(self, name: str, model, card: dict[str, Any], overwrite: bool = False) -> Path:
        """Write model + card into a temporary folder, then rename it into place."""
        check_name(name)
        if not overwrite and (self.root / name).exists():
            raise ModelStoreError(
                f"a model named {name!r} already exists: choose another name or overwrite it"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{name}-", dir=self.root))
        try:
            model.save(tmp / MODEL_FILE)
            _write_onnx(model, tmp / ONNX_FILE)
            card = {"name": name, **{k: v for k, v in card.items() if k != "name"}}
            card["model_bytes"] = (tmp / MODEL_FILE).stat().st_size
            (tmp / CARD_FILE).write_text(json.dumps(card, indent=2))
            for file in tmp.iterdir():
                with open(file, "rb") as f:
                    os.fsync(f.fileno())
            tmp.chmod(0o755)  # mkdtemp makes it private; a model folder is readable like any other
            final = self.root / name
            if not final.exists():
                os.replace(tmp, final)
            elif _exchange(tmp, final):  # overwrite: swap in one step; tmp now holds the old
                shutil.rmtree(tmp, ignore_errors=True)
            else:  # no atomic swap on this system: move the old one aside, then drop it
                old = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}old-{name}-", dir=self.root))
                os.replace(final, old / name)
                os.replace(tmp, final)
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    def delete(self, name: str) -> None:
        folder = self.path(name)
        trash = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}del-{name}-", dir=self.root))
        os.replace(folder, trash / name)  # atomic: the model vanishes from listings at once
        shutil.rmtree(trash, ignore_errors=True)
