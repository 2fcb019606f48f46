import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import REPO, run_cli

from digitclf.errors import ModelStoreError
from digitclf.reading.predictor import Predictor
from digitclf.store.atomic import replace_atomically
from digitclf.store.card import ModelCard
from digitclf.store.model_store import ModelStore
from digitclf.store.names import check_name
from digitclf.training.data import load_mnist


@pytest.mark.parametrize("name", ["../x", "", "a" * 65, "has space", "x/y", "dot.name", "é", "..", None])
def test_bad_names_are_refused(name):
    with pytest.raises(ModelStoreError, match="invalid model name"):
        check_name(name)


@pytest.mark.parametrize("name", ["default", "a", "A-b_9", "x" * 64])
def test_good_names_pass(name):
    assert check_name(name) == name


def test_list_load_activate_delete(store_env):
    store = ModelStore()
    assert store.names() == ["tiny"]
    assert store.active_name() is None  # no 'default' and nothing chosen
    model = store.load("tiny")
    card = store.card("tiny")
    assert card.name == "tiny" and model.output_shape == (None, 10)
    store.save("second", model, card)
    store.set_active("second")
    assert ModelStore().active_name() == "second"
    store.delete("second")
    assert store.names() == ["tiny"] and store.active_name() is None


def test_no_silent_overwrite_and_explicit_overwrite(store_env):
    store = ModelStore()
    model, card = store.load("tiny"), store.card("tiny")
    with pytest.raises(ModelStoreError, match="already exists"):
        store.save("tiny", model, dataclasses.replace(card, preset="new"))
    assert store.card("tiny").preset != "new"
    store.save("tiny", model, dataclasses.replace(card, preset="new"), overwrite=True)
    assert store.card("tiny").preset == "new"
    assert store.names() == ["tiny"] and not [p for p in store_env.iterdir() if p.name.startswith(".")]


def test_unknown_model_lists_the_known_ones(store_env):
    with pytest.raises(ModelStoreError, match=r"no model named 'nope'.*tiny"):
        ModelStore().load("nope")


def test_failure_while_saving_leaves_nothing(store_env):
    store = ModelStore()
    model = store.load("tiny")

    class Broken:
        def save(self, path):
            model.save(path)
            raise OSError("disk full")

    with pytest.raises(OSError):
        store.save("broken", Broken(), ModelCard(name="broken", architecture="cnn"))
    assert store.names() == ["tiny"]
    assert sorted(p.name for p in store_env.iterdir()) == ["tiny"]


def test_a_file_is_replaced_whole_or_not_at_all(tmp_path):
    target = tmp_path / "info.json"
    target.write_text("old")

    def fails_halfway(tmp):
        tmp.write_text("half of the new")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        replace_atomically(target, fails_halfway)
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["info.json"]
    replace_atomically(target, lambda tmp: tmp.write_text("new"))
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["info.json"]
    assert target.stat().st_mode & 0o777 == 0o644


def test_corrupt_model_file_is_a_clear_error(store_env):
    (store_env / "tiny" / "model.keras").write_bytes(b"not a keras file")
    with pytest.raises(ModelStoreError, match="cannot be loaded"):
        ModelStore().load("tiny")


def test_training_killed_with_sigkill_leaves_the_store_intact(store_env, tmp_path):
    before = sorted(p.name for p in store_env.iterdir())
    events = tmp_path / "events.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "digitclf", "train", "--preset", "fast", "--name", "killed",
         "--train-subset", "5000", "--epochs", "3", "--events", str(events)],
        cwd=REPO, env={**os.environ, "DIGITCLF_MODELS": str(store_env)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if events.exists() and '"batch"' in events.read_text():
            break
        time.sleep(0.2)
    assert proc.poll() is None, "training ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ModelStore().names() == ["tiny"]
    listing = run_cli("models", "--json", env={"DIGITCLF_MODELS": str(store_env)})
    assert listing.returncode == 0
    assert [json.loads(line)["name"] for line in listing.stdout.splitlines()] == ["tiny"]
    assert sorted(p.name for p in store_env.iterdir() if not p.name.startswith(".")) == before


def test_model_folder_of_the_shipped_default_is_complete():
    card = json.loads((REPO / "models" / "default" / "card.json").read_text())
    for field in ("name", "architecture", "preset", "hyperparameters", "epochs_run", "training_seconds",
                  "test_accuracy", "per_class", "confusion_matrix", "history", "created_at",
                  "versions", "data_fingerprint", "temperature"):
        assert field in card, field
    assert card["test_accuracy"] >= 0.996
    assert (REPO / "models" / "default" / "model.keras").stat().st_size < 10 * 2**20
    assert (REPO / "models" / "default" / "model.onnx").is_file()
    assert np.array(card["confusion_matrix"]).sum() == 10000


def test_saved_models_carry_their_onnx_translation_with_the_same_predictions(store_env):
    store = ModelStore()
    name = store.names()[0]
    assert (store.path(name) / "model.onnx").is_file()
    images = load_mnist("test")[0][:100].astype(np.float32)
    expected = store.load(name).predict(images, verbose=0)
    np.testing.assert_allclose(Predictor(name, store).predict(images), expected, atol=1e-5)


def test_a_model_without_onnx_file_still_predicts_through_keras(store_env):
    store = ModelStore()
    name = store.names()[0]
    (store.path(name) / "model.onnx").unlink()
    images = load_mnist("test")[0][:20].astype(np.float32)
    expected = store.load(name).predict(images, verbose=0)
    np.testing.assert_allclose(Predictor(name, store).predict(images), expected, atol=1e-5)


def test_predicting_loads_neither_tensorflow_nor_keras():
    script = ("import sys; from digitclf import load_predictor; from digitclf.training import synth; "
              "from digitclf.training.data import load_mnist; p = load_predictor(); "
              "r = p.predict_image(synth.canvas_rgba(synth.render(load_mnist('test')[0][0]))); "
              "print(r.digit, sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["7", "[]"]


def test_a_card_written_before_versions_still_loads_and_round_trips():
    fields = json.loads((REPO / "models" / "default" / "card.json").read_text())
    for newer in ("version", "training_data"):  # what cards written before this release lack
        fields.pop(newer)
    card = ModelCard.from_json(json.dumps(fields))
    assert card.name == "default" and card.version == 1 and card.test_accuracy >= 0.996
    assert card.training_data == {} and ModelCard.from_json(card.to_json()) == card


@pytest.mark.parametrize("text, reason", [
    ("{", "not valid JSON"),
    ("[]", "not a JSON object"),
    ('{"architecture": "cnn"}', "has no 'name'"),
    ('{"name": "x", "architecture": "cnn", "test_accuracy": "high"}', "'test_accuracy' should be int or float"),
    ('{"name": "x", "architecture": "cnn", "epochs_run": true}', "'epochs_run' should be int"),
    ('{"name": "x", "architecture": "cnn", "version": 99}', "version 99"),
])
def test_a_damaged_card_is_a_clear_error(store_env, text, reason):
    (store_env / "tiny" / "card.json").write_text(text)
    with pytest.raises(ModelStoreError, match=reason):
        ModelStore().card("tiny")
