import dataclasses
import json

import numpy as np
import pytest
from conftest import run_cli

from digitclf.errors import ConfigError
from digitclf.store.model_store import ModelStore
from digitclf.training.architectures import ARCHITECTURES
from digitclf.training.config import PRESETS, config_for


def test_tiny_training_end_to_end_writes_model_and_card(store_env, tmp_path):
    events = tmp_path / "events.jsonl"
    result = run_cli("train", "--preset", "fast", "--name", "small", "--train-subset", "1500",
                     "--epochs", "2", "--batch-size", "64", "--augment", "--augment-strength", "0.5",
                     "--seed", "3", "--events", str(events), "--activate")
    assert result.returncode == 0, result.stderr
    assert "saved small" in result.stdout and "Traceback" not in result.stderr
    store = ModelStore()
    assert store.active_name() == "small"
    card = store.card("small")
    assert card.preset == "fast" and card.architecture == "cnn"
    assert card.hyperparameters["batch_size"] == 64 and card.hyperparameters["seed"] == 3
    assert card.epochs_run == 2 and len(card.history) == 2
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(card.history[0])
    assert card.train_examples == 1500 and card.val_examples == 150
    assert 0.5 < card.test_accuracy <= 1.0
    assert np.array(card.confusion_matrix).sum() == 10000
    assert len(card.data_fingerprint) == 64
    kinds = [json.loads(line)["kind"] for line in events.read_text().splitlines()]
    assert kinds[0] == "start" and kinds.count("epoch") == 2 and kinds[-1] == "done"
    probs = store.load("small").predict(np.zeros((2, 28, 28), np.float32), verbose=0)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_same_seed_same_result(store_env):
    from digitclf.training.train import train

    config = config_for("fast", train_subset=500, epochs=1, seed=7)
    first, second = train(config, store=ModelStore()), train(config, store=ModelStore())
    for a, b in zip(first.model.get_weights(), second.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert first.card.test_accuracy == second.card.test_accuracy


def test_fine_tuning_starts_from_a_stored_model(store_env):
    result = run_cli("train", "--name", "tuned", "--base-model", "tiny", "--train-subset", "500",
                     "--epochs", "1", "--learning-rate", "0.0005", "--no-augment", "--number-parts", "40")
    assert result.returncode == 0, result.stderr
    card = ModelStore().card("tuned")
    assert card.hyperparameters["base_model"] == "tiny"
    assert card.training_data["number_parts"] == 40 and card.train_examples == 540  # digits cut from numbers
    assert card.test_accuracy >= ModelStore().card("tiny").test_accuracy - 0.05
    # the card says what the base saw before this run, as well as what this run added
    base = ModelStore().card("tiny").training_data
    assert {key: card.training_data[f"base_model.{key}"] for key in base} == base


@pytest.mark.parametrize("overrides, message", [
    ({"epochs": 0}, "epochs must be"),
    ({"learning_rate": -1.0}, "learning rate"),
    ({"architecture": "transformer"}, "architecture must be one of"),
    ({"val_fraction": 0.9}, "validation fraction"),
    ({"train_subset": 5}, "training subset"),
    ({"momentum": 0.9}, "unknown hyperparameter"),
])
def test_bad_hyperparameters_are_refused(overrides, message):
    with pytest.raises(ConfigError, match=message):
        config_for("fast", **overrides)


def test_subset_larger_than_the_training_set_is_refused():
    from digitclf.training.train import split_train_val

    with pytest.raises(ConfigError, match="more than the 60000 training images"):
        split_train_val(config_for("fast", train_subset=59000))


def test_batch_larger_than_the_training_set_is_refused(store_env):
    before = ModelStore().names()
    result = run_cli("train", "--name", "x", "--train-subset", "100", "--batch-size", "512")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "batch size 512 is larger than the 100 training examples" in result.stderr
    assert ModelStore().names() == before


def test_presets_are_valid_and_cover_the_registry():
    for config in PRESETS.values():
        config.validate()
    assert {"mlp", "cnn"} <= set(ARCHITECTURES) and PRESETS["best"].architecture in ARCHITECTURES


def test_cli_refuses_bad_name_and_taken_name_before_training(store_env):
    result = run_cli("train", "--name", "../x")
    assert result.returncode == 2 and "invalid model name" in result.stderr
    result = run_cli("train", "--name", "tiny")
    assert result.returncode == 1 and "already exists" in result.stderr
    assert "Traceback" not in result.stderr


def test_mirrored_strategy_gives_the_same_result(store_env):
    """tf.distribute on this machine's one CPU device: same training, same accuracy (the
    graph differs, so weights agree only up to floating-point reduction order)."""
    from digitclf.training.train import train

    common = dict(train_subset=3000, epochs=2, batch_size=64, seed=5, augment=False)
    plain = train(config_for("fast", **common), store=ModelStore())
    mirrored = train(config_for("fast", distribute="mirrored", **common), store=ModelStore())
    assert mirrored.card.hyperparameters["distribute"] == "mirrored"
    assert mirrored.card.epochs_run == plain.card.epochs_run == 2
    assert abs(mirrored.card.test_accuracy - plain.card.test_accuracy) < 0.015
    assert mirrored.card.test_accuracy > 0.9


def test_config_file_round_trips_and_is_checked(tmp_path):
    from digitclf.training.config import read_config_file, write_config_file

    config = config_for("best", epochs=2, my_digits=True)
    write_config_file(tmp_path / "config.json", config, "best")
    assert read_config_file(tmp_path / "config.json") == (config, "best")
    (tmp_path / "bad.json").write_text('{"preset": null, "hyperparameters": {"epochs": 0}}')
    with pytest.raises(ConfigError, match="epochs must be 1..1000"):
        read_config_file(tmp_path / "bad.json")
    (tmp_path / "unknown.json").write_text('{"hyperparameters": {"momentum": 0.9}}')
    with pytest.raises(ConfigError, match="unknown hyperparameter"):
        read_config_file(tmp_path / "unknown.json")


def test_train_reads_its_config_from_a_file(store_env, tmp_path):
    from digitclf.training.config import write_config_file

    config = config_for("fast", train_subset=600, epochs=1, batch_size=32, augment=False, seed=5)
    write_config_file(tmp_path / "config.json", config, "fast")
    result = run_cli("train", "--config", str(tmp_path / "config.json"), "--name", "from-file")
    assert result.returncode == 0, result.stderr
    card = ModelStore().card("from-file")
    assert card.preset == "fast" and card.hyperparameters == dataclasses.asdict(config)
    both = run_cli("train", "--config", str(tmp_path / "config.json"), "--preset", "fast", "--name", "x")
    assert both.returncode == 2 and "not both" in both.stderr
