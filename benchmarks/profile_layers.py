"""Per-layer time of one training step (forward, backward, Adam update) at batch 64.

Shows where an epoch goes, layer by layer; run it before and after a change to the engine.
Set the thread count the same way the speed benchmark does:

    CNN_NUM_THREADS=2 python benchmarks/profile_layers.py --model "C(8,5)-P2-FC10"

Prints, per token (the blocks ``cnn summary`` numbers), the median forward and backward
milliseconds over ``--steps`` steps on real MNIST images in train mode, then the loss and
optimizer, and the implied seconds per epoch; then the same time summed by primitive layer type
(convolution, batch norm, ...), which shows where a residual block's time goes, and by
sub-layer (``3.conv1``, ``4.proj_bn``: each layer instance's forward and backward).

``--slice N`` profiles what one process of a data-parallel step computes (issue 33): a slice of
``N`` images (32 of a batch of 64 on two cores) on one thread, no convolution split, batch norm
with the slice's own statistics (the sums the processes exchange are not counted):

    python benchmarks/profile_layers.py --model "C(16,3,same)-BN-R(16)-R(32,s2)-R(64,s2)-GAP-FC10" \
        --slice 32

``--step`` times whole training steps as ``cnn.tasks.train.fit`` runs them at ``--batch``
(data-parallel over ``CNN_NUM_THREADS`` processes when the model allows it, then one Adam step)
and prints their median, the main figure of issue 33; ``--repeat`` runs it that many times in
fresh processes and prints each median.

Method: ``time.perf_counter`` around each call; medians over the steps after 10 warm-up steps.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from cnn.data.mnist import load_mnist
from cnn.nn import layers as L
from cnn.nn.losses import softmax_cross_entropy
from cnn.nn.model import Sequential, to_input
from cnn.nn.module import Tape
from cnn.nn.optim import Adam
from cnn.parallel.threads import get_num_threads, no_split

LEAVES = (L.Conv2D, L.BatchNorm, L.ReLU, L.MaxPool2D, L.AvgPool2D, L.GlobalAvgPool, L.Dense,
          L.Dropout)


def time_steps(args, x_train, y_train) -> float:
    """Median ms of ``args.steps`` training steps as ``fit`` runs them (after 10 warm-up)."""
    from cnn.nn import data_parallel

    rng = np.random.default_rng(0)
    model = Sequential(args.model, rng)
    opt = Adam(model.parameters(), 1e-3)
    parallel = (data_parallel.DataParallel(model, args.batch)
                if data_parallel.supports(model, args.batch) else None)
    times = []
    for _ in range(args.steps):
        idx = rng.integers(0, len(x_train), args.batch)
        t0 = time.perf_counter()
        x, y = to_input(x_train[idx]), y_train[idx]
        if parallel is not None:
            parallel.gradients(x, y)
        else:
            tape = Tape()
            _, grad = softmax_cross_entropy(model.forward(x, tape), y)
            model.backward(grad, tape)
        opt.step()
        times.append(time.perf_counter() - t0)
    data_parallel.shutdown()
    return 1e3 * statistics.median(times[10:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="C(8,5)-P2-C(16,3)-P2-FC128-FC10")
    parser.add_argument("--data", default=os.environ.get("CNN_MNIST_DATA"))
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--slice", type=int, default=0, metavar="N",
                        help="profile one data-parallel process's share: N images, one thread")
    parser.add_argument("--step", action="store_true",
                        help="only the median ms of whole training steps, as fit runs them")
    parser.add_argument("--repeat", type=int, default=1,
                        help="with --step: fresh processes, one median each")
    args = parser.parse_args()
    if args.step and args.repeat > 1:
        command = [sys.executable, __file__, "--step", "--model", args.model, "--batch",
                   str(args.batch), "--steps", str(args.steps)]
        command += ["--data", args.data] if args.data else []
        for _ in range(args.repeat):
            print(subprocess.run(command, capture_output=True, text=True,
                                 check=True).stdout.strip(), flush=True)
        return
    (x_train, y_train), _ = load_mnist(args.data)
    if args.step:
        ms = time_steps(args, x_train, y_train)
        print(f"{args.model}, batch {args.batch}, {get_num_threads()} thread(s): "
              f"{ms:.2f} ms per step (median of {args.steps - 10})")
        return
    if args.slice:
        args.batch = args.slice
    rng = np.random.default_rng(0)
    model = Sequential(args.model, rng)
    opt = Adam(model.parameters(), 1e-3)
    names = [str(block.token) for block in model.blocks]
    fwd = [[] for _ in names]
    bwd = [[] for _ in names]
    rest = {"loss": [], "adam": [], "batch": []}
    by_type: dict[str, float] = {}
    by_layer: dict[str, list[float]] = {}
    paths = {}

    def walk(module, prefix):
        for name, child in module.children.items():
            paths[id(child)] = prefix + name
            walk(child, prefix + name + ".")
    walk(model, "")

    def timed(cls, method):
        original = getattr(cls, method)

        def wrapper(self, *a, **k):
            t0 = time.perf_counter()
            out = original(self, *a, **k)
            seconds = time.perf_counter() - t0
            key = f"{cls.__name__}.{method}"
            by_type[key] = by_type.get(key, 0.0) + seconds
            layer = by_layer.setdefault(paths.get(id(self), "?"), [0.0, 0.0])
            layer[method == "backward"] += seconds
            return out
        setattr(cls, method, wrapper)

    for cls in LEAVES:
        timed(cls, "forward")
        timed(cls, "backward")
    model.train()
    context = no_split() if args.slice else None
    if context is not None:
        context.__enter__()
    for step in range(args.steps):
        if step == 10:
            by_type.clear()  # warm-up steps do not count
            by_layer.clear()
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
    how = (f"one slice of {args.slice} on one thread, no split" if args.slice else
           f"{get_num_threads()} cnn thread(s) (CNN_NUM_THREADS="
           f"{os.environ.get('CNN_NUM_THREADS', 'unset')})")
    print(f"{args.model}, batch {args.batch}, median of {args.steps - 10} steps, {how}")
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
    print(f"step {total:.2f} ms -> {total * steps_per_epoch / 1e3:.2f} s per "
          f"{60000 if not args.slice else 60000 * args.slice // 64:,}-image epoch"
          + (" share" if args.slice else ""))
    counted = args.steps - 10
    print("by primitive layer (mean ms per step, all tokens):")
    for key, seconds in sorted(by_type.items(), key=lambda kv: -kv[1]):
        print(f"    {key:<22} {1e3 * seconds / counted:>8.3f}")
    print("by sub-layer (mean ms per step: forward, backward):")
    for key, (f, b) in by_layer.items():
        print(f"    {key:<22} {1e3 * f / counted:>8.3f} {1e3 * b / counted:>8.3f}")


if __name__ == "__main__":
    main()
