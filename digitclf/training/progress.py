"""Training progress: the events a training run emits and the observers that show them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path


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
    """A tqdm bar per epoch on stderr, and one summary line per epoch."""

    def __init__(self):
        from tqdm import tqdm

        self._tqdm = tqdm
        self._bar = None

    def __call__(self, event: TrainingEvent) -> None:
        if event.kind == "batch":
            if self._bar is None:
                self._bar = self._tqdm(total=event.steps, unit="step", leave=False,
                                       desc=f"epoch {event.epoch}/{event.epochs}")
            self._bar.update(event.step - self._bar.n)
            self._bar.set_postfix(loss=f"{event.logs.get('loss', 0):.4f}",
                                  acc=f"{event.logs.get('accuracy', 0):.4f}", refresh=False)
        elif event.kind == "epoch":
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            logs = event.logs
            self._tqdm.write(
                f"epoch {event.epoch}/{event.epochs}: loss {logs.get('loss', 0):.4f}, "
                f"accuracy {logs.get('accuracy', 0):.4f}, val_loss {logs.get('val_loss', 0):.4f}, "
                f"val_accuracy {logs.get('val_accuracy', 0):.4f}"
            )
        elif event.kind == "done":
            self._tqdm.write("evaluated on the test set")


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
