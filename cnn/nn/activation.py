"""Element-wise layers: ReLU and (inverted) dropout.
"""

from __future__ import annotations

import numpy as np

from cnn.nn.module import Module


def relu(x: np.ndarray) -> np.ndarray:
    """``max(x, 0)``, a new array of ``x``'s shape and dtype. Taken against a row of zeros over
    a 2-D view with one row per example (``np.maximum`` with a scalar 0 ran 2-3x slower on
    float32 on this project's machine; issue 33)."""
    if x.ndim < 2 or not x.size:
        return np.maximum(x, 0)
    x2 = np.ascontiguousarray(x).reshape(len(x), -1)
    return np.maximum(x2, np.zeros(x2.shape[1], x.dtype)).reshape(x.shape)


class ReLU(Module):
    """Rectified linear unit, ``max(x, 0)``; the gradient at 0 is taken as 0. Any shape."""

    def forward(self, x, tape=None):
        if tape is not None:
            tape.save(self, x > 0)
        return relu(x)

    def backward(self, dout, tape, need_dx=True):
        mask = tape.load(self)
        return dout * mask if need_dx else None


class Dropout(Module):
    """Inverted dropout (Srivastava et al., JMLR 2014; PyTorch ``nn.Dropout``): in train mode
    each value is zeroed with probability ``rate`` and the rest scaled by ``1 / (1 - rate)``;
    the identity in eval mode. Any shape.

    Args:
        rate: drop probability, ``0 <= rate < 1``.
        rng: the generator that draws the masks (the run's one generator).
    """

    def __init__(self, rate: float, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if not 0 <= rate < 1:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
        self.rate = rate
        self.rng = rng if rng is not None else np.random.default_rng()

    def forward(self, x, tape=None):
        if not self.training or self.rate == 0:
            if tape is not None:
                tape.save(self, None)
            return x
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.rate
        mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - self.rate))
        if tape is not None:
            tape.save(self, mask)
        return x * mask

    def backward(self, dout, tape, need_dx=True):
        mask = tape.load(self)
        if not need_dx:
            return None
        return dout if mask is None else dout * mask
