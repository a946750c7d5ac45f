"""Softmax and the fused, numerically stable softmax cross-entropy loss."""

from __future__ import annotations

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax with the max shifted out, so large logits do not overflow.

    Args:
        logits: float array of shape ``(N, K)``.
    Returns:
        array of shape ``(N, K)``, same dtype, ``logits - logsumexp(logits, axis=1)``.
    """
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, ``(N, K)`` logits -> ``(N, K)`` probabilities in [0, 1] summing to 1."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy and its gradient with respect to the logits.

    ``loss = -mean_n log softmax(logits)[n, labels[n]]``; the gradient is the well-known
    ``(softmax(logits) - onehot(labels)) / N`` (e.g. CS231n notes, "Softmax classifier").

    Args:
        logits: float array of shape ``(N, K)``, unnormalised class scores.
        labels: integer array of shape ``(N,)``, values in ``0 .. K-1``.
    Returns:
        ``(loss, dlogits)``: the mean loss in nats (a Python float, >= 0) and an array of
        shape ``(N, K)`` with the logits' dtype.
    Raises:
        ValueError: if the shapes do not match.
    """
    if logits.ndim != 2 or labels.shape != (logits.shape[0],):
        raise ValueError(f"logits (N, K) and labels (N,) expected, got {logits.shape}, {labels.shape}")
    n = logits.shape[0]
    logp = log_softmax(logits)
    rows = np.arange(n)
    loss = float(-logp[rows, labels].mean())
    dlogits = np.exp(logp)
    dlogits[rows, labels] -= 1
    dlogits /= n
    return loss, dlogits
