"""Draw (home): draw or upload a digit and see it read as you go; correct the model when it
is wrong, which saves the drawing into the "my digits" set."""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import charts
from dashboard.canvas import drawing_canvas, stroke_count
from dashboard.common import (chosen_model, digit_picture, friendly_errors, my_digits_accuracy,
                              no_model_message, page_setup, percent, predictor, sentence, store)
from digitclf import mydigits
from digitclf.errors import DigitclfError, ImageError, NoDigitError

page_setup("pages/draw.py")

MODES = ("Draw", "Upload")
DRAW_HINT = "Draw a digit in the box: the prediction appears as you draw."
UPLOAD_HINT = "Upload a PNG or JPG of a handwritten digit."


def _clear_canvas() -> None:
    st.session_state["canvas_generation"] = st.session_state.get("canvas_generation", 0) + 1


def _save_correction(image, label: int | None) -> None:
    """Button callback: keep the drawing with its right label, then start a fresh canvas."""
    if label is None:
        st.session_state["draw_notice"] = ("warning", "Pick the right digit first.")
        return
    try:
        mydigits.add(image, int(label))
    except DigitclfError as e:
        st.session_state["draw_notice"] = ("warning", sentence(e))
        return
    count = len(mydigits.files())
    st.session_state["draw_notice"] = (
        "success", f"Saved as a {label} in your digits ({count} in the set). "
                   "Fine-tune on them from the Train page.")
    st.session_state["correct_label"] = None
    _clear_canvas()


def _accuracy_row(name: str) -> None:
    card = store().card(name)
    acc, count = my_digits_accuracy(name)
    c1, c2, c3 = st.columns(3)
    c1.metric("MNIST test accuracy", percent(card.get("test_accuracy")),
              help="On the 10,000 MNIST test digits (from the model card).")
    c2.metric("My digits accuracy", percent(acc, 1) if count else "–",
              help="On the drawings you corrected (the \"my digits\" set).")
    c3.metric("My digits", f"{count} drawing{'s' if count != 1 else ''}")


def _input_panel():
    """The canvas or the upload box. Returns (image or None, what it is, stroke count)."""
    mode = st.segmented_control("Input", MODES, default="Draw", key="draw_mode",
                                label_visibility="collapsed") or "Draw"
    if mode == "Draw":
        width = st.slider("Pen width", 6, 40, 18, key="pen_width",
                          help="In canvas pixels; the model input is normalised to MNIST's "
                               "stroke width either way.")
        result = drawing_canvas(f"canvas-{st.session_state.get('canvas_generation', 0)}", width)
        st.caption("Undo, redo and clear with the toolbar above the canvas. "
                   "The prediction follows every stroke.")
        return result.image_data, "drawing", stroke_count(result)
    upload = st.file_uploader("A photo or scan of one digit", type=["png", "jpg", "jpeg"],
                              key="upload",
                              help="Dark ink on light paper or light ink on a dark background.")
    if upload is None:
        return None, "upload", 0
    return upload.getvalue(), "upload", 0


def _result_panel(name: str, image, kind: str, strokes: int) -> None:
    """Prediction, confidence, what the model saw, the ten probabilities and the correction.
    Before there is a digit the same layout stays, empty, under a hint: the elements keep
    their places from one stroke to the next."""
    result, message, problem = None, UPLOAD_HINT if kind == "upload" else DRAW_HINT, False
    if image is not None:
        try:
            result = predictor(name).predict_image(image)
        except NoDigitError:
            if kind == "upload":
                message = "No digit found in this image: try a tighter crop or more contrast."
        except ImageError as e:
            message, problem = sentence(e), True
    m1, m2, m3 = st.columns([1, 1.2, 1], vertical_alignment="top")
    if result is None:
        m1.metric("Prediction", "–")
        m2.metric("Confidence", "–")
        if problem:
            st.warning(message, icon=":material/image_not_supported:")
        else:
            st.info(message, icon=":material/draw:")
        st.plotly_chart(charts.probabilities(np.zeros(10), height=240), key="draw_probs",
                        config={"displayModeBar": False})
        return
    m1.metric("Prediction", result.digit if result.is_digit else "not a digit")
    m2.metric("Confidence", percent(result.confidence, 1))
    source = f"{strokes} stroke{'s' if strokes != 1 else ''}" if kind == "drawing" else "upload"
    m3.image(digit_picture(result.model_input, 4), width=112,
             caption=f"What the model saw (28×28) · {source}")
    if not result.is_digit:
        st.warning(f"This does not look like a digit (closest: {result.digit}).",
                   icon=":material/help:")
    st.plotly_chart(charts.probabilities(result.probabilities, result.digit, height=240),
                    config={"displayModeBar": False}, key="draw_probs")
    st.markdown("**Wrong?** Pick the right digit and keep the drawing for fine-tuning:")
    label = st.pills("The right digit", list(range(10)), key="correct_label",
                     label_visibility="collapsed")
    st.button("Save to my digits", icon=":material/bookmark_add:", key="save_correction",
              on_click=_save_correction, args=(image, label), disabled=label is None)


@st.fragment
def draw_and_predict(name: str) -> None:
    """Reruns on its own after each stroke: the rest of the page is not rebuilt."""
    with friendly_errors():
        _accuracy_row(name)
        notice = st.session_state.pop("draw_notice", None)
        if notice:
            (st.success if notice[0] == "success" else st.warning)(notice[1])
        left, right = st.columns([1, 1.25], gap="large")
        with left:
            image, kind, strokes = _input_panel()
        with right:
            _result_panel(name, image, kind, strokes)


def main() -> None:
    st.header("Draw a digit")
    name = chosen_model()
    if name is None:
        no_model_message()
        return
    predictor(name)  # load it now, not on the first stroke
    draw_and_predict(name)


with friendly_errors():
    main()
