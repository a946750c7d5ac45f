"""Does PyTorch's default initialisation explain why it reaches 99.2% in fewer epochs? (issue 17)

PyTorch's ``nn.Conv2d`` / ``nn.Linear`` draw weights from ``kaiming_uniform(a=sqrt(5))``, i.e.
uniform in ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]`` (std ``1/sqrt(3 fan_in)``), and biases from the
same range; ``cnn`` uses He normal (std ``sqrt(2/fan_in)``, 2.4x larger; gain 1 for the logits)
and zero biases. This trains the large model both ways with everything else equal (Adam 1e-3,
lr x0.7 per epoch, batch 64, 60,000 images, no augmentation, the recipe of bench_speed.py's
time-to-accuracy row) and prints the test top-1 after every epoch, up to the first >= 99.2%.

    OPENBLAS_NUM_THREADS=2 python benchmarks/init_experiment.py --data ../shared/data/mnist.npz --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

import numpy as np

LARGE = "C(16,3)-P2-C(32,3)-P2-C(64,3)-P2-FC512-FC10"


def torch_default_init(model, rng: np.random.Generator) -> None:
    """Re-draw every conv and dense layer as PyTorch's defaults do (weights and biases uniform
    in +-1/sqrt(fan_in))."""
    from cnn.nn.conv import Conv2D
    from cnn.nn.dense import Dense

    for layer in model.modules():
        if isinstance(layer, Conv2D):
            fan_in = layer.kernel * layer.kernel * layer.in_channels
        elif isinstance(layer, Dense):
            fan_in = layer.in_features
        else:
            continue
        bound = 1 / math.sqrt(fan_in)
        for key, value in layer.params.items():
            layer.params[key] = rng.uniform(-bound, bound, value.shape).astype(np.float32)


def run(init: str, seed: int, data, max_epochs: int, target: float) -> dict:
    from cnn.nn.model import Sequential
    from cnn.nn.optim import Adam
    from cnn.tasks.train import evaluate, fit

    (x, y), (xt, yt) = data
    rng = np.random.default_rng(seed)
    model = Sequential(LARGE, rng)
    if init == "torch":
        torch_default_init(model, rng)
    opt = Adam(model.parameters(), 1e-3)
    accuracies, seconds = [], []

    def score(history):
        seconds.append(history.epochs[-1]["seconds"])
        accuracies.append(round(evaluate(model, xt, yt)["accuracy"], 4))
        return accuracies[-1] >= target
    fit(model, x, y, optimizer=opt, rng=rng, epochs=max_epochs, batch_size=64, lr_decay=0.7,
        progress=False, on_epoch_end=score)
    hit = next((i + 1 for i, a in enumerate(accuracies) if a >= target), None)
    return {"init": init, "seed": seed, "test_top1_per_epoch": accuracies,
            "epochs_to_target": hit,
            "seconds_to_target": round(sum(seconds[:hit]), 1) if hit else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("CNN_MNIST_DATA"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-epochs", type=int, default=8)
    parser.add_argument("--target", type=float, default=0.992)
    args = parser.parse_args()
    from cnn.data.mnist import load_mnist

    data = load_mnist(args.data)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {LARGE}, Adam 1e-3 x0.7/epoch, batch 64, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    for seed in args.seeds:
        for init in ("he", "torch"):  # alternating, so both meet the same background load
            print(json.dumps(run(init, seed, data, args.max_epochs, args.target)), flush=True)


if __name__ == "__main__":
    main()
