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
                  height: int = 260) -> go.Figure:
    """One bar per digit, the predicted one highlighted."""
    probs = np.asarray(probs, dtype=float)
    top = (int(probs.argmax()) if probs.any() else None) if digit is None else digit
    fig = go.Figure(go.Bar(
        x=DIGITS, y=probs,
        marker_color=[ACCENT if d == top else MUTED for d in DIGITS],
        text=[f"{100 * p:.0f}%" if p >= 0.005 else "" for p in probs], textposition="outside",
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


def curves(history: Sequence[dict], batches: Sequence[tuple[float, dict]] = (),
           height: int = 320) -> go.Figure:
    """Loss and accuracy per epoch (training and validation); with `batches`, the running
    training values within each epoch as a thin line."""
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
            line=dict(color=BLUE), name="training", legendgroup="train", showlegend=col == 1,
        ), row=1, col=col)
        fig.add_trace(go.Scatter(
            x=epochs, y=[h.get(f"val_{metric}") for h in history], mode="lines+markers",
            line=dict(color=ACCENT), name="validation", legendgroup="val", showlegend=col == 1,
        ), row=1, col=col)
    fig.update_xaxes(title="epoch", rangemode="tozero")
    fig.update_yaxes(tickformat=".0%", row=1, col=2)
    fig.update_layout(legend=dict(orientation="h", y=-0.25), hovermode="x unified")
    return _compact(fig, height)


def reliability(rel: dict, height: int = 360) -> go.Figure:
    """Accuracy against confidence per confidence bin; the diagonal is perfect calibration."""
    edges = np.asarray(rel.get("bin_edges") or np.linspace(0, 1, 16), dtype=float)
    counts = np.asarray(rel.get("bin_count") or [], dtype=int)
    acc = np.asarray(rel.get("bin_accuracy") or [], dtype=float)
    conf = np.asarray(rel.get("bin_confidence") or [], dtype=float)
    used = counts > 0
    centres = (edges[:-1] + edges[1:]) / 2
    width = float(np.diff(edges).mean()) if len(edges) > 1 else 0.05
    fig = go.Figure()
    fig.add_trace(go.Bar(
        x=centres[used], y=acc[used], width=width * 0.9, marker_color=BLUE, name="accuracy",
        customdata=np.stack([counts[used], conf[used]], axis=1) if used.any() else None,
        hovertemplate="confidence %{customdata[1]:.1%}: accuracy %{y:.1%}"
                      "<br>%{customdata[0]} digits<extra></extra>",
    ))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration",
                             line=dict(color=MUTED, dash="dash"), hoverinfo="skip"))
    fig.update_xaxes(title="confidence", range=[0, 1], tickformat=".0%")
    fig.update_yaxes(title="accuracy", range=[0, 1.02], tickformat=".0%")
    fig.update_layout(legend=dict(orientation="h", y=-0.25), bargap=0)
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
