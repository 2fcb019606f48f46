"""What every page shares: the model picker, the cached models and evaluations, and the
error guard that turns failures into sentences.

All model, data and metric work is digitclf's; this module only caches its results per
Streamlit process, keyed by the model's name and card, so an overwritten model reloads.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import numpy as np
import streamlit as st
from PIL import Image, ImageDraw, ImageFont

from digitclf.errors import DigitclfError
from digitclf.imaging.decode import to_unit
from digitclf.store.card import ModelCard
from digitclf.store.model_store import ModelStore
from digitclf.training import mydigits

MODEL_KEY = "model"  # session state: the model chosen in the sidebar, shared by all pages
_FRAME_KEY = "_digitclf_frame"  # session state: app.py ran in this session
_WANTED_KEY = "_digitclf_wanted"  # session state: (page, query params) to return to
log = logging.getLogger("digitclf.dashboard")


# ----- the frame: app.py around every page -------------------------------------------------
def frame_ran() -> None:
    """Called by app.py on every run, after st.navigation: marks the session, and brings it
    back to the page it first asked for (see `page_setup`)."""
    st.session_state[_FRAME_KEY] = True
    wanted = st.session_state.pop(_WANTED_KEY, None)
    if wanted:
        st.switch_page(wanted[0], query_params=wanted[1])


def page_setup(page: str) -> None:
    """First line of every page. Until some session has run app.py's st.navigation, a
    freshly started Streamlit serves a folder named pages/ the legacy way: a first request
    for /evaluate runs pages/evaluate.py alone, without app.py's frame. Such a run goes
    through app.py once, which sends it back here (with the same query parameters)."""
    if not st.session_state.get(_FRAME_KEY):
        params = {key: st.query_params.get_all(key) for key in st.query_params}
        st.session_state[_WANTED_KEY] = (page, params)
        st.switch_page("app.py")


# ----- messages ------------------------------------------------------------------------------
def sentence(message: object) -> str:
    text = str(message).strip() or "something went wrong"
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


@contextlib.contextmanager
def friendly_errors() -> Iterator[None]:
    """Show digitclf's errors as they are written, anything else as one line; never a
    traceback. (Streamlit's rerun and stop signals are BaseExceptions and pass through.)"""
    try:
        yield
    except DigitclfError as e:
        st.error(sentence(e), icon=":material/error:")
    except Exception as e:  # a bug or a broken environment: say what, log the details
        log.exception("dashboard page failed")
        st.error(f"Something went wrong ({type(e).__name__}): {sentence(e)}",
                 icon=":material/error:")


def percent(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def plural(count: int, word: str) -> str:
    """ "1 epoch", "2 epochs", "1,000 digits"."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


# ----- the model store and the chosen model -------------------------------------------------
def store() -> ModelStore:
    return ModelStore()


def _stamp(card: ModelCard) -> str:
    """Changes whenever a model of the same name is written again."""
    return f"{card.created_at}|{card.model_bytes}"


def model_picker() -> str | None:
    """The sidebar's model choice (the store's active model until the person picks one)."""
    sidebar = st.sidebar
    try:
        s = store()
        names = s.names()
        active = s.active_name()
    except DigitclfError as e:
        sidebar.error(sentence(e))
        return None
    if not names:
        sidebar.info("No model in the store yet: train one on the **Train** page.")
        return None
    if st.session_state.get(MODEL_KEY) not in names:
        st.session_state[MODEL_KEY] = active if active in names else names[0]
    name = sidebar.selectbox(
        "Model", names, key=MODEL_KEY,
        format_func=lambda n: f"{n} (active)" if n == active else n,
        help="The model every page uses. The active model is the one the command line and a "
             "new session start with; change it on the Models page.",
    )
    try:
        card = s.card(name)
    except DigitclfError as e:
        sidebar.warning(sentence(e))
        return name
    details = [card.architecture]
    if card.test_accuracy is not None:
        details.append(f"{percent(card.test_accuracy)} on MNIST test")
    if card.created_at:
        details.append(f"trained {card.created_at[:10]}")
    sidebar.caption(" · ".join(details))
    return name


def chosen_model() -> str | None:
    return st.session_state.get(MODEL_KEY)


def use_model(name: str) -> None:
    """A button callback: switch the sidebar to this model (before the widget is drawn)."""
    st.session_state[MODEL_KEY] = name


def no_model_message() -> None:
    st.info("There is no model yet. Train one on the **Train** page, or copy the shipped "
            "`models/default/` into the store.", icon=":material/info:")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")


# ----- cached models and evaluations --------------------------------------------------------
@st.cache_resource(max_entries=4, show_spinner=False)
def _predictor(name: str, stamp: str, root: str):
    from digitclf.reading.predictor import load_predictor

    predictor = load_predictor(name, ModelStore(root))
    # Trace the compiled calls now, so the first drawing is answered at full speed.
    warm = np.zeros((28, 28), np.uint8)
    warm[6:22, 12:16] = 255
    with contextlib.suppress(Exception):
        predictor.predict(warm[None])
        predictor.predict_image(warm)
    return predictor


def predictor(name: str):
    """The named model, loaded once per process (a Predictor)."""
    s = store()
    card = s.card(name)  # raises a clear ModelStoreError for a missing model
    with st.spinner(f"Loading model {name}…"):
        return _predictor(name, _stamp(card), str(s.root.absolute()))


@st.cache_resource(max_entries=3, show_spinner=False)
def _evaluation(name: str, stamp: str, root: str):
    from digitclf.training.evaluation import evaluate

    return evaluate(_predictor(name, stamp, root))


def evaluation(name: str):
    """The model's predictions on the 10,000 MNIST test digits (an Evaluation), once per process."""
    s = store()
    card = s.card(name)
    args = (name, _stamp(card), str(s.root.absolute()))
    with st.spinner(f"Reading the 10,000 MNIST test digits with {name}…"):
        predictor(name)
        return _evaluation(*args)


@st.cache_data(max_entries=32, show_spinner=False)
def _my_digits_accuracy(name: str, stamp: str, root: str, files: tuple[str, ...]):
    return mydigits.accuracy(_predictor(name, stamp, root))


def my_digits_accuracy(name: str) -> tuple[float | None, int]:
    """Accuracy on the "my digits" set and its size; recomputed when the set changes."""
    files = tuple(str(p) for p in mydigits.files())
    if not files:
        return None, 0
    s = store()
    card = s.card(name)
    predictor(name)
    return _my_digits_accuracy(name, _stamp(card), str(s.root.absolute()), files)


def digit_picture(image: np.ndarray, scale: int = 4) -> np.ndarray:
    """A 28x28 float or uint8 image as uint8, enlarged by pixel repetition (stays sharp)."""
    pixels = np.clip(np.asarray(image, dtype=np.float32), 0, 255).astype(np.uint8)
    return np.kron(pixels, np.ones((scale, scale), np.uint8))


def on_white(image: np.ndarray) -> np.ndarray:
    """A canvas's RGBA (or an RGB / grey) uint8 array as RGB over white paper."""
    pixels = np.asarray(image)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    if pixels.shape[2] == 4:
        alpha = pixels[..., 3:4].astype(np.float32) / 255
        pixels = pixels[..., :3] * alpha + 255 * (1 - alpha)
    return np.clip(pixels[..., :3], 0, 255).astype(np.uint8)


def shown_picture(pixels: np.ndarray) -> np.ndarray:
    """Decoded pixels (digitclf.imaging.decode.decode_pixels: uint8, or floats in 0..1 for
    16-bit images) as uint8 RGB over white paper, for st.image."""
    if pixels.dtype != np.uint8:
        pixels = np.round(to_unit(pixels) * 255).astype(np.uint8)
    return on_white(pixels)


def boxes_picture(image: np.ndarray, boxes, labels, colors) -> Image.Image:
    """The drawing with a box around each digit and its label above the box, on a white
    band added over the drawing for the labels. Boxes are (x, y, width, height) in the
    image's pixels."""

    drawing = Image.fromarray(on_white(image))
    size = max(14, drawing.height // 14)
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow before 10.1: a small bitmap font
        font = ImageFont.load_default()
    band = size + 12
    picture = Image.new("RGB", (drawing.width, drawing.height + band), "white")
    picture.paste(drawing, (0, band))
    pen = ImageDraw.Draw(picture)
    pen.line((0, band - 1, picture.width, band - 1), fill="#e6e9ef")
    for (x, y, w, h), label, color in zip(boxes, labels, colors):
        y += band
        pen.rectangle((x - 2, y - 2, x + w + 1, y + h + 1), outline=color, width=3)
        left, top, right, bottom = pen.textbbox((0, 0), label, font=font)
        tw, th = right - left, bottom - top
        ty = max(0, y - th - 10)
        tx = min(max(0, x - 2), max(0, picture.width - tw - 6))
        pen.rectangle((tx, ty, tx + tw + 6, ty + th + 6), fill=color)
        pen.text((tx + 3 - left, ty + 3 - top), label, fill="white", font=font)
    return picture
