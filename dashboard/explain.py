""""Why this digit?": the evidence map of digitclf.reading.explain drawn over the model's
28x28 input and over the drawing itself, red for the digit read, blue for the digit it is
weighed against. Computed only while the expander is open, so it costs nothing closed."""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard.common import digit_picture, sentence, shown_picture
from digitclf.errors import DigitclfError
from digitclf.reading.explain import Explanation
from digitclf.reading.predictor import Predictor

FOR = np.array([214, 39, 40], np.float32)  # red: ink that argued for the digit read
AGAINST = np.array([31, 119, 180], np.float32)  # blue: ink that argued for the other digit
OPACITY = 0.85  # of the strongest evidence
INPUT_SCALE = 6  # the 28x28 input shown at 168x168
INK_SHADE = 0.5  # the ink is shown grey under the colours, so that they show on it


def heat_picture(base: np.ndarray, evidence: np.ndarray, strongest: float) -> np.ndarray:
    """base (H, W, 3) uint8 tinted by evidence (H, W): red where it is positive, blue where
    negative, the more opaque the closer to `strongest`."""
    strength = np.clip(np.abs(evidence) / max(strongest, 1e-6), 0, 1)[..., None] * OPACITY
    colour = np.where(evidence[..., None] > 0, FOR, AGAINST)
    return np.round(base * (1 - strength) + colour * strength).astype(np.uint8)


def explanation_pictures(e: Explanation, image: np.ndarray | None) -> list[np.ndarray]:
    """The heat map over the 28x28 input (enlarged), and over `image` when there is one."""
    strongest = float(np.abs(e.evidence).max())
    faint_input = 255 - digit_picture(e.model_input * INK_SHADE, INPUT_SCALE)
    grid = np.kron(e.evidence, np.ones((INPUT_SCALE, INPUT_SCALE), np.float32))
    pictures = [heat_picture(np.repeat(faint_input[..., None], 3, axis=2), grid, strongest)]
    if image is not None:
        faint_image = 255 - (255 - shown_picture(image).astype(np.float32)) * INK_SHADE
        pictures.append(heat_picture(faint_image, e.image_evidence, strongest))
    return pictures


def caption(e: Explanation) -> str:
    other = f"{e.against} (the runner-up)" if e.against == e.runner_up else str(e.against)
    return (f":red[**Red**]: ink that argued for **{e.digit}**; :blue[**blue**]: ink that argued "
            f"for **{other}**. Without the red ink the model would be less sure of {e.digit} "
            f"over {e.against}; without the blue, more.")


def why_this_digit(predictor: Predictor, image: np.ndarray | None, key: str, *,
                   prepared: bool = False, against: int | None = None) -> None:
    """The "Why this digit?" expander for `image` (a drawing or upload; a 28x28 model input
    when `prepared`), weighed against the runner-up or the digit `against`."""
    box = st.expander("Why this digit?", key=key, on_change="rerun", icon=":material/lightbulb:")
    if not box.open:
        return
    with box:
        if image is None:
            st.caption("Draw a digit first.")
            return
        try:
            e = (predictor.explain_input(np.asarray(image, np.float32), against) if prepared
                 else predictor.explain(image, against))
        except DigitclfError as error:  # no digit in it; a model without logits to explain
            st.caption(sentence(error))
            return
        pictures = explanation_pictures(e, None if prepared else image)
        captions = ["Model input (28×28)", "On your image"][: len(pictures)]
        with st.container(horizontal=True, gap="small"):
            for picture, text in zip(pictures, captions):
                st.image(picture, width=168, caption=text)
        st.caption(caption(e))
