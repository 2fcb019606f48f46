"""Reading many images at once, and what a reading becomes in a results file: the stream and
the records shared by the CLI's `predict` and the dashboard's Batch page."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from digitclf.errors import DigitclfError
from digitclf.imaging.decode import ImageSource
from digitclf.reading.results import DigitResult, NumberResult

if TYPE_CHECKING:
    from digitclf.reading.predictor import Predictor

Outcome = DigitResult | NumberResult | DigitclfError  # what reading one image gives
ROW_FIELDS = ("file", "reading", "confidence", "not_a_digit", "looks_like", "error")


def read_many(predictor: Predictor, images: Iterable[ImageSource], *,
              numbers: bool = False) -> Iterator[Outcome]:
    """One outcome per image, in order and streamed: single digits through
    `predict_images` (batched), numbers through `read_number` one image at a time. An image
    that cannot be read yields its DigitclfError instead of ending the stream."""
    if not numbers:
        yield from predictor.predict_images(images)
        return
    for image in images:
        try:
            yield predictor.read_number(image)
        except DigitclfError as e:
            yield e


def record(path: str, outcome: Outcome) -> dict[str, Any]:
    """The JSON object of one file: `path` and the result's fields, or `path` and `error`."""
    if isinstance(outcome, DigitclfError):
        return {"path": path, "error": str(outcome)}
    return {"path": path, **outcome.to_dict()}


def row(file: str, outcome: Outcome) -> dict[str, Any]:
    """One flat table row (ROW_FIELDS), for a CSV file or a table. A refused single digit
    has no reading and no confidence (that would be the classifier's, in a digit it is not),
    only the digit it looks most like; a number is "not a digit" when any of its digits is."""
    empty: dict[str, Any] = dict.fromkeys(ROW_FIELDS)
    if isinstance(outcome, DigitclfError):
        return {**empty, "file": file, "error": str(outcome)}
    if isinstance(outcome, NumberResult):
        return {**empty, "file": file, "reading": outcome.text,
                "confidence": round(outcome.confidence, 6),
                "not_a_digit": not all(d.is_digit for d in outcome.digits)}
    if not outcome.is_digit:
        return {**empty, "file": file, "not_a_digit": True, "looks_like": outcome.digit}
    return {**empty, "file": file, "reading": str(outcome.digit),
            "confidence": round(outcome.confidence, 6), "not_a_digit": False}
