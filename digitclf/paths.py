"""Where the repository's own data and models live (paths relative to this package)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSET_DIR = Path(__file__).resolve().parent / "assets"
DETECTOR_KERAS = ASSET_DIR / "not_a_digit.keras"  # the not-a-digit detector (digitclf.detector)
DETECTOR_ONNX = ASSET_DIR / "not_a_digit.onnx"  # ... translated, as predictions run it
DETECTOR_INFO = ASSET_DIR / "not_a_digit.json"  # ... its threshold and figures
