"""Every backward pass against central differences in float64 (CS231n-style gradient checks):
each layer, each block (train mode; batch norm in both modes; dropout with a fixed mask), and
whole networks, including the gradient with respect to the input and backward from a tap."""

import numpy as np
import pytest

from cnn.nn import model_string as P
from cnn.nn.activation import Dropout, ReLU
from cnn.nn.batchnorm import BatchNorm
from cnn.nn.blocks import ResidualBlock
from cnn.nn.conv import Conv2D
from cnn.nn.dense import Dense
from cnn.nn.losses import softmax_cross_entropy
from cnn.nn.model import Sequential
from cnn.nn.module import Tape
from cnn.nn.pooling import AvgPool2D, GlobalAvgPool, MaxPool2D
from cnn.parallel.threads import no_split

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


def check_module(module, x, rng, reset=None, rtol=1e-5, atol=1e-7):
    """Compare dL/dx and dL/dparams for L = sum(forward(x) * g) with a random upstream g.

    ``reset`` is called before every forward pass (e.g. to draw the same dropout mask)."""
    module.astype(np.float64)
    reset = reset or (lambda: None)
    tape = Tape()
    reset()
    out = module.forward(x, tape)
    g = rng.standard_normal(out.shape)
    dx = module.backward(g, tape)

    def loss():
        reset()
        return float(np.sum(module.forward(x) * g))

    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=rtol, atol=atol)
    for name, owner, key in module.named_slots():
        np.testing.assert_allclose(owner.grads[key], numerical_gradient(loss, owner.params[key]),
                                   rtol=rtol, atol=atol, err_msg=name)


@pytest.mark.parametrize("c,f,k,s,p,h,w", [(1, 3, 3, 1, 0, 6, 5), (2, 4, 2, 1, 0, 5, 5),
                                           (3, 2, 1, 1, 0, 4, 3), (2, 3, 3, 2, 1, 7, 6),
                                           (1, 2, 3, 1, 1, 5, 5), (3, 2, 1, 2, 0, 5, 4),
                                           (2, 2, 4, 3, 2, 8, 7)])
def test_conv2d_backward_matches_numerical_gradient_with_stride_and_padding(c, f, k, s, p, h, w):
    rng = np.random.default_rng(0)
    layer = Conv2D(c, f, k, s, p, rng=rng)
    layer.params["bias"] = rng.standard_normal(f).astype(np.float32)
    check_module(layer, rng.standard_normal((2, h, w, c)), rng)


@pytest.mark.parametrize("size,h,w", [(2, 4, 4), (2, 5, 3), (3, 7, 8)])
def test_maxpool_backward_matches_numerical_gradient_including_partial_windows(size, h, w):
    rng = np.random.default_rng(1)
    check_module(MaxPool2D(size), rng.standard_normal((2, h, w, 3)), rng)


@pytest.mark.parametrize("size,h,w", [(2, 4, 4), (2, 5, 3), (3, 7, 8)])
def test_avgpool_backward_matches_numerical_gradient_including_partial_windows(size, h, w):
    rng = np.random.default_rng(1)
    check_module(AvgPool2D(size), rng.standard_normal((2, h, w, 3)), rng)


def test_global_avgpool_backward_matches_numerical_gradient():
    rng = np.random.default_rng(1)
    check_module(GlobalAvgPool(), rng.standard_normal((2, 3, 4, 5)), rng)


def test_maxpool_backward_routes_gradient_to_argmax_only():
    x = np.array([[1.0, 5.0, 2.0], [3.0, 4.0, 9.0], [7.0, 0.0, 8.0]]).reshape(1, 3, 3, 1)
    pool, tape = MaxPool2D(2), Tape()
    out = pool.forward(x, tape)
    np.testing.assert_array_equal(out[0, :, :, 0], [[5.0, 9.0], [7.0, 8.0]])
    dx = pool.backward(np.array([[10.0, 20.0], [30.0, 40.0]]).reshape(1, 2, 2, 1), tape)
    expected = np.zeros((3, 3))
    expected[0, 1], expected[1, 2], expected[2, 0], expected[2, 2] = 10, 20, 30, 40
    np.testing.assert_array_equal(dx[0, :, :, 0], expected)


def test_maxpool_backward_sends_a_tie_to_one_position_only():
    x = np.ones((1, 2, 2, 1))
    pool, tape = MaxPool2D(2), Tape()
    pool.forward(x, tape)
    dx = pool.backward(np.ones((1, 1, 1, 1)), tape)
    assert dx.sum() == 1.0 and dx[0, 0, 0, 0] == 1.0


@pytest.mark.parametrize("c,p", [(2, 1), (3, 0)])
def test_conv2d_weight_gradient_by_shifted_gemms_matches_numerical_gradient(monkeypatch, c, p):
    # blocks of one image whose columns are not kept: the weight gradient of a stride-1
    # layer with few channels goes through Conv2D._shifted_weight_grad (issue 33)
    import cnn.nn.conv as conv_module

    monkeypatch.setattr(conv_module, "IM2COL_BLOCK", 1)
    monkeypatch.setattr(conv_module, "IM2COL_KEEP", 1)
    rng = np.random.default_rng(16)
    layer = Conv2D(c, 3, 3, 1, p, rng=rng)
    x = rng.standard_normal((3, 5, 6, c))
    with no_split():  # one batch slice, cut into blocks of one image
        assert layer._plan(3, 5 - 2 + 2 * p, 6 - 2 + 2 * p) == ((slice(0, 1), slice(1, 2),
                                                                  slice(2, 3)),)
        check_module(layer, x, rng)


@pytest.mark.parametrize("size, h, w", [(2, 7, 6), (3, 8, 7), (2, 26, 26)])
def test_maxpool_matches_a_naive_loop_with_many_ties_and_partial_windows(size, h, w):
    """Forward max and backward routing (to the first maximum of each window in row-major
    order, as PyTorch) against explicit loops over windows, on inputs full of equal values."""
    rng = np.random.default_rng(5)
    x = rng.integers(0, 3, (2, h, w, 3)).astype(np.float32)  # values 0, 1, 2: ties everywhere
    pool, tape = MaxPool2D(size), Tape()
    out = pool.forward(x, tape)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx = pool.backward(dout, tape)
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


def test_dense_backward_matches_numerical_gradient_on_vectors_and_feature_maps():
    rng = np.random.default_rng(2)
    layer = Dense(7, 4, rng)
    layer.params["bias"] = rng.standard_normal(4).astype(np.float32)
    check_module(layer, rng.standard_normal((3, 7)), rng)
    check_module(Dense(12, 3, rng, in_shape=(2, 2, 3)), rng.standard_normal((2, 2, 2, 3)), rng)


def test_relu_backward_matches_numerical_gradient_away_from_zero():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 5))
    x[np.abs(x) < 0.01] = 0.5  # the kink at 0 has no derivative
    check_module(ReLU(), x, rng)


@pytest.fixture(params=["pixel rows", "image rows"])
def bn_layout(request, monkeypatch):
    """Both layouts of batch norm's elementwise work (cnn.nn.batchnorm.BatchNorm._rows): one
    row per pixel, vectors broadcast (small arrays), and one row per image, vectors tiled."""
    from cnn.nn import batchnorm

    if request.param == "image rows":
        monkeypatch.setattr(batchnorm, "_BROADCAST_MAX", 0)
    return request.param


@pytest.mark.parametrize("shape", [(4, 3, 3, 5), (6, 4)])
def test_batchnorm_train_mode_backward_matches_numerical_gradient(shape, bn_layout):
    rng = np.random.default_rng(7)
    bn = BatchNorm(shape[-1])
    bn.params["weight"] = rng.standard_normal(shape[-1]).astype(np.float32)  # negative too
    bn.params["bias"] = rng.standard_normal(shape[-1]).astype(np.float32)
    check_module(bn, rng.standard_normal(shape) * 2 + 1, rng)


def test_batchnorm_eval_mode_backward_matches_numerical_gradient(bn_layout):
    rng = np.random.default_rng(8)
    bn = BatchNorm(3)
    bn.params["weight"] = rng.standard_normal(3).astype(np.float32)
    bn.buffers["running_mean"] = rng.standard_normal(3).astype(np.float32)
    bn.buffers["running_var"] = rng.random(3).astype(np.float32) + 0.5
    check_module(bn.eval(), rng.standard_normal((2, 3, 2, 3)), rng)


class FusedBNReLU:
    """A batch norm run with its ReLU fused (``relu=True``), as a module for check_module."""

    def __init__(self, bn):
        self.bn = bn

    def astype(self, dtype):
        self.bn.astype(dtype)

    def named_slots(self):
        return self.bn.named_slots()

    def forward(self, x, tape=None):
        return self.bn.forward(x, tape, relu=True)

    def backward(self, dout, tape):
        return self.bn.backward(dout, tape, relu=True)


@pytest.mark.parametrize("shape,train", [((4, 3, 3, 5), True), ((6, 4), True),
                                         ((3, 2, 3, 4), False)])
def test_batchnorm_with_fused_relu_backward_matches_numerical_gradient(shape, train,
                                                                      bn_layout):
    rng = np.random.default_rng(12)
    c = shape[-1]
    bn = BatchNorm(c).train(train)
    bn.params["weight"] = rng.standard_normal(c).astype(np.float32)  # negative scales too
    bn.params["bias"] = rng.standard_normal(c).astype(np.float32) * 0.5
    bn.buffers["running_mean"] = rng.standard_normal(c).astype(np.float32) * 0.3
    x = rng.standard_normal(shape) * 2 + 1
    fused = FusedBNReLU(bn)
    fused.astype(np.float64)
    pre = bn.forward(x)
    x[np.abs(pre) < 0.05] += 0.3  # keep away from the ReLU's kink (statistics move a little)
    assert np.abs(bn.forward(x)).min() > 1e-3
    check_module(fused, x, rng)


@pytest.mark.parametrize("train", [True, False])
def test_fused_batchnorm_relu_equals_batchnorm_then_relu(train, bn_layout):
    # the naive reference: the two layers one after the other, forward and backward
    rng = np.random.default_rng(13)
    bn = BatchNorm(5).train(train).astype(np.float64)
    bn.params["weight"] = rng.standard_normal(5)
    bn.params["bias"] = rng.standard_normal(5)
    x, g = rng.standard_normal((2, 4, 3, 3, 5)) + 0.5
    tape, fused_tape = Tape(), Tape()
    relu = ReLU()
    out = relu.forward(bn.forward(x, tape), tape)
    dx = bn.backward(relu.backward(g, tape), tape)
    grads = dict(bn.grads)
    fused_out = bn.forward(x, fused_tape, relu=True)
    np.testing.assert_array_equal(fused_out, out)
    np.testing.assert_allclose(bn.backward(g, fused_tape, relu=True), dx, rtol=1e-12, atol=1e-12)
    for key, value in grads.items():
        np.testing.assert_allclose(bn.grads[key], value, rtol=1e-12, atol=1e-12)
    with pytest.raises(RuntimeError, match="without its ReLU"):
        bn.backward(g, tape, relu=True)


@pytest.mark.parametrize("shape, dtype", [((1, 28, 28, 16), np.float32),
                                          ((3, 7, 7, 64), np.float32),
                                          ((2, 40, 40, 16), np.float32),
                                          ((4, 6), np.float32), ((2, 5, 5, 3), np.float64)])
@pytest.mark.parametrize("relu", [False, True])
def test_batchnorm_inference_path_equals_the_taped_eval_path_bit_for_bit(shape, dtype, relu,
                                                                         bn_layout):
    """Eval mode without a tape takes the remembered, tiled affine map (BatchNorm._infer);
    it must give what the eval path with a tape gives, to the last bit, and follow the
    parameters and running statistics when they change in place."""
    rng = np.random.default_rng(sum(shape))
    c = shape[-1]
    bn = BatchNorm(c).eval().astype(dtype)
    for _ in range(2):
        bn.params["weight"][:] = rng.standard_normal(c)
        bn.params["bias"][:] = rng.standard_normal(c)
        bn.buffers["running_mean"][:] = rng.standard_normal(c)
        bn.buffers["running_var"][:] = rng.random(c) + 0.1
        x = rng.standard_normal(shape).astype(dtype)
        fast = bn.forward(x, None, relu=relu)
        taped = bn.forward(x, Tape(), relu=relu)
        assert fast.dtype == taped.dtype and fast.shape == x.shape
        np.testing.assert_array_equal(fast, taped)
        np.testing.assert_array_equal(bn.forward(x, None, relu=relu), fast)  # remembered
        # (and on the next pass the in-place changes above must be seen)


def test_dropout_backward_matches_numerical_gradient_with_a_fixed_mask():
    rng = np.random.default_rng(9)
    drop = Dropout(0.4)

    def same_mask():
        drop.rng = np.random.default_rng(123)

    check_module(drop, rng.standard_normal((5, 6)), rng, reset=same_mask)


@pytest.mark.parametrize("c_in,f,s,h", [(3, 3, 1, 5), (2, 4, 1, 5), (3, 4, 2, 5), (2, 2, 2, 6)])
def test_residual_block_backward_matches_numerical_gradient_in_train_mode(c_in, f, s, h):
    # identity shortcut (3->3), 1x1 projection for channels (2->4), and for stride (s=2)
    rng = np.random.default_rng(10)
    shape = P.layer_shapes([P.Residual(f, s)], (h, h, c_in))[0]
    block = ResidualBlock(P.Residual(f, s), 1, c_in, shape, rng)
    for m in block.modules():
        if isinstance(m, BatchNorm):
            m.params["weight"] = rng.standard_normal(f).astype(np.float32)
            m.params["bias"] = rng.standard_normal(f).astype(np.float32) * 0.5
    check_module(block, rng.standard_normal((3, h, h, c_in)), rng, rtol=1e-4, atol=1e-7)


def test_residual_block_backward_matches_numerical_gradient_in_eval_mode():
    rng = np.random.default_rng(11)
    block = ResidualBlock(P.Residual(4, 2), 1, 2, (3, 3, 4), rng)
    for m in block.modules():
        if isinstance(m, BatchNorm):
            m.buffers["running_mean"] = rng.standard_normal(4).astype(np.float32) * 0.1
            m.buffers["running_var"] = rng.random(4).astype(np.float32) + 0.5
    check_module(block.eval(), rng.standard_normal((2, 5, 5, 2)), rng, rtol=1e-4)


def test_softmax_cross_entropy_gradient_matches_numerical_gradient():
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((5, 10)) * 3
    labels = rng.integers(0, 10, 5)
    _, dlogits = softmax_cross_entropy(logits, labels)
    numeric = numerical_gradient(lambda: softmax_cross_entropy(logits, labels)[0], logits)
    np.testing.assert_allclose(dlogits, numeric, rtol=1e-6, atol=1e-9)


def test_label_smoothed_cross_entropy_gradient_matches_numerical_gradient():
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((6, 10)) * 3
    labels = rng.integers(0, 10, 6)
    loss, dlogits = softmax_cross_entropy(logits, labels, 0.1)
    numeric = numerical_gradient(lambda: softmax_cross_entropy(logits, labels, 0.1)[0], logits)
    np.testing.assert_allclose(dlogits, numeric, rtol=1e-6, atol=1e-9)
    assert np.isfinite(loss) and loss > 0


@pytest.mark.parametrize("model_string, input_shape", [
    ("C(3,3)-P2-C(4,2)-FC6-FC10", (9, 9, 1)),
    ("C(3,3,same)-BN-R(3)-R(4,s2)-A2-GAP-FC10", (7, 7, 1)),
    ("C(4,3,s2,p1)-BN-P2-D0.3-FC6-BN-FC10", (9, 9, 1)),
])
def test_whole_network_gradient_matches_numerical_gradient(model_string, input_shape):
    # End to end in train mode, including dLoss/dInput as feature visualization uses it
    # (dropout draws the same mask for every evaluation).
    rng = np.random.default_rng(6)
    model = Sequential(model_string, rng, input_shape=input_shape).astype(np.float64)
    for name, owner, key in model.named_slots():
        if key == "bias":
            owner.params[key] = rng.standard_normal(owner.params[key].shape) * 0.1
    drops = [m for m in model.modules() if isinstance(m, Dropout)]

    def same_masks():
        for d in drops:
            d.rng = np.random.default_rng(7)

    x = rng.random((4, *input_shape))
    labels = rng.integers(0, 10, 4)

    def loss():
        same_masks()
        return softmax_cross_entropy(model.forward(x), labels)[0]

    tape = Tape()
    same_masks()
    _, dlogits = softmax_cross_entropy(model.forward(x, tape), labels)
    dx = model.backward(dlogits, tape, input_grad=True)
    np.testing.assert_allclose(dx, numerical_gradient(loss, x), rtol=1e-4, atol=1e-8)
    analytic = {name: owner.grads[key].copy() for name, owner, key in model.named_slots()}
    for name, owner, key in model.named_slots():
        np.testing.assert_allclose(analytic[name], numerical_gradient(loss, owner.params[key]),
                                   rtol=1e-4, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("model_string,tap", [
    ("C(3,3,same)-BN-R(4,s2)-C(2,2)-FC10", "2.pre"),
    ("C(3,3,same)-BN-R(4,s2)-C(2,2)-FC10", "3.pre"),
    ("C(3,3,same)-BN-R(4,s2)-C(2,2)-FC10", "3.out"),
    ("C(3,3,same)-BN-R(4,s2)-C(2,2)-FC10", "4.pre"),
    ("C(3,3)-P2-FC10", "1.out"),  # the ReLU that the pooling block applies
    ("C(3,3)-P2-FC10", "2.pre"),
])
def test_backward_from_a_tap_matches_numerical_gradient_of_that_tap(model_string, tap):
    rng = np.random.default_rng(12)
    model = Sequential(model_string, rng, input_shape=(6, 6, 1))
    model.astype(np.float64).eval()
    x = rng.random((2, 6, 6, 1))
    tape = Tape(param_grads=False)
    act = model.forward(x, tape, taps=[tap])[tap]
    g = rng.standard_normal(act.shape)
    dx = model.backward(g, tape, start=tap, input_grad=True)
    numeric = numerical_gradient(lambda: float(np.sum(model.forward(x, taps=[tap])[tap] * g)), x)
    np.testing.assert_allclose(dx, numeric, rtol=1e-5, atol=1e-8)


def test_input_gradient_only_tape_leaves_the_modules_grads_alone():
    model = Sequential("C(2,3)-BN-FC10", np.random.default_rng(0), input_shape=(5, 5, 1)).eval()
    tape = Tape(param_grads=False)
    logits = model.forward(np.ones((1, 5, 5, 1), np.float32), tape)
    model.backward(np.ones_like(logits), tape, input_grad=True)
    assert all(not m.grads for m in model.modules())


def test_out_tap_of_a_convolution_before_max_pooling_is_its_relu():
    model = Sequential("C(3,3)-P2-FC10", np.random.default_rng(0), input_shape=(6, 6, 1))
    x = np.random.default_rng(1).random((2, 6, 6, 1)).astype(np.float32)
    taps = model.forward(x, taps=["1.pre", "1.out", "2.pre", "2.out"])
    assert (taps["1.pre"] < 0).any()
    np.testing.assert_array_equal(taps["1.out"], np.maximum(taps["1.pre"], 0))
    np.testing.assert_array_equal(taps["2.out"], np.maximum(taps["2.pre"], 0))


def test_bn_token_block_runs_fused_and_backpropagates_from_either_tap():
    model = Sequential("C(3,3)-BN-FC10", np.random.default_rng(14), input_shape=(5, 5, 1))
    model.astype(np.float64)
    block = model.block(2)
    assert block.bn_relu
    rng = np.random.default_rng(15)
    x, g = rng.standard_normal((2, 4, 3, 3, 3))
    for start in ("pre", "out"):
        fused_tape, tape = Tape(), Tape()
        out = block.forward(x, fused_tape)
        _, reference = block.run(x, tape)  # bn, then relu, one after the other
        np.testing.assert_array_equal(out, reference)
        np.testing.assert_allclose(block.backward(g, fused_tape, start=start),
                                   block.backward(g, tape, start=start), rtol=1e-12, atol=1e-12)


def test_batchnorm_at_inference_takes_an_empty_batch_and_pickles_without_its_tiles():
    import pickle

    bn = BatchNorm(4).eval()
    assert bn.forward(np.zeros((0, 3, 3, 4), np.float32)).shape == (0, 3, 3, 4)
    x = np.random.default_rng(0).standard_normal((2, 8, 8, 4)).astype(np.float32)
    out = bn.forward(x)
    copy = pickle.loads(pickle.dumps(bn))
    assert copy._eval_cache is None and bn._eval_cache is not None  # the original keeps its own
    np.testing.assert_array_equal(copy.forward(x), out)
