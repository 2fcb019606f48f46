"""The drawing canvas: streamlit-drawable-canvas, with its toolbar moved off the drawing area.

streamlit-drawable-canvas 0.13 floats its toolbar (send, undo, redo, edit, clear) invisibly
over the canvas's top-right corner until the pointer hovers the component, so a stroke
started there can land on the toolbar instead of the canvas, and it has no option to hide
or move the toolbar. Its styles live in a shadow root that page CSS cannot reach, so this
module registers the package's component once more, under the same name and with the same
script, giving it the package's stylesheet plus a few rules that put the toolbar, always
visible, in a row above the canvas. If that ever fails (another version of the package),
the canvas works as shipped.

Importing this module outside `streamlit run` raises (the package registers its component
at import), so only the Draw page imports it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st
import streamlit_drawable_canvas as _package
from streamlit_drawable_canvas import CanvasResult, st_canvas

SIZE = 280  # canvas pixels: 10x MNIST's 28
NUMBER_SIZE = (840, 240)  # the wide pad for a number: width, height
_COMPONENT = "streamlit-drawable-canvas.streamlit_drawable_canvas"
_HTML = '<div class="canvas-root"></div>'  # as the package declares it
_TOOLBAR_ABOVE_CSS = """
.dc-root{display:flex;flex-direction:column}
.dc-root>.dc-toolbar,.dc-root:hover>.dc-toolbar,.dc-root>.dc-toolbar[data-pinned=true]{
  position:static;order:-1;opacity:1;top:auto;transition:none;padding:0 0 .4rem 0;
  justify-content:flex-end}
"""


def _move_toolbar_above() -> None:
    try:
        build = Path(_package.__file__).parent / "frontend" / "build"
        stylesheets = list(build.glob("index-*.css"))
        if len(stylesheets) != 1 or ".dc-toolbar" not in (css := stylesheets[0].read_text()):
            return
        # Re-registering a component logs a warning meant for name clashes; this one is meant.
        registry_log = logging.getLogger("streamlit.components.v2.component_registry")
        level = registry_log.level
        registry_log.setLevel(logging.ERROR)
        try:
            st.components.v2.component(_COMPONENT, html=_HTML, css=css + _TOOLBAR_ABOVE_CSS,
                                       js="index-*.js", isolate_styles=True)
        finally:
            registry_log.setLevel(level)
    except Exception:  # the package changed: keep its own layout
        pass


_move_toolbar_above()


def drawing_canvas(key: str, stroke_width: int, width: int = SIZE,
                   height: int = SIZE) -> CanvasResult:
    """A white pad (280x280 unless told) with a black pen; the app reruns after every stroke."""
    return st_canvas(
        stroke_width=stroke_width, stroke_color="#000000", background_color="#FFFFFF",
        width=width, height=height, drawing_mode="freedraw", update_streamlit=True,
        return_image_data=True, key=key,
    )


def stroke_count(result: CanvasResult) -> int:
    return len((result.json_data or {}).get("objects") or [])
