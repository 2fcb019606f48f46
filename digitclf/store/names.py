"""Model names: what the store accepts as a folder name."""

from __future__ import annotations

import re

from digitclf.errors import InvalidNameError

NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
DEFAULT_MODEL = "default"  # the shipped model, used when none is chosen


def check_name(name: str) -> str:
    """Return the name if it is a valid model name, else raise a clear error."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InvalidNameError(
            f"invalid model name {name!r}: use 1-64 letters, digits, '-' or '_'"
        )
    return name
