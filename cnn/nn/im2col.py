"""im2col and col2im for strided, zero-padded convolution in channels-last layout, and the one
output-size formula every part of the package uses.

Layout: activations are channels-last, ``(N, H, W, C)`` as in Keras/TensorFlow, so that the
column matrix's rows are output pixels and its columns are one ``k x k x C`` receptive field:

    cols[(n, i, j), (p, q, c)] = x_padded[n, s*i + p, s*j + q, c]

and one GEMM ``cols @ W`` with ``W`` of shape ``(k*k*C, F)`` gives the output already in the
next layer's layout ``(N, H_out, W_out, F)``, with no transpose. Padding is applied by the
caller (``Conv2D`` copies each block into a reused zero-bordered buffer,
:func:`cnn.nn.conv.pad_reused`); these functions see the padded input.

The windows are a strided view (no copy), copied to a contiguous matrix in one call, a window
row of ``k * C`` values at a time; ``col2im`` is the adjoint, a scatter-add done as ``k*k`` strided
slice adds, one per kernel offset (no loop over images or pixels). Method as in the CS231n
``im2col`` / ``fast_layers`` reference code and Chellapilla et al., "High Performance
Convolutional Neural Networks for Document Processing" (2006).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output side of a convolution (or any floor-mode sliding window).

    ``H_out = floor((H + 2 * padding - kernel) / stride) + 1`` (CS231n; PyTorch ``Conv2d``).
    May be <= 0 when the kernel does not fit; callers report that.
    """
    return (size + 2 * padding - kernel) // stride + 1


def pool_output_size(size: int, window: int) -> int:
    """Output side of ceil-mode pooling with stride = window: ``ceil(H / k)`` (11 -> 6 for k 2),
    as PyTorch's ``MaxPool2d(k, ceil_mode=True)`` / ``AvgPool2d(k, ceil_mode=True)``."""
    return -(-size // window)


def _windows(x: np.ndarray, kernel: int, stride: int, caller: str) -> tuple[int, ...]:
    """``(N, H, W, C, H_out, W_out)`` of the ``kernel`` x ``kernel`` windows (step ``stride``)
    of a 4-D ``x``.

    Raises:
        ValueError: ``x`` is not 4-D (the message names ``caller``), or the kernel does not
            fit in ``H x W``.
    """
    if x.ndim != 4:
        raise ValueError(f"{caller} expects (N, H, W, C), got shape {x.shape}")
    n, h, w, c = x.shape
    h_out, w_out = conv_output_size(h, kernel, stride), conv_output_size(w, kernel, stride)
    if kernel < 1 or stride < 1 or h_out < 1 or w_out < 1:
        raise ValueError(f"kernel {kernel} (stride {stride}) does not fit a {h} x {w} input")
    return n, h, w, c, h_out, w_out


def window_view(x: np.ndarray, kernel: int, stride: int = 1) -> np.ndarray:
    """Read-only strided view of every ``kernel x kernel`` window of ``x``; no copy.

    Args:
        x: C-contiguous array, shape ``(N, H, W, C)``, any dtype (already padded).
        kernel: window side ``k``, ``1 <= k <= min(H, W)``.
        stride: step ``s`` between windows, >= 1.
    Returns:
        view of shape ``(N, H_out, W_out, k, k, C)``, ``H_out = (H - k) // s + 1``, with
        ``view[n, i, j, p, q, c] == x[n, s*i + p, s*j + q, c]``.
    Raises:
        ValueError: if ``x`` is not 4-D or the kernel does not fit in ``H x W``.
    """
    n, _, _, c, h_out, w_out = _windows(x, kernel, stride, "window_view")
    x = np.ascontiguousarray(x)
    sn, sh, sw, sc = x.strides
    return as_strided(
        x,
        shape=(n, h_out, w_out, kernel, kernel, c),
        strides=(sn, sh * stride, sw * stride, sh, sw, sc),
        writeable=False,
    )


def im2col(x: np.ndarray, kernel: int, stride: int = 1, out: np.ndarray | None = None
           ) -> np.ndarray:
    """Unfold every ``k x k`` window of ``x`` (step ``stride``) into one row of a column matrix.

    Args:
        x: input batch, shape ``(N, H, W, C)``, float32 or float64, already zero-padded.
        kernel: square kernel side ``k``.
        stride: window step ``s``.
        out: optional C-contiguous ``(N * H_out * W_out, k * k * C)`` array of ``x``'s dtype
            to write into (a buffer reused across calls); ignored for ``C == 1``.
    Returns:
        matrix of shape ``(N * H_out * W_out, k * k * C)``, dtype of ``x``; column
        ``(p * k + q) * C + c`` of row ``(n * H_out + i) * W_out + j`` holds
        ``x[n, s*i + p, s*j + q, c]``. For ``C > 1`` it is C-contiguous (``out`` when given):
        one window row ``x[n, s*i + p, s*j : s*j + k, :]`` is ``k * C`` contiguous values, so
        the copy moves whole window rows as single items of a ``k*C``-value void dtype, which
        is 1.3-1.7x faster than copying the float window view (NumPy's inner loop then runs
        over pixels, not over the ``k*C`` values of one row; BENCHMARKS.md, issue 33). For
        ``C == 1`` (the first layer) it is the transpose of a C-contiguous
        ``(k*k, N*H_out*W_out)`` array built with one copy per kernel offset, which is 3-5x
        faster than copying 1-pixel-deep windows; BLAS reads either layout.
    Raises:
        ValueError: if the kernel does not fit (see :func:`window_view`).
    """
    n, _, _, c, h_out, w_out = _windows(x, kernel, stride, "im2col")
    rows = n * h_out * w_out
    if c == 1:
        cols_t = np.empty((kernel, kernel, n, h_out, w_out), dtype=x.dtype)
        hs, ws = stride * (h_out - 1) + 1, stride * (w_out - 1) + 1
        for p in range(kernel):
            for q in range(kernel):
                cols_t[p, q] = x[:, p : p + hs : stride, q : q + ws : stride, 0]
        return cols_t.reshape(kernel * kernel, rows).T
    x = np.ascontiguousarray(x)
    if out is None:
        out = np.empty((rows, kernel * kernel * c), dtype=x.dtype)
    row = np.dtype((np.void, kernel * c * x.itemsize))  # one window row, k*C values
    sn, sh, sw, _ = x.strides
    windows = np.ndarray((n, h_out, w_out, kernel), row, x, 0, (sn, sh * stride, sw * stride, sh))
    out.view(row).reshape(n, h_out, w_out, kernel)[...] = windows
    return out


def col2im(dcols: np.ndarray, x_shape: tuple[int, int, int, int], kernel: int,
           stride: int = 1) -> np.ndarray:
    """Adjoint of :func:`im2col`: scatter-add each window entry back to its input pixel.

    Used in the convolution backward pass. The columns come offset-major, as one batched
    GEMM produces them (``dout @ W[p, q].T`` for every kernel offset ``(p, q)``), so each of
    the ``k*k`` adds reads a contiguous block and writes a strided ``(N, H_out, W_out, C)``
    slice:

        dx[n, s*i + p, s*j + q, c] += dcols[p * k + q, (n * H_out + i) * W_out + j, c]

    Args:
        dcols: array of shape ``(k * k, N * H_out * W_out, C)``; ``dcols[p*k + q]`` is
            im2col's column block for offset ``(p, q)``.
        x_shape: ``(N, H, W, C)`` of the (padded) input that was unfolded.
        kernel: square kernel side ``k``; stride: window step ``s``.
    Returns:
        array of shape ``x_shape``, dtype of ``dcols``: each input pixel receives the sum of
        the entries of every window it belongs to (0 for pixels no window covers).
    """
    n, h, w, c = x_shape
    h_out, w_out = conv_output_size(h, kernel, stride), conv_output_size(w, kernel, stride)
    dcols = dcols.reshape(kernel, kernel, n, h_out, w_out, c)
    dx = np.zeros(x_shape, dtype=dcols.dtype)
    hs, ws = stride * (h_out - 1) + 1, stride * (w_out - 1) + 1
    for p in range(kernel):
        for q in range(kernel):
            dx[:, p : p + hs : stride, q : q + ws : stride, :] += dcols[p, q]
    return dx
