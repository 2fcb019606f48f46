"""Files written whole or not at all: written beside the target under a temporary name, then
renamed onto it, so a process killed halfway leaves the old file (or none) in place."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

TEMP_PREFIX = ".tmp-"  # temporary files and folders; the model store skips these names


def replace_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """`write(tmp)` writes the new file to a temporary path (with `path`'s suffix, which
    some writers require) in the same folder; it is then flushed to disk and renamed onto
    `path`. On any failure the temporary file goes and `path` is untouched."""
    fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        tmp.chmod(0o644)  # mkstemp makes it private; the target is readable like any file
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
