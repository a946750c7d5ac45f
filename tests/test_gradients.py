"""Every backward pass against central differences in float64 (CS231n-style gradient checks)."""

import numpy as np
import pytest

from cnn.layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU
from cnn.losses import softmax_cross_entropy
from cnn.model import Sequential

EPS = 1e-6


def numerical_gradient(f, x):
    """Central differences (f(x + h) - f(x - h)) / 2h of a scalar function, one entry at a time."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + EPS
        plus = f()
        x[i] = old - EPS
        minus = f()
        x[i] = old
        grad[i] = (plus - minus) / (2 * EPS)
    return grad


def check_layer(layer, x, rng):
    """Compare dL/dx and dL/dparams for L = sum(forward(x) * g) with a random upstream g."""
    layer.astype(np.float64)
    layer.needs_input_grad = True
    out = layer.forward(x, training=True)
    g = rng.standard_normal(out.shape)
    dx = layer.backward(g)

    def loss():
        return float(np.sum(layer.forward(x) * g))

    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-5, atol=1e-7)
    for name, param in layer.params.items():
        np.testing.assert_allclose(layer.grads[name], numerical_gradient(loss, param),
                                   rtol=1e-5, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("c,f,k,h,w", [(1, 3, 3, 6, 5), (2, 4, 2, 5, 5), (3, 2, 1, 4, 3)])
def test_conv2d_backward_matches_numerical_gradient(c, f, k, h, w):
    rng = np.random.default_rng(0)
    layer = Conv2D(c, f, k, rng)
    layer.params["b"] = rng.standard_normal(f).astype(np.float32)
    check_layer(layer, rng.standard_normal((2, h, w, c)), rng)


@pytest.mark.parametrize("size,h,w", [(2, 4, 4), (2, 5, 3), (3, 7, 8)])
def test_maxpool_backward_matches_numerical_gradient_including_partial_windows(size, h, w):
    rng = np.random.default_rng(1)
    check_layer(MaxPool2D(size), rng.standard_normal((2, h, w, 3)), rng)


def test_maxpool_backward_routes_gradient_to_argmax_only():
    x = np.array([[1.0, 5.0, 2.0], [3.0, 4.0, 9.0], [7.0, 0.0, 8.0]]).reshape(1, 3, 3, 1)
    pool = MaxPool2D(2)
    out = pool.forward(x, training=True)
    np.testing.assert_array_equal(out[0, :, :, 0], [[5.0, 9.0], [7.0, 8.0]])
    dx = pool.backward(np.array([[10.0, 20.0], [30.0, 40.0]]).reshape(1, 2, 2, 1))
    expected = np.zeros((3, 3))
    expected[0, 1], expected[1, 2], expected[2, 0], expected[2, 2] = 10, 20, 30, 40
    np.testing.assert_array_equal(dx[0, :, :, 0], expected)


def test_maxpool_backward_sends_a_tie_to_one_position_only():
    x = np.ones((1, 2, 2, 1))
    pool = MaxPool2D(2)
    pool.forward(x, training=True)
    dx = pool.backward(np.ones((1, 1, 1, 1)))
    assert dx.sum() == 1.0 and dx[0, 0, 0, 0] == 1.0


@pytest.mark.parametrize("size, h, w", [(2, 7, 6), (3, 8, 7), (2, 26, 26)])
def test_maxpool_matches_a_naive_loop_with_many_ties_and_partial_windows(size, h, w):
    """Forward max and backward routing (to the first maximum of each window in row-major
    order, as PyTorch) against explicit loops over windows, on inputs full of equal values."""
    rng = np.random.default_rng(5)
    x = rng.integers(0, 3, (2, h, w, 3)).astype(np.float32)  # values 0, 1, 2: ties everywhere
    pool = MaxPool2D(size)
    out = pool.forward(x, training=True)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx = pool.backward(dout)
    ref_out, ref_dx = np.zeros_like(out), np.zeros_like(x)
    for n in range(x.shape[0]):
        for c in range(x.shape[3]):
            for i in range(out.shape[1]):
                for j in range(out.shape[2]):
                    window = x[n, i * size : (i + 1) * size, j * size : (j + 1) * size, c]
                    p, q = np.unravel_index(np.argmax(window), window.shape)  # first maximum
                    ref_out[n, i, j, c] = window[p, q]
                    ref_dx[n, i * size + p, j * size + q, c] = dout[n, i, j, c]
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(dx, ref_dx)


def test_dense_backward_matches_numerical_gradient():
    rng = np.random.default_rng(2)
    layer = Dense(7, 4, rng)
    layer.params["b"] = rng.standard_normal(4).astype(np.float32)
    check_layer(layer, rng.standard_normal((3, 7)), rng)


def test_relu_backward_matches_numerical_gradient_away_from_zero():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 5))
    x[np.abs(x) < 0.01] = 0.5  # the kink at 0 has no derivative
    check_layer(ReLU(), x, rng)


def test_flatten_backward_restores_the_input_shape():
    rng = np.random.default_rng(4)
    check_layer(Flatten(), rng.standard_normal((2, 3, 3, 2)), rng)


def test_softmax_cross_entropy_gradient_matches_numerical_gradient():
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((5, 10)) * 3
    labels = rng.integers(0, 10, 5)
    _, dlogits = softmax_cross_entropy(logits, labels)
    numeric = numerical_gradient(lambda: softmax_cross_entropy(logits, labels)[0], logits)
    np.testing.assert_allclose(dlogits, numeric, rtol=1e-6, atol=1e-9)


def test_whole_network_gradient_matches_numerical_gradient():
    # Conv -> Pool(ceil) -> ReLU -> Conv -> ReLU -> Flatten -> Dense -> ReLU -> Dense, end to end,
    # including dLoss/dInput as feature visualization uses it.
    rng = np.random.default_rng(6)
    model = Sequential("C(3,3)-P2-C(4,2)-FC6-FC10", rng, input_shape=(9, 9, 1)).astype(np.float64)
    for layer in model.parametrized:
        layer.params["b"] = rng.standard_normal(layer.params["b"].shape) * 0.1
    x = rng.random((3, 9, 9, 1))
    labels = rng.integers(0, 10, 3)

    def loss():
        return softmax_cross_entropy(model.forward(x), labels)[0]

    _, dlogits = softmax_cross_entropy(model.forward(x, training=True), labels)
    dx = model.backward(dlogits, input_grad=True)
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-4, atol=1e-8)
    for layer in model.parametrized:
        analytic = {k: v.copy() for k, v in layer.grads.items()}
        for name, param in layer.params.items():
            np.testing.assert_allclose(analytic[name], numerical_gradient(loss, param),
                                       rtol=1e-4, atol=1e-8)
