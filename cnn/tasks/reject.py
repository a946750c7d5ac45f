"""Saying "not a digit": the rejection rule of ``cnn predict`` and ``cnn evaluate``.

A network trained on MNIST alone answers a digit for anything; its confidence is a weak guide
(max softmax probability, Hendrycks & Gimpel, "A Baseline for Detecting Misclassified and
Out-of-Distribution Examples", ICLR 2017; energy score, Liu et al., "Energy-based
Out-of-distribution Detection", NeurIPS 2020): measured on generated non-digits, a threshold
that wrongly rejects 1 % of MNIST test digits rejects only about half of them
(docs/not-a-digit.md, "Not a digit"). So the rule here uses a network trained with an 11th
class, "not a digit" (the folder-per-class playbook's noise class), on MNIST plus generated
non-digits (``scripts/make_non_digits.py``):

- the **gate**: an 11-class network shipped in ``weight_output/reject/`` (a subfolder, so the
  10-class ensemble of ``weight_output/*.npz`` never sees it). An image is rejected when the
  gate's softmax probability of class 10 is at least the threshold (``--reject-threshold``; by
  default the value calibrated on MNIST and stored in the gate file's metadata as
  ``reject_threshold``, else :data:`DEFAULT_THRESHOLD`). The digit itself still comes from
  the chosen classifier, whose MNIST accuracy is untouched.
- several gates (the shipped ones, or ``--reject-weights`` given more than once) decide
  together: P(not a digit) is the mean of theirs (an ensemble's averaged softmax,
  :class:`cnn.tasks.ensemble.Ensemble`; averaging detectors trained on different outliers is
  the deep-ensemble recipe of Lakshminarayanan, Pritzel & Blundell, NeurIPS 2017). Their
  threshold is the manifest's ``gate_threshold`` for the shipped gates (chosen on varied
  validation digits, docs/not-a-digit.md); other sets of gates need ``--reject-threshold``,
  since each file's own threshold was calibrated for it alone.
- a classifier that itself gives 11 classes (trained with ``cnn train --data DIR`` on a folder
  with a ``noise/`` class) is its own gate: its class-10 probability is used, its digit is the
  argmax of classes 0-9 and its digit probabilities are renormalised over those ten.

Images in which preprocessing finds no ink at all (a blank page) are rejected before any
network runs.

The **line gate** (``weight_output/reject/..._line.npz``, role ``line`` in the manifest) is
carried by the :class:`Rejector` but rejects nothing: its class 10 is "several digits", and
only the number reader asks it: whether each candidate segment is one digit
(:func:`cnn.tasks.numbers.segment_scorer`) and whether the whole line read as one digit is one
(:func:`cnn.tasks.numbers.convincing`, test 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

NOT_A_DIGIT = 10
DEFAULT_THRESHOLD = 0.5
GATE_FOLDER = "reject"


def find_gates() -> list[Path]:
    """The shipped gates (the manifest's ``gate`` entries, in its order, :mod:`cnn.io.catalog`),
    else the first ``*.npz`` (by name) in ``weight_output/reject/`` of the usual weights folders
    (:func:`cnn.io.catalog.weights_folders`: a gate of the user's), else ``[]``."""
    from cnn.io.catalog import shipped_files, weights_folders

    shipped = shipped_files("gate")
    if shipped:
        return shipped
    for folder in weights_folders():
        found = [f for f in sorted((folder / GATE_FOLDER).glob("*.npz")) if not is_line_gate(f)]
        if found:
            return found[:1]
    return []


def find_line_gate() -> Path | None:
    """The shipped line gate (the manifest's ``line`` entry, :mod:`cnn.io.catalog`), or
    ``None``.

    Raises:
        UserError: an unreadable manifest (a broken install).
    """
    from cnn.io.catalog import shipped_files

    shipped = shipped_files("line")
    return shipped[0] if shipped else None


def is_line_gate(path: str | Path) -> bool:
    """Whether a weights file is a line gate (its metadata has a ``line_gate`` entry: class
    10 is "several digits", not "not a digit"); False for a file that does not read (read
    through :class:`cnn.io.npz.NpzReader`: a FIFO or device is refused unopened)."""
    from cnn.errors import UserError
    from cnn.io.npz import NpzReader

    try:
        with NpzReader(path, "weights file") as reader:
            return "line_gate" in reader.json_object("metadata")
    except UserError:
        return False


def find_gate() -> Path | None:
    """The first of :func:`find_gates`, or ``None``."""
    gates = find_gates()
    return gates[0] if gates else None


def confidence_scores(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A classifier's own in-distribution scores, both high for a digit it knows.

    Args:
        logits: float ``(N, K)``.
    Returns:
        ``(msp, negative_energy)``, ``(N,)`` each: the max softmax probability, in (0, 1]
        (Hendrycks & Gimpel, ICLR 2017), and the logsumexp of the logits, minus the energy
        score of Liu et al. (NeurIPS 2020), in logit units.
    """
    m = logits.max(axis=1, keepdims=True)
    e = np.exp(logits - m)
    return (e.max(axis=1) / e.sum(axis=1)), m[:, 0] + np.log(e.sum(axis=1))


def split_not_digit(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Split an 11-class softmax into digit probabilities and the not-a-digit probability.

    Args:
        probabilities: float ``(N, 10)`` or ``(N, 11)``.
    Returns:
        ``(digits, not_digit)``: float32 ``(N, 10)`` renormalised over the ten digits, and
        ``(N,)`` class-10 probabilities (``None`` for a 10-class input, returned unchanged).
    """
    if probabilities.shape[1] == 10:
        return probabilities, None
    digits = probabilities[:, :10]
    total = np.maximum(digits.sum(axis=1, keepdims=True), np.float32(1e-30))
    return (digits / total).astype(np.float32), probabilities[:, NOT_A_DIGIT]


@dataclass
class Rejector:
    """Decides which images are not digits.

    Args:
        gate: an 11-class network or an :class:`cnn.tasks.ensemble.Ensemble` of them
            (``predict_proba`` giving ``(N, 11)``), or ``None`` (then only an 11-class
            classifier's own class 10 can reject).
        threshold: reject when P(not a digit) >= threshold, in (0, 1].
        name: where the gate came from, for reports.
        line_gate: an 11-class network whose class 10 is "several digits" (trained on MNIST
            and lines of MNIST training digits normalised as one: pairs, strings written as
            a number, strings photographed and read back as whole lines; its metadata's
            ``recipe`` and ``line_gate``), or ``None``: the number reader asks it whether a
            candidate segment or a whole line read as one digit is one digit
            (:func:`cnn.tasks.numbers.segment_scorer`, :func:`cnn.tasks.numbers.convincing`,
            test 1). It rejects nothing itself.
    """

    gate: object | None = None
    threshold: float = DEFAULT_THRESHOLD
    name: str | None = None
    line_gate: object | None = None

    @classmethod
    def default(cls, threshold: float | None = None,
                weights: str | Path | list | None = None) -> "Rejector":
        """The gate(s) from ``weights`` (a file or a list of files) or :func:`find_gates`, with
        ``threshold``, else the one calibrated for them: a single gate's ``reject_threshold``
        (its metadata), the shipped gates' ``gate_threshold`` (the manifest); with the shipped
        line gate (:func:`find_line_gate`) whenever there is a gate.

        Raises:
            UserError: a gate file that does not load, is not an 11-class network or is a line
                gate (:func:`is_line_gate`), several gates other than the shipped ones without
                ``threshold``, or a shipped line gate that does not load.
        """
        from cnn.errors import UserError
        from cnn.io.catalog import shipped_gate_threshold
        from cnn.io.weights import load_model
        from cnn.tasks.ensemble import Ensemble

        if isinstance(weights, (str, Path)):
            weights = [weights]
        paths = [Path(w) for w in weights] if weights else find_gates()
        line = find_line_gate()
        line_gate = load_model(line, num_classes=11) if line is not None else None
        if not paths:  # a classifier ending in FC11 is its own gate: the reader's test holds
            return cls(None, DEFAULT_THRESHOLD if threshold is None else threshold,
                       line_gate=line_gate)
        gates = []
        for path in paths:
            gate = load_model(path, num_classes=None)
            if gate.num_classes != 11:
                raise UserError(f"rejection gate '{path}' ({gate.model_string}) gives "
                                f"{gate.num_classes} classes; a gate ends in FC11 (class 10: "
                                "not a digit)")
            if "line_gate" in gate.metadata:
                raise UserError(f"'{path}' is the number reader's line gate (class 10: several "
                                "digits), not a not-a-digit gate; leave it out of "
                                "--reject-weights")
            gates.append(gate)
        if len(gates) == 1:
            if threshold is None:
                threshold = float(gates[0].metadata.get("reject_threshold", DEFAULT_THRESHOLD))
            return cls(gates[0], threshold, str(paths[0]), line_gate)
        if threshold is None:
            shipped = sorted(p.resolve() for p in find_gates())
            threshold = (shipped_gate_threshold()
                         if sorted(p.resolve() for p in paths) == shipped else None)
            if threshold is None:
                raise UserError(f"{len(gates)} rejection gates decide together: give their "
                                "threshold with --reject-threshold P (each file's own was "
                                "calibrated for it alone)")
        ensemble = Ensemble(list(zip(map(str, paths), gates)), "mean", classes=11)
        return cls(ensemble, threshold, " + ".join(str(p) for p in paths), line_gate)

    def not_digit_probability(self, images: np.ndarray, classifier_probabilities: np.ndarray
                              ) -> np.ndarray | None:
        """P(not a digit) per image, float32 ``(N,)``: the classifier's own class 10 when it
        has one, else the gate's; ``None`` when neither exists.

        Args:
            images: the network inputs, ``(N, 28, 28)``, float in [0, 1] or uint8.
            classifier_probabilities: the classifier's softmax, ``(N, 10)`` or ``(N, 11)``.
        """
        own = split_not_digit(classifier_probabilities)[1]
        if own is not None:
            return own
        if self.gate is None:
            return None
        return self.gate.predict_proba(images)[:, NOT_A_DIGIT]

    def several_probability(self, images: np.ndarray) -> np.ndarray | None:
        """P(several digits) per image from the line gate, float32 ``(N,)`` in [0, 1], or
        ``None`` without a line gate.

        Args:
            images: whole lines normalised as one digit (MNIST form, white on black),
                ``(N, 28, 28)`` or ``(N, 28, 28, 1)``, float in [0, 1] or uint8 (0..255).
        Raises:
            ValueError: images of another shape (the network's input check).
        """
        if self.line_gate is None:
            return None
        return self.line_gate.predict_proba(images)[:, NOT_A_DIGIT]

    def judge(self, images: np.ndarray, classifier_probabilities: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray | None]:
        """``(rejected, p)``: bool ``(N,)`` and P(not a digit) (``None``: nothing to judge
        with, nothing rejected)."""
        p = self.not_digit_probability(images, classifier_probabilities)
        if p is None:
            return np.zeros(len(images), bool), None
        return p >= self.threshold, p

    def reason(self, p: float) -> str:
        """The one-line reason given for a rejection with P(not a digit) = ``p``."""
        return f"not a digit: P(not a digit) {p:.3f} >= threshold {self.threshold:g}"

    def describe(self) -> str:
        """One line: what rejects and at which threshold (and whether the number reader's
        line gate is on)."""
        line = "; the number reader's line gate on" if self.line_gate is not None else ""
        if self.gate is None:
            return (f"rejection: a classifier's own class 10 only, threshold "
                    f"{self.threshold:g}{line}")
        members = getattr(self.gate, "members", None)
        if members:
            return (f"rejection: the mean of {len(members)} gates ("
                    + ", ".join(f"{Path(name).name}" for name, _ in members)
                    + f"), threshold {self.threshold:g}{line}")
        return (f"rejection gate {Path(self.name).name} ({self.gate.model_string}), "
                f"threshold {self.threshold:g}{line}")


def rejection_report(rejected: np.ndarray, labels: np.ndarray, digits: np.ndarray) -> dict:
    """How a rejection rule did on a labelled set that may hold non-digits (label 10).

    Args:
        rejected: bool ``(N,)``; labels: ``(N,)`` in 0..10; digits: the classifier's ``(N,)``
            answers in 0..9 (before rejection).
    Returns:
        dict: ``rejected`` (count), ``digits_rejected`` (count) and ``digit_rejection_rate``
        (share of the digit images wrongly rejected), ``non_digits``, ``non_digits_rejected``
        and ``non_digit_rejection_rate`` (``None`` without non-digits), and
        ``accuracy_with_rejection``: top-1 over every image, where a rejection is the right
        answer for a non-digit and a wrong one for a digit.
    """
    labels = np.asarray(labels).astype(np.int64)
    is_digit = labels < NOT_A_DIGIT
    answers = np.where(rejected, NOT_A_DIGIT, digits)
    n_digits, n_non = int(is_digit.sum()), int((~is_digit).sum())
    return {
        "rejected": int(rejected.sum()),
        "digits_rejected": int((rejected & is_digit).sum()),
        "digit_rejection_rate": float((rejected & is_digit).sum() / n_digits) if n_digits else None,
        "non_digits": n_non,
        "non_digits_rejected": int((rejected & ~is_digit).sum()),
        "non_digit_rejection_rate": float((rejected & ~is_digit).sum() / n_non) if n_non else None,
        "accuracy_with_rejection": float((answers == labels).mean()) if len(labels) else None,
    }
