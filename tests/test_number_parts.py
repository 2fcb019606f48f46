"""Number parts: digits cut out of whole numbers of the training typefaces the way read_number
cuts them, labelled by the digit whose box they match, to train the classifier on."""

from __future__ import annotations

import numpy as np
import pytest

from digitclf.imaging.decode import decode_image
from digitclf.imaging.preprocess import ink_map
from digitclf.reading.number import model_input
from digitclf.reading.segment import segment
from digitclf.training import handwriting, number_parts, synth


def _font(name: str):
    return next(path for path in handwriting.fonts("train") if path.name.startswith(name))


def _reader_inputs(image: np.ndarray) -> list[np.ndarray]:
    """Every input read_number gives the classifier for an image."""
    ways = segment(ink_map(decode_image(image))).spans().values()
    return [x for w in ways for part in w.parts.values() if (x := model_input(part)) is not None]


def test_a_number_apart_gives_each_digit_as_the_reader_cuts_it():
    for seed in range(10):  # the first draw whose five digits are apart
        ink, boxes = handwriting.render_number(_font("KleeOne"), "40719", np.random.default_rng(seed))
        image = synth.white_on_black(ink)
        if len(segment(ink_map(decode_image(image))).pieces) == 5:
            break
    else:
        pytest.fail("no draw of five digits apart")
    inputs, found = number_parts.labelled_parts(image, "40719", boxes, np.random.default_rng(0))
    assert sorted(set(found)) == [0, 1, 4, 7, 9]  # every digit,
    assert max(found.count(d) for d in found) <= number_parts.PER_DIGIT  # ... in at most PER_DIGIT ways
    offered = _reader_inputs(image)
    assert all(any(np.array_equal(x, y) for y in offered) for x in inputs)  # exactly what the classifier sees


@pytest.mark.parametrize("font", ["balsamiq", "KleeOne", "kiloji"])
def test_a_piece_holding_two_digits_is_no_part(font):
    touching = 0
    for seed in range(8):
        ink, boxes = handwriting.render_number(_font(font), "38", np.random.default_rng(seed), spacing="tight")
        image = synth.white_on_black(ink)
        pieces = segment(ink_map(decode_image(image))).pieces
        inputs, found = number_parts.labelled_parts(image, "38", boxes, np.random.default_rng(0))
        assert set(found) <= {3, 8}
        if len(pieces) == 1:  # they touch: the whole piece is two digits, no digit's part
            touching += 1
            assert not any(np.array_equal(x, model_input(pieces[0].whole)) for x in inputs)
    assert touching


def test_part_set_is_seeded_cached_and_the_same_in_workers(tmp_path):
    x, y = number_parts.part_set(30, seed=1, cache_dir=None)
    assert x.shape == (30, 28, 28) and x.dtype == np.uint8 and y.dtype == np.uint8 and y.max() <= 9
    assert (x.max(axis=(1, 2)) > 200).all()  # prepared digits: MNIST convention, ink up to white
    spawned = number_parts.part_set(30, seed=1, cache_dir=tmp_path, workers=2)
    assert np.array_equal(spawned[0], x) and np.array_equal(spawned[1], y)
    assert [p.name for p in tmp_path.iterdir()] == [f"number-parts-30-1-v{number_parts.VERSION}.npz"]
    cached = number_parts.part_set(30, seed=1, cache_dir=tmp_path)
    assert np.array_equal(cached[0], x) and np.array_equal(cached[1], y)
    other = number_parts.part_set(30, seed=2, cache_dir=None)
    assert not np.array_equal(other[0], x)
