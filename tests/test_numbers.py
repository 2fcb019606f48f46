"""read_number: several digits side by side -> their text, one DigitResult each, and boxes."""

import json

import numpy as np
import pytest
from scipy import ndimage
from scipy.special import logsumexp

from digitclf.errors import NoDigitError
from digitclf.reading import number
from digitclf.reading.cuts import _without_slivers
from digitclf.reading.number import candidates
from digitclf.reading.pair_view import (
    PAIR_DIGIT_WEIGHT,
    PAIR_SHAPE,
    PAIR_VIEW_CUT_INK,
    PairView,
    digit_priors,
    pair_input,
    read_pairs,
)
from digitclf.reading.results import digit_results
from digitclf.reading.scoring import (
    CONFIDENCE_WEIGHTS,
    JOIN_WEIGHT,
    PART_FEATURES,
    PART_WEIGHTS,
    WEIGHTS,
    cut_features,
    part_features,
)
from digitclf.reading.search import Candidates, best_readings, build_graph, forward
from digitclf.reading.segment import Part, Segmentation, Ways, find_pieces, segment
from digitclf.training import handwriting, synth
from digitclf.training.data import load_mnist
from digitclf.training.fit_reader import DOUBT_FLOORS, Batch, _samples, choose_doubt_floor, readings


@pytest.fixture(scope="module")
def mnist_test():
    return load_mnist("test")


def _ink(shape, *boxes):
    """Ink 0..1 with filled rectangles at (x, y, width, height)."""
    ink = np.zeros(shape, dtype=np.float32)
    for x, y, w, h in boxes:
        ink[y : y + h, x : x + w] = 1.0
    return ink


def _whole_boxes(ink):
    """The boxes of the pieces `segment` finds, each read as one digit."""
    return [ways.whole.box for ways in segment(ink).pieces]


def test_separate_marks_give_their_boxes_left_to_right():
    ink = _ink((140, 220), (130, 30, 12, 80), (20, 20, 12, 80), (70, 40, 14, 70))
    assert _whole_boxes(ink) == [(20, 20, 12, 80), (70, 40, 14, 70), (130, 30, 12, 80)]


def test_a_bar_drawn_apart_stays_with_its_digit():
    """A 7 whose bar was drawn apart from its stem, next to a 1."""
    ink = _ink((140, 200), (20, 20, 50, 10), (55, 40, 10, 60), (120, 20, 10, 80))
    assert _whole_boxes(ink) == [(20, 20, 50, 80), (120, 20, 10, 80)]


def test_a_pen_skip_does_not_split_a_digit():
    """A 4 drawn in two strokes that miss each other by three pixels."""
    four = ((20, 20, 8, 50), (20, 62, 40, 8), (63, 20, 8, 90))
    ink = _ink((140, 200), *four, (120, 20, 10, 90))
    assert _whole_boxes(ink) == [(20, 20, 51, 90), (120, 20, 10, 90)]


def test_a_dotted_stroke_is_one_digit():
    dots = [(20 + round(6.7 * i), 20 + 15 * i, 8, 8) for i in range(7)]  # a slanting dotted 1
    ink = _ink((140, 200), *dots, (120, 20, 10, 98))
    assert _whole_boxes(ink) == [(20, 20, 48, 98), (120, 20, 10, 98)]


def test_a_stroke_close_beside_a_digit_is_also_offered_as_part_of_it():
    """A 0 drawn with a stroke just beside it (a pen slip, or a 1 written close): both ways
    to read the two are offered; a stroke further away is a digit of its own."""
    zero = ((20, 20, 60, 8), (20, 92, 60, 8), (20, 20, 8, 80), (72, 20, 8, 80))
    close = segment(_ink((140, 240), *zero, (88, 25, 8, 70), (160, 20, 10, 80)))
    assert [ways.whole.box for ways in close.pieces] == [(20, 20, 60, 80), (88, 25, 8, 70),
                                                         (160, 20, 10, 80)]
    assert list(close.joined) == [0] and close.joined[0].whole.box == (20, 20, 76, 80)
    assert set(close.spans()) == {(0, 1), (1, 2), (2, 3), (0, 2)}
    far = segment(_ink((140, 240), *zero, (110, 25, 8, 70)))
    assert far.joined == {}


def _whole(x):
    return Ways({(0, 1): Part(np.ones((1, 1)), (x, 0, 1, 1), x)}, (0.0, 0.0), 1)


def _chosen_spans(scores_by_box):
    """best_readings over three pieces (boxes at x 0, 1, 2) and the first two joined (x 9),
    each read whole, with these part scores (None: too small to read)."""
    pieces = [_whole(x) for x in range(3)]
    joined = {0: _whole(9)}
    parts = [ways.whole for ways in pieces + list(joined.values())]
    keys = [p.key for p in parts if scores_by_box[p.box[0]] is not None]
    features = np.zeros((len(keys), PART_FEATURES))  # the score in the first feature alone
    features[:, 0] = [scores_by_box[p.box[0]] / PART_WEIGHTS[0] for p in parts if p.key in keys]
    found = Candidates(Segmentation(pieces, 100.0, joined), keys, None, None, None, features, {})
    return [span for span, _ in best_readings(found)]


def test_two_neighbours_are_read_as_one_only_when_that_earns_the_price_of_joining():
    price = -JOIN_WEIGHT
    assert price > 1  # each piece is a digit of its own unless the evidence says otherwise
    assert _chosen_spans({0: -1.0, 1: -1.0, 2: -1.0, 9: -2.0 + price + 0.5}) == [(0, 2), (2, 3)]
    assert _chosen_spans({0: -1.0, 1: -1.0, 2: -1.0, 9: -2.0 + price - 0.5}) == [(0, 1), (1, 2), (2, 3)]
    assert _chosen_spans({0: -1.0, 1: -1.0, 2: -1.0, 9: -1.0}) == [(0, 1), (1, 2), (2, 3)]
    assert _chosen_spans({0: -1.0, 1: None, 2: -1.0, 9: -1.0 + price + 0.5}) == [(0, 2), (2, 3)]
    assert _chosen_spans({0: -1.0, 1: None, 2: -1.0, 9: -1.0 + price - 0.5}) == [(0, 1), (2, 3)]
    assert _chosen_spans({0: -1.0, 1: None, 2: -1.0, 9: None}) == [(0, 1), (2, 3)]


def test_a_stray_speck_is_not_a_digit():
    ink = _ink((140, 200), (20, 20, 10, 80), (100, 20, 10, 80), (160, 120, 4, 4))
    assert _whole_boxes(ink) == [(20, 20, 10, 80), (100, 20, 10, 80)]


def _readings(ways):
    """Every reading of a piece's Ways (chains of at most `most` parts), fewest parts first."""
    chains, done = [[0]], []
    while chains:
        chain = chains.pop()
        for i, j in ways.parts:
            if i == chain[-1] and len(chain) <= ways.most:
                (done if j == ways.last else chains).append([*chain, j])
    return sorted((ways.reading(chain) for chain in done), key=lambda r: len(r.parts))


def test_a_wide_piece_is_also_offered_cut_in_two():
    ink = _ink((140, 240), (20, 20, 70, 10), (20, 90, 70, 10), (85, 20, 10, 80), (95, 55, 90, 10))
    (ways,) = segment(ink).pieces
    readings = _readings(ways)
    assert len(readings[0].parts) == 1 and readings[0].cut_ink == () and len(readings) > 1
    assert all(len(reading.parts) == len(reading.cut_ink) + 1 >= 2 for reading in readings[1:])
    assert 2 in {len(reading.parts) for reading in readings}


def test_cuts_know_how_much_ink_they_cross():
    """Two bars joined by a thin bridge: cutting the bridge crosses a tenth of the height,
    cutting along a bar crosses all of it."""
    ink = _ink((140, 240), (20, 20, 40, 100), (60, 60, 40, 10), (100, 20, 40, 100))
    (ways,) = segment(ink).pieces
    readings = _readings(ways)
    by_ink = sorted(readings[1:], key=lambda r: r.cut_ink)
    assert [p.box[0] for p in by_ink[0].parts] in ([20, 60], [20, 70], [20, 80], [20, 90])
    assert by_ink[0].cut_ink[0] < 0.15 and by_ink[-1].cut_ink[0] > 0.9
    assert cut_features(by_ink[0].cut_ink).tolist() == [by_ink[0].cut_ink[0], 0.0, 1.0]
    assert cut_features(by_ink[-1].cut_ink)[1] > 0.6  # the ink beyond a seam's, paid again
    assert cut_features(readings[0].cut_ink).tolist() == [0.0, 0.0, 0.0]


def test_a_cut_part_drops_slivers_of_its_neighbour():
    """A part keeps its own strokes, even in two halves, but not a crumb the cut left."""
    halves = _ink((100, 60), (10, 10, 10, 35), (10, 55, 10, 35))
    crumb = _ink((100, 60), (45, 30, 6, 6))
    assert np.array_equal(_without_slivers(halves + crumb), halves)
    assert np.array_equal(_without_slivers(halves), halves)


def _score(probabilities, margin, box, height=100.0):
    return float(part_features(np.asarray(probabilities), margin, box, height)[0] @ PART_WEIGHTS)


def test_part_scores_weigh_detector_margin_and_size():
    sure = np.eye(10)[3] * 0.99 + 0.001
    digit = _score(sure, 6.0, (0, 0, 70, 100))
    assert _score(sure, -3.0, (0, 0, 70, 100)) < digit - 1  # not digit-like to the detector
    assert _score(sure, 6.0, (0, 0, 180, 100)) < digit - 3  # nearly as wide as two digits
    assert _score(sure, 6.0, (0, 0, 20, 25)) < digit - 1  # a fragment
    assert _score(np.full(10, 0.1), 6.0, (0, 0, 70, 100)) < digit - 3  # the model cannot tell


@pytest.mark.parametrize("image", [
    np.zeros((200, 600), np.uint8),
    np.full((200, 600), 255, np.uint8),
    np.zeros((200, 600, 4), np.uint8),
])
def test_blank_images_raise_no_digit(default_predictor, image):
    with pytest.raises(NoDigitError, match="blank"):
        default_predictor.read_number(image)


def test_one_digit_reads_as_predict_image(default_predictor, mnist_test):
    images, _ = mnist_test
    for i in range(8):
        image = synth.ink_on_paper(synth.render(images[i], height=0.6, centre=(0.45, 0.55)))
        single = default_predictor.predict_image(image)
        number = default_predictor.read_number(image)
        assert number.text == str(single.digit) and len(number.digits) == 1
        np.testing.assert_allclose(number.digits[0].model_input, single.model_input)
        np.testing.assert_allclose(number.digits[0].probabilities, single.probabilities, atol=1e-5)


def test_digits_and_boxes_follow_the_layout(default_predictor, mnist_test):
    images, labels = mnist_test
    ink = np.zeros((200, 600), np.float32)
    for i, x in enumerate([0.15, 0.5, 0.85]):
        ink = np.maximum(ink, synth.render(images[i], canvas=(200, 600), height=0.6, centre=(x, 0.5)))
    result = default_predictor.read_number(synth.white_on_black(ink))
    assert result.text == "".join(str(d) for d in labels[:3])
    assert [d.digit for d in result.digits] == [int(d) for d in labels[:3]]
    for (x, y, w, h), centre in zip(result.boxes, [90, 300, 510]):
        assert abs(x + w / 2 - centre) < 40 and 100 <= h <= 125 and abs(y + h / 2 - 100) < 10
    as_json = json.loads(json.dumps(result.to_dict()))
    assert as_json["text"] == result.text and len(as_json["digits"]) == 3
    assert as_json["boxes"] == [list(box) for box in result.boxes]


def _touching_pair(images, labels, seed):
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(images), 2, replace=False)
    return synth.render_number(images[chosen], labels[chosen], rng, touch_prob=1.0, break_prob=0.0)


def test_touching_digits_are_split(default_predictor, mnist_test):
    ink, text = _touching_pair(*mnist_test, seed=8)  # a 6 whose loop touches a 4
    assert ndimage.label(ink > 0.5, structure=np.ones((3, 3)))[1] == 1  # one piece of ink
    result = default_predictor.read_number(synth.ink_on_paper(ink))
    assert result.text == text == "64"
    (x0, _, w0, _), (x1, _, w1, _) = result.boxes
    assert x0 < x1 and x0 + w0 > x1 - 10  # side by side, meeting in the middle


def test_most_touching_pairs_are_read(default_predictor, mnist_test):
    """Touching pairs are the hard case: the default model reads all 12 of these."""
    read = [default_predictor.read_number(synth.white_on_black(ink)).text == text
            for ink, text in (_touching_pair(*mnist_test, seed) for seed in range(12))]
    assert sum(read) >= 11


def test_five_digit_numbers_end_to_end(default_predictor, mnist_test):
    images, labels = mnist_test
    rng = np.random.default_rng(2024)
    encodings = list(synth.ENCODINGS.values())
    exact = 0
    for i in range(20):
        chosen = rng.choice(len(images), 5, replace=False)
        ink, text = synth.render_number(images[chosen], labels[chosen], rng)
        exact += default_predictor.read_number(encodings[i % 4](ink, rng)).text == text
    assert exact >= 18


def _ink_extent(x):
    rows, cols = np.flatnonzero(x.any(axis=1)), np.flatnonzero(x.any(axis=0))
    return len(rows), len(cols), (cols[0] + cols[-1]) / 2


def test_pair_input_fits_a_piece_keeping_its_shape():
    """The ink fits within 2 pixels of the 28x56 edge, centred, in its own proportions."""
    centre = (PAIR_SHAPE[1] - 1) / 2
    pair = pair_input(_ink((100, 200), (0, 0, 200, 100)))
    assert pair.shape == PAIR_SHAPE and pair.max() == 255
    assert _ink_extent(pair) == (24, 48, centre)
    assert _ink_extent(pair_input(_ink((50, 50), (0, 0, 50, 50)))) == (24, 24, centre)
    assert _ink_extent(pair_input(_ink((50, 520), (0, 0, 520, 50)))) == (5, 52, centre)


def test_the_pair_reader_reads_touching_pairs_of_test_digits_whole(default_predictor, mnist_test):
    """The pair reader learned on training digits; on touching pairs of test digits it
    sees two digits and names both in most."""
    held, named, pieces = 0, 0, 0
    for seed in range(40):
        ink, text = _touching_pair(*mnist_test, seed)
        found = find_pieces(ink)
        views = read_pairs(found.wide())
        if len(views) != 1 or found.piece_count != 1:
            continue
        (view,) = views.values()
        pieces += 1
        held += view.held.argmax() == 1
        named += f"{view.first.argmax()}{view.second.argmax()}" == text
        assert np.allclose([np.exp(v).sum() for v in view], 1.0, atol=1e-5)
    assert pieces >= 30 and held >= 0.9 * pieces and named >= 0.8 * pieces


def test_a_narrow_digit_is_not_shown_to_the_pair_reader(mnist_test):
    images, _ = mnist_test
    one = synth.render(images[2], height=0.6)  # the third MNIST test digit, a 1
    assert find_pieces(one).wide() == {}


def test_a_piece_the_pair_reader_is_sure_of_is_read_whole(default_predictor, mnist_test, monkeypatch):
    """Wide single digits are not cut when the pair reader is sure each holds one: far fewer
    parts to prepare and score, and the same text as when every piece is cut."""
    images, labels = mnist_test
    rng = np.random.default_rng(3)
    pruned, every = [], []
    for _ in range(6):
        chosen = rng.choice(len(images), 5, replace=False)
        ink, text = synth.render_number(images[chosen], labels[chosen], rng, touch_prob=0.0, break_prob=0.0)
        image = synth.ink_on_paper(ink)
        with monkeypatch.context() as unpruned:
            unpruned.setattr(number, "ONE_DIGIT", np.inf)
            every.append((len(candidates(default_predictor, image).keys), default_predictor.read_number(image).text))
        pruned.append((len(candidates(default_predictor, image).keys), default_predictor.read_number(image).text))
    assert [text for _, text in pruned] == [text for _, text in every]
    assert sum(parts for parts, _ in pruned) < 0.5 * sum(parts for parts, _ in every)


def test_the_pair_readers_view_weighs_only_where_the_cut_crosses_ink():
    """Two digits the cut parts cleanly are read by the classifier alone; where the cut goes
    through ink, the pair reader's view of the whole piece weighs on each digit."""
    view = PairView(np.log([0.01, 0.98, 0.01]), np.log(np.full(10, 0.01) + 0.9 * (np.arange(10) == 7)),
                    np.log(np.full(10, 0.1)))
    assert not digit_priors(view, cut_ink=0.0).any()
    assert not digit_priors(view, cut_ink=PAIR_VIEW_CUT_INK / 2).any()
    np.testing.assert_allclose(digit_priors(view, cut_ink=0.3), PAIR_DIGIT_WEIGHT * np.stack([view.first, view.second]))


def test_digit_results_add_evidence_from_elsewhere(default_predictor, mnist_test):
    images, labels = mnist_test
    x = images[:4].astype(np.float32)
    scored = default_predictor.score(x)
    plain = default_predictor.classify(x)
    unchanged = digit_results(x, *scored, log_prior=np.zeros((4, 10), np.float32))
    np.testing.assert_allclose([r.probabilities for r in unchanged],
                               [r.probabilities for r in plain], atol=1e-6)
    prior = np.zeros((4, 10), np.float32)
    prior[0] = -50.0
    prior[0, 3] = 0.0  # the first digit (a 7) can only be a 3
    swayed = digit_results(x, *scored, log_prior=prior)
    assert plain[0].digit == labels[0] == 7 and swayed[0].digit == 3
    assert abs(swayed[0].probabilities.sum() - 1) < 1e-5
    assert [r.digit for r in swayed[1:]] == [r.digit for r in plain[1:]]


# ----- whole numbers: no digit lost, the weights' fit, and the confidence -----------------------
def _font(name):
    return next(path for split in ("train", "validation") for path in handwriting.fonts(split)
                if path.name.startswith(name))


def test_digits_in_separate_pieces_each_stay_a_digit(default_predictor):
    """Handwriting whose digits are separate pieces of ink comes back with a digit per piece:
    a narrow 1 is not swallowed by the 0 or the 3 beside it."""
    checked = 0
    for name in ("amatic-sc", "Karumbi"):  # training families
        for seed in range(6):
            ink, _ = handwriting.render_number(_font(name), "31046", np.random.default_rng(seed))
            if len(segment(ink).pieces) == 5:
                checked += 1
                assert len(default_predictor.read_number(synth.ink_on_paper(ink)).text) == 5, (name, seed)
    assert checked >= 8


def test_a_narrow_one_close_beside_a_zero_is_a_digit_of_its_own(default_predictor, mnist_test):
    images, labels = mnist_test  # test digits 14 and 3: a narrow 1 and a 0
    assert labels[14] == 1 and labels[3] == 0
    one = synth.render(images[14], canvas=(200, 400), height=0.6, centre=(0.3, 0.5))
    zero = synth.render(images[3], canvas=(200, 400), height=0.6, centre=(0.6, 0.5))
    right_of_one, left_of_zero = np.flatnonzero(one.any(axis=0))[-1], np.flatnonzero(zero.any(axis=0))[0]
    ink = np.maximum(one, np.roll(zero, right_of_one + 14 - left_of_zero, axis=1))  # 14 px apart
    assert list(segment(ink).joined) == [0]  # the two are offered as one digit, too
    assert default_predictor.read_number(synth.white_on_black(ink)).text == "10"


def test_numbers_in_a_validation_family_are_read_exactly(default_predictor):
    rng = np.random.default_rng(7)
    texts = ["".join(str(d) for d in rng.integers(0, 10, 5)) for _ in range(4)]
    read = [default_predictor.read_number(synth.ink_on_paper(
        handwriting.render_number(_font("BMYEONSUNG"), text, np.random.default_rng(i))[0])).text
        for i, text in enumerate(texts)]
    assert sum(r == t for r, t in zip(read, texts)) >= 3, (read, texts)


def test_confidence_is_lower_where_a_digit_is_ambiguous(default_predictor, mnist_test):
    images, labels = mnist_test
    clean = [0, 1, 2, 3]  # 7 2 1 0
    ink, text = synth.render_number(images[clean], labels[clean], np.random.default_rng(1), touch_prob=0.0,
                                    break_prob=0.0)
    sure = default_predictor.read_number(synth.ink_on_paper(ink))
    blend = images[clean].copy()
    blend[1] = np.maximum(images[4], images[7]) // 2 + images[4] // 2  # a 4 with a 9 drawn over it
    ink, _ = synth.render_number(blend, labels[clean], np.random.default_rng(1), touch_prob=0.0, break_prob=0.0)
    unsure = default_predictor.read_number(synth.ink_on_paper(ink))
    assert sure.text == text and 0.0 <= unsure.confidence < sure.confidence <= 1.0
    assert sure.to_dict()["confidence"] == round(sure.confidence, 6)


def test_the_fitters_log_partition_sums_over_every_reading(default_predictor, mnist_test):
    """The dynamic programming's log-partition, best path and expected features equal
    brute-force enumeration of the readings of a touching pair."""
    ink, text = _touching_pair(*mnist_test, seed=8)
    found = candidates(default_predictor, synth.ink_on_paper(ink))
    graph = build_graph(found)
    scores = graph.features @ WEIGHTS

    def paths(node):
        if node == graph.nodes - 1:
            yield []
        for k in np.flatnonzero(graph.src == node):
            yield from ([int(k), *rest] for rest in paths(graph.dst[k]))

    every = list(paths(0))
    totals = np.array([scores[p].sum() for p in every])
    assert 3 <= len(every) < 10_000
    batch = Batch([(graph.nodes, graph.src, graph.dst)])
    log_z, expected = batch.log_partition(scores, graph.features)
    assert np.isclose(log_z[0], logsumexp(totals))
    weights = np.exp(totals - logsumexp(totals))
    np.testing.assert_allclose(expected[0], sum(w * graph.features[p].sum(axis=0) for w, p in zip(weights, every)))
    total, best, path = forward(graph, scores)
    assert np.isclose(total, log_z[0]) and np.isclose(best, totals.max()) and path == every[int(totals.argmax())]
    assert batch.best_paths(scores) == [path]


def test_a_floor_under_the_paths_doubt_only_lowers_confidence():
    """Pieces read whole leave a path less doubt than the confidence was fitted on: the floor
    the fitter picks lifts it, never lowering the doubt, so no reading grows surer."""
    samples = _samples("mnist-heldout", 6, seed=3, store=None, model="default", digits=5)
    (exact_low, low), (exact_high, high) = (readings(samples, WEIGHTS, floor) for floor in (1e-5, 1e-2))
    assert (exact_low == exact_high).all() and (high[:, 1] >= np.log(1e-2)).all()
    assert (high @ CONFIDENCE_WEIGHTS <= low @ CONFIDENCE_WEIGHTS + 1e-9).all()
    assert (high @ CONFIDENCE_WEIGHTS < low @ CONFIDENCE_WEIGHTS).any()
    assert choose_doubt_floor(samples, WEIGHTS, np.ones(len(samples), bool)) in DOUBT_FLOORS
