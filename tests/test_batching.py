"""Micro-batching: concurrent requests share model calls and each gets its own answer."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from digitclf.errors import NoDigitError
from digitclf.service.batching import ImageBatcher


class FakePredictor:
    """Reads b"3" as 3; anything else has no digit. Records its batches; the first one waits
    until released, so the requests arriving meanwhile pile up."""

    name = "fake"

    def __init__(self):
        self.batches: list[list[bytes]] = []
        self.release = threading.Event()

    def predict_images(self, images, chunk, workers):
        self.batches.append(list(images))
        if len(self.batches) == 1:
            self.release.wait(5)
        for image in images:
            yield int(image) if image.isdigit() else NoDigitError(f"no digit in {image!r}")


def test_requests_arriving_during_a_batch_form_the_next_one():
    async def scenario(batcher: ImageBatcher, predictor: FakePredictor) -> list:
        first = asyncio.ensure_future(batcher.read(b"1"))
        await asyncio.sleep(0.05)
        queued = [asyncio.ensure_future(batcher.read(image)) for image in (b"2", b"x", b"4", b"5")]
        await asyncio.sleep(0.05)
        predictor.release.set()
        return await asyncio.gather(first, *queued, return_exceptions=True)

    predictor = FakePredictor()
    with ThreadPoolExecutor(2) as pool:
        results = asyncio.run(scenario(ImageBatcher(predictor, pool, max_batch=3), predictor))
    assert results[:2] == [1, 2] and results[3:] == [4, 5]
    assert isinstance(results[2], NoDigitError) and "b'x'" in str(results[2])
    assert predictor.batches == [[b"1"], [b"2", b"x", b"4"], [b"5"]]


def test_a_failing_batch_fails_its_requests_and_the_batcher_goes_on():
    class Broken(FakePredictor):
        def predict_images(self, images, chunk, workers):
            self.batches.append(list(images))
            if len(self.batches) == 1:
                raise RuntimeError("model crashed")
            return [int(image) for image in images]

    async def scenario(pool):
        batcher = ImageBatcher(Broken(), pool)
        with pytest.raises(RuntimeError, match="model crashed"):
            await batcher.read(b"1")
        return await batcher.read(b"7")

    with ThreadPoolExecutor(2) as pool:
        assert asyncio.run(scenario(pool)) == 7
