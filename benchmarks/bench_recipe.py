"""Time to a test top-1 target with the default model's whole recipe, cnn and PyTorch (issue 33).

The recipe is the shipped default's (docs/robustness.md, "The recipe"): the ResNet-lite, 18
epochs, Adam, cosine schedule peaking at 3e-3 after one warm-up epoch, batch 64, the last
5,000 training images held out, 12,000 training digits rendered as photos and read back
through the pipeline (added to the training set), and ``--augment robust`` on every batch.
Both frameworks get **the same data and batches**: the training set with its photo
renderings is made once (cached in ``--cache``), every epoch's order and every batch's
augmentation come from one generator seeded alike on both sides (cnn's NumPy augmentation,
:func:`cnn.data.augment.robust_batch`, then converted for PyTorch); the same learning rate
every step (cnn's :func:`cnn.nn.schedule.make_schedule`, set on PyTorch's
Adam), the same number of threads. So the figure compares the engines under one recipe, and
the augmentation's share (the same NumPy code on both sides, timed on PyTorch's side) is
printed beside it. The weights start from each framework's own initialisation, so which epoch
first crosses the target varies with the seed; the s/epoch ratio is the steadier figure.
The clock runs over the training steps of each epoch (augmentation included), not over the
test evaluation after it; a run stops at the first epoch whose test
top-1 reaches ``--target``.

    CNN_MNIST_DATA=../shared/data/mnist.npz flock /tmp/cnn-bench.lock \\
        python benchmarks/bench_recipe.py [--epochs 18] [--target 0.995] [--skip-torch]

Each run is a fresh process (``bench_speed.run_task``'s environment: 2 BLAS threads, cnn's 2
threads). One run each by default: a run takes 10-20 minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # bench_speed beside it, also when loaded by the tests

from bench_speed import RESNET, run_task, torch_model  # noqa: E402


def prepare(data: str, cache: Path, photos: int, validation: int, seed: int) -> Path:
    """The training set of the recipe (training images minus the last ``validation``, plus
    ``photos`` of them rendered as photos) and the test set, cached as one ``.npz``."""
    import numpy as np

    from cnn.data.mnist import load_mnist
    from cnn.data.photo_render import render_through_pipeline

    source = Path(data).resolve().stat()  # another MNIST file: another cached set
    path = cache / (f"recipe_train_p{photos}_v{validation}_s{seed}_"
                    f"{source.st_size}_{int(source.st_mtime)}.npz")
    if path.is_file():
        return path
    (x_train, y_train), (x_test, y_test) = load_mnist(data)
    x_train, y_train = x_train[:-validation], y_train[:-validation]
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(x_train), size=min(photos, len(x_train)), replace=False)
    x = np.concatenate([x_train, render_through_pipeline(x_train[pick], rng)])
    y = np.concatenate([y_train, y_train[pick]])
    cache.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, x_train=x, y_train=y, x_test=x_test, y_test=y_test)
    partial.replace(path)
    return path


def worker(task: dict) -> dict:
    """One training run; returns its per-epoch seconds and test top-1."""
    import numpy as np

    from cnn.data.augment import robust_batch
    from cnn.nn.schedule import make_schedule

    with np.load(task["set"]) as d:
        x, y, x_test, y_test = d["x_train"], d["y_train"], d["x_test"], d["y_test"]
    if task.get("limit"):  # a quick check of the script, not a measurement
        x, y = x[: task["limit"]], y[: task["limit"]]
    batch, epochs = task["batch"], task["epochs"]
    steps = -(-len(x) // batch)
    lr_at = make_schedule("cosine", task["lr"], steps, epochs, warmup=steps * task["warmup"])
    rng = np.random.default_rng(task["seed"])
    out = {"framework": task["framework"], "epoch_seconds": [], "test_accuracy": [],
           "augment_seconds": []}
    if task["framework"] == "cnn":
        from cnn.nn.model import Sequential
        from cnn.nn.optim import Adam
        from cnn.tasks.train import evaluate, fit

        # the weights from a generator of their own, so that `rng` draws the same epoch
        # orders and augmentations as on PyTorch's side (fit: a permutation per epoch, then
        # robust_batch per batch, in that order)
        model = Sequential(RESNET, np.random.default_rng(task["seed"] + 1))

        def score(history):
            accuracy = evaluate(model, x_test, y_test)["accuracy"]
            out["test_accuracy"].append(accuracy)
            return accuracy >= task["target"]
        history = fit(model, x, y, optimizer=Adam(model.parameters(), task["lr"]), rng=rng,
                      epochs=epochs, batch_size=batch, schedule=lr_at, augment=robust_batch,
                      progress=False, on_epoch_end=score)
        out["epoch_seconds"] = [e["seconds"] for e in history.epochs]
        return out
    import torch

    torch.set_num_threads(task["threads"])
    torch.manual_seed(task["seed"])
    net = torch_model(RESNET).float()  # float32, whatever the default dtype
    opt = torch.optim.Adam(net.parameters(), lr=task["lr"])
    loss_fn = torch.nn.CrossEntropyLoss()
    xs = torch.from_numpy(x_test[:, None].astype(np.float32) / 255)
    labels = torch.from_numpy(y.astype(np.int64))
    step = 0
    for _ in range(epochs):
        net.train()
        start, augmenting = time.perf_counter(), 0.0
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch):
            idx = order[i : i + batch]
            t = time.perf_counter()
            images = robust_batch(x[idx], rng)
            augmenting += time.perf_counter() - t
            inputs = torch.from_numpy(images[:, None].astype(np.float32) / 255)
            for group in opt.param_groups:
                group["lr"] = lr_at(step)
            opt.zero_grad()
            loss_fn(net(inputs), labels[idx]).backward()
            opt.step()
            step += 1
        out["epoch_seconds"].append(time.perf_counter() - start)
        out["augment_seconds"].append(augmenting)
        net.eval()
        with torch.no_grad():
            pred = torch.cat([net(xs[i : i + 1000]).argmax(1) for i in range(0, len(xs), 1000)])
        out["test_accuracy"].append(float((pred.numpy() == y_test).mean()))
        if out["test_accuracy"][-1] >= task["target"]:
            break
    return out


def run(task: dict) -> dict:
    """:func:`worker` in a fresh process (``bench_speed.run_task``'s environment)."""
    return run_task(task, __file__)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        print(json.dumps(worker(json.loads(sys.argv[2]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("CNN_MNIST_DATA"))
    parser.add_argument("--cache", default="/tmp/cnn_bench_recipe")
    parser.add_argument("--epochs", type=int, default=18)
    parser.add_argument("--target", type=float, default=0.995)
    parser.add_argument("--photos", type=int, default=12000)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-torch", action="store_true")
    parser.add_argument("--only-torch", action="store_true")
    parser.add_argument("--limit", type=int, default=0,
                        help="train on the first N images only (a check of the script)")
    args = parser.parse_args()
    data_set = prepare(args.data, Path(args.cache), args.photos, 5000, args.seed)
    base = {"set": str(data_set), "batch": 64, "epochs": args.epochs, "lr": 3e-3, "warmup": 1,
            "seed": args.seed, "target": args.target, "threads": args.threads,
            "limit": args.limit}
    frameworks = [f for f in ("cnn", "torch") if not (f == "torch" and args.skip_torch)
                  and not (f == "cnn" and args.only_torch)]
    for framework in frameworks:
        result = run(dict(base, framework=framework))
        acc = result["test_accuracy"]
        hit = next((k for k, a in enumerate(acc) if a >= args.target), None)
        total = sum(result["epoch_seconds"][: (hit + 1) if hit is not None else None])
        print(json.dumps(result))
        print(f"{framework}: {'reached' if hit is not None else 'did not reach'} "
              f"{100 * args.target:.1f} % "
              f"{f'at epoch {hit + 1}' if hit is not None else f'in {len(acc)} epochs'}, "
              f"{total:.1f} s of training; best test top-1 {100 * max(acc):.2f} %; "
              f"s/epoch {sum(result['epoch_seconds']) / len(acc):.1f}"
              + (f", of which augmentation {sum(result['augment_seconds']) / len(acc):.1f}"
                 if result["augment_seconds"] else ""), flush=True)


if __name__ == "__main__":
    main()
