"""Two models side by side: their cards' metrics, and the test digits they disagree on.

    a, b = evaluate(load_predictor("default")), evaluate(load_predictor("quick"))
    c = compare(a, b, ("default", "quick"))
    c.disagreements()      # test indices where the two predictions differ, with who was right
    c.mcnemar_p            # is the accuracy difference more than chance?
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from digitclf.errors import DigitclfError
from digitclf.store.card import ModelCard

SUMMARY_FIELDS = (  # (card key, label, higher is better?)
    ("test_accuracy", "test accuracy", True),
    ("test_errors", "test errors", False),
    ("val_accuracy", "validation accuracy", True),
    ("ece", "calibration error (ECE)", False),
    ("parameters", "parameters", None),
    ("epochs_run", "epochs", None),
    ("training_seconds", "training seconds", None),
)


@dataclass
class Comparison:
    names: tuple[str, str]
    labels: np.ndarray  # (N,)
    probabilities_a: np.ndarray  # (N, 10)
    probabilities_b: np.ndarray  # (N, 10)

    @cached_property
    def predictions_a(self) -> np.ndarray:
        return self.probabilities_a.argmax(axis=1)

    @cached_property
    def predictions_b(self) -> np.ndarray:
        return self.probabilities_b.argmax(axis=1)

    @cached_property
    def disagree(self) -> np.ndarray:
        """Indices of the test digits the two models read differently."""
        return np.flatnonzero(self.predictions_a != self.predictions_b)

    @cached_property
    def counts(self) -> dict[str, int]:
        """How the 2x2 table of right/wrong splits: only_a, only_b (right), both, neither."""
        right_a = self.predictions_a == self.labels
        right_b = self.predictions_b == self.labels
        return {
            "both_right": int((right_a & right_b).sum()),
            "only_a_right": int((right_a & ~right_b).sum()),
            "only_b_right": int((~right_a & right_b).sum()),
            "both_wrong": int((~right_a & ~right_b).sum()),
        }

    @cached_property
    def mcnemar_p(self) -> float:
        """Exact McNemar test: the chance of a split at least this uneven between the digits
        only A gets right and those only B gets right, if the models were equally good."""
        from scipy.stats import binomtest

        k = self.counts["only_a_right"]
        n = k + self.counts["only_b_right"]
        return 1.0 if n == 0 else float(binomtest(k, n, 0.5).pvalue)

    def disagreements(self) -> list[dict[str, Any]]:
        """One row per disagreement: index, label, each model's digit and confidence, and
        who was right ('A', 'B' or 'neither'); the digits one model gets right first."""
        rows = []
        for i in self.disagree:
            label = int(self.labels[i])
            a, b = int(self.predictions_a[i]), int(self.predictions_b[i])
            winner = "A" if a == label else "B" if b == label else "neither"
            rows.append({
                "index": int(i), "label": label,
                "prediction_a": a, "confidence_a": float(self.probabilities_a[i, a]),
                "prediction_b": b, "confidence_b": float(self.probabilities_b[i, b]),
                "right": winner,
            })
        order = {"A": 0, "B": 0, "neither": 1}
        return sorted(rows, key=lambda r: (order[r["right"]], r["index"]))


def compare(evaluation_a, evaluation_b, names: tuple[str, str] = ("A", "B")) -> Comparison:
    """Compare two digitclf.evaluation.Evaluation objects made on the same test set."""
    labels_a, labels_b = np.asarray(evaluation_a.labels), np.asarray(evaluation_b.labels)
    if labels_a.shape != labels_b.shape or not np.array_equal(labels_a, labels_b):
        raise DigitclfError("the two evaluations were not made on the same test set")
    name_a, name_b = names
    return Comparison((name_a, name_b), labels_a, np.asarray(evaluation_a.probabilities),
                      np.asarray(evaluation_b.probabilities))


def summary(card_a: ModelCard, card_b: ModelCard) -> list[dict[str, Any]]:
    """The headline numbers of two model cards: metric, a, b, and which one is better
    ('A', 'B', '' for a tie or where better has no meaning)."""
    rows = []
    for key, label, higher_better in SUMMARY_FIELDS:
        a, b = getattr(card_a, key), getattr(card_b, key)
        better = ""
        if higher_better is not None and a is not None and b is not None and a != b:
            better = "A" if (a > b) == higher_better else "B"
        rows.append({"metric": label, "a": a, "b": b, "better": better})
    return rows


def per_class(card_a: ModelCard, card_b: ModelCard) -> list[dict[str, Any]]:
    """Per digit: precision, recall and F1 of both cards, and B's F1 minus A's."""
    rows = []
    for digit in range(10):
        ma = card_a.per_class.get(str(digit), {})
        mb = card_b.per_class.get(str(digit), {})
        row: dict[str, Any] = {"digit": digit}
        for metric in ("precision", "recall", "f1"):
            row[f"{metric}_a"] = ma.get(metric)
            row[f"{metric}_b"] = mb.get(metric)
        fa, fb = ma.get("f1"), mb.get("f1")
        row["f1_change"] = None if fa is None or fb is None else fb - fa
        rows.append(row)
    return rows
