"""Export for TensorFlow Serving: a versioned SavedModel that answers as the Keras model does."""

from __future__ import annotations

import numpy as np
from conftest import run_cli

from digitclf.convert.export import export_model, next_version
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
