"""The model store: one folder per model (`NAME/model.keras` + `NAME/card.json`, and
`NAME/model.onnx`, the same network for ONNX Runtime, which predictions use).

Root: `settings().models_dir` (`DIGITCLF_MODELS`, else `models/` in the repository). A
model is written into a hidden temporary folder inside the root and renamed into place
only when complete, so a training killed at any moment leaves the store as it was; the
next write removes what killed writers left (atomic.remove_stale_temporaries). A
training holds its model's name for its whole run (`claim`), so a second writer of that
name is refused at once instead of mixing in. The active model's name is kept in
`active.json` at the root, written the same way.

Damage is expected, not fatal: `entries()` names every model folder with its card or the
reason it cannot be used (a missing, unreadable or damaged card, a missing, cut-short or
damaged model file, a model of another input shape, a Lambda layer, which would run code
from the file); `names()` and `cards()` are the usable models, and using a broken one
raises BrokenModelError with its reason. Stray files and folders are skipped.

Guards: the active model and the shipped 'default' are not deleted, and a model under
card.USEFUL_ACCURACY is not made active, unless forced (RefusedError says why).

The store keeps files; it does not translate models (digitclf.convert) or choose how
they run (digitclf.reading).
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import threading
import zipfile
import zlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from digitclf.errors import BrokenModelError, ModelBusyError, ModelStoreError, RefusedError
from digitclf.settings import settings
from digitclf.store.atomic import (
    remove_folder,
    remove_stale_temporaries,
    replace_atomically,
    write_folder_atomically,
)
from digitclf.store.card import ModelCard, accuracy_warning
from digitclf.store.names import DEFAULT_MODEL, NAME_PATTERN, check_name

if TYPE_CHECKING:
    import keras

MODEL_FILE = "model.keras"
ONNX_FILE = "model.onnx"
CARD_FILE = "card.json"
ACTIVE_FILE = "active.json"
LOCKS_DIR = ".locks"  # one lock file per model name being written, and the store's own
STORE_LOCK = ".store.lock"  # not a model name: those never start with '.'
IMAGE_SHAPE = [28, 28]  # what every model takes, after the batch axis
CLASSES = 10


@dataclass(frozen=True)
class StoredModel:
    """One model folder: its card, or why it cannot be used."""

    name: str
    card: ModelCard | None  # None when broken
    problem: str | None = None  # a sentence, when broken

    @property
    def broken(self) -> bool:
        return self.problem is not None


class ModelStore:
    def __init__(self, root: str | os.PathLike[str] | None = None):
        self.root = Path(root) if root is not None else settings().models_dir

    # ----- reading -------------------------------------------------------------------
    def entries(self) -> list[StoredModel]:
        """Every model folder, usable or broken, by name. A folder holding none of a
        model's files, a hidden or temporary one and a plain file are strays, skipped."""
        if not self.root.is_dir():
            return []
        return [_inspect(folder) for folder in sorted(self.root.iterdir()) if _is_model_folder(folder)]

    def names(self) -> list[str]:
        """The usable models (broken ones are in entries())."""
        return [e.name for e in self.entries() if not e.broken]

    def exists(self, name: str) -> bool:
        """Whether a model folder of that name is there, usable or broken."""
        return _is_model_folder(self.root / check_name(name))

    def path(self, name: str) -> Path:
        """The model's folder, usable or broken (so that a broken one can be deleted)."""
        folder = self.root / check_name(name)
        if not _is_model_folder(folder):
            known = ", ".join(self.names()) or "none"
            raise ModelStoreError(f"no model named {name!r} in {self.root} (models: {known})")
        return folder

    def _usable(self, name: str) -> StoredModel:
        entry = _inspect(self.path(name))
        if entry.problem is not None:
            raise BrokenModelError(f"model {name!r} cannot be used: {entry.problem}")
        return entry

    def card(self, name: str) -> ModelCard:
        card = self._usable(name).card
        assert card is not None, "a usable model has a card"
        return card

    def cards(self) -> list[ModelCard]:
        """The usable models' cards (broken ones are in entries())."""
        return [e.card for e in self.entries() if e.card is not None and not e.broken]

    def load(self, name: str) -> keras.Model:
        """The Keras model, loaded in safe mode: no code from the file runs (a Lambda layer
        is refused before Keras sees the file, and by Keras too)."""
        self._usable(name)
        import digitclf.tf_setup  # noqa: F401  (quiets TensorFlow: before it loads)

        import keras

        path = self.root / name / MODEL_FILE
        try:
            return keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as e:  # a corrupt or foreign file: say which, not a traceback
            raise BrokenModelError(f"model {name!r} cannot be loaded from {MODEL_FILE}: "
                                   f"{_first_line(e)}") from None

    def onnx_path(self, name: str) -> Path | None:
        """The model's ONNX translation, where it has one."""
        self._usable(name)
        path = self.root / name / ONNX_FILE
        return path if path.is_file() else None

    def zip(self, name: str) -> bytes:
        """The model's folder as a zip: NAME/model.keras, NAME/model.onnx (where it has one)
        and NAME/card.json, so that unzipped into a store it is that model again. A broken
        model is refused (BrokenModelError)."""
        self._usable(name)
        return zip_folder(self.root / name, name, only=(MODEL_FILE, ONNX_FILE, CARD_FILE))

    # ----- the active model ----------------------------------------------------------
    def _chosen(self) -> str | None:
        """The name active.json holds, if it holds one."""
        try:
            name = json.loads((self.root / ACTIVE_FILE).read_text())["active"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return name if isinstance(name, str) and NAME_PATTERN.fullmatch(name) else None

    def active_name(self) -> str | None:
        """The chosen model while its folder is there (broken or not: using it says why),
        else 'default' when present, else None."""
        chosen = self._chosen()
        if chosen is not None and self.exists(chosen):
            return chosen
        return DEFAULT_MODEL if self.exists(DEFAULT_MODEL) else None

    def set_active(self, name: str, *, force: bool = False) -> None:
        """Make `name` the active model. A broken model is refused; one far below a useful
        accuracy (card.USEFUL_ACCURACY) is refused unless `force`."""
        with self._store_lock():
            warning = accuracy_warning(self.card(name).test_accuracy)
            if warning is not None and not force:
                raise RefusedError(f"model {name!r} is not made active: it {warning}")
            replace_atomically(self.root / ACTIVE_FILE,
                               lambda tmp: tmp.write_text(json.dumps({"active": name}, indent=2)))

    # ----- writing -------------------------------------------------------------------
    @contextlib.contextmanager
    def claim(self, name: str) -> Iterator[None]:
        """Hold `name` for a write that takes a while (a training and then its save): while
        it is held, another process's claim of the name is refused with ModelBusyError. The
        lock is the operating system's, so it ends with the process however that ends (even
        kill -9). Claims nest within a process."""
        lock = (self.root / LOCKS_DIR / f"{check_name(name)}.lock").absolute()
        with _claims_lock:
            depth, file = _claims.get(lock) or (0, None)
            if file is None:
                file = _lock_or_refuse(lock, name)
            _claims[lock] = (depth + 1, file)
        try:
            yield
        finally:
            with _claims_lock:
                depth, file = _claims.pop(lock)
                if depth > 1:
                    _claims[lock] = (depth - 1, file)
                else:
                    file.close()  # releases the lock

    @contextlib.contextmanager
    def _store_lock(self) -> Iterator[None]:
        """The whole store, across processes, while the active model is checked and changed."""
        lock = self.root / LOCKS_DIR / STORE_LOCK
        lock.parent.mkdir(parents=True, exist_ok=True)
        with open(lock, "a") as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            yield

    def save(self, name: str, model: keras.Model, card: ModelCard, *, onnx: bytes | None = None,
             overwrite: bool = False) -> Path:
        """Write the model, its ONNX translation (when given) and its card into a temporary
        folder, then rename it into place. Refused while another process holds the name
        (see claim); what killed writers left in the store is removed first."""
        check_name(name)
        final = self.root / name
        exists = ModelStoreError(
            f"a model named {name!r} already exists: choose another name or overwrite it")

        def write(folder: Path) -> None:
            model.save(folder / MODEL_FILE)
            if onnx is not None:
                (folder / ONNX_FILE).write_bytes(onnx)
            written = replace(card, name=name, model_bytes=(folder / MODEL_FILE).stat().st_size)
            (folder / CARD_FILE).write_text(written.to_json())

        with self.claim(name):
            remove_stale_temporaries(self.root)
            if not overwrite and final.exists():
                raise exists
            try:
                write_folder_atomically(final, write, overwrite=overwrite)
            except FileExistsError:
                raise exists from None
        return final

    def delete(self, name: str, *, force: bool = False) -> str | None:
        """Delete a model (a broken one too); returns the active model afterwards. The
        active model and the shipped 'default' are refused unless `force`, and any model
        another process is writing. Deleting the chosen active model by force makes the
        store fall back to 'default' (if still there)."""
        folder = self.path(name)
        with self.claim(name), self._store_lock():
            if not force and name == self.active_name():
                raise RefusedError(f"model {name!r} is the active model: make another model "
                                   "active first")
            if not force and name == DEFAULT_MODEL:
                raise RefusedError(f"model {name!r} is the shipped model, used when no other is "
                                   "active: it is kept")
            remove_stale_temporaries(self.root)
            remove_folder(folder)
            if self._chosen() == name:
                (self.root / ACTIVE_FILE).unlink(missing_ok=True)
            return self.active_name()


def zip_folder(folder: Path, inside: str, only: Collection[str] | None = None) -> bytes:
    """The files under `folder` (only those named in `only`, when given) as a zip in which
    they lie under one folder, `inside`."""
    files = sorted(p for p in folder.rglob("*") if p.is_file()
                   and (only is None or p.relative_to(folder).as_posix() in only))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, f"{inside}/{path.relative_to(folder).as_posix()}")
    return buffer.getvalue()


# ----- claims: the names this process is writing ----------------------------------------------
_claims: dict[Path, tuple[int, IO[str]]] = {}  # lock file -> (nesting depth, the open lock)
_claims_lock = threading.Lock()


def _lock_or_refuse(lock: Path, name: str) -> IO[str]:
    """The lock file, opened and locked; ModelBusyError when another process holds it."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    file = open(lock, "a+")
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.seek(0)
        owner = file.read().strip()
        file.close()
        by = f"process {owner}" if owner.isdigit() else "another process"
        raise ModelBusyError(f"model {name!r} is being written by {by} (a training in progress): "
                             "wait for it to finish or choose another name") from None
    file.seek(0)
    file.truncate()
    file.write(f"{os.getpid()}\n")
    file.flush()
    return file


# ----- checking a model folder -----------------------------------------------------------------
def _is_model_folder(folder: Path) -> bool:
    """A visible folder holding a card or a model file (else a stray)."""
    return (not folder.name.startswith(".") and folder.is_dir()
            and any((folder / f).exists() for f in (CARD_FILE, MODEL_FILE, ONNX_FILE)))


_inspected: dict[tuple, StoredModel] = {}  # by the folder and its files' stat: checked once
_MAX_INSPECTED = 512


def _inspect(folder: Path) -> StoredModel:
    """The folder's StoredModel, checked again only when one of its files changed."""
    def stamp(path: Path) -> tuple[int, ...] | None:
        try:
            s = path.stat()
        except OSError:
            return None
        return s.st_ino, s.st_size, s.st_mtime_ns, s.st_ctime_ns, s.st_mode

    key = (str(folder.absolute()), *(stamp(folder / f) for f in (CARD_FILE, MODEL_FILE, ONNX_FILE)))
    entry = _inspected.get(key)
    if entry is None:
        if len(_inspected) >= _MAX_INSPECTED:
            _inspected.clear()
        entry = _inspected[key] = _check(folder)
    return entry


def _check(folder: Path) -> StoredModel:
    name = folder.name
    if not NAME_PATTERN.fullmatch(name):
        return StoredModel(name, None, "its folder name is not a model name (1-64 letters, "
                                       "digits, '-' or '_'): rename it")
    card_path = folder / CARD_FILE
    if not card_path.exists():
        return StoredModel(name, None, f"{CARD_FILE} is missing")
    try:
        card = ModelCard.from_json(card_path.read_text(), source=CARD_FILE)
    except (OSError, UnicodeDecodeError) as e:
        return StoredModel(name, None, f"{CARD_FILE} cannot be read ({_first_line(e)})")
    except ModelStoreError as e:
        return StoredModel(name, None, str(e))
    card = replace(card, name=name)  # the folder is the name it is loaded by
    problem = _keras_problem(folder / MODEL_FILE)
    if problem is None and (folder / ONNX_FILE).exists():
        problem = _onnx_problem(folder / ONNX_FILE)
    return StoredModel(name, card if problem is None else None, problem)


def _keras_problem(path: Path) -> str | None:
    """What is wrong with a .keras file (a zip of config.json and the weights), else None."""
    if not path.is_file():
        return f"{MODEL_FILE} is missing"
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
            archive.getinfo("model.weights.h5")
            config = json.loads(archive.read("config.json"))
    except KeyError as e:
        return f"{MODEL_FILE} is not a Keras model file (no {e.args[0] if e.args else 'member'})"
    except (OSError, EOFError, ValueError, RuntimeError, zipfile.BadZipFile, zlib.error) as e:
        return f"{MODEL_FILE} is damaged or cut short ({_first_line(e)})"
    if damaged is not None:
        return f"{MODEL_FILE} is damaged ({damaged} fails its checksum)"
    if _has_lambda(config):
        return f"{MODEL_FILE} holds a Lambda layer, code that loading would run: it is not loaded"
    shape = _keras_input_shape(config)
    if shape is None:
        return f"{MODEL_FILE} does not declare one input shape"
    if list(shape[1:]) != IMAGE_SHAPE:
        return f"{MODEL_FILE} takes inputs of shape {_shape(shape)}, not 28x28 images"
    return None


def _has_lambda(config: Any) -> bool:
    """Whether a Keras config holds a Lambda layer or a serialized Python function anywhere."""
    if isinstance(config, dict):
        if config.get("class_name") in ("Lambda", "__lambda__", "function"):
            return True
        return any(_has_lambda(v) for v in config.values())
    if isinstance(config, list):
        return any(_has_lambda(v) for v in config)
    return False


def _keras_input_shape(config: Any) -> list | None:
    """The model's one input shape (batch axis first) from its config.json."""
    try:
        built = (config.get("build_config") or {}).get("input_shape")
        if isinstance(built, list):
            return built
        shapes = [layer["config"].get("batch_shape") for layer in config["config"]["layers"]
                  if layer.get("class_name") == "InputLayer"]
    except (AttributeError, KeyError, TypeError):
        return None
    return shapes[0] if len(shapes) == 1 and isinstance(shapes[0], list) else None


def _onnx_problem(path: Path) -> str | None:
    """What is wrong with an ONNX file (unreadable, cut short, other shapes), else None:
    ONNX Runtime, which predictions run on, must take it."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # a check only
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception:  # ONNX Runtime's own classes, with no public base; its message names the full path
        return f"{ONNX_FILE} is damaged or cut short (ONNX Runtime cannot load it)"
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(outputs) != 1:
        return f"{ONNX_FILE} has {len(inputs)} inputs and {len(outputs)} outputs, not one of each"
    shape, out = [_dim(d) for d in inputs[0].shape], [_dim(d) for d in outputs[0].shape]
    if shape[1:] != IMAGE_SHAPE:
        return f"{ONNX_FILE} takes inputs of shape {_shape(shape)}, not 28x28 images"
    if out[1:] != [CLASSES]:
        return f"{ONNX_FILE} gives outputs of shape {_shape(out)}, not {CLASSES} probabilities"
    return None


def _dim(d: object) -> int | None:
    return d if isinstance(d, int) else None  # a named or unknown axis: None


def _shape(shape: list) -> str:
    return "(" + ", ".join("N" if d is None else str(d) for d in shape) + ")"


def _first_line(error: BaseException) -> str:
    """An exception's message in one line (libraries' messages run over many)."""
    message = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    lines = message.strip().splitlines()  # (an OSError's strerror leaves out the full path)
    text = lines[0].strip() if lines else type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."
