"""The pair reader's training data and loss (its reading is tested in test_numbers)."""

import argparse
import json

import numpy as np

from digitclf.convert.onnx_graph import to_onnx
from digitclf.reading.pair_view import PAIR_HEADS, PAIR_SHAPE
from digitclf.runtime import OnnxNet
from digitclf.settings import PAIR_READER_ONNX
from digitclf.training.train_pair_reader import (
    UNKNOWN,
    _loss,
    card_of,
    handwriting_pieces,
    train_reader,
    training_pieces,
)


def test_training_pieces_are_labelled_by_what_they_hold():
    x, y = training_pieces(40, seed=1)
    assert x.shape[1:] == PAIR_SHAPE and len(x) == len(y) >= 25 and x.max() == 255
    held, first, second = y.T
    assert set(held) <= {0, 1, 2} and {0, 1} <= set(held)
    assert ((first >= 0) == (held < 2)).all() and ((second >= 0) == (held == 1)).all()
    assert set(first[held < 2]) <= set(range(10)) and set(second[held == 1]) <= set(range(10))


def test_handwriting_pieces_are_touching_digits_of_the_training_families():
    x, y = handwriting_pieces(40, seed=1)
    assert x.shape[1:] == PAIR_SHAPE and len(x) == len(y) >= 25 and x.max() == 255
    held, first, second = y.T
    assert set(held) <= {0, 1, 2} and {0, 1} <= set(held)
    assert ((first >= 0) == (held < 2)).all() and ((second >= 0) == (held == 1)).all()


def test_each_head_is_scored_only_where_it_has_a_target():
    targets = np.array([[0, 3, UNKNOWN], [1, 4, 5], [2, UNKNOWN, UNKNOWN]])
    uniform = np.zeros((3, sum(PAIR_HEADS)), np.float32)
    assert np.isclose(float(_loss(targets, uniform)), np.log(3) + 2 * np.log(10), atol=1e-5)
    sure = uniform.copy()
    for row, (held, first, second) in enumerate(targets):
        sure[row, held] = sure[row, 3 + max(first, 0)] = sure[row, 13 + max(second, 0)] = 30.0
    assert float(_loss(targets, sure)) < 1e-6


def test_a_trained_reader_runs_on_onnx_runtime():
    x, y = training_pieces(30, seed=2)
    model = train_reader(x, y, epochs=1)
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(OnnxNet(to_onnx(model).SerializeToString())(x), expected, atol=1e-4)


def test_the_card_says_what_the_reader_saw():
    x, y = handwriting_pieces(30, seed=3)
    args = argparse.Namespace(numbers=0, hand_numbers=30, epochs=2)
    card = json.loads(json.dumps(card_of(args, x, y, {"validation_families": {"count": 0.9}}, 12.34)))
    assert card["pieces"] == len(x) == sum(card["pieces_by_digits_held"].values())
    assert card["pieces_by_digits_held"]["2"] == int((y[:, 0] == 1).sum()) > 0
    assert card["data"]["handwriting"].startswith("30 numbers") and card["epochs"] == 2
    assert card["head_accuracy"]["validation_families"]["count"] == 0.9


def test_the_shipped_reader_has_its_card():
    card = json.loads((PAIR_READER_ONNX.with_suffix(".json")).read_text())
    assert {"mnist", "handwriting", "encoded"} <= card["data"].keys() and card["epochs"] >= 1
    assert set(card["head_accuracy"]) == {"heldout_mnist", "validation_families"}
    assert min(card["head_accuracy"]["heldout_mnist"].values()) > 0.98
