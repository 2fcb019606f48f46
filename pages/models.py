"""Models: every model in the store from its card, and the broken ones with why; make one
active, delete one, download one (its folder as a zip) or export it for a model server, and
compare two side by side (metrics, per-digit scores, and the test digits they read
differently). The store refuses to delete the active or the shipped model and to make a
model far below a useful accuracy active; this page says why."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts
from dashboard.common import (
    MODEL_KEY,
    chosen_model,
    digit_picture,
    evaluation,
    friendly_errors,
    no_model_message,
    page_setup,
    percent,
    plural,
    sentence,
    store,
    use_model,
)
from digitclf.convert.export import export_zip
from digitclf.errors import DigitclfError, RefusedError
from digitclf.store.card import ModelCard
from digitclf.store.model_store import StoredModel
from digitclf.training.compare import compare, per_class, summary

page_setup("pages/models.py")

DISAGREEMENTS_SHOWN = 24
EXPORT_FORMATS = {"savedmodel": "SavedModel (TensorFlow Serving)", "onnx": "ONNX (Triton, ONNX Runtime)"}
EXPORT_KEY = "models_export"  # session state: the last export, (name, format, created_at, zip or error)


def _table(cards: list[ModelCard], active: str | None) -> None:
    rows = []
    for c in cards:
        hp = c.hyperparameters
        rows.append({
            "name": c.name,
            "active": c.name == active,
            "architecture": c.architecture,
            "preset": c.preset,
            "test accuracy": c.test_accuracy,
            "ECE": c.ece,
            "epochs": c.epochs_run,
            "parameters": c.parameters,
            "training (s)": c.training_seconds,
            "fine-tuned from": (hp.get("base_model") or "")
            + (" + my digits" if hp.get("my_digits") else ""),
            "created": pd.to_datetime(c.created_at, errors="coerce", utc=True),
            "warning": c.accuracy_warning or "",
        })
    table = pd.DataFrame(rows).set_index("name")
    st.dataframe(table, width="stretch", column_config={
        "active": st.column_config.CheckboxColumn("active"),
        "test accuracy": st.column_config.NumberColumn(format="percent"),
        "ECE": st.column_config.NumberColumn(format="percent"),
        "parameters": st.column_config.NumberColumn(format="localized"),
        "training (s)": st.column_config.NumberColumn(format="%.0f"),
        "created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
    })


def _broken(entries: list[StoredModel]) -> None:
    lines = "\n".join(f"- **{e.name}**: {e.problem}" for e in entries)
    st.warning(f"These model folders cannot be used (delete them, or repair their files):\n{lines}",
               icon=":material/warning:")


def _activate(name: str) -> None:
    try:
        store().set_active(name)
        use_model(name)
        st.session_state["models_notice"] = ("success", f"{name} is now the active model.")
    except RefusedError as e:
        st.session_state["models_notice"] = (
            "error", sentence(f"{e} (the command line's `digitclf activate --force {name}` does it anyway)"))
    except DigitclfError as e:
        st.session_state["models_notice"] = ("error", sentence(e))


def _delete(name: str) -> None:
    try:
        store().delete(name)
        if st.session_state.get(MODEL_KEY) == name:
            st.session_state.pop(MODEL_KEY, None)  # the sidebar falls back to the active model
        st.session_state["models_notice"] = ("success", f"Deleted {name}.")
    except DigitclfError as e:
        st.session_state["models_notice"] = ("error", sentence(e))


def _actions(entries: list[StoredModel], active: str | None) -> None:
    """Make active, download, delete and export; `entries` holds the broken models too (they
    can be deleted)."""
    names = [e.name for e in entries]
    current = chosen_model()
    c1, c2, c3, c4 = st.columns([2, 1, 1, 1], vertical_alignment="bottom")
    name = c1.selectbox("Manage model", names, key="models_target",
                        index=names.index(current) if current in names else 0)
    entry = entries[names.index(name)]
    c2.button("Make active", key="make_active", icon=":material/star:", on_click=_activate,
              args=(name,), disabled=name == active, width="stretch")
    contents = (f"{name}'s folder as a zip: model.keras, model.onnx and card.json; unzipped "
                "into a model store, it is this model again.")
    c3.download_button(  # the zip is made when the button is pressed
        "Download model", lambda: store().zip(name), f"{name}.zip", "application/zip",
        key="model_download", icon=":material/download:", on_click="ignore", width="stretch",
        disabled=entry.broken, help=entry.problem or contents)
    with c4.popover("Delete…", icon=":material/delete:", width="stretch"):
        st.markdown(f"Delete **{name}** from the store? This cannot be undone.")
        st.button(f"Delete {name}", key="delete_model", type="primary", on_click=_delete,
                  args=(name,))
    if entry.card is not None:
        _export(name, entry.card)


def _export(name: str, card: ModelCard) -> None:
    """Export for a model server, as the command line's `digitclf export` does, as a zip:
    made when asked (it loads TensorFlow and takes a few seconds), kept for the download."""
    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    fmt = c1.selectbox("Export for a model server", list(EXPORT_FORMATS), key="export_format",
                       format_func=EXPORT_FORMATS.__getitem__)
    wanted = (name, fmt, card.created_at)
    if c2.button("Export", key="export_model", icon=":material/deployed_code:", width="stretch",
                 help=f"Write {name} as a {EXPORT_FORMATS[fmt]} model into a zip of "
                      f"{name}/1/: unzipped into the server's model folder, it is version 1."):
        outcome: bytes | str
        try:
            with st.spinner(f"Exporting {name} as {EXPORT_FORMATS[fmt]}…"):
                outcome = export_zip(name, fmt)
        except (DigitclfError, OSError) as e:
            outcome = sentence(f"{name} could not be exported as {EXPORT_FORMATS[fmt]}: {e}")
        st.session_state[EXPORT_KEY] = (*wanted, outcome)
    last = st.session_state.get(EXPORT_KEY)
    ready = last[-1] if last is not None and last[:-1] == wanted else None  # for this choice
    if isinstance(ready, str):
        st.error(ready, icon=":material/error:")
    zipped = ready if isinstance(ready, bytes) else None
    c3.download_button(
        f"Download {name}-{fmt}.zip" if zipped else "Download export", zipped or b"",
        f"{name}-{fmt}.zip", "application/zip", key="export_download", icon=":material/download:",
        on_click="ignore", width="stretch", disabled=zipped is None)


def _comparison(cards: dict[str, ModelCard], names: list[str]) -> None:
    st.subheader("Compare two models")
    if len(names) < 2:
        st.info("Train a second model to compare it with this one.", icon=":material/compare:")
        return
    current = chosen_model()
    first = current if current in names else names[0]
    c1, c2 = st.columns(2)
    a = c1.selectbox("Model A", names, index=names.index(first), key="compare_a")
    others = [n for n in names if n != a]
    b = c2.selectbox("Model B", others, key="compare_b")
    card_a, card_b = cards[a], cards[b]

    left, right = st.columns([1, 1.3], gap="large")
    with left:
        rows = summary(card_a, card_b)
        table = pd.DataFrame([{
            "metric": r["metric"],
            a: _fmt(r["metric"], r["a"]),
            b: _fmt(r["metric"], r["b"]),
            "better": {"A": a, "B": b}.get(r["better"], ""),
        } for r in rows]).set_index("metric")
        st.dataframe(table, width="stretch")
    with right:
        pc = per_class(card_a, card_b)
        st.plotly_chart(charts.per_class_f1(pc, (a, b)), key="compare_f1",
                        config={"displayModeBar": False})
    with st.expander("Per-digit precision, recall and F1"):
        st.dataframe(pd.DataFrame(pc).set_index("digit"), width="stretch", column_config={
            **{f"{m}_{s}": st.column_config.NumberColumn(f"{m} ({n})", format="%.4f")
               for m in ("precision", "recall", "f1") for s, n in (("a", a), ("b", b))},
            "f1_change": st.column_config.NumberColumn(f"F1 change ({b} − {a})", format="%+.4f"),
        })

    st.markdown("**Test digits they read differently**")
    if st.session_state.get("compare_pair") != (a, b):
        st.button("Run both on the 10,000 test digits", key="compare_run",
                  icon=":material/play_arrow:", on_click=_want_comparison, args=(a, b),
                  help="Takes a few seconds per model the first time; the results are kept.")
        return
    c = compare(evaluation(a), evaluation(b), (a, b))
    counts = c.counts
    m = st.columns(4)
    m[0].metric("Disagreements", len(c.disagree))
    m[1].metric(f"Only {a} right", counts["only_a_right"])
    m[2].metric(f"Only {b} right", counts["only_b_right"])
    m[3].metric("Difference is chance?", f"p = {c.mcnemar_p:.3g}",
                help="Exact McNemar test on the digits only one model gets right: a small p "
                     "(below 0.05) means the accuracy difference is unlikely to be luck.")
    rows = c.disagreements()
    if not rows:
        st.info("The two models read every test digit the same way.")
        return
    ev = evaluation(a)
    shown = rows[:st.session_state.get("compare_shown", DISAGREEMENTS_SHOWN)]
    st.caption(f"{plural(len(rows), 'test digit')} read differently, those only one of the two "
               f"reads right first. Showing {len(shown)}.")
    with st.container(horizontal=True, gap="small"):
        for r in shown:
            with st.container(width=124):
                st.image(digit_picture(ev.images[r["index"]], 3), width="stretch")
                mark_a = "✓" if r["right"] == "A" else "✗"
                mark_b = "✓" if r["right"] == "B" else "✗"
                st.caption(f"#{r['index']} · true {r['label']}  \n"
                           f"{mark_a} {a}: {r['prediction_a']} ({r['confidence_a']:.0%})  \n"
                           f"{mark_b} {b}: {r['prediction_b']} ({r['confidence_b']:.0%})")
    if len(shown) < len(rows):
        st.button(f"Show {min(DISAGREEMENTS_SHOWN, len(rows) - len(shown))} more",
                  key="compare_more", icon=":material/expand_more:", on_click=_show_more,
                  args=(len(shown),))


def _show_more(shown: int) -> None:
    st.session_state["compare_shown"] = shown + DISAGREEMENTS_SHOWN


def _want_comparison(a: str, b: str) -> None:
    st.session_state["compare_pair"] = (a, b)
    st.session_state["compare_shown"] = DISAGREEMENTS_SHOWN


def _fmt(metric: str, value) -> str:
    if value is None:
        return "–"
    if "accuracy" in metric or "ECE" in metric:
        return percent(value)
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}"


def main() -> None:
    st.header("Models")
    notice = st.session_state.pop("models_notice", None)
    if notice:
        (st.success if notice[0] == "success" else st.error)(notice[1])
    s = store()
    entries = s.entries()
    cards = [e.card for e in entries if e.card is not None]
    broken = [e for e in entries if e.problem is not None]
    active = s.active_name()
    if cards:
        _table(cards, active)
    else:
        no_model_message()
    if broken:
        _broken(broken)
    if not entries:
        return
    _actions(entries, active)
    if cards:
        st.divider()
        _comparison({c.name: c for c in cards}, [c.name for c in cards])


with friendly_errors():
    main()
