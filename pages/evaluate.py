"""Evaluate: how the chosen model does on the MNIST test set, from its model card.

Clicking a cell of the confusion matrix opens the Misclassified page filtered to it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts
from dashboard.common import (
    chosen_model,
    friendly_errors,
    my_digits_accuracy,
    no_model_message,
    page_setup,
    percent,
    plural,
    store,
)
from digitclf.store.card import ModelCard

page_setup("pages/evaluate.py")

PLOT_CONFIG = {"displayModeBar": False}


def _headline(card: ModelCard, name: str) -> None:
    cols = st.columns(5)
    cols[0].metric("Test accuracy", percent(card.test_accuracy))
    errors = card.test_errors
    cols[1].metric("Test errors", "–" if errors is None else f"{errors:,}",
                   help="Misclassified digits among the 10,000 MNIST test digits.")
    cols[2].metric("Validation accuracy", percent(card.val_accuracy))
    cols[3].metric("Calibration error (ECE)", percent(card.ece),
                   help="Expected calibration error: how far confidence is from accuracy, "
                        "averaged over the test digits. 0 is perfect.")
    acc, count = my_digits_accuracy(name)
    cols[4].metric("My digits accuracy", percent(acc, 1) if count else "–",
                   help=f"On the {plural(count, 'drawing')} corrected on the Draw page." if count
                   else "Correct some drawings on the Draw page to build this set.")


def _per_class(card: ModelCard) -> None:
    per_class = card.per_class
    if not per_class:
        st.info("This model card has no per-class metrics.")
        return
    table = pd.DataFrame([{"digit": int(d), **m} for d, m in per_class.items()])
    table = table.sort_values("digit").set_index("digit")
    st.dataframe(
        table, width="stretch",
        column_config={
            "precision": st.column_config.NumberColumn("precision", format="%.4f"),
            "recall": st.column_config.NumberColumn("recall", format="%.4f"),
            "f1": st.column_config.ProgressColumn("F1", format="%.4f", min_value=0.0,
                                                  max_value=1.0),
            "support": st.column_config.NumberColumn("test digits", format="%d"),
        },
    )


def _confusion(card: ModelCard) -> None:
    matrix = card.confusion_matrix
    if not matrix:
        st.info("This model card has no confusion matrix.")
        return
    event = st.plotly_chart(charts.confusion(matrix), key="confusion", on_select="rerun",
                            selection_mode="points", config=PLOT_CONFIG)
    points = (event.selection.points if event and event.selection else None) or []
    if points:
        true, pred = int(points[0]["y"]), int(points[0]["x"])
        if true != pred:
            st.switch_page("pages/misclassified.py",
                           query_params={"true": str(true), "pred": str(pred)})
        st.caption(f"{matrix[true][pred]} test {true}s read correctly.")
    st.caption("Click a cell off the diagonal to see those misclassified digits.")


def _calibration_caption(rel: dict, temperature: float | None) -> str:
    """What the reliability chart shows, in the numbers of this card: where the test digits'
    confidences fall and which bins hold too few digits to judge."""
    counts = [int(c) for c in rel.get("bin_count") or []]
    edges = rel.get("bin_edges") or []
    total = sum(counts)
    if not total or len(edges) != len(counts) + 1:
        return "Accuracy against confidence per confidence bin."
    top = max(range(len(counts)), key=counts.__getitem__)
    accuracy = (rel.get("bin_accuracy") or [None] * len(counts))[top]
    few = [c for c in counts if 0 < c < charts.MIN_BIN_DIGITS]
    text = (f"Each bar is the test digits read with a confidence in that range: how many of "
            f"them were right (top) and how many there are (bottom). "
            f"{plural(counts[top], 'test digit')} of {total:,} ({counts[top] / total:.1%}) "
            f"fall between {percent(edges[top], 0)} and {percent(edges[top + 1], 0)} "
            f"confidence, and {percent(accuracy, 2)} of those are right.")
    if few:
        held = f"{min(few)}–{max(few)}" if min(few) < max(few) else f"{few[0]}"
        text += (f" {plural(len(few), 'bin')} hold{'s' if len(few) == 1 else ''} only "
                 f"{held} digits each (hatched): too few to tell whether their confidence "
                 "means what it says.")
    text += " A bar on the diagonal means confidence matches accuracy."
    if temperature is not None:
        text += f" Temperature {temperature:.3f}, fitted on the validation split."
    return text


def main() -> None:
    name = chosen_model()
    st.header(f"Evaluate {name}" if name else "Evaluate")
    if name is None:
        no_model_message()
        return
    card = store().card(name)
    hp = card.hyperparameters
    st.caption(
        f"{card.architecture} network, preset {card.preset or '–'}, "
        f"{plural(card.epochs_run, 'epoch')} (best: {card.best_epoch}), "
        f"{card.parameters:,} parameters, "
        f"trained in {card.training_seconds:.0f} s"
        + (f", fine-tuned from {hp['base_model']}" if hp.get("base_model") else "")
        + (" with my digits" if hp.get("my_digits") else "") + "."
    )
    _headline(card, name)

    left, right = st.columns([1, 1.2], gap="large")
    with left:
        st.subheader("Per digit")
        _per_class(card)
    with right:
        st.subheader("Confusion matrix")
        _confusion(card)

    left, right = st.columns([1.4, 1], gap="large")
    with left:
        st.subheader("Training curves")
        history = card.history
        if history:
            st.plotly_chart(charts.curves(history), key="curves", config=PLOT_CONFIG)
        else:
            st.info("This model card has no training history.")
    with right:
        st.subheader("Calibration")
        rel = card.reliability
        if rel:
            st.plotly_chart(charts.reliability(rel), key="reliability", config=PLOT_CONFIG)
            st.caption(_calibration_caption(rel, card.temperature))
        else:
            st.info("This model card has no reliability data.")


with friendly_errors():
    main()
