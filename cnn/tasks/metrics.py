"""Classification metrics: top-1 accuracy, confusion matrix, macro precision and recall.

Definitions as in scikit-learn's ``accuracy_score``, ``confusion_matrix`` and
``precision_score(average="macro")`` / ``recall_score(average="macro")``: a class that is never
predicted has precision 0 (scikit-learn's ``zero_division=0``).
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Counts ``cm[i, j]`` of examples with true class ``i`` predicted as ``j``.

    Args:
        y_true, y_pred: integer arrays of shape ``(N,)`` with values in ``0 .. num_classes-1``.
    Returns:
        int64 array of shape ``(num_classes, num_classes)``; rows sum to the class counts.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    return np.bincount(y_true * num_classes + y_pred,
                       minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def classification_report(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = 10) -> dict:
    """Top-1 accuracy and macro-averaged precision and recall of integer predictions.

    Args:
        y_true, y_pred: integer arrays of shape ``(N,)``.
    Returns:
        dict with ``accuracy`` (fraction correct, 0..1), ``errors`` and ``n`` (counts),
        ``macro_precision`` and ``macro_recall`` (unweighted means over classes, 0..1),
        ``per_class_precision`` / ``per_class_recall`` (lists) and ``confusion_matrix``
        (nested lists, rows = true class).
    """
    cm = confusion_matrix(y_true, y_pred, num_classes)
    tp = np.diag(cm).astype(np.float64)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    n = int(cm.sum())
    correct = int(tp.sum())
    return {
        "accuracy": correct / n if n else 0.0,
        "errors": n - correct,
        "n": n,
        "macro_precision": float(precision.mean()),
        "macro_recall": float(recall.mean()),
        "per_class_precision": precision.tolist(),
        "per_class_recall": recall.tolist(),
        "confusion_matrix": cm.tolist(),
    }


def percent(x: float) -> str:
    """``0.9504 -> '95.04%'``."""
    return f"{100 * x:.2f}%"
