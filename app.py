"""The digitclf dashboard: `streamlit run app.py`.

This entry file is the frame around every page: page setup, navigation and the sidebar's
model picker (shared by all pages through session state). The pages live in pages/; all
model, data and metric work is done by the digitclf package.
"""

import streamlit as st

st.set_page_config(page_title="digitclf", page_icon="✏️", layout="wide")

from dashboard.common import frame_ran, model_picker  # noqa: E402  (after set_page_config)

pages = [
    st.Page("pages/draw.py", title="Draw", icon=":material/draw:", default=True),
    st.Page("pages/evaluate.py", title="Evaluate", icon=":material/analytics:"),
    st.Page("pages/misclassified.py", title="Misclassified", icon=":material/grid_view:"),
    st.Page("pages/batch.py", title="Batch", icon=":material/photo_library:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/models.py", title="Models", icon=":material/inventory_2:"),
]
page = st.navigation(pages)
model_picker()
frame_ran()
page.run()
