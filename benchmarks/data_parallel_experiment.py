"""Experiment (issue 17): three ways to spread a plain CNN's training step over two cores.

- "conv split": one model, each convolution splits its batch over the threads
  (:mod:`cnn.parallel.threads`), everything else on one core: the path of batch-norm networks;
- "thread replicas": two copies of the model from the same weights, each runs forward and
  backward on half the batch in its own thread, their gradients are added and one Adam step is
  taken (the engine's data-parallel step until stop 13);
- "process replicas": the same with the second half in a worker process,
  :class:`cnn.nn.data_parallel.DataParallel` (the engine's data-parallel step now).

Alternating step by step in one process; prints the median milliseconds per training step of
each. With ``--contention`` it shows instead why threads gain less than processes: the time
of one replica's forward and backward over half a batch, alone, with a second replica doing
the same in another thread (both need the GIL between NumPy calls), and with a second one in
another process:

    CNN_MNIST_DATA=../shared/data/mnist.npz python benchmarks/data_parallel_experiment.py \
        --model "C(8,5)-P2-C(16,3)-P2-FC128-FC10" --contention

    CNN_MNIST_DATA=../shared/data/mnist.npz python benchmarks/data_parallel_experiment.py \
        --model "C(16,3)-P2-C(32,3)-P2-C(64,3)-P2-FC512-FC10" --batch 64 --steps 150

Batch-norm models are left out: each copy would normalize with its own half-batch statistics.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from cnn.data.mnist import load_mnist
from cnn.nn.data_parallel import DataParallel, slice_step
from cnn.nn.losses import softmax_cross_entropy
from cnn.nn.model import Sequential, to_input
from cnn.nn.module import Tape
from cnn.nn.optim import Adam
from cnn.parallel import threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="C(16,3)-P2-C(32,3)-P2-C(64,3)-P2-FC512-FC10")
    parser.add_argument("--data", default=os.environ.get("CNN_MNIST_DATA"))
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--contention", action="store_true",
                        help="half-batch steps alone, beside a thread, beside a process")
    parser.add_argument("--half-steps", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    (x_train, y_train), _ = load_mnist(args.data)
    if args.half_steps:  # one replica's half-batch steps in this process (for --contention)
        print(half_steps(args.model, x_train, y_train, args.batch // 2, args.half_steps))
        return
    if args.contention:
        contention(args, x_train, y_train)
        return
    rng = np.random.default_rng(0)
    first, second = Sequential(args.model, rng), Sequential(args.model)
    second.load_state_dict(first.state_dict())
    first.train()
    second.train()
    opt = Adam(first.parameters(), 1e-3)
    threads.get_num_threads()  # BLAS held to one thread, as in training
    pool = ThreadPoolExecutor(1)
    processes = DataParallel(first, args.batch)

    def half(model, x, y, batch):  # no per-layer split inside; the mean over the batch
        slice_step(model, x, y, len(y) / batch, 0.0)

    def thread_replicas(x, y):
        h = len(x) // 2
        other = pool.submit(half, second, x[h:], y[h:], len(x))
        half(first, x[:h], y[:h], len(x))
        other.result()
        for (m1, k1), (m2, k2) in zip(first.parameters(), second.parameters()):
            m1.grads[k1] += m2.grads[k2]
        opt.step()
        for (m1, k1), (m2, k2) in zip(first.parameters(), second.parameters()):
            m2.params[k2][...] = m1.params[k1]

    def process_replicas(x, y):
        processes.gradients(x, y)
        opt.step()

    def conv_split(x, y):
        tape = Tape()
        _, grad = softmax_cross_entropy(first.forward(x, tape), y)
        first.backward(grad, tape)
        opt.step()

    steps = {"conv split": conv_split, "thread replicas": thread_replicas,
             "process replicas": process_replicas}
    times = {name: [] for name in steps}
    for _ in range(args.steps):
        for name, step in steps.items():
            idx = rng.integers(0, len(x_train), args.batch)
            x, y = to_input(x_train[idx]), y_train[idx]
            start = time.perf_counter()
            step(x, y)
            times[name].append(time.perf_counter() - start)
    for name, values in times.items():
        print(f"{args.model}, batch {args.batch}, {name}: "
              f"{1e3 * statistics.median(values[5:]):.2f} ms per step")


def half_steps(model_string, x_train, y_train, n, steps) -> float:
    """Median ms of ``steps`` forward and backward passes over ``n`` images through one
    replica, on this thread alone (no convolution split)."""
    threads.get_num_threads()  # set up as in training: malloc tuned, BLAS on one thread
    model = Sequential(model_string, np.random.default_rng(0))
    rng = np.random.default_rng(threading.get_ident() % 1000)
    times = []
    for _ in range(steps):
        idx = rng.integers(0, len(x_train), n)
        x, y = to_input(x_train[idx]), y_train[idx]
        start = time.perf_counter()
        slice_step(model, x, y, 1.0, 0.0)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times[5:])


def contention(args, x_train, y_train) -> None:
    threads.get_num_threads()  # BLAS held to one thread, as in training
    steps, half = args.steps * 2, args.batch // 2
    alone = half_steps(args.model, x_train, y_train, half, steps)
    results = [0.0, 0.0]

    def run(i):
        results[i] = half_steps(args.model, x_train, y_train, half, steps)
    pair = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in pair:
        t.start()
    for t in pair:
        t.join()
    command = [sys.executable, __file__, "--model", args.model, "--batch", str(args.batch),
               "--half-steps", str(steps)] + (["--data", args.data] if args.data else [])
    env = dict(os.environ, CNN_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    in_procs = [float(p.communicate()[0]) for p in procs]
    print(f"{args.model}, forward and backward over {half} images, median ms per step: "
          f"alone {alone:.2f}; two threads at once {statistics.mean(results):.2f} "
          f"({statistics.mean(results) / alone:.2f}x); two processes at once "
          f"{statistics.mean(in_procs):.2f} ({statistics.mean(in_procs) / alone:.2f}x)")


if __name__ == "__main__":
    main()
