"""Export for TensorFlow Serving and ONNX servers: a versioned SavedModel or ONNX graph that answers
as the Keras model does, written into a folder or given as a zip; and a model's folder as a zip."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from digitclf.convert.export import ExportError, export_model, export_zip, next_version
from digitclf.errors import BrokenModelError, ModelStoreError, UsageError
from digitclf.store.card import ModelCard
from digitclf.store.model_store import ModelStore
from digitclf.training.data import load_mnist


def test_savedmodel_gives_the_keras_models_probabilities(tmp_path):
    import tensorflow as tf

    path = export_model(tmp_path / "digitclf", "default", "savedmodel")
    assert path == tmp_path / "digitclf" / "1" and (path / "saved_model.pb").is_file()
    assert [p.name for p in path.parent.iterdir()] == ["1"]  # no temporary folder left behind

    serving = tf.saved_model.load(str(path)).signatures["serving_default"]
    (spec,) = serving.structured_input_signature[1].values()
    assert spec.name == "images" and spec.dtype == tf.float32 and spec.shape.as_list() == [None, 28, 28]
    images = load_mnist("test")[0][:100].astype(np.float32)
    exported = serving(images=tf.constant(images))["probabilities"].numpy()
    keras_model = ModelStore().load("default")
    np.testing.assert_allclose(exported, keras_model(images, training=False).numpy(), atol=1e-5)
    assert exported.shape == (100, 10)


def test_next_version_counts_only_numbered_folders(tmp_path):
    assert next_version(tmp_path / "missing") == 1
    for name in ("1", "3", "notes", ".tmp-export-x"):
        (tmp_path / name).mkdir()
    assert next_version(tmp_path) == 4


def test_export_command_and_its_errors(tmp_path):
    out = tmp_path / "digitclf"
    result = run_cli("export", "--model", "default", "--format", "savedmodel", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"exported to {out / '1'}"

    again = run_cli("export", "--model", "default", "--version", "1", str(out))
    assert again.returncode == 1 and f"{out / '1'} already exists" in again.stderr
    wrong = run_cli("export", "--model", "default", "--format", "tflite", str(out))
    assert wrong.returncode == 2 and "invalid choice: 'tflite'" in wrong.stderr
    assert "Traceback" not in again.stderr + wrong.stderr
    assert sorted(p.name for p in out.iterdir()) == ["1"]


def test_onnx_export_gives_the_keras_models_probabilities(tmp_path):
    import onnxruntime

    path = export_model(tmp_path / "digitclf", "default", "onnx")
    assert path == tmp_path / "digitclf" / "1" and [p.name for p in path.iterdir()] == ["model.onnx"]
    session = onnxruntime.InferenceSession(str(path / "model.onnx"), providers=["CPUExecutionProvider"])
    (image,) = session.get_inputs()
    assert image.name == "image" and image.shape[1:] == [28, 28]
    images = load_mnist("test")[0][:100].astype(np.float32)
    exported = session.run(None, {"image": images})[0]
    keras_model = ModelStore().load("default")
    np.testing.assert_allclose(exported, keras_model(images, training=False).numpy(), atol=1e-5)


# ----- as zips to download (the dashboard's Models page) ---------------------------------------
def _tiny_store(root, hidden_activation: str = "relu") -> ModelStore:
    """A store holding 'tiny', a small real Keras network (untrained: its random weights give
    varied probabilities), saved with its ONNX translation where it has one."""
    import digitclf.tf_setup  # noqa: F401

    import keras

    from digitclf.convert.onnx_graph import UnsupportedModel, to_onnx

    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28))
    hidden = keras.layers.Dense(16, activation=hidden_activation)(
        keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inputs)))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(hidden))
    try:
        onnx = to_onnx(model).SerializeToString()
    except UnsupportedModel:
        onnx = None
    store = ModelStore(root)
    store.save("tiny", model, ModelCard(name="tiny", architecture="mlp"), onnx=onnx)
    return store


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """The folder tempfile writes into, to see what an export leaves behind (TensorFlow
    writes its own files there too)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_model_zip_is_its_folder_and_a_broken_model_is_refused(tmp_path):
    store = _tiny_store(tmp_path / "models")
    (store.root / "tiny" / "notes.txt").write_text("not part of the model")
    with zipfile.ZipFile(io.BytesIO(store.zip("tiny"))) as archive:
        assert sorted(archive.namelist()) == ["tiny/card.json", "tiny/model.keras", "tiny/model.onnx"]
        for member in archive.namelist():
            assert archive.read(member) == (store.root / member).read_bytes()
        archive.extractall(tmp_path / "elsewhere")
    copy = ModelStore(tmp_path / "elsewhere")  # unzipped into a store, it is the model again
    assert copy.names() == ["tiny"] and copy.card("tiny") == store.card("tiny")

    model = store.root / "tiny" / "model.keras"
    model.write_bytes(model.read_bytes()[:1000])
    with pytest.raises(BrokenModelError, match="model 'tiny' cannot be used: model.keras is damaged"):
        store.zip("tiny")


def test_onnx_export_zip_gives_the_models_probabilities(tmp_path, private_tmp):
    import onnxruntime

    store = _tiny_store(tmp_path / "models")
    with zipfile.ZipFile(io.BytesIO(export_zip("tiny", "onnx", store))) as archive:
        assert archive.namelist() == ["tiny/1/model.onnx"]
        session = onnxruntime.InferenceSession(archive.read("tiny/1/model.onnx"),
                                               providers=["CPUExecutionProvider"])
    images = load_mnist("test")[0][:100].astype(np.float32)
    exported = session.run(None, {"image": images})[0]
    expected = store.load("tiny")(images, training=False).numpy()
    np.testing.assert_allclose(exported, expected, atol=1e-5)
    assert exported.shape == (100, 10)
    assert not list(private_tmp.glob("digitclf-export-*"))  # the temporary export is gone


def test_savedmodel_export_zip_serves_the_models_probabilities(tmp_path, private_tmp):
    import tensorflow as tf

    store = _tiny_store(tmp_path / "models")
    with zipfile.ZipFile(io.BytesIO(export_zip("tiny", "savedmodel", store))) as archive:
        names = archive.namelist()
        assert "tiny/1/saved_model.pb" in names and any(n.startswith("tiny/1/variables/") for n in names)
        archive.extractall(tmp_path / "serving")
    assert not list(private_tmp.glob("digitclf-export-*"))
    serving = tf.saved_model.load(str(tmp_path / "serving" / "tiny" / "1")).signatures["serving_default"]
    images = load_mnist("test")[0][:100].astype(np.float32)
    exported = serving(images=tf.constant(images))["probabilities"].numpy()
    np.testing.assert_allclose(exported, store.load("tiny")(images, training=False).numpy(), atol=1e-5)


def test_export_zip_errors_are_sentences_and_leave_nothing(tmp_path, private_tmp):
    store = _tiny_store(tmp_path / "models", hidden_activation="tanh")  # no ONNX translation
    with pytest.raises(ExportError, match="this model cannot be exported as ONNX: activation 'tanh'"):
        export_zip("tiny", "onnx", store)
    with pytest.raises(UsageError, match="unknown export format 'tflite'"):
        export_zip("tiny", "tflite", store)
    with pytest.raises(ModelStoreError, match="no model named 'nope'"):
        export_zip("nope", "onnx", store)
    assert not list(private_tmp.glob("digitclf-export-*"))
