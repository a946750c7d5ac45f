"""Optimizers: they update the parameters from the gradients the layers computed.

Each optimizer takes the parameters once, as ``(module, name)`` slots
(``cnn.nn.module.Module.parameters()``): it sees parameters only, never buffers such as batch
norm's running statistics. ``step()`` reads every ``module.grads[name]`` and updates
``module.params[name]`` in place. Learning-rate decay is applied by the trainer through the
``lr`` attribute.
"""

from __future__ import annotations

import numpy as np


class Optimizer:
    """Base class. ``lr`` is the learning rate (a float > 0), read at every step."""

    def __init__(self, params, lr: float) -> None:
        if not lr > 0:
            raise ValueError(f"learning rate must be > 0, got {lr}")
        self.lr = float(lr)
        self.slots = list(params)

    def step(self) -> None:  # pragma: no cover
        raise NotImplementedError


class SGD(Optimizer):
    """SGD with (heavy-ball) momentum in PyTorch's form: ``b = mu * b + g; w -= lr * b``.

    The buffer ``b`` holds gradients only, not the learning rate, so changing ``lr`` between
    steps (``--lr-decay``, a scheduler) acts at once, exactly as ``torch.optim.SGD(momentum=mu,
    dampening=0, nesterov=False)`` under a scheduler. (Sutskever et al.'s form ``v = mu * v -
    lr * g; w += v`` is the same only while ``lr`` is constant.) Sources: Sutskever et al.,
    "On the importance of initialization and momentum in deep learning" (ICML 2013); the
    ``torch.optim.SGD`` documentation.
    """

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.9) -> None:
        super().__init__(params, lr)
        self.momentum = momentum
        self.velocity = [np.zeros_like(layer.params[name]) for layer, name in self.slots]

    def step(self):
        for (layer, name), b in zip(self.slots, self.velocity):
            b *= self.momentum
            b += layer.grads[name]
            layer.params[name] -= self.lr * b


class Adam(Optimizer):
    """Adam: adaptive moment estimation with bias correction.

    Source: Kingma & Ba, "Adam: A Method for Stochastic Optimization" (ICLR 2015), Algorithm 1;
    defaults as in that paper and PyTorch's ``torch.optim.Adam`` (betas 0.9, 0.999, eps 1e-8).
    """

    def __init__(self, params, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8) -> None:
        super().__init__(params, lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.t = 0
        self.m = [np.zeros_like(layer.params[name]) for layer, name in self.slots]
        self.v = [np.zeros_like(layer.params[name]) for layer, name in self.slots]
        self._tmp = [np.empty_like(layer.params[name]) for layer, name in self.slots]

    def step(self):
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        step_size = self.lr / (1 - b1**self.t)
        inv_sqrt_c2 = 1.0 / np.sqrt(1 - b2**self.t)
        for (layer, name), m, v, tmp in zip(self.slots, self.m, self.v, self._tmp):
            g = layer.grads[name]
            # In place, one scratch buffer per parameter, no temporaries:
            # m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
            m *= b1
            np.multiply(g, 1 - b1, out=tmp)
            m += tmp
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1 - b2
            v += tmp
            # w -= lr_t * m / (sqrt(v_hat) + eps), v_hat = v / (1 - b2^t); eps applied to
            # the bias-corrected v-hat as at the end of Kingma & Ba's section 2.
            np.sqrt(v, out=tmp)
            tmp *= inv_sqrt_c2
            tmp += self.eps
            np.divide(m, tmp, out=tmp)
            tmp *= step_size
            layer.params[name] -= tmp


OPTIMIZERS = {"adam": Adam, "sgd": SGD}


def make_optimizer(name: str, params, lr: float) -> Optimizer:
    """Build an optimizer by name (``'adam'`` or ``'sgd'``, SGD with momentum 0.9) over
    ``params``, ``(module, name)`` slots such as ``model.parameters()``.

    Raises:
        ValueError: for an unknown name.
    """
    try:
        cls = OPTIMIZERS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}: choose adam or sgd") from None
    return cls(params, lr=lr)
