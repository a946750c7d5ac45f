"""SGD with momentum against ``torch.optim.SGD`` under a learning-rate change (issue 10,
item 14): PyTorch keeps the learning rate out of its momentum buffer (``b = mu * b + g;
p -= lr * b``), so a new learning rate acts at once. Skips where torch is not installed."""

from __future__ import annotations

import numpy as np
import pytest

from cnn.nn.optim import SGD

torch = pytest.importorskip("torch")


class Holder:
    """A module with one parameter ``W``: ``params`` and ``grads`` dicts; the optimizer takes it
    as the slot ``(holder, "W")``."""

    def __init__(self, w: np.ndarray) -> None:
        self.params = {"W": w.copy()}
        self.grads = {"W": np.zeros_like(w)}


def test_sgd_momentum_equals_torch_with_a_learning_rate_change_midway():
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(5, 3))
    ours = Holder(w0)
    opt = SGD([(ours, "W")], lr=0.1, momentum=0.9)
    theirs = torch.tensor(w0, requires_grad=True)
    ref = torch.optim.SGD([theirs], lr=0.1, momentum=0.9)
    schedule = torch.optim.lr_scheduler.StepLR(ref, step_size=1, gamma=0.5)
    for epoch in range(4):
        for _ in range(5):
            target = rng.normal(size=w0.shape)
            ours.grads["W"] = 2 * (ours.params["W"] - target)  # d/dw |w - t|^2
            opt.step()
            ref.zero_grad()
            ((theirs - torch.tensor(target)) ** 2).sum().backward()
            ref.step()
            np.testing.assert_allclose(ours.params["W"], theirs.detach().numpy(),
                                       rtol=1e-12, atol=1e-12)
        schedule.step()  # lr 0.1, 0.05, 0.025, ...: what --lr-decay 0.5 does between epochs
        opt.lr *= 0.5
        assert opt.lr == pytest.approx(ref.param_groups[0]["lr"])
