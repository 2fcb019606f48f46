"""Batch: many images read at once, as single digits or as numbers, into a table that can be
filtered and taken away as CSV or JSON. Select rows to see the images and what the model saw.

The reading is `digitclf.reading.batch`'s, as the CLI's `predict` does it: single digits
stream through `predict_images`, numbers through `read_number`. Each file is read once per
model and mode; adding files reads only the new ones."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.common import (
    chosen_model,
    digit_picture,
    friendly_errors,
    no_model_message,
    on_white,
    page_setup,
    percent,
    predictor,
    sentence,
)
from digitclf.errors import DigitclfError
from digitclf.imaging.decode import decode_image
from digitclf.reading import batch
from digitclf.reading.results import NumberResult

page_setup("pages/batch.py")

READ = {"One digit each": False, "A number each": True}  # label: read as numbers
FILTERS = ("All", "Errors", "Not a digit", "Low confidence")
CACHE_KEY = "batch_outcomes"  # session state: the outcomes read so far, per file
SHOWN_SELECTED = 8  # images shown for a selection; more would make a long page


def _read(name: str, uploads: list, numbers: bool) -> list[batch.Outcome]:
    """Each upload's outcome, in order. Files not read before with this model and mode are
    read now, streamed, under a progress bar."""
    model = predictor(name)
    cache = st.session_state.get(CACHE_KEY)
    if not cache or cache["model"] is not model or cache["numbers"] != numbers:
        cache = {"model": model, "numbers": numbers, "outcomes": {}}
    outcomes: dict[str, batch.Outcome] = {u.file_id: cache["outcomes"][u.file_id]
                                          for u in uploads if u.file_id in cache["outcomes"]}
    cache["outcomes"] = outcomes  # files taken out of the uploader are forgotten
    st.session_state[CACHE_KEY] = cache  # kept as it fills: a rerun midway keeps what was read
    todo = [u for u in uploads if u.file_id not in outcomes]
    if todo:
        bar = st.progress(0.0, text=f"Reading {len(todo):,} images…")
        shown = time.monotonic()
        stream = batch.read_many(model, (u.getvalue() for u in todo), numbers=numbers)
        for done, (upload, outcome) in enumerate(zip(todo, stream), 1):
            outcomes[upload.file_id] = outcome
            if done == len(todo) or time.monotonic() - shown > 0.2:
                bar.progress(done / len(todo), text=f"Read {done:,} of {len(todo):,} images")
                shown = time.monotonic()
        bar.empty()
    return [outcomes[u.file_id] for u in uploads]


def _table(uploads: list, outcomes: list[batch.Outcome]) -> pd.DataFrame:
    table = pd.DataFrame([batch.row(u.name, o) for u, o in zip(uploads, outcomes)],
                         columns=list(batch.ROW_FIELDS))
    return table.astype({"confidence": "Float64", "not_a_digit": "boolean", "looks_like": "Int64"})


def _filtered(table: pd.DataFrame, chosen: str, below: float) -> pd.DataFrame:
    masks = {
        "All": pd.Series(True, index=table.index),
        "Errors": table["error"].notna(),
        "Not a digit": table["not_a_digit"].fillna(False),
        "Low confidence": table["confidence"].lt(below).fillna(False),
    }
    return table[masks[chosen].astype(bool)]


def _selected(uploads: list, outcomes: list[batch.Outcome], rows: list[int]) -> None:
    """The chosen files: the image itself, and each digit as the model saw it (28x28)."""
    for i in rows[:SHOWN_SELECTED]:
        upload, outcome = uploads[i], outcomes[i]
        st.markdown(f"**{upload.name}**")
        if isinstance(outcome, DigitclfError):
            st.warning(sentence(outcome), icon=":material/image_not_supported:")
            continue
        digits = outcome.digits if isinstance(outcome, NumberResult) else (outcome,)
        with st.container(horizontal=True, gap="small"):
            try:
                image = np.round(decode_image(upload.getvalue()) * 255).astype(np.uint8)
                st.image(on_white(image), width=168, caption="The image")
            except DigitclfError:
                pass  # it was read, so it decodes; nothing to add if it no longer does
            for digit in digits:
                caption = (f"{digit.digit} · {percent(digit.confidence, 1)}" if digit.is_digit
                           else f"not a digit (looks most like {digit.digit})")
                st.image(digit_picture(digit.model_input, 3), width=84, caption=caption)
    if len(rows) > SHOWN_SELECTED:
        st.caption(f"The first {SHOWN_SELECTED} of the {len(rows):,} rows selected.")


def _results(uploads: list, outcomes: list[batch.Outcome], what: str) -> None:
    table = _table(uploads, outcomes)
    with st.container(horizontal=True, vertical_alignment="bottom", gap="medium"):
        below = st.slider("Low confidence: below", 0.5, 1.0, 0.9, 0.01, key="batch_below",
                          format="percent", width=260,
                          help="Readings less sure than this count as low confidence.")
        counts = {f: len(_filtered(table, f, below)) for f in FILTERS}
        chosen = st.segmented_control(
            "Show", FILTERS, default="All", key="batch_filter",
            format_func=lambda f: f"{f} ({counts[f]:,})") or "All"
    shown = _filtered(table, chosen, below)
    event = st.dataframe(
        shown.assign(confidence=shown["confidence"] * 100,
                     error=shown["error"].map(sentence, na_action="ignore")),
        key=f"batch_table_{chosen}", hide_index=True, on_select="rerun",
        selection_mode="multi-row", width="stretch", placeholder="–",
        column_config={
            "file": st.column_config.TextColumn("file"),
            "reading": st.column_config.TextColumn("reading"),
            "confidence": st.column_config.NumberColumn("confidence", format="%.1f%%"),
            "not_a_digit": st.column_config.CheckboxColumn("not a digit"),
            "looks_like": st.column_config.NumberColumn("looks most like", format="%d"),
            "error": st.column_config.TextColumn("error", width="large"),
        })
    records = [batch.record(uploads[i].name, outcomes[i]) for i in shown.index]
    with st.container(horizontal=True, gap="small"):
        st.download_button("Download CSV", shown.to_csv(index=False), "digitclf-batch.csv",
                           "text/csv", icon=":material/download:", on_click="ignore")
        st.download_button("Download JSON", json.dumps(records, indent=1), "digitclf-batch.json",
                           "application/json", icon=":material/download:", on_click="ignore")
    st.caption(f"{len(table):,} images read as {what}. "
               f"Downloads hold the {len(shown):,} rows shown; the JSON has each reading's ten "
               "probabilities (and each digit of a number), as `digitclf predict --json` writes it.")
    rows = [int(shown.index[p]) for p in event.selection.rows if p < len(shown)]
    if rows:
        _selected(uploads, outcomes, rows)
    else:
        st.caption("Select rows to see their images and what the model saw (28×28).")


def main() -> None:
    st.header("Read a batch of images")
    name = chosen_model()
    if name is None:
        no_model_message()
        return
    read = st.segmented_control("Read", list(READ), default="One digit each", key="batch_read",
                                label_visibility="collapsed") or "One digit each"
    limit = st.get_option("server.maxUploadSize")
    uploads = st.file_uploader(
        "Images of handwritten digits", accept_multiple_files=True, key="batch_files",
        help=f"Photos, scans or drawings (PNG, JPEG, BMP, GIF, TIFF, WebP), up to {limit} MB "
             "each. A file that cannot be read gets a row saying why.")
    if not uploads:
        st.info("Upload images to read them all: a table of the readings follows, to filter "
                "and download.", icon=":material/upload_file:")
        return
    outcomes = _read(name, uploads, READ[read])
    _results(uploads, outcomes, "numbers" if READ[read] else "single digits")


with friendly_errors():
    main()
