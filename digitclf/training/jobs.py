"""Training runs as background processes: start one, follow its progress, cancel it.

    job = jobs.start("quick", preset="fast", epochs=1, train_subset=1000)
    jobs.status(job).progress      # 0..1, from the run's progress events
    jobs.cancel(job)               # kills the run's process group; the store stays as it was

A run is `python -m digitclf train --config FILE --events FILE ...` in its own process
group (so a cancel reaches every process it started), at a lower CPU priority than its
caller. Each run has a folder under the jobs root holding `job.json` (what was asked),
`config.json` (the run's TrainConfig, which the run reads), `events.jsonl` (progress, see
digitclf.training.progress), `stderr.log` (whose last line says why a run failed) and,
once cancelled, a `cancelled` marker. Jobs root: `settings().jobs_dir` (`DIGITCLF_JOBS`), else
`.jobs/` inside the model store's root (a name the store never lists).

Any process can follow or cancel any run: state is read from the files and from the
process table, not from memory, so browser sessions of one dashboard (or a restarted
dashboard) all see the same runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitclf.errors import DigitclfError, ModelStoreError
from digitclf.settings import REPO_ROOT, settings
from digitclf.store.atomic import remove_stale_temporaries, replace_atomically
from digitclf.store.model_store import ModelStore
from digitclf.store.names import check_name
from digitclf.training.config import TrainConfig, config_for, write_config_file
from digitclf.training.progress import TrainingEvent, read_events

JOB_FILE = "job.json"
CONFIG_FILE = "config.json"
EVENTS_FILE = "events.jsonl"
STDERR_FILE = "stderr.log"
STDOUT_FILE = "stdout.log"
CANCELLED_FILE = "cancelled"
LOCK_FILE = ".lock"
NICENESS = 10  # the run yields the CPU to the dashboard serving drawings
MAX_RUNNING = 1  # on a small machine, one training at a time keeps everything responsive
KEEP_FINISHED = 20  # finished run folders kept for reference; older ones are pruned

# Runs this process started: polling them through Popen reaps them (no zombies left).
_processes: dict[str, subprocess.Popen] = {}


class JobError(DigitclfError):
    """A run cannot be started or found."""


def jobs_dir(store: ModelStore | None = None) -> Path:
    return settings().jobs_dir or (store or ModelStore()).root.absolute() / ".jobs"


@dataclass(frozen=True)
class Job:
    """One training run, as recorded in its folder's job.json."""

    id: str
    folder: Path
    name: str  # the model it trains
    pid: int
    started_at: float  # time.time()
    preset: str
    hyperparameters: dict[str, Any]  # the overrides given (None: the preset's value)
    activate: bool = False
    overwrite: bool = False
    store_root: str = ""

    @property
    def events_file(self) -> Path:
        return self.folder / EVENTS_FILE

    @property
    def stderr_file(self) -> Path:
        return self.folder / STDERR_FILE


@dataclass
class JobStatus:
    """What a run is doing now, from its events and its process."""

    job: Job
    state: str  # 'starting' | 'running' | 'succeeded' | 'failed' | 'cancelled'
    epoch: int = 0  # the epoch in progress (1-based), or the last one finished
    epochs: int = 0
    step: int = 0
    steps: int = 0
    history: list[dict[str, float]] = field(default_factory=list)  # one dict per finished epoch
    # (epoch - 1 + share of its steps done, logs): the running training values
    batches: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    test_accuracy: float | None = None
    message: str = ""  # why a run failed, in a sentence

    @property
    def running(self) -> bool:
        return self.state in ("starting", "running")

    @property
    def progress(self) -> float:
        """Share of the training steps done, 0..1 (1 once the run succeeded)."""
        if self.state == "succeeded":
            return 1.0
        if not self.epochs or not self.steps:
            return 0.0
        done = (max(self.epoch, 1) - 1) * self.steps + self.step
        return max(0.0, min(1.0, done / (self.epochs * self.steps)))


# ----- starting a run ------------------------------------------------------------------------
def _train_command(folder: Path, name: str, config: TrainConfig, preset: str, activate: bool,
                   overwrite: bool) -> list[str]:
    """The `digitclf train` arguments of a run: its config goes into the run's folder as a
    file, checked once here and read back as it is by the run."""
    write_config_file(folder / CONFIG_FILE, config, preset)
    argv = ["train", "--config", str(folder / CONFIG_FILE), "--name", name,
            "--events", str(folder / EVENTS_FILE)]
    return argv + ["--activate"] * activate + ["--overwrite"] * overwrite


@contextlib.contextmanager
def _locked(root: Path):
    """An exclusive lock over the jobs root, across processes (best effort off POSIX)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK_FILE, "a+") as f:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def start(name: str, preset: str = "fast", *, activate: bool = False, overwrite: bool = False,
          store: ModelStore | None = None, **hyperparameters: Any) -> Job:
    """Check the request, then start the training process and return at once.

    Raises a DigitclfError (with a sentence to show) for a bad name or hyperparameter, a
    missing base model, an empty "my digits" set, an existing model without `overwrite`,
    or while another run is going on.
    """
    store = store or ModelStore()
    check_name(name)
    config = config_for(preset, **hyperparameters)  # raises ConfigError with a readable message
    base = hyperparameters.get("base_model")
    if base is not None and not store.exists(base):
        raise ModelStoreError(f"the base model {base!r} is not in the store")
    if hyperparameters.get("my_digits"):
        from digitclf.training import mydigits

        if not mydigits.files():
            raise JobError("the \"my digits\" set is empty: correct some drawings first")
    if store.exists(name) and not overwrite:
        raise ModelStoreError(
            f"a model named {name!r} already exists: choose another name or overwrite it"
        )

    root = jobs_dir(store)
    with _locked(root):
        running = [s for s in (status(j) for j in list_jobs(store)) if s.running]
        for s in running:
            if s.job.name == name:
                raise JobError(f"a training of {name!r} is already running")
        if len(running) >= MAX_RUNNING:
            raise JobError(
                f"a training ({running[0].job.name!r}) is already running: "
                "wait for it to finish or cancel it"
            )
        _prune(root, store)
        job_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        folder = root / job_id
        folder.mkdir(parents=True)
        (folder / EVENTS_FILE).touch()
        argv = [sys.executable, "-m", "digitclf",
                *_train_command(folder, name, config, preset, activate, overwrite)]
        here = settings()  # the run starts in the repository: it gets absolute paths
        env = {**os.environ, "PYTHONUNBUFFERED": "1",
               "DIGITCLF_MODELS": str(store.root.absolute()),
               "DIGITCLF_DATA": str(here.data_dir.absolute()),
               "DIGITCLF_MY_DIGITS": str(here.my_digits_dir.absolute())}
        try:
            with open(folder / STDOUT_FILE, "wb") as out, open(folder / STDERR_FILE, "wb") as err:
                process = subprocess.Popen(
                    argv, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
                    stderr=err, start_new_session=True,  # its own process group, for cancel
                )
        except OSError as e:
            shutil.rmtree(folder, ignore_errors=True)
            raise JobError(f"the training process cannot be started: {e}") from None
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, process.pid, NICENESS)
        _processes[job_id] = process
        job = Job(job_id, folder, name, process.pid, time.time(), preset,
                  {k: v for k, v in hyperparameters.items() if v is not None},
                  activate, overwrite, str(store.root.absolute()))
        record = {k: v for k, v in dataclasses.asdict(job).items() if k != "folder"}
        replace_atomically(folder / JOB_FILE, lambda tmp: tmp.write_text(
            json.dumps({**record, "argv": argv[1:]}, indent=2)))
    return job


# ----- finding runs --------------------------------------------------------------------------
def _read_job(folder: Path) -> Job | None:
    try:
        data = json.loads((folder / JOB_FILE).read_text())
        return Job(
            id=data["id"], folder=folder, name=data["name"], pid=int(data["pid"]),
            started_at=float(data["started_at"]), preset=data.get("preset", "fast"),
            hyperparameters=dict(data.get("hyperparameters") or {}),
            activate=bool(data.get("activate")), overwrite=bool(data.get("overwrite")),
            store_root=data.get("store_root", ""),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def list_jobs(store: ModelStore | None = None) -> list[Job]:
    """Every recorded run, newest first."""
    root = jobs_dir(store)
    if not root.is_dir():
        return []
    jobs = [job for p in root.iterdir() if p.is_dir() and (job := _read_job(p)) is not None]
    return sorted(jobs, key=lambda j: j.started_at, reverse=True)


def get(job_id: str, store: ModelStore | None = None) -> Job:
    valid = bool(re.fullmatch(r"[0-9A-Za-z-]{1,64}", job_id or ""))
    job = _read_job(jobs_dir(store) / job_id) if valid else None
    if job is None:
        raise JobError(f"no training run {job_id!r}")
    return job


# ----- following a run -----------------------------------------------------------------------
def _alive(job: Job) -> bool:
    process = _processes.get(job.id)
    if process is not None:
        return process.poll() is None
    proc = Path(f"/proc/{job.pid}")
    if proc.parent.is_dir():  # Linux: check it is our process, and not a zombie
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return str(job.events_file).encode() in cmdline and state != "Z"
    try:
        os.kill(job.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def last_error_line(job: Job) -> str:
    """The last line the run wrote to stderr (progress bars skipped), without 'error: '."""
    try:
        with open(job.stderr_file, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            tail = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line.strip() for line in tail.replace("\r", "\n").split("\n")]
    lines = [line for line in lines if line and "step/s" not in line and "%|" not in line]
    if not lines:
        return ""
    line = lines[-1]
    return line[len("error: "):] if line.startswith("error: ") else line


def _model_landed(job: Job) -> bool:
    """Whether the run's model is in the store, written after the run started."""
    store = ModelStore(job.store_root) if job.store_root else ModelStore()
    try:
        if not store.exists(job.name):
            return False
        card = store.card(job.name)
    except DigitclfError:
        return False
    from datetime import datetime

    try:
        created = datetime.fromisoformat(card.created_at).timestamp()
    except ValueError:
        return True
    return created >= job.started_at - 2  # the card's time has whole seconds


def status(job: Job) -> JobStatus:
    events: list[TrainingEvent] = read_events(job.events_file)
    s = JobStatus(job=job, state="starting")
    for event in events:
        s.epochs = event.epochs or s.epochs
        if event.kind == "batch":
            s.epoch, s.step, s.steps = event.epoch, event.step, event.steps
            if event.steps:
                s.batches.append((event.epoch - 1 + event.step / event.steps, dict(event.logs)))
        elif event.kind == "epoch":
            s.epoch, s.step, s.steps = event.epoch, event.steps, event.steps
            s.history.append({"epoch": event.epoch, **event.logs})
        elif event.kind == "start":
            s.steps = event.steps
        elif event.kind == "done":
            s.test_accuracy = event.logs.get("test_accuracy")
    started = any(e.kind == "start" for e in events)
    if _alive(job):
        s.state = "running" if started else "starting"
        return s
    process = _processes.get(job.id)
    returncode = process.returncode if process is not None else None
    if (job.folder / CANCELLED_FILE).exists():
        s.state = "cancelled"
        s.message = "cancelled: nothing was saved"
    elif (returncode == 0 or returncode is None) and _model_landed(job):
        s.state = "succeeded"
    else:
        s.state = "failed"
        reason = last_error_line(job)
        if returncode is not None and returncode < 0:
            reason = reason or f"the training process was killed (signal {-returncode})"
        s.message = reason or "the training process ended without saving a model"
    return s


# ----- cancelling a run ----------------------------------------------------------------------
def cancel(job: Job, timeout: float = 10.0) -> JobStatus:
    """Kill the run's whole process group and remove anything it left half-written."""
    (job.folder / CANCELLED_FILE).touch()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if _alive(job):
            os.killpg(job.pid, signal.SIGKILL)
    process = _processes.get(job.id)
    deadline = time.monotonic() + timeout
    if process is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
    else:
        while _alive(job) and time.monotonic() < deadline:
            time.sleep(0.05)
    _remove_partial_writes(job)
    result = status(job)
    if _model_landed(job):  # the kill came after the model was complete: it stays
        (job.folder / CANCELLED_FILE).unlink(missing_ok=True)
        result = status(job)
    return result


def _remove_partial_writes(job: Job) -> None:
    """What the killed run left half-written in the store (the store ignores it already;
    this frees the disk). Another writer's work in progress stays."""
    remove_stale_temporaries(Path(job.store_root) if job.store_root else ModelStore().root)


def _prune(root: Path, store: ModelStore) -> None:
    finished = [j for j in list_jobs(store) if not _alive(j)]
    for job in finished[KEEP_FINISHED:]:
        _processes.pop(job.id, None)
        shutil.rmtree(job.folder, ignore_errors=True)
