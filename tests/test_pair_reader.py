"""The pair reader's training data and loss (its reading is tested in test_numbers)."""

import numpy as np

from digitclf.convert.onnx_graph import to_onnx
from digitclf.reading.pair_view import PAIR_HEADS, PAIR_SHAPE
from digitclf.runtime import OnnxNet
from digitclf.training.train_pair_reader import UNKNOWN, _loss, handwriting_pieces, train_reader, training_pieces


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
