"""Predictor.explain on the shipped model: evidence where it is known to be, on confidently
read digits too; the logits it is measured on; where the 28x28 input lies in the image."""

import shutil

import numpy as np
import pytest
from conftest import REPO
from onnx import TensorProto, helper, numpy_helper
from PIL import Image, ImageDraw, ImageFilter

from digitclf.errors import BrokenModelError, ImageError, ModelStoreError, NoDigitError
from digitclf.imaging.preprocess import preprocess, preprocess_placed
from digitclf.reading.explain import logits_net
from digitclf.reading.predictor import Predictor
from digitclf.store.model_store import ModelStore
from digitclf.training.data import load_mnist

PEN = 18  # canvas pixels, the Draw page's default pen
BAR_Y = 22  # the 7's top bar, in canvas pixels


def _drawing(lines: list[list[tuple[int, int]]], size: tuple[int, int] = (280, 280),
             offset: tuple[int, int] = (0, 0), pen: int = PEN) -> np.ndarray:
    """RGBA strokes on a transparent canvas, as the Draw page's canvas delivers them;
    `offset` (x, y) moves every stroke."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for line in lines:
        draw.line([(x + offset[0], y + offset[1]) for x, y in line], fill=(0, 0, 0, 255), width=pen,
                  joint="curve")
    return np.asarray(image)


SEVEN = [[(224, BAR_Y), (62, BAR_Y)], [(224, BAR_Y), (118, 252)]]  # a top bar, then the stem
ZERO = [[(140 + 60 * np.cos(t), 140 + 95 * np.sin(t)) for t in np.linspace(0, 2 * np.pi, 60)]]


@pytest.fixture(scope="module")
def seven(default_predictor):
    return default_predictor.explain(_drawing(SEVEN), against=1)


def test_the_top_bar_of_a_seven_is_evidence_for_seven_against_one(seven):
    assert (seven.digit, seven.against) == (7, 1)
    assert seven.margin > 0
    bar = seven.image_evidence[: BAR_Y + PEN].sum()  # on the drawing itself
    stem_foot = seven.image_evidence[180:].sum()
    scale = seven.placement.row_scale * seven.placement.col_scale  # image pixels per input pixel
    assert bar / scale > 1.0  # logits
    assert bar > stem_foot + scale
    # the same on the 28x28 map: rows of the input that lie on the bar
    row_centres = seven.placement.top + (np.arange(28) + 0.5) * seven.placement.row_scale
    assert seven.evidence[row_centres < BAR_Y + PEN].sum() > seven.evidence[row_centres > 180].sum() + 1.0


def test_explanation_matches_the_prediction(default_predictor, seven):
    image = _drawing(SEVEN)
    result = default_predictor.predict_image(image)
    np.testing.assert_array_equal(seven.model_input, result.model_input)
    assert seven.digit == result.digit
    assert seven.runner_up == int(np.argsort(result.probabilities)[-2])
    # the margin is measured on the logits whose softmax is the prediction
    p = result.probabilities.astype(np.float64)
    assert seven.margin == pytest.approx(np.log(p[7] / p[1]), abs=1e-3)
    assert seven.evidence.shape == (28, 28) and seven.evidence.dtype == np.float32
    assert seven.image_evidence.shape == image.shape[:2] and seven.image_evidence.dtype == np.float32
    assert not seven.evidence[seven.model_input == 0].any()  # the background removed nothing
    plain = default_predictor.explain(image)
    assert plain.against == plain.runner_up == seven.runner_up != 1


def test_a_clean_drawing_has_its_evidence_on_the_ink(default_predictor):
    image = _drawing(ZERO)
    e = default_predictor.explain(image)
    assert e.digit == 0 and default_predictor.predict_image(image).confidence > 0.99
    positive = np.clip(e.image_evidence, 0, None)
    assert positive.sum() > 3 * np.clip(-e.image_evidence, 0, None).sum()
    # ink, grown by one input pixel's size (the map is drawn at the input's resolution)
    grow = int(np.ceil(max(e.placement.row_scale, e.placement.col_scale)))
    ink = Image.fromarray(image[..., 3]).filter(ImageFilter.MaxFilter(2 * grow + 1))
    near_ink = np.asarray(ink) > 0
    assert positive[near_ink].sum() > 0.95 * positive.sum()
    assert not near_ink[140, 140]  # the hole of the 0 is background


def test_confidently_read_digits_are_not_explained_backwards(default_predictor):
    """The softmax is saturated on these (over 99.5%: a logit moves it by under 0.5%), the
    margin is not: the evidence must still be for the digit read (for about 97% of them: the
    share moves by a couple of points between samples of 150 digits, so 450 are asked)."""
    images, labels = load_mnist("test")
    x = images[:450].astype(np.float32)
    probabilities = default_predictor.predict(images[:450])
    confident = np.flatnonzero((probabilities.max(axis=1) > 0.995) & (probabilities.argmax(axis=1) == labels[:450]))
    assert len(confident) > 300
    totals = np.array([default_predictor.explain_input(x[i]).evidence.sum() for i in confident])
    assert np.mean(totals > 0) >= 0.95


def test_an_input_already_prepared_is_its_own_image(default_predictor):
    x = load_mnist("test")[0][0].astype(np.float32)
    e = default_predictor.explain_input(x)
    np.testing.assert_array_equal(e.image_evidence, e.evidence)
    assert e.digit == int(default_predictor.predict(x[None])[0].argmax())
    against = default_predictor.explain_input(x, against=(e.digit + 1) % 10)
    assert against.margin > e.margin  # the runner-up is the closest call


def test_what_cannot_be_explained(default_predictor, seven):
    with pytest.raises(NoDigitError):
        default_predictor.explain(np.zeros((280, 280, 4), np.uint8))
    with pytest.raises(ImageError):
        default_predictor.explain(b"not an image")
    with pytest.raises(ValueError, match="another digit"):
        default_predictor.explain(_drawing(SEVEN), against=7)
    with pytest.raises(ValueError, match="0-9"):
        default_predictor.explain_input(seven.model_input, against=10)
    with pytest.raises(ValueError, match="shape"):
        default_predictor.explain_input(np.zeros((28, 29), np.float32))


def test_a_model_without_its_onnx_translation_says_so(tmp_path):
    shutil.copytree(REPO / "models" / "default", tmp_path / "default")
    (tmp_path / "default" / "model.onnx").unlink()
    predictor = Predictor("default", ModelStore(tmp_path))  # predicts through Keras
    with pytest.raises(ModelStoreError, match="no ONNX translation"):
        predictor.explain(_drawing(SEVEN))


def _linear_graph(weights: np.ndarray, softmax: bool) -> bytes:
    """(N, 28, 28) -> flatten -> x @ weights (-> softmax), as an ONNX model."""
    nodes = [helper.make_node("Reshape", ["image", "shape"], ["flat"]),
             helper.make_node("MatMul", ["flat", "weights"], ["scores"])]
    if softmax:
        nodes.append(helper.make_node("Softmax", ["scores"], ["probabilities"], axis=-1))
    graph = helper.make_graph(
        nodes, "linear", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [None, 28, 28])],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, [None, 10])],
        [numpy_helper.from_array(np.array([-1, 784]), "shape"), numpy_helper.from_array(weights, "weights")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_logits_net_drops_the_final_softmax_only(tmp_path):
    weights = np.random.default_rng(0).normal(size=(784, 10)).astype(np.float32)
    path = tmp_path / "model.onnx"
    path.write_bytes(_linear_graph(weights, softmax=True))
    x = np.random.default_rng(1).uniform(0, 255, (3, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(logits_net(path)(x), x.reshape(3, -1) @ weights, rtol=1e-4)
    path.write_bytes(_linear_graph(weights, softmax=False))
    with pytest.raises(BrokenModelError, match="softmax"):
        logits_net(path)


# ----- preprocess_placed: where the 28x28 input lies in the image ---------------------------

def test_placement_follows_the_drawing_when_it_moves():
    base, moved = (preprocess_placed(_drawing(SEVEN, (500, 400), offset)) for offset in [(0, 0), (130, 70)])
    np.testing.assert_array_equal(base[0], moved[0])
    assert moved[1].top == pytest.approx(base[1].top + 70)
    assert moved[1].left == pytest.approx(base[1].left + 130)
    assert (moved[1].row_scale, moved[1].col_scale) == (base[1].row_scale, base[1].col_scale)
    assert moved[1].image_shape == (400, 500)


@pytest.mark.parametrize("size,offset,scale,pen", [((280, 280), (0, 0), 1.0, PEN), ((900, 600), (300, 120), 2.0, 30),
                                                    ((280, 280), (40, 60), 0.4, 8)])
def test_placement_puts_the_input_on_the_ink(size, offset, scale, pen):
    lines = [[(x * scale, y * scale) for x, y in line] for line in SEVEN]
    image = _drawing(lines, size, offset, pen)
    model_input, placement = preprocess_placed(image)
    np.testing.assert_array_equal(model_input, preprocess(image))
    ink = image[..., 3].astype(np.float64)
    rows, cols = np.arange(ink.shape[0]) + 0.5, np.arange(ink.shape[1]) + 0.5
    centre = (ink.sum(1) @ rows / ink.sum(), ink.sum(0) @ cols / ink.sum())
    m = model_input.astype(np.float64)
    centre28 = (m.sum(1) @ (np.arange(28) + 0.5) / m.sum(), m.sum(0) @ (np.arange(28) + 0.5) / m.sum())
    mapped = (placement.top + centre28[0] * placement.row_scale, placement.left + centre28[1] * placement.col_scale)
    assert mapped == pytest.approx(centre, abs=placement.row_scale)  # within an input pixel
    drawn_height = ink.any(axis=1).sum()
    input_height = (m > 0.5 * 255).any(axis=1).sum() * placement.row_scale
    assert input_height == pytest.approx(drawn_height, abs=2 * placement.row_scale)
