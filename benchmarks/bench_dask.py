"""Batch prediction on a Dask cluster (``cnn predict --workers N --out``) against the plain run.

2,000 photo-like images are generated once (MNIST test digits from the full MNIST file, else
the committed subset, drawn dark on shaded, noisy light paper at ``--height`` x ``--width``,
JPEG), then, ``--repeats`` times each, as separate ``python -m cnn`` processes:

- the plain run, ``cnn predict DIR --json`` (one process, cnn's default threads);
- ``cnn predict DIR --workers 1 --out r.jsonl`` and ``--workers 2`` (a local cluster of worker
  processes with one thread each).

Reported: wall time of the whole command (cluster start-up included) and images/s, the
cluster runs also in steady state (the command's own count, from the first partition
submitted to the last line written); medians of the repeats, with the single runs. Then the
scheduler overhead per partition: partitions of 256 paths that do not exist (so a worker's
work is near nothing but the task, its arguments and its 256 result records) through a
2-worker cluster, against the same partitions in this process.

    flock /tmp/cnn-bench.lock python benchmarks/bench_dask.py            # 2,000 at 400x300
    flock /tmp/cnn-bench.lock python benchmarks/bench_dask.py --images 200 --repeats 1

Prints Markdown table rows (paste them into BENCHMARKS.md) and writes them as JSON to --json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ROOT / "tests" / "data" / "mnist_subset.npz"


def digits(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` MNIST test digits and labels: the full file ($CNN_MNIST_DATA or ../shared) when
    there, else the 1,000-image subset, repeated."""
    candidates = [os.environ.get("CNN_MNIST_DATA"), ROOT.parent / "shared/data/mnist.npz", SUBSET]
    for path in candidates:
        if path and Path(path).is_file():
            with np.load(path) as d:
                x, y = d["x_test"], d["y_test"]
            index = np.arange(n) % len(x)
            return x[index], y[index]
    raise SystemExit("no MNIST file found")


def photo(digit: np.ndarray, height: int, width: int, rng) -> np.ndarray:
    """A phone-photo-like uint8 (height, width) image: the digit dark on shaded, noisy paper."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    paper = 200 + 30 * xx / width - 20 * yy / height + rng.normal(0, 6, (height, width))
    side = int(min(height, width) * rng.uniform(0.35, 0.6))
    ink = cv2.resize(digit, (side, side), interpolation=cv2.INTER_LINEAR) / 255.0
    y0 = rng.integers(height // 8, height - side - height // 8 + 1)
    x0 = rng.integers(width // 8, width - side - width // 8 + 1)
    paper[y0:y0 + side, x0:x0 + side] = paper[y0:y0 + side, x0:x0 + side] * (1 - ink) + 40 * ink
    return np.clip(paper, 0, 255).astype(np.uint8)


def make_photos(folder: Path, n: int, height: int, width: int) -> Path:
    """Write the photos once (kept between runs: ``folder/done`` marks a complete set)."""
    folder = folder / f"{n}_{height}x{width}"
    if (folder / "done").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    x, y = digits(n)
    rng = np.random.default_rng(0)
    for i in range(n):
        cv2.imwrite(str(folder / f"{y[i]}_{i:05d}.jpg"), photo(x[i], height, width, rng))
    (folder / "done").write_text("")
    return folder


def cnn(args: list[str]) -> tuple[float, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    before = cpu_of_children()
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cnn", *args], env=env, capture_output=True,
                          text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"cnn {' '.join(args)} failed: {done.stderr[-2000:]}")
    return wall, done.stdout, cpu_of_children() - before


def cpu_of_children() -> float:
    """CPU seconds (user + system) of the finished child processes and their descendants
    (the cluster's worker processes are waited for by their nannies, the nannies by cnn)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def partition_overhead(partitions: int = 200, size: int = 256) -> dict:
    """Seconds per partition of the cluster's bookkeeping: empty-work partitions through a
    2-worker local cluster, against the same partitions in this process."""
    import distributed

    sys.path.insert(0, str(ROOT))
    from cnn.tasks import distributed as dist
    from cnn.tasks.predictor import load_predictor
    from cnn.tasks.reject import Rejector

    predictor = (load_predictor(None)[1], Rejector.default())
    parts = [[f"/nonexistent/{p}/{i}.jpg" for i in range(size)] for p in range(partitions)]
    start = time.perf_counter()
    for _ in dist.stream_predictions(iter(parts), predictor, None):
        pass
    local = time.perf_counter() - start
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  silence_logs=50) as cluster, distributed.Client(cluster) as c:
        list(dist.stream_predictions(iter(parts[:10]), predictor, c))  # warm
        start = time.perf_counter()
        for _ in dist.stream_predictions(iter(parts), predictor, c):
            pass
        clustered = time.perf_counter() - start
    return {"partitions": partitions, "size": size, "local_s": local, "cluster_s": clustered,
            "overhead_ms_per_partition": 1000 * (2 * clustered - local) / partitions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--height", type=int, default=400)
    parser.add_argument("--width", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--folder", default=str(Path(tempfile.gettempdir()) / "cnn-bench-dask"))
    parser.add_argument("--json", default=None, help="also write the figures here")
    parser.add_argument("--no-overhead", action="store_true",
                        help="leave out the scheduler-overhead measurement")
    args = parser.parse_args()
    folder = make_photos(Path(args.folder), args.images, args.height, args.width)
    print(f"{args.images} photos {args.height}x{args.width} JPEG in {folder}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs", flush=True)
    runs: dict[str, list[dict]] = {"plain": [], "workers 1": [], "workers 2": []}
    figures: dict = {"images": args.images, "size": f"{args.height}x{args.width}", "runs": runs}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for name in runs:
                out = Path(tmp) / f"r{repeat}_{name.replace(' ', '')}.jsonl"
                if name == "plain":
                    wall, stdout, cpu = cnn(["predict", str(folder), "--json", "-q"])
                    answered = json.loads(stdout)["answered"]
                    runs[name].append({"wall_s": wall, "cpu_s": cpu, "answered": answered})
                else:
                    wall, stdout, cpu = cnn(["predict", str(folder), "--workers",
                                             name.split()[1], "--out", str(out), "--json", "-q"])
                    summary = json.loads(stdout)
                    runs[name].append({"wall_s": wall, "cpu_s": cpu, "steady_s": summary["seconds"],
                                       "answered": summary["answered"],
                                       "lines": out.read_bytes().count(b"\n")})
                print(f"  repeat {repeat + 1} {name}: {runs[name][-1]}", flush=True)
    medians = {}
    for name, rs in runs.items():
        wall = statistics.median(r["wall_s"] for r in rs)
        cpu = statistics.median(r["cpu_s"] for r in rs)
        medians[name] = {"wall_s": wall, "images_per_s": args.images / wall, "cpu_s": cpu,
                         "images_per_cpu_s": args.images / cpu}
        if "steady_s" in rs[0]:
            steady = statistics.median(r["steady_s"] for r in rs)
            medians[name].update(steady_s=steady, steady_images_per_s=args.images / steady)
    figures["medians"] = medians
    figures["speedup_2_over_1_steady"] = (medians["workers 2"]["steady_images_per_s"]
                                          / medians["workers 1"]["steady_images_per_s"])
    figures["speedup_2_over_1_wall"] = (medians["workers 2"]["images_per_s"]
                                        / medians["workers 1"]["images_per_s"])
    figures["overhead"] = None if args.no_overhead else partition_overhead()
    print("| run | wall s (median) | images/s end to end | images/s steady | CPU s (all "
          "processes) | images per CPU s | single runs (wall s) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, m in medians.items():
        steady = f"{m['steady_images_per_s']:.1f}" if "steady_s" in m else "-"
        singles = ", ".join(f"{r['wall_s']:.1f}" for r in runs[name])
        print(f"| {name} | {m['wall_s']:.1f} | {m['images_per_s']:.1f} | {steady} | "
              f"{m['cpu_s']:.1f} | {m['images_per_cpu_s']:.1f} | {singles} |")
    print(f"2 workers / 1 worker: {figures['speedup_2_over_1_steady']:.2f}x steady, "
          f"{figures['speedup_2_over_1_wall']:.2f}x end to end")
    o = figures["overhead"]
    if o is not None:
        print(f"scheduler overhead: {o['overhead_ms_per_partition']:.1f} ms per partition of "
              f"{o['size']} (cluster {o['cluster_s']:.2f} s, this process {o['local_s']:.2f} "
              f"s, {o['partitions']} partitions)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
