"""Training and inference speed of cnn, side by side with PyTorch (when installed).

Every measurement runs in a fresh subprocess (so the BLAS thread count is set before NumPy or
PyTorch load, and the peak RSS is that run's own), is repeated ``--repeats`` times, and the
median is reported. Both frameworks get the same model, batch size, float32, Adam and the same
number of threads (``--threads``, default 2). PyTorch is optional: ``pip install torch==2.13.0``
(CPU build); it is never a dependency of the package.

    python benchmarks/bench_speed.py --data ../shared/data/mnist.npz --repeats 3
    python benchmarks/bench_speed.py --quick        # 1 repeat, no time-to-accuracy run

Prints a Markdown table (paste it into BENCHMARKS.md) and, with ``--json``, the raw runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

SMALL = "C(8,5)-P2-C(16,3)-P2-FC128-FC10"
MEDIUM = "C(8,5)-P2-C(16,3)-P2-C(32,3)-P2-FC256-FC10"
LARGE = "C(16,3)-P2-C(32,3)-P2-C(64,3)-P2-FC512-FC10"
RESNET = "C(16,3,same)-BN-R(16)-R(32,s2)-R(64,s2)-GAP-FC10"  # the ResNet-lite of issue 15


# ------------------------------------------------------------------ worker side
def peak_rss_mb() -> float:
    """Peak resident memory of this run: its own peak plus the largest peak of its finished
    child processes (cnn's data-parallel worker, stopped first so that it counts)."""
    import resource

    if "cnn.nn.data_parallel" in sys.modules:
        sys.modules["cnn.nn.data_parallel"].shutdown()
    return sum(resource.getrusage(who).ru_maxrss  # Linux: KiB
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024


def load_data(path):
    from cnn.data.mnist import load_mnist

    return load_mnist(path)


def torch_model(model_string):
    """The same architecture in ``torch.nn`` (PyTorch's default initialisation), token by token
    as ``cnn.nn.blocks`` builds it: ceil-mode pooling, ReLU after a C or hidden FC unless a BN
    follows (the BN then carries it), residual basic blocks with 1x1 projection shortcuts."""
    import torch
    import torch.nn as nn

    from cnn.nn import model_string as P

    class BasicBlock(nn.Module):
        def __init__(self, c_in, f, s):
            super().__init__()
            self.conv1 = nn.Conv2d(c_in, f, 3, s, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(f)
            self.conv2 = nn.Conv2d(f, f, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(f)
            self.proj = None
            if s != 1 or c_in != f:
                self.proj = nn.Sequential(nn.Conv2d(c_in, f, 1, s, bias=False),
                                          nn.BatchNorm2d(f))

        def forward(self, x):
            h = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
            return torch.relu(h + (self.proj(x) if self.proj is not None else x))

    specs = P.parse_model(model_string)
    shapes = P.layer_shapes(specs, (28, 28, 1))
    layers, prev = [], (28, 28, 1)
    last = len(specs) - 1
    for t, spec in enumerate(specs):
        nxt = specs[t + 1] if t < last else None
        if isinstance(spec, P.Conv):
            layers.append(nn.Conv2d(prev[-1], spec.filters, spec.kernel, spec.stride,
                                    spec.padding))
            if not isinstance(nxt, P.BatchNorm):
                layers.append(nn.ReLU())
        elif isinstance(spec, P.Pool):
            layers.append(nn.MaxPool2d(spec.size, spec.size, ceil_mode=True))
        elif isinstance(spec, P.AvgPool):
            layers.append(nn.AvgPool2d(spec.size, spec.size, ceil_mode=True))
        elif isinstance(spec, P.BatchNorm):
            layers += [nn.BatchNorm2d(prev[-1]) if len(prev) == 3 else nn.BatchNorm1d(prev[0]),
                       nn.ReLU()]
        elif isinstance(spec, P.Residual):
            layers.append(BasicBlock(prev[-1], spec.filters, spec.stride))
        elif isinstance(spec, P.Dropout):
            layers.append(nn.Dropout(spec.rate))
        elif isinstance(spec, P.GlobalAvgPool):
            layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        else:
            if len(prev) == 3:
                layers.append(nn.Flatten())
            fan_in = prev[0] * prev[1] * prev[2] if len(prev) == 3 else prev[0]
            layers.append(nn.Linear(fan_in, spec.units))
            if t < last and not isinstance(nxt, P.BatchNorm):
                layers.append(nn.ReLU())
        prev = shapes[t]
    return nn.Sequential(*layers)


def worker(task: dict) -> dict:
    """Run one measurement; returns its figures."""
    import numpy as np

    framework, kind, model_string = task["framework"], task["kind"], task["model"]
    (x_train, y_train), (x_test, y_test) = load_data(task["data"])
    if task.get("limit"):  # time part of an epoch; the driver scales it to 60,000 images
        x_train, y_train = x_train[: task["limit"]], y_train[: task["limit"]]
    batch, epochs = task["batch"], task.get("epochs", 1)
    result = {"framework": framework, "kind": kind, "model": model_string}
    if framework == "cnn":
        from cnn.nn.model import Sequential
        from cnn.nn.optim import Adam
        from cnn.tasks.train import evaluate, fit

        rng = np.random.default_rng(task.get("seed", 0))
        model = Sequential(model_string, rng)
        if kind == "latency":  # one image at a time, as predict sees a photo
            model.eval()
            times = []
            for i in range(task.get("images", 300)):
                start = time.perf_counter()
                model.logits(x_test[i : i + 1])
                times.append(time.perf_counter() - start)
            result["ms_per_image"] = 1000 * statistics.median(times[10:])
        elif kind == "inference":
            model.eval()
            model.logits(x_test[:batch], batch)  # warm-up
            times = []
            for _ in range(5):
                start = time.perf_counter()
                model.logits(x_test, batch)
                times.append(time.perf_counter() - start)
            result["images_per_s"] = len(x_test) / statistics.median(times)
        else:
            opt = Adam(model.parameters(), 1e-3)
            schedule = None
            if kind == "to_accuracy" and task.get("recipe_epochs"):
                # cnn train's default recipe, planned over recipe_epochs epochs
                from cnn.nn.schedule import DEFAULT_LR, DEFAULT_SCHEDULE, make_schedule

                epochs = task["recipe_epochs"]
                opt = Adam(model.parameters(), DEFAULT_LR)
                schedule = make_schedule(DEFAULT_SCHEDULE, DEFAULT_LR,
                                         -(-len(x_train) // batch), epochs)

            def score(history):  # test top-1 after each epoch; stop at the target
                accuracy = evaluate(model, x_test, y_test)["accuracy"]
                history.epochs[-1]["test_accuracy"] = accuracy
                return accuracy >= task.get("target", 2.0)
            history = fit(model, x_train, y_train, optimizer=opt, rng=rng, epochs=epochs,
                          batch_size=batch, lr_decay=task.get("lr_decay", 1.0),
                          schedule=schedule, progress=False,
                          on_epoch_end=score if kind == "to_accuracy" else None)
            result["epoch_seconds"] = [e["seconds"] for e in history.epochs]
            result["test_accuracy"] = [e.get("test_accuracy") for e in history.epochs]
    else:
        import torch

        torch.set_num_threads(task["threads"])
        torch.manual_seed(task.get("seed", 0))
        net = torch_model(model_string)
        xt = torch.from_numpy(x_train[:, None].astype(np.float32) / 255)
        yt = torch.from_numpy(y_train.astype(np.int64))
        xs = torch.from_numpy(x_test[:, None].astype(np.float32) / 255)
        ys = torch.from_numpy(y_test.astype(np.int64))
        if kind == "latency":
            net.eval()
            times = []
            with torch.no_grad():
                for i in range(task.get("images", 300)):
                    start = time.perf_counter()
                    net(xs[i : i + 1])
                    times.append(time.perf_counter() - start)
            result["ms_per_image"] = 1000 * statistics.median(times[10:])
        elif kind == "inference":
            net.eval()
            with torch.no_grad():
                net(xs[:batch])
                times = []
                for _ in range(5):
                    start = time.perf_counter()
                    for i in range(0, len(xs), batch):
                        net(xs[i : i + batch])
                    times.append(time.perf_counter() - start)
            result["images_per_s"] = len(xs) / statistics.median(times)
        else:
            opt = torch.optim.Adam(net.parameters(), lr=1e-3)
            sched = torch.optim.lr_scheduler.ExponentialLR(opt, task.get("lr_decay", 1.0))
            per_batch = None
            if kind == "to_accuracy" and task.get("recipe_epochs") and \
                    task.get("torch_recipe") == "onecycle":
                # the same recipe as cnn's: OneCycleLR, the same peak, phases and epochs
                # (cnn.nn.schedule's onecycle: pct_start 0.3, cosine, /25 up, /1e4 at the end;
                # no momentum cycling, which cnn's Adam does not do either)
                from cnn.nn.schedule import DEFAULT_LR

                epochs = task["recipe_epochs"]
                opt = torch.optim.Adam(net.parameters(), lr=DEFAULT_LR)
                per_batch = torch.optim.lr_scheduler.OneCycleLR(
                    opt, max_lr=DEFAULT_LR, total_steps=epochs * -(-len(xt) // batch),
                    pct_start=0.3, anneal_strategy="cos", div_factor=25.0,
                    final_div_factor=1e4, cycle_momentum=False)
                sched = torch.optim.lr_scheduler.ExponentialLR(opt, 1.0)
            loss_fn = torch.nn.CrossEntropyLoss()
            gen = torch.Generator().manual_seed(task.get("seed", 0))
            result["epoch_seconds"], result["test_accuracy"] = [], []
            for _ in range(epochs):
                net.train()
                start = time.perf_counter()
                order = torch.randperm(len(xt), generator=gen)
                for i in range(0, len(xt), batch):
                    idx = order[i : i + batch]
                    opt.zero_grad()
                    loss = loss_fn(net(xt[idx]), yt[idx])
                    loss.backward()
                    opt.step()
                    if per_batch is not None:
                        per_batch.step()
                result["epoch_seconds"].append(time.perf_counter() - start)
                sched.step()
                if kind == "to_accuracy":
                    net.eval()
                    with torch.no_grad():
                        pred = torch.cat([net(xs[i : i + 1000]).argmax(1)
                                          for i in range(0, len(xs), 1000)])
                    result["test_accuracy"].append(float((pred == ys).float().mean()))
                    if result["test_accuracy"][-1] >= task.get("target", 2.0):
                        break
                else:
                    result["test_accuracy"].append(None)
    result["peak_rss_mb"] = peak_rss_mb()
    return result


# ------------------------------------------------------------------ driver side
def run_task(task: dict, script: str = __file__) -> dict:
    """``script --worker TASK`` in a fresh process with ``task["threads"]`` BLAS, OpenMP and
    cnn threads; returns the JSON its last output line holds (``bench_recipe.py`` too)."""
    env = dict(os.environ)
    threads = str(task["threads"])
    env.update(OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads,
               CNN_NUM_THREADS=threads)
    out = subprocess.run([sys.executable, script, "--worker", json.dumps(task)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def blas_info() -> str:
    try:
        from threadpoolctl import threadpool_info

        return ", ".join(f"{i['internal_api']} {i['version']} ({i.get('architecture')})"
                         for i in threadpool_info())
    except ImportError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("CNN_MNIST_DATA"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="1 repeat, no time-to-accuracy")
    parser.add_argument("--skip-torch", action="store_true")
    parser.add_argument("--models", nargs="*", default=[SMALL, MEDIUM, LARGE, RESNET])
    parser.add_argument("--no-accuracy", action="store_true",
                        help="skip the time-to-accuracy row")
    parser.add_argument("--json", action="store_true", help="also print every run as JSON")
    parser.add_argument("--max-epochs", type=int, default=8,
                        help="epochs allowed to reach 99.2%% test top-1 (8)")
    parser.add_argument("--recipe-epochs", type=int, default=4, metavar="E",
                        help="time to accuracy: cnn trains with cnn train's default recipe "
                        "(onecycle, peak 3e-3) planned over E epochs, PyTorch with Adam 1e-3 "
                        "and lr x0.7 per epoch; 0: both with the PyTorch recipe (4)")
    parser.add_argument("--torch-recipe", choices=("step", "onecycle"), default="step",
                        help="time to accuracy with --recipe-epochs E: PyTorch's recipe, Adam "
                        "1e-3 with lr x0.7 per epoch ('step'), or the same onecycle as cnn's "
                        "(torch's OneCycleLR, same peak and epochs: 'onecycle')")
    parser.add_argument("--accuracy-only", action="store_true",
                        help="only the time-to-accuracy row")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="time the s/epoch rows on the first N training images and scale "
                        "to 60,000 (for slow models; the table says so)")
    parser.add_argument("--only-epochs", action="store_true",
                        help="only the s/epoch rows (no inference, latency or accuracy rows)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    repeats = 1 if args.quick else args.repeats
    frameworks = ["cnn"]
    if not args.skip_torch:
        try:
            import torch

            frameworks.append("torch")
            torch_version = torch.__version__
        except ImportError:
            print("(PyTorch not installed: measuring cnn only)", file=sys.stderr)
    base = {"data": args.data, "threads": args.threads, "batch": args.batch}
    runs = []

    def measure(**task) -> dict[str, list[dict]]:
        """Run ``task`` ``repeats`` times per framework, alternating cnn and PyTorch run by run
        so that both meet the same background load on a shared machine."""
        results = {fw: [] for fw in frameworks}
        for seed in range(repeats):  # run r uses seed r (initialization and shuffling)
            for fw in frameworks:
                results[fw].append(run_task({**base, **task, "framework": fw, "seed": seed}))
        for fw in frameworks:
            runs.extend(results[fw])
        return results

    import numpy as np

    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, {args.threads} threads, numpy {np.__version__}, "
          f"BLAS: {blas_info()}" + (f", torch {torch_version}" if "torch" in frameworks else ""))
    print(f"medians of {repeats} runs (cnn and PyTorch alternating; run r uses seed r), "
          f"batch {args.batch}, float32, "
          "Adam lr 1e-3, 60,000 training images per epoch\n")
    print("| figure | cnn | PyTorch | ratio cnn/PyTorch | runs (cnn; PyTorch) |")
    print("| --- | --- | --- | --- | --- |")

    def row(name, values, unit, higher_is_better=False):
        """One table row from ``{framework: [value per run]}``; the ratio is always
        median(cnn) / median(PyTorch) in the row's unit."""
        med = {fw: statistics.median(v) for fw, v in values.items() if v}
        ours, theirs = med.get("cnn"), med.get("torch")
        ratio = f"{ours / theirs:.2f}x" if ours and theirs and math.isfinite(ours / theirs) else ""
        fmt = (lambda v: f"{v:,.0f} {unit}") if higher_is_better else (lambda v: f"{v:.2f} {unit}")
        show = lambda v: fmt(v) if v is not None and math.isfinite(v) else "not reached"  # noqa
        spread = "; ".join(", ".join(f"{v:,.0f}" if higher_is_better else f"{v:.1f}" for v in vs)
                           for vs in values.values())
        print(f"| {name} | {show(ours) if ours is not None else '-'} | "
              f"{show(theirs) if theirs is not None else '-'} | {ratio} | {spread} |", flush=True)

    rss = {}
    for model in [] if args.accuracy_only else args.models:
        results = measure(kind="epoch", model=model, limit=args.limit)
        scale = 60000 / args.limit if args.limit else 1.0
        row(f"s/epoch, {model}" + (f" (timed on {args.limit:,} images, x{scale:.3g})"
                                    if args.limit else ""),
            {fw: [scale * r["epoch_seconds"][0] for r in rs] for fw, rs in results.items()}, "s")
        for fw, rs in results.items():
            rss.setdefault(fw, []).extend(r["peak_rss_mb"] for r in rs)
    if not args.accuracy_only and not args.only_epochs:
        results = measure(kind="inference", model=LARGE, batch=1000)
        row(f"inference images/s, {LARGE}, batch 1000",
            {fw: [r["images_per_s"] for r in rs] for fw, rs in results.items()}, "img/s",
            higher_is_better=True)
        for model in (LARGE, RESNET):
            results = measure(kind="latency", model=model, batch=1)
            row(f"one image at a time (as predict), ms/image, {model}",
                {fw: [r["ms_per_image"] for r in rs] for fw, rs in results.items()}, "ms")
        print(f"| peak RSS while training (max over runs) | {max(rss['cnn']):.0f} MB | "
              + (f"{max(rss['torch']):.0f} MB" if "torch" in rss else "-") + " |  |  |")
    if not args.quick and not args.no_accuracy and not args.only_epochs:
        results = measure(kind="to_accuracy", model=LARGE, epochs=args.max_epochs,
                          lr_decay=0.7, target=0.992, recipe_epochs=args.recipe_epochs,
                          torch_recipe=args.torch_recipe)
        times, detail = {}, {}
        for fw, rs in results.items():
            for r in rs:
                elapsed = np.cumsum(r["epoch_seconds"])
                hit = [t for t, a in zip(elapsed, r["test_accuracy"]) if a >= 0.992]
                times.setdefault(fw, []).append(hit[0] if hit else float("inf"))
                detail.setdefault(fw, []).append([round(a, 4) for a in r["test_accuracy"]])
        recipe = (f"cnn: its default recipe, onecycle peak 3e-3 over {args.recipe_epochs} "
                  "epochs; PyTorch: " if args.recipe_epochs else "")
        torch_side = (f"OneCycleLR, the same peak and {args.recipe_epochs} epochs"
                      if args.recipe_epochs and args.torch_recipe == "onecycle"
                      else f"Adam 1e-3, lr x0.7/epoch, <= {args.max_epochs} epochs")
        row(f"training time to >= 99.2% test top-1, {LARGE} ({recipe}{torch_side})", times, "s")
        if args.recipe_epochs:
            print(f"\n(cnn's runs end after the {args.recipe_epochs} epochs its schedule plans; "
                  "'not reached' if 99.2% was not reached by then)")
        print(f"\ntest top-1 after each epoch: {json.dumps(detail)}")
    if args.json:
        print(json.dumps(runs))


if __name__ == "__main__":
    main()
