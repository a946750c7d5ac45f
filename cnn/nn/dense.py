"""The fully connected (dense, linear) layer: ``y = x @ W.T + b`` (PyTorch's ``nn.Linear`` layout).
"""

from __future__ import annotations

import numpy as np

from cnn.nn.init import he_normal
from cnn.nn.module import Module


class Dense(Module):
    """Fully connected layer, ``out = flatten(x) @ W + b`` (pre-activation).

    Args:
        in_features: ``D``; units: ``U``; rng: He initialisation (fan-in ``D``); gain: 2 when
            a ReLU follows, 1 for the logits layer (see :func:`he_normal`).
        in_shape: the per-example ``(H, W, C)`` when the input is a feature map, flattened
            channels-last here; the state dict then orders the inputs ``C, H, W`` as PyTorch's
            ``flatten`` of an ``(N, C, H, W)`` tensor does.
    Parameters:
        ``weight``: float32 ``(D, U)`` (state dict: ``(U, D)``); ``bias``: float32 ``(U,)``.
    Input shape:
        ``(N, D)`` or ``(N, H, W, C)`` with ``H*W*C = D``. Output shape: ``(N, U)``.
    Raises:
        ValueError: if the input does not have ``D`` features.
    """

    def __init__(self, in_features: int, units: int, rng=None, gain: float = 2.0,
                 in_shape: tuple[int, int, int] | None = None) -> None:
        super().__init__()
        self.in_features, self.units, self.in_shape = in_features, units, in_shape
        shape = (in_features, units)
        w = (he_normal(rng, shape, in_features, gain) if rng is not None
             else np.zeros(shape, np.float32))
        self.params = {"weight": w, "bias": np.zeros(units, np.float32)}

    def export_array(self, key, value):
        if key != "weight":
            return value
        if self.in_shape is not None:  # inputs in H, W, C order -> C, H, W
            h, w, c = self.in_shape
            return value.reshape(h, w, c, -1).transpose(3, 2, 0, 1).reshape(self.units, -1)
        return value.T

    def import_array(self, key, value):
        if key != "weight":
            return value
        if self.in_shape is not None:
            h, w, c = self.in_shape
            return value.reshape(-1, c, h, w).transpose(2, 3, 1, 0).reshape(h * w * c, -1)
        return value.T

    def output_shape(self, input_shape):
        return (self.units,)

    def forward(self, x, tape=None):
        x2 = x.reshape(len(x), -1)
        if x2.shape[1] != self.in_features:
            raise ValueError(f"Dense expects (N, {self.in_features}), got shape {x.shape}")
        if tape is not None:
            tape.save(self, (x2, x.shape))
        out = x2 @ self.params["weight"]
        out += self.params["bias"]
        return out

    def backward(self, dout, tape, need_dx=True):
        x2, x_shape = tape.load(self)
        if tape.param_grads:
            self.grads["weight"] = x2.T @ dout
            self.grads["bias"] = dout.sum(axis=0)
        if not need_dx:
            return None
        return (dout @ self.params["weight"].T).reshape(x_shape)
