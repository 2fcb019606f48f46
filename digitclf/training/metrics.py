"""Classification metrics from labels and predicted probabilities (plain numpy)."""

from __future__ import annotations

import numpy as np

NUM_CLASSES = 10


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Counts (10, 10): row = true digit, column = predicted digit."""
    matrix = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    np.add.at(matrix, (y_true.astype(int), y_pred.astype(int)), 1)
    return matrix


def reliability(y_true: np.ndarray, probs: np.ndarray, bins: int = 15) -> dict:
    """Confidence vs accuracy per confidence bin, and the expected calibration error."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    conf_sum = np.bincount(index, weights=confidence, minlength=bins)
    correct_sum = np.bincount(index, weights=correct, minlength=bins)
    nonzero = np.maximum(counts, 1)
    mean_conf = conf_sum / nonzero
    accuracy = correct_sum / nonzero
    ece = float(np.sum(counts * np.abs(accuracy - mean_conf)) / max(len(y_true), 1))
    return {
        "ece": ece,
        "bin_edges": edges.tolist(),
        "bin_count": counts.tolist(),
        "bin_confidence": mean_conf.tolist(),
        "bin_accuracy": accuracy.tolist(),
    }


def classification_report(y_true: np.ndarray, probs: np.ndarray) -> dict:
    """Accuracy, per-class precision/recall/F1, the confusion matrix and calibration."""
    y_pred = probs.argmax(axis=1)
    matrix = confusion_matrix(y_true, y_pred)
    true_pos = np.diag(matrix).astype(float)
    predicted = matrix.sum(axis=0)
    actual = matrix.sum(axis=1)
    precision = np.divide(true_pos, predicted, out=np.zeros(NUM_CLASSES), where=predicted > 0)
    recall = np.divide(true_pos, actual, out=np.zeros(NUM_CLASSES), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(NUM_CLASSES), where=denom > 0)
    per_class = {
        str(d): {
            "precision": round(float(precision[d]), 6),
            "recall": round(float(recall[d]), 6),
            "f1": round(float(f1[d]), 6),
            "support": int(actual[d]),
        }
        for d in range(NUM_CLASSES)
    }
    calibration = reliability(y_true, probs)
    return {
        "accuracy": float(true_pos.sum() / max(len(y_true), 1)),
        "errors": int(len(y_true) - true_pos.sum()),
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
        "ece": calibration["ece"],
        "reliability": calibration,
    }


def cross_entropy(logits: np.ndarray, y_true: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the true classes under softmax(logits / temperature)."""
    z = logits.astype(np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(y_true)), y_true].mean())


def fit_temperature(logits: np.ndarray, y_true: np.ndarray) -> float:
    """The temperature T minimising the negative log-likelihood of softmax(logits / T)."""

    def nll(log_t: float) -> float:
        return cross_entropy(logits, y_true, np.exp(log_t))

    # Golden-section search on log T in [log 0.05, log 20]; NLL is unimodal in T.
    lo, hi = np.log(0.05), np.log(20.0)
    ratio = (np.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(a), nll(b)
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(b)
    return float(np.exp((lo + hi) / 2))
