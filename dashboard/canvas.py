"""The drawing canvas: streamlit-drawable-canvas, with its toolbar moved off the drawing area
and a pad that shrinks to the width it is given.

streamlit-drawable-canvas 0.13 floats its toolbar (send, undo, redo, edit, clear) invisibly
over the canvas's top-right corner until the pointer hovers the component, so a stroke
started there can land on the toolbar instead of the canvas, and it has no option to hide
or move the toolbar. Its styles live in a shadow root that page CSS cannot reach, so this
module registers the package's component once more, under the same name and with the same
script, giving it the package's stylesheet plus a few rules that put the toolbar, always
visible, in a row above the canvas (without its "send to the app" button: every stroke is
sent anyway) and shrink a pad to the width of its column. If that ever fails (another
version of the package), the canvas works as shipped.

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
.dc-icon-button[title="Update the app with this drawing"]{display:none}
"""
# A pad wider than the space it is given (the number pad on a phone) shrinks to fit, keeping
# its aspect: its canvases keep their pixel size (the drawing and the boxes read on it stay in
# the pad's own coordinates) and Fabric maps the pointer through the CSS scale.
_FIT_WIDTH_CSS = """
.dc-container,.dc-container>.canvas-container{width:auto!important;height:auto!important;
  max-width:100%}
.dc-container>.canvas-container>canvas.lower-canvas{position:relative!important;display:block}
.dc-container canvas{max-width:100%!important;height:auto!important}
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
            st.components.v2.component(_COMPONENT, html=_HTML,
                                       css=css + _TOOLBAR_ABOVE_CSS + _FIT_WIDTH_CSS,
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
