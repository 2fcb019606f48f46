import numpy as np

from digitclf.training.metrics import classification_report, confusion_matrix, fit_temperature


def test_confusion_matrix_and_per_class_metrics():
    y_true = np.array([0, 0, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 0])
    probs = np.eye(10)[y_pred]
    matrix = confusion_matrix(y_true, y_pred)
    assert matrix[0, 0] == 1 and matrix[0, 1] == 1 and matrix[1, 1] == 2 and matrix[2, 0] == 1
    report = classification_report(y_true, probs)
    assert report["accuracy"] == 0.6 and report["errors"] == 2
    assert report["per_class"]["1"]["precision"] == round(2 / 3, 6)
    assert report["per_class"]["1"]["recall"] == 1.0
    assert report["per_class"]["2"]["recall"] == 0.0


def test_temperature_recovers_the_scale_of_overconfident_logits():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, (5000, 10))
    p = np.exp(true_logits) / np.exp(true_logits).sum(1, keepdims=True)
    labels = np.array([rng.choice(10, p=row) for row in p])
    fitted = fit_temperature(true_logits * 3.0, labels)  # the model is 3x overconfident
    assert abs(fitted - 3.0) < 0.3


def test_expected_calibration_error_of_a_calibrated_predictor_is_small():
    rng = np.random.default_rng(1)
    confidence = rng.uniform(0.5, 1.0, 20000)
    correct = rng.uniform(size=20000) < confidence
    probs = np.zeros((20000, 10))
    labels = np.zeros(20000, dtype=int)
    probs[:, 0] = confidence
    probs[:, 1] = 1 - confidence
    labels[~correct] = 1
    assert classification_report(labels, probs)["ece"] < 0.02
