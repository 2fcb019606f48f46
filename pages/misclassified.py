"""Misclassified: every MNIST test digit the chosen model gets wrong, as a grid.

Filter by true and predicted digit and by confidence, sort, page through; pick one to see
all ten probabilities in a dialog (where the person is looking, on a phone too). The grid
wraps its tiles to the width there is. The filters live in the URL (`?true=4&pred=9`), so
the Evaluate page's confusion matrix links straight to a cell's digits."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from dashboard import charts
from dashboard.common import (
    chosen_model,
    digit_picture,
    evaluation,
    friendly_errors,
    no_model_message,
    page_setup,
    percent,
    predictor,
)
from dashboard.explain import why_this_digit

page_setup("pages/misclassified.py")

TILE_WIDTH = 104  # px: seven or more a row on a desktop, three on a phone
PAGE_SIZES = [18, 36, 72]
DIGIT_OPTIONS = [str(d) for d in range(10)]
SORTS = {
    "most confident first": (["confidence"], [False]),
    "least confident first": (["confidence"], [True]),
    "true digit": (["true", "confidence"], [True, False]),
    "predicted digit": (["predicted", "confidence"], [True, False]),
    "test set order": (["test_index"], [True]),
}


def _first_page() -> None:
    st.session_state["mis_page"] = 1
    st.session_state.pop("mis_selected", None)


def _turn(delta: int, pages: int) -> None:
    st.session_state["mis_page"] = min(max(1, st.session_state.get("mis_page", 1) + delta), pages)


def _select(index: int) -> None:
    st.session_state["mis_selected"] = index


def _unselect() -> None:
    st.session_state.pop("mis_selected", None)


def _filters() -> tuple[list[int], list[int], tuple[float, float], str, int]:
    c1, c2, c3, c4, c5 = st.columns([1.3, 1.3, 1.4, 1.1, 0.6])
    true = c1.multiselect("True digit", DIGIT_OPTIONS, key="true", bind="query-params",
                          placeholder="any", on_change=_first_page)
    pred = c2.multiselect("Predicted digit", DIGIT_OPTIONS, key="pred", bind="query-params",
                          placeholder="any", on_change=_first_page)
    conf = c3.slider("Confidence", 0.0, 1.0, (0.0, 1.0), step=0.05, key="conf",
                     bind="query-params", on_change=_first_page,
                     help="The model's confidence in its (wrong) answer.")
    sort = c4.selectbox("Sort", list(SORTS), key="sort", on_change=_first_page)
    size = c5.selectbox("Per page", PAGE_SIZES, index=1, key="per_page", on_change=_first_page)
    return [int(t) for t in true], [int(p) for p in pred], conf, sort, size


def _details(ev, index: int, name: str) -> None:
    """The dialog's content: the digit, what it is and what the model said, all ten
    probabilities, and why it read what it did (against the true digit)."""
    label = int(ev.labels[index])
    probs = ev.probabilities[index]
    pred = int(probs.argmax())
    st.subheader(f"Test digit #{index}")
    c1, c2 = st.columns([1, 1.4], vertical_alignment="center")
    c1.image(digit_picture(ev.images[index], 5), width=140)
    c2.markdown(f"True digit **{label}**  \nPredicted **{pred}** ({percent(probs[pred], 1)})  \n"
                f"The true digit got {percent(probs[label], 1)}.")
    st.plotly_chart(charts.probabilities(probs, pred), key="mis_probs",
                    config={"displayModeBar": False})
    why_this_digit(predictor(name), ev.images[index], key="mis_why", prepared=True, against=label)


def main() -> None:
    name = chosen_model()
    st.header(f"Misclassified by {name}" if name else "Misclassified")
    if name is None:
        no_model_message()
        return
    ev = evaluation(name)
    wrong = ev.misclassified()
    predicted = ev.predictions[wrong]
    table = pd.DataFrame({
        "test_index": wrong,
        "true": ev.labels[wrong].astype(int),
        "predicted": predicted.astype(int),
        "confidence": ev.probabilities[wrong, predicted].astype(float),
    })
    true, pred, (low, high), sort, page_size = _filters()
    shown = table[table["confidence"].between(low, high)]
    if true:
        shown = shown[shown["true"].isin(true)]
    if pred:
        shown = shown[shown["predicted"].isin(pred)]
    by, ascending = SORTS[sort]
    shown = shown.sort_values(by, ascending=ascending, kind="stable")

    pages = max(1, math.ceil(len(shown) / page_size))
    page = min(max(1, int(st.session_state.get("mis_page", 1))), pages)
    st.session_state["mis_page"] = page
    st.caption(f"{len(shown)} of the {len(table)} misclassified test digits "
               f"({len(table) / len(ev.labels):.2%} of {len(ev.labels):,}) match the filters.")
    if shown.empty:
        st.info("No misclassified digit matches these filters.", icon=":material/filter_alt_off:")
        return

    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        st.button("Previous", icon=":material/chevron_left:", key="mis_prev",
                  on_click=_turn, args=(-1, pages), disabled=page <= 1)
        st.markdown(f"page {page} of {pages}", width="content")
        st.button("Next", icon=":material/chevron_right:", key="mis_next",
                  on_click=_turn, args=(1, pages), disabled=page >= pages)
    st.caption("Tap a digit (true → predicted · confidence) for all ten probabilities.")
    selected = st.session_state.get("mis_selected")
    rows = shown.iloc[(page - 1) * page_size: page * page_size]
    with st.container(horizontal=True, gap="small"):
        for row in rows.itertuples():
            index = int(row.test_index)
            with st.container(width=TILE_WIDTH, gap="xsmall"):
                st.image(digit_picture(ev.images[index], 3), width="stretch")
                st.button(f"{row.true}→{row.predicted} · {row.confidence:.0%}",
                          key=f"mis_{index}", on_click=_select, args=(index,),
                          type="primary" if index == selected else "secondary",
                          width="stretch", help=f"test digit #{index}: true {row.true}, "
                          f"predicted {row.predicted}; click for all probabilities")
    if selected is not None and selected in set(shown["test_index"]):
        st.dialog("Misclassified test digit", width="medium", on_dismiss=_unselect)(_details)(
            ev, int(selected), name)


with friendly_errors():
    main()
