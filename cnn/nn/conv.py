"""The 2-D convolution layer: im2col and one GEMM per cache block, batch split over threads.

All activations are channels-last, ``(N, H, W, C)``; the weight is kept in PyTorch's layout
``(F, C, K, K)``. See :mod:`cnn.nn.module` for the layer interface (``forward`` / ``backward``,
``params`` / ``grads``) and :mod:`cnn.nn.im2col` for the column matrix and output-size formula.
"""

from __future__ import annotations

import threading
from functools import lru_cache, reduce

import numpy as np

from cnn.nn.im2col import conv_output_size, im2col
from cnn.nn.init import he_normal
from cnn.nn.module import Module
from cnn.parallel.threads import batch_slices, get_num_threads, in_worker_thread, parallel_map


def zero_pad(x: np.ndarray, p: int) -> np.ndarray:
    """``(N, H, W, C)`` -> ``(N, H + 2p, W + 2p, C)`` with ``p`` zeros on every side (one slice
    copy; ``np.pad`` is 2-3x slower); ``x`` itself when ``p`` is 0."""
    if not p:
        return x
    n, h, w, c = x.shape
    xp = np.zeros((n, h + 2 * p, w + 2 * p, c), x.dtype)
    xp[:, p:p + h, p:p + w, :] = x
    return xp


# Per-thread work buffers, reused from call to call (and step to step): the padded input block
# and the column matrix of the blocks whose columns are not kept (see scratch). A buffer of more
# than SCRATCH_MAX_VALUES values (16 MiB in float32: one image's columns of a very wide layer)
# is made for the call only, so that a thread does not keep it for the rest of its life.
_scratch = threading.local()
SCRATCH_MAX_VALUES = 1 << 22


def scratch(key, n: int, shape: tuple[int, ...], dtype, zeros: bool = False) -> np.ndarray:
    """This thread's work array ``key`` of shape ``(n, *shape)``: the first ``n`` rows of one
    buffer per thread, key, shape and dtype, grown when a call needs more rows and otherwise
    reused as it is (allocated with zeros when ``zeros``; a new array, not kept, above
    :data:`SCRATCH_MAX_VALUES` values). Only for values used within one call: the next call
    with the same key overwrites them. Each thread has its own, so the
    threads of :func:`cnn.parallel.threads.parallel_map` and a server's request threads never
    share one."""
    make = np.zeros if zeros else np.empty
    if n * int(np.prod(shape)) > SCRATCH_MAX_VALUES:  # a huge layer's: not kept past the call
        return make((n, *shape), dtype)
    store = _scratch.__dict__.setdefault("arrays", {})
    full = (key, tuple(shape), np.dtype(dtype))
    buffer = store.get(full)
    if buffer is None or len(buffer) < n:
        buffer = store[full] = make((n, *shape), dtype)
    return buffer[:n]


def pad_reused(x: np.ndarray, p: int) -> np.ndarray:
    """``zero_pad(x, p)`` written into this thread's padded buffer for ``x``'s shape and ``p``
    (:func:`scratch`): its border was zeroed once when it was made and only its interior is
    ever written, so a call copies ``x`` in and allocates nothing. Valid until the next call
    with the same shape on this thread; ``x`` itself when ``p`` is 0."""
    if not p:
        return x
    n, h, w, c = x.shape
    xp = scratch(("pad", p), n, (h + 2 * p, w + 2 * p, c), x.dtype, zeros=True)
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


# Stride-1 layers with at most this many input channels compute the weight gradient of the
# blocks whose columns are not kept by shifted GEMMs instead of im2col (Conv2D.
# _shifted_weight_grad): 14% faster for a 28 x 28 x 16 -> 16 layer's backward pass, 15%
# slower at 32 channels, where im2col's rows are long enough to copy fast (issue 33).
SHIFTED_MAX_CHANNELS = 16


def _sum_rows(x2: np.ndarray) -> np.ndarray:
    """Column sums of a narrow ``(M, C)`` array as a GEMV (10x faster than ``sum(axis=0)``)."""
    return np.ones(len(x2), x2.dtype) @ x2


@lru_cache(maxsize=256)
def _block_plan(n: int, per_image: int, threads: int, worker: bool, block: int, keep: int
                ) -> tuple[tuple[slice, ...], ...]:
    """:meth:`Conv2D._plan` for ``n`` images of ``per_image`` im2col values each, with
    ``threads`` threads (``worker``: called inside a pool thread, which never splits again;
    both are part of the key because :func:`cnn.parallel.threads.batch_slices` reads them),
    blocks of at most ``block`` values and one block kept whole up to ``keep`` values."""
    step = max(1, block // per_image)
    plan = []
    for sl in batch_slices(n, min_per_slice=-(-block // 2 // per_image)):
        size = sl.stop - sl.start
        # as few blocks as fit, of near-equal size; one for a slice small enough to keep
        blocks = 1 if size * per_image <= keep else -(-size // step)
        bounds = [sl.start + size * i // blocks for i in range(blocks + 1)]
        plan.append(tuple(slice(bounds[i], bounds[i + 1]) for i in range(blocks)))
    return tuple(plan)


class Conv2D(Module):
    """2-D convolution (cross-correlation, as PyTorch's ``conv2d``) with stride and zero padding.

    Forward is one GEMM on the im2col matrix of the zero-padded input:
    ``out = im2col(pad(x), k, s) @ W.reshape(k*k*C, F) + b``, run per batch slice (one per
    thread, :mod:`cnn.threads`) and per cache block of a few images (``IM2COL_BLOCK``); each
    block is padded into, and unfolded into, per-thread buffers reused from call to call
    (:func:`pad_reused`, :func:`scratch`), so a step allocates no padded copies. With a
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

    def _columns(self, x: np.ndarray, keep: bool = False, padding: int | None = None,
                 stride: int | None = None) -> np.ndarray:
        """im2col of ``x`` zero-padded by ``padding`` (default: the layer's) with the layer's
        kernel: through this thread's reused padded buffer, into a new matrix when ``keep``,
        else into this thread's reused column buffer (valid until the next such call)."""
        p = self.padding if padding is None else padding
        s = self.stride if stride is None else stride
        k = self.kernel
        xp = pad_reused(x, p)
        n, h, w, c = xp.shape
        rows = conv_output_size(h, k, s) * conv_output_size(w, k, s)
        cols = None if keep or c == 1 else scratch("cols", n * rows, (k * k * c,), x.dtype)
        return im2col(xp, k, s, out=cols)

    def _shifted_weight_grad(self, x: np.ndarray, dout: np.ndarray) -> np.ndarray:
        """The weight gradient of one block of a stride-1 convolution without im2col: one
        ``(C, R) x (R, F)`` GEMM per kernel offset over the flattened padded input.

        On the padded grid (``Hp x Wp`` pixels per image, flattened to rows ``r``), the output
        gradient placed at its output pixel's row (zeros elsewhere) and the padded input
        shifted by ``p * Wp + q`` rows are two contiguous matrices, and
        ``dW[p, q] = x_shifted.T @ dout_on_grid``: the ``k*k`` column blocks of im2col are
        never built (1.3-1.5x faster than im2col and one GEMM for ``C <= 16``, where each
        im2col row is short; BENCHMARKS.md, issue 33)."""
        k, p = self.kernel, self.padding
        b, h_out, w_out, f = dout.shape
        xp = pad_reused(x, p)
        _, hp, wp, c = xp.shape
        grid = scratch(("grid", h_out, w_out), b, (hp, wp, f), dout.dtype, zeros=True)
        grid[:, :h_out, :w_out] = dout  # the rest stays zero
        rows = (b - 1) * hp * wp + (h_out - 1) * wp + w_out  # up to the last output pixel
        flat_x, flat_d = xp.reshape(-1, c), grid.reshape(-1, f)[:rows]
        grad = np.empty((k, k, c, f), np.result_type(x, dout))
        for a in range(k):
            for q in range(k):
                shift = a * wp + q
                np.matmul(flat_x[shift:shift + rows].T, flat_d, out=grad[a, q])
        return grad.reshape(-1, f)

    def _plan(self, n: int, h_out: int, w_out: int) -> tuple[tuple[slice, ...], ...]:
        """How a batch of ``n`` is worked: one batch slice per thread (a single slice when the
        im2col matrix is too small to pay for a thread), each cut into blocks of images whose
        im2col matrix has at most ``IM2COL_BLOCK`` values, so that each block's columns are
        written and read again while in cache. Depends on ``n`` only: forward and backward
        agree. Remembered per batch size and thread setting (:func:`_block_plan`): working it
        out cost 3 us a layer call, 6 % of one image through the default model."""
        per_image = h_out * w_out * self.kernel * self.kernel * self.in_channels
        return _block_plan(n, per_image, get_num_threads(), in_worker_thread(), IM2COL_BLOCK,
                           IM2COL_KEEP)

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
            # a slice of one block keeps its columns for the weight gradient (a new array);
            # larger ones go through this thread's reused buffer and are recomputed there
            # block by block (a 9x larger matrix would leave the cache)
            keep = len(blocks) == 1
            for block in blocks:
                out2 = out[block].reshape(-1, f)
                cols = self._columns(x[block], keep)
                np.matmul(cols, w2, out=out2)
                if bias is not None:
                    out2 += bias
            return cols if keep else None

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
        shifted = st == 1 and c <= SHIFTED_MAX_CHANNELS

        def part(i):  # weight gradient (a partial sum) and dx for one slice of the batch
            grad_w = grad_b = None
            for block in plan[i]:
                dout2 = dout[block].reshape(-1, f)
                if want_grads and kept[i] is None and shifted:
                    grad_w = add_to(grad_w, self._shifted_weight_grad(x[block], dout[block]))
                elif want_grads:
                    cols = kept[i] if kept[i] is not None else \
                        self._columns(x[block])  # again, while in cache
                    grad_w = add_to(grad_w, cols.T @ dout2)
                if want_grads and has_bias:
                    grad_b = add_to(grad_b, _sum_rows(dout2))
                if need_dx and full:
                    np.matmul(self._columns(dout[block], padding=k - 1 - p, stride=1),
                              w_flip, out=dx[block].reshape(-1, c))
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
