"""Calibrated confidence: temperature scaling, expected calibration error, the ``uncertain`` rule.

A network's top softmax probability is not the probability that its answer is right: label
smoothing makes clean digits top out near 91 %, and plain cross-entropy training makes
networks over-confident. Temperature scaling (Guo, Pleiss, Sun & Weinberger, "On Calibration of
Modern Neural Networks", ICML 2017) divides the logits by one scalar ``T`` fitted by minimising
the negative log-likelihood on a held-out validation split; the argmax, hence top-1 accuracy,
does not change. Here ``T`` is folded into the last fully connected layer (weight and bias
divided by ``T``), so every consumer of the weights file (``predict``, ``serve``, the ONNX
export, the static web page) shows calibrated probabilities with no extra step.

The validation split used is the training run's own held-out images (the last N of MNIST's
training split), each in three forms: as is, through the run's augmentation, and rendered as a
photo and read back (:mod:`cnn.data.photo_render`), so that ``T`` fits the inputs ``predict``
meets and not clean MNIST alone. None of the test sets (MNIST test, photo, writer and corruption
sets) is used.

Expected calibration error (ECE): 15 equal-width confidence bins, the weighted mean over bins
of ``|accuracy - mean confidence|`` (Naeini, Cooper & Hauskrecht, AAAI 2015; Guo et al. 2017).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from cnn.nn.dense import Dense
from cnn.nn.losses import softmax, softmax_cross_entropy
from cnn.tasks.metrics import percent

ECE_BINS = 15
UNCERTAIN_BELOW = 0.5  # calibrated: an answer below it is more likely wrong than right
CALIBRATION_KEYS = ("temperature", "calibration", "ece_validation_before",
                    "ece_validation_after", "uncertain_below", "uncertain_error_ratio")
GATE_CALIBRATION_KEYS = ("reject_threshold", "reject_calibration")


def eval_logits(model, x: np.ndarray) -> np.ndarray:
    """``model.logits(x)`` (chunked by the model) in eval mode, the model's mode restored:
    float32 ``(N, num_classes)``."""
    was_training = model.training
    model.eval()
    try:
        return model.logits(x)
    finally:
        model.train(was_training)


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray,
                               bins: int = ECE_BINS) -> float:
    """ECE of a classifier's top-1 answers, in [0, 1].

    Args:
        probabilities: float ``(N, K)`` softmax outputs (rows sum to 1).
        labels: integer ``(N,)`` true classes.
        bins: equal-width bins of the top probability over (0, 1] (15, as Guo et al.).
    Returns:
        ``sum_b |B_b|/N * |acc(B_b) - conf(B_b)|``; 0.0 for an empty set.
    """
    p = np.asarray(probabilities, np.float64)
    if len(p) == 0:
        return 0.0
    confidence = p.max(axis=1)
    correct = p.argmax(axis=1) == np.asarray(labels)
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature ``T`` > 0 minimising the mean softmax cross-entropy of ``logits / T``.

    Args:
        logits: float ``(N, K)``; labels: integer ``(N,)``.
    Returns:
        ``T`` in [0.05, 20] (searched on log T, bounded Brent).
    Raises:
        ValueError: for an empty set.
    """
    if len(logits) == 0:
        raise ValueError("no validation images to fit a temperature on")
    z = np.asarray(logits, np.float64)
    y = np.asarray(labels).astype(np.int64)

    def nll(log_t: float) -> float:
        return float(softmax_cross_entropy(z / np.exp(log_t), y)[0])

    best = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded",
                           options={"xatol": 1e-4})
    return float(np.exp(best.x))


def last_dense(model) -> Dense:
    """The model's final fully connected layer (the one that gives the logits).

    Raises:
        ValueError: a model without a fully connected layer.
    """
    found = [m for m in model.modules() if isinstance(m, Dense)]
    if not found:
        raise ValueError(f"{model.model_string} has no fully connected layer to calibrate")
    return found[-1]


def fold_temperature(model, temperature: float) -> None:
    """Divide the last fully connected layer's weight and bias by ``temperature`` in place, so
    the model's logits become ``logits / T`` (argmax unchanged). Records the product of all
    temperatures folded so far in ``model.metadata['temperature']``."""
    layer = last_dense(model)
    for key in ("weight", "bias"):
        layer.params[key] = (layer.params[key] / np.float32(temperature)).astype(
            layer.params[key].dtype)
    meta = getattr(model, "metadata", None)
    if meta is not None:
        meta["temperature"] = float(meta.get("temperature", 1.0)) * float(temperature)


def uncertainty_ratio(probabilities: np.ndarray, labels: np.ndarray,
                      below: float = UNCERTAIN_BELOW) -> dict:
    """How much more often the answers flagged ``uncertain`` are wrong than the others.

    Args:
        probabilities: float ``(N, K)``; labels: ``(N,)``; below: the flag's threshold.
    Returns:
        dict: ``flagged`` (count), ``error_flagged`` and ``error_rest`` (error rates, ``None``
        for an empty group) and ``ratio`` (their quotient, ``None`` when undefined).
    """
    p = np.asarray(probabilities, np.float64)
    wrong = p.argmax(axis=1) != np.asarray(labels)
    flagged = p.max(axis=1) < below
    ef = float(wrong[flagged].mean()) if flagged.any() else None
    er = float(wrong[~flagged].mean()) if (~flagged).any() else None
    ratio = ef / er if ef is not None and er else None
    return {"flagged": int(flagged.sum()), "error_flagged": ef, "error_rest": er,
            "ratio": ratio}


def validation_views(images: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
                     augment=None, photos: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """The held-out images in the three forms temperature scaling is fitted on.

    Args:
        images: uint8 ``(N, 28, 28)`` validation images (never test images); labels ``(N,)``.
        rng: the caller's generator.
        augment: the training run's ``f(batch, rng)`` augmentation, or ``None`` (then the
            robust one, :func:`cnn.data.augment.robust_batch`).
        photos: how many of them to render as photos and read back through the pipeline.
    Returns:
        ``(x, y)``: uint8 ``(2N + min(photos, N), 28, 28)`` and labels.
    """
    from cnn.data.augment import robust_batch
    from cnn.data.photo_render import render_through_pipeline

    augment = augment or robust_batch
    augmented = np.concatenate([augment(images[i:i + 512], rng)
                                for i in range(0, len(images), 512)]) if len(images) else images
    pick = rng.choice(len(images), size=min(photos, len(images)), replace=False)
    rendered = render_through_pipeline(images[pick], rng, desc="rendering validation photos")
    return (np.concatenate([images, augmented, rendered]),
            np.concatenate([labels, labels, labels[pick]]))


def calibrate_model(model, images: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
                    augment=None, photos: int = 2000) -> dict:
    """Fit a temperature on the validation views of ``images`` and fold it into ``model``.

    Args:
        model: a :class:`cnn.nn.model.Sequential` with a ``metadata`` dict (changed in place:
            ``temperature``, ``calibration``, ``ece_validation_before``/``_after``,
            ``uncertain_below`` and ``uncertain_error_ratio``).
        images, labels: the run's held-out validation split (uint8 ``(N, 28, 28)``, ``(N,)``).
        rng, augment, photos: as :func:`validation_views`.
    Returns:
        dict with ``temperature``, ``ece_before``, ``ece_after`` (on the validation views),
        ``n`` (images used) and the :func:`uncertainty_ratio` after calibration.
    """
    x, y = validation_views(images, labels, rng, augment, photos)
    logits = eval_logits(model, x)[:, :10].astype(np.float64)
    before = expected_calibration_error(softmax(logits), y)
    t = fit_temperature(logits, y)
    after_p = softmax(logits / t)
    after = expected_calibration_error(after_p, y)
    ratio = uncertainty_ratio(after_p, y)
    fold_temperature(model, t)
    model.metadata.update(
        calibration=(f"temperature scaling (Guo et al. 2017) on {len(x):,} validation views: "
                     f"{len(images):,} held-out training images as is, augmented, and "
                     f"{min(photos, len(images)):,} rendered as photos; folded into the last "
                     "FC layer"),
        ece_validation_before=before, ece_validation_after=after,
        uncertain_below=UNCERTAIN_BELOW, uncertain_error_ratio=ratio["ratio"])
    return {"temperature": t, "ece_before": before, "ece_after": after, "n": len(x), **ratio}


GATE_REJECT_RATE = 0.003  # share of varied real validation digits a gate may turn away


def calibrate_gate(model, images: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
                   augment=None, photos: int = 2000, rate: float = GATE_REJECT_RATE) -> dict:
    """Choose an 11-class gate's ``reject_threshold`` on varied real digits.

    The threshold on P(not a digit) is the ``1 - rate`` quantile of its values over the
    validation views (:func:`validation_views`: the held-out training digits as is, augmented,
    and rendered as photos), so that about ``rate`` of varied real digits are turned away,
    rather than a rate measured on clean MNIST alone.

    Args:
        model: an 11-class :class:`cnn.nn.model.Sequential` (class 10: not a digit), with a
            ``metadata`` dict (``reject_threshold``, ``reject_calibration`` are set in place).
        images, labels: its run's held-out digits, uint8 ``(N, 28, 28)`` and ``(N,)``.
        rate: the share of those digits to turn away, in (0, 1).
    Returns:
        dict: ``threshold``, ``n`` (views used), ``rejected`` (share at the threshold).
    Raises:
        ValueError: a model that does not give 11 classes.
    """
    if model.num_classes != 11:
        raise ValueError(f"{model.model_string} gives {model.num_classes} classes; a gate "
                         "gives 11")
    x, _ = validation_views(images, labels, rng, augment, photos)
    p_not = softmax(eval_logits(model, x))[:, 10]
    threshold = float(np.clip(np.quantile(p_not, 1 - rate), 0.05, 0.995))
    rejected = float((p_not >= threshold).mean())
    model.metadata.update(
        reject_threshold=round(threshold, 4),
        reject_calibration=(f"turns away {rejected:.2%} of {len(x):,} validation views of real "
                            f"digits ({len(images):,} held-out training images as is, "
                            f"augmented, and {min(photos, len(images)):,} rendered as photos)"))
    return {"threshold": threshold, "n": len(x), "rejected": rejected}


def calibrate(model, images: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
              augment=None) -> str:
    """What ``cnn train --calibrate`` and ``scripts/calibrate_weights.py`` do: a 10-class model
    gets a softmax temperature (:func:`calibrate_model`), an 11-class gate its not-a-digit
    threshold (:func:`calibrate_gate`, on the digits of ``images`` only).

    Args:
        model: a :class:`cnn.nn.model.Sequential` with a ``metadata`` dict (changed in place:
            :data:`CALIBRATION_KEYS` or :data:`GATE_CALIBRATION_KEYS`).
        images, labels: held-out validation images, uint8 ``(N, 28, 28)``, labels ``(N,)``
            (label 10, not a digit, is left out for a gate).
        rng, augment: as :func:`validation_views`.
    Returns:
        one line saying what was fitted, for the user.
    """
    if model.num_classes == 11:
        digits = labels < 10
        cal = calibrate_gate(model, images[digits], labels[digits], rng, augment)
        return (f"calibrated: not-a-digit threshold {cal['threshold']:.4f} turns away "
                f"{percent(cal['rejected'])} of {cal['n']:,} validation views of real digits")
    cal = calibrate_model(model, images, labels, rng, augment)
    return (f"calibrated: temperature {cal['temperature']:.3f}, ECE on {cal['n']:,} "
            f"validation views {percent(cal['ece_before'])} -> {percent(cal['ece_after'])}")
