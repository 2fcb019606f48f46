"""Draw (home): draw or upload a digit and see it read as you go; correct the model when it
is wrong, which saves the drawing into the "my digits" set. In number mode a wide pad takes
several digits side by side and shows the number read, each digit boxed on the drawing."""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import charts
from dashboard.canvas import NUMBER_SIZE, drawing_canvas, stroke_count
from dashboard.common import (
    boxes_picture,
    chosen_model,
    digit_picture,
    friendly_errors,
    my_digits_accuracy,
    no_model_message,
    page_setup,
    percent,
    predictor,
    sentence,
    store,
)
from digitclf.errors import DigitclfError, ImageError, NoDigitError
from digitclf.training import mydigits

page_setup("pages/draw.py")

READ = ("One digit", "A number")
MODES = ("Draw", "Upload")
DRAW_HINT = "Draw a digit in the box: the prediction appears as you draw."
UPLOAD_HINT = "Upload a PNG or JPG of a handwritten digit."
NUMBER_HINT = ("Write a number in the wide box: several digits side by side, a little apart. "
               "The reading follows every stroke.")
BOX_COLOURS = {True: charts.ACCENT, False: "#f0a202"}  # is_digit: a digit / not sure it is one


def _strokes(n: int) -> str:
    return f"{n} stroke{'s' if n != 1 else ''}"


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
    c1.metric("MNIST test accuracy", percent(card.test_accuracy),
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
    m1.metric("Prediction", "–" if result is None else
              result.digit if result.is_digit else "not a digit")
    m2.metric("Confidence", "–" if result is None else percent(result.confidence, 1))
    seen = np.zeros((28, 28), np.float32) if result is None else result.model_input
    source = "" if result is None else " · " + (_strokes(strokes) if kind == "drawing" else "upload")
    m3.image(digit_picture(seen, 4), width=112, caption=f"What the model saw (28×28){source}")
    if result is None and problem:
        st.warning(message, icon=":material/image_not_supported:")
    elif result is None:
        st.info(message, icon=":material/draw:")
    elif not result.is_digit:
        st.warning(f"This does not look like a digit (closest: {result.digit}).",
                   icon=":material/help:")
    probabilities = np.zeros(10) if result is None else result.probabilities
    st.plotly_chart(charts.probabilities(probabilities, None if result is None else result.digit,
                                         height=240),
                    config={"displayModeBar": False}, key="draw_probs")
    st.markdown("**Wrong?** Pick the right digit and keep the drawing for fine-tuning:")
    label = st.pills("The right digit", list(range(10)), key="correct_label",
                     label_visibility="collapsed", disabled=result is None)
    st.button("Save to my digits", icon=":material/bookmark_add:", key="save_correction",
              on_click=_save_correction, args=(image, label), disabled=result is None or label is None)


def _digit_label(digit) -> str:
    return f"{digit.digit} · {percent(digit.confidence, 0)}" if digit.is_digit else "?"


def _number_panel(name: str) -> None:
    """The wide pad, then the number read: its text, the drawing with a box, digit and
    confidence per digit, and what the model saw for each digit. Before there is ink the
    metric stays, empty, under a hint."""
    width = st.columns([1, 1.4])[0].slider(
        "Pen width", 6, 40, 16, key="number_pen_width",
        help="In canvas pixels; each digit is normalised to MNIST's stroke width either way.")
    canvas = drawing_canvas(f"number-canvas-{st.session_state.get('canvas_generation', 0)}",
                            width, *NUMBER_SIZE)
    st.caption("Write the digits side by side, left to right. Undo, redo and clear with the "
               "toolbar above the pad.")
    image, strokes = canvas.image_data, stroke_count(canvas)
    result = None
    if image is not None:
        try:
            result = predictor(name).read_number(image)
        except NoDigitError:
            pass
    left, right = st.columns([1, 4], vertical_alignment="top")
    if result is None:
        left.metric("Number", "–")
        right.info(NUMBER_HINT, icon=":material/draw:")
        return
    digits = result.digits
    left.metric("Number", result.text)
    left.metric("Confidence", percent(result.confidence, 1),
                help="The probability that the whole number is read exactly right. Readings "
                     "below 99% are worth a person's look.")
    left.caption(f"{len(digits)} digit{'s' if len(digits) != 1 else ''} · {_strokes(strokes)}")
    unsure = [i + 1 for i, d in enumerate(digits) if not d.is_digit]
    if unsure:
        left.warning(f"Digit {', '.join(map(str, unsure))} does not look like a digit: "
                     "write it again more clearly.", icon=":material/help:")
    right.image(boxes_picture(image, result.boxes, [_digit_label(d) for d in digits],
                              [BOX_COLOURS[bool(d.is_digit)] for d in digits]),
                caption="What was read: each digit's box, digit and confidence",
                width="stretch")
    st.markdown("**What the model saw** (each digit as a 28×28 input)")
    for cell, digit in zip(st.columns(max(len(digits), 10)), digits):
        caption = (f"{digit.digit} · {percent(digit.confidence, 1)}" if digit.is_digit
                   else f"? (closest {digit.digit})")
        cell.image(digit_picture(digit.model_input, 3), width=84, caption=caption)


@st.fragment
def draw_and_predict(name: str) -> None:
    """Reruns on its own after each stroke: the rest of the page is not rebuilt."""
    with friendly_errors():
        _accuracy_row(name)
        notice = st.session_state.pop("draw_notice", None)
        if notice:
            (st.success if notice[0] == "success" else st.warning)(notice[1])
        read = st.segmented_control("Read", READ, default=READ[0], key="read_what",
                                    label_visibility="collapsed") or READ[0]
        if read == READ[1]:
            _number_panel(name)
            return
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
