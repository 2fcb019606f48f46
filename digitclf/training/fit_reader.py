"""Fit read_number's weights (scoring.py) and its confidence, for the networks it reads with.

    python -m digitclf.training.fit_reader [--store DIR] [--model default] [--numbers 500]

The reading model is a conditional log-linear model over every path of search.py's graph:
P(path) = exp(features @ WEIGHTS) / Z, log Z by the same dynamic programming with logsumexp.
The fit maximises the log of the probability of the paths that read a number's text exactly
(a number no path reads is left out), with an L2 penalty, by L-BFGS.

Data: numbers of 3-6 digits written in the *training* handwriting families (natural and tight
spacing) and with the MNIST training digits the model learned from (synth.render_number, some
with more touching pairs), each in a random encoding of synth.ENCODINGS. The penalty and the
MNIST share are chosen on 5-digit numbers of the *validation* families and of the MNIST
training digits the model held out. On those, half of them fit the confidence's calibration
(a logistic regression on scoring.confidence_features, then shifted down until the readings
it gives >= 0.99 are exact >= 99.5% of the time), and the other half checks it.
The weights now stay when no refit reads the validation numbers better; the calibration is
refit either way, and replaces the shipped one unless it gives fewer readings >= 0.99 on the
calibration half, both counted at the least doubt a reading's path is given
(scoring.PATH_DOUBT_FLOOR). That floor is chosen first: the lowest at which the shipped
calibration's readings >= 0.99 stay exact on the calibration half. Prints the
weights to paste into scoring.py and the validation figures.
"""

from __future__ import annotations

import argparse
import pickle
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy.optimize import minimize

from digitclf.reading.number import candidates
from digitclf.reading.predictor import load_predictor
from digitclf.reading.scoring import (
    CONFIDENCE_SHIFT,
    CONFIDENCE_WEIGHTS,
    PART_FEATURES,
    PATH_DOUBT_FLOOR,
    WEIGHTS,
    confidence_features,
)
from digitclf.reading.search import AGREEMENT, COUNT, JOIN, SPAN, build_graph, edge_digits
from digitclf.settings import DETECTOR_ONNX, PAIR_READER_ONNX
from digitclf.store.model_store import ModelStore
from digitclf.training import handwriting, synth
from digitclf.training.data import load_mnist

SURE = 0.99  # the confidence whose readings must be exact at least this often,
SURE_TARGET = 0.995  # ... which the calibration's shift asks of them on its half
DOUBT_FLOORS = (1e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)  # scoring.PATH_DOUBT_FLOOR is one of these


class Sample(NamedTuple):
    """One number's graph, what each edge reads, and the number's text."""

    nodes: int
    src: np.ndarray
    dst: np.ndarray
    features: np.ndarray  # (E, FEATURES)
    digits: list[str]  # per edge
    log_confidence: np.ndarray  # per edge: the sum of its digits' log-confidences
    margin: np.ndarray  # per edge: its parts' lowest detector margin
    text: str
    source: str


def _mnist_digits(store: ModelStore, model: str, held_out: bool) -> tuple[np.ndarray, np.ndarray]:
    """The MNIST training digits the model learned from, or those it held out (as
    training.train.split_train_val splits them)."""
    hyperparameters = store.card(model).hyperparameters
    images, labels = load_mnist("train")
    order = np.random.default_rng(hyperparameters["seed"]).permutation(len(images))
    n_val = int(round(len(images) * hyperparameters["val_fraction"]))
    chosen = order[:n_val] if held_out else order[n_val:]
    return images[chosen], labels[chosen]


def _samples(source: str, count: int, seed: int, store: str | None, model: str, digits: int) -> list[Sample]:
    """`count` numbers from a source ("hand-SPLIT-SPACING", "mnist-train" or "mnist-heldout"),
    read into graphs; `digits` long (0: 3-6 at random)."""
    predictor = load_predictor(model, ModelStore(store) if store else None)
    rng = np.random.default_rng([seed, sum(map(ord, source))])
    encodings = list(synth.ENCODINGS.values())
    kind, split, *spacing = source.split("-")
    images, labels = _mnist_digits(predictor.store, model, split == "heldout") if kind == "mnist" else (None, None)
    out = []
    for i in range(count):
        length = digits or int(rng.integers(3, 7))
        if images is None or labels is None:
            text = "".join(str(d) for d in rng.integers(0, 10, length))
            paths = handwriting.fonts(split)
            ink, _ = handwriting.render_number(paths[i % len(paths)], text, rng, spacing=spacing[0])
        else:
            chosen = rng.choice(len(images), length, replace=False)
            touch = 0.05 if digits or rng.random() < 0.5 else 0.3  # training: more touching pairs
            ink, text = synth.render_number(images[chosen], labels[chosen], rng, touch_prob=touch)
        found = candidates(predictor, encodings[rng.integers(len(encodings))](ink, rng))
        graph = build_graph(found)
        read = edge_digits(found, graph)
        out.append(Sample(graph.nodes, graph.src, graph.dst, graph.features.astype(np.float32),
                          ["".join(map(str, d)) for d, _, _ in read], np.array([c for _, c, _ in read]),
                          np.array([m for _, _, m in read]), text, source))
    return out


def _segment(values: np.ndarray, starts: np.ndarray, run: np.ndarray, total: bool) -> np.ndarray:
    """logsumexp (total) or max of each run of `values` that begins at `starts` (`run`: the
    run of each value)."""
    top = np.maximum.reduceat(values, starts)
    if not total:
        return top
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.add.reduceat(np.exp(values - safe[run]), starts)) + safe


class Batch:
    """Many graphs as one, for the sum (logsumexp) or max over each one's paths, node by node of
    each graph's own order, all graphs at once."""

    def __init__(self, graphs: list[tuple[int, np.ndarray, np.ndarray]]):
        sizes = np.array([nodes for nodes, _, _ in graphs])
        offset = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self.edge_starts = np.concatenate([[0], np.cumsum([len(src) for _, src, _ in graphs])[:-1]])
        self.graph = np.repeat(np.arange(len(graphs)), [len(src) for _, src, _ in graphs])
        local_src, local_dst = (np.concatenate([g[k] for g in graphs]).astype(int) for k in (1, 2))
        self.src, self.dst = local_src + offset[self.graph], local_dst + offset[self.graph]
        self.start, self.end, self.nodes = offset, offset + sizes - 1, int(sizes.sum())
        self.into, self.out_of = self._levels(local_dst, self.dst), self._levels(local_src, self.src)[::-1]

    @staticmethod
    def _levels(local: np.ndarray, node: np.ndarray) -> list[tuple[np.ndarray, ...]]:
        """The edges by their local node (in order), each level's runs of one node: (edges,
        run starts, each edge's run, run nodes)."""
        order = np.lexsort((node, local))
        levels: list[tuple[np.ndarray, ...]] = []
        for chunk in np.split(order, np.flatnonzero(np.diff(local[order])) + 1):
            new = np.r_[True, node[chunk][1:] != node[chunk][:-1]]
            levels.append((chunk, np.flatnonzero(new), np.cumsum(new) - 1, node[chunk][new]))
        return levels

    def forward(self, scores: np.ndarray, total: bool = True) -> np.ndarray:
        alpha = np.full(self.nodes, -np.inf)
        alpha[self.start] = 0.0
        for edges, starts, run, nodes in self.into:
            alpha[nodes] = _segment(alpha[self.src[edges]] + scores[edges], starts, run, total)
        return alpha

    def backward(self, scores: np.ndarray) -> np.ndarray:
        beta = np.full(self.nodes, -np.inf)
        beta[self.end] = 0.0
        for edges, starts, run, nodes in self.out_of:
            beta[nodes] = _segment(beta[self.dst[edges]] + scores[edges], starts, run, True)
        return beta

    def log_partition(self, scores: np.ndarray, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each graph's log-partition (G,) and its expected features (G, F)."""
        alpha, beta = self.forward(scores), self.backward(scores)
        log_z = alpha[self.end]
        with np.errstate(invalid="ignore"):
            p = np.exp(alpha[self.src] + scores + beta[self.dst] - log_z[self.graph])
        return log_z, np.add.reduceat(np.nan_to_num(p)[:, None] * features, self.edge_starts, axis=0)

    def best_paths(self, scores: np.ndarray) -> list[list[int]]:
        """Each graph's best path, as its edges' indices (over all graphs)."""
        alpha, back = np.full(self.nodes, -np.inf), np.full(self.nodes, -1)
        alpha[self.start] = 0.0
        for edges, starts, run, nodes in self.into:
            values = alpha[self.src[edges]] + scores[edges]
            top = np.maximum.reduceat(values, starts)
            hit = values >= top[run]
            first = np.minimum.reduceat(np.where(hit, np.arange(len(values)), len(values)), starts)
            alpha[nodes], back[nodes] = top, edges[np.minimum(first, len(values) - 1)]
        paths = []
        for start, end in zip(self.start, self.end):
            path, node = [], end
            while node != start and back[node] >= 0:
                path.append(int(back[node]))
                node = self.src[back[node]]
            paths.append(path[::-1])
        return paths


def _right_paths(sample: Sample) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """The graph of the paths that read the sample's text: a node per (node, digits read so
    far); its nodes, edges (src, dst) and each edge's edge in the sample's graph."""
    text, k = sample.text, len(sample.text) + 1
    at: dict[str, list[int]] = {}
    for n in range(k):
        for pos in range(k - n):
            at.setdefault(text[pos : pos + n], []).append(pos)
    rows = [(sample.src[e] * k + pos, sample.dst[e] * k + pos + len(d), e)
            for e, d in enumerate(sample.digits) for pos in at.get(d, [])]
    src, dst, edge = np.array(rows, dtype=int).reshape(-1, 3).T
    used, index = np.unique(np.concatenate([[0, sample.nodes * k - 1], src, dst]), return_inverse=True)
    return len(used), index[2 : 2 + len(src)], index[2 + len(src) :], edge  # only the nodes edges touch


class Fit:
    """Samples ready to fit: all their paths, and the paths that read each one right (those
    with none are left out), weighted `share` by source kind ("hand" or "mnist")."""

    def __init__(self, samples: list[Sample], mnist_share: float):
        right = [_right_paths(s) for s in samples]
        everything = Batch([r[:3] for r in right])
        reached = everything.forward(np.zeros(len(everything.src)))[everything.end]
        keep = list(np.flatnonzero(np.isfinite(reached)))
        self.samples = [samples[i] for i in keep]
        self.left_out = len(samples) - len(keep)
        self.features = np.concatenate([s.features for s in self.samples]).astype(float)
        self.all = Batch([(s.nodes, s.src, s.dst) for s in self.samples])
        self.right = Batch([right[i][:3] for i in keep])
        offsets = np.concatenate([[0], np.cumsum([len(s.src) for s in self.samples])[:-1]])
        self.right_edges = np.concatenate([right[i][3] + o for i, o in zip(keep, offsets)])
        mnist = np.array([s.source.startswith("mnist") for s in self.samples])
        self.weight = np.where(mnist, mnist_share / max(mnist.sum(), 1), (1 - mnist_share) / max((~mnist).sum(), 1))

    def objective(self, w: np.ndarray, l2: float) -> tuple[float, np.ndarray]:
        """The penalised negative log-likelihood of the right readings, and its gradient."""
        scores = self.features @ w
        z_all, e_all = self.all.log_partition(scores, self.features)
        z_right, e_right = self.right.log_partition(scores[self.right_edges], self.features[self.right_edges])
        likelihood = float(self.weight @ (z_right - z_all))
        gradient = self.weight @ (e_right - e_all)
        return -likelihood + l2 / 2 * float(w @ w), -gradient + l2 * w


def fit_weights(samples: list[Sample], l2: float, mnist_share: float, start: np.ndarray) -> np.ndarray:
    fit = Fit(samples, mnist_share)
    return minimize(fit.objective, start, args=(l2,), jac=True, method="L-BFGS-B",
                    options={"maxiter": 200, "ftol": 1e-7}).x


def readings(samples: list[Sample], w: np.ndarray,
             doubt_floor: float = PATH_DOUBT_FLOOR) -> tuple[np.ndarray, np.ndarray]:
    """What read_number makes of each sample under weights `w`: whether it reads the text
    exactly, and its confidence_features (N, 4)."""
    batch = Batch([(s.nodes, s.src, s.dst) for s in samples])
    features = np.concatenate([s.features for s in samples]).astype(float)
    scores = features @ w
    log_z = batch.forward(scores)[batch.end]
    exact, rows = [], []
    for i, path in enumerate(batch.best_paths(scores)):
        sample, local = samples[i], [e - batch.edge_starts[i] for e in path]
        exact.append("".join(sample.digits[e] for e in local) == sample.text)
        rows.append(confidence_features(float(scores[path].sum() - log_z[i]),
                                        float(sample.log_confidence[local].sum()), float(sample.margin[local].min()),
                                        doubt_floor))
    return np.array(exact), np.array(rows)


def _sure_exact(x: np.ndarray, exact: np.ndarray, coef: np.ndarray, shift: float) -> bool:
    """Whether the readings a calibration gives >= SURE are exact >= SURE_TARGET of the time."""
    sure = x @ coef - shift >= np.log(SURE / (1 - SURE))
    return not sure.any() or exact[sure].mean() >= SURE_TARGET


def fit_calibration(x: np.ndarray, exact: np.ndarray) -> tuple[np.ndarray, float]:
    """A logistic regression of exactness on confidence features, and the least shift of
    its logit that makes the readings it gives >= SURE exact >= SURE_TARGET of the time."""
    def loss(c: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ c
        p = 1 / (1 + np.exp(-z))
        return float(np.logaddexp(0, -z) @ exact + np.logaddexp(0, z) @ ~exact + 1e-3 * c @ c), \
            x.T @ (p - exact) + 2e-3 * c
    coef = minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B").x
    for shift in np.arange(0, 10, 0.05):
        if _sure_exact(x, exact, coef, shift):
            return coef, float(shift)
    return coef, 10.0


def choose_doubt_floor(samples: list[Sample], w: np.ndarray, half: np.ndarray) -> float:
    """The lowest of DOUBT_FLOORS at which the shipped calibration's readings >= SURE are
    exact >= SURE_TARGET of the time on `half` of the samples (the highest if none)."""
    for floor in DOUBT_FLOORS:
        exact, x = readings(samples, w, floor)
        if _sure_exact(x[half], exact[half], CONFIDENCE_WEIGHTS, CONFIDENCE_SHIFT):
            return floor
    return DOUBT_FLOORS[-1]


TRAIN_SOURCES = ("hand-train-natural", "hand-train-tight", "mnist-train")
VALIDATION_SOURCES = ("hand-validation-natural", "hand-validation-tight", "mnist-heldout")
CHUNK = 25  # numbers per task given to a worker


def make_samples(sources: tuple[str, ...], count: int, seed: int, digits: int, args: argparse.Namespace,
                 pool: ProcessPoolExecutor) -> list[Sample]:
    tasks = [(source, min(CHUNK, count - start), seed * 100_000 + start, args.store, args.model, digits)
             for source in sources for start in range(0, count, CHUNK)]
    return [sample for chunk in pool.map(_samples, *zip(*tasks)) for sample in chunk]


def _rates(samples: list[Sample], exact: np.ndarray) -> str:
    return ", ".join(f"{source} {np.mean([e for s, e in zip(samples, exact) if s.source == source]):.1%}"
                     for source in dict.fromkeys(s.source for s in samples))


def _mean_rate(samples: list[Sample], exact: np.ndarray) -> float:
    """The share read exactly, averaged over the sources (each counts the same)."""
    sources = sorted({sample.source for sample in samples})
    return float(np.mean([exact[[sample.source == source for sample in samples]].mean() for source in sources]))


def _reliability(confidence: np.ndarray, exact: np.ndarray) -> str:
    sure = confidence >= SURE
    return (f"{sure.sum()} of {len(exact)} readings given >= {SURE}: {exact[sure].mean() if sure.any() else 1:.1%} "
            f"exact; {(~sure).sum()} below: {exact[~sure].mean() if (~sure).any() else 1:.1%} exact")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="the model store to read the classifier from (default: the usual)")
    parser.add_argument("--model", default="default")
    parser.add_argument("--numbers", type=int, default=500, help="training numbers per source (default 500)")
    parser.add_argument("--val-numbers", type=int, default=300, help="validation numbers per source (default 300)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path, help="keep the numbers' graphs in this file, and reuse them")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.cache and args.cache.exists():
        train, val = ([Sample(*row) for row in rows] for rows in pickle.loads(args.cache.read_bytes()))
    else:
        with ProcessPoolExecutor(args.workers) as pool:
            train = make_samples(TRAIN_SOURCES, args.numbers, 1, 0, args, pool)
            val = make_samples(VALIDATION_SOURCES, args.val_numbers, 2, 5, args, pool)
        if args.cache:
            args.cache.write_bytes(pickle.dumps(([tuple(s) for s in train], [tuple(s) for s in val])))
    card = (ModelStore(args.store) if args.store else ModelStore()).card(args.model)
    print(f"classifier {args.model!r} of {args.store or 'the model store'}, made {card.created_at}; detector and "
          f"pair reader of {DETECTOR_ONNX.parent}, changed {time.ctime(DETECTOR_ONNX.stat().st_mtime)} and "
          f"{time.ctime(PAIR_READER_ONNX.stat().st_mtime)}")
    print(f"{len(train)} training and {len(val)} validation numbers read in {time.perf_counter() - started:.0f} s")
    exact, _ = readings(val, WEIGHTS)
    print(f"validation, the weights now: {_mean_rate(val, exact):.1%} ({_rates(val, exact)})")
    best: tuple[float, float | None, float | None, np.ndarray] = (_mean_rate(val, exact), None, None, WEIGHTS)
    for l2 in (1e-5, 1e-4, 1e-3):
        for share in (0.25, 0.5):
            w = fit_weights(train, l2, share, WEIGHTS)
            exact, _ = readings(val, w)
            rate = _mean_rate(val, exact)
            print(f"l2 {l2:g}, MNIST share {share}: validation {rate:.1%} ({_rates(val, exact)})", flush=True)
            if rate > best[0]:
                best = (rate, l2, share, w)
    _, chosen_l2, chosen_share, w = best  # the weights now unless a refit read better
    if chosen_share is None:
        print("\nchosen: the weights now (no refit read the validation numbers better); the calibration refit")
    else:
        print(f"\nchosen: l2 {chosen_l2:g}, MNIST share {chosen_share} "
              f"({Fit(train, chosen_share).left_out} training numbers no path reads)")
    halves = np.arange(len(val)) % 2 == 0
    floor = choose_doubt_floor(val, w, halves)
    exact, x = readings(val, w, floor)  # both calibrations are judged at the chosen floor
    coef, shift = fit_calibration(x[halves], exact[halves])
    sure = []
    for label, (c, s) in (("the refit calibration", (coef, shift)),
                          ("the shipped calibration", (CONFIDENCE_WEIGHTS, CONFIDENCE_SHIFT))):
        given = 1 / (1 + np.exp(-(x @ c - s)))
        sure.append(int((given[halves] >= SURE).sum()))
        print(f"{label}, the path's doubt at least {floor:g}: on the calibration half "
              f"{_reliability(given[halves], exact[halves])}; on the other "
              f"{_reliability(given[~halves], exact[~halves])}")
    if sure[0] < sure[1]:  # both exact enough there: the one that is sure more often
        coef, shift = CONFIDENCE_WEIGHTS, CONFIDENCE_SHIFT
        print("chosen calibration: the shipped one (the refit is sure of fewer readings)")
    print("\n# paste into digitclf/reading/scoring.py")
    for name, values in (("PART_WEIGHTS", w[:PART_FEATURES]), ("CUT_WEIGHTS", w[PART_FEATURES:COUNT]),
                         ("PAIR_COUNT_WEIGHT", w[COUNT]), ("PAIR_AGREEMENT_WEIGHT", w[AGREEMENT]),
                         ("JOIN_WEIGHT", w[JOIN]), ("SPAN_WEIGHTS", w[SPAN:]), ("CONFIDENCE_WEIGHTS", coef),
                         ("CONFIDENCE_SHIFT", shift), ("PATH_DOUBT_FLOOR", floor)):
        listed = ", ".join(f"{v:.3g}" if name == "PATH_DOUBT_FLOOR" else f"{v:.3f}" for v in np.atleast_1d(values))
        print(f"{name} = " + (f"np.array([{listed}])" if np.ndim(values) else listed))
    print(f"\ndone in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
