"""Training progress: the events a training run emits and the observers that show them."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO


@dataclass
class TrainingEvent:
    """What a progress observer is told: 'start', 'batch', 'epoch' (with logs) or 'done'."""

    kind: str
    epoch: int
    epochs: int
    step: int = 0
    steps: int = 0
    logs: dict[str, float] = field(default_factory=dict)


EventHandler = Callable[[TrainingEvent], None]


def fan_out(handlers: Iterable[EventHandler]) -> EventHandler:
    handlers = list(handlers)

    def handle(event: TrainingEvent) -> None:
        for handler in handlers:
            handler(event)

    return handle


class TerminalProgress:
    """Progress for a person at a terminal: a tqdm bar per epoch on stderr while the run
    goes on, and one summary line per epoch. When stderr is not a terminal (a file, a pipe,
    a CI log) a bar's redraws would pile up there as hundreds of lines, so only the epoch
    lines are written."""

    def __init__(self, stream: TextIO | None = None):
        from tqdm import tqdm

        self._tqdm = tqdm
        self._stream = stream if stream is not None else sys.stderr
        self._live = self._stream.isatty()
        self._bar: Any = None

    def __call__(self, event: TrainingEvent) -> None:
        if event.kind == "batch" and self._live:
            if self._bar is None:
                self._bar = self._tqdm(total=event.steps, unit="step", leave=False,
                                       desc=f"epoch {event.epoch}/{event.epochs}",
                                       file=self._stream)
            self._bar.update(event.step - self._bar.n)
            self._bar.set_postfix(loss=f"{event.logs.get('loss', 0):.4f}",
                                  acc=f"{event.logs.get('accuracy', 0):.4f}", refresh=False)
        elif event.kind == "epoch":
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            logs = event.logs
            self._line(
                f"epoch {event.epoch}/{event.epochs}: loss {logs.get('loss', 0):.4f}, "
                f"accuracy {logs.get('accuracy', 0):.4f}, val_loss {logs.get('val_loss', 0):.4f}, "
                f"val_accuracy {logs.get('val_accuracy', 0):.4f}"
            )
        elif event.kind == "done":
            self._line("evaluated on the test set")

    def _line(self, text: str) -> None:
        """On standard output, around a bar if one is drawn; flushed, so a log follows the run."""
        self._tqdm.write(text, file=sys.stdout)
        sys.stdout.flush()


class JsonLinesProgress:
    """Appends every epoch (and every 10th batch) as a JSON line: a live feed for another process."""

    def __init__(self, path: str | Path, batch_every: int = 10):
        self.path = Path(path)
        self.batch_every = batch_every

    def __call__(self, event: TrainingEvent) -> None:
        if event.kind == "batch" and event.step % self.batch_every and event.step != event.steps:
            return
        with open(self.path, "a") as f:
            f.write(json.dumps(asdict(event)) + "\n")


def read_events(path: str | Path) -> list[TrainingEvent]:
    """The events written so far by JsonLinesProgress (a partly written last line is skipped)."""
    try:
        lines = Path(path).read_text().splitlines()
    except FileNotFoundError:
        return []
    events = []
    for line in lines:
        try:
            events.append(TrainingEvent(**json.loads(line)))
        except (ValueError, TypeError):
            continue
    return events
