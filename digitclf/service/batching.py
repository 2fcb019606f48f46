"""Micro-batching: the images of concurrent requests go through the model together.

While one batch is being read (Predictor.predict_images: preprocessing on threads, then one
model call for the whole batch), the requests that arrive queue up and become the next
batch. No timer: a request that finds the batcher idle starts at once. (Two batches at once,
one preprocessing while the other is in the model, measured more CPU per request: the
threads of one process contend for the GIL. Use server processes for more cores.)
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from functools import partial
from typing import TYPE_CHECKING

from digitclf.errors import DigitclfError

if TYPE_CHECKING:
    from digitclf.imaging.decode import ImageSource
    from digitclf.reading.predictor import Predictor
    from digitclf.reading.results import DigitResult


class ImageBatcher:
    def __init__(self, predictor: Predictor, executor: Executor, max_batch: int = 32, threads: int = 2):
        self.predictor = predictor
        self.executor = executor
        self.max_batch = max_batch
        self.threads = threads
        self._queue: list[tuple[ImageSource, asyncio.Future]] = []
        self._busy = False

    async def read(self, image: ImageSource) -> DigitResult:
        """The digit in one image; raises its DigitclfError as predict_image would."""
        future = asyncio.get_running_loop().create_future()
        self._queue.append((image, future))
        if not self._busy:
            self._start()
        outcome = await future
        if isinstance(outcome, DigitclfError):
            raise outcome
        return outcome

    def _start(self) -> None:
        batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
        self._busy = True
        images = [image for image, _ in batch]
        job = asyncio.get_running_loop().run_in_executor(self.executor, self._read_all, images)
        job.add_done_callback(partial(self._finish, [future for _, future in batch]))

    def _read_all(self, images: list[ImageSource]) -> list[DigitResult | DigitclfError]:
        return list(self.predictor.predict_images(images, chunk=len(images), workers=self.threads))

    def _finish(self, futures: list[asyncio.Future], job: asyncio.Future) -> None:
        self._busy = False
        for index, future in enumerate(futures):
            if future.done():  # the request went away meanwhile
                continue
            if job.cancelled():
                future.cancel()
            elif (error := job.exception()) is not None:
                future.set_exception(error)
            else:
                future.set_result(job.result()[index])
        if self._queue:
            self._start()
