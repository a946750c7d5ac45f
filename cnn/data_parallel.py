"""Data parallelism for a whole training step of a plain CNN: one replica per thread.

Splitting each convolution's batch (:mod:`cnn.threads`) leaves max pooling, ReLU and the FC
layers on one core and hands work to the other thread once per convolution and pass. For a
network whose layers treat every example alone (no batch norm, no dropout), the whole step
can be split instead: each thread runs forward and backward over its own slice of the batch
through its own replica, the replicas' weight gradients are added in order, and the optimizer
takes one step, as ``torch.nn.DataParallel`` does across devices. The replicas share the
model's parameter arrays (re-shared before every step), so the optimizer's in-place update
reaches all of them; only gradients are per replica.

Measured on this project's 2-core machine (BENCHMARKS.md): the large plain CNN's step 15 %
faster at batch 64 and 27 % at batch 256, no gain for the medium model, and 12 % slower at
batch 16, hence the minimum batch.

The gradient is the same as one pass over the whole batch up to float rounding: the loss is
the mean over the batch, so each slice's gradient is scaled by its share of the batch.
"""

from __future__ import annotations

import numpy as np

from .layers import Dropout
from .losses import softmax_cross_entropy
from .model import Sequential
from .module import Tape
from .threads import batch_slices, get_num_threads, no_split, parallel_map

MIN_BATCH = 32  # below this a step was slower split than whole (batch 16: +12 %)


def supports(model: Sequential, batch_size: int) -> bool:
    """Whether a training step of ``model`` at ``batch_size`` runs data-parallel: more than
    one thread, a batch of at least ``MIN_BATCH``, and no layer that mixes the examples of a
    batch (batch norm's batch statistics) or draws random masks (dropout)."""
    return (get_num_threads() > 1 and batch_size >= MIN_BATCH
            and not any(m.buffers or isinstance(m, Dropout) for m in model.modules()))


class DataParallel:
    """Computes a training step's gradients with one replica of ``model`` per thread.

    Args:
        model: the :class:`cnn.model.Sequential` being trained (see :func:`supports`).
    """

    def __init__(self, model: Sequential) -> None:
        self.model = model
        self.replicas: list[Sequential] = []  # built on first use, one per extra thread

    def _share(self, replicas: list[Sequential], slots: list) -> None:
        """Point the replicas' parameters at the model's arrays, and copy its mode."""
        for replica in replicas:
            replica.train(self.model.training)
            for (module, key), (copy, copy_key) in zip(slots, replica.parameters(), strict=True):
                copy.params[copy_key] = module.params[key]

    def gradients(self, x: np.ndarray, y: np.ndarray,
                  label_smoothing: float = 0.0) -> tuple[float, np.ndarray]:
        """Fill the model's ``grads`` with dLoss/dparams of the mean softmax cross-entropy over
        the batch, as ``model.backward`` after one forward pass would.

        Args:
            x: input batch ``(N, H, W, C)``, float32; y: int labels ``(N,)``.
            label_smoothing: as :func:`cnn.losses.softmax_cross_entropy`.
        Returns:
            ``(loss, logits)``: the batch's mean loss (float) and its logits ``(N, classes)``.
        """
        slices = batch_slices(len(x))
        while len(self.replicas) < len(slices) - 1:  # first use, or more threads since
            self.replicas.append(Sequential(self.model.model_string, None,
                                            self.model.input_shape, num_classes=None))
        replicas = self.replicas[: len(slices) - 1]
        slots = self.model.parameters()
        self._share(replicas, slots)
        models = [self.model] + replicas

        def part(i):  # forward and backward of one slice through one replica
            sl, net = slices[i], models[i]
            with no_split():
                tape = Tape()
                logits = net.forward(x[sl], tape)
                loss, dlogits = softmax_cross_entropy(logits, y[sl], label_smoothing)
                net.backward(dlogits * ((sl.stop - sl.start) / len(x)), tape)
            return loss * (sl.stop - sl.start), logits

        results = parallel_map(part, range(len(slices)))
        for replica in replicas:
            for (module, key), (copy, copy_key) in zip(slots, replica.parameters(), strict=True):
                module.grads[key] += copy.grads[copy_key]
        loss = sum(r[0] for r in results) / len(x)
        return loss, np.concatenate([r[1] for r in results])
