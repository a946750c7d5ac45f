"""im2col and col2im for stride-1, unpadded convolution in channels-last layout.

Layout: activations are channels-last, ``(N, H, W, C)`` as in Keras/TensorFlow, so that the
column matrix's rows are output pixels and its columns are one ``k x k x C`` receptive field:

    cols[(n, i, j), (p, q, c)] = x[n, i + p, j + q, c]

and one GEMM ``cols @ W`` with ``W`` of shape ``(k*k*C, F)`` gives the output already in the
next layer's layout ``(N, H_out, W_out, F)``, with no transpose.

The window view is built with ``numpy.lib.stride_tricks.as_strided`` (no copy) and copied to a
contiguous matrix in one call; ``col2im`` is the adjoint, a scatter-add done as ``k*k`` slice
adds, one per kernel offset (no loop over images or pixels). Method as in the CS231n
``im2col`` / ``fast_layers`` reference code and Chellapilla et al., "High Performance
Convolutional Neural Networks for Document Processing" (2006).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided


def conv_output_size(size: int, kernel: int) -> int:
    """Output side of a stride-1, unpadded convolution: ``size - kernel + 1`` (may be <= 0)."""
    return size - kernel + 1


def window_view(x: np.ndarray, kernel: int) -> np.ndarray:
    """Read-only strided view of every ``kernel x kernel`` window of ``x``; no copy.

    Args:
        x: C-contiguous array, shape ``(N, H, W, C)``, any dtype.
        kernel: window side ``k``, ``1 <= k <= min(H, W)``.
    Returns:
        view of shape ``(N, H_out, W_out, k, k, C)``, ``H_out = H - k + 1``,
        ``W_out = W - k + 1``, with ``view[n, i, j, p, q, c] == x[n, i + p, j + q, c]``.
    Raises:
        ValueError: if ``x`` is not 4-D or the kernel does not fit in ``H x W``.
    """
    if x.ndim != 4:
        raise ValueError(f"window_view expects (N, H, W, C), got shape {x.shape}")
    n, h, w, c = x.shape
    h_out, w_out = conv_output_size(h, kernel), conv_output_size(w, kernel)
    if kernel < 1 or h_out < 1 or w_out < 1:
        raise ValueError(f"kernel {kernel} does not fit a {h} x {w} input")
    x = np.ascontiguousarray(x)
    sn, sh, sw, sc = x.strides
    return as_strided(
        x,
        shape=(n, h_out, w_out, kernel, kernel, c),
        strides=(sn, sh, sw, sh, sw, sc),
        writeable=False,
    )


def im2col(x: np.ndarray, kernel: int) -> np.ndarray:
    """Unfold every ``k x k`` window of ``x`` into one row of a column matrix.

    Args:
        x: input batch, shape ``(N, H, W, C)``, float32 or float64.
        kernel: square kernel side ``k``.
    Returns:
        matrix of shape ``(N * H_out * W_out, k * k * C)``, dtype of ``x``; column
        ``(p * k + q) * C + c`` of row ``(n * H_out + i) * W_out + j`` holds
        ``x[n, i + p, j + q, c]``. For ``C > 1`` it is C-contiguous (one strided copy of the
        window view). For ``C == 1`` (the first layer) it is the transpose of a C-contiguous
        ``(k*k, N*H_out*W_out)`` array built with one contiguous copy per kernel offset, which
        is 3-5x faster than copying 1-pixel-deep windows; BLAS reads either layout directly.
    Raises:
        ValueError: if the kernel does not fit (see :func:`window_view`).
    """
    view = window_view(x, kernel)
    n, h_out, w_out = view.shape[:3]
    rows = n * h_out * w_out
    if x.shape[3] == 1:
        cols_t = np.empty((kernel, kernel, n, h_out, w_out), dtype=x.dtype)
        for p in range(kernel):
            for q in range(kernel):
                cols_t[p, q] = x[:, p : p + h_out, q : q + w_out, 0]
        return cols_t.reshape(kernel * kernel, rows).T
    return np.ascontiguousarray(view).reshape(rows, kernel * kernel * x.shape[3])


def col2im(dcols: np.ndarray, x_shape: tuple[int, int, int, int], kernel: int) -> np.ndarray:
    """Adjoint of :func:`im2col`: scatter-add each window entry back to its input pixel.

    Used in the convolution backward pass. The columns come offset-major, as one batched
    GEMM produces them (``dout @ W[p, q].T`` for every kernel offset ``(p, q)``), so each of
    the ``k*k`` adds reads a contiguous block and writes a ``(N, H_out, W_out, C)`` slice:

        dx[n, i + p, j + q, c] += dcols[p * k + q, (n * H_out + i) * W_out + j, c]

    Args:
        dcols: array of shape ``(k * k, N * H_out * W_out, C)``; ``dcols[p*k + q]`` is
            im2col's column block for offset ``(p, q)``.
        x_shape: ``(N, H, W, C)`` of the input that was unfolded.
        kernel: square kernel side ``k``.
    Returns:
        array of shape ``x_shape``, dtype of ``dcols``: each input pixel receives the sum of
        the entries of every window it belongs to.
    """
    n, h, w, c = x_shape
    h_out, w_out = conv_output_size(h, kernel), conv_output_size(w, kernel)
    dcols = dcols.reshape(kernel, kernel, n, h_out, w_out, c)
    dx = np.zeros(x_shape, dtype=dcols.dtype)
    for p in range(kernel):
        for q in range(kernel):
            dx[:, p : p + h_out, q : q + w_out, :] += dcols[p, q]
    return dx
