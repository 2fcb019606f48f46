"""The "my digits" set taken away and brought back: the set as a dataset zip (its PNG files
and labels.csv) to download, and such a zip to import. The zip work is
digitclf.training.mydigits'; this is the expander the Draw page shows beside the set's size."""

from __future__ import annotations

import streamlit as st

from dashboard.common import sentence
from digitclf.errors import DigitclfError
from digitclf.training import mydigits

UPLOADER_KEY = "my_digits_zip_generation"  # session state: a new generation empties the uploader
NOTICE_KEY = "my_digits_notice"  # session state: what the last import did


def _drawings(count: int) -> str:
    return f"{count:,} drawing{'' if count == 1 else 's'}"


def _import(key: str) -> None:
    """Button callback: add the uploaded dataset to the set, then empty the uploader."""
    upload = st.session_state.get(key)
    if upload is None:  # taken out of the uploader as the button was pressed
        return
    try:
        done = mydigits.import_zip(upload.getvalue())
    except DigitclfError as e:
        st.session_state[NOTICE_KEY] = ("warning", sentence(f"Nothing imported: {e}"))
        return
    skipped = f"; {_drawings(done.already_there)} already in the set" if done.already_there else ""
    st.session_state[NOTICE_KEY] = ("success", f"Imported {_drawings(done.added)}{skipped}.")
    st.session_state[UPLOADER_KEY] = st.session_state.get(UPLOADER_KEY, 0) + 1


def export_and_import() -> None:
    with st.expander("Export or import my digits", icon=":material/swap_vert:"):
        count = len(mydigits.files())
        st.download_button(
            f"Download my digits ({_drawings(count)})", mydigits.export_zip,
            "my-digits.zip", "application/zip", icon=":material/download:", on_click="ignore",
            disabled=count == 0,
            help="A zip of the drawings as PNG files and labels.csv (columns file, label).")
        key = f"my_digits_zip_{st.session_state.get(UPLOADER_KEY, 0)}"
        upload = st.file_uploader(
            "Import a dataset zip", type=["zip"], key=key,
            help=f"PNG files (or other images) with a labels.csv naming each file's digit, as "
                 f"the download above; up to {mydigits.MAX_IMPORT_FILES:,} drawings. The whole "
                 "zip is checked first: nothing is added unless all of it can be.")
        st.button(f"Import {upload.name}" if upload else "Import", icon=":material/upload:",
                  key="my_digits_import", on_click=_import, args=(key,), disabled=upload is None)
        notice = st.session_state.pop(NOTICE_KEY, None)
        if notice:
            (st.success if notice[0] == "success" else st.warning)(notice[1])
