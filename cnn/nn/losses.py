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


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray,
                          label_smoothing: float = 0.0) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy and its gradient with respect to the logits.

    ``loss = -mean_n sum_k q[n, k] log softmax(logits)[n, k]`` with the target distribution
    ``q = (1 - eps) * onehot(labels) + eps / K``; ``eps = 0`` is the plain loss
    ``-mean_n log softmax(logits)[n, labels[n]]``. The gradient is the well-known
    ``(softmax(logits) - q) / N`` (e.g. CS231n notes, "Softmax classifier"). Label smoothing
    as in Szegedy et al., "Rethinking the Inception Architecture" (2016), and
    ``torch.nn.CrossEntropyLoss(label_smoothing=eps)``.

    Args:
        logits: float array of shape ``(N, K)``, unnormalised class scores.
        labels: integer array of shape ``(N,)``, values in ``0 .. K-1``.
        label_smoothing: ``eps`` in ``[0, 1)``.
    Returns:
        ``(loss, dlogits)``: the mean loss in nats (a Python float, >= 0) and an array of
        shape ``(N, K)`` with the logits' dtype.
    Raises:
        ValueError: if the shapes do not match or ``label_smoothing`` is out of range.
    """
    if logits.ndim != 2 or labels.shape != (logits.shape[0],):
        raise ValueError(f"logits (N, K) and labels (N,) expected, got {logits.shape}, {labels.shape}")
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    n, k = logits.shape
    logp = log_softmax(logits)
    rows = np.arange(n)
    loss = float(-logp[rows, labels].mean())
    dlogits = np.exp(logp)
    dlogits[rows, labels] -= 1
    if label_smoothing:
        eps = label_smoothing
        loss = (1 - eps) * loss - eps / k * float(logp.sum(axis=1).mean())
        dlogits[rows, labels] += eps
        dlogits -= eps / k
    dlogits /= n
    return loss, dlogits
