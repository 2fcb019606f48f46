"""The search over readings: every way to read a number's pieces is a path through one graph,
scored by a log-linear model (each edge's features @ WEIGHTS, scoring.py), and dynamic
programming over the graph finds the best path and the log of the sum over all paths
(so the chosen reading's probability among all of them, which confidence builds on).

The graph: a node before each piece and after the last. Each span (a piece, or two
neighbours that may be one digit) runs from the node before it to the node after it:
  - read whole: one edge (one digit);
  - cut in two: one edge per seam (how well the pair reader's view of each digit and the
    classifier's agree is a feature; where the seam cuts through ink, its view joins the
    classifier's in the digits read, pair_view.digit_priors);
  - cut in three or more: a chain of edges, one per digit, through inner nodes that say
    where the last cut ran and how many digits came before (a piece holds at most Ways.most).
The pair reader's log-probability of the span's count of digits (1, 2, 3+) is a feature of
the edge that ends the span, the price of reading two pieces as one digit one of the edge
that starts it. A piece too small to read may be passed over (an edge with no features).
"""

from __future__ import annotations

from itertools import count
from typing import NamedTuple

import numpy as np
from scipy.special import logsumexp

from digitclf.reading.pair_view import PairView, digit_priors
from digitclf.reading.scoring import (
    CUT_FEATURES,
    PART_FEATURES,
    SPAN_FEATURES,
    WEIGHTS,
    cut_features,
    rows_logsumexp,
    span_features,
)
from digitclf.reading.segment import Reading, Segmentation, Span, Ways

# An edge's features: its parts' (summed), its cuts' (summed), these three, and the span's
# span_features on the edge that ends it
COUNT, AGREEMENT, JOIN, SPAN = range(PART_FEATURES + CUT_FEATURES, PART_FEATURES + CUT_FEATURES + 4)
FEATURES = SPAN + SPAN_FEATURES


class Candidates(NamedTuple):
    """Every part of every way to read an image's pieces, with what the networks make of it.
    The arrays hold the parts large enough to read, in the order of `keys` (Part.key)."""

    segmentation: Segmentation
    keys: list[int]
    inputs: np.ndarray  # float32 (N, 28, 28), as the model sees them
    probabilities: np.ndarray  # (N, 10)
    margins: np.ndarray  # (N,): the not-a-digit detector's (Predictor.score)
    features: np.ndarray  # (N, PART_FEATURES): scoring.part_features
    pairs: dict[Span, PairView]  # the pair reader's view of each span that may hold several


class Edge(NamedTuple):
    """The parts of one span an edge reads: those between `bounds` of the span's Ways (none:
    a piece passed over); `pair`: the span read as exactly two digits, with the pair reader's
    view of each."""

    span: Span
    bounds: tuple[int, ...]
    pair: bool


class Graph(NamedTuple):
    """All readings as paths from node 0 to node `nodes - 1`; every edge runs from a lower
    node to a higher one. Edge k: `src[k]` -> `dst[k]`, `features[k]`, `edges[k]`."""

    nodes: int
    src: np.ndarray
    dst: np.ndarray
    features: np.ndarray  # (E, FEATURES)
    edges: list[Edge]


def _agreement(found: Candidates, rows: list[int], view: PairView) -> float:
    """How well the classifier and the pair reader agree on two digits: the sum of each
    digit's log sum_d p_classifier(d) p_pair(d)."""
    p = np.log(np.maximum(found.probabilities[rows], 1e-12)) + np.stack([view.first, view.second])
    return float(rows_logsumexp(p).sum())


def build_graph(found: Candidates) -> Graph:
    """The graph of every reading of the candidates' pieces (see the module's docstring)."""
    segmentation = found.segmentation
    row = {key: i for i, key in enumerate(found.keys)}
    spans = segmentation.spans()
    ids = count()
    before: list[int] = []
    inner: dict[Span, dict[tuple[int, int], int]] = {}  # (bound, digits so far) -> node
    for start in range(len(segmentation.pieces) + 1):
        before.append(next(ids))
        for (a, b), ways in spans.items():
            if a == start and ways.most >= 3:
                inner[a, b] = {(t, c): next(ids) for t in range(1, ways.last) for c in range(1, ways.most)}
    src: list[int] = []
    dst: list[int] = []
    features: list[np.ndarray] = []
    edges: list[Edge] = []

    def add(a: int, b: int, edge: Edge, ways: Ways, cut: int | None, extra: dict[int, float],
            digits: int = 0) -> None:
        keys = [ways.parts[p].key for p in zip(edge.bounds, edge.bounds[1:])]
        if any(key not in row for key in keys):
            return  # a part too small to read
        f = np.zeros(FEATURES)
        f[:PART_FEATURES] = found.features[[row[key] for key in keys]].sum(axis=0)
        f[PART_FEATURES:COUNT] = cut_features([] if cut is None else [ways.cut_ink[cut]])
        for k, value in extra.items():
            f[k] = value
        if digits:
            f[SPAN:] = span_features(ways.whole.box[2], digits, segmentation.height)
        src.append(a)
        dst.append(b)
        features.append(f)
        edges.append(edge)

    for (a, b), ways in spans.items():
        view, last, join = found.pairs.get((a, b)), ways.last, float(b - a == 2)
        held = view.held if view is not None else np.zeros(3)
        add(before[a], before[b], Edge((a, b), (0, last), False), ways, None, {COUNT: held[0], JOIN: join}, 1)
        if b == a + 1 and ways.whole.key not in row:
            add(before[a], before[b], Edge((a, b), (), False), ways, None, {})  # nothing to read
        for j in range(1, last) if ways.most >= 2 else ():
            if (0, j) in ways.parts and (j, last) in ways.parts:
                keys = [ways.parts[0, j].key, ways.parts[j, last].key]
                agree = 0.0
                if view is not None and set(keys) <= row.keys():
                    agree = _agreement(found, [row[key] for key in keys], view)
                add(before[a], before[b], Edge((a, b), (0, j, last), view is not None), ways, j,
                    {COUNT: held[1], AGREEMENT: agree, JOIN: join}, 2)
        nodes = inner.get((a, b), {})
        for i, j in ways.parts if nodes else ():
            if i == 0 and j < last:
                add(before[a], nodes[j, 1], Edge((a, b), (i, j), False), ways, j, {JOIN: join})
            for c in range(1, ways.most) if i > 0 else ():
                if j < last and c + 1 < ways.most:
                    add(nodes[i, c], nodes[j, c + 1], Edge((a, b), (i, j), False), ways, j, {})
                elif j == last and c >= 2:
                    add(nodes[i, c], before[b], Edge((a, b), (i, j), False), ways, None, {COUNT: held[2]}, c + 1)
    return Graph(before[-1] + 1, np.array(src, int), np.array(dst, int),
                 np.array(features).reshape(-1, FEATURES), edges)


def forward(graph: Graph, scores: np.ndarray) -> tuple[float, float, list[int]]:
    """The log of the sum over all paths of exp(their score), the best path's score and its
    edges (in order)."""
    total = np.full(graph.nodes, -np.inf)
    best = np.full(graph.nodes, -np.inf)
    back = np.full(graph.nodes, -1)
    total[0] = best[0] = 0.0
    for k in np.argsort(graph.src, kind="stable"):
        a, b, s = graph.src[k], graph.dst[k], scores[k]
        total[b] = np.logaddexp(total[b], total[a] + s)
        if best[a] + s > best[b]:
            best[b], back[b] = best[a] + s, k
    path = []
    node = graph.nodes - 1
    while node > 0 and back[node] >= 0:
        path.append(int(back[node]))
        node = graph.src[back[node]]
    return float(total[-1]), float(best[-1]), path[::-1]


def chosen_readings(found: Candidates, graph: Graph, path: list[int]) -> list[tuple[Span, Reading, bool]]:
    """The readings a path makes of its spans, left to right, and whether each is read as a
    pair with the pair reader's view (spans passed over are left out)."""
    spans = found.segmentation.spans()
    bounds: dict[Span, list[int]] = {}
    pair: dict[Span, bool] = {}
    for k in path:
        edge = graph.edges[k]
        if edge.bounds:
            chain = bounds.setdefault(edge.span, [])
            chain += edge.bounds[1:] if chain else edge.bounds
            pair[edge.span] = edge.pair
    return [(span, spans[span].reading(chain), pair[span]) for span, chain in bounds.items()]


def best_readings(found: Candidates) -> list[tuple[Span, Reading]]:
    """The pieces read the way that scores highest in all (see the module's docstring)."""
    graph = build_graph(found)
    _, _, path = forward(graph, graph.features @ WEIGHTS)
    return [(span, reading) for span, reading, _ in chosen_readings(found, graph, path)]


def pair_priors(found: Candidates, chosen: list[tuple[Span, Reading, bool]]) -> np.ndarray:
    """For each chosen part: the pair reader's view of its digit (pair_view.digit_priors)
    where its span is read as two digits, else zeros: (N, 10)."""
    rows = []
    for span, reading, pair in chosen:
        if pair:
            rows += list(digit_priors(found.pairs[span], reading.cut_ink[0]))
        else:
            rows += [np.zeros(10)] * len(reading.parts)
    return np.array(rows, dtype=np.float32).reshape(-1, 10)


def edge_digits(found: Candidates, graph: Graph) -> list[tuple[tuple[int, ...], float, float]]:
    """For each edge: the digits it reads (with the pair reader's view where it reads a
    pair, as read_number reports them), the sum of their log-confidences and the lowest
    detector margin of its parts (inf for none). The fitter's view of every edge."""
    spans = found.segmentation.spans()
    row = {key: i for i, key in enumerate(found.keys)}
    log_p = np.log(np.maximum(found.probabilities, 1e-12))
    log_p = log_p - logsumexp(log_p, axis=1, keepdims=True)
    out = []
    for edge in graph.edges:
        ways = spans[edge.span]
        rows = [row[ways.parts[p].key] for p in zip(edge.bounds, edge.bounds[1:])]
        scores = log_p[rows]
        if edge.pair:
            scores = scores + digit_priors(found.pairs[edge.span], ways.cut_ink[edge.bounds[1]])
            scores = scores - logsumexp(scores, axis=1, keepdims=True)
        out.append((tuple(int(d) for d in scores.argmax(axis=1)), float(scores.max(axis=1).sum()),
                    float(found.margins[rows].min()) if rows else np.inf))
    return out
