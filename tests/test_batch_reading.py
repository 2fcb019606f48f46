"""digitclf.reading.batch: many files read as the CLI's `predict` and the Batch page read them,
and the records and table rows they write, on the shipped model and real files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from digitclf.errors import ImageError, NoDigitError
from digitclf.reading import batch
from digitclf.reading.results import DigitResult, NumberResult
from digitclf.training import negatives
from digitclf.training.data import load_mnist


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A scan of a 7, a file that is no image, a blank page and a scan of the number 72."""
    images, labels = load_mnist("test")
    assert (labels[0], labels[1]) == (7, 2)
    folder = tmp_path_factory.mktemp("batch")
    seven, number = folder / "seven.png", folder / "number.png"
    Image.fromarray(255 - np.kron(images[0], np.ones((4, 4), np.uint8))).save(seven)
    row = np.concatenate([images[0], np.zeros((28, 10), np.uint8), images[1]], axis=1)
    Image.fromarray(255 - np.kron(row, np.ones((4, 4), np.uint8))).save(number)
    notes, blank = folder / "notes.txt", folder / "blank.png"
    notes.write_text("not a picture")
    Image.new("L", (64, 64), 255).save(blank)
    return [seven, notes, blank, number]


def test_single_digits_stream_in_order_with_errors_in_place(default_predictor, files):
    outcomes = list(batch.read_many(default_predictor, files))
    assert [type(o) for o in outcomes] == [DigitResult, ImageError, NoDigitError, DigitResult]
    seven = outcomes[0]
    assert isinstance(seven, DigitResult)
    assert batch.row("seven.png", seven) == {
        "file": "seven.png", "reading": "7", "confidence": round(seven.confidence, 6),
        "not_a_digit": False, "looks_like": None, "error": None}
    assert seven.confidence > 0.9
    bad = batch.row("notes.txt", outcomes[1])
    assert bad["reading"] is None and bad["confidence"] is None and "not an image" in bad["error"]
    # The records are the CLI's `predict --json` lines, and JSON as they are.
    records = [batch.record(p.name, o) for p, o in zip(files, outcomes)]
    assert json.loads(json.dumps(records)) == records
    assert records[0]["digit"] == 7 and len(records[0]["probabilities"]) == 10
    assert set(records[1]) == {"path", "error"} and set(records[2]) == {"path", "error"}


def test_numbers_go_through_read_number(default_predictor, files):
    outcomes = list(batch.read_many(default_predictor, files, numbers=True))
    assert [type(o) for o in outcomes] == [NumberResult, ImageError, NoDigitError, NumberResult]
    number = outcomes[3]
    assert isinstance(number, NumberResult) and number.text == "72"
    assert batch.row("number.png", number) == {
        "file": "number.png", "reading": "72", "confidence": round(number.confidence, 6),
        "not_a_digit": False, "looks_like": None, "error": None}
    assert batch.record("number.png", number)["digits"][1]["digit"] == 2


def test_a_refused_image_has_no_reading_and_no_confidence(default_predictor):
    fonts = negatives.split_fonts(negatives.font_files())[1]
    if not fonts:
        pytest.skip("no TrueType fonts installed (Debian: fonts-dejavu-core)")
    letters = []
    for char in "AKWMRHEFXY":
        img = Image.new("L", (140, 140), 255)
        ImageDraw.Draw(img).text((70, 70), char, fill=0, font=ImageFont.truetype(str(fonts[0]), 90),
                                 anchor="mm")
        letters.append(np.asarray(img))
    refused = [r for r in batch.read_many(default_predictor, letters)
               if isinstance(r, DigitResult) and not r.is_digit]
    assert refused, "no printed letter was refused"
    assert batch.row("letter.png", refused[0]) == {
        "file": "letter.png", "reading": None, "confidence": None, "not_a_digit": True,
        "looks_like": refused[0].digit, "error": None}
