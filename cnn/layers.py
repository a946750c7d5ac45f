"""Primitive layers: each computes a forward pass and, from an upstream gradient, its backward.

Interface (see ``cnn.module`` and ../STYLE.md, after CS231n and numpy-ml):

- ``params`` / ``grads`` / ``buffers``: dicts of arrays (``grads`` filled by ``backward``).
- ``forward(x, tape=None)`` returns the output; with a :class:`cnn.module.Tape` it saves on the
  tape what ``backward`` needs. The mode (``training``) is separate: it decides whether batch
  norm uses batch statistics and whether dropout drops.
- ``backward(dout, tape, need_dx=True)`` takes dLoss/dOutput, fills ``grads`` (when
  ``tape.param_grads``) and returns dLoss/dInput (``None`` when ``need_dx`` is False, e.g. for
  the first layer of a network). It never changes ``params``: optimizers do that.
- ``output_shape(input_shape)`` maps a per-example shape ``(H, W, C)`` or ``(D,)`` to the
  output's, with the one formula of :func:`cnn.im2col.conv_output_size` /
  :func:`cnn.im2col.pool_output_size`.

All activations are channels-last, ``(N, H, W, C)``; dtype follows the input and the weights
(float32 for training, float64 for gradient checks). State dicts hold PyTorch layouts.
"""

from __future__ import annotations

import contextvars
import math
from functools import reduce

import numpy as np

from .im2col import conv_output_size, im2col, pool_output_size
from .module import Module, Tape
from .threads import batch_slices, parallel_map


# Set by cnn.data_parallel while this thread computes one slice of a batch whose other slices
# run in other processes: a function taking this slice's per-channel partial sums (a 1-D
# array) and returning the sums over the whole batch, the same array in every process. Batch
# norm's training statistics and their gradients go through it (synchronized batch norm).
BATCH_SUM: contextvars.ContextVar = contextvars.ContextVar("cnn_batch_sum", default=None)


def he_normal(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int,
              gain: float = 2.0) -> np.ndarray:
    """He initialisation: normal, mean 0, std ``sqrt(gain / fan_in)``, as float32.

    ``gain=2`` for a layer followed by ReLU (He et al., "Delving Deep into Rectifiers",
    ICCV 2015, eq. 10); ``gain=1`` for a linear layer such as the logits, where no ReLU halves
    the variance (the same derivation without ReLU; LeCun et al., "Efficient BackProp", 1998).
    """
    return (rng.standard_normal(shape) * math.sqrt(gain / fan_in)).astype(np.float32)


def zero_pad(x: np.ndarray, p: int) -> np.ndarray:
    """``(N, H, W, C)`` -> ``(N, H + 2p, W + 2p, C)`` with ``p`` zeros on every side (one slice
    copy; ``np.pad`` is 2-3x slower); ``x`` itself when ``p`` is 0."""
    if not p:
        return x
    n, h, w, c = x.shape
    xp = np.zeros((n, h + 2 * p, w + 2 * p, c), x.dtype)
    xp[:, p:p + h, p:p + w, :] = x
    return xp


def add_to(total: np.ndarray | None, part: np.ndarray) -> np.ndarray:
    """``total + part``, in place in ``total`` (``part`` itself when ``total`` is None): partial
    sums of blocks and batch slices, added in order so that results are deterministic."""
    if total is None:
        return part
    total += part
    return total


# Values in one block of an im2col matrix (1 MiB in float32): the convolution runs im2col and
# its GEMM block by block so that the columns are read back from cache, not memory (2x faster
# than one im2col of the whole batch on this project's machine; see BENCHMARKS.md).
IM2COL_BLOCK = 1 << 18
# A batch slice whose whole im2col matrix has at most this many values (4 MiB in float32) is
# done in one block, and its columns are kept for the weight gradient instead of recomputed.
IM2COL_KEEP = 1 << 20


def _sum_rows(x2: np.ndarray) -> np.ndarray:
    """Column sums of a narrow ``(M, C)`` array as a GEMV (10x faster than ``sum(axis=0)``)."""
    return np.ones(len(x2), x2.dtype) @ x2


class Conv2D(Module):
    """2-D convolution (cross-correlation, as PyTorch's ``conv2d``) with stride and zero padding.

    Forward is one GEMM on the im2col matrix of the zero-padded input:
    ``out = im2col(pad(x), k, s) @ W.reshape(k*k*C, F) + b``, run per batch slice (one per
    thread, :mod:`cnn.threads`) and per cache block of a few images (``IM2COL_BLOCK``). With a
    tape, the forward pass keeps a reference to ``x`` itself (backward rebuilds the im2col
    blocks from it): do not change ``x`` in place before ``backward``.

    Args:
        in_channels: ``C``; filters: ``F``; kernel: square side ``k``.
        stride: ``s`` >= 1; padding: zeros added on every side, ``p`` >= 0.
        bias: add a bias (``False`` before batch norm, as in ResNets).
        rng: generator for He initialisation (fan-in ``k*k*C``); weights zero if ``None``.
    Parameters:
        ``weight``: float32 ``(k, k, C, F)`` (state dict: PyTorch ``(F, C, k, k)``);
        ``bias``: float32 ``(F,)``.
    Input shape:
        ``(N, H, W, C)``.
    Output shape:
        ``(N, H_out, W_out, F)``, ``H_out = (H + 2p - k) // s + 1``, the pre-activation.
    Raises:
        ValueError: if the input does not have ``C`` channels.
    """

    def __init__(self, in_channels: int, filters: int, kernel: int, stride: int = 1,
                 padding: int = 0, bias: bool = True, rng=None) -> None:
        super().__init__()
        self.in_channels, self.filters, self.kernel = in_channels, filters, kernel
        self.stride, self.padding = stride, padding
        shape = (kernel, kernel, in_channels, filters)
        fan_in = kernel * kernel * in_channels
        w = he_normal(rng, shape, fan_in) if rng is not None else np.zeros(shape, np.float32)
        self.params = {"weight": w}
        if bias:
            self.params["bias"] = np.zeros(filters, np.float32)

    def export_array(self, key, value):
        return value.transpose(3, 2, 0, 1) if key == "weight" else value

    def import_array(self, key, value):
        return value.transpose(2, 3, 1, 0) if key == "weight" else value

    def output_shape(self, input_shape):
        h, w, _ = input_shape
        k, s, p = self.kernel, self.stride, self.padding
        return (conv_output_size(h, k, s, p), conv_output_size(w, k, s, p), self.filters)

    def _padded(self, x: np.ndarray) -> np.ndarray:
        return zero_pad(x, self.padding)

    def _plan(self, n: int, h_out: int, w_out: int) -> list[list[slice]]:
        """How a batch of ``n`` is worked: one batch slice per thread (a single slice when the
        im2col matrix is too small to pay for a thread), each cut into blocks of images whose
        im2col matrix has at most ``IM2COL_BLOCK`` values, so that each block's columns are
        written and read again while in cache. Depends on ``n`` only: forward and backward
        agree."""
        per_image = h_out * w_out * self.kernel * self.kernel * self.in_channels
        step = max(1, IM2COL_BLOCK // per_image)
        plan = []
        for sl in batch_slices(n, min_per_slice=-(-IM2COL_BLOCK // 2 // per_image)):
            size = sl.stop - sl.start
            # as few blocks as fit, of near-equal size; one for a slice small enough to keep
            blocks = 1 if size * per_image <= IM2COL_KEEP else -(-size // step)
            bounds = [sl.start + size * i // blocks for i in range(blocks + 1)]
            plan.append([slice(bounds[i], bounds[i + 1]) for i in range(blocks)])
        return plan

    def forward(self, x, tape=None):
        if x.ndim != 4 or x.shape[3] != self.in_channels:
            raise ValueError(
                f"Conv2D expects (N, H, W, {self.in_channels}), got shape {x.shape}")
        n = x.shape[0]
        h_out, w_out, f = self.output_shape(x.shape[1:])
        w2 = self.params["weight"].reshape(-1, f)
        bias = self.params.get("bias")
        out = np.empty((n, h_out, w_out, f), np.result_type(x, w2))
        plan = self._plan(n, h_out, w_out)

        def part(blocks):  # pad, im2col and one GEMM per cache block of one batch slice
            for block in blocks:
                out2 = out[block].reshape(-1, f)
                cols = im2col(self._padded(x[block]), self.kernel, self.stride)
                np.matmul(cols, w2, out=out2)
                if bias is not None:
                    out2 += bias
            # a slice of one block keeps its columns for the weight gradient; larger ones
            # are recomputed there block by block (a 9x larger matrix would leave the cache)
            return cols if len(blocks) == 1 else None

        kept = parallel_map(part, plan)
        if tape is not None:
            tape.save(self, (x, plan, kept))
        return out

    def backward(self, dout, tape, need_dx=True):
        x, plan, kept = tape.load(self)
        w = self.params["weight"]
        k, f, p, st = self.kernel, self.filters, self.padding, self.stride
        n, h_out, w_out = dout.shape[:3]
        c = self.in_channels
        want_grads = tape.param_grads
        has_bias = "bias" in self.params
        # dx: for stride 1, padding < k and no more filters than input channels, a "full"
        # convolution of dout with the flipped, transposed kernel: one im2col of dout padded
        # by k - 1 - p and one GEMM per block (Dumoulin & Visin, "A guide to convolution
        # arithmetic", 2016, sec. 4.1), written straight into dx. Otherwise (its im2col of
        # dout would be the larger) col2im(dout @ W.T), offset by offset: one (M, F) x (F, C)
        # GEMM per kernel offset added into its strided slice of a padded dx.
        full = st == 1 and p < k and f <= c
        if need_dx and full:
            w_flip = np.ascontiguousarray(w[::-1, ::-1].transpose(0, 1, 3, 2)).reshape(-1, c)
            dx = np.empty(x.shape, dtype=dout.dtype)
        elif need_dx:
            w_by_offset = np.ascontiguousarray(w.reshape(k * k, c, f).transpose(0, 2, 1))
            dx = np.zeros((n, x.shape[1] + 2 * p, x.shape[2] + 2 * p, c), dtype=dout.dtype)
        hs, ws = st * (h_out - 1) + 1, st * (w_out - 1) + 1

        def part(i):  # weight gradient (a partial sum) and dx for one slice of the batch
            grad_w = grad_b = None
            for block in plan[i]:
                dout2 = dout[block].reshape(-1, f)
                if want_grads:
                    cols = kept[i] if kept[i] is not None else \
                        im2col(self._padded(x[block]), k, st)  # again, while in cache
                    grad_w = add_to(grad_w, cols.T @ dout2)
                    if has_bias:
                        grad_b = add_to(grad_b, _sum_rows(dout2))
                if need_dx and full:
                    np.matmul(im2col(zero_pad(dout[block], k - 1 - p), k), w_flip,
                              out=dx[block].reshape(-1, c))
                elif need_dx:
                    dx_block = dx[block]
                    scratch = np.empty((len(dout2), c), dtype=dout.dtype)
                    for o in range(k * k):  # loop over the k*k kernel offsets only
                        a, b = divmod(o, k)
                        np.matmul(dout2, w_by_offset[o], out=scratch)
                        dx_block[:, a : a + hs : st, b : b + ws : st, :] += \
                            scratch.reshape(len(dx_block), h_out, w_out, c)
            return grad_w, grad_b

        parts = parallel_map(part, range(len(plan)))
        if want_grads:
            self.grads["weight"] = reduce(add_to, [g[0] for g in parts]).reshape(w.shape)
            if has_bias:
                self.grads["bias"] = reduce(add_to, [g[1] for g in parts])
        if not need_dx:
            return None
        return dx[:, p:-p, p:-p, :] if p and not full else dx


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


class ReLU(Module):
    """Rectified linear unit, ``max(x, 0)``; the gradient at 0 is taken as 0. Any shape."""

    def forward(self, x, tape=None):
        if tape is not None:
            tape.save(self, x > 0)
        return np.maximum(x, 0)

    def backward(self, dout, tape, need_dx=True):
        mask = tape.load(self)
        return dout * mask if need_dx else None


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


class BatchNorm(Module):
    """Batch normalization over the last (channel or feature) axis (Ioffe & Szegedy, "Batch
    Normalization", ICML 2015, Algorithm 1 and 2), PyTorch's ``BatchNorm2d`` / ``BatchNorm1d``.

    Train mode: ``y = gamma * (x - mean_B) / sqrt(var_B + eps) + beta`` with the batch's mean
    and biased variance over every axis but the last; the running statistics move towards the
    batch's by ``momentum`` (the running variance with the unbiased batch variance, as PyTorch).
    Eval mode: the same affine map with the running statistics. Under data parallelism
    (:mod:`cnn.data_parallel`) the batch statistics and the sums of the backward pass cover
    every slice of the batch (synchronized batch norm, :data:`BATCH_SUM`); the parameter
    gradients stay this slice's share.

    Args:
        channels: ``C``; momentum: 0.1 and eps: 1e-5, PyTorch's defaults.
    Parameters:
        ``weight`` (gamma, ones) and ``bias`` (beta, zeros), float32 ``(C,)``.
    Buffers:
        ``running_mean`` (zeros) and ``running_var`` (ones), float32 ``(C,)``.
    Input/output shape:
        ``(N, H, W, C)`` or ``(N, C)``.
    """

    def __init__(self, channels: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.channels, self.momentum, self.eps = channels, momentum, eps
        self.params = {"weight": np.ones(channels, np.float32),
                       "bias": np.zeros(channels, np.float32)}
        self.buffers = {"running_mean": np.zeros(channels, np.float32),
                        "running_var": np.ones(channels, np.float32)}

    @staticmethod
    def _wide(x: np.ndarray) -> tuple[np.ndarray, int]:
        """``x`` as a 2-D view ``(N*H, W*C)`` (or ``(N, C)``) and the repeat count ``W``.

        Elementwise work on an ``(M, C)`` array with a narrow ``C`` runs NumPy's inner loop
        ``C`` values at a time; the wide view lets it run ``W*C`` at a time (3-5x faster),
        with each per-channel vector tiled ``W`` times."""
        if x.ndim == 4:
            n, h, w, c = x.shape
            return x.reshape(n * h, w * c), w
        return x.reshape(len(x), -1), 1

    def _channel_sums(self, xw: np.ndarray, repeat: int) -> np.ndarray:
        """Per-channel sums of a wide view: one GEMV, then the ``W`` repeats added."""
        return (np.ones(len(xw), xw.dtype) @ xw).reshape(repeat, self.channels).sum(axis=0)

    def forward(self, x, tape=None):
        c = self.channels
        if x.shape[-1] != c:
            raise ValueError(f"BatchNorm expects {c} channels last, got shape {x.shape}")
        xw, r = self._wide(x)
        gamma, beta = self.params["weight"], self.params["bias"]
        if self.training:
            m = xw.size // c
            total = BATCH_SUM.get()  # the other slices' sums, under data parallelism
            if total is None:
                mean = self._channel_sums(xw, r) / m
            else:  # the count and the sums over every slice of the batch
                sums = total(np.concatenate([np.array([m], xw.dtype),
                                             self._channel_sums(xw, r)]))
                m, mean = round(float(sums[0])), sums[1:] / sums[0]
            xc = xw - np.tile(mean, r)  # centred; kept for backward (xhat = xc * inv_std)
            squares = self._channel_sums(xc * xc, r)
            var = (squares if total is None else total(squares)) / m
            inv_std = 1.0 / np.sqrt(var + self.eps)
            out = xc * np.tile(gamma * inv_std, r)  # gamma * xhat + beta, scales folded
            out += np.tile(beta, r)
            mom = self.momentum
            rm, rv = self.buffers["running_mean"], self.buffers["running_var"]
            self.buffers["running_mean"] = ((1 - mom) * rm + mom * mean).astype(rm.dtype)
            unbiased = var * (m / max(m - 1, 1))
            self.buffers["running_var"] = ((1 - mom) * rv + mom * unbiased).astype(rv.dtype)
            if tape is not None:
                tape.save(self, (m, xc, inv_std))
            return out.reshape(x.shape)
        inv_std = (1.0 / np.sqrt(self.buffers["running_var"] + self.eps)).astype(x.dtype)
        scale = gamma * inv_std
        out = xw * np.tile(scale, r)
        out += np.tile(beta - self.buffers["running_mean"] * scale, r)
        if tape is not None:
            tape.save(self, (0, xw, inv_std))
        return out.reshape(x.shape)

    def backward(self, dout, tape, need_dx=True):
        m, saved, inv_std = tape.load(self)  # m: the batch statistics' count; 0 in eval mode
        dw, r = self._wide(dout)
        gamma = self.params["weight"]
        # xc: the input centred by the mean the forward pass used (the batch's in train mode,
        # the running one in eval mode); xhat = xc * inv_std.
        xc = saved if m else saved - np.tile(self.buffers["running_mean"], r)
        dbeta = self._channel_sums(dw, r)
        dgamma = self._channel_sums(dw * xc, r) * inv_std
        if tape.param_grads:  # this slice's share; data parallelism adds the slices' shares
            self.grads["weight"], self.grads["bias"] = dgamma, dbeta
        if not need_dx:
            return None
        scale = gamma * inv_std
        dx = dw * np.tile(scale, r)
        if not m:
            return dx.reshape(dout.shape)
        total = BATCH_SUM.get()
        if total is not None:  # the batch statistics came from every slice: so do these sums
            sums = total(np.concatenate([dbeta, dgamma]))
            dbeta, dgamma = sums[: self.channels], sums[self.channels :]
        # dx = gamma / sigma * (dout - mean(dout) - xhat * mean(dout * xhat)), the standard
        # simplification of the backward pass through the batch statistics, with xhat = xc /
        # sigma folded into one per-channel factor.
        dx -= xc * np.tile(scale * inv_std * dgamma / m, r)
        dx -= np.tile(scale * dbeta / m, r)
        return dx.reshape(dout.shape)


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
