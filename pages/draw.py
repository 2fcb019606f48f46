"""Draw (home): draw or upload a digit and see it read as you go; correct the model when it
is wrong, which saves the drawing into the "my digits" set. In number mode a wide pad (or an
uploaded image) takes several digits side by side and shows the number read, each digit boxed
on the drawing.

The controls share one row and the pen width sits in a popover, so that on a phone the pad
and the reading fit on one screen."""

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
    plural,
    predictor,
    sentence,
    shown_picture,
    store,
)
from dashboard.explain import why_this_digit
from dashboard.my_digits import export_and_import
from digitclf.errors import DigitclfError, ImageError, NoDigitError
from digitclf.imaging.decode import decode_pixels
from digitclf.reading.results import DigitResult
from digitclf.training import mydigits

page_setup("pages/draw.py")

READ = ("One digit", "A number")
MODES = ("Draw", "Upload")
DRAW_HINT = "Draw a digit in the box: the prediction appears as you draw."
UPLOAD_HINT = "Upload a photo or scan of a handwritten digit."
NUMBER_HINT = ("Write a number in the wide box: several digits side by side, a little apart. "
               "The reading follows every stroke.")
NUMBER_UPLOAD_HINT = "Upload a photo or scan of a number: several digits side by side."
REFUSED_HINT = "Letters, scribbles and shapes are refused: draw one digit, 0 to 9."
BOX_COLOURS = {True: charts.ACCENT, False: "#f0a202"}  # is_digit: a digit / not sure it is one
# What the uploader offers (the decoder reads these); the size limit is server.maxUploadSize.
IMAGE_TYPES = ["png", "jpg", "jpeg", "bmp", "gif", "tif", "tiff", "webp"]
PEN_WIDTHS = {READ[0]: ("pen_width", 18), READ[1]: ("number_pen_width", 16)}  # key, default


def _strokes(n: int) -> str:
    return plural(n, "stroke")


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
    c3.metric("My digits", plural(count, "drawing"))


def _controls() -> tuple[str, str, int]:
    """One row: one digit or a number, draw or upload, and the pen width in a popover.
    Returns what to read, how, and the pen width."""
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        read = st.segmented_control("Read", READ, default=READ[0], key="read_what",
                                    label_visibility="collapsed") or READ[0]
        mode = st.segmented_control("Input", MODES, default="Draw", key="draw_mode",
                                    label_visibility="collapsed") or "Draw"
        key, default = PEN_WIDTHS[read]
        width = st.session_state.get(key, default)
        if mode == "Draw":
            with st.popover(f"Pen {width}", icon=":material/stylus:"):
                width = st.slider("Pen width", 6, 40, default, key=key,
                                  help="In canvas pixels; the model input is normalised to "
                                       "MNIST's stroke width either way.")
    return read, mode, width


def _upload(what: str) -> tuple[np.ndarray | None, str | None]:
    """The upload box and the image in it, decoded: (pixels, None), (None, why it cannot be
    read) or (None, None) before there is a file. Only image types are offered, up to
    server.maxUploadSize; the browser refuses other files with a message of its own."""
    limit = st.get_option("server.maxUploadSize")
    upload = st.file_uploader(
        f"A photo or scan of {what}", type=IMAGE_TYPES, key=f"upload_{what.split()[-1]}",
        help=f"PNG, JPEG, BMP, GIF, TIFF or WebP, up to {limit} MB. Dark ink on light paper "
             "or light ink on a dark background.")
    if upload is None:
        return None, None
    try:
        return decode_pixels(upload.getvalue()), None
    except ImageError as e:
        return None, sentence(f"Could not read {upload.name}: {e}")


def _input_panel(mode: str, pen_width: int):
    """The canvas, or the upload box and the image uploaded. Returns (image or None, what it
    is, stroke count, why an upload cannot be read or None)."""
    if mode == "Draw":
        result = drawing_canvas(f"canvas-{st.session_state.get('canvas_generation', 0)}",
                                pen_width)
        st.caption("Undo, redo and clear: the toolbar above the canvas.")
        return result.image_data, "drawing", stroke_count(result), None
    pixels, problem = _upload("one digit")
    if pixels is not None:
        st.image(shown_picture(pixels), width="stretch",
                 caption=f"Your upload ({pixels.shape[1]}×{pixels.shape[0]} pixels)")
    return pixels, "upload", 0, problem


def _verdict(result: DigitResult | None) -> None:
    """Prediction and confidence; for an image refused as a digit, "not a digit" and, apart
    and labelled, the digit it looks most like, with no confidence: none was given."""
    with st.container(horizontal=True, gap="medium"):
        if result is None or result.is_digit:
            st.metric("Prediction", "–" if result is None else result.digit, width=150)
            st.metric("Confidence", "–" if result is None else percent(result.confidence, 1),
                      width=150)
        else:
            st.metric("Prediction", "not a digit", width="content",
                      help="The not-a-digit detector refused it, or the model could name no "
                           "digit with at least 50% confidence.")
            st.metric("Looks most like", result.digit, width="content",
                      help="The digit it resembles most. Not a reading, so no confidence.")


def _result_panel(name: str, image, kind: str, strokes: int, problem: str | None) -> None:
    """Prediction, confidence, what the model saw, the ten probabilities and the correction.
    Before there is a digit the same layout stays, empty, under a hint: the elements keep
    their places from one stroke to the next."""
    result, message = None, UPLOAD_HINT if kind == "upload" else DRAW_HINT
    if image is not None:
        try:
            result = predictor(name).predict_image(image)
        except NoDigitError:
            if kind == "upload":
                message = "No digit found in this image: try a tighter crop or more contrast."
        except ImageError as e:
            problem = sentence(e)
    top, seen_cell = st.columns([3, 1], vertical_alignment="top")
    with top:
        _verdict(result)
    seen = np.zeros((28, 28), np.float32) if result is None else result.model_input
    source = "" if result is None else " · " + (_strokes(strokes) if kind == "drawing" else "upload")
    seen_cell.image(digit_picture(seen, 4), width=112, caption=f"What the model saw (28×28){source}")
    if result is None and problem:
        st.warning(problem, icon=":material/image_not_supported:")
    elif result is None:
        st.info(message, icon=":material/draw:")
    elif not result.is_digit:
        st.info(REFUSED_HINT, icon=":material/help:")
    probabilities = np.zeros(10) if result is None else result.probabilities
    refused = result is not None and not result.is_digit
    st.plotly_chart(charts.probabilities(
        probabilities, None if result is None else result.digit, height=240, refused=refused,
        title="How much it resembles each digit (not a reading)" if refused else ""),
        config={"displayModeBar": False}, key="draw_probs")
    why_this_digit(predictor(name), None if result is None else image, key="draw_why")
    st.markdown("**Wrong?** Pick the right digit and keep the drawing for fine-tuning:")
    label = st.pills("The right digit", list(range(10)), key="correct_label", wrap=True,
                     label_visibility="collapsed", disabled=result is None)
    st.button("Save to my digits", icon=":material/bookmark_add:", key="save_correction",
              on_click=_save_correction, args=(image, label), disabled=result is None or label is None)


def _digit_label(digit) -> str:
    return f"{digit.digit} · {percent(digit.confidence, 0)}" if digit.is_digit else "?"


def _number_panel(name: str, mode: str, pen_width: int) -> None:
    """The wide pad (or an upload), then the number read: its text and confidence beside the
    drawing or image with a box, digit and confidence per digit, and what the model saw for
    each digit. Before there is ink the metric stays, empty, under a hint."""
    if mode == "Draw":
        canvas = drawing_canvas(f"number-canvas-{st.session_state.get('canvas_generation', 0)}",
                                pen_width, *NUMBER_SIZE)
        st.caption("Write the digits side by side, left to right. Undo, redo and clear: the "
                   "toolbar above the pad.")
        image, strokes, problem = canvas.image_data, stroke_count(canvas), None
        source, hint = _strokes(strokes), NUMBER_HINT
    else:
        image, problem = _upload("a number")
        strokes, source, hint = 0, "upload", NUMBER_UPLOAD_HINT
    result = None
    if image is not None:
        try:
            result = predictor(name).read_number(image)
        except NoDigitError:
            if mode != "Draw":
                problem = "No digits found in this image: try a tighter crop or more contrast."
        except ImageError as e:
            problem = sentence(e)
    left, right = st.columns([1, 3], vertical_alignment="top")
    if result is None:
        left.metric("Number", "–")
        if problem:
            right.warning(problem, icon=":material/image_not_supported:")
        else:
            right.info(hint, icon=":material/draw:")
        return
    digits = result.digits
    left.metric("Number", result.text)
    left.metric("Confidence", percent(result.confidence, 1),
                help="The probability that the whole number is read exactly right. Readings "
                     "below 99% are worth a person's look.")
    left.caption(f"{plural(len(digits), 'digit')} · {source}")
    unsure = [i + 1 for i, d in enumerate(digits) if not d.is_digit]
    if unsure:
        left.warning(f"Digit {', '.join(map(str, unsure))} does not look like a digit: "
                     "write it again more clearly.", icon=":material/help:")
    shown = shown_picture(image) if mode != "Draw" else image
    right.image(boxes_picture(shown, result.boxes, [_digit_label(d) for d in digits],
                              [BOX_COLOURS[bool(d.is_digit)] for d in digits]),
                caption=("Your upload with what was read" if mode != "Draw" else "What was read")
                + ": each digit's box, digit and confidence", width="stretch")
    st.markdown("**What the model saw** (each digit as a 28×28 input)")
    with st.container(horizontal=True, gap="small"):
        for digit in digits:
            caption = (f"{digit.digit} · {percent(digit.confidence, 1)}" if digit.is_digit
                       else f"? (closest {digit.digit})")
            st.image(digit_picture(digit.model_input, 3), width=84, caption=caption)


@st.fragment
def draw_and_predict(name: str) -> None:
    """Reruns on its own after each stroke: the rest of the page is not rebuilt."""
    with friendly_errors():
        notice = st.session_state.pop("draw_notice", None)
        if notice:
            (st.success if notice[0] == "success" else st.warning)(notice[1])
        read, mode, pen_width = _controls()
        if read == READ[1]:
            _number_panel(name, mode, pen_width)
        else:
            left, right = st.columns([1, 1.25], gap="large")
            with left:
                image, kind, strokes, problem = _input_panel(mode, pen_width)
            with right:
                _result_panel(name, image, kind, strokes, problem)
        st.divider()
        _accuracy_row(name)
        export_and_import()


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
