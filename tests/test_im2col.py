"""The vectorized im2col convolution against a naive loop reference, with stride and padding."""

import numpy as np
import pytest

from cnn.nn.conv import SCRATCH_MAX_VALUES, Conv2D, pad_reused, scratch, zero_pad
from cnn.nn.im2col import col2im, conv_output_size, im2col, window_view


def naive_conv(x, w, b, stride=1, padding=0):
    """Direct definition: out[n, i, j, f] = sum_{p,q,c} xp[n, s*i+p, s*j+q, c] * w[p, q, c, f]
    + b[f], with xp the input zero-padded by ``padding`` on every side."""
    n, h, wd, c = x.shape
    k, _, _, f = w.shape
    xp = np.zeros((n, h + 2 * padding, wd + 2 * padding, c))
    xp[:, padding:padding + h, padding:padding + wd, :] = x
    h_out = (h + 2 * padding - k) // stride + 1
    w_out = (wd + 2 * padding - k) // stride + 1
    out = np.zeros((n, h_out, w_out, f))
    for img in range(n):
        for i in range(h_out):
            for j in range(w_out):
                for ch in range(f):
                    window = xp[img, i * stride:i * stride + k, j * stride:j * stride + k, :]
                    out[img, i, j, ch] = np.sum(window * w[..., ch]) + b[ch]
    return out


@pytest.mark.parametrize("seed", range(10))
def test_conv_forward_matches_naive_loop_convolution_on_random_shapes_strides_and_padding(seed):
    rng = np.random.default_rng(seed)
    n, c, f = rng.integers(1, 4), rng.integers(1, 4), rng.integers(1, 5)
    k = int(rng.integers(1, 5))
    stride = 1 if seed < 3 else int(rng.integers(1, 4))
    padding = 0 if seed < 3 else int(rng.integers(0, 3))
    h, w = rng.integers(k, k + 6, size=2)
    x = rng.standard_normal((n, h, w, c))
    layer = Conv2D(c, f, k, stride, padding, rng=rng).astype(np.float64)
    layer.params["bias"] = rng.standard_normal(f)
    out = layer.forward(x)
    assert out.shape[1:3] == (conv_output_size(h, k, stride, padding),
                              conv_output_size(w, k, stride, padding))
    np.testing.assert_allclose(
        out, naive_conv(x, layer.params["weight"], layer.params["bias"], stride, padding),
        rtol=1e-10, atol=1e-10)


def test_im2col_rows_are_receptive_fields_in_kernel_row_col_channel_order():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 6, 3))
    cols = im2col(x, 3)
    assert cols.shape == (2 * 3 * 4, 27)
    # row for image 1, output pixel (2, 1): the window x[1, 2:5, 1:4, :] flattened
    np.testing.assert_array_equal(cols[1 * 12 + 2 * 4 + 1], x[1, 2:5, 1:4, :].ravel())


def test_strided_im2col_rows_start_every_stride_pixels():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 7, 7, 2))
    cols = im2col(x, 3, stride=2)
    assert cols.shape == (9, 18)
    np.testing.assert_array_equal(cols[1 * 3 + 2], x[0, 2:5, 4:7, :].ravel())


@pytest.mark.parametrize("channels,stride", [(1, 1), (2, 1), (1, 2), (3, 3)])
def test_col2im_is_the_adjoint_of_im2col(channels, stride):
    # <im2col(x), y> == <x, col2im(y)> for all x, y: col2im is exactly the transpose.
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 7, 6, channels))
    cols = im2col(x, 3, stride)
    y = rng.standard_normal(cols.shape)
    y_offset_major = y.reshape(len(y), 9, channels).transpose(1, 0, 2)
    assert np.isclose(np.sum(cols * y), np.sum(x * col2im(y_offset_major, x.shape, 3, stride)))


def test_single_channel_im2col_has_the_same_rows_as_the_window_view():
    # C == 1 takes the per-offset copy path; it must build the same matrix.
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 8, 9, 1))
    cols = im2col(x, 4)
    assert cols.shape == (3 * 5 * 6, 16)
    np.testing.assert_array_equal(cols[2 * 30 + 4 * 6 + 5], x[2, 4:8, 5:9, 0].ravel())
    np.testing.assert_array_equal(im2col(x, 3, 2), im2col(np.repeat(x, 2, axis=3), 3, 2)[:, ::2])


def test_im2col_rejects_a_kernel_larger_than_the_input():
    with pytest.raises(ValueError, match="does not fit"):
        im2col(np.zeros((1, 3, 3, 1)), 4)


def test_im2col_into_a_reused_buffer_gives_the_same_matrix_each_call():
    # Conv2D writes the columns of most blocks into one buffer per thread (issue 33).
    rng = np.random.default_rng(4)
    buffer = np.full((2 * 3 * 4, 27), np.nan)
    for _ in range(2):
        x = rng.standard_normal((2, 5, 6, 3))
        cols = im2col(x, 3, out=buffer)
        assert cols is buffer
        np.testing.assert_array_equal(cols, np.ascontiguousarray(window_view(x, 3)).reshape(
            24, 27))


def test_reused_padded_buffer_keeps_its_zero_border_across_calls_and_shapes():
    rng = np.random.default_rng(5)
    for n in (3, 2, 4, 1):  # shrinking and growing batches reuse or regrow one buffer
        x = rng.standard_normal((n, 4, 5, 2))
        np.testing.assert_array_equal(pad_reused(x, 2), zero_pad(x, 2))
    assert pad_reused(x, 0) is x


def test_scratch_buffers_belong_to_one_thread():
    import threading

    mine = scratch("test", 2, (3,), np.float64)
    theirs = []
    thread = threading.Thread(target=lambda: theirs.append(scratch("test", 2, (3,), np.float64)))
    thread.start()
    thread.join()
    assert not np.shares_memory(mine, theirs[0])
    assert np.shares_memory(mine, scratch("test", 1, (3,), np.float64))
    huge = SCRATCH_MAX_VALUES + 1  # a very wide layer's buffer lives for its call only
    assert not np.shares_memory(scratch("test", huge, (1,), np.float32),
                                scratch("test", huge, (1,), np.float32))
