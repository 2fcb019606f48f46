"""is_digit: letters, shapes and scribbles are flagged; real digits are not."""

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from digitclf.errors import NoDigitError
from digitclf.training import negatives, synth
from digitclf.training.data import load_mnist


def _printed(char: str, font_path) -> np.ndarray:
    img = Image.new("L", (140, 140), 255)
    font = ImageFont.truetype(str(font_path), 90)
    ImageDraw.Draw(img).text((70, 70), char, fill=0, font=font, anchor="mm")
    return np.asarray(img)  # black letter on white paper


@pytest.fixture(scope="module")
def heldout_fonts():
    fonts = negatives.split_fonts(negatives.font_files())[1]
    if not fonts:
        pytest.skip("no TrueType fonts installed (Debian: fonts-dejavu-core)")
    return fonts


def test_printed_letters_are_flagged(default_predictor, heldout_fonts):
    letters = "AKWMRHEFXY"
    flagged = [not default_predictor.predict_image(_printed(c, f)).is_digit
               for c in letters for f in heldout_fonts[:3]]
    assert np.mean(flagged) >= 0.8


def test_shapes_and_scribbles_are_flagged(default_predictor):
    rng = np.random.default_rng(99)
    inks = [negatives.shape(rng) for _ in range(15)] + [negatives.scribble(rng) for _ in range(15)]
    flagged = []
    for ink in inks:
        try:
            flagged.append(not default_predictor.predict_image(synth.ink_on_paper(ink)).is_digit)
        except NoDigitError:
            flagged.append(True)
    assert np.mean(flagged) >= 0.8


def test_real_digits_are_not_flagged(default_predictor):
    images, labels = load_mnist("test")
    results = list(default_predictor.predict_images(images[:300]))
    assert sum(not r.is_digit for r in results) <= 6
    drawn = [synth.canvas_rgba(synth.render(images[i], pen=10)) for i in range(100)]
    assert sum(not default_predictor.predict_image(d).is_digit for d in drawn) <= 3


def test_blank_images_still_raise(default_predictor):
    with pytest.raises(NoDigitError):
        default_predictor.predict_image(np.zeros((280, 280, 4), np.uint8))


def test_batch_results_match_single_results(default_predictor):
    images, _ = load_mnist("test")
    batch = list(default_predictor.predict_images([images[0], np.zeros((28, 28)), images[1]]))
    assert isinstance(batch[1], NoDigitError)
    single = default_predictor.predict_image(images[1])
    assert batch[2].digit == single.digit
    np.testing.assert_allclose(batch[2].probabilities, single.probabilities, atol=1e-5)
