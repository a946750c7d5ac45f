"""The vectorized im2col convolution against a naive four-loop reference."""

import numpy as np
import pytest

from cnn.im2col import col2im, im2col
from cnn.layers import Conv2D


def naive_conv(x, w, b):
    """Direct definition: out[n, i, j, f] = sum_{p,q,c} x[n, i+p, j+q, c] * w[p, q, c, f] + b[f]."""
    n, h, wd, c = x.shape
    k, _, _, f = w.shape
    out = np.zeros((n, h - k + 1, wd - k + 1, f))
    for img in range(n):
        for i in range(h - k + 1):
            for j in range(wd - k + 1):
                for ch in range(f):
                    out[img, i, j, ch] = np.sum(x[img, i:i + k, j:j + k, :] * w[..., ch]) + b[ch]
    return out


@pytest.mark.parametrize("seed", range(6))
def test_conv_forward_matches_naive_four_loop_convolution_on_random_shapes(seed):
    rng = np.random.default_rng(seed)
    n, c, f = rng.integers(1, 4), rng.integers(1, 4), rng.integers(1, 5)
    k = int(rng.integers(1, 5))
    h, w = rng.integers(k, k + 6, size=2)
    x = rng.standard_normal((n, h, w, c))
    layer = Conv2D(c, f, k, rng).astype(np.float64)
    layer.params["b"] = rng.standard_normal(f)
    np.testing.assert_allclose(layer.forward(x), naive_conv(x, layer.params["W"], layer.params["b"]),
                               rtol=1e-10, atol=1e-10)


def test_im2col_rows_are_receptive_fields_in_kernel_row_col_channel_order():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 6, 3))
    cols = im2col(x, 3)
    assert cols.shape == (2 * 3 * 4, 27)
    # row for image 1, output pixel (2, 1): the window x[1, 2:5, 1:4, :] flattened
    np.testing.assert_array_equal(cols[1 * 12 + 2 * 4 + 1], x[1, 2:5, 1:4, :].ravel())


@pytest.mark.parametrize("channels", [1, 2])
def test_col2im_is_the_adjoint_of_im2col(channels):
    # <im2col(x), y> == <x, col2im(y)> for all x, y: col2im is exactly the transpose.
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 7, 6, channels))
    cols = im2col(x, 3)
    y = rng.standard_normal(cols.shape)
    y_offset_major = y.reshape(len(y), 9, channels).transpose(1, 0, 2)
    assert np.isclose(np.sum(cols * y), np.sum(x * col2im(y_offset_major, x.shape, 3)))


def test_single_channel_im2col_has_the_same_rows_as_the_window_view():
    # C == 1 takes the per-offset copy path; it must build the same matrix.
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 8, 9, 1))
    cols = im2col(x, 4)
    assert cols.shape == (3 * 5 * 6, 16)
    np.testing.assert_array_equal(cols[2 * 30 + 4 * 6 + 5], x[2, 4:8, 5:9, 0].ravel())


def test_im2col_rejects_a_kernel_larger_than_the_input():
    with pytest.raises(ValueError, match="does not fit"):
        im2col(np.zeros((1, 3, 3, 1)), 4)
