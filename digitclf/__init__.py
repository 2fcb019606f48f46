"""digitclf: handwritten-digit recognition on MNIST with Keras.

    from digitclf import load_predictor
    p = load_predictor()
    p.predict_image("digit.png").digit
"""

__version__ = "0.1.0"

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from digitclf.reading.predictor import DigitResult, Predictor, load_predictor

__all__ = ["load_predictor", "Predictor", "DigitResult", "ModelStore", "DigitclfError", "NoDigitError"]

from digitclf.errors import DigitclfError, NoDigitError  # noqa: E402
from digitclf.store.model_store import ModelStore  # noqa: E402


def __getattr__(name: str):
    """Load the predictor (ONNX Runtime, SciPy, Pillow) on first use, so `import digitclf` stays light."""
    if name in ("load_predictor", "Predictor", "DigitResult"):
        from digitclf.reading import predictor

        return getattr(predictor, name)
    raise AttributeError(f"module 'digitclf' has no attribute {name!r}")
