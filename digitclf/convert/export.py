"""Export a stored model in a versioned layout that model servers watch.

    savedmodel:  OUTDIR/<version>/saved_model.pb + variables/   (TensorFlow Serving)
    onnx:        OUTDIR/<version>/model.onnx                    (Triton, ONNX Runtime)

SavedModel signature `serving_default`: `images` float32 (N, 28, 28), MNIST convention (ink
0..255 on 0) -> `probabilities` float32 (N, 10); the ONNX graph has the input `image` and the
same output. The version folder is written under a hidden temporary name and renamed into
place when complete, so a watching server never sees half a model. `export_zip` gives the
same export as a zip to download (the dashboard's Models page).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from digitclf.errors import DigitclfError, ModelStoreError, UsageError
from digitclf.store.atomic import write_folder_atomically
from digitclf.store.model_store import ModelStore, zip_folder

FORMATS = ("savedmodel", "onnx")
SIGNATURE = "serving_default"
INPUT_NAME = "images"
OUTPUT_NAME = "probabilities"


class ExportError(DigitclfError):
    """An unknown format or a version folder that exists already."""


def next_version(outdir: Path) -> int:
    """One more than the highest numbered folder in outdir (1 for none)."""
    versions = [int(p.name) for p in outdir.iterdir() if p.name.isdigit()] if outdir.is_dir() else []
    return max(versions, default=0) + 1


def write_savedmodel(model, path: Path) -> None:
    """Write a Keras model taking (N, 28, 28) float32 as a SavedModel at path."""
    import digitclf.tf_setup  # noqa: F401  (quiets TensorFlow: before it loads)

    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name=SIGNATURE,
        fn=lambda images: {OUTPUT_NAME: model(images, training=False)},
        input_signature=[tf.TensorSpec((None, 28, 28), tf.float32, name=INPUT_NAME)],
    )
    archive.write_out(str(path), verbose=False)


def write_onnx(model, path: Path) -> None:
    """Write the model's ONNX translation as path/model.onnx (path: an empty folder)."""
    from digitclf.convert.onnx_graph import UnsupportedModel, to_onnx

    try:
        proto = to_onnx(model)
    except UnsupportedModel as e:
        raise ExportError(f"this model cannot be exported as ONNX: {e}") from None
    (path / "model.onnx").write_bytes(proto.SerializeToString())


def _check_format(format: str) -> None:
    if format not in FORMATS:
        raise UsageError(f"unknown export format {format!r}: choose one of {', '.join(FORMATS)}")


def _write(model, format: str, path: Path) -> None:
    (write_savedmodel if format == "savedmodel" else write_onnx)(model, path)


def export_model(outdir: str | os.PathLike[str], model_name: str | None = None, format: str = "savedmodel",
                 version: int | None = None) -> Path:
    """Export the named (else the active) model to outdir/<version>/; returns that folder."""
    _check_format(format)
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise ExportError(f"{outdir} exists and is not a folder")
    version = next_version(outdir) if version is None else version
    if version < 1:
        raise UsageError(f"version must be a positive integer, got {version}")
    final = outdir / str(version)
    if final.exists():
        raise ExportError(f"{final} already exists: pick another --version or remove it")
    store = ModelStore()
    name = model_name or store.active_name()
    if name is None:
        raise ModelStoreError(f"no model in {store.root}: train one with 'python -m digitclf train'")
    model = store.load(name)
    write_folder_atomically(final, lambda tmp: _write(model, format, tmp))
    return final


def export_zip(model_name: str, format: str = "savedmodel", store: ModelStore | None = None) -> bytes:
    """The model exported as export_model writes it, as a zip holding NAME/1/...: unzipped
    into a TensorFlow Serving or Triton model root, it is version 1 of the model NAME. The
    export is written into a temporary folder, removed afterwards."""
    _check_format(format)
    model = (store or ModelStore()).load(model_name)
    with tempfile.TemporaryDirectory(prefix="digitclf-export-") as tmp:
        version = Path(tmp) / "1"
        version.mkdir()
        _write(model, format, version)
        return zip_folder(Path(tmp), model_name)
