"""Layers: each computes a forward pass and, from an upstream gradient, its backward pass.

Interface (see ../STYLE.md, after CS231n and numpy-ml):

- ``params``: dict of weight arrays; ``grads``: dict of the same keys, filled by ``backward``.
- ``forward(x, training=False)`` returns the output; with ``training=True`` it caches what
  ``backward`` needs.
- ``backward(dout)`` takes dLoss/dOutput, fills ``grads`` and returns dLoss/dInput. It never
  changes ``params``: optimizers (``cnn.optim``) do that.
- ``output_shape(input_shape)`` maps a per-example shape ``(H, W, C)`` or ``(D,)`` to the
  output's, without computing anything.

All activations are channels-last, ``(N, H, W, C)``; dtype follows the input and the weights
(float32 for training, float64 for gradient checks).
"""

from __future__ import annotations

import math

import numpy as np

from .im2col import col2im, conv_output_size, im2col


class Layer:
    """Base class: a layer with no parameters."""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        # The first layer of a network skips computing dL/dx unless someone (feature
        # visualization, gradient checks) needs the gradient with respect to the image.
        self.needs_input_grad = True

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray | None:  # pragma: no cover
        raise NotImplementedError

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return input_shape

    def astype(self, dtype) -> "Layer":
        """Cast the parameters to ``dtype`` (e.g. ``np.float64`` for gradient checks)."""
        self.params = {k: v.astype(dtype) for k, v in self.params.items()}
        return self


def he_normal(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int,
              gain: float = 2.0) -> np.ndarray:
    """He initialisation: normal, mean 0, std ``sqrt(gain / fan_in)``, as float32.

    ``gain=2`` for a layer followed by ReLU (He et al., "Delving Deep into Rectifiers",
    ICCV 2015, eq. 10); ``gain=1`` for a linear layer such as the logits, where no ReLU halves
    the variance (the same derivation without ReLU; LeCun et al., "Efficient BackProp", 1998).
    """
    return (rng.standard_normal(shape) * math.sqrt(gain / fan_in)).astype(np.float32)


class Conv2D(Layer):
    """2-D convolution (cross-correlation, as PyTorch's ``conv2d``), stride 1, no padding.

    Forward is one GEMM on the im2col matrix: ``out = im2col(x) @ W.reshape(k*k*C, F) + b``.

    Args:
        in_channels: ``C``, channels of the input.
        filters: ``F``, number of output channels.
        kernel: square kernel side ``k``.
        rng: generator for He initialisation (fan-in ``k*k*C``); weights zero if ``None``.
    Parameters:
        ``W``: float32, shape ``(k, k, C, F)``; ``b``: float32, shape ``(F,)``.
    Input shape:
        ``(N, H, W, C)``.
    Output shape:
        ``(N, H - k + 1, W - k + 1, F)``, the pre-activation (ReLU is its own layer).
    Raises:
        ValueError: if the input does not have ``C`` channels or is smaller than ``k x k``.
    """

    def __init__(self, in_channels: int, filters: int, kernel: int, rng=None) -> None:
        super().__init__()
        self.in_channels, self.filters, self.kernel = in_channels, filters, kernel
        shape = (kernel, kernel, in_channels, filters)
        fan_in = kernel * kernel * in_channels
        w = he_normal(rng, shape, fan_in) if rng is not None else np.zeros(shape, np.float32)
        self.params = {"W": w, "b": np.zeros(filters, np.float32)}
        self._cols: np.ndarray | None = None
        self._x_shape: tuple[int, ...] | None = None

    def output_shape(self, input_shape):
        h, w, _ = input_shape
        k = self.kernel
        return (conv_output_size(h, k), conv_output_size(w, k), self.filters)

    def forward(self, x, training=False):
        if x.ndim != 4 or x.shape[3] != self.in_channels:
            raise ValueError(
                f"Conv2D expects (N, H, W, {self.in_channels}), got shape {x.shape}"
            )
        n = x.shape[0]
        h_out, w_out, f = self.output_shape(x.shape[1:])
        cols = im2col(x, self.kernel)
        out = cols @ self.params["W"].reshape(-1, f)
        out += self.params["b"]
        if training:
            self._cols, self._x_shape = cols, x.shape
        return out.reshape(n, h_out, w_out, f)

    def backward(self, dout):
        w = self.params["W"]
        k, f = self.kernel, self.filters
        dout2 = dout.reshape(-1, f)
        self.grads["W"] = (self._cols.T @ dout2).reshape(w.shape)
        # Bias gradient as a GEMV: summing axis 0 of a narrow (M, F) array is 10x slower.
        self.grads["b"] = np.ones(len(dout2), dout2.dtype) @ dout2
        if not self.needs_input_grad:
            return None
        # One batched GEMM gives the columns offset-major, (k*k, M, C), for col2im.
        # (Made contiguous: matmul with a transposed view of W is up to 2x slower.)
        w_by_offset = np.ascontiguousarray(w.reshape(k * k, self.in_channels, f).transpose(0, 2, 1))
        return col2im(np.matmul(dout2, w_by_offset), self._x_shape, k)


class MaxPool2D(Layer):
    """``k x k`` max pooling, stride ``k``, partial windows at the right/bottom edge kept.

    Ceil mode, as PyTorch's ``MaxPool2d(k, ceil_mode=True)``: ``H_out = ceil(H / k)``, so
    11 -> 6 and 3 -> 2 for ``k = 2``. The backward pass sends each output gradient to the
    argmax of its window (the first maximum in row-major order when several tie), recorded
    during the forward pass as a uint8 sub-grid index.

    Input shape:
        ``(N, H, W, C)``.
    Output shape:
        ``(N, ceil(H / k), ceil(W / k), C)``.
    """

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self._cache = None

    def output_shape(self, input_shape):
        h, w, c = input_shape
        k = self.size
        return (-(-h // k), -(-w // k), c)

    def forward(self, x, training=False):
        k = self.size
        # Max over the k*k strided sub-grids x[:, p::k, q::k]; the sub-grid (0, 0) has the
        # full output size, later ones may be one row/column short (partial windows).
        out = x[:, ::k, ::k, :].copy()
        # While training, also record which sub-grid holds each window's maximum: a strict
        # ">" keeps the first one in row-major order when several tie (as PyTorch does), and
        # since offsets only grow, "argmax = max(argmax, o * is_greater)" tracks the index.
        index_type = np.uint8 if k * k <= 256 else np.uint16
        argmax = np.zeros(out.shape, index_type) if training else None
        for o in range(1, k * k):
            grid = x[:, o // k :: k, o % k :: k, :]
            hs, ws = grid.shape[1], grid.shape[2]
            part = out[:, :hs, :ws, :]
            if training:
                bigger = (grid > part).astype(index_type)
                bigger *= index_type(o)
                np.maximum(argmax[:, :hs, :ws, :], bigger, out=argmax[:, :hs, :ws, :])
            np.maximum(part, grid, out=part)
        if training:
            self._cache = (x.shape, argmax)
        return out

    def backward(self, dout):
        x_shape, argmax = self._cache
        k = self.size
        dx = np.empty(x_shape, dtype=dout.dtype)  # every pixel is in exactly one sub-grid
        for o in range(k * k):  # loop over the k*k window offsets only
            grid = dx[:, o // k :: k, o % k :: k, :]
            hs, ws = grid.shape[1], grid.shape[2]
            np.multiply(dout[:, :hs, :ws, :], argmax[:, :hs, :ws, :] == o, out=grid)
        return dx


class ReLU(Layer):
    """Rectified linear unit, ``max(x, 0)``; the gradient at 0 is taken as 0. Any shape."""

    def __init__(self) -> None:
        super().__init__()
        self._mask = None

    def forward(self, x, training=False):
        if training:
            self._mask = x > 0
        return np.maximum(x, 0)

    def backward(self, dout):
        return dout * self._mask


class Flatten(Layer):
    """``(N, H, W, C) -> (N, H*W*C)`` in channels-last order (see ``cnn.model`` for the
    conversion to the PyTorch ``C, H, W`` order used in weights files)."""

    def __init__(self) -> None:
        super().__init__()
        self._shape = None

    def output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, x, training=False):
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self._shape)


class Dense(Layer):
    """Fully connected layer, ``out = x @ W + b`` (pre-activation; ReLU is its own layer).

    Args:
        in_features: ``D``; units: ``U``; rng: He initialisation (fan-in ``D``); gain: 2 when
            a ReLU follows, 1 for the logits layer (see :func:`he_normal`).
    Parameters:
        ``W``: float32, shape ``(D, U)``; ``b``: float32, shape ``(U,)``.
    Input shape:
        ``(N, D)``. Output shape: ``(N, U)``.
    Raises:
        ValueError: if the input does not have ``D`` features.
    """

    def __init__(self, in_features: int, units: int, rng=None, gain: float = 2.0) -> None:
        super().__init__()
        self.in_features, self.units = in_features, units
        shape = (in_features, units)
        w = (he_normal(rng, shape, in_features, gain) if rng is not None
             else np.zeros(shape, np.float32))
        self.params = {"W": w, "b": np.zeros(units, np.float32)}
        self._x = None

    def output_shape(self, input_shape):
        return (self.units,)

    def forward(self, x, training=False):
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"Dense expects (N, {self.in_features}), got shape {x.shape}")
        if training:
            self._x = x
        out = x @ self.params["W"]
        out += self.params["b"]
        return out

    def backward(self, dout):
        self.grads["W"] = self._x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        if not self.needs_input_grad:
            return None
        return dout @ self.params["W"].T
