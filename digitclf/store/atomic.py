"""Files and folders written whole or not at all: written beside the target under a
temporary name, flushed to disk, then renamed onto it, so a process killed halfway leaves
the old file (or none) in place. The model store, exports, the shipped assets, background
runs' records and "my digits" all write this way."""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TEMP_PREFIX = ".tmp-"  # temporary files and folders; the model store skips these names
STALE_SECONDS = 3600  # a temporary left this long is a dead run's, whoever holds its pid now
_WRITER = re.compile(re.escape(TEMP_PREFIX) + r"p(\d+)-")  # the writer's pid in a temporary name


def _temp_prefix(label: str = "") -> str:
    """`.tmp-pPID-LABEL-`: the writing process's id, so that leftovers of a dead writer can
    be told from a live writer's work (see remove_stale_temporaries)."""
    return f"{TEMP_PREFIX}p{os.getpid()}-{label + '-' if label else ''}"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(folder: Path) -> None:
    """Flush every file under `folder`, and the folders themselves, to disk."""
    for parent, _, files in os.walk(folder):
        for name in files:
            _fsync(Path(parent) / name)
        _fsync(Path(parent))


def replace_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """`write(tmp)` writes the new file to a temporary path (with `path`'s suffix, which
    some writers require) in the same folder; it is then flushed to disk and renamed onto
    `path`. On any failure the temporary file goes and `path` is untouched."""
    fd, name = tempfile.mkstemp(prefix=_temp_prefix(), suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        _fsync(tmp)
        tmp.chmod(0o644)  # mkstemp makes it private; the target is readable like any file
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 with RENAME_EXCHANGE); False if unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def _discard(folder: Path, parent: Path, label: str) -> None:
    """Remove a folder after first renaming it out of sight (so it vanishes at once)."""
    trash = Path(tempfile.mkdtemp(prefix=_temp_prefix(label), dir=parent))
    os.replace(folder, trash / folder.name)
    shutil.rmtree(trash, ignore_errors=True)


def write_folder_atomically(final: Path, write: Callable[[Path], object], *,
                            overwrite: bool = False) -> None:
    """`write(tmp)` fills a new temporary folder beside `final` (named `.tmp-NAME-...`); it
    is then flushed to disk and renamed to `final`, replacing an existing one in one step
    when `overwrite`. On any failure the temporary folder goes and `final` is untouched;
    a writer killed outright leaves it, for remove_stale_temporaries."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(final.name), dir=final.parent))
    try:
        write(tmp)
        fsync_tree(tmp)
        tmp.chmod(0o755)  # mkdtemp makes it private; the folder is readable like any other
        if not final.exists():
            os.rename(tmp, final)
        elif not overwrite:
            raise FileExistsError(f"{final} exists")
        elif _exchange(tmp, final):  # swapped in one step: tmp now holds the old folder
            shutil.rmtree(tmp, ignore_errors=True)
        else:  # no atomic swap on this system: move the old one aside, then drop it
            _discard(final, final.parent, f"old-{final.name}")
            os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def remove_folder(folder: Path) -> None:
    """Delete a folder so that it disappears from listings in one step."""
    _discard(folder, folder.parent, f"del-{folder.name}")


def _alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie does not; another user's process does)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc: os.kill said it exists
    return state != "Z"


def remove_stale_temporaries(folder: Path, max_age: float = STALE_SECONDS) -> list[str]:
    """Remove the temporary files and folders in `folder` left by writers that were killed:
    those whose writing process is gone, and any older than `max_age` seconds (its pid may
    have been reused). A live writer's temporaries stay. Returns the names removed."""
    removed: list[str] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    now = time.time()
    for path in entries:
        if not path.name.startswith(TEMP_PREFIX):
            continue
        writer = _WRITER.match(path.name)
        try:
            old = now - path.lstat().st_mtime > max_age
        except OSError:
            continue  # gone meanwhile
        # A name without a pid (an older digitclf's) goes only when old.
        if not (old or writer is not None and not _alive(int(writer.group(1)))):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path.name)
    return removed
