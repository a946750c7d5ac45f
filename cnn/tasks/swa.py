"""Stochastic weight averaging (SWA): the mean of the weights at several points of training.

Izmailov, Podoprikhin, Garipov, Vetrov & Wilson, "Averaging Weights Leads to Wider Optima and
Better Generalization" (UAI 2018): after a network has been trained, training goes on for a few
cycles of a cyclical learning rate (:func:`cnn.nn.schedule.swa_cycles`), the weights at the end
of every cycle are averaged, and the batch-norm running statistics, which belong to no single
set of weights, are computed again for the averaged network with one pass over the training
data. PyTorch's reference: ``torch.optim.swa_utils.AveragedModel`` (equal weights, every
parameter) and ``torch.optim.swa_utils.update_bn`` (running statistics reset, then a cumulative
average over the batches of the pass, ``momentum=None``).

``cnn train --swa K`` averages the last ``K`` epochs (docs/robustness.md, "The recipe").
"""

from __future__ import annotations

import numpy as np

from cnn.nn.batchnorm import BatchNorm
from cnn.nn.model import Sequential, to_input


class WeightAverage:
    """The running mean of a network's parameters over the times :meth:`update` was called.

    Only parameters (``model.parameters()``: weights, biases, batch norm's gamma and beta) are
    averaged, in float64; buffers (running statistics) are not: :func:`update_batchnorm`
    recomputes them for the averaged weights, as ``torch.optim.swa_utils`` does.

    Attributes:
        count: how many snapshots the mean holds (0 before the first :meth:`update`).
    """

    def __init__(self) -> None:
        self.count = 0
        self._mean: list[np.ndarray] = []

    def update(self, model: Sequential) -> None:
        """Add the model's current parameters to the mean (``mean += (w - mean) / count``).

        Raises:
            ValueError: a model whose parameters have other shapes than the first one's.
        """
        values = [module.params[key] for module, key in model.parameters()]
        if self.count and [v.shape for v in values] != [m.shape for m in self._mean]:
            raise ValueError("the model's parameters do not match the averaged ones")
        self.count += 1
        if self.count == 1:
            self._mean = [v.astype(np.float64) for v in values]
            return
        for mean, v in zip(self._mean, values):
            mean += (v - mean) / self.count

    def apply(self, model: Sequential) -> None:
        """Set the model's parameters to the mean, in each parameter's own dtype.

        Raises:
            ValueError: before any :meth:`update`, or for a model of other parameter shapes.
        """
        slots = model.parameters()
        if not self.count:
            raise ValueError("no weights have been averaged yet")
        if [module.params[key].shape for module, key in slots] != [m.shape for m in self._mean]:
            raise ValueError("the model's parameters do not match the averaged ones")
        for (module, key), mean in zip(slots, self._mean):
            module.params[key] = mean.astype(module.params[key].dtype)


def update_batchnorm(model: Sequential, images: np.ndarray, rng: np.random.Generator,
                     augment=None, batch_size: int = 256) -> int:
    """Recompute every batch norm's running mean and variance for the model's weights.

    The running statistics are reset (mean 0, variance 1), then one pass over ``images`` in
    train mode updates them with momentum ``1 / k`` at the ``k``-th batch, so that they end as
    the plain mean of the batches' means and unbiased variances (``update_bn`` of
    ``torch.optim.swa_utils``, ``momentum=None``). The batches are ``batch_size`` images in a
    random order; a last batch of a single image (whose variance is undefined) joins the one
    before it. Nothing is trained and no activation is kept for a backward pass; the model is
    left in eval mode (``update_bn`` restores the previous mode) and every batch norm keeps
    its own momentum afterwards.

    Args:
        model: the network, changed in place (its buffers only).
        images: uint8 ``(N, 28, 28)`` training images (white digit on black, 0..255), N >= 1.
        rng: the run's generator: the order of the pass and the augmentation.
        augment: the run's ``f(batch_uint8, rng) -> batch_uint8``, so the statistics are those
            of the inputs the network was trained on (``None``: the images as they are).
        batch_size: images per forward pass (>= 2, as batch norm's training statistics need).
    Returns:
        the number of batches of the pass (0 when the model has no batch norm: nothing to do).
    Raises:
        ValueError: no images, or a batch size under 2.
    """
    if len(images) == 0 or batch_size < 2:
        raise ValueError(f"need images and a batch size >= 2, got {len(images)} and "
                         f"{batch_size}")
    norms = [m for m in model.modules() if isinstance(m, BatchNorm)]
    if not norms:
        return 0
    momentum = [m.momentum for m in norms]
    for m in norms:
        m.buffers["running_mean"] = np.zeros_like(m.buffers["running_mean"])
        m.buffers["running_var"] = np.ones_like(m.buffers["running_var"])
    order = rng.permutation(len(images))
    starts = range(0, len(images), batch_size)
    if len(images) - starts[-1] < 2 and len(starts) > 1:  # a last batch of one image
        starts = starts[:-1]  # joins the one before it
    model.train()
    try:
        for k, start in enumerate(starts, 1):
            end = starts[k] if k < len(starts) else len(images)
            batch = images[order[start:end]]
            if augment is not None:
                batch = augment(batch, rng)
            for m in norms:
                m.momentum = 1.0 / k
            model.forward(to_input(batch, model.input_shape))  # train mode: batch statistics
    finally:
        for m, value in zip(norms, momentum):
            m.momentum = value
        model.eval()
    return len(starts)
