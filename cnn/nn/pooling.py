"""Pooling layers: max pooling, average pooling, global average pooling.

Channels-last ``(N, H, W, C)``; output sizes from :func:`cnn.nn.im2col.pool_output_size`
(as ``torch.nn.MaxPool2d`` / ``AvgPool2d`` with stride = size, no padding).
"""

from __future__ import annotations

import numpy as np

from cnn.nn.im2col import pool_output_size
from cnn.nn.module import Module


class MaxPool2D(Module):
    """``k x k`` max pooling, stride ``k``, partial windows at the right/bottom edge kept.

    Ceil mode, as PyTorch's ``MaxPool2d(k, ceil_mode=True)``: ``H_out = ceil(H / k)``, so
    11 -> 6 and 3 -> 2 for ``k = 2``. The backward pass sends each output gradient to the
    argmax of its window (the first maximum in row-major order when several tie), recorded
    during the forward pass as a uint8 sub-grid index.

    Input shape: ``(N, H, W, C)``. Output shape: ``(N, ceil(H / k), ceil(W / k), C)``.
    """

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def output_shape(self, input_shape):
        h, w, c = input_shape
        return (pool_output_size(h, self.size), pool_output_size(w, self.size), c)

    def forward(self, x, tape=None):
        k = self.size
        # Max over the k*k strided sub-grids x[:, p::k, q::k]; the sub-grid (0, 0) has the
        # full output size, later ones may be one row/column short (partial windows).
        out = x[:, ::k, ::k, :].copy()
        # With a tape, also record which sub-grid holds each window's maximum, as a uint8
        # sub-grid index: a strict ">" keeps the first one in row-major order when several tie
        # (as PyTorch does), and since offsets only grow, "argmax = max(argmax, o * bigger)"
        # tracks the index: three passes per sub-grid (np.copyto with a mask is 8x slower).
        keep = tape is not None
        index_type = np.uint8 if k * k <= 256 else np.uint16
        argmax = np.zeros(out.shape, index_type) if keep else None
        bigger = np.empty(out.shape, index_type) if keep else None
        for o in range(1, k * k):
            grid = x[:, o // k :: k, o % k :: k, :]
            hs, ws = grid.shape[1], grid.shape[2]
            best = out[:, :hs, :ws, :]
            if keep:
                b, a = bigger[:, :hs, :ws, :], argmax[:, :hs, :ws, :]
                np.greater(grid, best, out=b)
                b *= index_type(o)
                np.maximum(a, b, out=a)
            np.maximum(best, grid, out=best)
        if keep:
            tape.save(self, (x.shape, argmax))
        return out

    def backward(self, dout, tape, need_dx=True):
        x_shape, argmax = tape.load(self)
        if not need_dx:
            return None
        k = self.size
        dx = np.empty(x_shape, dtype=dout.dtype)  # every pixel is in exactly one sub-grid
        for o in range(k * k):  # loop over the k*k window offsets only
            grid = dx[:, o // k :: k, o % k :: k, :]
            hs, ws = grid.shape[1], grid.shape[2]
            np.multiply(dout[:, :hs, :ws, :], argmax[:, :hs, :ws, :] == o, out=grid)
        return dx


class AvgPool2D(Module):
    """``k x k`` average pooling, stride ``k``, ceil mode: a partial window at the right/bottom
    edge averages the pixels it covers, as PyTorch's ``AvgPool2d(k, ceil_mode=True)``.

    Input shape: ``(N, H, W, C)``. Output shape: ``(N, ceil(H / k), ceil(W / k), C)``.
    """

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def output_shape(self, input_shape):
        h, w, c = input_shape
        return (pool_output_size(h, self.size), pool_output_size(w, self.size), c)

    def _inverse_counts(self, h: int, w: int, dtype) -> np.ndarray:
        """1 / (pixels in each window), ``(H_out, W_out, 1)``."""
        k = self.size
        rows = np.minimum(k, h - k * np.arange(pool_output_size(h, k)))
        cols = np.minimum(k, w - k * np.arange(pool_output_size(w, k)))
        return (1.0 / np.outer(rows, cols)).astype(dtype)[:, :, None]

    def forward(self, x, tape=None):
        k = self.size
        out = x[:, ::k, ::k, :].copy()
        for o in range(1, k * k):  # sum of the k*k strided sub-grids
            grid = x[:, o // k :: k, o % k :: k, :]
            out[:, : grid.shape[1], : grid.shape[2], :] += grid
        out *= self._inverse_counts(x.shape[1], x.shape[2], x.dtype)
        if tape is not None:
            tape.save(self, x.shape)
        return out

    def backward(self, dout, tape, need_dx=True):
        x_shape = tape.load(self)
        if not need_dx:
            return None
        k = self.size
        share = dout * self._inverse_counts(x_shape[1], x_shape[2], dout.dtype)
        dx = np.empty(x_shape, dtype=dout.dtype)
        for o in range(k * k):
            grid = dx[:, o // k :: k, o % k :: k, :]
            grid[...] = share[:, : grid.shape[1], : grid.shape[2], :]
        return dx


class GlobalAvgPool(Module):
    """Mean over all positions of each channel: ``(N, H, W, C) -> (N, C)`` (Lin et al.,
    "Network In Network", 2014; PyTorch ``AdaptiveAvgPool2d(1)`` then ``flatten``)."""

    def output_shape(self, input_shape):
        return (input_shape[-1],)

    def forward(self, x, tape=None):
        if tape is not None:
            tape.save(self, x.shape)
        n, h, w, c = x.shape
        return x.reshape(n, h * w, c).mean(axis=1)

    def backward(self, dout, tape, need_dx=True):
        n, h, w, c = tape.load(self)
        if not need_dx:
            return None
        return np.broadcast_to((dout / (h * w))[:, None, None, :], (n, h, w, c)).copy()
