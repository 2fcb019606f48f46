import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import DAMAGE, REPO, damage_store, run_cli

from digitclf.errors import BrokenModelError, ModelBusyError, ModelStoreError, RefusedError
from digitclf.reading.predictor import Predictor, load_predictor
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
    store.save("second", model, dataclasses.replace(card, test_accuracy=0.95, accuracy_warning=None))
    store.set_active("second")
    assert ModelStore().active_name() == "second"
    store.set_active("tiny", force=True)
    assert store.delete("second") == "tiny"
    assert store.names() == ["tiny"] and store.active_name() == "tiny"


def test_no_silent_overwrite_and_explicit_overwrite(store_env):
    store = ModelStore()
    model, card = store.load("tiny"), store.card("tiny")
    with pytest.raises(ModelStoreError, match="already exists"):
        store.save("tiny", model, dataclasses.replace(card, preset="new"))
    assert store.card("tiny").preset != "new"
    store.save("tiny", model, dataclasses.replace(card, preset="new"), overwrite=True)
    assert store.card("tiny").preset == "new"
    assert store.names() == ["tiny"] and not [p for p in store_env.iterdir() if p.name.startswith(".tmp-")]


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
    assert sorted(p.name for p in store_env.iterdir() if p.name != ".locks") == ["tiny"]


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
    with pytest.raises(BrokenModelError, match="model 'tiny' cannot be used: model.keras is damaged"):
        ModelStore().load("tiny")


def test_training_killed_with_sigkill_leaves_the_store_intact(store_env, tmp_path):
    before = sorted(p.name for p in store_env.iterdir() if not p.name.startswith("."))
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
    for newer in ("version", "training_data", "accuracy_warning"):  # what the first cards lack
        fields.pop(newer, None)
    card = ModelCard.from_json(json.dumps(fields))
    assert card.name == "default" and card.version == 2 and card.test_accuracy >= 0.996
    assert card.training_data == {} and card.accuracy_warning is None
    assert ModelCard.from_json(card.to_json()) == card
    # A version-1 card of a weak model gets its warning as it is read (version 2 stores it).
    weak = ModelCard.from_json(json.dumps({**fields, "version": 1, "test_accuracy": 0.149}))
    assert weak.accuracy_warning == ("reads only 14.9% of the MNIST test digits, far below the "
                                     "90% of a useful model")
    assert json.loads(weak.to_json())["version"] == 2 and ModelCard.from_json(weak.to_json()) == weak


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


# ----- a damaged store keeps working ----------------------------------------------------------
def test_a_damaged_store_lists_the_good_models_and_names_each_broken_one(store_env):
    damage_store(store_env)
    store = ModelStore()
    assert store.names() == ["tiny"] and [c.name for c in store.cards()] == ["tiny"]
    broken = {e.name: e.problem for e in store.entries() if e.broken}
    assert set(broken) == set(DAMAGE)
    for name, reason in DAMAGE.items():
        assert reason in broken[name], (name, broken[name])
        assert str(store_env) not in broken[name]  # no server path in what the API shows
        with pytest.raises(BrokenModelError) as error:
            load_predictor(name, store)
        message = str(error.value)
        assert message.startswith(f"model {name!r} cannot be used: {reason}") and "\n" not in message
        with pytest.raises(BrokenModelError, match=f"model {name!r} cannot be used"):
            store.load(name)
    assert Predictor("tiny", store).predict(np.zeros((1, 28, 28), np.uint8)).shape == (1, 10)
    store.delete("cut-keras")  # a broken model can be deleted
    assert not (store_env / "cut-keras").exists() and store.names() == ["tiny"]
    with pytest.raises(BrokenModelError, match="card.json is not valid JSON"):
        store.set_active("bad-json", force=True)  # and not made active, even by force


def test_a_model_with_a_lambda_layer_is_refused_and_its_code_never_runs(store_env, tmp_path):
    import keras

    marker = tmp_path / "code-ran"
    # A Python lambda is saved as its bytecode, and runs whenever the layer is built or called.
    path = str(marker)
    leave_a_mark = keras.layers.Lambda(lambda x: (open(path, "w").close(), x)[1])
    inputs = keras.Input((28, 28))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(leave_a_mark(inputs)))
    folder = store_env / "lambda"
    shutil.copytree(store_env / "tiny", folder)
    (folder / "model.onnx").unlink()
    keras.Model(inputs, outputs).save(folder / "model.keras")
    marker.unlink()

    store = ModelStore()
    (entry,) = [e for e in store.entries() if e.name == "lambda"]
    assert entry.problem == "model.keras holds a Lambda layer, code that loading would run: it is not loaded"
    for load in (store.load, lambda name: load_predictor(name, store).model):
        with pytest.raises(BrokenModelError, match="Lambda layer"):
            load("lambda")
    assert not marker.exists()
    # Keras' safe mode refuses it too, behind the store's own check ...
    with pytest.raises(ValueError, match="(?i)lambda"):
        keras.saving.load_model(folder / "model.keras", safe_mode=True)
    assert not marker.exists()
    # ... and the file does carry code: loaded unsafely, it runs.
    keras.saving.load_model(folder / "model.keras", safe_mode=False)
    assert marker.exists()


# ----- the active and the shipped model are guarded; weak models are not made active -------------
def test_the_active_and_the_shipped_model_are_deleted_only_by_force(store_env):
    shutil.copytree(REPO / "models" / "default", store_env / "default")
    store = ModelStore()
    assert store.active_name() == "default"
    with pytest.raises(RefusedError, match="'default' is the active model: make another model active first"):
        store.delete("default")
    with pytest.raises(RefusedError, match=r"'tiny' is not made active: it reads only \d+\.\d% of the MNIST"):
        store.set_active("tiny")  # the tiny model reads under 90%
    assert store.active_name() == "default"
    store.set_active("tiny", force=True)
    with pytest.raises(RefusedError, match="'tiny' is the active model"):
        store.delete("tiny")
    with pytest.raises(RefusedError, match="'default' is the shipped model"):
        store.delete("default")
    assert store.names() == ["default", "tiny"] and store.active_name() == "tiny"
    assert store.delete("tiny", force=True) == "default"
    assert not (store_env / "active.json").exists() and store.active_name() == "default"
    assert store.delete("default", force=True) is None and store.names() == []


# ----- killed writers, and writers at the same time -------------------------------------------
TINY_RUN = ("--preset", "fast", "--train-subset", "1000", "--epochs", "1", "--batch-size", "32", "--no-augment")


def _train(store: Path, name: str, *args: str, events: Path | None = None) -> subprocess.Popen:
    more = ("--events", str(events)) if events else ()
    return subprocess.Popen(
        [sys.executable, "-m", "digitclf", "train", "--name", name, *TINY_RUN, *more, *args],
        cwd=REPO, env={**os.environ, "DIGITCLF_MODELS": str(store)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(condition, what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


WRITER = """
import sys, time
from pathlib import Path
from digitclf.store.atomic import write_folder_atomically
def write(tmp):
    (tmp / "model.keras").write_bytes(b"half a model")
    print(tmp.name, flush=True)
    time.sleep(float(sys.argv[2]))
write_folder_atomically(Path(sys.argv[1]), write)
"""


def _writer(final: Path, seconds: float) -> tuple[subprocess.Popen, Path]:
    """A process writing `final` the store's way, halfway through: (it, its temporary folder)."""
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(final), str(seconds)], cwd=REPO,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, final.parent / process.stdout.readline().strip()


def test_killed_writers_leave_no_model_and_the_next_write_clears_their_leftovers(store_env, tmp_path):
    events = tmp_path / "events.jsonl"
    # A training killed while it saves its model (just after its last progress event) ...
    killed = _train(store_env, "killed", "--activate", events=events)
    _wait_for(lambda: events.exists() and '"done"' in events.read_text(), "the end of training")
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    # ... a writer killed halfway, and one still writing.
    dead, dead_tmp = _writer(store_env / "dead", 60)
    dead.send_signal(signal.SIGKILL)
    dead.wait()
    live, live_tmp = _writer(store_env / "live", 60)
    try:
        assert dead_tmp.is_dir() and live_tmp.is_dir()
        store = ModelStore()
        assert not [e for e in store.entries() if e.broken]  # "killed" is whole, or not there
        assert set(store.names()) <= {"tiny", "killed"} and "dead" not in store.names()
        if (store_env / "active.json").exists():
            assert json.loads((store_env / "active.json").read_text())["active"] in store.names()

        result = run_cli("train", "--name", "next", *TINY_RUN, env={"DIGITCLF_MODELS": str(store_env)})
        assert result.returncode == 0, result.stderr
        assert "next" in ModelStore().names()
        assert Predictor("next", ModelStore()).predict(np.zeros((1, 28, 28), np.uint8)).shape == (1, 10)
        assert not dead_tmp.exists()  # the dead writer's leftovers are gone ...
        assert live_tmp.is_dir()  # ... the live writer's work is not
        leftovers = [p.name for p in store_env.iterdir() if p.name.startswith(".tmp-")]
        assert leftovers == [live_tmp.name]
    finally:
        live.kill()
        live.wait()


def test_trainings_at_once_finish_or_are_refused_and_nothing_mixes(store_env, tmp_path):
    events = tmp_path / "one.jsonl"
    one = _train(store_env, "one", "--seed", "1", events=events)
    two = _train(store_env, "two", "--seed", "2")
    try:
        _wait_for(lambda: events.exists() and '"start"' in events.read_text(), "the first training to start")
        again = run_cli("train", "--name", "one", "--overwrite", *TINY_RUN,
                        env={"DIGITCLF_MODELS": str(store_env)}, timeout=120)
        assert one.poll() is None, "the first training ended before the second one was tried"
        assert again.returncode == 1 and "Traceback" not in again.stderr
        assert (f"error: model 'one' is being written by process {one.pid} (a training in progress): "
                "wait for it to finish or choose another name") in again.stderr
        for process in (one, two):
            _, stderr = process.communicate(timeout=300)
            assert process.returncode == 0, stderr
    finally:
        for process in (one, two):
            process.kill()
    store = ModelStore()
    assert store.names() == ["one", "tiny", "two"] and not [e for e in store.entries() if e.broken]
    for name, seed in (("one", 1), ("two", 2)):
        card = store.card(name)
        assert card.name == name and card.hyperparameters["seed"] == seed
    assert not [p for p in store_env.iterdir() if p.name.startswith(".tmp-")]


def test_a_name_another_process_is_writing_is_refused_until_that_process_ends(store_env):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom digitclf.store.model_store import ModelStore\n"
         "with ModelStore(sys.argv[1]).claim('tiny'):\n    print('held', flush=True)\n    time.sleep(60)",
         str(store_env)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        store = ModelStore()
        model, card = store.load("tiny"), store.card("tiny")
        busy = f"model 'tiny' is being written by process {holder.pid}"
        with pytest.raises(ModelBusyError, match=busy):
            store.save("tiny", model, card, overwrite=True)
        with pytest.raises(ModelBusyError, match=busy):
            store.delete("tiny", force=True)
        store.save("other", model, card)  # other names are free
    finally:
        holder.send_signal(signal.SIGKILL)  # the lock ends with its process, however it ends
        holder.wait()
    store.save("tiny", model, card, overwrite=True)
    assert ModelStore().names() == ["other", "tiny"]
