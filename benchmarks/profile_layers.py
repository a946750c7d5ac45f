"""Per-layer time of one training step (forward, backward, Adam update) at batch 64.

Shows where an epoch goes, layer by layer; run it before and after a change to the engine.
Set the thread count the same way the speed benchmark does:

    OPENBLAS_NUM_THREADS=2 python benchmarks/profile_layers.py --model "C(8,5)-P2-FC10"

Prints, per primitive layer, the median forward and backward milliseconds over ``--steps``
steps on real MNIST images, then the loss and optimizer, and the implied seconds per epoch.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from cnn.data import load_mnist
from cnn.losses import softmax_cross_entropy
from cnn.model import Sequential, to_input
from cnn.optim import Adam


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
    opt = Adam(model.parametrized, 1e-3)
    names = [type(layer).__name__ for layer in model.layers]
    fwd = [[] for _ in names]
    bwd = [[] for _ in names]
    rest = {"loss": [], "adam": [], "batch": []}
    for step in range(args.steps):
        t0 = time.perf_counter()
        idx = rng.integers(0, len(x_train), args.batch)
        x, y = to_input(x_train[idx]), y_train[idx]
        rest["batch"].append(time.perf_counter() - t0)
        for i, layer in enumerate(model.layers):
            t0 = time.perf_counter()
            x = layer.forward(x, training=True)
            fwd[i].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        _, grad = softmax_cross_entropy(x, y)
        rest["loss"].append(time.perf_counter() - t0)
        for i in reversed(range(len(model.layers))):
            t0 = time.perf_counter()
            grad = model.layers[i].backward(grad)
            bwd[i].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        opt.step()
        rest["adam"].append(time.perf_counter() - t0)
    ms = lambda v: 1e3 * statistics.median(v[10:])  # noqa: E731 - skip warm-up steps
    total = 0.0
    print(f"{args.model}, batch {args.batch}, median of {args.steps - 10} steps, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(default)')}")
    print(f"{'#':>3} {'layer':<10} {'forward ms':>11} {'backward ms':>12}")
    for i, name in enumerate(names):
        f, b = ms(fwd[i]), ms(bwd[i])
        total += f + b
        print(f"{i:>3} {name:<10} {f:>11.3f} {b:>12.3f}")
    for name, values in rest.items():
        total += ms(values)
        print(f"    {name:<10} {ms(values):>11.3f}")
    steps_per_epoch = -(-60000 // args.batch)
    print(f"step {total:.2f} ms -> {total * steps_per_epoch / 1e3:.2f} s per 60,000-image epoch")


if __name__ == "__main__":
    main()
