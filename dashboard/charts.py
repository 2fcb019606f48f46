"""The dashboard's plotly figures. They draw numbers digitclf computed; they compute none."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

ACCENT = "#ff4b4b"
MUTED = "#9aa5b1"
BLUE = "#1c83e1"
DIGITS = list(range(10))


def _compact(fig: go.Figure, height: int) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=36, b=10))
    return fig


def probabilities(probs: Sequence[float], digit: int | None = None, title: str = "",
                  height: int = 260, refused: bool = False) -> go.Figure:
    """One bar per digit, the predicted one highlighted. `refused`: the image was judged not
    to be a digit, so no bar is a reading: all are muted and carry no percentages."""
    probs = np.asarray(probs, dtype=float)
    top = (int(probs.argmax()) if probs.any() else None) if digit is None else digit
    fig = go.Figure(go.Bar(
        x=DIGITS, y=probs,
        marker_color=[ACCENT if d == top and not refused else MUTED for d in DIGITS],
        text=[f"{100 * p:.0f}%" if p >= 0.005 and not refused else "" for p in probs],
        textposition="outside",
        hovertemplate="digit %{x}: %{y:.2%}<extra></extra>", cliponaxis=False,
    ))
    fig.update_xaxes(tickmode="array", tickvals=DIGITS, title=None, fixedrange=True)
    fig.update_yaxes(range=[0, 1.12], tickformat=".0%", title=None, fixedrange=True)
    fig.update_layout(title=title or None, showlegend=False)
    return _compact(fig, height)


def confusion(matrix: Sequence[Sequence[int]], height: int = 480) -> go.Figure:
    """Rows = true digit, columns = predicted. Colour on a log scale so the few errors show
    next to the ~1000 correct ones. An invisible marker per cell makes cells clickable
    (plotly reports no clicks on heatmaps themselves)."""
    m = np.asarray(matrix, dtype=int)
    fig = go.Figure(go.Heatmap(
        z=np.log10(1 + m), x=DIGITS, y=DIGITS, text=m, texttemplate="%{text}",
        colorscale="Blues", showscale=False, hoverinfo="skip",
    ))
    xs, ys = np.meshgrid(DIGITS, DIGITS)
    fig.add_trace(go.Scatter(
        x=xs.ravel(), y=ys.ravel(), mode="markers", customdata=m.ravel(),
        marker=dict(symbol="square", size=30, opacity=0),
        selected=dict(marker=dict(opacity=0)), unselected=dict(marker=dict(opacity=0)),
        hovertemplate="true %{y}, predicted %{x}: %{customdata}<extra></extra>",
        showlegend=False,
    ))
    fig.update_xaxes(title="predicted digit", tickmode="array", tickvals=DIGITS, side="top",
                     fixedrange=True, showgrid=False, zeroline=False)
    fig.update_yaxes(title="true digit", tickmode="array", tickvals=DIGITS, autorange="reversed",
                     fixedrange=True, showgrid=False, zeroline=False, scaleanchor="x")
    fig.update_layout(clickmode="event+select", dragmode=False)
    return _compact(fig, height)


def _percent_ticks(values: Sequence[float | None]) -> str:
    """A percent tick format with as many decimals as the values' spread needs, so that no
    two ticks read the same (98.6%, 98.8%, ... rather than 99%, 99%, 98%)."""
    known = [v for v in values if v is not None]
    spread = max(known) - min(known) if len(known) > 1 else 0.0
    if spread <= 0:
        return ".1%"
    decimals = int(np.clip(np.ceil(-np.log10(spread * 100 / 4)), 0, 3))
    return f".{decimals}%"


def curves(history: Sequence[dict], batches: Sequence[tuple[float, dict]] = (),
           height: int = 320) -> go.Figure:
    """Loss and accuracy per epoch (training and validation); with `batches`, the running
    training values within each epoch as a thin line. Epochs are whole numbers on the axis,
    even for a run of one or two."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"),
                        horizontal_spacing=0.12)
    epochs = [h.get("epoch") for h in history]
    for col, metric in ((1, "loss"), (2, "accuracy")):
        if batches:
            fig.add_trace(go.Scatter(
                x=[b[0] for b in batches], y=[b[1].get(metric) for b in batches],
                mode="lines", line=dict(color=MUTED, width=1), name=f"training {metric} (running)",
                legendgroup="running", showlegend=col == 1,
            ), row=1, col=col)
        fig.add_trace(go.Scatter(
            x=epochs, y=[h.get(metric) for h in history], mode="lines+markers",
            line=dict(color=BLUE), marker=dict(size=8), name="training", legendgroup="train",
            showlegend=col == 1,
        ), row=1, col=col)
        fig.add_trace(go.Scatter(
            x=epochs, y=[h.get(f"val_{metric}") for h in history], mode="lines+markers",
            line=dict(color=ACCENT), marker=dict(size=8), name="validation", legendgroup="val",
            showlegend=col == 1,
        ), row=1, col=col)
    last = max([e for e in epochs if e is not None] + [b[0] for b in batches] + [1])
    start = 0 if batches else 0.5  # the running values start within the first epoch
    fig.update_xaxes(title="epoch", range=[start, float(np.ceil(last)) + 0.5], tick0=1,
                     dtick=max(1, int(np.ceil(last / 10))), tickformat="d")
    accuracies = [h.get(k) for h in history for k in ("accuracy", "val_accuracy")]
    accuracies += [b[1].get("accuracy") for b in batches]
    fig.update_yaxes(tickformat=_percent_ticks(accuracies), row=1, col=2)
    fig.update_layout(legend=dict(orientation="h", y=-0.25), hovermode="x unified")
    return _compact(fig, height)


MIN_BIN_DIGITS = 30  # a confidence bin with fewer digits says little about calibration


def reliability(rel: dict, height: int = 420) -> go.Figure:
    """Accuracy against confidence per confidence bin (top; the diagonal is perfect
    calibration) and how many test digits each bin holds (bottom, log scale). Bins holding
    fewer than MIN_BIN_DIGITS digits are hatched: their accuracy is mostly chance."""
    edges = np.asarray(rel.get("bin_edges") or np.linspace(0, 1, 16), dtype=float)
    counts = np.asarray(rel.get("bin_count") or [], dtype=int)
    acc = np.asarray(rel.get("bin_accuracy") or [], dtype=float)
    conf = np.asarray(rel.get("bin_confidence") or [], dtype=float)
    centres = (edges[:-1] + edges[1:]) / 2
    width = float(np.diff(edges).mean()) * 0.9 if len(edges) > 1 else 0.05
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3],
                        vertical_spacing=0.06)
    few = f"fewer than {MIN_BIN_DIGITS} digits: too few to judge"
    for name, chosen, style in (
            ("accuracy", counts >= MIN_BIN_DIGITS, dict(color=BLUE)),
            (few, (counts > 0) & (counts < MIN_BIN_DIGITS),
             dict(color="rgba(28,131,225,0.25)", line=dict(color=BLUE, width=1),
                  pattern=dict(shape="/", fgcolor=BLUE, size=6)))):
        fig.add_trace(go.Bar(
            x=centres[chosen], y=acc[chosen], width=width, marker=style, name=name,
            customdata=np.stack([counts[chosen], conf[chosen]], axis=1) if chosen.any() else None,
            hovertemplate="confidence %{customdata[1]:.1%}: accuracy %{y:.1%}"
                          "<br>%{customdata[0]:,} digits<extra></extra>",
        ), row=1, col=1)
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration",
                             line=dict(color=MUTED, dash="dash"), hoverinfo="skip"), row=1, col=1)
    used = counts > 0
    fig.add_trace(go.Bar(
        x=centres[used], y=counts[used], width=width, name="digits per bin",
        marker_color=[BLUE if c >= MIN_BIN_DIGITS else MUTED for c in counts[used]],
        text=[f"{c:,}" for c in counts[used]], textposition="outside", cliponaxis=False,
        textfont=dict(size=10), showlegend=False,
        hovertemplate="%{y:,} digits<extra></extra>",
    ), row=2, col=1)
    fig.update_xaxes(range=[0, 1], tickformat=".0%", row=1, col=1)
    fig.update_xaxes(range=[0, 1], tickformat=".0%", title="confidence", row=2, col=1)
    fig.update_yaxes(title="accuracy", range=[0, 1.02], tickformat=".0%", row=1, col=1)
    top = max(int(counts.max(initial=1)), 1)
    fig.update_yaxes(title="digits", type="log", range=[-0.3, np.log10(top) + 0.6],
                     dtick=1, row=2, col=1)
    fig.update_layout(legend=dict(orientation="h", y=-0.2), bargap=0)
    return _compact(fig, height)


def per_class_f1(rows: Sequence[dict], names: tuple[str, str], height: int = 300) -> go.Figure:
    """F1 per digit for two models (rows from digitclf.compare.per_class)."""
    fig = go.Figure()
    for suffix, name, color in (("a", names[0], BLUE), ("b", names[1], ACCENT)):
        fig.add_trace(go.Bar(x=[r["digit"] for r in rows], y=[r[f"f1_{suffix}"] for r in rows],
                             name=name, marker_color=color,
                             hovertemplate="digit %{x}: F1 %{y:.4f}<extra>" + name + "</extra>"))
    values = [r[k] for r in rows for k in ("f1_a", "f1_b") if r[k] is not None]
    low = max(0.0, min(values) - 0.02) if values else 0.0
    fig.update_xaxes(tickmode="array", tickvals=DIGITS, title="digit")
    fig.update_yaxes(range=[low, 1.0], title="F1")
    fig.update_layout(barmode="group", legend=dict(orientation="h", y=1.12))
    return _compact(fig, height)
