"""The model store: one folder per model (`NAME/model.keras` + `NAME/card.json`, and
`NAME/model.onnx`, the same network for ONNX Runtime, which predictions use).

Root: `settings().models_dir` (`DIGITCLF_MODELS`, else `models/` in the repository). A
model is written into a hidden temporary folder inside the root and renamed into place
only when complete, so a training killed at any moment leaves the store as it was. The
active model's name is kept in `active.json` at the root, written the same way.

The store keeps files; it does not translate models (digitclf.convert) or choose how
they run (digitclf.reading).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from digitclf.errors import ModelStoreError
from digitclf.settings import settings
from digitclf.store.atomic import remove_folder, replace_atomically, write_folder_atomically
from digitclf.store.card import ModelCard
from digitclf.store.names import DEFAULT_MODEL, NAME_PATTERN, check_name

if TYPE_CHECKING:
    import keras

MODEL_FILE = "model.keras"
ONNX_FILE = "model.onnx"
CARD_FILE = "card.json"
ACTIVE_FILE = "active.json"


class ModelStore:
    def __init__(self, root: str | os.PathLike[str] | None = None):
        self.root = Path(root) if root is not None else settings().models_dir

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

    def card(self, name: str) -> ModelCard:
        path = self.path(name) / CARD_FILE
        try:
            text = path.read_text()
        except (OSError, ValueError) as e:
            raise ModelStoreError(f"model card {path} cannot be read: {e}") from None
        return ModelCard.from_json(text, source=f"model card {path}")

    def cards(self) -> list[ModelCard]:
        """Every model's card (name included), skipping none: an unreadable card raises."""
        return [self.card(name) for name in self.names()]

    def load(self, name: str) -> keras.Model:
        """The Keras model, loaded in safe mode (no arbitrary code from the file)."""
        import digitclf.tf_setup  # noqa: F401  (quiets TensorFlow: before it loads)

        import keras

        path = self.path(name) / MODEL_FILE
        try:
            return keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as e:  # a corrupt or foreign file: say which, not a traceback
            raise ModelStoreError(f"model file {path} cannot be loaded: {e}") from None

    def onnx_path(self, name: str) -> Path | None:
        """The model's ONNX translation, where it has one."""
        path = self.path(name) / ONNX_FILE
        return path if path.is_file() else None

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
    def save(self, name: str, model: keras.Model, card: ModelCard, *, onnx: bytes | None = None,
             overwrite: bool = False) -> Path:
        """Write the model, its ONNX translation (when given) and its card into a temporary
        folder, then rename it into place."""
        check_name(name)
        final = self.root / name
        if not overwrite and final.exists():
            raise ModelStoreError(
                f"a model named {name!r} already exists: choose another name or overwrite it"
            )

        def write(folder: Path) -> None:
            model.save(folder / MODEL_FILE)
            if onnx is not None:
                (folder / ONNX_FILE).write_bytes(onnx)
            written = dataclasses.replace(card, name=name,
                                          model_bytes=(folder / MODEL_FILE).stat().st_size)
            (folder / CARD_FILE).write_text(written.to_json())

        try:
            write_folder_atomically(final, write, overwrite=overwrite)
        except FileExistsError:
            raise ModelStoreError(
                f"a model named {name!r} already exists: choose another name or overwrite it"
            ) from None
        return final

    def delete(self, name: str) -> None:
        remove_folder(self.path(name))
