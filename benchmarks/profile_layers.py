"""Per-layer time of one training step (forward, backward, Adam update) at batch 64.

Shows where an epoch goes, layer by layer; run it before and after a change to the engine.
Set the thread count the same way the speed benchmark does:

    CNN_NUM_THREADS=2 python benchmarks/profile_layers.py --model "C(8,5)-P2-FC10"

Prints, per token (the blocks ``cnn summary`` numbers), the median forward and backward
milliseconds over ``--steps`` steps on real MNIST images in train mode, then the loss and
optimizer, and the implied seconds per epoch; then the same time summed by primitive layer type
(convolution, batch norm, ...), which shows where a residual block's time goes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from cnn.data.mnist import load_mnist
from cnn.nn import layers as L
from cnn.nn.losses import softmax_cross_entropy
from cnn.nn.model import Sequential, to_input
from cnn.nn.module import Tape
from cnn.nn.optim import Adam
from cnn.parallel.threads import get_num_threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="C(8,5)-P2-C(16,3)-P2-FC128-FC10")
    parser.add_argument("--data", default=os.environ.get("CNN_MNIST_DATA"))
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    (x_train, y_train), _ = load_mnist(args.data)
    rng = np.random.default_rng(0)
    model = Sequential(args.model, rng)
    opt = Adam(model.parameters(), 1e-3)
    names = [str(block.token) for block in model.blocks]
    fwd = [[] for _ in names]
    bwd = [[] for _ in names]
    rest = {"loss": [], "adam": [], "batch": []}
    by_type: dict[str, float] = {}

    def timed(cls, method):
        original = getattr(cls, method)

        def wrapper(self, *a, **k):
            t0 = time.perf_counter()
            out = original(self, *a, **k)
            key = f"{cls.__name__}.{method}"
            by_type[key] = by_type.get(key, 0.0) + time.perf_counter() - t0
            return out
        setattr(cls, method, wrapper)

    for cls in (L.Conv2D, L.BatchNorm, L.ReLU, L.MaxPool2D, L.AvgPool2D, L.GlobalAvgPool,
                L.Dense, L.Dropout):
        timed(cls, "forward")
        timed(cls, "backward")
    model.train()
    for step in range(args.steps):
        if step == 10:
            by_type.clear()  # warm-up steps do not count
        t0 = time.perf_counter()
        idx = rng.integers(0, len(x_train), args.batch)
        x, y = to_input(x_train[idx]), y_train[idx]
        rest["batch"].append(time.perf_counter() - t0)
        tape = Tape()
        for i, block in enumerate(model.blocks):
            t0 = time.perf_counter()
            x = block.forward(x, tape)
            fwd[i].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        _, grad = softmax_cross_entropy(x, y)
        rest["loss"].append(time.perf_counter() - t0)
        for i in reversed(range(len(model.blocks))):
            t0 = time.perf_counter()
            grad = model.blocks[i].backward(grad, tape, need_dx=i > 0)
            bwd[i].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        opt.step()
        rest["adam"].append(time.perf_counter() - t0)
    ms = lambda v: 1e3 * statistics.median(v[10:])  # noqa: E731 - skip warm-up steps
    total = 0.0
    print(f"{args.model}, batch {args.batch}, median of {args.steps - 10} steps, "
          f"{get_num_threads()} cnn thread(s) (CNN_NUM_THREADS="
          f"{os.environ.get('CNN_NUM_THREADS', 'unset')})")
    width = max(len(n) for n in names) + 2
    print(f"{'#':>3} {'token':<{width}} {'forward ms':>11} {'backward ms':>12}")
    for i, name in enumerate(names):
        f, b = ms(fwd[i]), ms(bwd[i])
        total += f + b
        print(f"{i + 1:>3} {name:<{width}} {f:>11.3f} {b:>12.3f}")
    for name, values in rest.items():
        total += ms(values)
        print(f"    {name:<{width}} {ms(values):>11.3f}")
    steps_per_epoch = -(-60000 // args.batch)
    print(f"step {total:.2f} ms -> {total * steps_per_epoch / 1e3:.2f} s per 60,000-image epoch")
    counted = args.steps - 10
    print("by primitive layer (mean ms per step, all tokens):")
    for key, seconds in sorted(by_type.items(), key=lambda kv: -kv[1]):
        print(f"    {key:<22} {1e3 * seconds / counted:>8.3f}")


if __name__ == "__main__":
    main()
