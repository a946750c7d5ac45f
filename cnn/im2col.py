"""im2col and col2im for stride-1, unpadded convolution in channels-last layout.

Layout: activations are channels-last, ``(N, H, W, C)`` as in Keras/TensorFlow, so that the
column matrix's rows are output pixels and its columns are one ``k x k x C`` receptive field:

    cols[(n, i, j), (p, q, c)] = x[n, i + p, j + q, c]

and one GEMM ``cols @ W`` with ``W`` of shape ``(k*k*C, F)`` gives the output already in the
next layer's layout ``(N, H_out, W_out, F)``, with no transpose.

The window view is built with ``numpy.lib.stride_tricks.as_strided`` (no copy) and copied to a
contiguous matrix in one call; ``col2im`` is the adjoint, a scatter-add done as ``k*k`` strided
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


def im2col(x: np.ndarray, kernel: int, out: np.ndarray | None = None) -> np.ndarray:
    """Unfold every ``k x k`` window of ``x`` into one row of a column matrix.

    Args:
        x: input batch, shape ``(N, H, W, C)``, float32 or float64.
        kernel: square kernel side ``k``.
        out: optional preallocated buffer with ``N * H_out * W_out * k * k * C`` elements
            and ``x``'s dtype, reused across batches to avoid an allocation.
    Returns:
        C-contiguous array of shape ``(N * H_out * W_out, k * k * C)``, dtype of ``x``;
        column index ``(p * k + q) * C + c`` holds ``x[n, i + p, j + q, c]``.
    Raises:
        ValueError: if the kernel does not fit (see :func:`window_view`).
    """
    view = window_view(x, kernel)
    n, h_out, w_out = view.shape[:3]
    if out is None:
        out = np.empty(view.shape, dtype=x.dtype)
    else:
        out = out.reshape(view.shape)
    np.copyto(out, view)
    return out.reshape(n * h_out * w_out, kernel * kernel * x.shape[3])


def col2im(cols: np.ndarray, x_shape: tuple[int, int, int, int], kernel: int) -> np.ndarray:
    """Adjoint of :func:`im2col`: scatter-add each column entry back to its input pixel.

    Used in the convolution backward pass, ``dx = col2im(dout @ W.T)``.

    Args:
        cols: array of shape ``(N * H_out * W_out, k * k * C)``.
        x_shape: ``(N, H, W, C)`` of the input that was unfolded.
        kernel: square kernel side ``k``.
    Returns:
        array of shape ``x_shape``, dtype of ``cols``, where each input pixel receives the sum
        of the entries of every window it belongs to.
    """
    n, h, w, c = x_shape
    h_out, w_out = conv_output_size(h, kernel), conv_output_size(w, kernel)
    cols = cols.reshape(n, h_out, w_out, kernel, kernel, c)
    dx = np.zeros(x_shape, dtype=cols.dtype)
    for p in range(kernel):
        for q in range(kernel):
            dx[:, p : p + h_out, q : q + w_out, :] += cols[:, :, :, p, q, :]
    return dx
