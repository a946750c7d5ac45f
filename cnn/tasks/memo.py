"""Networks that remember their answers for one picture's reading.

Reading one picture asks the same networks about the same 28 x 28 inputs several times: the
single-digit pipeline scores its candidates (``choose``) and then classifies and judges the one
it chose; the number reader scores its candidate segments with the classifier and the gate
(:func:`cnn.tasks.numbers.segment_scorer`) and then classifies and judges the ones it chose.
:func:`remembered` and :func:`remembered_rejector` wrap the networks for the length of one
reading, so an input already seen is looked up instead of computed again (a dictionary keyed by
its bytes, the idea of ``functools.lru_cache`` applied per row of a batch).
"""

from __future__ import annotations

import dataclasses

import numpy as np


class Remembering:
    """A network whose ``predict_proba`` computes only the rows it has not seen.

    Every other attribute (``model_string``, ``input_shape``, ``num_classes``, ...) is the
    network's own. Meant to live for one picture: the memory grows with every distinct input
    (44 bytes of probabilities beside the 3 KB key of a float32 28 x 28 input).

    Args:
        network: anything with ``predict_proba(x, batch_size)`` giving float ``(N, C)``.
    """

    def __init__(self, network) -> None:
        self.network = network
        self.rows: dict[tuple, np.ndarray] = {}  # ((dtype, row shape), bytes) -> row

    def __getattr__(self, name: str):
        if name == "network":  # not set yet (a copy being made): no recursion
            raise AttributeError(name)
        return getattr(self.network, name)

    def remember(self, x: np.ndarray, probabilities: np.ndarray) -> None:
        """Take ``probabilities`` (float ``(N, C)``) as the answers for ``x`` (as
        :meth:`predict_proba` takes it): the same network's outputs from another pass, e.g.
        one that also kept its activation maps (``cnn serve``)."""
        x = np.asarray(x)
        tag = (x.dtype.str, x.shape[1:])
        self.rows.update(((tag, row.tobytes()), np.asarray(p, np.float32))
                         for row, p in zip(x, probabilities))

    def predict_proba(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """The network's ``predict_proba`` of ``x`` (``(N, 28, 28)`` or ``(N, 28, 28, 1)``,
        uint8 or float), each row computed once per distinct input (bytes, dtype and shape):
        float32 ``(N, C)``, equal to the network's own to float rounding (a row computed in a
        smaller batch)."""
        x = np.asarray(x)
        if len(x) == 0:  # the network's own empty answer, its classes included
            return self.network.predict_proba(x, batch_size)
        tag = (x.dtype.str, x.shape[1:])
        keys = [(tag, row.tobytes()) for row in x]
        missing = list(dict.fromkeys(k for k in keys if k not in self.rows))
        if missing:
            where = {k: i for i, k in enumerate(keys)}
            fresh = self.network.predict_proba(x[[where[k] for k in missing]], batch_size)
            self.rows.update(zip(missing, fresh))
        return np.stack([self.rows[k] for k in keys])


def remembered(model):
    """``model`` remembering its answers (:class:`Remembering`): a network wrapped; an
    :class:`cnn.tasks.ensemble.Ensemble` rebuilt with each member wrapped (so its vote and
    its member probabilities work as before); None stays None."""
    from cnn.tasks.ensemble import Ensemble

    if model is None or isinstance(model, Remembering):
        return model
    if isinstance(model, Ensemble):
        return Ensemble([(name, remembered(m)) for name, m in model.members], model.method,
                        model.num_classes)
    return Remembering(model)


def remembered_rejector(rejector):
    """A copy of a :class:`cnn.tasks.reject.Rejector` whose gate remembers its answers
    (:func:`remembered`); None, a rejector without a gate and any other object that judges
    (a test's stand-in) are returned as they are."""
    if getattr(rejector, "gate", None) is None or not dataclasses.is_dataclass(rejector):
        return rejector
    return dataclasses.replace(rejector, gate=remembered(rejector.gate))
