"""Where the repository's own data and models live (paths relative to this package)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
