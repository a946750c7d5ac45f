"""Each new layer and block against ``torch.nn`` in float64: forward values and gradients.

Skipped where PyTorch is not installed (it is never a dependency of the library). Our arrays
are channels-last ``(N, H, W, C)``; torch's are ``(N, C, H, W)``; weights move between the two
through the state dict, which holds PyTorch layouts, so these tests check that too.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from cnn.nn import model_string as P
from cnn.nn.activation import Dropout
from cnn.nn.batchnorm import BatchNorm
from cnn.nn.blocks import ResidualBlock
from cnn.nn.conv import Conv2D
from cnn.nn.losses import softmax_cross_entropy
from cnn.nn.model import Sequential
from cnn.nn.module import Tape
from cnn.nn.pooling import AvgPool2D, GlobalAvgPool



@pytest.fixture(autouse=True)
def float64_default():
    """PyTorch's layers made in float64 for these tests only (set at import, the default
    stayed float64 for every test after this file: a float32 model met double biases)."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def nchw(x):
    return torch.tensor(np.ascontiguousarray(x.transpose(0, 3, 1, 2)), requires_grad=True)


def nhwc(t):
    return t.detach().numpy().transpose(0, 2, 3, 1)


def run_both(ours, theirs, x, rng):
    """Forward both on ``x`` (NHWC), backward a random upstream gradient; return outputs and
    input gradients, ours and theirs, in NHWC."""
    tape = Tape()
    out = ours.forward(x, tape)
    g = rng.standard_normal(out.shape)
    dx = ours.backward(g, tape)
    xt = nchw(x)
    out_t = theirs(xt)
    gt = torch.tensor(np.ascontiguousarray(g.transpose(0, 3, 1, 2)) if g.ndim == 4 else g)
    out_t.backward(gt)
    out_t_np = nhwc(out_t) if out_t.ndim == 4 else out_t.detach().numpy()
    return out, out_t_np, dx, nhwc(xt.grad)


@pytest.mark.parametrize("k,s,p", [(3, 1, 1), (3, 2, 1), (1, 2, 0), (5, 3, 2), (4, 2, 0)])
def test_strided_padded_conv_matches_torch_conv2d(k, s, p):
    rng = np.random.default_rng(0)
    ours = Conv2D(3, 4, k, s, p, rng=rng).astype(np.float64)
    ours.params["bias"] = rng.standard_normal(4)
    theirs = nn.Conv2d(3, 4, k, stride=s, padding=p)
    theirs.load_state_dict({k_: torch.tensor(v) for k_, v in ours.state_dict().items()})
    x = rng.standard_normal((2, 9, 8, 3))
    out, out_t, dx, dx_t = run_both(ours, theirs, x, rng)
    np.testing.assert_allclose(out, out_t, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dx, dx_t, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ours.grads["weight"].transpose(3, 2, 0, 1),
                               theirs.weight.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ours.grads["bias"], theirs.bias.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("train", [True, False])
def test_batchnorm_matches_torch_batchnorm2d_in_both_modes_with_running_statistics(train):
    rng = np.random.default_rng(1)
    ours = BatchNorm(3).astype(np.float64)
    ours.params = {"weight": rng.standard_normal(3), "bias": rng.standard_normal(3)}
    ours.buffers = {"running_mean": rng.standard_normal(3), "running_var": rng.random(3) + 0.5}
    theirs = nn.BatchNorm2d(3)  # momentum 0.1, eps 1e-5: the same defaults
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()},
                           strict=False)
    ours.train(train)
    theirs.train(train)
    x = rng.standard_normal((4, 5, 3, 3)) * 3 + 2
    out, out_t, dx, dx_t = run_both(ours, theirs, x, rng)
    np.testing.assert_allclose(out, out_t, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dx, dx_t, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(ours.grads["weight"], theirs.weight.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(ours.grads["bias"], theirs.bias.grad.numpy(), rtol=1e-9)
    for key in ("running_mean", "running_var"):
        np.testing.assert_allclose(ours.buffers[key], getattr(theirs, key).numpy(), rtol=1e-12)


@pytest.mark.parametrize("size,h,w", [(2, 7, 6), (3, 8, 7), (2, 4, 4)])
def test_average_pooling_matches_torch_ceil_mode(size, h, w):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, h, w, 3))
    out, out_t, dx, dx_t = run_both(AvgPool2D(size), nn.AvgPool2d(size, ceil_mode=True), x, rng)
    np.testing.assert_allclose(out, out_t, rtol=1e-12)
    np.testing.assert_allclose(dx, dx_t, rtol=1e-12)


def test_global_average_pooling_matches_torch_adaptive_avgpool_then_flatten():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 4, 3))
    theirs = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    out, out_t, dx, dx_t = run_both(GlobalAvgPool(), theirs, x, rng)
    np.testing.assert_allclose(out, out_t, rtol=1e-12)
    np.testing.assert_allclose(dx, dx_t, rtol=1e-12)


def test_dropout_is_torch_dropout_given_the_same_mask_and_the_identity_in_eval():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((50, 40))
    drop = Dropout(0.25, np.random.default_rng(5))
    tape = Tape()
    out = drop.forward(x, tape)
    kept = out != 0
    assert 0.70 < kept.mean() < 0.80
    # torch's inverted dropout: kept values scaled by 1 / (1 - p)
    torch_out = torch.tensor(x) * torch.tensor(kept) / (1 - 0.25)
    np.testing.assert_allclose(out, torch_out.numpy(), rtol=1e-12)
    np.testing.assert_allclose(drop.backward(np.ones_like(x), tape), kept / 0.75, rtol=1e-12)
    np.testing.assert_array_equal(drop.eval().forward(x), nn.Dropout(0.25).eval()(torch.tensor(x)))


class TorchBasicBlock(nn.Module):
    """torchvision's BasicBlock, written out: 3x3 conv-BN-ReLU-3x3 conv-BN + shortcut, ReLU."""

    def __init__(self, c_in, f, s):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, f, 3, s, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(f)
        self.conv2 = nn.Conv2d(f, f, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(f)
        self.proj = nn.Conv2d(c_in, f, 1, s, bias=False) if (s != 1 or c_in != f) else None
        self.proj_bn = nn.BatchNorm2d(f) if self.proj is not None else None

    def forward(self, x):
        h = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(h + (self.proj_bn(self.proj(x)) if self.proj is not None else x))


@pytest.mark.parametrize("c_in,f,s,train", [(4, 4, 1, True), (3, 5, 2, True), (3, 5, 2, False),
                                            (2, 6, 1, False)])
def test_residual_block_matches_a_torch_basic_block(c_in, f, s, train):
    rng = np.random.default_rng(6)
    shape = P.layer_shapes([P.Residual(f, s)], (7, 7, c_in))[0]
    ours = ResidualBlock(P.Residual(f, s), 1, c_in, shape, rng).astype(np.float64)
    for m in ours.modules():
        if isinstance(m, BatchNorm):
            m.params = {"weight": rng.standard_normal(f), "bias": rng.standard_normal(f)}
            m.buffers = {"running_mean": rng.standard_normal(f) * 0.1,
                         "running_var": rng.random(f) + 0.5}
    theirs = TorchBasicBlock(c_in, f, s)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()},
                           strict=False)
    ours.train(train)
    theirs.train(train)
    x = rng.standard_normal((3, 7, 7, c_in))
    out, out_t, dx, dx_t = run_both(ours, theirs, x, rng)
    np.testing.assert_allclose(out, out_t, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(dx, dx_t, rtol=1e-8, atol=1e-10)
    for name, owner, key in ours.named_slots():
        grad = owner.export_array(key, owner.grads[key])
        torch_grad = theirs.get_parameter(name).grad.numpy()
        np.testing.assert_allclose(grad, torch_grad, rtol=1e-8, atol=1e-10, err_msg=name)


def torch_resnet_lite():
    """C(8,3,same)-BN-P2-R(8)-R(16,s2)-D0.2-GAP-FC10 in torch.nn, named as our state dict."""
    return nn.ModuleDict({
        "1": nn.ModuleDict({"conv": nn.Conv2d(1, 8, 3, padding=1)}),
        "2": nn.ModuleDict({"bn": nn.BatchNorm2d(8)}),
        "4": TorchBasicBlock(8, 8, 1),
        "5": TorchBasicBlock(8, 16, 2),
        "8": nn.ModuleDict({"fc": nn.Linear(16, 10)}),
    })


def test_a_resnet_lite_matches_torch_end_to_end_in_train_and_eval_mode():
    model_string = "C(8,3,same)-BN-P2-R(8)-R(16,s2)-D0.2-GAP-FC10"
    rng = np.random.default_rng(7)
    ours = Sequential(model_string, rng).astype(np.float64)
    t = torch_resnet_lite()
    t.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()}, strict=False)

    def torch_forward(x, train):
        t.train(train)
        h = torch.relu(t["2"]["bn"](t["1"]["conv"](x)))
        h = nn.functional.max_pool2d(h, 2, ceil_mode=True)
        h = t["5"](t["4"](h))
        return t["8"]["fc"](h.mean(dim=(2, 3)))  # dropout: identity here (see below)

    x = rng.random((6, 28, 28, 1))
    labels = rng.integers(0, 10, 6)
    for train in (True, False):
        ours.train(train)
        ours.block(6).drop.rate = 0.0  # dropout is compared on its own above
        tape = Tape()
        logits = ours.forward(x, tape)
        loss, dlogits = softmax_cross_entropy(logits, labels)
        ours.backward(dlogits, tape)
        t.zero_grad()
        logits_t = torch_forward(torch.tensor(x.transpose(0, 3, 1, 2)), train)
        loss_t = nn.functional.cross_entropy(logits_t, torch.tensor(labels))
        loss_t.backward()
        np.testing.assert_allclose(logits, logits_t.detach().numpy(), rtol=1e-9, atol=1e-10)
        assert loss == pytest.approx(loss_t.item(), rel=1e-10)
        for name, owner, key in ours.named_slots():
            np.testing.assert_allclose(owner.export_array(key, owner.grads[key]),
                                       t.get_parameter(name).grad.numpy(), rtol=1e-7,
                                       atol=1e-10, err_msg=name)
